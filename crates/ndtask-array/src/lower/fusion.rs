//! Fusion: element-wise chains and the sources they read become one kernel per chunk.
//!
//! The pass partitions the fusable nodes (sources and element-wise maps) of a plan into
//! *regions*. A node joins the region of its consumers when all of them are maps of one region
//! and it is not an output; otherwise it roots a region of its own. A region becomes one
//! [`Program`] (see `exec::program`), which makes one pass over the data per chunk. A node read
//! twice inside a region (`x * x + x`) is one step. A region whose only consumer is a
//! reduction is *streamed*: the reduction folds its tiles directly and the chunk is never
//! materialised. A region read by several reductions and nothing else is *shared*: one task
//! per chunk folds its tiles into all their partial states in one pass. Switched off, every
//! fusable node is a region of its own (materialised), which is how a plan runs unfused.

use crate::exec::program::{Program, Step};
use crate::lower::physical::{Pass, PhysicalPlan, Region, Role};
use crate::plan::passes::Enabled;
use crate::plan::NodeId;
use crate::plan::{BlockKernel, Node, NodeKind, Through};
use ndtask_core::{DType, Result};
use std::collections::HashMap;
use std::sync::Arc;

/// The fusion pass.
pub(crate) struct Fusion;

impl Pass for Fusion {
    fn name(&self) -> &'static str {
        "fusion"
    }
    fn always_runs(&self) -> bool {
        true
    }
    fn run(&self, plan: &mut PhysicalPlan, enabled: &Enabled) -> Result<()> {
        let fuse = enabled.runs(self.name());
        plan.role = assign_regions(&plan.order, &plan.consumers, &plan.outputs, fuse);
        for n in &plan.order {
            if matches!(
                plan.role.get(&n.key()),
                Some(Role::Materialized | Role::Streamed | Role::Shared)
            ) {
                let region = build_program(n, &plan.role);
                plan.regions.insert(n.key(), region);
            }
        }
        Ok(())
    }
}

/// Assigns every fusable node its role. `order` is a post-order (inputs before consumers).
/// Without `fuse`, every fusable node is materialised on its own.
pub(crate) fn assign_regions(
    order: &[Arc<Node>],
    consumers: &HashMap<NodeId, Vec<Arc<Node>>>,
    outputs: &[Arc<Node>],
    fuse: bool,
) -> HashMap<NodeId, Role> {
    let mut role: HashMap<NodeId, Role> = HashMap::new();
    let root_of = |role: &HashMap<NodeId, Role>, n: &Arc<Node>| match role.get(&n.key()) {
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
        // Several reductions of the node, and nothing else, fold it in one pass.
        let reduced = |c: &Arc<Node>| matches!(&c.kind, NodeKind::Reduce(spec) if Arc::ptr_eq(&spec.input, n));
        let r = match (is_output || !fuse, shared_root, cons) {
            (false, Some(root), _) => Role::Member(root),
            (false, None, [c]) if matches!(c.kind, NodeKind::Reduce(_)) => Role::Streamed,
            (false, None, [c]) if concat_into_reduce(c) => Role::Streamed,
            (false, None, [_, _, ..]) if cons.iter().all(reduced) => Role::Shared,
            _ => Role::Materialized,
        };
        role.insert(n.key(), r);
    }
    role
}

/// Builds the region rooted at `root`: its program, the nodes its leaves read, and what it
/// reads them through.
pub(crate) fn build_program(root: &Arc<Node>, role: &HashMap<NodeId, Role>) -> Region {
    let mut b = Builder {
        root: root.key(),
        role,
        steps: Vec::new(),
        dtypes: Vec::new(),
        memo: HashMap::new(),
        leaves: Vec::new(),
        through: Vec::new(),
    };
    b.visit(root);
    Region {
        program: Program::from_steps(b.steps, b.dtypes),
        leaves: b.leaves,
        through: b.through,
    }
}

struct Builder<'a> {
    root: NodeId,
    role: &'a HashMap<NodeId, Role>,
    steps: Vec<Step>,
    dtypes: Vec<DType>,
    memo: HashMap<NodeId, usize>,
    leaves: Vec<Arc<Node>>,
    through: Vec<Option<Arc<dyn BlockKernel>>>,
}

impl Builder<'_> {
    /// Reads `n`'s chunks as they are.
    fn leaf(&mut self, n: &Arc<Node>) -> Step {
        self.leaves.push(n.clone());
        self.through.push(None);
        Step::Leaf(self.leaves.len() - 1)
    }

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
            // A broadcast or a transpose is read through: the region broadcasts or gathers
            // its input tile by tile instead of reading a materialised output chunk.
            NodeKind::Blocks { kernel, inputs } if inputs.len() == 1 => {
                match kernel.read_through() {
                    Some(how) => {
                        self.leaves.push(inputs[0].clone());
                        self.through.push(Some(kernel.clone()));
                        match how {
                            Through::Broadcast => Step::Leaf(self.leaves.len() - 1),
                            Through::Permute(perm) => Step::Permuted(self.leaves.len() - 1, perm),
                        }
                    }
                    None => self.leaf(n),
                }
            }
            _ => self.leaf(n),
        };
        self.steps.push(step);
        self.dtypes.push(n.dtype);
        let i = self.steps.len() - 1;
        self.memo.insert(n.key(), i);
        i
    }
}
