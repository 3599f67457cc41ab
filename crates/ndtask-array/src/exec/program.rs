//! The fused program interpreter: a fused kernel is a list of steps (read a source, read an input
//! chunk, apply an element-wise kernel to earlier steps) evaluated tile by tile
//! ([`ndtask_core::tile_len`] elements at a time: whole rows, about a [`ndtask_core::TILE`]), each
//! step reading the tiles of earlier steps, so a whole chain makes one pass over the data with no
//! temporary array per operator. Tiles live in a few registers that are reused once their value is
//! dead, so they stay in L1 cache.

use crate::exec::tiles::{TileLoad, TransposedRows};
use crate::plan::reader::TileSource;
use crate::plan::source::Cursor;
use crate::plan::{MapKernel, SourceNode};
use ndtask_core::{tile_len, Buf, Chunk, ChunkGrid, DType, Error, Fingerprint, Result};
use std::sync::Arc;

/// The cursor of each step that reads a source.
type Cursors<'a> = Vec<Option<Cursor<'a>>>;

/// One step of a fused kernel; its tile is register `i` for step `i`.
#[derive(Clone)]
pub(crate) enum Step {
    /// Generate the tile from a source.
    Source(Arc<SourceNode>),
    /// Copy the tile from input chunk `k` (the result of another task), broadcasting it when
    /// its shape is not the output chunk's.
    Leaf(usize),
    /// Gather the tile from input chunk `k` with its axes permuted (a transpose read
    /// through: output axis `j` is the chunk's axis `perm[j]`).
    Permuted(usize, Vec<usize>),
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

impl Step {
    /// The step with its inputs renumbered to their new positions.
    pub fn renumbered(&self, at: &[usize]) -> Step {
        match self {
            Step::Source(k) => Step::Source(k.clone()),
            Step::Leaf(k) => Step::Leaf(*k),
            Step::Permuted(k, perm) => Step::Permuted(*k, perm.clone()),
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

    /// The program of `steps` (in dependency order, the last the result) with their element
    /// types.
    pub fn from_steps(steps: Vec<Step>, dtypes: Vec<DType>) -> Self {
        Self::new(steps, dtypes)
    }

    /// The steps and their element types.
    pub fn into_steps(self) -> (Vec<Step>, Vec<DType>) {
        (self.steps, self.dtypes)
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
                Step::Permuted(_, perm) => Some(format!("transpose{perm:?}")),
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
                Step::Permuted(k, perm) => {
                    h.u8(3);
                    h.usize(*k);
                    h.usize(perm.len());
                    perm.iter().for_each(|&a| h.usize(a));
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
        let mut cursors = self.open_sources(grid, block)?;
        self.run_tiles(grid, block, leaves, &mut cursors, &mut |t, n, _| sink(t, n))
    }

    /// The cursor of each source step at `block` (`None` for the other steps).
    fn open_sources<'a>(&'a self, grid: &ChunkGrid, block: &[usize]) -> Result<Cursors<'a>> {
        self.steps
            .iter()
            .map(|s| match s {
                Step::Source(k) => k.open(grid, block).map(Some),
                _ => Ok(None),
            })
            .collect()
    }

    /// [`Program::for_each_tile`] from opened `cursors`, which `sink` gets too (after each
    /// tile's steps have read their values).
    fn run_tiles<'a>(
        &self,
        grid: &ChunkGrid,
        block: &[usize],
        leaves: &[&Chunk],
        cursors: &mut Cursors<'a>,
        sink: &mut dyn FnMut(&Buf, usize, &mut Cursors<'a>) -> Result<()>,
    ) -> Result<()> {
        let shape = grid.chunk_shape(block);
        let len: usize = shape.iter().product();
        let nregs = self.slots.iter().max().map_or(0, |m| m + 1);
        let tile = tile_len(&shape);
        let mut regs: Vec<Buf> = (0..nregs)
            .map(|r| {
                let i = self.slots.iter().position(|&s| s == r).unwrap_or(0);
                Buf::with_capacity(self.dtypes[i], tile.min(len))
            })
            .collect();
        let last = self.slots[self.steps.len() - 1];
        // A transposed input is gathered a block of rows at a time (one per permuted step).
        let mut transposed: Vec<TransposedRows> = self
            .steps
            .iter()
            .map(|_| TransposedRows::default())
            .collect();
        // A broadcast leaf that varies along the last axis only (a row, or a scalar) fills every
        // tile of whole rows alike: with a register of its own, it is loaded once per tile
        // length, not once per tile.
        let row = shape.last().copied().unwrap_or(1).max(1);
        let repeats: Vec<bool> = (0..self.steps.len())
            .map(|i| {
                let Step::Leaf(k) = &self.steps[i] else {
                    return false;
                };
                let own = self.slots.iter().filter(|&&s| s == self.slots[i]).count() == 1;
                let rows = leaves.get(*k).is_some_and(|c| {
                    let from = c.shape();
                    from != shape.as_slice()
                        && from
                            .split_last()
                            .is_none_or(|(_, lead)| lead.iter().all(|&d| d == 1))
                });
                own && rows && tile.is_multiple_of(row)
            })
            .collect();
        let mut loaded: Vec<Option<usize>> = vec![None; self.steps.len()];
        let mut off = 0;
        while off < len {
            let n = tile.min(len - off);
            for (i, step) in self.steps.iter().enumerate() {
                if repeats[i] && off.is_multiple_of(row) && loaded[i] == Some(n) {
                    continue;
                }
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
                        Some(chunk) if chunk.shape() == shape.as_slice() => {
                            out.load_from(chunk, off, n)
                        }
                        // A leaf the region broadcasts (a fused `broadcast_to`).
                        Some(chunk) => {
                            loaded[i] = (repeats[i] && off.is_multiple_of(row)).then_some(n);
                            out.load_broadcast(chunk, &shape, off, n)
                        }
                        None => Err(Error::internal(format!("missing input chunk {k}"))),
                    },
                    Step::Permuted(k, perm) => match leaves.get(*k) {
                        Some(chunk) => transposed[i].load(out, chunk, perm, off, n),
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
            sink(&regs[last], n, cursors)?;
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
        let len = shape.iter().product();
        let dtype = self.out_dtype();
        let mut cursors = self.open_sources(grid, block)?;
        let lost = || Error::internal("a fused kernel lost its source's cursor");
        // A lone source is the chunk itself: the chunk a reader read, or the values it streams.
        if let [Step::Source(_)] = &self.steps[..] {
            return cursors
                .pop()
                .flatten()
                .ok_or_else(lost)?
                .into_chunk(dtype, &shape);
        }
        // A chunk a reader read whole, of the result's type, is the result's storage: each
        // tile is written over the values it came from once every step has read them, so the
        // task holds one chunk, not two.
        let whole = cursors
            .iter()
            .position(|c| c.as_ref().is_some_and(|c| c.can_hold(dtype, len)));
        if let Some(i) = whole {
            let mut at = 0;
            self.run_tiles(grid, block, leaves, &mut cursors, &mut |t, n, cursors| {
                let Some(Cursor::Whole(c)) = &mut cursors[i] else {
                    return Err(lost());
                };
                c.write_back(t, at, n)?;
                at += n;
                Ok(())
            })?;
            return cursors[i]
                .take()
                .ok_or_else(lost)?
                .into_chunk(dtype, &shape);
        }
        let mut acc =
            Buf::try_with_capacity(dtype, len, format_args!("a chunk of shape {shape:?}"))?;
        self.run_tiles(grid, block, leaves, &mut cursors, &mut |t, n, _| {
            acc.extend_from(t, n)
        })?;
        acc.into_chunk(&shape)
    }
}
