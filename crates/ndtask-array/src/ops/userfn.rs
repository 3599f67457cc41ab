//! User functions on whole chunks (Dask's `map_blocks`): a Rust closure receives each chunk as
//! an ndarray view and returns the output chunk. Closures are shared, never serialised, so they
//! work on every scheduler (each MPI rank holds the same closure in the same program).

use crate::api::array::Array;
use crate::ops::layout::blocks;
use crate::plan::chunks::typed;
use crate::plan::BlockKernel;
use ndarray::{ArrayD, ArrayViewD};
use ndtask_core::{Chunk, ChunkGrid, Chunks, Element, Error, Result};
use std::marker::PhantomData;

struct MapBlocks<T, O, F> {
    from: ChunkGrid,
    f: F,
    _t: PhantomData<fn(T) -> O>,
}

impl<T: Element, O: Element, F: Fn(ArrayViewD<'_, T>) -> Result<ArrayD<O>> + Send + Sync>
    BlockKernel for MapBlocks<T, O, F>
{
    fn name(&self) -> String {
        "map_blocks".into()
    }
    fn deps(&self, block: &[usize]) -> Vec<(usize, usize)> {
        vec![(0, self.from.ravel(block))]
    }
    fn run(&self, _: &[usize], inputs: &[&Chunk]) -> Result<Chunk> {
        Ok(O::into_chunk((self.f)(
            typed::<T>(inputs[0], "map_blocks")?.view(),
        )?))
    }
}

struct MapBlocks2<T, U, O, F> {
    from: ChunkGrid,
    f: F,
    _t: PhantomData<fn(T, U) -> O>,
}

impl<T, U, O, F> BlockKernel for MapBlocks2<T, U, O, F>
where
    T: Element,
    U: Element,
    O: Element,
    F: Fn(ArrayViewD<'_, T>, ArrayViewD<'_, U>) -> ArrayD<O> + Send + Sync,
{
    fn name(&self) -> String {
        "map_blocks2".into()
    }
    fn deps(&self, block: &[usize]) -> Vec<(usize, usize)> {
        let b = self.from.ravel(block);
        vec![(0, b), (1, b)]
    }
    fn run(&self, _: &[usize], inputs: &[&Chunk]) -> Result<Chunk> {
        let a = typed::<T>(inputs[0], "map_blocks2")?;
        let b = typed::<U>(inputs[1], "map_blocks2")?;
        Ok(O::into_chunk((self.f)(a.view(), b.view())))
    }
}

impl<T: Element> Array<T> {
    /// Applies `f` to every chunk; each output chunk must have its input chunk's shape (use
    /// [`Array::map_blocks_with_chunks`] to declare other chunks). A chunk of another shape, or a
    /// panic in `f`, makes `compute()` fail naming the chunk.
    ///
    /// # Examples
    /// ```
    /// let x = ndtask_array::arange(0.0, 6.0, 1.0, [3])?;
    /// // Subtract each chunk's own mean.
    /// let centred = x.map_blocks(|c| { let m = c.mean().unwrap_or(0.0); c.mapv(|v| v - m) });
    /// assert_eq!(centred.compute()?.iter().copied().collect::<Vec<_>>(), vec![-1.0, 0.0, 1.0, -1.0, 0.0, 1.0]);
    /// # Ok::<(), ndtask_core::Error>(())
    /// ```
    pub fn map_blocks<O: Element>(
        &self,
        f: impl Fn(ArrayViewD<'_, T>) -> ArrayD<O> + Send + Sync + 'static,
    ) -> Array<O> {
        let grid = self.node.grid.clone();
        blocks(
            vec![self.node.clone()],
            grid.clone(),
            MapBlocks {
                from: grid,
                f: move |chunk: ArrayViewD<'_, T>| Ok(f(chunk)),
                _t: PhantomData,
            },
        )
    }

    /// Applies `f` to every chunk, declaring the output chunks (same number of blocks per axis
    /// and the same number of axes as the input).
    ///
    /// # Errors
    /// [`Error::Chunks`] for chunks that do not fit `shape`; [`Error::Shape`] if the block
    /// counts differ from the input's.
    pub fn map_blocks_with_chunks<O: Element>(
        &self,
        shape: impl AsRef<[usize]>,
        chunks: impl Into<Chunks>,
        f: impl Fn(ArrayViewD<'_, T>) -> ArrayD<O> + Send + Sync + 'static,
    ) -> Result<Array<O>> {
        self.try_map_blocks_with_chunks(shape, chunks, move |chunk| Ok(f(chunk)))
    }

    /// [`Array::map_blocks_with_chunks`] with a function that may fail: its error fails
    /// `compute()` as it is (a fitted model that cannot predict on a chunk, say).
    ///
    /// # Errors
    /// As [`Array::map_blocks_with_chunks`].
    pub fn try_map_blocks_with_chunks<O: Element>(
        &self,
        shape: impl AsRef<[usize]>,
        chunks: impl Into<Chunks>,
        f: impl Fn(ArrayViewD<'_, T>) -> Result<ArrayD<O>> + Send + Sync + 'static,
    ) -> Result<Array<O>> {
        self.check()?;
        let grid = ChunkGrid::new(shape.as_ref(), chunks.into())?;
        if grid.nblocks() != self.node.grid.nblocks() {
            return Err(Error::Shape(format!(
                "map_blocks: declared chunks {} have {:?} blocks per axis, the input {:?} has {:?}",
                grid.describe(),
                grid.nblocks(),
                self.chunks(),
                self.node.grid.nblocks()
            )));
        }
        Ok(blocks(
            vec![self.node.clone()],
            grid,
            MapBlocks {
                from: self.node.grid.clone(),
                f,
                _t: PhantomData,
            },
        ))
    }

    /// Applies `f` to matching chunks of two arrays of one shape (the second is rechunked to the
    /// first's chunks if needed); output chunks keep the first array's shape.
    ///
    /// # Errors
    /// [`Error::Shape`] if the shapes differ.
    pub fn map_blocks2<U: Element, O: Element>(
        &self,
        other: &Array<U>,
        f: impl Fn(ArrayViewD<'_, T>, ArrayViewD<'_, U>) -> ArrayD<O> + Send + Sync + 'static,
    ) -> Result<Array<O>> {
        self.check()?;
        other.check()?;
        if self.shape() != other.shape() {
            return Err(Error::Shape(format!(
                "map_blocks2 needs arrays of one shape, got {:?} and {:?}",
                self.shape(),
                other.shape()
            )));
        }
        let other = other.rechunk(Chunks::Explicit(self.chunks()))?;
        let grid = self.node.grid.clone();
        let kernel = MapBlocks2 {
            from: grid.clone(),
            f,
            _t: PhantomData,
        };
        Ok(blocks(
            vec![self.node.clone(), other.node.clone()],
            grid,
            kernel,
        ))
    }
}
