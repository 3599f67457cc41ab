//! Basic indexing: ranges with steps (negative too), negative indices, integer indices that drop
//! an axis, and new axes — ndarray's `s![...]` syntax and semantics. Each output chunk is a
//! strided view of one input chunk, and only the chunks a slice touches are computed (lowering
//! culls the rest).

use crate::api::array::Array;
use crate::ops::layout::{blocks, boxes};
use crate::plan::chunks::{try_array, typed};
use crate::plan::{BlockKernel, Pushdown, Window};
use ndarray::{Axis, Slice, SliceInfoElem};
use ndtask_core::{AxisSizes, Chunk, ChunkGrid, Element, Error, Fingerprint, Result};
use std::marker::PhantomData;

/// What one output block of a kept axis reads: (input block, first local index, count, step).
type Group = (usize, usize, usize, isize);

/// What one input axis becomes.
#[derive(Clone, Debug)]
enum AxisPlan {
    /// Kept: one group per output block.
    Kept(Vec<Group>),
    /// Kept, over many blocks of a regular axis with a step that divides the block size: the
    /// first and last touched blocks, and `nmiddle` blocks in between that each give
    /// (first local index, count), the same for all. O(1) memory however many blocks.
    Uniform {
        head: Group,
        middle: (usize, usize),
        nmiddle: usize,
        tail: Group,
    },
    /// Kept, over many blocks of a regular axis with a step that does not divide the block
    /// size: output blocks of `per` selected positions each (`n` in all, the first at `top`),
    /// each read from the one or two input blocks that hold them. O(1) memory.
    Strided {
        top: usize,
        n: usize,
        per: usize,
        step: isize,
    },
    /// Dropped by an integer index: (input block, local index).
    Index(usize, usize),
}

impl AxisPlan {
    /// The group of output block `j` of a kept axis.
    fn group(&self, j: usize) -> Option<Group> {
        match self {
            AxisPlan::Kept(groups) => groups.get(j).copied(),
            AxisPlan::Uniform {
                head,
                middle,
                nmiddle,
                tail,
            } => Some(match j {
                0 => *head,
                j if j == nmiddle + 1 => *tail,
                j => {
                    let b = if head.3 > 0 { head.0 + j } else { head.0 - j };
                    (b, middle.0, middle.1, head.3)
                }
            }),
            AxisPlan::Index(..) | AxisPlan::Strided { .. } => None,
        }
    }

    /// The pieces of output block `j` along this input axis (of `grid`): (input block, slice of
    /// the input chunk, range in the output chunk), in order.
    fn pieces(&self, grid: &ChunkGrid, axis: usize, j: usize) -> Vec<Piece> {
        match self {
            AxisPlan::Index(b, local) => vec![(
                *b,
                Slice::new(*local as isize, Some(*local as isize + 1), 1),
                0..1,
            )],
            AxisPlan::Strided { top, n, per, step } => {
                let ks = j * per..((j + 1) * per).min(*n);
                let mut at = 0;
                groups_of(grid, axis, *top, *step, ks)
                    .iter()
                    .map(|g| {
                        at += g.2;
                        (g.0, group_slice(g), at - g.2..at)
                    })
                    .collect()
            }
            plan => {
                let g = plan.group(j).unwrap_or((0, 0, 0, 1));
                vec![(g.0, group_slice(&g), 0..g.2)]
            }
        }
    }
}

/// A piece of an output block along one input axis: (input block, slice of that input chunk,
/// range of the output chunk it fills).
type Piece = (usize, Slice, std::ops::Range<usize>);

/// The slice of an input chunk that a group reads.
fn group_slice(&(_, first, count, step): &Group) -> Slice {
    let last = first as isize + (count as isize - 1) * step;
    let (lo, hi) = if step > 0 {
        (first as isize, last + 1)
    } else {
        (last, first as isize + 1)
    };
    Slice::new(lo, Some(hi), step)
}

struct SliceKernel<T> {
    from: ChunkGrid,
    plans: Vec<AxisPlan>,
    /// Output axes: `Some(i)` comes from kept input axis `i`, `None` is a new axis.
    out_axes: Vec<Option<usize>>,
    /// The box the slice selects, when its steps are all 1: a source read by it reads that box
    /// instead (the source-pushdown pass).
    window: Option<Window>,
    _t: PhantomData<fn() -> T>,
}

impl<T: Element> SliceKernel<T> {
    /// For each input axis, the pieces of output block `block`.
    fn pieces(&self, block: &[usize]) -> Vec<Vec<Piece>> {
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
            .map(|(i, p)| p.pieces(&self.from, i, out_of(i)))
            .collect()
    }

    /// The slice of one input chunk in output axes: indexed axes dropped, new axes inserted.
    fn view<'a>(&self, a: &'a ndarray::ArrayD<T>, slices: &[Slice]) -> ndarray::ArrayViewD<'a, T> {
        let mut v = a.slice_each_axis(|ax| slices[ax.axis.index()]);
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
        v
    }
}

impl<T: Element> BlockKernel for SliceKernel<T> {
    fn exact(&self) -> bool {
        true
    }
    fn pushdown(&self) -> Option<Pushdown> {
        self.window.clone().map(Pushdown::Window)
    }
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
                    groups.iter().for_each(|g| group_fingerprint(h, g));
                }
                AxisPlan::Uniform {
                    head,
                    middle,
                    nmiddle,
                    tail,
                } => {
                    h.u8(2);
                    group_fingerprint(h, head);
                    h.usize(middle.0);
                    h.usize(middle.1);
                    h.usize(*nmiddle);
                    group_fingerprint(h, tail);
                }
                AxisPlan::Strided { top, n, per, step } => {
                    h.u8(3);
                    [*top, *n, *per].iter().for_each(|&x| h.usize(x));
                    h.u64(*step as u64);
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
        let pieces = self.pieces(block);
        let ranges: Vec<_> = pieces.iter().map(|p| 0..p.len()).collect();
        boxes(&ranges)
            .into_iter()
            .map(|k| {
                let idx: Vec<usize> = k.iter().zip(&pieces).map(|(&k, p)| p[k].0).collect();
                (0, self.from.ravel(&idx))
            })
            .collect()
    }
    fn run(&self, block: &[usize], inputs: &[&Chunk]) -> Result<Chunk> {
        let pieces = self.pieces(block);
        if pieces.iter().all(|p| p.len() == 1) {
            let a = typed::<T>(inputs[0], "slice")?;
            let slices: Vec<Slice> = pieces.iter().map(|p| p[0].1).collect();
            return Ok(T::into_chunk(
                self.view(a, &slices).as_standard_layout().into_owned(),
            ));
        }
        // Several input chunks: each fills its part of the output chunk.
        let shape: Vec<usize> = self
            .out_axes
            .iter()
            .map(|a| match a {
                Some(i) => pieces[*i].last().map_or(0, |p| p.2.end),
                None => 1,
            })
            .collect();
        let mut out = try_array::<T>(&shape, "slice")?;
        let ranges: Vec<_> = pieces.iter().map(|p| 0..p.len()).collect();
        for (k, c) in boxes(&ranges).into_iter().zip(inputs) {
            let a = typed::<T>(c, "slice")?;
            let slices: Vec<Slice> = k.iter().zip(&pieces).map(|(&k, p)| p[k].1).collect();
            let v = self.view(a, &slices);
            let mut dst = out.slice_each_axis_mut(|ax| match self.out_axes[ax.axis.index()] {
                Some(i) => {
                    let r = &pieces[i][k[i]].2;
                    Slice::from(r.start..r.end)
                }
                None => Slice::from(..),
            });
            dst.assign(&v);
        }
        Ok(T::into_chunk(out))
    }
}

/// The selected positions number `ks` of a selection that starts at `top` and moves by `step`,
/// grouped by the input block holding them: (input block, first local index, count, step), in
/// visiting order. One iteration per block touched, whatever the number of elements.
fn groups_of(
    grid: &ChunkGrid,
    axis: usize,
    top: usize,
    step: isize,
    ks: std::ops::Range<usize>,
) -> Vec<Group> {
    let stride = step.unsigned_abs();
    let mut groups = Vec::new();
    let mut k = ks.start;
    while k < ks.end {
        let pos = if step > 0 {
            top + k * stride
        } else {
            top - k * stride
        };
        let b = grid.block_of(axis, pos);
        let start = grid.block_offset(axis, b);
        // Positions of this block still ahead: up to its end (forwards) or start (backwards).
        let left = if step > 0 {
            (start + grid.block_size(axis, b) - pos).div_ceil(stride)
        } else {
            (pos - start) / stride + 1
        };
        let count = left.min(ks.end - k);
        groups.push((b, pos - start, count, step));
        k += count;
    }
    groups
}

/// The first position a selection of `n` positions of `lo..hi` with `step` visits.
fn first_position(lo: usize, hi: usize, n: usize, step: isize) -> usize {
    if step > 0 || n == 0 {
        lo
    } else {
        hi - 1
    }
}

fn group_fingerprint(h: &mut Fingerprint, &(b, first, count, step): &Group) {
    [b, first, count].iter().for_each(|&x| h.usize(x));
    h.u64(step as u64);
}

/// The plan of a kept axis as [`AxisPlan::Uniform`] and its output chunking, when the axis is
/// regular, the selection touches at least four blocks, and the step divides the block size:
/// then every block strictly between the first and last touched holds the same pattern.
fn uniform_blocks(
    grid: &ChunkGrid,
    axis: usize,
    (lo, hi, n): (usize, usize, usize),
    step: isize,
) -> Option<(AxisPlan, AxisSizes)> {
    let (block, _) = grid.regular_axis(axis)?;
    let t = step.unsigned_abs();
    if n == 0 {
        return None;
    }
    // The first and the last position visited.
    let (top, bottom) = if step > 0 {
        (lo, lo + (n - 1) * t)
    } else {
        (hi - 1, hi - 1 - (n - 1) * t)
    };
    let (b_first, b_last) = (grid.block_of(axis, top), grid.block_of(axis, bottom));
    let touched = b_first.abs_diff(b_last) + 1;
    if touched < 4 {
        return None;
    }
    if block % t != 0 {
        // Output blocks of as many positions as fit in one input block's span, so that each
        // reads at most two input blocks (one when the step is longer than a block).
        let per = (block / t).max(1);
        let plan = AxisPlan::Strided { top, n, per, step };
        return Some((
            plan,
            AxisSizes::Regular {
                len: n,
                block: per,
                first: per,
            },
        ));
    }
    let group = |b: usize| -> Group {
        let (start, size) = (grid.block_offset(axis, b), grid.block_size(axis, b));
        if step > 0 {
            // The first selected position in the block: the first >= start that is lo mod t.
            let p = if start <= top {
                top
            } else {
                start + (t - (start - top) % t) % t
            };
            let end = (start + size).min(bottom + 1);
            (b, p - start, (end - p).div_ceil(t), step)
        } else {
            // Walking down: the highest selected position in the block.
            let last = start + size - 1;
            let p = if last >= top {
                top
            } else {
                last - (t - (top - last) % t) % t
            };
            (b, p - start, (p - start.max(bottom)) / t + 1, step)
        }
    };
    let head = group(b_first);
    let tail = group(b_last);
    let next = if step > 0 { b_first + 1 } else { b_first - 1 };
    let (_, first, count, _) = group(next);
    if head.2 > count || tail.2 > count || head.2 + tail.2 + (touched - 2) * count != n {
        return None;
    }
    let plan = AxisPlan::Uniform {
        head,
        middle: (first, count),
        nmiddle: touched - 2,
        tail,
    };
    Some((
        plan,
        AxisSizes::Regular {
            len: n,
            block: count,
            first: head.2,
        },
    ))
}

/// The box a slice with unit steps selects from an array of `shape` (`None` if a step is not
/// 1 or an index is out of range).
fn unit_window(info: &[SliceInfoElem], shape: &[usize]) -> Option<Window> {
    let mut start = Vec::with_capacity(shape.len());
    let mut axes = Vec::new();
    for e in info {
        let axis = start.len();
        match *e {
            SliceInfoElem::NewAxis => axes.push(None),
            SliceInfoElem::Index(i) => start.push(resolve(i, *shape.get(axis)?)?),
            SliceInfoElem::Slice {
                start: s, step: 1, ..
            } => {
                start.push(resolve(s, *shape.get(axis)?)?);
                axes.push(Some(axis));
            }
            SliceInfoElem::Slice { .. } => return None,
        }
    }
    Some(Window { start, axes })
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
                    out_sizes.push(AxisSizes::Explicit(vec![1]));
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
                    let grid = &self.node.grid;
                    let (plan, sizes) = match uniform_blocks(grid, axis, (lo, hi, n), step) {
                        Some(p) => p,
                        None => {
                            let top = first_position(lo, hi, n, step);
                            let groups = groups_of(grid, axis, top, step, 0..n);
                            let sizes = groups.iter().map(|g| g.2).collect();
                            (AxisPlan::Kept(groups), AxisSizes::Explicit(sizes))
                        }
                    };
                    out_axes.push(Some(axis));
                    out_sizes.push(sizes);
                    plans.push(plan);
                    axis += 1;
                }
            }
        }
        let grid = ChunkGrid::from_axes(out_sizes)?;
        let kernel = SliceKernel::<T> {
            from: self.node.grid.clone(),
            plans,
            out_axes,
            window: unit_window(info, &self.shape()),
            _t: PhantomData,
        };
        Ok(blocks(vec![self.node.clone()], grid, kernel))
    }
}
