//! The ops of the task graph ([`ndtask_core::Op`]): a fused kernel per chunk, a reduction's
//! partial, combine and finalise steps, a block kernel per chunk, and the reduction of nothing.

use crate::exec::program::Program;
use crate::plan::BlockKernel;
use crate::reduce::reduction::{leading, Place, ReduceKernel, TileFolder};
use ndtask_core::{unravel, Chunk, ChunkGrid, DType, Error, Fingerprint, Layout, Op, Result};
use std::sync::Arc;

/// Materialises the chunks of a fused region.
pub(crate) struct FusedOp {
    pub program: Program,
    pub grid: ChunkGrid,
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
pub(crate) struct PartialOp {
    /// Where the input values come from: the reduction's input, or each input of a
    /// concatenation the reduction streams through.
    pub sources: Vec<(Program, ChunkGrid)>,
    /// With several sources: for each input block, (source, block number in its grid).
    pub route: Option<Vec<(usize, usize)>>,
    /// The reduction's input grid.
    pub grid: ChunkGrid,
    pub kernel: Arc<dyn ReduceKernel>,
    pub axes: Vec<usize>,
    pub all: bool,
    pub finalize: Option<ChunkGrid>,
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
        let reduction = [(&*self.kernel, self.axes.as_slice())];
        let state = partial_states(
            program,
            grid,
            &grid.unravel(local),
            inputs,
            &place,
            &reduction,
        )?
        .pop()
        .ok_or_else(|| Error::internal("a partial without its state"))?;
        match &self.finalize {
            Some(out) => self.kernel.finalize(&state, &out.block_shape(block)),
            None => Ok(state),
        }
    }
    fn describe_block(&self, block: usize) -> String {
        format!("{:?}", self.grid.unravel(block))
    }
}

/// The first layer of several reductions of one input that only they read, each reading it
/// directly: each chunk of the input is made once, and its tiles are folded into every
/// reduction's partial state in the same pass (`x.sum()`, `x.std()` and `x.max()` read `x`
/// once, and a streamed source is never held). The states come out together, as one tuple of
/// all their arrays in order; each reduction's first combine layer picks its own
/// ([`CombineOp::pick`]).
pub(crate) struct SharedPartialOp {
    pub program: Program,
    /// The input's grid.
    pub grid: ChunkGrid,
    /// Each reduction and its reduced axes.
    pub reductions: Vec<(Arc<dyn ReduceKernel>, Vec<usize>)>,
}

/// The arrays of a partial state (one, or a tuple's parts).
fn state_parts(state: Chunk) -> Vec<Chunk> {
    match state {
        Chunk::Tuple(parts) => parts,
        one => vec![one],
    }
}

impl Op for SharedPartialOp {
    fn name(&self) -> String {
        let kernels: Vec<&str> = self.reductions.iter().map(|(k, _)| k.name()).collect();
        format!("{}-partial({})", kernels.join("+"), self.program.name())
    }
    fn block_work(&self, block: usize) -> usize {
        elements(&self.grid, block)
    }
    fn block_layout(&self, block: usize) -> Option<Layout> {
        let idx = self.grid.unravel(block);
        let parts = self
            .reductions
            .iter()
            .flat_map(|(k, axes)| k.state_layout(&state_shape(&self.grid, axes, &idx)).parts)
            .collect();
        Some(Layout { tuple: true, parts })
    }
    fn fingerprint(&self, h: &mut Fingerprint) {
        h.str("shared-partial");
        self.grid.fingerprint(h);
        self.program.fingerprint(h);
        h.usize(self.reductions.len());
        for (kernel, axes) in &self.reductions {
            kernel.fingerprint(h);
            h.usize(axes.len());
            axes.iter().for_each(|&a| h.usize(a));
        }
    }
    fn run(&self, block: usize, inputs: &[&Chunk]) -> Result<Chunk> {
        let idx = self.grid.unravel(block);
        let place = Place::new(&self.grid, &idx);
        let reductions: Vec<(&dyn ReduceKernel, &[usize])> = self
            .reductions
            .iter()
            .map(|(k, axes)| (&**k, axes.as_slice()))
            .collect();
        let states = partial_states(&self.program, &self.grid, &idx, inputs, &place, &reductions)?;
        Ok(Chunk::Tuple(
            states.into_iter().flat_map(state_parts).collect(),
        ))
    }
    fn describe_block(&self, block: usize) -> String {
        format!("{:?}", self.grid.unravel(block))
    }
}

/// Parts `first..first + n` of a [`SharedPartialOp`]'s result: one reduction's state.
fn pick(shared: &Chunk, (first, n): (usize, usize)) -> Result<Chunk> {
    match shared {
        Chunk::Tuple(parts) if first + n <= parts.len() => Ok(match n {
            1 => parts[first].clone(),
            _ => Chunk::Tuple(parts[first..first + n].to_vec()),
        }),
        other => Err(Error::internal(format!(
            "picking parts {first}..{} of a shared partial state {:?}",
            first + n,
            other.dtype()
        ))),
    }
}

/// The partial states of `reductions` (each with its reduced axes) of the chunk at `place`,
/// whose values `program` makes at block `idx` of `grid` from `inputs`. Where every reduction
/// folds tiles (over all axes, or leading axes) the program's tiles are folded into all of
/// them in one pass and the chunk is never held; otherwise the chunk (the input itself, or
/// materialised once) is reduced by each.
fn partial_states(
    program: &Program,
    grid: &ChunkGrid,
    idx: &[usize],
    inputs: &[&Chunk],
    place: &Place,
    reductions: &[(&dyn ReduceKernel, &[usize])],
) -> Result<Vec<Chunk>> {
    let nd = place.shape.len();
    let all = |axes: &[usize]| axes.len() == nd;
    let streams = reductions
        .iter()
        .all(|(_, axes)| all(axes) || leading(axes));
    if streams && !program.is_leaf() {
        let mut folders = reductions
            .iter()
            .map(|(k, axes)| k.folder((!all(axes)).then_some(axes.len()), place.clone()))
            .collect::<Result<Vec<_>>>()?;
        program.for_each_tile(grid, idx, inputs, &mut |b, n| {
            folders.iter_mut().try_for_each(|f| f.feed(b, n))
        })?;
        return folders.into_iter().map(TileFolder::finish).collect();
    }
    let made;
    let chunk = match program.is_leaf() {
        true => first_input(inputs)?,
        false => {
            made = program.materialize(grid, idx, inputs)?;
            &made
        }
    };
    reductions
        .iter()
        .map(|(k, axes)| match all(axes) {
            true => k.partial_all(chunk, place),
            false => k.partial_axes(chunk, axes, place),
        })
        .collect()
}

fn first_input<'a>(inputs: &[&'a Chunk]) -> Result<&'a Chunk> {
    inputs
        .first()
        .copied()
        .ok_or_else(|| Error::internal("reduction partial without its input chunk"))
}

/// A combine layer of a reduction tree.
pub(crate) struct CombineOp {
    pub kernel: Arc<dyn ReduceKernel>,
    pub depth: usize,
    pub finalize: Option<ChunkGrid>,
    /// The reduction's input grid, its reduced axes, and this layer's blocks per axis: the
    /// shape of block `j`'s state.
    pub state: (ChunkGrid, Vec<usize>, Vec<usize>),
    /// Where the inputs are [`SharedPartialOp`] results: the first of this reduction's parts
    /// in them, and how many.
    pub pick: Option<(usize, usize)>,
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
        match self.pick {
            Some((first, n)) => {
                h.u8(1);
                h.usize(first);
                h.usize(n);
            }
            None => h.u8(0),
        }
    }
    fn run(&self, block: usize, inputs: &[&Chunk]) -> Result<Chunk> {
        let state = match self.pick {
            None => self.kernel.combine(inputs)?,
            Some(at) => {
                let own = inputs
                    .iter()
                    .map(|c| pick(c, at))
                    .collect::<Result<Vec<_>>>()?;
                self.kernel.combine(&own.iter().collect::<Vec<_>>())?
            }
        };
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
pub(crate) struct BlocksOp {
    pub kernel: Arc<dyn BlockKernel>,
    pub grid: ChunkGrid,
    pub dtype: DType,
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
    fn block_home(&self, block: usize) -> Option<usize> {
        self.kernel.home(&self.grid.unravel(block))
    }
}

/// A reduction over zero elements: the identity state, finalised.
pub(crate) struct EmptyReduceOp {
    pub kernel: Arc<dyn ReduceKernel>,
    pub out_grid: ChunkGrid,
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
