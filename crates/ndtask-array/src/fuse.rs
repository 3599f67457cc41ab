//! Optimizer pass: fuse element-wise chains and the sources they read into one kernel per chunk.
//!
//! The pass partitions the fusable nodes (sources and element-wise maps) of a plan into
//! *regions*. A node joins the region of its consumers when all of them are maps of one region
//! and it is not an output; otherwise it roots a region of its own. A region becomes one
//! [`Program`]: a list of steps evaluated tile by tile ([`TILE`] elements at a time), each step
//! reading the tiles of earlier steps, so the whole chain makes one pass over the data with no
//! temporary array per operator. A node read twice inside a region (`x * x + x`) is one step.
//! A region whose only consumer is a reduction is *streamed*: the reduction folds its tiles
//! directly and the chunk is never materialised.

use crate::plan::{MapKernel, Node, NodeKind, SourceKernel, TileSource};
use ndtask_core::{Buf, Chunk, ChunkGrid, DType, Error, Result, TILE};
use std::collections::HashMap;
use std::sync::Arc;

/// One step of a fused kernel; its tile is register `i` for step `i`.
pub(crate) enum Step {
    /// Generate the tile from a source.
    Source(Arc<dyn SourceKernel>),
    /// Copy the tile from input chunk `k` (the result of another task).
    Leaf(usize),
    /// Apply a kernel to the tiles of earlier steps.
    Map(Arc<dyn MapKernel>, Vec<usize>),
}

/// A fused per-chunk kernel: steps in dependency order; the last step is the result.
pub(crate) struct Program {
    steps: Vec<Step>,
    dtypes: Vec<DType>,
    /// The tile register each step writes. A register is reused once the value in it has been
    /// read for the last time (and only for the same element type), so a long chain keeps a few
    /// tiles in L1 cache instead of one per operator.
    slots: Vec<usize>,
}

/// Assigns registers: step `i` gets a free register of its type whose value is dead, never one
/// of its own inputs.
fn assign_slots(steps: &[Step], dtypes: &[DType]) -> Vec<usize> {
    let n = steps.len();
    let mut last_use: Vec<usize> = (0..n).collect();
    for (i, s) in steps.iter().enumerate() {
        if let Step::Map(_, args) = s {
            args.iter().for_each(|&a| last_use[a] = last_use[a].max(i));
        }
    }
    if let Some(l) = last_use.last_mut() {
        *l = usize::MAX; // the result is read by the sink after the last step
    }
    let mut slot_types: Vec<DType> = Vec::new();
    let mut busy_until: Vec<usize> = Vec::new();
    let mut slots = Vec::with_capacity(n);
    for i in 0..n {
        let free = (0..slot_types.len()).find(|&r| slot_types[r] == dtypes[i] && busy_until[r] < i);
        let r = free.unwrap_or_else(|| {
            slot_types.push(dtypes[i]);
            busy_until.push(0);
            slot_types.len() - 1
        });
        busy_until[r] = last_use[i];
        slots.push(r);
    }
    slots
}

impl Program {
    /// A program that just reads its one input chunk.
    pub fn leaf(dtype: DType) -> Self {
        Self::new(vec![Step::Leaf(0)], vec![dtype])
    }

    fn new(steps: Vec<Step>, dtypes: Vec<DType>) -> Self {
        let slots = assign_slots(&steps, &dtypes);
        Program {
            steps,
            dtypes,
            slots,
        }
    }

    /// Whether the program only reads its input chunk.
    pub fn is_leaf(&self) -> bool {
        matches!(self.steps.as_slice(), [Step::Leaf(_)])
    }

    /// "fused[uniform, add-scalar, multiply]" (leaf reads are not listed).
    pub fn name(&self) -> String {
        let names: Vec<String> = self
            .steps
            .iter()
            .filter_map(|s| match s {
                Step::Source(k) => Some(k.name()),
                Step::Map(k, _) => Some(k.name()),
                Step::Leaf(_) => None,
            })
            .collect();
        format!("fused[{}]", names.join(", "))
    }

    fn out_dtype(&self) -> DType {
        self.dtypes[self.dtypes.len() - 1]
    }

    /// Streams the chunk at `block` through the program, handing each result tile to `sink`.
    pub fn for_each_tile(
        &self,
        grid: &ChunkGrid,
        block: &[usize],
        leaves: &[&Chunk],
        sink: &mut dyn FnMut(&Buf, usize) -> Result<()>,
    ) -> Result<()> {
        let len: usize = grid.chunk_shape(block).iter().product();
        let mut cursors: Vec<Option<Box<dyn TileSource + '_>>> = self
            .steps
            .iter()
            .map(|s| match s {
                Step::Source(k) => k.open(grid, block).map(Some),
                _ => Ok(None),
            })
            .collect::<Result<_>>()?;
        let nregs = self.slots.iter().max().map_or(0, |m| m + 1);
        let mut regs: Vec<Buf> = (0..nregs)
            .map(|r| {
                let i = self.slots.iter().position(|&s| s == r).unwrap_or(0);
                Buf::with_capacity(self.dtypes[i], TILE.min(len))
            })
            .collect();
        let last = self.slots[self.steps.len() - 1];
        let mut off = 0;
        while off < len {
            let n = TILE.min(len - off);
            for (i, step) in self.steps.iter().enumerate() {
                // Take the output register out, so the inputs (other registers) can be borrowed.
                let slot = self.slots[i];
                let mut out = std::mem::replace(&mut regs[slot], Buf::Bool(Vec::new()));
                let out = &mut out;
                let result = match step {
                    Step::Source(_) => match &mut cursors[i] {
                        Some(c) => {
                            c.fill(out, n);
                            Ok(())
                        }
                        None => Err(Error::internal("source step without a cursor")),
                    },
                    Step::Leaf(k) => match leaves.get(*k) {
                        Some(chunk) => out.load_from(chunk, off, n),
                        None => Err(Error::internal(format!("missing input chunk {k}"))),
                    },
                    Step::Map(kernel, args) => {
                        // Kernels take at most three inputs; a fixed array avoids an allocation per tile.
                        let ins: [&Buf; 3] = std::array::from_fn(|j| {
                            &regs[self.slots[args.get(j).copied().unwrap_or(0)]]
                        });
                        kernel.apply(&ins[..args.len().min(3)], out, n)
                    }
                };
                regs[slot] = std::mem::replace(out, Buf::Bool(Vec::new()));
                result?;
            }
            sink(&regs[last], n)?;
            off += n;
        }
        Ok(())
    }

    /// Computes the whole chunk at `block`.
    pub fn materialize(
        &self,
        grid: &ChunkGrid,
        block: &[usize],
        leaves: &[&Chunk],
    ) -> Result<Chunk> {
        let shape = grid.chunk_shape(block);
        let mut acc = Buf::with_capacity(self.out_dtype(), shape.iter().product());
        self.for_each_tile(grid, block, leaves, &mut |t, n| acc.extend_from(t, n))?;
        acc.into_chunk(&shape)
    }
}

/// How the pass classified a fusable node.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Role {
    /// Evaluated inside the region rooted at the given node.
    Member(*const Node),
    /// Roots a region whose chunks are materialised as tasks.
    Materialized,
    /// Roots a region that its one consumer, a reduction (directly or through a concatenation
    /// that only the reduction reads), streams through.
    Streamed,
}

/// Assigns every fusable node its role. `order` is a post-order (inputs before consumers).
pub(crate) fn assign_regions(
    order: &[Arc<Node>],
    consumers: &HashMap<*const Node, Vec<Arc<Node>>>,
    outputs: &[Arc<Node>],
) -> HashMap<*const Node, Role> {
    let mut role: HashMap<*const Node, Role> = HashMap::new();
    let root_of = |role: &HashMap<*const Node, Role>, n: &Arc<Node>| match role.get(&n.key()) {
        Some(Role::Member(r)) => Some(*r),
        Some(_) => Some(n.key()),
        None => None,
    };
    for n in order.iter().rev().filter(|n| n.is_fusable()) {
        let cons = consumers.get(&n.key()).map_or(&[][..], |c| c.as_slice());
        let is_output = outputs.iter().any(|o| Arc::ptr_eq(o, n));
        let shared_root = cons
            .iter()
            .map(|c| {
                matches!(c.kind, NodeKind::Map { .. })
                    .then(|| root_of(&role, c))
                    .flatten()
            })
            .reduce(|a, b| if a == b { a } else { None })
            .flatten();
        // A concatenation read only by a reduction is streamed through: each of its chunks is
        // folded straight from the input region that makes it (an input the concatenation
        // repeats is folded once per chunk where the reduction allows: see `lower_reduce`).
        let concat_into_reduce = |c: &Arc<Node>| {
            matches!(c.kind, NodeKind::Concat { .. })
                && !outputs.iter().any(|o| Arc::ptr_eq(o, c))
                && matches!(consumers.get(&c.key()).map(|v| v.as_slice()), Some([r]) if matches!(r.kind, NodeKind::Reduce(_)))
        };
        let r = match (is_output, shared_root, cons) {
            (false, Some(root), _) => Role::Member(root),
            (false, None, [c]) if matches!(c.kind, NodeKind::Reduce(_)) => Role::Streamed,
            (false, None, [c]) if concat_into_reduce(c) => Role::Streamed,
            _ => Role::Materialized,
        };
        role.insert(n.key(), r);
    }
    role
}

/// Builds the program of the region rooted at `root`; returns it with the nodes its leaves read.
pub(crate) fn build_program(
    root: &Arc<Node>,
    role: &HashMap<*const Node, Role>,
) -> (Program, Vec<Arc<Node>>) {
    let mut b = Builder {
        root: root.key(),
        role,
        steps: Vec::new(),
        dtypes: Vec::new(),
        memo: HashMap::new(),
        leaves: Vec::new(),
    };
    b.visit(root);
    (Program::new(b.steps, b.dtypes), b.leaves)
}

struct Builder<'a> {
    root: *const Node,
    role: &'a HashMap<*const Node, Role>,
    steps: Vec<Step>,
    dtypes: Vec<DType>,
    memo: HashMap<*const Node, usize>,
    leaves: Vec<Arc<Node>>,
}

impl Builder<'_> {
    fn visit(&mut self, n: &Arc<Node>) -> usize {
        if let Some(&i) = self.memo.get(&n.key()) {
            return i;
        }
        let inside =
            n.key() == self.root || self.role.get(&n.key()) == Some(&Role::Member(self.root));
        let step = match &n.kind {
            NodeKind::Source(k) if inside => Step::Source(k.clone()),
            NodeKind::Map { kernel, inputs } if inside => {
                let args = inputs.iter().map(|i| self.visit(i)).collect();
                Step::Map(kernel.clone(), args)
            }
            _ => {
                self.leaves.push(n.clone());
                Step::Leaf(self.leaves.len() - 1)
            }
        };
        self.steps.push(step);
        self.dtypes.push(n.dtype);
        let i = self.steps.len() - 1;
        self.memo.insert(n.key(), i);
        i
    }
}
