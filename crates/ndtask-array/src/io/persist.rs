//! `persist`: compute an array's chunks once and keep them, so that later expressions built on
//! it run none of the tasks that made it (Dask's `persist`). In one process the kept chunks are
//! a source like any other: they fuse into what reads them, and a slice or rechunk reads only
//! the regions it needs. On several MPI ranks each chunk stays on the rank that computed it:
//! the persisted array is one task per chunk that only that rank runs (the placement puts it
//! there, and what reads the chunk follows it), so no chunk moves unless an expression needs it
//! elsewhere.

use crate::api::array::Array;
use crate::collection::{Collection, Results, Targets};
use crate::config::Config;
use crate::ops::creation::source;
use crate::ops::layout::{blocks, boxes, copy_overlap, overlapping};
use crate::plan::chunks::try_array;
use crate::plan::reader::{ChunkReader, Subset};
use crate::plan::{dispatch_dtype, BlockKernel};
use ndtask_core::{Chunk, ChunkGrid, Chunks, DType, Element, Error, Fingerprint, Result};
use std::marker::PhantomData;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// An array's computed chunks, as a [`Collection`].
struct ChunksOf<'a, T>(&'a Array<T>);

impl<T: Element> Collection for ChunksOf<'_, T> {
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
    fn read_typed<T: Element>(&self, r: &Subset) -> Result<Chunk> {
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
    fn read(&self, r: &Subset) -> Result<Chunk> {
        dispatch_dtype!(self.dtype, T => self.read_typed::<T>(r))
    }
}

/// The chunks of an array persisted on several MPI ranks, each kept on the rank that computed
/// it (its home), the only rank that runs the task handing it out.
struct KeptChunks<T> {
    grid: ChunkGrid,
    chunks: Vec<Option<Arc<Chunk>>>,
    homes: Vec<usize>,
    /// This process's rank, and how many ranks kept the chunks.
    rank: usize,
    ranks: usize,
    id: u64,
    _t: PhantomData<fn() -> T>,
}

impl<T: Element> BlockKernel for KeptChunks<T> {
    fn name(&self) -> String {
        format!("persisted-on-ranks#{}", self.id)
    }
    fn fingerprint(&self, h: &mut Fingerprint) {
        h.str("persisted-on-ranks");
        h.u64(self.id);
        h.str(T::DTYPE.name());
        h.usize(self.ranks);
        self.homes.iter().for_each(|&r| h.usize(r));
    }
    fn exact(&self) -> bool {
        true
    }
    fn deps(&self, _: &[usize]) -> Vec<(usize, usize)> {
        Vec::new()
    }
    fn home(&self, block: &[usize]) -> Option<usize> {
        self.homes.get(self.grid.ravel(block)).copied()
    }
    fn run(&self, block: &[usize], _: &[&Chunk]) -> Result<Chunk> {
        let b = self.grid.ravel(block);
        match self.chunks.get(b) {
            Some(Some(chunk)) => Ok(Chunk::clone(chunk)),
            _ => Err(Error::Scheduler(format!(
                "chunk {block:?} of a persisted array is kept on MPI rank {} of {}, not on rank \
                 {}: compute what reads it with the MPI scheduler that persisted it",
                self.homes.get(b).copied().unwrap_or(0),
                self.ranks,
                self.rank
            ))),
        }
    }
}

impl<T: Element> Array<T> {
    /// Computes the array's chunks on the default configuration and keeps them in memory: the
    /// returned array reads them, so expressions built on it run none of the tasks that made
    /// them (Dask's `persist`).
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
        self.persist_with(&Config::default())
    }

    /// [`Array::persist`] with `config`. On several MPI ranks (call it on every rank, as
    /// `compute`), each chunk stays on the rank that computed it, and expressions built on the
    /// result must run on the same scheduler: their tasks that read a chunk run on its rank.
    ///
    /// # Errors
    /// The array's error or a task's.
    pub fn persist_with(&self, config: &Config) -> Result<Array<T>> {
        let scheduler = config.get_scheduler()?;
        static NEXT: AtomicU64 = AtomicU64::new(0);
        // Arrays persisted on several ranks count apart: every rank calls that path alike, so
        // their ids (in the fingerprints the ranks compare) agree even when some rank also
        // persists arrays of its own on another scheduler.
        static NEXT_ON_RANKS: AtomicU64 = AtomicU64::new(0);
        if scheduler.ranks() > 1 {
            let id = NEXT_ON_RANKS.fetch_add(1, Ordering::Relaxed);
            return self.persist_on_ranks(config, id);
        }
        self.check()?;
        let chunks = config.compute(ChunksOf(self))?;
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

impl<T: Element> Array<T> {
    /// [`Array::persist_with`] on several MPI ranks: the chunks stay where they were computed.
    fn persist_on_ranks(&self, config: &Config, id: u64) -> Result<Array<T>> {
        let targets = Targets::of(&ChunksOf(self));
        let (_, kept) = config.run(&targets, |s, g| s.execute_kept(g, config.context()))?;
        let scheduler = config.get_scheduler()?;
        if kept.chunks.len() != self.grid().num_chunks() || kept.homes.len() != kept.chunks.len() {
            return Err(Error::internal(format!(
                "persist kept {} chunks ({} homes) of an array of {}",
                kept.chunks.len(),
                kept.homes.len(),
                self.grid().num_chunks()
            )));
        }
        let kernel = KeptChunks::<T> {
            grid: self.grid().clone(),
            chunks: kept.chunks,
            homes: kept.homes,
            rank: scheduler.rank(),
            ranks: scheduler.ranks(),
            id,
            _t: PhantomData,
        };
        Ok(blocks(Vec::new(), self.grid().clone(), kernel))
    }
}
