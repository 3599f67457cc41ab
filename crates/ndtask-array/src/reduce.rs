//! Reductions as trees: each chunk becomes a partial state, states are merged in groups of
//! `split_every` (Dask's parameter) in a fixed order, and the last merge finalises the result.
//! The fixed grouping and order make results bit-identical on every scheduler.
//!
//! A [`Reduction`] says how to fold values into a state, merge states, and finish; [`Kernel`]
//! turns it into the type-erased [`ReduceKernel`] that lowering wires into tasks.

use crate::array::{Array, Scalar};
use crate::plan::{Node, NodeKind, ReduceSpec};
use ndarray::{ArrayD, IxDyn};
use ndtask_core::{Buf, Chunk, ChunkGrid, Element, Error, Numeric, Result, TILE};
use std::marker::PhantomData;
use std::sync::Arc;

/// Default number of partial states merged by one task (Dask's `split_every`).
pub const DEFAULT_SPLIT_EVERY: usize = 4;

/// Which axes to reduce, whether to keep them, and the fan-in of the tree.
///
/// # Examples
/// ```
/// use ndtask_array::{ones, ReduceOptions};
/// let x = ones::<f64>([4, 6], [2, 3])?;
/// let s = x.sum_with(&ReduceOptions::axes([1]).keepdims(true).split_every(2))?;
/// assert_eq!(s.shape(), vec![4, 1]);
/// assert_eq!(s.compute()?[[3, 0]], 6.0);
/// # Ok::<(), ndtask_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReduceOptions {
    axes: Option<Vec<usize>>,
    keepdims: bool,
    split_every: usize,
}

impl Default for ReduceOptions {
    fn default() -> Self {
        ReduceOptions {
            axes: None,
            keepdims: false,
            split_every: DEFAULT_SPLIT_EVERY,
        }
    }
}

impl ReduceOptions {
    /// Reduce over all axes.
    pub fn all() -> Self {
        Self::default()
    }

    /// Reduce over the given axes.
    pub fn axes(axes: impl AsRef<[usize]>) -> Self {
        ReduceOptions {
            axes: Some(axes.as_ref().to_vec()),
            ..Self::default()
        }
    }

    /// Keep reduced axes with length 1.
    pub fn keepdims(mut self, keep: bool) -> Self {
        self.keepdims = keep;
        self
    }

    /// How many partial states one task merges (at least 2).
    pub fn split_every(mut self, n: usize) -> Self {
        self.split_every = n;
        self
    }
}

/// How to reduce values of `In` to `Out` through a mergeable `State`.
pub(crate) trait Reduction: Send + Sync + 'static {
    type In: Element;
    type State: Copy + Send + Sync;
    type Out: Element;
    const NAME: &'static str;
    fn init(&self) -> Self::State;
    /// Folds a run of values into the state (a fixed order: the result depends only on the run).
    fn fold(&self, s: &mut Self::State, xs: &[Self::In]);
    fn merge(&self, a: &mut Self::State, b: &Self::State);
    fn finish(&self, s: &Self::State) -> Self::Out;
    fn encode(&self, states: Vec<Self::State>, shape: &[usize]) -> Result<Chunk>;
    fn decode(&self, c: &Chunk) -> Result<Vec<Self::State>>;
}

/// Receives the tiles of one chunk: `(tile, number of valid values)`.
pub(crate) type TileSink<'a> = dyn FnMut(&Buf, usize) -> Result<()> + 'a;
/// Streams the tiles of one chunk into a sink.
pub(crate) type TileStream<'a> = dyn FnMut(&mut TileSink<'_>) -> Result<()> + 'a;

/// A type-erased reduction as lowering uses it.
pub(crate) trait ReduceKernel: Send + Sync {
    fn name(&self) -> &'static str;
    /// The partial state of a whole chunk from its tiles (`tiles` calls `sink` once per tile).
    fn partial_tiles(&self, tiles: &mut TileStream<'_>, ndim: usize) -> Result<Chunk>;
    /// The partial state of a whole materialised chunk.
    fn partial_all(&self, chunk: &Chunk) -> Result<Chunk>;
    /// The partial state over `axes` of a materialised chunk (reduced axes kept with length 1).
    fn partial_axes(&self, chunk: &Chunk, axes: &[usize]) -> Result<Chunk>;
    /// The state of zero elements, for every position of `shape`.
    fn identity(&self, shape: &[usize]) -> Result<Chunk>;
    /// Merges states of equal shape, in the given order.
    fn combine(&self, parts: &[&Chunk]) -> Result<Chunk>;
    /// Turns a state into the result, reshaped to `shape`.
    fn finalize(&self, state: &Chunk, shape: &[usize]) -> Result<Chunk>;
}

/// Adapts a [`Reduction`] to [`ReduceKernel`].
pub(crate) struct Kernel<R>(pub R);

fn typed<'c, T: Element>(c: &'c Chunk, what: &str) -> Result<&'c ArrayD<T>> {
    T::chunk_ref(c).ok_or_else(|| {
        Error::internal(format!(
            "{what}: expected a {} chunk, got {:?}",
            T::DTYPE,
            c.dtype()
        ))
    })
}

impl<R: Reduction> ReduceKernel for Kernel<R> {
    fn name(&self) -> &'static str {
        R::NAME
    }

    fn partial_tiles(&self, tiles: &mut TileStream<'_>, ndim: usize) -> Result<Chunk> {
        let mut s = self.0.init();
        tiles(&mut |b, n| {
            let xs = R::In::buf_ref(b).ok_or_else(|| {
                Error::internal(format!("{}: tile of type {}", R::NAME, b.dtype()))
            })?;
            self.0.fold(&mut s, &xs[..n]);
            Ok(())
        })?;
        self.0.encode(vec![s], &vec![1; ndim])
    }

    fn partial_all(&self, chunk: &Chunk) -> Result<Chunk> {
        let a = typed::<R::In>(chunk, R::NAME)?;
        let mut s = self.0.init();
        match a.as_slice() {
            // Same tiling as `partial_tiles`, so a materialised and a fused input give the same bits.
            Some(xs) => xs.chunks(TILE).for_each(|t| self.0.fold(&mut s, t)),
            None => {
                let v: Vec<R::In> = a.iter().copied().collect();
                v.chunks(TILE).for_each(|t| self.0.fold(&mut s, t));
            }
        }
        self.0.encode(vec![s], &vec![1; a.ndim()])
    }

    fn partial_axes(&self, chunk: &Chunk, axes: &[usize]) -> Result<Chunk> {
        let a = typed::<R::In>(chunk, R::NAME)?;
        let kept: Vec<usize> = (0..a.ndim()).filter(|i| !axes.contains(i)).collect();
        let perm: Vec<usize> = kept.iter().chain(axes).copied().collect();
        let lane: usize = axes.iter().map(|&i| a.shape()[i]).product();
        let view = a.view().permuted_axes(perm);
        let data = view.as_standard_layout();
        let xs = data
            .as_slice()
            .ok_or_else(|| Error::internal("standard layout without a slice"))?;
        let states: Vec<R::State> = if lane == 0 {
            vec![self.0.init(); kept.iter().map(|&i| a.shape()[i]).product()]
        } else {
            xs.chunks(lane)
                .map(|l| {
                    let mut s = self.0.init();
                    l.chunks(TILE).for_each(|t| self.0.fold(&mut s, t));
                    s
                })
                .collect()
        };
        let shape: Vec<usize> = (0..a.ndim())
            .map(|i| if axes.contains(&i) { 1 } else { a.shape()[i] })
            .collect();
        self.0.encode(states, &shape)
    }

    fn identity(&self, shape: &[usize]) -> Result<Chunk> {
        self.0
            .encode(vec![self.0.init(); shape.iter().product()], shape)
    }

    fn combine(&self, parts: &[&Chunk]) -> Result<Chunk> {
        let (first, rest) = parts
            .split_first()
            .ok_or_else(|| Error::internal("combine of no parts"))?;
        let mut acc = self.0.decode(first)?;
        for p in rest {
            let p = self.0.decode(p)?;
            if p.len() != acc.len() {
                return Err(Error::internal(format!(
                    "{}: merging states of {} and {} elements",
                    R::NAME,
                    acc.len(),
                    p.len()
                )));
            }
            acc.iter_mut().zip(&p).for_each(|(a, b)| self.0.merge(a, b));
        }
        self.0.encode(acc, first.shape())
    }

    fn finalize(&self, state: &Chunk, shape: &[usize]) -> Result<Chunk> {
        let out: Vec<R::Out> = self
            .0
            .decode(state)?
            .iter()
            .map(|s| self.0.finish(s))
            .collect();
        let a = ArrayD::from_shape_vec(IxDyn(shape), out).map_err(Error::internal)?;
        Ok(R::Out::into_chunk(a))
    }
}

/// Sums a run with eight independent accumulators (vectorises; fixed order).
#[inline]
fn sum_lanes<T: Copy, A: Numeric>(xs: &[T], f: impl Fn(T) -> A) -> A {
    let mut acc = [A::ZERO; 8];
    let mut it = xs.chunks_exact(8);
    for c in &mut it {
        for i in 0..8 {
            acc[i] = A::add(acc[i], f(c[i]));
        }
    }
    let tail = it.remainder().iter().fold(A::ZERO, |s, &x| A::add(s, f(x)));
    let a = A::add(A::add(acc[0], acc[1]), A::add(acc[2], acc[3]));
    let b = A::add(A::add(acc[4], acc[5]), A::add(acc[6], acc[7]));
    A::add(A::add(a, b), tail)
}

fn array_chunk<T: Element>(v: Vec<T>, shape: &[usize]) -> Result<Chunk> {
    Ok(T::into_chunk(
        ArrayD::from_shape_vec(IxDyn(shape), v).map_err(Error::internal)?,
    ))
}

/// `sum`: the state is the running sum in the element type.
pub(crate) struct Sum<T>(PhantomData<fn() -> T>);

impl<T: Numeric> Reduction for Sum<T> {
    type In = T;
    type State = T;
    type Out = T;
    const NAME: &'static str = "sum";
    fn init(&self) -> T {
        T::ZERO
    }
    fn fold(&self, s: &mut T, xs: &[T]) {
        *s = T::add(*s, sum_lanes(xs, |x| x));
    }
    fn merge(&self, a: &mut T, b: &T) {
        *a = T::add(*a, *b);
    }
    fn finish(&self, s: &T) -> T {
        *s
    }
    fn encode(&self, states: Vec<T>, shape: &[usize]) -> Result<Chunk> {
        array_chunk(states, shape)
    }
    fn decode(&self, c: &Chunk) -> Result<Vec<T>> {
        Ok(typed::<T>(c, "sum")?.iter().copied().collect())
    }
}

/// `mean`: the state is (sum, count) in `f64`.
pub(crate) struct Mean<T>(PhantomData<fn() -> T>);

impl<T: Numeric> Reduction for Mean<T> {
    type In = T;
    type State = (f64, f64);
    type Out = f64;
    const NAME: &'static str = "mean";
    fn init(&self) -> (f64, f64) {
        (0.0, 0.0)
    }
    fn fold(&self, s: &mut (f64, f64), xs: &[T]) {
        s.0 += sum_lanes(xs, T::to_f64);
        s.1 += xs.len() as f64;
    }
    fn merge(&self, a: &mut (f64, f64), b: &(f64, f64)) {
        a.0 += b.0;
        a.1 += b.1;
    }
    fn finish(&self, s: &(f64, f64)) -> f64 {
        s.0 / s.1
    }
    fn encode(&self, states: Vec<(f64, f64)>, shape: &[usize]) -> Result<Chunk> {
        let (sums, counts) = states.into_iter().unzip();
        Ok(Chunk::Tuple(vec![
            array_chunk::<f64>(sums, shape)?,
            array_chunk::<f64>(counts, shape)?,
        ]))
    }
    fn decode(&self, c: &Chunk) -> Result<Vec<(f64, f64)>> {
        match c {
            Chunk::Tuple(p) if p.len() == 2 => {
                let (s, n) = (typed::<f64>(&p[0], "mean")?, typed::<f64>(&p[1], "mean")?);
                Ok(s.iter().copied().zip(n.iter().copied()).collect())
            }
            _ => Err(Error::internal("mean: state is not a (sum, count) tuple")),
        }
    }
}

impl<T: Element> Array<T> {
    /// Builds a reduction node with `kernel` over the axes in `opts`.
    pub(crate) fn reduce<O: Element>(
        &self,
        op: &str,
        kernel: Arc<dyn ReduceKernel>,
        opts: &ReduceOptions,
    ) -> Result<Array<O>> {
        self.check()?;
        let ndim = self.ndim();
        let shape = self.shape();
        let mut axes = match &opts.axes {
            None => (0..ndim).collect(),
            Some(a) => a.clone(),
        };
        if let Some(&axis) = axes.iter().find(|&&a| a >= ndim) {
            return Err(Error::Axis {
                op: op.to_string(),
                axis,
                ndim,
                shape,
            });
        }
        axes.sort_unstable();
        if axes.windows(2).any(|w| w[0] == w[1]) {
            return Err(Error::InvalidArgument(format!(
                "{op}: repeated axis in {:?}",
                opts.axes
            )));
        }
        if opts.split_every < 2 {
            return Err(Error::InvalidArgument(format!(
                "{op}: split_every must be at least 2, got {}",
                opts.split_every
            )));
        }
        let grid = reduced_grid(&self.node.grid, &axes, opts.keepdims);
        let spec = ReduceSpec {
            input: self.node.clone(),
            kernel,
            axes,
            split_every: opts.split_every,
        };
        Ok(Array::from_node(Node::new(
            NodeKind::Reduce(spec),
            grid,
            O::DTYPE,
        )))
    }
}

/// The output grid of a reduction: kept axes keep their chunks, reduced axes become one block of
/// length 1 (`keepdims`) or disappear.
pub(crate) fn reduced_grid(grid: &ChunkGrid, axes: &[usize], keepdims: bool) -> ChunkGrid {
    let mut g = grid.clone();
    for &a in axes.iter().rev() {
        g = if keepdims {
            g.with_single_block(a, 1)
        } else {
            g.remove_axis(a)
        };
    }
    g
}

fn sum_kernel<T: Numeric>() -> Arc<dyn ReduceKernel> {
    Arc::new(Kernel(Sum::<T>(PhantomData)))
}

fn mean_kernel<T: Numeric>() -> Arc<dyn ReduceKernel> {
    Arc::new(Kernel(Mean::<T>(PhantomData)))
}

impl<T: Numeric> Array<T> {
    /// The sum of all elements, lazily.
    ///
    /// # Examples
    /// ```
    /// let x = ndtask_array::ones::<f64>([100, 100], [30, 30])?;
    /// assert_eq!(x.sum().compute()?, 10_000.0);
    /// # Ok::<(), ndtask_core::Error>(())
    /// ```
    pub fn sum(&self) -> Scalar<T> {
        Scalar(Array::from_result(self.reduce(
            "sum",
            sum_kernel::<T>(),
            &ReduceOptions::all(),
        )))
    }

    /// The mean of all elements (as `f64`), lazily.
    pub fn mean(&self) -> Scalar<f64> {
        Scalar(Array::from_result(self.reduce(
            "mean",
            mean_kernel::<T>(),
            &ReduceOptions::all(),
        )))
    }

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

    /// Sums with explicit axes, `keepdims` and `split_every`.
    ///
    /// # Errors
    /// [`Error::Axis`] for an axis out of range; [`Error::InvalidArgument`] for a repeated axis
    /// or `split_every < 2`.
    pub fn sum_with(&self, opts: &ReduceOptions) -> Result<Array<T>> {
        self.reduce("sum", sum_kernel::<T>(), opts)
    }

    /// Means with explicit axes, `keepdims` and `split_every`.
    ///
    /// # Errors
    /// As [`Array::sum_with`].
    pub fn mean_with(&self, opts: &ReduceOptions) -> Result<Array<f64>> {
        self.reduce("mean", mean_kernel::<T>(), opts)
    }
}

impl Array<bool> {
    /// The number of `true` elements, lazily.
    ///
    /// # Examples
    /// ```
    /// let x = ndtask_array::arange(0i64, 10, 1, [4])?;
    /// assert_eq!(x.less(3i64)?.count_true().compute()?, 3);
    /// # Ok::<(), ndtask_core::Error>(())
    /// ```
    pub fn count_true(&self) -> Scalar<i64> {
        self.astype::<i64>().sum()
    }

    /// Counts `true` elements over the axes in `opts`.
    ///
    /// # Errors
    /// As [`Array::sum_with`].
    pub fn count_true_with(&self, opts: &ReduceOptions) -> Result<Array<i64>> {
        self.astype::<i64>().sum_with(opts)
    }
}
