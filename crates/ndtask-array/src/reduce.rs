//! Reductions as trees: each chunk becomes a partial state, states are merged in groups of
//! `split_every` (Dask's parameter) in a fixed order, and the last merge finalises the result.
//! The fixed grouping and order make results bit-identical on every scheduler.
//!
//! A [`Reduction`] says how to fold values into a state, merge states, and finish; [`Kernel`]
//! turns it into the type-erased [`ReduceKernel`] that lowering wires into tasks.

use crate::array::Array;
use crate::blocks::typed;
use crate::plan::{Node, NodeKind, ReduceSpec};
use ndarray::{ArrayD, IxDyn};
use ndtask_core::{
    try_filled, Buf, Chunk, ChunkGrid, DType, Element, Error, Fingerprint, Layout, Result, TILE,
};
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

    pub(crate) fn axes_list(&self) -> Option<&[usize]> {
        self.axes.as_deref()
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
    type State: State;
    type Out: Element;
    fn name(&self) -> &'static str;
    /// Whether a state depends on where its values sit in the array (argmin/argmax record
    /// indices), so that equal chunks at different places give different partial states.
    fn positional(&self) -> bool {
        false
    }
    fn init(&self) -> Self::State;
    /// Folds a run of values into the state (a fixed order: the result depends only on the run).
    fn fold(&self, s: &mut Self::State, xs: &[Self::In]);
    fn merge(&self, a: &mut Self::State, b: &Self::State);
    fn finish(&self, s: &Self::State) -> Self::Out;
    /// Whether a final state has a result at all (`nanargmin` of an all-NaN lane has none);
    /// checked before [`Reduction::finish`].
    fn check(&self, s: &Self::State) -> Result<()> {
        let _ = s;
        Ok(())
    }
    /// Feeds everything that changes the result into `h` (the MPI agreement check): the name,
    /// the element type, and any parameter the name does not say (`ddof`).
    fn fingerprint(&self, h: &mut Fingerprint) {
        h.str(self.name());
        h.str(Self::In::DTYPE.name());
    }
    /// Folds a run whose element `k` has result index `index(k)` (only index-aware reductions,
    /// argmin/argmax, override this).
    fn fold_at(&self, s: &mut Self::State, xs: &[Self::In], index: &dyn Fn(usize) -> i64) {
        let _ = index;
        self.fold(s, xs);
    }
    /// Folds `row[k]` into `states[k]` for every k: one row of a reduction over leading axes,
    /// where the states are the kept positions. `index` is the row's index along the reduced
    /// axis. Reductions whose state update is cheap override this with a vectorisable loop.
    fn fold_row(&self, states: &mut [Self::State], row: &[Self::In], index: i64) {
        for (s, x) in states.iter_mut().zip(row) {
            self.fold_at(s, std::slice::from_ref(x), &|_| index);
        }
    }
}

/// Whether `axes` (sorted) are the leading axes `0..k` of the array.
pub(crate) fn leading(axes: &[usize]) -> bool {
    axes.iter().enumerate().all(|(i, &a)| i == a)
}

/// Where a chunk sits in its array, to turn positions inside it into indices of the array.
pub(crate) struct Place {
    shape: Vec<usize>,
    offset: Vec<usize>,
    chunk: Vec<usize>,
}

impl Place {
    pub fn new(grid: &ChunkGrid, block: &[usize]) -> Self {
        Place {
            shape: grid.shape(),
            offset: grid.chunk_offset(block),
            chunk: grid.chunk_shape(block),
        }
    }

    /// The C-order flat index in the whole array of the element at C-order position `local` of
    /// the chunk.
    fn flat(&self, local: usize) -> i64 {
        let idx = ndtask_core::unravel(&self.chunk, local);
        let global: Vec<usize> = idx.iter().zip(&self.offset).map(|(i, o)| i + o).collect();
        ndtask_core::ravel(&self.shape, &global) as i64
    }
}

/// A partial state that travels between tasks as a [`Chunk`]: one array per tuple field.
pub(crate) trait State: Copy + Send + Sync + 'static {
    fn encode(states: Vec<Self>, shape: &[usize]) -> Result<Chunk>;
    fn decode(c: &Chunk) -> Result<Vec<Self>>;
    /// The element types of the state's arrays (a tuple when more than one).
    fn dtypes() -> Vec<DType>;
}

impl<A: Element> State for (A,) {
    fn dtypes() -> Vec<DType> {
        vec![A::DTYPE]
    }
    fn encode(states: Vec<Self>, shape: &[usize]) -> Result<Chunk> {
        array_chunk(states.into_iter().map(|s| s.0).collect(), shape)
    }
    fn decode(c: &Chunk) -> Result<Vec<Self>> {
        Ok(typed::<A>(c, "state")?.iter().map(|&x| (x,)).collect())
    }
}

fn tuple_parts(c: &Chunk, n: usize) -> Result<&[Chunk]> {
    match c {
        Chunk::Tuple(p) if p.len() == n => Ok(p),
        _ => Err(Error::internal(format!(
            "expected a state of {n} arrays, got {:?}",
            c.dtype()
        ))),
    }
}

impl<A: Element, B: Element> State for (A, B) {
    fn dtypes() -> Vec<DType> {
        vec![A::DTYPE, B::DTYPE]
    }
    fn encode(states: Vec<Self>, shape: &[usize]) -> Result<Chunk> {
        let (a, b): (Vec<A>, Vec<B>) = states.into_iter().unzip();
        Ok(Chunk::Tuple(vec![
            array_chunk(a, shape)?,
            array_chunk(b, shape)?,
        ]))
    }
    fn decode(c: &Chunk) -> Result<Vec<Self>> {
        let p = tuple_parts(c, 2)?;
        let (a, b) = (typed::<A>(&p[0], "state")?, typed::<B>(&p[1], "state")?);
        Ok(a.iter().copied().zip(b.iter().copied()).collect())
    }
}

impl<A: Element, B: Element, C: Element> State for (A, B, C) {
    fn dtypes() -> Vec<DType> {
        vec![A::DTYPE, B::DTYPE, C::DTYPE]
    }
    fn encode(states: Vec<Self>, shape: &[usize]) -> Result<Chunk> {
        let (mut a, mut b, mut c) = (Vec::new(), Vec::new(), Vec::new());
        for (x, y, z) in states {
            a.push(x);
            b.push(y);
            c.push(z);
        }
        Ok(Chunk::Tuple(vec![
            array_chunk(a, shape)?,
            array_chunk(b, shape)?,
            array_chunk(c, shape)?,
        ]))
    }
    fn decode(c: &Chunk) -> Result<Vec<Self>> {
        let p = tuple_parts(c, 3)?;
        let (a, b, z) = (
            typed::<A>(&p[0], "state")?,
            typed::<B>(&p[1], "state")?,
            typed::<C>(&p[2], "state")?,
        );
        Ok(a.iter()
            .zip(b)
            .zip(z)
            .map(|((&x, &y), &z)| (x, y, z))
            .collect())
    }
}

/// Receives the tiles of one chunk: `(tile, number of valid values)`.
pub(crate) type TileSink<'a> = dyn FnMut(&Buf, usize) -> Result<()> + 'a;
/// Streams the tiles of one chunk into a sink.
pub(crate) type TileStream<'a> = dyn FnMut(&mut TileSink<'_>) -> Result<()> + 'a;

/// A type-erased reduction as lowering uses it.
pub(crate) trait ReduceKernel: Send + Sync {
    fn name(&self) -> &'static str;
    /// See [`Reduction::positional`].
    fn positional(&self) -> bool;
    /// The partial state of a whole chunk from its tiles (`tiles` calls `sink` once per tile).
    fn partial_tiles(&self, tiles: &mut TileStream<'_>, place: &Place) -> Result<Chunk>;
    /// The partial state of a whole materialised chunk.
    fn partial_all(&self, chunk: &Chunk, place: &Place) -> Result<Chunk>;
    /// The partial state over `axes` of a materialised chunk (reduced axes kept with length 1).
    fn partial_axes(&self, chunk: &Chunk, axes: &[usize], place: &Place) -> Result<Chunk>;
    /// The partial state over the leading `nreduced` axes of a chunk streamed as tiles: rows of
    /// the kept positions fold into their states without the chunk ever being materialised.
    fn partial_leading_tiles(
        &self,
        tiles: &mut TileStream<'_>,
        nreduced: usize,
        place: &Place,
    ) -> Result<Chunk>;
    /// The state of zero elements, for every position of `shape`.
    fn identity(&self, shape: &[usize]) -> Result<Chunk>;
    /// Merges states of equal shape, in the given order.
    fn combine(&self, parts: &[&Chunk]) -> Result<Chunk>;
    /// Turns a state into the result, reshaped to `shape`.
    fn finalize(&self, state: &Chunk, shape: &[usize]) -> Result<Chunk>;
    /// See [`Reduction::fingerprint`].
    fn fingerprint(&self, h: &mut Fingerprint);
    /// The layout of a partial state over positions of `shape`.
    fn state_layout(&self, shape: &[usize]) -> Layout;
    /// The element type of the result.
    fn out_dtype(&self) -> DType;
}

/// Adapts a [`Reduction`] to [`ReduceKernel`].
pub(crate) struct Kernel<R>(pub R);

impl<R: Reduction> ReduceKernel for Kernel<R> {
    fn name(&self) -> &'static str {
        self.0.name()
    }

    fn fingerprint(&self, h: &mut Fingerprint) {
        self.0.fingerprint(h);
    }

    fn state_layout(&self, shape: &[usize]) -> Layout {
        let dtypes = <R::State as State>::dtypes();
        Layout {
            tuple: dtypes.len() > 1,
            parts: dtypes.into_iter().map(|d| (d, shape.to_vec())).collect(),
        }
    }

    fn out_dtype(&self) -> DType {
        R::Out::DTYPE
    }

    fn positional(&self) -> bool {
        self.0.positional()
    }

    fn partial_tiles(&self, tiles: &mut TileStream<'_>, place: &Place) -> Result<Chunk> {
        let mut s = self.0.init();
        let mut off = 0;
        tiles(&mut |b, n| {
            let xs = R::In::buf_ref(b).ok_or_else(|| {
                Error::internal(format!("{}: tile of type {}", self.0.name(), b.dtype()))
            })?;
            self.0.fold_at(&mut s, &xs[..n], &|k| place.flat(off + k));
            off += n;
            Ok(())
        })?;
        <R::State as State>::encode(vec![s], &vec![1; place.shape.len()])
    }

    fn partial_all(&self, chunk: &Chunk, place: &Place) -> Result<Chunk> {
        let a = typed::<R::In>(chunk, self.0.name())?;
        let mut s = self.0.init();
        let std = a.as_standard_layout();
        let xs = std
            .as_slice()
            .ok_or_else(|| Error::internal("standard layout without a slice"))?;
        // Same tiling as `partial_tiles`, so a materialised and a fused input give the same bits.
        for (t, run) in xs.chunks(TILE).enumerate() {
            self.0.fold_at(&mut s, run, &|k| place.flat(t * TILE + k));
        }
        <R::State as State>::encode(vec![s], &vec![1; a.ndim()])
    }

    fn partial_leading_tiles(
        &self,
        tiles: &mut TileStream<'_>,
        nreduced: usize,
        place: &Place,
    ) -> Result<Chunk> {
        let mut rows = Rows::new(self, nreduced, place)?;
        tiles(&mut |b, n| {
            let xs = R::In::buf_ref(b).ok_or_else(|| {
                Error::internal(format!("{}: tile of type {}", self.0.name(), b.dtype()))
            })?;
            rows.feed(&xs[..n]);
            Ok(())
        })?;
        rows.finish()
    }

    fn partial_axes(&self, chunk: &Chunk, axes: &[usize], place: &Place) -> Result<Chunk> {
        let a = typed::<R::In>(chunk, self.0.name())?;
        if leading(axes) && axes.len() < a.ndim() {
            // Reduce over leading axes row by row: no transposed copy of the chunk.
            let std = a.as_standard_layout();
            let xs = std
                .as_slice()
                .ok_or_else(|| Error::internal("standard layout without a slice"))?;
            let mut rows = Rows::new(self, axes.len(), place)?;
            rows.feed(xs);
            return rows.finish();
        }
        let kept: Vec<usize> = (0..a.ndim()).filter(|i| !axes.contains(i)).collect();
        let perm: Vec<usize> = kept.iter().chain(axes).copied().collect();
        let lane: usize = axes.iter().map(|&i| a.shape()[i]).product();
        let view = a.view().permuted_axes(perm);
        let data = view.as_standard_layout();
        let xs = data
            .as_slice()
            .ok_or_else(|| Error::internal("standard layout without a slice"))?;
        let states: Vec<R::State> = if lane == 0 {
            let n = kept.iter().map(|&i| a.shape()[i]).product();
            try_filled(n, self.0.init(), format_args!("{} states", self.0.name()))?
        } else {
            xs.chunks(lane)
                .map(|l| {
                    let mut s = self.0.init();
                    // With one reduced axis, the index of lane element k is its position along it.
                    let start = axes.first().map_or(0, |&a| place.offset[a]);
                    for (t, run) in l.chunks(TILE).enumerate() {
                        self.0
                            .fold_at(&mut s, run, &|k| (start + t * TILE + k) as i64);
                    }
                    s
                })
                .collect()
        };
        let shape: Vec<usize> = (0..a.ndim())
            .map(|i| if axes.contains(&i) { 1 } else { a.shape()[i] })
            .collect();
        <R::State as State>::encode(states, &shape)
    }

    fn identity(&self, shape: &[usize]) -> Result<Chunk> {
        let n = shape.iter().product();
        let states = try_filled(n, self.0.init(), format_args!("{} states", self.0.name()))?;
        <R::State as State>::encode(states, shape)
    }

    fn combine(&self, parts: &[&Chunk]) -> Result<Chunk> {
        let (first, rest) = parts
            .split_first()
            .ok_or_else(|| Error::internal("combine of no parts"))?;
        let mut acc = <R::State as State>::decode(first)?;
        for p in rest {
            let p = <R::State as State>::decode(p)?;
            if p.len() != acc.len() {
                return Err(Error::internal(format!(
                    "{}: merging states of {} and {} elements",
                    self.0.name(),
                    acc.len(),
                    p.len()
                )));
            }
            acc.iter_mut().zip(&p).for_each(|(a, b)| self.0.merge(a, b));
        }
        <R::State as State>::encode(acc, first.shape())
    }

    fn finalize(&self, state: &Chunk, shape: &[usize]) -> Result<Chunk> {
        let out: Vec<R::Out> = <R::State as State>::decode(state)?
            .iter()
            .map(|s| self.0.check(s).map(|()| self.0.finish(s)))
            .collect::<Result<_>>()?;
        let a = ArrayD::from_shape_vec(IxDyn(shape), out).map_err(Error::internal)?;
        Ok(R::Out::into_chunk(a))
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
        if let Some(w) = axes.windows(2).find(|w| w[0] == w[1]) {
            return Err(Error::InvalidArgument(format!(
                "{op}: axis {} is repeated in the axes {:?}",
                w[0],
                opts.axes.as_deref().unwrap_or_default()
            )));
        }
        if opts.split_every < 2 {
            // Any value from 2 up is fine (the fan-in is an integer root of it).
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

/// Folds a chunk's values, arriving in C order in runs of any length, row by row into the states
/// of the kept (trailing) positions.
struct Rows<'k, R: Reduction> {
    kernel: &'k Kernel<R>,
    states: Vec<R::State>,
    /// Position within the current row, and the current row's number.
    col: usize,
    row: usize,
    /// The index along the reduced axis of row 0 (single reduced axis), for argmin/argmax.
    first_index: usize,
    shape: Vec<usize>,
}

impl<'k, R: Reduction> Rows<'k, R> {
    fn new(kernel: &'k Kernel<R>, nreduced: usize, place: &Place) -> Result<Self> {
        let kept: usize = place.chunk[nreduced..].iter().product();
        let shape = place
            .chunk
            .iter()
            .enumerate()
            .map(|(i, &d)| if i < nreduced { 1 } else { d })
            .collect();
        let first_index = if nreduced == 1 { place.offset[0] } else { 0 };
        let states = try_filled(
            kept,
            kernel.0.init(),
            format_args!("{} states", kernel.0.name()),
        )?;
        Ok(Rows {
            kernel,
            states,
            col: 0,
            row: 0,
            first_index,
            shape,
        })
    }

    fn feed(&mut self, mut xs: &[R::In]) {
        let width = self.states.len();
        while !xs.is_empty() && width > 0 {
            let n = (width - self.col).min(xs.len());
            let index = (self.first_index + self.row) as i64;
            self.kernel
                .0
                .fold_row(&mut self.states[self.col..self.col + n], &xs[..n], index);
            xs = &xs[n..];
            self.col += n;
            if self.col == width {
                self.col = 0;
                self.row += 1;
            }
        }
    }

    fn finish(self) -> Result<Chunk> {
        <R::State as State>::encode(self.states, &self.shape)
    }
}

fn array_chunk<T: Element>(v: Vec<T>, shape: &[usize]) -> Result<Chunk> {
    Ok(T::into_chunk(
        ArrayD::from_shape_vec(IxDyn(shape), v).map_err(Error::internal)?,
    ))
}
