//! Lowering: the logical plan becomes a chunk task graph. One task per output chunk of every
//! materialised node; reductions expand into partial, combine and finalise layers with a fixed
//! fan-in; concatenation aliases its inputs' tasks. Nodes are visited in a deterministic
//! post-order, so every process that builds the same plan gets the same graph (task ids, ops,
//! edges), which the MPI scheduler checks.

use crate::fuse::{Program, Role};
use crate::optimize::OptimizedPlan;
use crate::plan::{BlockKernel, Node, NodeKind, ReduceSpec};
use crate::reduce::{leading, Place, ReduceKernel, TileSink};
use ndtask_core::{
    ravel, unravel, Chunk, ChunkGrid, DType, Error, Fingerprint, Layout, Op, Result, TaskGraph,
    TaskId,
};
use std::collections::HashMap;
use std::sync::Arc;

/// A lowered plan: the graph and, per requested output, its tasks in C order of its chunk grid.
pub(crate) struct Lowered {
    pub graph: TaskGraph,
    pub outputs: Vec<Arc<Vec<TaskId>>>,
}

/// Lowers an optimized plan into one graph (shared inputs are lowered once).
pub(crate) fn lower(plan: &OptimizedPlan) -> Result<Lowered> {
    let mut l = Lowerer {
        graph: TaskGraph::new(),
        tasks: HashMap::new(),
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
    tasks: HashMap<*const Node, Arc<Vec<TaskId>>>,
    plan: &'p OptimizedPlan,
}

impl Lowerer<'_> {
    fn lower_node(&mut self, n: &Arc<Node>) -> Result<()> {
        let tasks = match &n.kind {
            NodeKind::Source(_) | NodeKind::Map { .. } => {
                if self.plan.role_of(n) != Some(Role::Materialized) {
                    return Ok(());
                }
                let region = self.plan.region(n)?;
                check_leaves(n, &region.leaves)?;
                let leaf_tasks = self.leaf_tasks(&region.leaves)?;
                let op = self.graph.add_op(Arc::new(FusedOp {
                    program: region.program.clone(),
                    grid: n.grid.clone(),
                }));
                (0..n.grid.num_chunks())
                    .map(|b| self.graph.add_task(op, b, &deps_for(&leaf_tasks, b)?))
                    .collect::<Result<Vec<_>>>()?
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

    fn lower_reduce(&mut self, n: &Arc<Node>, spec: &ReduceSpec) -> Result<Vec<TaskId>> {
        let input = &spec.input;
        let source = |l: &Self, n: &Arc<Node>| -> Result<Source> {
            let (program, leaves) = match l.plan.role_of(n) {
                Some(Role::Streamed) => {
                    let region = l.plan.region(n)?;
                    (region.program.clone(), region.leaves.clone())
                }
                _ => (Program::leaf(n.dtype), vec![n.clone()]),
            };
            check_leaves(n, &leaves)?;
            Ok(Source {
                program,
                grid: n.grid.clone(),
                leaf_tasks: l.leaf_tasks(&leaves)?,
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
        let mut dims = in_grid.nblocks();

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
                Some(s) => deps_for(&s.leaf_tasks, local),
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

        let mut depth = 0;
        while axes.iter().any(|&a| dims[a] > 1) {
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
                kernel: kernel.clone(),
                depth,
                finalize: last.then(|| out_grid.clone()),
                state: (in_grid.clone(), axes.clone(), new_dims.clone()),
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
}

/// Where a reduction's partials read their values from: a program over a grid, and the tasks of
/// the chunks the program's leaves read.
struct Source {
    program: Program,
    grid: ChunkGrid,
    leaf_tasks: Vec<Arc<Vec<TaskId>>>,
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

/// The tasks of leaf inputs that block `b` reads.
fn deps_for(leaf_tasks: &[Arc<Vec<TaskId>>], b: usize) -> Result<Vec<TaskId>> {
    (0..leaf_tasks.len())
        .map(|k| task_of(leaf_tasks, k, b))
        .collect()
}

/// A fused region reads block `b` of every leaf for its own block `b`, so every leaf must have
/// the region's chunk grid (operations align their inputs when they are built; this catches one
/// that did not, before any task runs).
fn check_leaves(n: &Node, leaves: &[Arc<Node>]) -> Result<()> {
    match leaves.iter().find(|l| l.grid != n.grid) {
        Some(l) => Err(Error::internal(format!(
            "an element-wise kernel of shape {:?} and chunks {} reads an input of shape {:?} and \
             chunks {}",
            n.shape(),
            n.grid.describe(),
            l.shape(),
            l.grid.describe()
        ))),
        None => Ok(()),
    }
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

/// Materialises the chunks of a fused region.
struct FusedOp {
    program: Program,
    grid: ChunkGrid,
}

/// The number of elements of block `block` of `grid`.
fn elements(grid: &ChunkGrid, block: usize) -> usize {
    grid.block_shape(block).iter().product()
}

impl Op for FusedOp {
    fn name(&self) -> String {
        self.program.name()
    }
    fn block_elements(&self, block: usize) -> usize {
        elements(&self.grid, block)
    }
    fn block_layout(&self, block: usize) -> Option<Layout> {
        let shape = self.grid.block_shape(block);
        Some(Layout::array(self.program.out_dtype(), shape))
    }
    fn fingerprint(&self, h: &mut Fingerprint) {
        h.str("fused");
        self.grid.fingerprint(h);
        self.program.fingerprint(h);
    }
    fn run(&self, block: usize, inputs: &[&Chunk]) -> Result<Chunk> {
        self.program
            .materialize(&self.grid, &self.grid.unravel(block), inputs)
    }
    fn describe_block(&self, block: usize) -> String {
        format!("{:?}", self.grid.unravel(block))
    }
}

/// The first layer of a reduction: one chunk to its partial state (finalised at once when the
/// reduced axes have one block each).
struct PartialOp {
    /// Where the input values come from: the reduction's input, or each input of a
    /// concatenation the reduction streams through.
    sources: Vec<(Program, ChunkGrid)>,
    /// With several sources: for each input block, (source, block number in its grid).
    route: Option<Vec<(usize, usize)>>,
    /// The reduction's input grid.
    grid: ChunkGrid,
    kernel: Arc<dyn ReduceKernel>,
    axes: Vec<usize>,
    all: bool,
    finalize: Option<ChunkGrid>,
}

impl Op for PartialOp {
    fn name(&self) -> String {
        let names: Vec<String> = self
            .sources
            .iter()
            .filter(|(p, _)| !p.is_leaf())
            .map(|(p, _)| p.name())
            .collect();
        let input = match (names.len(), &self.route) {
            (0, _) => String::new(),
            (_, None) => format!("({})", names.join(", ")),
            (_, Some(_)) => format!("(concatenate: {})", names.join(", ")),
        };
        format!("{}-partial{input}", self.kernel.name())
    }
    fn block_work(&self, block: usize) -> usize {
        elements(&self.grid, block)
    }
    fn block_layout(&self, block: usize) -> Option<Layout> {
        let idx = self.grid.unravel(block);
        let state = || state_shape(&self.grid, &self.axes, &idx);
        Some(reduce_layout(&*self.kernel, &self.finalize, block, state))
    }
    fn fingerprint(&self, h: &mut Fingerprint) {
        h.str("partial");
        self.kernel.fingerprint(h);
        self.grid.fingerprint(h);
        h.usize(self.axes.len());
        self.axes.iter().for_each(|&a| h.usize(a));
        h.u8(self.all as u8);
        h.usize(self.sources.len());
        for (program, grid) in &self.sources {
            program.fingerprint(h);
            grid.fingerprint(h);
        }
        if let Some(route) = &self.route {
            h.usize(route.len());
            route.iter().for_each(|&(k, b)| {
                h.usize(k);
                h.usize(b);
            });
        }
        fingerprint_finalize(h, &self.finalize);
    }
    fn run(&self, block: usize, inputs: &[&Chunk]) -> Result<Chunk> {
        let place = Place::new(&self.grid, &self.grid.unravel(block));
        let (k, local) = match &self.route {
            Some(r) => r
                .get(block)
                .copied()
                .ok_or_else(|| Error::internal("block outside the route"))?,
            None => (0, block),
        };
        let (program, grid) = self
            .sources
            .get(k)
            .ok_or_else(|| Error::internal("unknown source"))?;
        let idx = grid.unravel(local);
        let mut tiles = |sink: &mut TileSink<'_>| program.for_each_tile(grid, &idx, inputs, sink);
        let state = match (self.all, program.is_leaf()) {
            (true, true) => self.kernel.partial_all(leaf(inputs)?, &place)?,
            (true, false) => self.kernel.partial_tiles(&mut tiles, &place)?,
            (false, true) => self
                .kernel
                .partial_axes(leaf(inputs)?, &self.axes, &place)?,
            (false, false) if leading(&self.axes) => {
                self.kernel
                    .partial_leading_tiles(&mut tiles, self.axes.len(), &place)?
            }
            (false, false) => {
                let chunk = program.materialize(grid, &idx, inputs)?;
                self.kernel.partial_axes(&chunk, &self.axes, &place)?
            }
        };
        match &self.finalize {
            Some(out) => self.kernel.finalize(&state, &out.block_shape(block)),
            None => Ok(state),
        }
    }
    fn describe_block(&self, block: usize) -> String {
        format!("{:?}", self.grid.unravel(block))
    }
}

fn leaf<'a>(inputs: &[&'a Chunk]) -> Result<&'a Chunk> {
    inputs
        .first()
        .copied()
        .ok_or_else(|| Error::internal("reduction partial without its input chunk"))
}

/// A combine layer of a reduction tree.
struct CombineOp {
    kernel: Arc<dyn ReduceKernel>,
    depth: usize,
    finalize: Option<ChunkGrid>,
    /// The reduction's input grid, its reduced axes, and this layer's blocks per axis: the
    /// shape of block `j`'s state.
    state: (ChunkGrid, Vec<usize>, Vec<usize>),
}

/// The layout of block `block` of a reduction layer: the result chunk when the layer finalises
/// to `finalize`, the partial state of shape `state()` otherwise.
fn reduce_layout(
    kernel: &dyn ReduceKernel,
    finalize: &Option<ChunkGrid>,
    block: usize,
    state: impl FnOnce() -> Vec<usize>,
) -> Layout {
    match finalize {
        Some(out) => Layout::array(kernel.out_dtype(), out.block_shape(block)),
        None => kernel.state_layout(&state()),
    }
}

/// The shape of a reduction state for block `idx` of `grid` (per axis of the input): reduced
/// axes have length 1, kept axes their block's size.
fn state_shape(grid: &ChunkGrid, axes: &[usize], idx: &[usize]) -> Vec<usize> {
    (0..grid.ndim())
        .map(|a| {
            if axes.contains(&a) {
                1
            } else {
                grid.block_size(a, idx[a])
            }
        })
        .collect()
}

impl Op for CombineOp {
    fn name(&self) -> String {
        let kind = if self.finalize.is_some() {
            "aggregate"
        } else {
            "combine"
        };
        format!("{}-{kind}-{}", self.kernel.name(), self.depth)
    }
    fn block_layout(&self, block: usize) -> Option<Layout> {
        let (grid, axes, dims) = &self.state;
        let state = || state_shape(grid, axes, &unravel(dims, block));
        Some(reduce_layout(&*self.kernel, &self.finalize, block, state))
    }
    fn fingerprint(&self, h: &mut Fingerprint) {
        h.str("combine");
        self.kernel.fingerprint(h);
        h.usize(self.depth);
        fingerprint_finalize(h, &self.finalize);
    }
    fn run(&self, block: usize, inputs: &[&Chunk]) -> Result<Chunk> {
        let state = self.kernel.combine(inputs)?;
        match &self.finalize {
            Some(out) => self.kernel.finalize(&state, &out.block_shape(block)),
            None => Ok(state),
        }
    }
}

/// The grid a reduction layer finalises to, if it does.
fn fingerprint_finalize(h: &mut Fingerprint, finalize: &Option<ChunkGrid>) {
    match finalize {
        Some(g) => {
            h.u8(1);
            g.fingerprint(h);
        }
        None => h.u8(0),
    }
}

/// Runs a [`BlockKernel`] per output chunk.
struct BlocksOp {
    kernel: Arc<dyn BlockKernel>,
    grid: ChunkGrid,
    dtype: DType,
}

impl Op for BlocksOp {
    fn name(&self) -> String {
        self.kernel.name()
    }
    fn block_elements(&self, block: usize) -> usize {
        elements(&self.grid, block)
    }
    fn block_layout(&self, block: usize) -> Option<Layout> {
        let shape = self.grid.block_shape(block);
        self.kernel
            .fixed_shape()
            .then(|| Layout::array(self.dtype, shape))
    }
    fn fingerprint(&self, h: &mut Fingerprint) {
        h.str("blocks");
        self.kernel.fingerprint(h);
        self.grid.fingerprint(h);
        h.str(self.dtype.name());
    }
    fn run(&self, block: usize, inputs: &[&Chunk]) -> Result<Chunk> {
        let idx = self.grid.unravel(block);
        let out = self.kernel.run(&idx, inputs)?;
        let want = self.grid.chunk_shape(&idx);
        if self.kernel.fixed_shape() && out.shape() != want.as_slice() {
            return Err(Error::Shape(format!(
                "{} produced a chunk of shape {:?} where {want:?} was declared",
                self.kernel.name(),
                out.shape()
            )));
        }
        Ok(out)
    }
    fn describe_block(&self, block: usize) -> String {
        self.kernel.describe_block(&self.grid.unravel(block))
    }
}

/// A reduction over zero elements: the identity state, finalised.
struct EmptyReduceOp {
    kernel: Arc<dyn ReduceKernel>,
    out_grid: ChunkGrid,
}

impl Op for EmptyReduceOp {
    fn name(&self) -> String {
        format!("{}-empty", self.kernel.name())
    }
    fn block_layout(&self, block: usize) -> Option<Layout> {
        let shape = self.out_grid.block_shape(block);
        Some(Layout::array(self.kernel.out_dtype(), shape))
    }
    fn fingerprint(&self, h: &mut Fingerprint) {
        h.str("empty");
        self.kernel.fingerprint(h);
        self.out_grid.fingerprint(h);
    }
    fn run(&self, block: usize, _: &[&Chunk]) -> Result<Chunk> {
        let shape = self.out_grid.block_shape(block);
        self.kernel.finalize(&self.kernel.identity(&shape)?, &shape)
    }
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
