//! Lowering a reduction: a partial per input chunk (folding a fused region's tiles, or a
//! chunk), then combine layers of a fixed fan-in until one block per output chunk is left,
//! finalised on the last layer.

use super::{check_leaves, concat_route, deps_for, Lowerer};
use crate::exec::ops::{CombineOp, EmptyReduceOp, PartialOp, SharedPartialOp};
use crate::exec::program::Program;
use crate::lower::physical::{Region, Role};
use crate::plan::NodeId;
use crate::plan::{Node, NodeKind, ReduceSpec};
use ndtask_core::{ravel, unravel, ChunkGrid, Error, Result, TaskId};
use std::sync::Arc;

/// Where a reduction's partials read their values from: a program over a grid, and the tasks of
/// the chunks the program's leaves read.
struct PartialInput {
    program: Program,
    grid: ChunkGrid,
    region: Region,
    leaf_tasks: Vec<Arc<Vec<TaskId>>>,
}

impl Lowerer<'_> {
    pub(super) fn lower_reduce(&mut self, n: &Arc<Node>, spec: &ReduceSpec) -> Result<Vec<TaskId>> {
        let input = &spec.input;
        if self.plan.role_of(input) == Some(Role::Shared) && input.grid.num_chunks() > 0 {
            let (level, pick) = self.shared_partials(input, n)?;
            return self.reduce_tree(spec, &n.grid, level, Some(pick));
        }
        let source = |l: &Self, n: &Arc<Node>| -> Result<PartialInput> {
            let region = match l.plan.role_of(n) {
                Some(Role::Streamed | Role::Shared) => l.plan.region(n)?.clone(),
                _ => Region {
                    program: Program::leaf(n.dtype),
                    leaves: vec![n.clone()],
                    through: vec![None],
                },
            };
            check_leaves(n, &region)?;
            Ok(PartialInput {
                program: region.program.clone(),
                grid: n.grid.clone(),
                leaf_tasks: l.leaf_tasks(&region.leaves)?,
                region,
            })
        };
        // Through a streamed concatenation, each block routes to one of its distinct inputs
        // (`concatenate([x, x])` reads x's chunks twice: one source serves both).
        let (sources, route) = match &input.kind {
            NodeKind::Concat { inputs, axis } if !self.tasks.contains_key(&input.key()) => {
                let mut distinct: Vec<&Arc<Node>> = Vec::new();
                let source_of: Vec<usize> = inputs
                    .iter()
                    .map(|i| match distinct.iter().position(|d| Arc::ptr_eq(d, i)) {
                        Some(k) => k,
                        None => {
                            distinct.push(i);
                            distinct.len() - 1
                        }
                    })
                    .collect();
                let sources = distinct
                    .iter()
                    .map(|i| source(self, i))
                    .collect::<Result<Vec<_>>>()?;
                let route: Vec<(usize, usize)> = concat_route(input, inputs, *axis)?
                    .into_iter()
                    .map(|(k, local)| (source_of[k], local))
                    .collect();
                (sources, Some(route))
            }
            _ => (vec![source(self, input)?], None),
        };
        let in_grid = input.grid.clone();
        let out_grid = n.grid.clone();
        let axes = spec.axes.clone();
        let kernel = spec.kernel.clone();
        let dims = in_grid.nblocks();

        if in_grid.num_chunks() == 0 {
            let op = self.graph.add_op(Arc::new(EmptyReduceOp {
                kernel,
                out_grid: out_grid.clone(),
            }));
            return (0..out_grid.num_chunks())
                .map(|b| self.graph.add_task(op, b, &[]))
                .collect();
        }
        let needs_combine = axes.iter().any(|&a| dims[a] > 1);
        // Where each block's values come from: (source, block number in its grid). Blocks that
        // read the same chunk of the same source share one partial task when the state does
        // not record positions and is merged (not finalised) by the tree: the combine then
        // reads that partial once per block.
        let origin: Vec<(usize, usize)> = (0..dims.iter().product())
            .map(|b| route.as_ref().map_or((0, b), |r| r[b]))
            .collect();
        let deps: Vec<Vec<TaskId>> = origin
            .iter()
            .map(|&(k, local)| match sources.get(k) {
                Some(s) => deps_for(&s.grid, &s.region, &s.leaf_tasks, local),
                None => Err(Error::internal(format!(
                    "a reduction block reads source {k}"
                ))),
            })
            .collect::<Result<_>>()?;
        // Only a concatenation that repeats an input routes two blocks to one chunk.
        let share = needs_combine && !kernel.positional() && route.is_some();
        let source_chunks: Vec<usize> = sources.iter().map(|s| s.grid.num_chunks()).collect();
        let partial = PartialOp {
            sources: sources.into_iter().map(|s| (s.program, s.grid)).collect(),
            route,
            all: axes.len() == in_grid.ndim(),
            grid: in_grid.clone(),
            kernel: kernel.clone(),
            axes: axes.clone(),
            finalize: (!needs_combine).then(|| out_grid.clone()),
        };
        let op = self.graph.add_op(Arc::new(partial));
        // The partial task of each source chunk, once made (only needed when sharing).
        let mut made: Vec<Vec<Option<TaskId>>> = if share {
            source_chunks.iter().map(|&n| vec![None; n]).collect()
        } else {
            Vec::new()
        };
        let mut level = Vec::with_capacity(deps.len());
        for (b, d) in deps.iter().enumerate() {
            let (k, local) = origin[b];
            let slot = made.get_mut(k).and_then(|m| m.get_mut(local));
            let t = match slot {
                Some(Some(t)) => *t,
                slot => {
                    let t = self.graph.add_task(op, b, d)?;
                    if let Some(s) = slot {
                        *s = Some(t);
                    }
                    t
                }
            };
            level.push(t);
        }

        self.reduce_tree(spec, &out_grid, level, None)
    }

    /// The combine layers of a reduction over the partial states `level` (one per input
    /// block), down to one block per output chunk, finalised on the last layer. With `pick`,
    /// the states are parts of [`SharedPartialOp`] results, which the first layer picks (a
    /// layer is then made even where no states need merging, to pick and finalise).
    fn reduce_tree(
        &mut self,
        spec: &ReduceSpec,
        out_grid: &ChunkGrid,
        mut level: Vec<TaskId>,
        pick: Option<(usize, usize)>,
    ) -> Result<Vec<TaskId>> {
        let in_grid = &spec.input.grid;
        let axes = &spec.axes;
        let mut dims = in_grid.nblocks();
        let mut depth = 0;
        while axes.iter().any(|&a| dims[a] > 1) || (depth == 0 && pick.is_some()) {
            let f = fan_in(
                spec.split_every,
                axes.iter().filter(|&&a| dims[a] > 1).count(),
            );
            let new_dims: Vec<usize> = dims
                .iter()
                .enumerate()
                .map(|(i, &d)| if axes.contains(&i) { d.div_ceil(f) } else { d })
                .collect();
            let last = axes.iter().all(|&a| new_dims[a] == 1);
            depth += 1;
            let combine = CombineOp {
                kernel: spec.kernel.clone(),
                depth,
                finalize: last.then(|| out_grid.clone()),
                state: (in_grid.clone(), axes.clone(), new_dims.clone()),
                pick: pick.filter(|_| depth == 1),
            };
            let op = self.graph.add_op(Arc::new(combine));
            let mut next = Vec::with_capacity(new_dims.iter().product());
            for j in 0..new_dims.iter().product() {
                let jidx = unravel(&new_dims, j);
                let ranges: Vec<(usize, usize)> = jidx
                    .iter()
                    .enumerate()
                    .map(|(i, &x)| {
                        if axes.contains(&i) {
                            (x * f, (x + 1).saturating_mul(f).min(dims[i]))
                        } else {
                            (x, x + 1)
                        }
                    })
                    .collect();
                let children = block_range(&ranges)
                    .map(|idx| {
                        level.get(ravel(&dims, &idx)).copied().ok_or_else(|| {
                            Error::internal(format!("reduction tree: no block {idx:?} of {dims:?}"))
                        })
                    })
                    .collect::<Result<Vec<TaskId>>>()?;
                next.push(self.graph.add_task(op, j, &children)?);
            }
            level = next;
            dims = new_dims;
        }
        Ok(level)
    }

    /// The partial tasks of a [`Role::Shared`] input (made on the first call, for all its
    /// readers), and the parts of their results that belong to `reader`.
    fn shared_partials(
        &mut self,
        input: &Arc<Node>,
        reader: &Arc<Node>,
    ) -> Result<(Vec<TaskId>, (usize, usize))> {
        if !self.shared.contains_key(&input.key()) {
            let readers: Vec<Arc<Node>> = self
                .plan
                .consumers
                .get(&input.key())
                .cloned()
                .unwrap_or_default();
            let mut reductions = Vec::with_capacity(readers.len());
            let mut parts = Vec::with_capacity(readers.len());
            let mut first = 0;
            for r in &readers {
                let NodeKind::Reduce(spec) = &r.kind else {
                    return Err(Error::internal(format!(
                        "a shared reduction input is read by {}",
                        r.label()
                    )));
                };
                let n = spec.kernel.state_layout(&[]).parts.len();
                parts.push((first, n));
                first += n;
                reductions.push((spec.kernel.clone(), spec.axes.clone()));
            }
            let tasks = self.region_tasks(input, |region| {
                Arc::new(SharedPartialOp {
                    program: region.program.clone(),
                    grid: input.grid.clone(),
                    reductions,
                })
            })?;
            let readers = readers.iter().map(|r| r.key()).collect();
            self.shared.insert(
                input.key(),
                Shared {
                    tasks,
                    readers,
                    parts,
                },
            );
        }
        let s = self
            .shared
            .get(&input.key())
            .ok_or_else(|| Error::internal("a shared partial layer was not made"))?;
        let j = s
            .readers
            .iter()
            .position(|&r| r == reader.key())
            .ok_or_else(|| Error::internal("a reduction is not among its input's readers"))?;
        Ok((s.tasks.clone(), s.parts[j]))
    }
}

/// The partial tasks that several reductions of one input share ([`SharedPartialOp`]).
pub(super) struct Shared {
    tasks: Vec<TaskId>,
    /// The reductions, in the order of their states in the tasks' results.
    readers: Vec<NodeId>,
    /// Per reduction, its first part in the results and how many parts its state has.
    parts: Vec<(usize, usize)>,
}

/// Fan-in per axis when `k` axes still have several blocks: the largest `f >= 2` with
/// `f^k <= split_every` (an integer root: a few steps whatever `split_every` is).
fn fan_in(split_every: usize, k: usize) -> usize {
    let k = k.max(1) as u32;
    let fits = |f: usize| f.checked_pow(k).is_some_and(|p| p <= split_every);
    let mut f = ((split_every as f64).powf(1.0 / k as f64) as usize).max(2);
    while f > 2 && !fits(f) {
        f -= 1;
    }
    while f.checked_add(1).is_some_and(fits) {
        f += 1;
    }
    f
}

/// Multi-indices of the box `ranges` (half-open per axis) in C order.
fn block_range(ranges: &[(usize, usize)]) -> impl Iterator<Item = Vec<usize>> + '_ {
    let dims: Vec<usize> = ranges.iter().map(|(a, b)| b - a).collect();
    (0..dims.iter().product()).map(move |i| {
        unravel(&dims, i)
            .iter()
            .zip(ranges)
            .map(|(x, (a, _))| a + x)
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fan_in_per_axis() {
        assert_eq!(fan_in(4, 1), 4);
        assert_eq!(fan_in(4, 2), 2);
        assert_eq!(fan_in(16, 2), 4);
        assert_eq!(fan_in(2, 3), 2);
        assert_eq!(fan_in(27, 3), 3);
        assert_eq!(fan_in(26, 3), 2);
        assert_eq!(fan_in(usize::MAX, 1), usize::MAX);
        assert_eq!(fan_in(usize::MAX, 2), u32::MAX as usize);
        assert_eq!(fan_in(1 << 40, 4), 1024);
    }

    #[test]
    fn block_ranges_in_c_order() {
        let v: Vec<_> = block_range(&[(2, 4), (0, 2)]).collect();
        assert_eq!(v, vec![vec![2, 0], vec![2, 1], vec![3, 0], vec![3, 1]]);
    }
}
