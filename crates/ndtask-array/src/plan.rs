//! The logical plan: array-level nodes that `Array` handles point to. Building a node costs
//! O(number of axes), never O(number of chunks); no chunk data exists until lowering and a
//! scheduler run. Element-wise nodes and sources carry tile kernels, which the fusion pass
//! (`fuse.rs`) strings together into one single-pass kernel per chunk.

use crate::arith::ArithView;
use crate::reduce::ReduceKernel;
use ndtask_core::{Buf, Chunk, ChunkGrid, DType, Error, Fingerprint, Result};
use std::sync::Arc;

/// A node of the logical plan.
pub(crate) struct Node {
    pub kind: NodeKind,
    pub grid: ChunkGrid,
    pub dtype: DType,
}

/// What a node computes.
pub(crate) enum NodeKind {
    /// Chunks generated from nothing (random, full, arange, a slice of an in-memory array).
    Source(Arc<dyn SourceKernel>),
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
        Arc::new(Node { kind, grid, dtype })
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

    /// Stable identity for memo tables during one lowering.
    pub fn key(self: &Arc<Self>) -> *const Node {
        Arc::as_ptr(self)
    }
}

/// Generates the values of source chunks, tile by tile.
pub(crate) trait SourceKernel: Send + Sync {
    /// Short name for plans ("uniform", "full", ...).
    fn name(&self) -> String;
    /// Feeds every parameter that changes the values (seed, value, start and step) into `h`.
    fn fingerprint(&self, h: &mut Fingerprint);
    /// Starts generating the chunk at block index `block` of `grid`, in C order.
    fn open<'a>(&'a self, grid: &ChunkGrid, block: &[usize]) -> Result<Box<dyn TileSource + 'a>>;
    /// The same source restricted to a sub-box of its array (a slice with unit steps), if the
    /// source can generate any region directly; `None` otherwise (the slice then reads whole
    /// chunks).
    fn window(&self, window: &Window) -> Option<Arc<dyn SourceKernel>> {
        let _ = window;
        None
    }
}

/// A sub-box of a source's array, as a slice with unit steps selects it: the array's shape, the
/// first selected index of each of its axes, and for each output axis the array axis it comes
/// from (`None`: a new axis of length 1). Array axes that no output axis comes from are indexed
/// (length 1 at `start`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Window {
    pub shape: Vec<usize>,
    pub start: Vec<usize>,
    pub axes: Vec<Option<usize>>,
}

/// A cursor over one source chunk: each call fills the next `n` values.
pub(crate) trait TileSource {
    fn fill(&mut self, out: &mut Buf, n: usize);
}

/// An element-wise function applied to tiles.
pub(crate) trait MapKernel: Send + Sync {
    fn name(&self) -> String;
    /// Feeds the function's identity and the scalars it captures into `h`. The default feeds
    /// the name (a user closure is known by its name only).
    fn fingerprint(&self, h: &mut Fingerprint) {
        h.str(&self.name());
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
}

/// Runs `$e` with the type alias `$T` bound to the Rust type of the run-time dtype `$d`.
macro_rules! dispatch_dtype {
    ($d:expr, $T:ident => $e:expr) => {
        match $d {
            ndtask_core::DType::F64 => {
                type $T = f64;
                $e
            }
            ndtask_core::DType::F32 => {
                type $T = f32;
                $e
            }
            ndtask_core::DType::I64 => {
                type $T = i64;
                $e
            }
            ndtask_core::DType::Bool => {
                type $T = bool;
                $e
            }
        }
    };
}
pub(crate) use dispatch_dtype;

/// The error for a tile of the wrong type reaching a kernel (a bug: types are checked when the
/// expression is built).
pub(crate) fn tile_type_error(kernel: &str, want: DType, got: DType) -> Error {
    Error::internal(format!("{kernel}: expected a {want} tile, got {got}"))
}
