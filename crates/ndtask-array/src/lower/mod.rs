//! Lowering: the logical plan becomes a chunk task graph. One task per output chunk of every
//! materialised node; reductions expand into partial, combine and finalise layers with a fixed
//! fan-in; concatenation aliases its inputs' tasks. Nodes are visited in a deterministic
//! post-order, so every process that builds the same plan gets the same graph (task ids, ops,
//! edges), which the MPI scheduler checks.

pub(crate) mod arith_trees;
pub mod explain;
pub(crate) mod fusion;
pub(crate) mod physical;
pub(crate) mod planner;
mod reduction_tree;

use crate::exec::ops::{BlocksOp, FusedOp};
use crate::plan::passes::Enabled;
use crate::plan::NodeId;
use crate::plan::{Node, NodeKind};
use ndtask_core::{ravel, unravel, ChunkGrid, Error, Op, Result, TaskGraph, TaskId};
use physical::{PhysicalPlan, Region, Role};
use std::collections::HashMap;
use std::sync::Arc;

/// A lowered plan: the graph and, per requested output, its tasks in C order of its chunk grid.
pub(crate) struct Lowered {
    pub graph: TaskGraph,
    pub outputs: Vec<Arc<Vec<TaskId>>>,
}

/// The two planning stages for `outputs`: the logical rewrites, then the physical plan, with
/// the passes `enabled` allows.
///
/// # Errors
/// The error of an invalid expression; [`Error::Internal`] if a pass broke the plan.
pub(crate) fn plan(outputs: &[Arc<Node>], enabled: &Enabled) -> Result<PhysicalPlan> {
    planner::plan(crate::optimize::optimize(outputs, enabled)?, enabled)
}

/// The names of every pass of both stages, in the order they run.
pub(crate) fn pass_names() -> Vec<&'static str> {
    let mut names = crate::optimize::pass_names();
    names.extend(planner::pass_names());
    names
}

/// Lowers a physical plan into one graph (shared inputs are lowered once).
pub(crate) fn lower(plan: &PhysicalPlan) -> Result<Lowered> {
    let mut l = Lowerer {
        graph: TaskGraph::new(),
        tasks: HashMap::new(),
        shared: HashMap::new(),
        plan,
    };
    for n in &plan.order {
        l.lower_node(n)?;
    }
    let outs = plan
        .outputs
        .iter()
        .map(|o| {
            l.tasks
                .get(&o.key())
                .cloned()
                .ok_or_else(|| Error::internal("output node was not lowered"))
        })
        .collect::<Result<Vec<_>>>()?;
    l.graph
        .set_outputs(outs.iter().flat_map(|t| t.iter().copied()).collect());
    // Drop what no output reads (chunks a slice does not touch).
    let (graph, map) = l.graph.cull();
    if cfg!(debug_assertions) {
        graph.check()?;
    }
    let outputs = outs
        .iter()
        .map(|t| {
            t.iter()
                .map(|&o| {
                    map[o as usize].ok_or_else(|| Error::internal("an output task was culled"))
                })
                .collect::<Result<Vec<_>>>()
                .map(Arc::new)
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Lowered { graph, outputs })
}

struct Lowerer<'p> {
    graph: TaskGraph,
    tasks: HashMap<NodeId, Arc<Vec<TaskId>>>,
    /// The partial tasks of each input that several reductions fold in one pass.
    shared: HashMap<NodeId, reduction_tree::Shared>,
    plan: &'p PhysicalPlan,
}

impl Lowerer<'_> {
    fn lower_node(&mut self, n: &Arc<Node>) -> Result<()> {
        let tasks = match &n.kind {
            NodeKind::Source(_) | NodeKind::Map { .. } => {
                if self.plan.role_of(n) != Some(Role::Materialized) {
                    return Ok(());
                }
                self.region_tasks(n, |region| {
                    Arc::new(FusedOp {
                        program: region.program.clone(),
                        grid: n.grid.clone(),
                    })
                })?
            }
            NodeKind::Concat { inputs, .. }
                if inputs
                    .iter()
                    .any(|i| self.plan.role_of(i) == Some(Role::Streamed)) =>
            {
                // Streamed through by the reduction that reads it (see `fuse::assign_regions`).
                return Ok(());
            }
            NodeKind::Concat { inputs, axis } => self.lower_concat(n, inputs, *axis)?,
            NodeKind::Blocks { inputs, kernel } => {
                let lists = self.leaf_tasks(inputs)?;
                let op = self.graph.add_op(Arc::new(BlocksOp {
                    kernel: kernel.clone(),
                    grid: n.grid.clone(),
                    dtype: n.dtype,
                }));
                (0..n.grid.num_chunks())
                    .map(|b| {
                        let deps = kernel
                            .deps(&n.grid.unravel(b))
                            .into_iter()
                            .map(|(k, lb)| task_of(&lists, k, lb))
                            .collect::<Result<Vec<_>>>()?;
                        self.graph.add_task(op, b, &deps)
                    })
                    .collect::<Result<Vec<_>>>()?
            }
            NodeKind::Reduce(spec) => self.lower_reduce(n, spec)?,
            NodeKind::Invalid(e) => return Err(e.clone()),
        };
        self.tasks.insert(n.key(), Arc::new(tasks));
        Ok(())
    }

    /// One task per chunk of the fused region rooted at `n`, of the op `make` makes from the
    /// region, each reading the leaf chunks its block reads.
    fn region_tasks(
        &mut self,
        n: &Arc<Node>,
        make: impl FnOnce(&Region) -> Arc<dyn Op>,
    ) -> Result<Vec<TaskId>> {
        let region = self.plan.region(n)?;
        check_leaves(n, region)?;
        let leaf_tasks = self.leaf_tasks(&region.leaves)?;
        let op = self.graph.add_op(make(region));
        (0..n.grid.num_chunks())
            .map(|b| {
                let deps = deps_for(&n.grid, region, &leaf_tasks, b)?;
                self.graph.add_task(op, b, &deps)
            })
            .collect()
    }

    fn leaf_tasks(&self, leaves: &[Arc<Node>]) -> Result<Vec<Arc<Vec<TaskId>>>> {
        leaves
            .iter()
            .map(|l| {
                self.tasks
                    .get(&l.key())
                    .cloned()
                    .ok_or_else(|| Error::internal("leaf lowered after its reader"))
            })
            .collect()
    }

    fn lower_concat(
        &mut self,
        n: &Arc<Node>,
        inputs: &[Arc<Node>],
        axis: usize,
    ) -> Result<Vec<TaskId>> {
        let lists = self.leaf_tasks(inputs)?;
        concat_route(n, inputs, axis)?
            .into_iter()
            .map(|(k, lb)| task_of(&lists, k, lb))
            .collect()
    }
}

/// For each block of a concatenation: (input number, block number in that input's grid).
fn concat_route(n: &Arc<Node>, inputs: &[Arc<Node>], axis: usize) -> Result<Vec<(usize, usize)>> {
    let mut along = Vec::new();
    for (k, i) in inputs.iter().enumerate() {
        along.extend((0..i.grid.nblocks()[axis]).map(|b| (k, b)));
    }
    let dims = n.grid.nblocks();
    (0..n.grid.num_chunks())
        .map(|b| {
            let mut idx = unravel(&dims, b);
            let &(k, local) = along
                .get(idx[axis])
                .ok_or_else(|| Error::internal("concatenate: a block beyond its inputs"))?;
            idx[axis] = local;
            Ok((k, ravel(&inputs[k].grid.nblocks(), &idx)))
        })
        .collect()
}

/// The task computing block `b` of input `k`.
fn task_of(lists: &[Arc<Vec<TaskId>>], k: usize, b: usize) -> Result<TaskId> {
    lists
        .get(k)
        .and_then(|l| l.get(b))
        .copied()
        .ok_or_else(|| Error::internal(format!("no task for block {b} of input {k}")))
}

/// The tasks that block `b` of `region` (over `grid`) reads: block `b` of a leaf read as it
/// is; the block the kernel names of a leaf read through a broadcast or a transpose.
fn deps_for(
    grid: &ChunkGrid,
    region: &Region,
    leaf_tasks: &[Arc<Vec<TaskId>>],
    b: usize,
) -> Result<Vec<TaskId>> {
    (0..leaf_tasks.len())
        .map(|k| {
            let lb = match region.through.get(k) {
                Some(Some(kernel)) => match kernel.deps(&grid.unravel(b)).as_slice() {
                    [(0, lb)] => *lb,
                    other => {
                        return Err(Error::internal(format!(
                            "{} read through by a fused kernel reads {other:?}",
                            kernel.name()
                        )))
                    }
                },
                _ => b,
            };
            task_of(leaf_tasks, k, lb)
        })
        .collect()
}

/// A fused region reads block `b` of every leaf for its own block `b`, so every leaf it reads
/// as it is must have the region's chunk grid (operations align their inputs when they are
/// built; this catches one that did not, before any task runs). Leaves read through a block
/// kernel follow that kernel's block map instead.
fn check_leaves(n: &Node, region: &Region) -> Result<()> {
    let direct = region
        .leaves
        .iter()
        .zip(&region.through)
        .filter(|(_, t)| t.is_none())
        .map(|(l, _)| l);
    for l in direct {
        if l.grid != n.grid {
            return Err(Error::internal(format!(
                "an element-wise kernel of shape {:?} and chunks {} reads an input of shape \
                 {:?} and chunks {}",
                n.shape(),
                n.grid.describe(),
                l.shape(),
                l.grid.describe()
            )));
        }
    }
    Ok(())
}
