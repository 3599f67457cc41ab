//! argmin/argmax: the index of the smallest or largest element, over all axes (the flat
//! C-order index) or along one axis, NaN-propagating or NaN-skipping, as a tree reduction whose
//! states carry (value, index).

use crate::api::array::Array;
use crate::reduce::kernel::Kernel;
use crate::reduce::options::ReduceOptions;
use crate::reduce::reduction::Reduction;
use crate::reduce::statistics::nan;
use ndtask_core::{Error, Float, Numeric, Result};
use std::marker::PhantomData;
use std::sync::Arc;

/// argmin/argmax: (best value, its index, seen a value). NaN wins (NumPy returns the first NaN);
/// ties go to the smaller index, so the merge order does not matter. nanargmin/nanargmax skip
/// NaN, and a lane of NaN only has no result (an error, as NumPy's `ValueError`).
struct ArgExtreme<T> {
    max: bool,
    skip_nan: bool,
    _t: PhantomData<fn() -> T>,
}

impl<T: Numeric> ArgExtreme<T> {
    fn wins(&self, x: T, xi: i64, s: &(T, i64, bool)) -> bool {
        let (best, bi, seen) = *s;
        if !seen {
            return true;
        }
        match (nan(x), nan(best)) {
            (true, true) => xi < bi,
            (true, false) => true,
            (false, true) => false,
            (false, false) => {
                let strictly = if self.max { x > best } else { x < best };
                strictly || (x == best && xi < bi)
            }
        }
    }
}

impl<T: Numeric> Reduction for ArgExtreme<T> {
    type In = T;
    type State = (T, i64, bool);
    type Out = i64;
    fn name(&self) -> &'static str {
        match (self.max, self.skip_nan) {
            (true, false) => "argmax",
            (false, false) => "argmin",
            (true, true) => "nanargmax",
            (false, true) => "nanargmin",
        }
    }
    fn positional(&self) -> bool {
        true
    }
    fn check(&self, s: &(T, i64, bool)) -> Result<()> {
        if s.2 {
            return Ok(());
        }
        Err(Error::InvalidArgument(format!(
            "{}: all-NaN slice encountered (no element to choose)",
            self.name()
        )))
    }
    fn init(&self) -> (T, i64, bool) {
        (T::ZERO, -1, false)
    }
    fn fold(&self, s: &mut (T, i64, bool), xs: &[T]) {
        self.fold_at(s, xs, &|k| k as i64);
    }
    fn fold_at(&self, s: &mut (T, i64, bool), xs: &[T], index: &dyn Fn(usize) -> i64) {
        for (k, &x) in xs.iter().enumerate() {
            if self.skip_nan && nan(x) {
                continue;
            }
            // The index is computed only when it matters (a candidate), which is rare.
            let candidate =
                !s.2 || nan(x) || if self.max { x >= s.0 } else { x <= s.0 } || nan(s.0);
            if candidate {
                let xi = index(k);
                if self.wins(x, xi, s) {
                    *s = (x, xi, true);
                }
            }
        }
    }
    fn merge(&self, a: &mut (T, i64, bool), b: &(T, i64, bool)) {
        if b.2 && self.wins(b.0, b.1, a) {
            *a = *b;
        }
    }
    fn finish(&self, s: &(T, i64, bool)) -> i64 {
        s.1
    }
}

impl<T: Numeric> Array<T> {
    fn arg(&self, max: bool, skip_nan: bool, opts: &ReduceOptions) -> Result<Array<i64>> {
        let r = ArgExtreme::<T> {
            max,
            skip_nan,
            _t: PhantomData,
        };
        let name = r.name();
        if let Some(axes) = opts.axes_list() {
            if axes.len() > 1 {
                return Err(Error::InvalidArgument(format!(
                    "{name} takes one axis or all of them, got the axes {axes:?}"
                )));
            }
        }
        let shape = self.shape();
        let empty = match opts.axes_list() {
            None => shape.contains(&0),
            Some(axes) => axes.iter().any(|&a| shape.get(a) == Some(&0)),
        };
        if empty {
            return Err(Error::InvalidArgument(format!(
                "{name} of an empty sequence (shape {shape:?}) has no result"
            )));
        }
        self.reduce(name, Arc::new(Kernel(r)), opts)
    }

    /// The flat (C-order) index of the largest element; the first one on ties, the first NaN if
    /// there is one (NumPy's `argmax`).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for an empty array.
    ///
    /// # Examples
    /// ```
    /// use ndarray::array;
    /// let x = ndtask_array::from_ndarray(array![[1.0, 9.0], [9.0, 3.0]], [1, 1])?;
    /// assert_eq!(x.argmax()?.compute()?, 1);
    /// assert_eq!(x.argmin_axis(0)?.compute()?.iter().copied().collect::<Vec<_>>(), vec![0, 1]);
    /// # Ok::<(), ndtask_core::Error>(())
    /// ```
    pub fn argmax(&self) -> Result<crate::Scalar<i64>> {
        self.arg(true, false, &ReduceOptions::all())
            .map(crate::Scalar)
    }

    /// The flat (C-order) index of the smallest element (NumPy's `argmin`).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for an empty array.
    pub fn argmin(&self) -> Result<crate::Scalar<i64>> {
        self.arg(false, false, &ReduceOptions::all())
            .map(crate::Scalar)
    }

    /// The index along `axis` of the largest element of every lane.
    ///
    /// # Errors
    /// [`Error::Axis`] if `axis` is out of range; [`Error::InvalidArgument`] if it is empty.
    pub fn argmax_axis(&self, axis: usize) -> Result<Array<i64>> {
        self.arg(true, false, &ReduceOptions::axes([axis]))
    }

    /// The index along `axis` of the smallest element of every lane.
    ///
    /// # Errors
    /// [`Error::Axis`] if `axis` is out of range; [`Error::InvalidArgument`] if it is empty.
    pub fn argmin_axis(&self, axis: usize) -> Result<Array<i64>> {
        self.arg(false, false, &ReduceOptions::axes([axis]))
    }

    /// `argmax` with options, as the other reductions take them: no axes (the flat index) or
    /// one axis (the index along it), `keepdims`, `split_every` (NumPy's
    /// `argmax(axis=..., keepdims=...)`).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for more than one axis or an empty axis; [`Error::Axis`] for an
    /// axis out of range.
    ///
    /// # Examples
    /// ```
    /// use ndarray::array;
    /// use ndtask_array::ReduceOptions;
    /// let x = ndtask_array::from_ndarray(array![[1.0, 9.0], [9.0, 3.0]], [1, 1])?;
    /// let i = x.argmax_with(&ReduceOptions::axes([1]).keepdims(true))?;
    /// assert_eq!(i.shape(), vec![2, 1]);
    /// assert_eq!(i.compute()?.iter().copied().collect::<Vec<_>>(), vec![1, 0]);
    /// # Ok::<(), ndtask_core::Error>(())
    /// ```
    pub fn argmax_with(&self, opts: &ReduceOptions) -> Result<Array<i64>> {
        self.arg(true, false, opts)
    }

    /// `argmin` with options (see [`Array::argmax_with`]).
    ///
    /// # Errors
    /// As [`Array::argmax_with`].
    pub fn argmin_with(&self, opts: &ReduceOptions) -> Result<Array<i64>> {
        self.arg(false, false, opts)
    }
}

impl<T: Float> Array<T> {
    /// The flat index of the largest non-NaN element (NumPy's `nanargmax`). Computing it fails
    /// with [`Error::Task`] if every element is NaN (NumPy raises `ValueError`).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for an empty array.
    ///
    /// # Examples
    /// ```
    /// use ndarray::array;
    /// let x = ndtask_array::from_ndarray(array![f64::NAN, 2.0, 7.0, f64::NAN], [2])?;
    /// assert_eq!(x.nanargmax()?.compute()?, 2);
    /// assert_eq!(x.argmax()?.compute()?, 0); // NaN wins without the nan- prefix
    /// # Ok::<(), ndtask_core::Error>(())
    /// ```
    pub fn nanargmax(&self) -> Result<crate::Scalar<i64>> {
        self.arg(true, true, &ReduceOptions::all())
            .map(crate::Scalar)
    }

    /// The flat index of the smallest non-NaN element (NumPy's `nanargmin`).
    ///
    /// # Errors
    /// As [`Array::nanargmax`].
    pub fn nanargmin(&self) -> Result<crate::Scalar<i64>> {
        self.arg(false, true, &ReduceOptions::all())
            .map(crate::Scalar)
    }

    /// `nanargmax` with options (see [`Array::argmax_with`]); a lane of NaN only fails at
    /// compute.
    ///
    /// # Errors
    /// As [`Array::argmax_with`].
    pub fn nanargmax_with(&self, opts: &ReduceOptions) -> Result<Array<i64>> {
        self.arg(true, true, opts)
    }

    /// `nanargmin` with options (see [`Array::argmax_with`]).
    ///
    /// # Errors
    /// As [`Array::argmax_with`].
    pub fn nanargmin_with(&self, opts: &ReduceOptions) -> Result<Array<i64>> {
        self.arg(false, true, opts)
    }
}
