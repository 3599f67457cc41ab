//! `persist`: compute an array's chunks once and keep them, so that later expressions built on
//! it run none of the tasks that made it (Dask's `persist`). The kept chunks are a source like
//! any other: they fuse into what reads them, and a slice or rechunk reads only the regions it
//! needs.

use crate::api::array::Array;
use crate::api::compute::{compute_in, Computable, Results, Targets};
use crate::ops::creation::source;
use crate::ops::layout::{boxes, copy_overlap, overlapping};
use crate::plan::chunks::try_array;
use crate::plan::dispatch_dtype;
use crate::plan::reader::{ChunkReader, Region};
use ndtask_core::{
    Chunk, ChunkGrid, Chunks, DType, Element, Error, Fingerprint, Result, RunContext, Scheduler,
};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// An array's computed chunks, as a [`Computable`].
struct ChunksOf<'a, T>(&'a Array<T>);

impl<T: Element> Computable for ChunksOf<'_, T> {
    type Output = Vec<Arc<Chunk>>;
    fn add_targets(&self, targets: &mut Targets) {
        self.0.add_targets(targets);
    }
    fn take_results(&self, results: &mut Results) -> Result<Vec<Arc<Chunk>>> {
        results.take_chunks()
    }
}

/// Reads regions of kept chunks.
struct Persisted {
    grid: ChunkGrid,
    chunks: Vec<Arc<Chunk>>,
    dtype: DType,
    /// Which persisted array this is (in this process).
    id: u64,
}

impl Persisted {
    fn read_typed<T: Element>(&self, r: &Region) -> Result<Chunk> {
        let ranges: Vec<std::ops::Range<usize>> = (0..r.shape.len())
            .map(|a| overlapping(&self.grid, a, r.start[a], r.start[a] + r.shape[a]))
            .collect();
        let mut out = try_array::<T>(&r.shape, "a persisted region")?;
        for idx in boxes(&ranges) {
            let chunk = self
                .chunks
                .get(self.grid.ravel(&idx))
                .ok_or_else(|| Error::internal(format!("no persisted chunk {idx:?}")))?;
            let a = T::chunk_ref(chunk)
                .ok_or_else(|| Error::internal("a persisted chunk of another type"))?;
            copy_overlap(&mut out, &r.start, a, &self.grid.chunk_offset(&idx));
        }
        Ok(T::into_chunk(out))
    }
}

impl ChunkReader for Persisted {
    fn name(&self) -> String {
        format!("persisted#{}", self.id)
    }
    fn fingerprint(&self, h: &mut Fingerprint) {
        h.str("persisted");
        h.u64(self.id);
        self.grid.fingerprint(h);
    }
    fn dtype(&self) -> DType {
        self.dtype
    }
    fn read(&self, r: &Region) -> Result<Chunk> {
        dispatch_dtype!(self.dtype, T => self.read_typed::<T>(r))
    }
}

impl<T: Element> Array<T> {
    /// Computes the array's chunks on the default scheduler and keeps them in memory: the
    /// returned array reads them, so expressions built on it run none of the tasks that made
    /// them.
    ///
    /// # Errors
    /// As [`Array::persist_with`].
    ///
    /// # Examples
    /// ```
    /// let x = ndtask_array::random::uniform::<f64>([1000], [100], 1)?;
    /// let y = (&x * 2.0).persist()?;          // computed once, kept
    /// assert_eq!(y.sum().compute()?, (&x * 2.0).sum().compute()?);
    /// # Ok::<(), ndtask_core::Error>(())
    /// ```
    pub fn persist(&self) -> Result<Array<T>> {
        let s = crate::api::compute::default_scheduler()?;
        self.persist_with(s, &RunContext::new())
    }

    /// [`Array::persist`] on `scheduler`, under `ctx`.
    ///
    /// # Errors
    /// The array's error or a task's; [`Error::Scheduler`] on a scheduler of several MPI ranks
    /// (keeping each chunk on the rank that computed it is not built yet).
    pub fn persist_with(&self, scheduler: &dyn Scheduler, ctx: &RunContext) -> Result<Array<T>> {
        if scheduler.ranks() > 1 {
            return Err(Error::Scheduler(format!(
                "persist on {} MPI ranks is not supported yet (chunks would have to stay on the \
                 ranks that computed them); compute the array, or write it with to_npy/to_zarr",
                scheduler.ranks()
            )));
        }
        self.check()?;
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let chunks = compute_in(ChunksOf(self), scheduler, ctx)?;
        let reader = Persisted {
            grid: self.grid().clone(),
            chunks,
            dtype: T::DTYPE,
            id: NEXT.fetch_add(1, Ordering::Relaxed),
        };
        source(
            &self.shape(),
            Chunks::Explicit(self.chunks()),
            Arc::new(reader),
        )
    }
}
