//! The reductions users call — sum, mean, prod, min, max, var, std, any, all and their
//! NaN-skipping variants — each written as a [`Reduction`] (fold a run, merge two states,
//! finish) that the tree machinery in `reduce.rs` runs.

use crate::api::array::{Array, Scalar};
use crate::reduce::kernel::Kernel;
use crate::reduce::options::ReduceOptions;
use crate::reduce::reduction::{ReduceKernel, Reduction};
use ndtask_core::{Element, Error, Float, Numeric, Result};
use std::marker::PhantomData;
use std::sync::Arc;

/// Whether a value is NaN, for any element type (always false for integers and bools).
#[inline(always)]
pub(crate) fn nan<T: PartialOrd>(x: T) -> bool {
    x.partial_cmp(&x).is_none()
}

/// Independent accumulators of [`sum_lanes`]: enough to keep four 512-bit (or eight 256-bit)
/// add chains in flight, so a sum runs at the adder's throughput instead of its latency.
const LANES: usize = 32;

/// Sums a run with [`LANES`] independent accumulators, merged pairwise at the end (vectorises;
/// a fixed order, so the result does not depend on the CPU or the vector width).
#[inline]
fn sum_lanes<T: Copy, A: Numeric>(xs: &[T], f: impl Fn(T) -> A) -> A {
    let mut acc = [A::ZERO; LANES];
    let mut it = xs.chunks_exact(LANES);
    for c in &mut it {
        for i in 0..LANES {
            acc[i] = A::add(acc[i], f(c[i]));
        }
    }
    let tail = it.remainder().iter().fold(A::ZERO, |s, &x| A::add(s, f(x)));
    let mut width = LANES;
    while width > 1 {
        width /= 2;
        for i in 0..width {
            acc[i] = A::add(acc[i], acc[i + width]);
        }
    }
    A::add(acc[0], tail)
}

/// `sum` / `nansum`: the running sum in the element type.
struct Sum<T> {
    skip_nan: bool,
    _t: PhantomData<fn() -> T>,
}

impl<T: Numeric> Reduction for Sum<T> {
    type In = T;
    type State = (T,);
    type Out = T;
    fn name(&self) -> &'static str {
        if self.skip_nan {
            "nansum"
        } else {
            "sum"
        }
    }
    fn init(&self) -> (T,) {
        (T::ZERO,)
    }
    fn fold(&self, s: &mut (T,), xs: &[T]) {
        let run = if self.skip_nan {
            sum_lanes(xs, |x| if nan(x) { T::ZERO } else { x })
        } else {
            sum_lanes(xs, |x| x)
        };
        s.0 = T::add(s.0, run);
    }
    fn merge(&self, a: &mut (T,), b: &(T,)) {
        a.0 = T::add(a.0, b.0);
    }
    fn finish(&self, s: &(T,)) -> T {
        s.0
    }
    fn fold_row(&self, states: &mut [(T,)], row: &[T], _: i64) {
        if self.skip_nan {
            states
                .iter_mut()
                .zip(row)
                .for_each(|(s, &x)| s.0 = T::add(s.0, if nan(x) { T::ZERO } else { x }));
        } else {
            states
                .iter_mut()
                .zip(row)
                .for_each(|(s, &x)| s.0 = T::add(s.0, x));
        }
    }
}

/// `prod`: the running product in the element type.
struct Prod<T>(PhantomData<fn() -> T>);

impl<T: Numeric> Reduction for Prod<T> {
    type In = T;
    type State = (T,);
    type Out = T;
    fn name(&self) -> &'static str {
        "prod"
    }
    fn init(&self) -> (T,) {
        (T::ONE,)
    }
    fn fold(&self, s: &mut (T,), xs: &[T]) {
        s.0 = xs.iter().fold(s.0, |p, &x| T::mul(p, x));
    }
    fn merge(&self, a: &mut (T,), b: &(T,)) {
        a.0 = T::mul(a.0, b.0);
    }
    fn finish(&self, s: &(T,)) -> T {
        s.0
    }
}

/// `mean` / `nanmean`: (sum, count) in `f64`.
struct Mean<T> {
    skip_nan: bool,
    _t: PhantomData<fn() -> T>,
}

impl<T: Numeric> Reduction for Mean<T> {
    type In = T;
    type State = (f64, f64);
    type Out = f64;
    fn name(&self) -> &'static str {
        if self.skip_nan {
            "nanmean"
        } else {
            "mean"
        }
    }
    fn init(&self) -> (f64, f64) {
        (0.0, 0.0)
    }
    fn fold(&self, s: &mut (f64, f64), xs: &[T]) {
        if self.skip_nan {
            s.0 += sum_lanes(xs, |x| if nan(x) { 0.0 } else { x.to_f64() });
            s.1 += sum_lanes(xs, |x| if nan(x) { 0.0 } else { 1.0 });
        } else {
            s.0 += sum_lanes(xs, T::to_f64);
            s.1 += xs.len() as f64;
        }
    }
    fn merge(&self, a: &mut (f64, f64), b: &(f64, f64)) {
        a.0 += b.0;
        a.1 += b.1;
    }
    fn finish(&self, s: &(f64, f64)) -> f64 {
        s.0 / s.1
    }
    fn row_sums(&self) -> bool {
        !self.skip_nan
    }
    fn fold_row_sums(&self, sums: &mut [f64], row: &[T]) {
        for (s, &x) in sums.iter_mut().zip(row) {
            *s += x.to_f64();
        }
    }
    fn state_of_sums(&self, sum: f64, count: f64) -> (f64, f64) {
        (sum, count)
    }
    fn fold_row(&self, states: &mut [(f64, f64)], row: &[T], _: i64) {
        if !self.skip_nan {
            // No test per value: a loop the compiler vectorises.
            for (s, &x) in states.iter_mut().zip(row) {
                s.0 += x.to_f64();
                s.1 += 1.0;
            }
            return;
        }
        for (s, &x) in states.iter_mut().zip(row) {
            if !nan(x) {
                s.0 += x.to_f64();
                s.1 += 1.0;
            }
        }
    }
}

/// `min`/`max` (NaN propagates) and `nanmin`/`nanmax` (NaN skipped; all-NaN gives NaN). The
/// state is (best so far, seen a value, seen a NaN).
struct Extreme<T> {
    max: bool,
    skip_nan: bool,
    _t: PhantomData<fn() -> T>,
}

impl<T: Numeric> Extreme<T> {
    fn better(&self, x: T, than: T) -> bool {
        if self.max {
            x > than
        } else {
            x < than
        }
    }
}

impl<T: Numeric> Reduction for Extreme<T> {
    type In = T;
    type State = (T, bool, bool);
    type Out = T;
    fn name(&self) -> &'static str {
        match (self.max, self.skip_nan) {
            (true, false) => "max",
            (false, false) => "min",
            (true, true) => "nanmax",
            (false, true) => "nanmin",
        }
    }
    fn init(&self) -> (T, bool, bool) {
        (T::ZERO, false, false)
    }
    fn fold(&self, s: &mut (T, bool, bool), xs: &[T]) {
        // The first value that is not NaN seeds the search (with the best so far, if any).
        let Some(k) = xs.iter().position(|&x| !nan(x)) else {
            s.2 |= !xs.is_empty();
            return;
        };
        let mut seed = xs[k];
        if s.1 && !self.better(seed, s.0) {
            seed = s.0;
        }
        // Independent lanes, so the compare-and-select vectorises; a NaN never wins a strict
        // comparison, so each lane keeps the best value that is not NaN, and NaNs are noted
        // apart. Min and max are exact, so only which of two equal zeros wins can depend on
        // the lanes (the same on every scheduler).
        let rest = &xs[k + 1..];
        let mut best = [seed; LANES];
        let mut saw_nan = k > 0;
        let mut it = rest.chunks_exact(LANES);
        for c in &mut it {
            for i in 0..LANES {
                saw_nan |= nan(c[i]);
                if self.better(c[i], best[i]) {
                    best[i] = c[i];
                }
            }
        }
        for &x in it.remainder() {
            saw_nan |= nan(x);
            if self.better(x, best[0]) {
                best[0] = x;
            }
        }
        let top = best
            .iter()
            .fold(seed, |b, &x| if self.better(x, b) { x } else { b });
        *s = (top, true, s.2 | saw_nan);
    }
    fn merge(&self, a: &mut (T, bool, bool), b: &(T, bool, bool)) {
        if b.1 && (!a.1 || self.better(b.0, a.0)) {
            a.0 = b.0;
            a.1 = true;
        }
        a.2 |= b.2;
    }
    fn finish(&self, s: &(T, bool, bool)) -> T {
        if (s.2 && !self.skip_nan) || !s.1 {
            // NaN (or no value at all, only possible with nan* on all-NaN input).
            T::from_f64(f64::NAN)
        } else {
            s.0
        }
    }
}

/// `var`/`std` and their NaN-skipping variants: (count, mean, M2) merged with Chan et al.'s
/// pairwise update, so no sum of squares ever cancels catastrophically.
struct Var<T> {
    ddof: f64,
    sqrt: bool,
    skip_nan: bool,
    _t: PhantomData<fn() -> T>,
}

fn chan_merge(a: &mut (f64, f64, f64), b: &(f64, f64, f64)) {
    let n = a.0 + b.0;
    if b.0 == 0.0 {
        return;
    }
    if a.0 == 0.0 {
        *a = *b;
        return;
    }
    let delta = b.1 - a.1;
    a.1 += delta * b.0 / n;
    a.2 += b.2 + delta * delta * a.0 * b.0 / n;
    a.0 = n;
}

impl<T: Numeric> Reduction for Var<T> {
    type In = T;
    type State = (f64, f64, f64);
    type Out = f64;
    fn name(&self) -> &'static str {
        match (self.sqrt, self.skip_nan) {
            (false, false) => "var",
            (true, false) => "std",
            (false, true) => "nanvar",
            (true, true) => "nanstd",
        }
    }
    fn init(&self) -> (f64, f64, f64) {
        (0.0, 0.0, 0.0)
    }
    fn fold(&self, s: &mut (f64, f64, f64), xs: &[T]) {
        // Two passes over the run (it is one tile, in cache): its mean, then its M2.
        let keep = |x: T| !(self.skip_nan && nan(x));
        let n = if self.skip_nan {
            sum_lanes(xs, |x| if keep(x) { 1.0 } else { 0.0 })
        } else {
            xs.len() as f64
        };
        if n == 0.0 {
            return;
        }
        let mean = sum_lanes(xs, |x| if keep(x) { x.to_f64() } else { 0.0 }) / n;
        let m2 = sum_lanes(xs, |x| {
            if keep(x) {
                let d = x.to_f64() - mean;
                d * d
            } else {
                0.0
            }
        });
        chan_merge(s, &(n, mean, m2));
    }
    fn merge(&self, a: &mut (f64, f64, f64), b: &(f64, f64, f64)) {
        chan_merge(a, b);
    }
    fn fold_row(&self, states: &mut [(f64, f64, f64)], row: &[T], _: i64) {
        // One value per state: Welford's update (stable, like the pairwise merge), inline
        // instead of a two-pass fold of a one-element run.
        for (s, &x) in states.iter_mut().zip(row) {
            if self.skip_nan && nan(x) {
                continue;
            }
            let x = x.to_f64();
            let n = s.0 + 1.0;
            let d = x - s.1;
            s.1 += d / n;
            s.2 += d * (x - s.1);
            s.0 = n;
        }
    }
    fn fingerprint(&self, h: &mut ndtask_core::Fingerprint) {
        h.str(self.name());
        h.str(T::DTYPE.name());
        h.f64(self.ddof);
    }
    fn finish(&self, s: &(f64, f64, f64)) -> f64 {
        let dof = s.0 - self.ddof;
        let var = if dof > 0.0 { s.2 / dof } else { f64::NAN };
        if self.sqrt {
            var.sqrt()
        } else {
            var
        }
    }
}

/// `any` / `all` of a bool array.
struct AnyAll {
    all: bool,
}

impl Reduction for AnyAll {
    type In = bool;
    type State = (bool,);
    type Out = bool;
    fn name(&self) -> &'static str {
        if self.all {
            "all"
        } else {
            "any"
        }
    }
    fn init(&self) -> (bool,) {
        (self.all,)
    }
    fn fold(&self, s: &mut (bool,), xs: &[bool]) {
        s.0 = if self.all {
            s.0 && xs.iter().all(|&x| x)
        } else {
            s.0 || xs.iter().any(|&x| x)
        };
    }
    fn merge(&self, a: &mut (bool,), b: &(bool,)) {
        a.0 = if self.all { a.0 && b.0 } else { a.0 || b.0 };
    }
    fn finish(&self, s: &(bool,)) -> bool {
        s.0
    }
}

/// `count_true`: the number of `true`s, counted straight from the bool values.
struct CountTrue;

impl Reduction for CountTrue {
    type In = bool;
    type State = (i64,);
    type Out = i64;
    fn name(&self) -> &'static str {
        "count_true"
    }
    fn init(&self) -> (i64,) {
        (0,)
    }
    fn fold(&self, s: &mut (i64,), xs: &[bool]) {
        // Integer counts do not depend on the order; a plain count vectorises over bytes.
        s.0 += xs.iter().filter(|&&b| b).count() as i64;
    }
    fn merge(&self, a: &mut (i64,), b: &(i64,)) {
        a.0 += b.0;
    }
    fn finish(&self, s: &(i64,)) -> i64 {
        s.0
    }
    fn fold_row(&self, states: &mut [(i64,)], row: &[bool], _: i64) {
        states
            .iter_mut()
            .zip(row)
            .for_each(|(s, &b)| s.0 += b as i64);
    }
}

fn kernel<R: Reduction>(r: R) -> Arc<dyn ReduceKernel> {
    Arc::new(Kernel(r))
}

impl<T: Element> Array<T> {
    /// A reduction to a scalar (errors are deferred to compute, as for operators).
    fn reduce_all<O: Element>(&self, r: impl Reduction) -> Scalar<O> {
        let name = r.name();
        Scalar(Array::from_result(self.reduce(
            name,
            kernel(r),
            &ReduceOptions::all(),
        )))
    }

    fn reduce_opts<O: Element>(&self, r: impl Reduction, opts: &ReduceOptions) -> Result<Array<O>> {
        let name = r.name();
        self.reduce(name, kernel(r), opts)
    }

    /// A reduction to a scalar that has no identity: an empty array's error is deferred to
    /// compute.
    fn nonempty_all<O: Element>(&self, r: impl Reduction) -> Scalar<O> {
        match self.nonempty(r.name(), &ReduceOptions::all()) {
            Ok(()) => self.reduce_all(r),
            Err(e) => Scalar(Array::invalid(e)),
        }
    }

    /// min/max have no identity: reducing an empty axis is an error (as in NumPy).
    pub(crate) fn nonempty(&self, op: &str, opts: &ReduceOptions) -> Result<()> {
        let shape = self.shape();
        let empty = match opts.axes_list() {
            None => shape.contains(&0),
            Some(axes) => axes.iter().any(|&a| shape.get(a) == Some(&0)),
        };
        if empty {
            return Err(Error::InvalidArgument(format!(
                "zero-size array of shape {shape:?} to reduction operation {op}, which has no identity"
            )));
        }
        Ok(())
    }
}

macro_rules! numeric_reductions {
    ($( $scalar:ident, $with:ident, $Out:ty, $doc:literal, $make:expr, $check:literal; )*) => {
        impl<T: Numeric> Array<T> {
            $(
                #[doc = concat!($doc, " of all elements, lazily.")]
                pub fn $scalar(&self) -> Scalar<$Out> {
                    let r = ($make)(self);
                    if $check {
                        return self.nonempty_all(r);
                    }
                    self.reduce_all(r)
                }

                #[doc = concat!($doc, " over the axes in `opts`.")]
                ///
                /// # Errors
                /// [`Error::Axis`] for an axis out of range; [`Error::InvalidArgument`] for a repeated
                /// axis, `split_every < 2`, or an empty axis where the reduction has no identity.
                pub fn $with(&self, opts: &ReduceOptions) -> Result<Array<$Out>> {
                    let r = ($make)(self);
                    if $check {
                        self.nonempty(r.name(), opts)?;
                    }
                    self.reduce_opts(r, opts)
                }
            )*
        }
    };
}

fn sum_of<T: Numeric>(skip_nan: bool) -> Sum<T> {
    Sum {
        skip_nan,
        _t: PhantomData,
    }
}
fn mean_of<T: Numeric>(skip_nan: bool) -> Mean<T> {
    Mean {
        skip_nan,
        _t: PhantomData,
    }
}
fn extreme<T: Numeric>(max: bool, skip_nan: bool) -> Extreme<T> {
    Extreme {
        max,
        skip_nan,
        _t: PhantomData,
    }
}

numeric_reductions! {
    sum, sum_with, T, "The sum", |_: &Array<T>| sum_of::<T>(false), false;
    mean, mean_with, f64, "The mean (as `f64`)", |_: &Array<T>| mean_of::<T>(false), false;
    prod, prod_with, T, "The product", |_: &Array<T>| Prod::<T>(PhantomData), false;
    min, min_with, T, "The minimum (NaN if any element is NaN)", |_: &Array<T>| extreme::<T>(false, false), true;
    max, max_with, T, "The maximum (NaN if any element is NaN)", |_: &Array<T>| extreme::<T>(true, false), true;
}

impl<T: Numeric> Array<T> {
    /// Sums along `axis`.
    ///
    /// # Errors
    /// [`Error::Axis`] if `axis` is out of range.
    pub fn sum_axis(&self, axis: usize) -> Result<Array<T>> {
        self.sum_with(&ReduceOptions::axes([axis]))
    }

    /// Means along `axis`.
    ///
    /// # Errors
    /// [`Error::Axis`] if `axis` is out of range.
    pub fn mean_axis(&self, axis: usize) -> Result<Array<f64>> {
        self.mean_with(&ReduceOptions::axes([axis]))
    }

    /// The variance with `ddof` delta degrees of freedom (NumPy's `var(ddof=...)`), lazily.
    /// Partial results merge with the pairwise (Chan) update, never a naive sum of squares.
    ///
    /// # Examples
    /// ```
    /// let x = ndtask_array::arange(0.0, 10.0, 1.0, [3])?;
    /// assert!((x.var(1.0).compute()? - 55.0 / 6.0).abs() < 1e-12);
    /// assert!((x.std(0.0).compute()? - 8.25f64.sqrt()).abs() < 1e-12);
    /// # Ok::<(), ndtask_core::Error>(())
    /// ```
    pub fn var(&self, ddof: f64) -> Scalar<f64> {
        self.reduce_all(Var::<T> {
            ddof,
            sqrt: false,
            skip_nan: false,
            _t: PhantomData,
        })
    }

    /// The standard deviation with `ddof` delta degrees of freedom, lazily.
    pub fn std(&self, ddof: f64) -> Scalar<f64> {
        self.reduce_all(Var::<T> {
            ddof,
            sqrt: true,
            skip_nan: false,
            _t: PhantomData,
        })
    }

    /// The variance over the axes in `opts`.
    ///
    /// # Errors
    /// As [`Array::sum_with`].
    pub fn var_with(&self, opts: &ReduceOptions, ddof: f64) -> Result<Array<f64>> {
        self.reduce_opts(
            Var::<T> {
                ddof,
                sqrt: false,
                skip_nan: false,
                _t: PhantomData,
            },
            opts,
        )
    }

    /// The standard deviation over the axes in `opts`.
    ///
    /// # Errors
    /// As [`Array::sum_with`].
    pub fn std_with(&self, opts: &ReduceOptions, ddof: f64) -> Result<Array<f64>> {
        self.reduce_opts(
            Var::<T> {
                ddof,
                sqrt: true,
                skip_nan: false,
                _t: PhantomData,
            },
            opts,
        )
    }
}

impl<T: Element> Array<T> {
    /// The number of non-zero (for bool: `true`) elements (NumPy's `count_nonzero`).
    ///
    /// # Examples
    /// ```
    /// let x = ndtask_array::arange(0i64, 5, 1, [2])?;
    /// assert_eq!(x.count_nonzero().compute()?, 4);
    /// assert_eq!(x.greater(2i64)?.count_nonzero().compute()?, 2);
    /// # Ok::<(), ndtask_core::Error>(())
    /// ```
    pub fn count_nonzero(&self) -> Scalar<i64> {
        self.astype::<bool>().count_true()
    }

    /// The number of non-zero elements over the axes in `opts`.
    ///
    /// # Errors
    /// As [`Array::sum_with`].
    pub fn count_nonzero_with(&self, opts: &ReduceOptions) -> Result<Array<i64>> {
        self.astype::<bool>().count_true_with(opts)
    }
}

impl<T: Float> Array<T> {
    /// The sum, treating NaN as zero.
    pub fn nansum(&self) -> Scalar<T> {
        self.reduce_all(sum_of::<T>(true))
    }

    /// The mean of the non-NaN elements.
    pub fn nanmean(&self) -> Scalar<f64> {
        self.reduce_all(mean_of::<T>(true))
    }

    /// The minimum of the non-NaN elements (NaN if all are NaN, as NumPy's `nanmin`). An empty
    /// array has no minimum: computing it is [`Error::InvalidArgument`], as for `min`.
    pub fn nanmin(&self) -> Scalar<T> {
        self.nonempty_all(extreme::<T>(false, true))
    }

    /// The maximum of the non-NaN elements (NaN if all are NaN). An empty array has no maximum:
    /// computing it is [`Error::InvalidArgument`], as for `max`.
    pub fn nanmax(&self) -> Scalar<T> {
        self.nonempty_all(extreme::<T>(true, true))
    }

    /// The variance of the non-NaN elements.
    pub fn nanvar(&self, ddof: f64) -> Scalar<f64> {
        self.reduce_all(Var::<T> {
            ddof,
            sqrt: false,
            skip_nan: true,
            _t: PhantomData,
        })
    }

    /// The standard deviation of the non-NaN elements.
    pub fn nanstd(&self, ddof: f64) -> Scalar<f64> {
        self.reduce_all(Var::<T> {
            ddof,
            sqrt: true,
            skip_nan: true,
            _t: PhantomData,
        })
    }

    /// `nansum` over the axes in `opts`.
    ///
    /// # Errors
    /// As [`Array::sum_with`].
    pub fn nansum_with(&self, opts: &ReduceOptions) -> Result<Array<T>> {
        self.reduce_opts(sum_of::<T>(true), opts)
    }

    /// `nanmean` over the axes in `opts`.
    ///
    /// # Errors
    /// As [`Array::sum_with`].
    pub fn nanmean_with(&self, opts: &ReduceOptions) -> Result<Array<f64>> {
        self.reduce_opts(mean_of::<T>(true), opts)
    }

    /// `nanmin` over the axes in `opts`.
    ///
    /// # Errors
    /// As [`Array::sum_with`].
    pub fn nanmin_with(&self, opts: &ReduceOptions) -> Result<Array<T>> {
        self.nonempty("nanmin", opts)?;
        self.reduce_opts(extreme::<T>(false, true), opts)
    }

    /// `nanmax` over the axes in `opts`.
    ///
    /// # Errors
    /// As [`Array::sum_with`].
    pub fn nanmax_with(&self, opts: &ReduceOptions) -> Result<Array<T>> {
        self.nonempty("nanmax", opts)?;
        self.reduce_opts(extreme::<T>(true, true), opts)
    }

    /// `nanvar` over the axes in `opts`.
    ///
    /// # Errors
    /// As [`Array::sum_with`].
    pub fn nanvar_with(&self, opts: &ReduceOptions, ddof: f64) -> Result<Array<f64>> {
        self.reduce_opts(
            Var::<T> {
                ddof,
                sqrt: false,
                skip_nan: true,
                _t: PhantomData,
            },
            opts,
        )
    }

    /// `nanstd` over the axes in `opts`.
    ///
    /// # Errors
    /// As [`Array::sum_with`].
    pub fn nanstd_with(&self, opts: &ReduceOptions, ddof: f64) -> Result<Array<f64>> {
        self.reduce_opts(
            Var::<T> {
                ddof,
                sqrt: true,
                skip_nan: true,
                _t: PhantomData,
            },
            opts,
        )
    }
}

impl Array<bool> {
    /// Whether any element is true.
    pub fn any(&self) -> Scalar<bool> {
        self.reduce_all(AnyAll { all: false })
    }

    /// Whether every element is true.
    pub fn all(&self) -> Scalar<bool> {
        self.reduce_all(AnyAll { all: true })
    }

    /// `any` over the axes in `opts`.
    ///
    /// # Errors
    /// As [`Array::sum_with`].
    pub fn any_with(&self, opts: &ReduceOptions) -> Result<Array<bool>> {
        self.reduce_opts(AnyAll { all: false }, opts)
    }

    /// `all` over the axes in `opts`.
    ///
    /// # Errors
    /// As [`Array::sum_with`].
    pub fn all_with(&self, opts: &ReduceOptions) -> Result<Array<bool>> {
        self.reduce_opts(AnyAll { all: true }, opts)
    }

    /// The number of `true` elements, lazily.
    ///
    /// # Examples
    /// ```
    /// let x = ndtask_array::arange(0i64, 10, 1, [4])?;
    /// assert_eq!(x.less(3i64)?.count_true().compute()?, 3);
    /// # Ok::<(), ndtask_core::Error>(())
    /// ```
    pub fn count_true(&self) -> Scalar<i64> {
        self.reduce_all(CountTrue)
    }

    /// Counts `true` elements over the axes in `opts`.
    ///
    /// # Errors
    /// As [`Array::sum_with`].
    pub fn count_true_with(&self, opts: &ReduceOptions) -> Result<Array<i64>> {
        self.reduce_opts(CountTrue, opts)
    }
}
