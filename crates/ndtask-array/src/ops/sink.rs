//! Writing an array to a target chunk by chunk ([`Sink`]): one task prepares the target (a
//! file's header, a store's metadata), and one task per chunk writes that chunk as soon as it
//! is computed, by whichever thread or MPI rank computed it. Every write task depends on the
//! preparing task, so on MPI nothing is written before the target exists, and the target is
//! prepared once.

use crate::api::array::Array;
use crate::api::compute::compute_local_in;
use crate::ops::layout::blocks;
use crate::plan::BlockKernel;
use ndarray::{ArrayD, IxDyn};
use ndtask_core::{Chunk, ChunkGrid, Chunks, Element, Fingerprint, Result, RunContext, Scheduler};
use std::sync::Arc;

/// A target an array is written to, chunk by chunk.
pub(crate) trait Sink: Send + Sync + 'static {
    /// The kind of target, for task names ("npy", "zarr").
    fn kind(&self) -> &'static str;
    /// The target, for task names (a path).
    fn target(&self) -> String;
    /// Feeds everything that changes what is written into `h`.
    fn fingerprint(&self, h: &mut Fingerprint);
    /// Prepares the target, once, before any chunk is written.
    fn create(&self) -> Result<()>;
    /// Writes chunk `block` (its number in the written array's grid).
    fn write(&self, block: usize, chunk: &Chunk) -> Result<()>;
}

/// The task that prepares the sink.
struct Create(Arc<dyn Sink>);

/// The tasks that write the chunks: block `b` writes chunk `b`, after the sink is prepared.
struct Write(Arc<dyn Sink>);

/// The result of a sink's task: nothing to speak of.
fn done() -> Chunk {
    i64::into_chunk(ArrayD::from_elem(IxDyn(&[1]), 0))
}

impl BlockKernel for Create {
    fn name(&self) -> String {
        format!("{}-create:{}", self.0.kind(), self.0.target())
    }
    fn deps(&self, _: &[usize]) -> Vec<(usize, usize)> {
        Vec::new()
    }
    fn run(&self, _: &[usize], _: &[&Chunk]) -> Result<Chunk> {
        self.0.create().map(|_| done())
    }
    fn fingerprint(&self, h: &mut Fingerprint) {
        h.str("sink-create");
        self.0.fingerprint(h);
    }
}

impl BlockKernel for Write {
    fn name(&self) -> String {
        format!("{}-write:{}", self.0.kind(), self.0.target())
    }
    fn deps(&self, block: &[usize]) -> Vec<(usize, usize)> {
        vec![(0, 0), (1, block[0])]
    }
    fn run(&self, block: &[usize], inputs: &[&Chunk]) -> Result<Chunk> {
        self.0.write(block[0], inputs[1]).map(|_| done())
    }
    fn fingerprint(&self, h: &mut Fingerprint) {
        h.str("sink-write");
        self.0.fingerprint(h);
    }
}

/// Writes every chunk of `data` to `sink` on `scheduler`, under `ctx` (an empty array only
/// prepares the target).
pub(crate) fn write_all<T: Element>(
    data: &Array<T>,
    sink: Arc<dyn Sink>,
    scheduler: &dyn Scheduler,
    ctx: &RunContext,
) -> Result<()> {
    let one = ChunkGrid::new(&[1], Chunks::Block(vec![1]))?;
    let created = blocks::<i64>(Vec::new(), one, Create(sink.clone()));
    let n = data.num_chunks();
    if n == 0 {
        return compute_local_in(&created.sum(), scheduler, ctx).map(|_| ());
    }
    let written = blocks::<i64>(
        vec![created.node.clone(), data.node.clone()],
        ChunkGrid::new(&[n], Chunks::Block(vec![1]))?,
        Write(sink),
    );
    compute_local_in(&written.sum(), scheduler, ctx).map(|_| ())
}
