//! The interface of reductions. A [`Reduction`] says how to fold values into a state, merge
//! states, and finish; [`ReduceKernel`] is its type-erased form that lowering wires into
//! partial, combine and finalise tasks (`exec::reduce` turns one into the other).

use crate::plan::chunks::typed;
use ndarray::{ArrayD, IxDyn};
use ndtask_core::{Buf, Chunk, ChunkGrid, DType, Element, Error, Fingerprint, Layout, Result};

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
    /// Whether folding a row is adding each value, as `f64`, to its column's running sum and
    /// counting it (a mean without NaN skipping). A fold over leading axes then keeps the sums
    /// as one array ([`Reduction::fold_row_sums`]: no interleaved states to update) and the
    /// count once, and makes the states at the end ([`Reduction::state_of_sums`]), with the
    /// same adds in the same order. Default false.
    fn row_sums(&self) -> bool {
        false
    }
    /// Adds the values of `row` to the running sums of their columns (only called when
    /// [`Reduction::row_sums`]).
    fn fold_row_sums(&self, sums: &mut [f64], row: &[Self::In]) {
        let _ = (sums, row);
    }
    /// The state of a column whose `count` values summed to `sum` (only called when
    /// [`Reduction::row_sums`]).
    fn state_of_sums(&self, sum: f64, count: f64) -> Self::State {
        let _ = (sum, count);
        self.init()
    }
}

/// Whether `axes` (sorted) are the leading axes `0..k` of the array.
pub(crate) fn leading(axes: &[usize]) -> bool {
    axes.iter().enumerate().all(|(i, &a)| i == a)
}

/// Where a chunk sits in its array, to turn positions inside it into indices of the array.
#[derive(Clone)]
pub(crate) struct Place {
    /// The whole array's shape.
    pub shape: Vec<usize>,
    /// The chunk's first index.
    pub offset: Vec<usize>,
    /// The chunk's shape.
    pub chunk: Vec<usize>,
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
    pub fn flat(&self, local: usize) -> i64 {
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

/// Folds the tiles of one chunk, in C order, into its partial state.
pub(crate) trait TileFolder {
    /// Folds the first `n` values of `tile`.
    fn feed(&mut self, tile: &Buf, n: usize) -> Result<()>;
    /// The partial state of every value fed.
    fn finish(self: Box<Self>) -> Result<Chunk>;
}

/// A type-erased reduction as lowering uses it.
pub(crate) trait ReduceKernel: Send + Sync {
    fn name(&self) -> &'static str;
    /// See [`Reduction::positional`].
    fn positional(&self) -> bool;
    /// A folder of the tiles of the chunk at `place` into its partial state: over all axes
    /// (`nreduced` `None`), or over the leading `nreduced` axes, where the rows of the kept
    /// positions fold into their states without the chunk ever being materialised.
    fn folder<'a>(
        &'a self,
        nreduced: Option<usize>,
        place: Place,
    ) -> Result<Box<dyn TileFolder + 'a>>;
    /// The partial state of a whole materialised chunk.
    fn partial_all(&self, chunk: &Chunk, place: &Place) -> Result<Chunk>;
    /// The partial state over `axes` of a materialised chunk (reduced axes kept with length 1).
    fn partial_axes(&self, chunk: &Chunk, axes: &[usize], place: &Place) -> Result<Chunk>;
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

pub(crate) fn array_chunk<T: Element>(v: Vec<T>, shape: &[usize]) -> Result<Chunk> {
    Ok(T::into_chunk(
        ArrayD::from_shape_vec(IxDyn(shape), v).map_err(Error::internal)?,
    ))
}
