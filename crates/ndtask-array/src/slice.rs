//! Basic indexing: ranges with steps (negative too), negative indices, integer indices that drop
//! an axis, and new axes — ndarray's `s![...]` syntax and semantics. Each output chunk is a
//! strided view of one input chunk, and only the chunks a slice touches are computed (lowering
//! culls the rest).

use crate::array::Array;
use crate::blocks::{blocks, typed};
use crate::plan::BlockKernel;
use ndarray::{Axis, Slice, SliceInfoElem};
use ndtask_core::{Chunk, ChunkGrid, Element, Error, Fingerprint, Result};
use std::marker::PhantomData;

/// What one input axis becomes.
#[derive(Clone, Debug)]
enum AxisPlan {
    /// Kept: per output block, (input block, first local index, count, step).
    Kept(Vec<(usize, usize, usize, isize)>),
    /// Dropped by an integer index: (input block, local index).
    Index(usize, usize),
}

struct SliceKernel<T> {
    from: ChunkGrid,
    plans: Vec<AxisPlan>,
    /// Output axes: `Some(i)` comes from kept input axis `i`, `None` is a new axis.
    out_axes: Vec<Option<usize>>,
    _t: PhantomData<fn() -> T>,
}

impl<T: Element> SliceKernel<T> {
    /// For each input axis, the (input block, ndarray slice of the chunk) of output block `block`.
    fn pieces(&self, block: &[usize]) -> Vec<(usize, Slice)> {
        let out_of = |input_axis: usize| {
            let pos = self
                .out_axes
                .iter()
                .position(|a| *a == Some(input_axis))
                .unwrap_or(0);
            block.get(pos).copied().unwrap_or(0)
        };
        self.plans
            .iter()
            .enumerate()
            .map(|(i, p)| match p {
                AxisPlan::Index(b, local) => (
                    *b,
                    Slice::new(*local as isize, Some(*local as isize + 1), 1),
                ),
                AxisPlan::Kept(groups) => {
                    let (b, first, count, step) = groups[out_of(i)];
                    let last = first as isize + (count as isize - 1) * step;
                    let (lo, hi) = if step > 0 {
                        (first as isize, last + 1)
                    } else {
                        (last, first as isize + 1)
                    };
                    (b, Slice::new(lo, Some(hi), step))
                }
            })
            .collect()
    }
}

impl<T: Element> BlockKernel for SliceKernel<T> {
    fn name(&self) -> String {
        "slice".into()
    }
    fn fingerprint(&self, h: &mut Fingerprint) {
        h.str("slice");
        for p in &self.plans {
            match p {
                AxisPlan::Kept(groups) => {
                    h.u8(0);
                    h.usize(groups.len());
                    for &(b, first, count, step) in groups {
                        [b, first, count].iter().for_each(|&x| h.usize(x));
                        h.u64(step as u64);
                    }
                }
                AxisPlan::Index(b, local) => {
                    h.u8(1);
                    h.usize(*b);
                    h.usize(*local);
                }
            }
        }
        for a in &self.out_axes {
            h.u64(a.map_or(u64::MAX, |a| a as u64));
        }
    }
    fn deps(&self, block: &[usize]) -> Vec<(usize, usize)> {
        let idx: Vec<usize> = self.pieces(block).iter().map(|(b, _)| *b).collect();
        vec![(0, self.from.ravel(&idx))]
    }
    fn run(&self, block: &[usize], inputs: &[&Chunk]) -> Result<Chunk> {
        let a = typed::<T>(inputs[0], "slice")?;
        let pieces = self.pieces(block);
        let mut v = a.slice_each_axis(|ax| pieces[ax.axis.index()].1);
        // Drop indexed axes (from the back, so numbers stay valid), then insert new axes.
        for (i, p) in self.plans.iter().enumerate().rev() {
            if matches!(p, AxisPlan::Index(..)) {
                v = v.index_axis_move(Axis(i), 0);
            }
        }
        for (o, src) in self.out_axes.iter().enumerate() {
            if src.is_none() {
                v = v.insert_axis(Axis(o));
            }
        }
        Ok(T::into_chunk(v.as_standard_layout().into_owned()))
    }
}

/// The selected positions of `lo..hi` with `step` on `axis` (`n` of them, walking backwards
/// from `hi - 1` when `step < 0`), grouped by the input block holding them: (input block, first
/// local index, count, step). One iteration per block touched, whatever the number of elements.
fn select_blocks(
    grid: &ChunkGrid,
    axis: usize,
    lo: usize,
    hi: usize,
    n: usize,
    step: isize,
) -> Vec<(usize, usize, usize, isize)> {
    let stride = step.unsigned_abs();
    let mut groups = Vec::new();
    let mut k = 0;
    while k < n {
        let pos = if step > 0 {
            lo + k * stride
        } else {
            hi - 1 - k * stride
        };
        let b = grid.block_of(axis, pos);
        let start = grid.block_offset(axis, b);
        // Positions of this block still ahead: up to its end (forwards) or start (backwards).
        let left = if step > 0 {
            (start + grid.block_size(axis, b) - pos).div_ceil(stride)
        } else {
            (pos - start) / stride + 1
        };
        let count = left.min(n - k);
        groups.push((b, pos - start, count, step));
        k += count;
    }
    groups
}

/// Resolves a possibly negative index against `len`.
fn resolve(i: isize, len: usize) -> Option<usize> {
    let r = if i < 0 { len as isize + i } else { i };
    (0..=len as isize).contains(&r).then_some(r as usize)
}

impl<T: Element> Array<T> {
    /// Selects a sub-array with ndarray's `s![...]` syntax and semantics: `a..b`, `a..b;step`
    /// (a negative step walks the range `a..b` backwards), negative indices counting from the
    /// end, integer indices that drop their axis, and `NewAxis`. Lazily; only the chunks the
    /// selection touches are ever computed.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a wrong number of indices, a zero step, or an index or
    /// range out of bounds (the message names the axis, the index and the shape).
    ///
    /// # Examples
    /// ```
    /// use ndarray::s;
    /// let x = ndtask_array::arange(0i64, 100, 1, [10])?.reshape([10, 10])?;
    /// let y = x.slice(s![2..8;3, -1])?;   // rows 2 and 5 of the last column
    /// assert_eq!(y.compute()?.iter().copied().collect::<Vec<_>>(), vec![29, 59]);
    /// # Ok::<(), ndtask_core::Error>(())
    /// ```
    pub fn slice(&self, info: impl AsRef<[SliceInfoElem]>) -> Result<Array<T>> {
        self.check()?;
        let info = info.as_ref();
        let shape = self.shape();
        let given = info
            .iter()
            .filter(|e| !matches!(e, SliceInfoElem::NewAxis))
            .count();
        if given != shape.len() {
            return Err(Error::InvalidArgument(format!(
                "{given} indices given for an array of shape {shape:?}: give one per axis"
            )));
        }
        let bad = |axis: usize, what: String| {
            Error::InvalidArgument(format!(
                "index {what} is out of bounds for axis {axis} of shape {shape:?}"
            ))
        };
        let mut plans = Vec::new();
        let mut out_axes = Vec::new();
        let mut out_sizes = Vec::new();
        let mut axis = 0;
        for e in info {
            match *e {
                SliceInfoElem::NewAxis => {
                    out_axes.push(None);
                    out_sizes.push(vec![1]);
                }
                SliceInfoElem::Index(i) => {
                    let len = shape[axis];
                    let g = resolve(i, len)
                        .filter(|&g| g < len)
                        .ok_or_else(|| bad(axis, i.to_string()))?;
                    let grid = &self.node.grid;
                    let b = grid.block_of(axis, g);
                    plans.push(AxisPlan::Index(b, g - grid.block_offset(axis, b)));
                    axis += 1;
                }
                SliceInfoElem::Slice { start, end, step } => {
                    let len = shape[axis];
                    if step == 0 {
                        return Err(Error::InvalidArgument(format!(
                            "slice step must not be zero (axis {axis})"
                        )));
                    }
                    let lo = resolve(start, len).ok_or_else(|| bad(axis, start.to_string()))?;
                    let hi = match end {
                        Some(e) => resolve(e, len).ok_or_else(|| bad(axis, e.to_string()))?,
                        None => len,
                    };
                    let hi = hi.max(lo);
                    let n = (hi - lo).div_ceil(step.unsigned_abs());
                    let groups = select_blocks(&self.node.grid, axis, lo, hi, n, step);
                    out_axes.push(Some(axis));
                    out_sizes.push(groups.iter().map(|g| g.2).collect());
                    plans.push(AxisPlan::Kept(groups));
                    axis += 1;
                }
            }
        }
        let grid = ChunkGrid::from_sizes(out_sizes)?;
        let kernel = SliceKernel::<T> {
            from: self.node.grid.clone(),
            plans,
            out_axes,
            _t: PhantomData,
        };
        Ok(blocks(vec![self.node.clone()], grid, kernel))
    }
}
