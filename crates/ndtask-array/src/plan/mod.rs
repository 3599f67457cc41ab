//! The logical plan: array-level nodes that `Array` handles point to. Building a node costs
//! O(number of axes), never O(number of chunks); no chunk data exists until lowering and a
//! scheduler run. Element-wise nodes and sources carry tile kernels, which the fusion pass
//! (`fuse.rs`) strings together into one single-pass kernel per chunk.

pub(crate) mod arith;
pub(crate) mod chunks;
pub(crate) mod passes;
pub(crate) mod reader;
pub(crate) mod source;
pub(crate) mod walk;

use crate::reduce::reduction::ReduceKernel;
use arith::ArithView;
pub(crate) use chunks::{dispatch_dtype, tile_type_error};
use ndtask_core::{Buf, Chunk, ChunkGrid, DType, Error, Fingerprint, Result};
pub(crate) use source::{SourceNode, Window};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// A node of the logical plan.
pub(crate) struct Node {
    /// Its identity: unique in the process, never reused (the key of every table a pass or the
    /// lowering keeps per node).
    pub id: NodeId,
    pub kind: NodeKind,
    pub grid: ChunkGrid,
    pub dtype: DType,
}

/// A plan node's identity ([`Node::key`]): a number given when the node is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct NodeId(u64);

impl NodeId {
    /// The next identity (from a process-wide counter: 2^64 nodes are never made).
    fn next() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        NodeId(NEXT.fetch_add(1, Ordering::Relaxed))
    }
}

/// What a node computes.
pub(crate) enum NodeKind {
    /// Chunks a reader makes (random, full, arange, an in-memory array, a file).
    Source(Arc<SourceNode>),
    /// An element-wise function of inputs that share this node's shape and chunk grid.
    Map {
        kernel: Arc<dyn MapKernel>,
        inputs: Vec<Arc<Node>>,
    },
    /// A tree reduction over `axes`.
    Reduce(ReduceSpec),
    /// Inputs joined along `axis`; output chunks are the inputs' chunks.
    Concat { inputs: Vec<Arc<Node>>, axis: usize },
    /// Computed chunk by chunk from whole chunks of its inputs (rechunk, transpose, slicing,
    /// `map_blocks`, ...).
    Blocks {
        inputs: Vec<Arc<Node>>,
        kernel: Arc<dyn BlockKernel>,
    },
    /// An expression that could not be built; computing it returns the error.
    Invalid(Error),
}

/// The parameters of a reduction node.
pub(crate) struct ReduceSpec {
    pub input: Arc<Node>,
    pub kernel: Arc<dyn ReduceKernel>,
    /// Sorted, distinct.
    pub axes: Vec<usize>,
    pub split_every: usize,
}

impl Node {
    pub fn new(kind: NodeKind, grid: ChunkGrid, dtype: DType) -> Arc<Node> {
        Arc::new(Node {
            id: NodeId::next(),
            kind,
            grid,
            dtype,
        })
    }

    pub fn invalid(e: Error, dtype: DType) -> Arc<Node> {
        Node::new(NodeKind::Invalid(e), ChunkGrid::scalar(), dtype)
    }

    /// The error of an invalid node (inputs' errors are propagated when a node is built).
    pub fn error(&self) -> Option<&Error> {
        match &self.kind {
            NodeKind::Invalid(e) => Some(e),
            _ => None,
        }
    }

    /// The nodes this node reads.
    pub fn inputs(&self) -> Vec<&Arc<Node>> {
        match &self.kind {
            NodeKind::Source(_) | NodeKind::Invalid(_) => Vec::new(),
            NodeKind::Map { inputs, .. }
            | NodeKind::Concat { inputs, .. }
            | NodeKind::Blocks { inputs, .. } => inputs.iter().collect(),
            NodeKind::Reduce(r) => vec![&r.input],
        }
    }

    /// Whether the node can be evaluated tile by tile inside a fused kernel.
    pub fn is_fusable(&self) -> bool {
        matches!(self.kind, NodeKind::Source(_) | NodeKind::Map { .. })
    }

    pub fn shape(&self) -> Vec<usize> {
        self.grid.shape()
    }

    /// The node's identity, the key of memo tables.
    pub fn key(&self) -> NodeId {
        self.id
    }

    /// The same node reading `inputs` instead of its own (in the same order and number).
    pub fn with_inputs(&self, inputs: Vec<Arc<Node>>) -> Arc<Node> {
        let kind = match &self.kind {
            NodeKind::Source(s) => NodeKind::Source(s.clone()),
            NodeKind::Invalid(e) => NodeKind::Invalid(e.clone()),
            NodeKind::Map { kernel, .. } => NodeKind::Map {
                kernel: kernel.clone(),
                inputs,
            },
            NodeKind::Concat { axis, .. } => NodeKind::Concat {
                inputs,
                axis: *axis,
            },
            NodeKind::Blocks { kernel, .. } => NodeKind::Blocks {
                inputs,
                kernel: kernel.clone(),
            },
            NodeKind::Reduce(r) => NodeKind::Reduce(ReduceSpec {
                input: inputs.into_iter().next().unwrap_or_else(|| r.input.clone()),
                kernel: r.kernel.clone(),
                axes: r.axes.clone(),
                split_every: r.split_every,
            }),
        };
        Node::new(kind, self.grid.clone(), self.dtype)
    }

    /// A one-line description for plans: what the node does ("uniform", "sum over [0]",
    /// "concatenate along 1", a kernel's name).
    pub fn label(&self) -> String {
        match &self.kind {
            NodeKind::Source(s) => s.name(),
            NodeKind::Map { kernel, .. } => kernel.name(),
            NodeKind::Reduce(r) => format!(
                "{} over axes {:?} (split_every {})",
                r.kernel.name(),
                r.axes,
                r.split_every
            ),
            NodeKind::Concat { axis, .. } => format!("concatenate along {axis}"),
            NodeKind::Blocks { kernel, .. } => kernel.name(),
            NodeKind::Invalid(e) => format!("invalid: {e}"),
        }
    }

    /// Feeds what the node computes into `h` (its kind, kernel with every parameter, grid and
    /// element type; not its inputs), or returns `false` when its kernel's fingerprint does not
    /// identify it completely (a user's closure is known by its name only).
    pub fn identity(&self, h: &mut Fingerprint) -> bool {
        h.str(self.dtype.name());
        self.grid.fingerprint(h);
        match &self.kind {
            NodeKind::Source(_) | NodeKind::Invalid(_) => false,
            NodeKind::Map { kernel, .. } => {
                h.u8(1);
                kernel.fingerprint(h);
                kernel.exact()
            }
            NodeKind::Reduce(r) => {
                h.u8(2);
                r.kernel.fingerprint(h);
                h.usize(r.axes.len());
                r.axes.iter().for_each(|&a| h.usize(a));
                h.usize(r.split_every);
                true
            }
            NodeKind::Concat { axis, .. } => {
                h.u8(3);
                h.usize(*axis);
                true
            }
            NodeKind::Blocks { kernel, .. } => {
                h.u8(4);
                kernel.fingerprint(h);
                kernel.exact()
            }
        }
    }
}

/// What a block kernel over a source lets the source do instead (see the source-pushdown
/// pass).
pub(crate) enum Pushdown {
    /// The kernel only cuts its input into other chunks (a rechunk): the source can be cut
    /// that way itself.
    Regrid,
    /// The kernel selects a box (a slice with unit steps): the source can read that box only.
    Window(Window),
    /// The kernel permutes the axes (output axis `j` is input axis `perm[j]`, a transpose):
    /// the source can make its values in that order.
    Permute(Vec<usize>),
}

/// How a fused region reads an input through a block kernel ([`BlockKernel::read_through`]).
pub(crate) enum Through {
    /// The input chunk broadcast to the region's chunk (NumPy rules).
    Broadcast,
    /// The input chunk with its axes permuted: output axis `j` is input axis `perm[j]`.
    Permute(Vec<usize>),
}

/// An element-wise function applied to tiles.
pub(crate) trait MapKernel: Send + Sync {
    fn name(&self) -> String;
    /// Feeds the function's identity and the scalars it captures into `h`. The default feeds
    /// the name (a user closure is known by its name only).
    fn fingerprint(&self, h: &mut Fingerprint) {
        h.str(&self.name());
    }
    /// Whether [`MapKernel::fingerprint`] identifies the function completely, so that two
    /// kernels with the same fingerprint compute the same values (true for ndtask's own
    /// functions; the default, false, for a user's closure).
    fn exact(&self) -> bool {
        false
    }
    /// Computes `n` output values from `n` values of each input.
    fn apply(&self, inputs: &[&Buf], out: &mut Buf, n: usize) -> Result<()>;
    /// What the kernel computes when it is one of the four arithmetic operators, so the
    /// fusion pass can compile it together with its neighbours.
    fn arith(&self) -> Option<ArithView> {
        None
    }
}

/// Computes one output chunk from whole input chunks.
pub(crate) trait BlockKernel: Send + Sync {
    /// Short name for plans ("rechunk", "transpose", ...).
    fn name(&self) -> String;
    /// The input chunks output block `block` reads: (input number, linear block number in that
    /// input's grid), in the order `run` receives them.
    fn deps(&self, block: &[usize]) -> Vec<(usize, usize)>;
    /// Computes output block `block`.
    fn run(&self, block: &[usize], inputs: &[&Chunk]) -> Result<Chunk>;
    /// Whether output chunks must have the grid's chunk shape (checked after every run).
    fn fixed_shape(&self) -> bool {
        true
    }
    /// Names output block `block` for error messages.
    fn describe_block(&self, block: &[usize]) -> String {
        format!("{block:?}")
    }
    /// Feeds every parameter that changes the result into `h` (see
    /// [`ndtask_core::Op::fingerprint`]); the output grid and the element type are fed by the
    /// op. The default feeds the name.
    fn fingerprint(&self, h: &mut Fingerprint) {
        h.str(&self.name());
    }
    /// Whether [`BlockKernel::fingerprint`] (with the output grid and element type) identifies
    /// the kernel completely (as [`MapKernel::exact`]; default false).
    fn exact(&self) -> bool {
        false
    }
    /// What a source read by this kernel can do instead of it (default: nothing).
    fn pushdown(&self) -> Option<Pushdown> {
        None
    }
    /// Whether a fused region can read this kernel's one input through it, tile by tile,
    /// instead of reading a materialised output chunk: when the kernel only broadcasts its
    /// input or permutes its axes, and `deps` names the one input block each output block
    /// reads (default: no).
    fn read_through(&self) -> Option<Through> {
        None
    }
    /// The rank that must run block `block` (see [`ndtask_core::Op::block_home`]; default:
    /// any).
    fn home(&self, block: &[usize]) -> Option<usize> {
        let _ = block;
        None
    }
}
