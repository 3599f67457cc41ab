//! Optimizer pass: fuse element-wise chains and the sources they read into one kernel per chunk.
//!
//! The pass partitions the fusable nodes (sources and element-wise maps) of a plan into
//! *regions*. A node joins the region of its consumers when all of them are maps of one region
//! and it is not an output; otherwise it roots a region of its own. A region becomes one
//! [`Program`]: a list of steps evaluated tile by tile ([`TILE`] elements at a time), each step
//! reading the tiles of earlier steps, so the whole chain makes one pass over the data with no
//! temporary array per operator. A node read twice inside a region (`x * x + x`) is one step.
//! A region whose only consumer is a reduction is *streamed*: the reduction folds its tiles
//! directly and the chunk is never materialised. Within a program, float arithmetic of depth
//! two (`x * x + y * y`) is compiled into one step ([`compile_trees`]), so such a tree costs one
//! loop over the tile instead of one per operator.

use crate::arith::{compile_tree, ArithInput, ArithOp, TreeLeaf, TreeShape};
use crate::plan::{MapKernel, Node, NodeKind, SourceNode};
use crate::reader::TileSource;
use ndtask_core::{Buf, Chunk, ChunkGrid, DType, Error, Fingerprint, Result, TILE};
use std::collections::HashMap;
use std::sync::Arc;

/// One step of a fused kernel; its tile is register `i` for step `i`.
#[derive(Clone)]
pub(crate) enum Step {
    /// Generate the tile from a source.
    Source(Arc<SourceNode>),
    /// Copy the tile from input chunk `k` (the result of another task).
    Leaf(usize),
    /// Apply a kernel to the tiles of earlier steps.
    Map(Arc<dyn MapKernel>, Vec<usize>),
}

/// A fused per-chunk kernel: steps in dependency order; the last step is the result.
#[derive(Clone)]
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

/// An operand of an arithmetic step, resolved to the program: a step's tile or a scalar.
enum Leg {
    Step(usize),
    Scalar(Buf),
}

/// An arithmetic step: its operator and operands.
struct ArithStep {
    op: ArithOp,
    legs: [Leg; 2],
    name: String,
}

/// A compiled tree: its kernel and the steps its input tiles come from (original numbering).
type CompiledTree = (Arc<dyn MapKernel>, Vec<usize>);

fn arith_step(step: &Step) -> Option<ArithStep> {
    let Step::Map(kernel, args) = step else {
        return None;
    };
    let view = kernel.arith()?;
    let [l, r] = view.operands;
    let leg = |o: ArithInput| match o {
        ArithInput::Input(k) => args.get(k).map(|&a| Leg::Step(a)),
        ArithInput::Scalar(b) => Some(Leg::Scalar(b)),
    };
    Some(ArithStep {
        op: view.op,
        legs: [leg(l)?, leg(r)?],
        name: kernel.name(),
    })
}

/// Compiles trees of float arithmetic of depth two into one kernel each (see `arith.rs`):
/// an arithmetic step absorbs each operand that is an arithmetic step read by it alone; the
/// tree's scalars live in the kernel and a tile it reads twice is one input. Walking from the
/// result backwards, a step that is absorbed absorbs nothing itself, so every tree has depth
/// two at most.
fn compile_trees(steps: Vec<Step>, dtypes: Vec<DType>) -> (Vec<Step>, Vec<DType>) {
    let n = steps.len();
    let views: Vec<Option<ArithStep>> = steps.iter().map(arith_step).collect();
    let mut reads = vec![0usize; n];
    for s in &steps {
        if let Step::Map(_, args) = s {
            args.iter().for_each(|&a| reads[a] += 1);
        }
    }
    if let Some(r) = reads.last_mut() {
        *r += 1; // the sink reads the result
    }
    let mut trees: Vec<Option<CompiledTree>> = vec![None; n];
    let mut absorbed = vec![false; n];
    for j in (0..n).rev() {
        let Some(root) = views[j].as_ref().filter(|_| !absorbed[j]) else {
            continue;
        };
        let kid = |leg: &Leg| match *leg {
            Leg::Step(k) if reads[k] == 1 && dtypes[k] == dtypes[j] => {
                views[k].as_ref().map(|v| (k, v))
            }
            _ => None,
        };
        let kids = [kid(&root.legs[0]), kid(&root.legs[1])];
        let shape = match kids {
            [None, None] => continue,
            [Some(_), Some(_)] => TreeShape::Both,
            [Some(_), None] => TreeShape::Left,
            [None, Some(_)] => TreeShape::Right,
        };
        let mut ops = Vec::new();
        let mut names = Vec::new();
        // The operands left to right; a kid's second operand that repeats its first is marked.
        let mut leaves = Vec::new();
        let mut inputs: Vec<usize> = Vec::new();
        let mut input = |k: usize| match inputs.iter().position(|&i| i == k) {
            Some(p) => TreeLeaf::Input(p),
            None => {
                inputs.push(k);
                TreeLeaf::Input(inputs.len() - 1)
            }
        };
        let mut leaf = |leg: &Leg| match leg {
            Leg::Step(k) => input(*k),
            Leg::Scalar(one) => TreeLeaf::Scalar(one.clone()),
        };
        for (leg, kid) in root.legs.iter().zip(kids) {
            match kid {
                Some((_, v)) => {
                    ops.push(v.op);
                    names.push(v.name.as_str());
                    let [x, y] = &v.legs;
                    let same = matches!((x, y), (Leg::Step(p), Leg::Step(q)) if p == q);
                    leaves.push(leaf(x));
                    leaves.push(if same { TreeLeaf::Partner } else { leaf(y) });
                }
                None => leaves.push(leaf(leg)),
            }
        }
        ops.push(root.op);
        let name = format!("{}({})", root.name, names.join(", "));
        if let Some(kernel) = compile_tree(dtypes[j], shape, &ops, &leaves, name) {
            kids.iter().flatten().for_each(|&(k, _)| absorbed[k] = true);
            trees[j] = Some((kernel, inputs));
        }
    }
    let mut out_steps = Vec::with_capacity(n);
    let mut out_dtypes = Vec::with_capacity(n);
    let mut at = vec![usize::MAX; n];
    for (i, (step, tree)) in steps.iter().zip(trees).enumerate() {
        if absorbed[i] {
            continue;
        }
        let step = match tree {
            Some((kernel, inputs)) => Step::Map(kernel, inputs.iter().map(|&k| at[k]).collect()),
            None => step.renumbered(&at),
        };
        out_steps.push(step);
        out_dtypes.push(dtypes[i]);
        at[i] = out_steps.len() - 1;
    }
    (out_steps, out_dtypes)
}

impl Step {
    /// The step with its inputs renumbered to their new positions.
    fn renumbered(&self, at: &[usize]) -> Step {
        match self {
            Step::Source(k) => Step::Source(k.clone()),
            Step::Leaf(k) => Step::Leaf(*k),
            Step::Map(kernel, args) => {
                Step::Map(kernel.clone(), args.iter().map(|&a| at[a]).collect())
            }
        }
    }
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

    /// The program with its arithmetic trees compiled ([`compile_trees`]).
    pub fn compiled(self) -> Self {
        let (steps, dtypes) = compile_trees(self.steps, self.dtypes);
        Self::new(steps, dtypes)
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

    /// Feeds every step (its kernel with all parameters, and what it reads) into `h`.
    pub fn fingerprint(&self, h: &mut Fingerprint) {
        h.usize(self.steps.len());
        for (step, dtype) in self.steps.iter().zip(&self.dtypes) {
            h.str(dtype.name());
            match step {
                Step::Source(k) => {
                    h.u8(0);
                    k.fingerprint(h);
                }
                Step::Leaf(k) => {
                    h.u8(1);
                    h.usize(*k);
                }
                Step::Map(k, args) => {
                    h.u8(2);
                    k.fingerprint(h);
                    h.usize(args.len());
                    args.iter().for_each(|&a| h.usize(a));
                }
            }
        }
    }

    pub fn out_dtype(&self) -> DType {
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
                        Some(c) => c.fill(out, n),
                        None => Err(Error::internal("source step without a cursor")),
                    },
                    Step::Leaf(k) => match leaves.get(*k) {
                        Some(chunk) => out.load_from(chunk, off, n),
                        None => Err(Error::internal(format!("missing input chunk {k}"))),
                    },
                    Step::Map(kernel, args) => {
                        // Kernels take at most four inputs; a fixed array avoids an allocation per tile.
                        let ins: [&Buf; 4] = std::array::from_fn(|j| {
                            &regs[self.slots[args.get(j).copied().unwrap_or(0)]]
                        });
                        kernel.apply(&ins[..args.len().min(4)], out, n)
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
        let mut acc = Buf::try_with_capacity(
            self.out_dtype(),
            shape.iter().product(),
            format_args!("a chunk of shape {shape:?}"),
        )?;
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
/// Without `fuse`, every fusable node is materialised on its own.
pub(crate) fn assign_regions(
    order: &[Arc<Node>],
    consumers: &HashMap<*const Node, Vec<Arc<Node>>>,
    outputs: &[Arc<Node>],
    fuse: bool,
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
        let r = match (is_output || !fuse, shared_root, cons) {
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
