//! Writing an array to a target chunk by chunk ([`Sink`], the extension point beside
//! `ChunkReader`): one task prepares the target (a file's header, a store's metadata), and one
//! task per chunk writes that chunk as soon as it is computed, by whichever thread or MPI rank
//! computed it. Every write task depends on the preparing task, so on MPI nothing is written
//! before the target exists, and the target is prepared once. A write is a lazy value
//! ([`Write`]) until it is computed.

use crate::api::any::AnyArray;
use crate::api::array::Array;
use crate::collection::{Targets, Write};
use crate::ops::layout::blocks;
use crate::plan::BlockKernel;
use crate::plan::Node;
use ndarray::{ArrayD, IxDyn};
use ndtask_core::{Chunk, ChunkGrid, Chunks, Element, Fingerprint, Result};
use std::sync::Arc;

/// A target an array is written to, chunk by chunk: `.npy` files, Zarr arrays, and your own
/// format ([`Array::to_sink`]). Each chunk is written by the one task that computed it (on
/// whichever thread or MPI rank that ran), so a sink needs no lock for chunks that go to
/// different places; `create` runs once, before any chunk is written.
///
/// # Examples
/// ```
/// use ndtask_array::sink::Sink;
/// use ndtask_core::{Chunk, Fingerprint, Result};
/// use std::sync::{Arc, Mutex};
/// /// Keeps each chunk's sum.
/// struct Sums(Mutex<Vec<f64>>);
/// impl Sink for Sums {
///     fn kind(&self) -> &'static str { "sums" }
///     fn target(&self) -> String { "memory".into() }
///     fn fingerprint(&self, h: &mut Fingerprint) { h.str("sums"); }
///     fn create(&self) -> Result<()> { Ok(()) }
///     fn write(&self, block: usize, chunk: &Chunk) -> Result<()> {
///         let a = f64::chunk_ref(chunk).expect("f64 chunks");
///         self.0.lock().unwrap()[block] = a.sum();
///         Ok(())
///     }
/// }
/// use ndtask_core::Element;
/// let x = ndtask_array::arange(0.0, 10.0, 1.0, [4])?;
/// let sums = Arc::new(Sums(Mutex::new(vec![0.0; 3])));
/// x.to_sink(sums.clone())?.compute()?;
/// assert_eq!(*sums.0.lock().unwrap(), vec![6.0, 22.0, 17.0]);
/// # Ok::<(), ndtask_core::Error>(())
/// ```
pub trait Sink: Send + Sync + 'static {
    /// The kind of target, for task names ("npy", "zarr").
    fn kind(&self) -> &'static str;
    /// The target, for task names (a path).
    fn target(&self) -> String;
    /// Feeds everything that changes what is written into `h`.
    fn fingerprint(&self, h: &mut Fingerprint);
    /// Prepares the target, once, before any chunk is written.
    ///
    /// # Errors
    /// Whatever stops it (the compute returns it, and nothing is written).
    fn create(&self) -> Result<()>;
    /// Writes chunk `block` (its number, in C order, in the written array's grid).
    ///
    /// # Errors
    /// Whatever stops it (the compute returns it, naming the op and the chunk).
    fn write(&self, block: usize, chunk: &Chunk) -> Result<()>;
}

/// The task that prepares the sink (after the task that prepared another, when `after`).
struct Create(Arc<dyn Sink>, bool);

/// The tasks that write the chunks: block `b` writes chunk `b`, after the sink is prepared.
struct WriteChunk(Arc<dyn Sink>);

/// The result of a sink's task: nothing to speak of.
fn done() -> Chunk {
    i64::into_chunk(ArrayD::from_elem(IxDyn(&[1]), 0))
}

impl BlockKernel for Create {
    fn name(&self) -> String {
        format!("{}-create:{}", self.0.kind(), self.0.target())
    }
    fn deps(&self, _: &[usize]) -> Vec<(usize, usize)> {
        if self.1 {
            vec![(0, 0)]
        } else {
            Vec::new()
        }
    }
    fn run(&self, _: &[usize], _: &[&Chunk]) -> Result<Chunk> {
        self.0.create().map(|_| done())
    }
    fn fingerprint(&self, h: &mut Fingerprint) {
        h.str("sink-create");
        self.0.fingerprint(h);
    }
}

impl BlockKernel for WriteChunk {
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

/// The lazy write of every chunk of `data` (block `b` of its grid as block `b`) to `sink` (an
/// empty array only prepares the target).
pub(crate) fn write_all<T: Element>(data: &Array<T>, sink: Arc<dyn Sink>) -> Result<Write> {
    data.check()?;
    let what = format!("{}:{}", sink.kind(), sink.target());
    let one = ChunkGrid::new(&[1], Chunks::Block(vec![1]))?;
    let created = blocks::<i64>(Vec::new(), one, Create(sink.clone(), false));
    let mut targets = Targets::default();
    targets.push(written(&created, &data.node, sink)?);
    Ok(Write::new(targets, what))
}

/// The node that writes every chunk of `data` to `sink` after `created` (summed to one
/// value, so that computing it runs every write).
fn written(created: &Array<i64>, data: &Arc<Node>, sink: Arc<dyn Sink>) -> Result<Arc<Node>> {
    let n = data.grid.num_chunks();
    if n == 0 {
        return Ok(created.sum().into_array().node);
    }
    let written = blocks::<i64>(
        vec![created.node.clone(), data.clone()],
        ChunkGrid::new(&[n], Chunks::Block(vec![1]))?,
        WriteChunk(sink),
    );
    Ok(written.sum().into_array().node)
}

/// The lazy write of several arrays, each to its own sink, after one preparation:
/// `first.create()` runs once before anything else (a file's header, a group's metadata;
/// its `write` is never called), then each sink's `create`, then every chunk of each array
/// goes to its sink's `write`. One compute writes them all, on every scheduler (a file that
/// holds several arrays: NetCDF, a Zarr group).
///
/// # Errors
/// The error of an array.
pub fn write_many(first: Arc<dyn Sink>, parts: Vec<(AnyArray, Arc<dyn Sink>)>) -> Result<Write> {
    let what = format!("{}:{}", first.kind(), first.target());
    let one = ChunkGrid::new(&[1], Chunks::Block(vec![1]))?;
    let prepared = blocks::<i64>(Vec::new(), one.clone(), Create(first, false));
    let mut targets = Targets::default();
    targets.push(prepared.node.clone());
    for (data, sink) in parts {
        data.check()?;
        let created = blocks::<i64>(
            vec![prepared.node.clone()],
            one.clone(),
            Create(sink.clone(), true),
        );
        targets.push(written(&created, &data.node, sink)?);
    }
    Ok(Write::new(targets, what))
}

impl<T: Element> Array<T> {
    /// The lazy write of every chunk of the array to `sink`, your own format: block `b` (in C
    /// order of the array's grid) goes to `sink.write(b, chunk)` from the task that computed
    /// it, after `sink.create()` ran once. Rechunk first to write in other chunks.
    ///
    /// # Errors
    /// The array's error.
    pub fn to_sink(&self, sink: Arc<dyn Sink>) -> Result<Write> {
        write_all(self, sink)
    }
}
