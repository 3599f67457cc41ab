//! Group-wise reductions and arithmetic along one axis, as flox does for Dask: every position
//! of the axis belongs to one group (or none), and a reduction per group costs one task per
//! input chunk, a short merge tree, and nothing per group.
//!
//! Each input chunk folds its positions into *partial states* for the groups it holds (a sum
//! and a count for a mean; a count, a mean and a sum of squared deviations for a variance), laid
//! along the axis as `(group - first group of the chunk) * states + state`. Partials of
//! neighbouring chunks are merged in order, `split_every` at a time, until each output chunk
//! reads at most `split_every` of them; the last merge turns states into values. The merges run
//! in one order fixed by the chunking, so every scheduler gives the same bits.
//!
//! [`GroupBy::apply`] is the other half of an anomaly: `x op g[group(t)]` for an array `g`
//! holding one value per group (a climatology), one task per input chunk.

use crate::api::array::Array;
use crate::ops::creation::full;
use crate::ops::layout::blocks;
use crate::plan::chunks::{try_array, typed};
use crate::plan::BlockKernel;
use ndarray::{ArrayD, IxDyn};
use ndtask_core::{Chunk, ChunkGrid, Chunks, Element, Error, Fingerprint, Float, Result};
use std::marker::PhantomData;
use std::sync::Arc;

/// The code of a position in no group.
const NONE: u32 = u32::MAX;

/// What a group-wise reduction computes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum GroupReduce {
    /// The sum (0 for a group whose values are all NaN when skipping NaN).
    Sum,
    /// The product.
    Prod,
    /// The mean.
    Mean,
    /// The smallest value.
    Min,
    /// The largest value.
    Max,
    /// The variance with `ddof` delta degrees of freedom.
    Var(f64),
    /// The standard deviation with `ddof` delta degrees of freedom.
    Std(f64),
    /// The number of values (not NaN when skipping NaN); use [`GroupBy::count`].
    Count,
}

impl GroupReduce {
    /// The number of partial states per group.
    fn states(self) -> usize {
        match self {
            GroupReduce::Count => 1,
            GroupReduce::Var(_) | GroupReduce::Std(_) => 3,
            _ => 2,
        }
    }
    fn name(self) -> &'static str {
        match self {
            GroupReduce::Sum => "sum",
            GroupReduce::Prod => "prod",
            GroupReduce::Mean => "mean",
            GroupReduce::Min => "min",
            GroupReduce::Max => "max",
            GroupReduce::Var(_) => "var",
            GroupReduce::Std(_) => "std",
            GroupReduce::Count => "count",
        }
    }
    fn fingerprint(self, h: &mut Fingerprint) {
        h.str(self.name());
        if let GroupReduce::Var(d) | GroupReduce::Std(d) = self {
            h.f64(d);
        }
    }
}

/// The arithmetic of [`GroupBy::apply`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupArith {
    /// `x + g`
    Add,
    /// `x - g`
    Sub,
    /// `x * g`
    Mul,
    /// `x / g`
    Div,
}

impl GroupArith {
    fn name(self) -> &'static str {
        match self {
            GroupArith::Add => "add",
            GroupArith::Sub => "sub",
            GroupArith::Mul => "mul",
            GroupArith::Div => "div",
        }
    }
    #[inline(always)]
    fn apply(self, a: f64, b: f64) -> f64 {
        match self {
            GroupArith::Add => a + b,
            GroupArith::Sub => a - b,
            GroupArith::Mul => a * b,
            GroupArith::Div => a / b,
        }
    }
}

/// An array with every position along one axis assigned to a group: made by
/// [`Array::group_by`].
#[derive(Clone)]
pub struct GroupBy<T> {
    array: Array<T>,
    axis: usize,
    codes: Arc<[u32]>,
    ngroups: usize,
    split_every: usize,
    skipna: bool,
}

impl<T: Float> Array<T> {
    /// Groups the positions along `axis`: `codes[i]` is the group of position `i` (below
    /// `ngroups`), or `None` for a position in no group.
    ///
    /// # Errors
    /// [`Error::Shape`] for an axis out of range, or `codes` of another length than the axis;
    /// [`Error::InvalidArgument`] for a code not below `ngroups`, or more than `u32::MAX - 1` groups.
    ///
    /// # Examples
    /// ```
    /// use ndtask_array::{from_ndarray, GroupReduce};
    /// let x = from_ndarray(ndarray::array![1.0, 2.0, 3.0, 4.0, 5.0], [2])?;
    /// // Odd and even positions.
    /// let g = x.group_by(0, &[Some(0), Some(1), Some(0), Some(1), Some(0)], 2)?;
    /// assert_eq!(g.reduce(GroupReduce::Mean)?.compute()?.into_raw_vec_and_offset().0, vec![3.0, 3.0]);
    /// # Ok::<(), ndtask_core::Error>(())
    /// ```
    pub fn group_by(
        &self,
        axis: usize,
        codes: &[Option<usize>],
        ngroups: usize,
    ) -> Result<GroupBy<T>> {
        self.check()?;
        let shape = self.shape();
        let Some(&len) = shape.get(axis) else {
            return Err(Error::Shape(format!(
                "group_by: axis {axis} is out of range for an array of {} axes",
                shape.len()
            )));
        };
        if codes.len() != len {
            return Err(Error::Shape(format!(
                "group_by: {} group codes for axis {axis} of length {len}",
                codes.len()
            )));
        }
        if ngroups >= NONE as usize {
            return Err(Error::InvalidArgument(format!(
                "group_by: {ngroups} groups are too many"
            )));
        }
        let mut out = Vec::with_capacity(len);
        for (i, c) in codes.iter().enumerate() {
            out.push(match *c {
                None => NONE,
                Some(g) if g < ngroups => g as u32,
                Some(g) => {
                    return Err(Error::InvalidArgument(format!(
                        "group_by: position {i} is in group {g}, not below the {ngroups} groups"
                    )))
                }
            });
        }
        Ok(GroupBy {
            array: self.clone(),
            axis,
            codes: out.into(),
            ngroups,
            split_every: 8,
            skipna: true,
        })
    }
}

/// The first and one past the last group that positions `[lo, hi)` hold (`0..1` for none, so
/// every partial has a place on the grid).
fn group_range(codes: &[u32], lo: usize, hi: usize) -> (usize, usize) {
    let mut r: Option<(usize, usize)> = None;
    for &c in &codes[lo..hi] {
        if c != NONE {
            let c = c as usize;
            r = Some(match r {
                None => (c, c + 1),
                Some((a, b)) => (a.min(c), b.max(c + 1)),
            });
        }
    }
    r.unwrap_or((0, 1))
}

/// One level of partial states along the axis: the group range of each block.
#[derive(Clone)]
struct Level {
    grid: ChunkGrid,
    ranges: Vec<(usize, usize)>,
}

fn union(ranges: &[(usize, usize)]) -> (usize, usize) {
    let lo = ranges.iter().map(|r| r.0).min().unwrap_or(0);
    let hi = ranges.iter().map(|r| r.1).max().unwrap_or(1);
    (lo, hi)
}

fn overlaps(a: (usize, usize), b: (usize, usize)) -> bool {
    a.0 < b.1 && b.0 < a.1
}

impl<T: Float> GroupBy<T> {
    /// Merges at most `n` partials per task (default 8; at least 2).
    pub fn split_every(mut self, n: usize) -> Self {
        self.split_every = n.max(2);
        self
    }

    /// Whether NaN values are skipped (the default, as Xarray's `skipna=True` for floats) or
    /// make their group's result NaN.
    pub fn skipna(mut self, skip: bool) -> Self {
        self.skipna = skip;
        self
    }

    /// The number of groups.
    pub fn ngroups(&self) -> usize {
        self.ngroups
    }

    /// The number of positions in each group.
    pub fn sizes(&self) -> Vec<usize> {
        let mut n = vec![0; self.ngroups];
        for &c in self.codes.iter() {
            if c != NONE {
                n[c as usize] += 1;
            }
        }
        n
    }

    /// The output chunks along the group axis: as many groups per chunk as the input has
    /// positions per chunk, so an output chunk is no bigger than an input chunk.
    fn out_sizes(&self) -> Vec<usize> {
        let step = self
            .array
            .node
            .grid
            .max_chunk_shape()
            .get(self.axis)
            .copied()
            .unwrap_or(1)
            .max(1);
        let mut sizes = Vec::new();
        let mut left = self.ngroups;
        while left > 0 {
            sizes.push(step.min(left));
            left -= step.min(left);
        }
        sizes
    }

    /// The reduction of every group: the axis becomes the groups (in order of their codes). A
    /// group with no position at all is NaN whatever the reduction (as Xarray's resample of an
    /// empty bin).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for [`GroupReduce::Count`] (use [`GroupBy::count`]).
    pub fn reduce(&self, op: GroupReduce) -> Result<Array<T>> {
        if op == GroupReduce::Count {
            return Err(Error::InvalidArgument(
                "group_by: reduce(Count) has integer results; use count()".into(),
            ));
        }
        self.build::<T>(op)
    }

    /// The number of values in every group (not NaN ones when skipping NaN).
    pub fn count(&self) -> Result<Array<i64>> {
        self.build::<i64>(GroupReduce::Count)
    }

    fn build<O: ndtask_core::Element>(&self, op: GroupReduce) -> Result<Array<O>> {
        let x = &self.array;
        x.check()?;
        let grid = x.node.grid.clone();
        let axis = self.axis;
        let len = grid.shape()[axis];
        let out_sizes = self.out_sizes();
        let mut out_shape = grid.shape();
        out_shape[axis] = self.ngroups;
        if len == 0 || self.ngroups == 0 || grid.num_chunks() == 0 {
            // Nothing to fold: every group is empty.
            let mut chunks: Vec<Vec<usize>> = x.chunks();
            chunks[axis] = out_sizes;
            let fill = if op == GroupReduce::Count {
                0.0
            } else {
                f64::NAN
            };
            return full(out_shape, Chunks::Explicit(chunks), O::from_f64(fill));
        }
        let states = op.states();
        let nb = grid.nblocks()[axis];
        let ranges: Vec<(usize, usize)> = (0..nb)
            .map(|i| {
                let lo = grid.block_offset(axis, i);
                group_range(&self.codes, lo, lo + grid.block_size(axis, i))
            })
            .collect();
        let level0 = Level {
            grid: grid
                .with_axis_sizes(axis, ranges.iter().map(|r| (r.1 - r.0) * states).collect())?,
            ranges,
        };
        let mut partial: Array<f64> = blocks(
            vec![x.node.clone()],
            level0.grid.clone(),
            Partial::<T> {
                from: grid.clone(),
                axis,
                codes: self.codes.clone(),
                ranges: level0.ranges.clone(),
                op,
                skipna: self.skipna,
                _t: PhantomData,
            },
        );
        let mut level = level0;
        // The output chunks along the group axis.
        let mut outs = Vec::new();
        let mut start = 0;
        for &s in &out_sizes {
            outs.push((start, start + s));
            start += s;
        }
        let readers = |level: &Level| -> usize {
            outs.iter()
                .map(|&o| level.ranges.iter().filter(|&&r| overlaps(r, o)).count())
                .max()
                .unwrap_or(0)
        };
        while readers(&level) > self.split_every {
            let k = self.split_every;
            let groups: Vec<Vec<usize>> = (0..level.ranges.len())
                .collect::<Vec<_>>()
                .chunks(k)
                .map(<[usize]>::to_vec)
                .collect();
            let ranges: Vec<(usize, usize)> = groups
                .iter()
                .map(|g| union(&g.iter().map(|&i| level.ranges[i]).collect::<Vec<_>>()))
                .collect();
            let next = Level {
                grid: level
                    .grid
                    .with_axis_sizes(axis, ranges.iter().map(|r| (r.1 - r.0) * states).collect())?,
                ranges,
            };
            partial = blocks(
                vec![partial.node.clone()],
                next.grid.clone(),
                Merge {
                    grid: next.grid.clone(),
                    from: level.clone(),
                    into: groups
                        .iter()
                        .zip(&next.ranges)
                        .map(|(g, &r)| (g.clone(), r))
                        .collect(),
                    axis,
                    op,
                    finish: None,
                },
            );
            level = next;
        }
        let out_grid = grid.with_axis_sizes(axis, out_sizes)?;
        let into = outs
            .iter()
            .map(|&o| {
                let from: Vec<usize> = (0..level.ranges.len())
                    .filter(|&i| overlaps(level.ranges[i], o))
                    .collect();
                (from, o)
            })
            .collect();
        let sizes = self.sizes();
        Ok(blocks(
            vec![partial.node.clone()],
            out_grid.clone(),
            Merge {
                grid: out_grid,
                from: level,
                into,
                axis,
                op,
                finish: Some(Finish {
                    empty: sizes.iter().map(|&n| n == 0).collect(),
                    dtype: O::DTYPE,
                }),
            },
        ))
    }

    /// `x op g[group]` along the axis, where `g` has this array's shape but for the axis, which
    /// holds one value per group (a climatology for an anomaly); positions in no group are
    /// NaN. One task per chunk of `x`; the output has `x`'s chunks.
    ///
    /// # Errors
    /// [`Error::Shape`] if `g` does not have that shape.
    pub fn apply(&self, op: GroupArith, g: &Array<T>) -> Result<Array<T>> {
        let x = &self.array;
        x.check()?;
        g.check()?;
        let mut want = x.shape();
        want[self.axis] = self.ngroups;
        if g.shape() != want {
            return Err(Error::Shape(format!(
                "group_by apply: the values per group have shape {:?}, the groups of this array need {:?}",
                g.shape(),
                want
            )));
        }
        if self.ngroups == 0 || x.is_empty() {
            return full(x.shape(), Chunks::Explicit(x.chunks()), T::NAN);
        }
        // The values per group, chunked as x on every other axis.
        let mut chunks = x.chunks();
        chunks[self.axis] = g.chunks()[self.axis].clone();
        let g = g.rechunk(Chunks::Explicit(chunks))?;
        let grid = x.node.grid.clone();
        let axis = self.axis;
        Ok(blocks(
            vec![x.node.clone(), g.node.clone()],
            grid.clone(),
            Apply::<T> {
                from: grid,
                groups: g.node.grid.clone(),
                axis,
                codes: self.codes.clone(),
                op,
                _t: PhantomData,
            },
        ))
    }
}

/// Views `a` as `(before, along, after)` around `axis`.
fn three(shape: &[usize], axis: usize) -> (usize, usize, usize) {
    let pre = shape[..axis].iter().product();
    let post = shape[axis + 1..].iter().product();
    (pre, shape[axis], post)
}

fn contiguous<T: Clone>(a: &ArrayD<T>) -> std::borrow::Cow<'_, [T]> {
    match a.as_slice() {
        Some(s) => std::borrow::Cow::Borrowed(s),
        None => std::borrow::Cow::Owned(a.iter().cloned().collect()),
    }
}

fn hash_codes(h: &mut Fingerprint, codes: &[u32]) {
    h.usize(codes.len());
    codes.iter().for_each(|&c| h.u64(u64::from(c)));
}

/// Folds one input chunk into partial states.
struct Partial<T> {
    from: ChunkGrid,
    axis: usize,
    codes: Arc<[u32]>,
    ranges: Vec<(usize, usize)>,
    op: GroupReduce,
    skipna: bool,
    _t: PhantomData<fn() -> T>,
}

/// The starting value of a group's first state (the others start at 0).
fn identity(op: GroupReduce) -> f64 {
    match op {
        GroupReduce::Prod => 1.0,
        GroupReduce::Min => f64::INFINITY,
        GroupReduce::Max => f64::NEG_INFINITY,
        _ => 0.0,
    }
}

fn nan_min(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.min(b)
    }
}

fn nan_max(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.max(b)
    }
}

impl<T: Float> BlockKernel for Partial<T> {
    fn exact(&self) -> bool {
        true
    }
    fn name(&self) -> String {
        format!("groupby-{}-partial", self.op.name())
    }
    fn fingerprint(&self, h: &mut Fingerprint) {
        h.str("groupby-partial");
        self.op.fingerprint(h);
        h.usize(self.axis);
        h.u8(u8::from(self.skipna));
        hash_codes(h, &self.codes);
    }
    fn deps(&self, block: &[usize]) -> Vec<(usize, usize)> {
        vec![(0, self.from.ravel(block))]
    }
    fn run(&self, block: &[usize], inputs: &[&Chunk]) -> Result<Chunk> {
        let x = typed::<T>(inputs[0], "groupby")?;
        let (pre, n, post) = three(x.shape(), self.axis);
        let first = self.from.block_offset(self.axis, block[self.axis]);
        let (lo, hi) = self.ranges[block[self.axis]];
        let s = self.op.states();
        let width = (hi - lo) * s;
        let mut shape = x.shape().to_vec();
        shape[self.axis] = width;
        let mut out = try_array::<f64>(&shape, "groupby partial states")?;
        let values = contiguous(x);
        let o = out
            .as_slice_mut()
            .ok_or_else(|| Error::internal("groupby: partial states not contiguous"))?;
        // Rows of `post` values: states row (p, (g - lo) * s + k).
        let row = |p: usize, g: usize, k: usize| ((p * width) + (g - lo) * s + k) * post;
        let init = identity(self.op);
        for p in 0..pre {
            for g in lo..hi {
                let r = row(p, g, 0);
                o[r..r + post].iter_mut().for_each(|v| *v = init);
            }
        }
        let skip = self.skipna;
        for p in 0..pre {
            for t in 0..n {
                let c = self.codes[first + t];
                if c == NONE {
                    continue;
                }
                let g = c as usize;
                let src = &values[(p * n + t) * post..(p * n + t + 1) * post];
                match self.op {
                    GroupReduce::Count => {
                        let r = row(p, g, 0);
                        for (a, &v) in o[r..r + post].iter_mut().zip(src) {
                            *a += if skip && v.is_nan() { 0.0 } else { 1.0 };
                        }
                    }
                    GroupReduce::Sum | GroupReduce::Mean | GroupReduce::Prod => {
                        let prod = self.op == GroupReduce::Prod;
                        let r = row(p, g, 0);
                        let (acc, cnt) = o[r..r + 2 * post].split_at_mut(post);
                        for ((a, c), &v) in acc.iter_mut().zip(cnt).zip(src) {
                            let v = v.to_f64();
                            if skip && v.is_nan() {
                                continue;
                            }
                            if prod {
                                *a *= v;
                            } else {
                                *a += v;
                            }
                            *c += 1.0;
                        }
                    }
                    GroupReduce::Min | GroupReduce::Max => {
                        let max = self.op == GroupReduce::Max;
                        let r = row(p, g, 0);
                        let (acc, cnt) = o[r..r + 2 * post].split_at_mut(post);
                        for ((a, c), &v) in acc.iter_mut().zip(cnt).zip(src) {
                            let v = v.to_f64();
                            if skip && v.is_nan() {
                                continue;
                            }
                            *a = if max { nan_max(*a, v) } else { nan_min(*a, v) };
                            *c += 1.0;
                        }
                    }
                    GroupReduce::Var(_) | GroupReduce::Std(_) => {
                        // First pass: the count and the sum (made a mean below).
                        let r = row(p, g, 0);
                        let (cnt, rest) = o[r..r + 3 * post].split_at_mut(post);
                        for ((c, a), &v) in cnt.iter_mut().zip(&mut rest[..post]).zip(src) {
                            let v = v.to_f64();
                            if skip && v.is_nan() {
                                continue;
                            }
                            *a += v;
                            *c += 1.0;
                        }
                    }
                }
            }
        }
        if let GroupReduce::Var(_) | GroupReduce::Std(_) = self.op {
            // The mean of each group, then the squared deviations from it.
            for p in 0..pre {
                for g in lo..hi {
                    let r = row(p, g, 0);
                    let (cnt, rest) = o[r..r + 2 * post].split_at_mut(post);
                    for (c, a) in cnt.iter().zip(rest.iter_mut()) {
                        *a = if *c > 0.0 { *a / *c } else { 0.0 };
                    }
                }
            }
            for p in 0..pre {
                for t in 0..n {
                    let c = self.codes[first + t];
                    if c == NONE {
                        continue;
                    }
                    let r = row(p, c as usize, 1);
                    let src = &values[(p * n + t) * post..(p * n + t + 1) * post];
                    let (mean, m2) = o[r..r + 2 * post].split_at_mut(post);
                    for ((m, a), &v) in mean.iter().zip(m2.iter_mut()).zip(src) {
                        let v = v.to_f64();
                        if skip && v.is_nan() {
                            continue;
                        }
                        *a += (v - m) * (v - m);
                    }
                }
            }
        }
        Ok(f64::into_chunk(out))
    }
}

/// How the last merge turns states into values.
#[derive(Clone)]
struct Finish {
    /// Groups with no position at all.
    empty: Vec<bool>,
    dtype: ndtask_core::DType,
}

/// Merges partial states of neighbouring blocks; the last level finishes them into values.
struct Merge {
    /// The output grid.
    grid: ChunkGrid,
    from: Level,
    /// For each output block along the axis: the input blocks it merges and its group range.
    into: Vec<(Vec<usize>, (usize, usize))>,
    axis: usize,
    op: GroupReduce,
    finish: Option<Finish>,
}

/// Merges the states `b` (of `n` positions' rows) into `a`, in place.
fn merge_states(op: GroupReduce, a: &mut [&mut [f64]], b: &[&[f64]]) {
    match op {
        GroupReduce::Count => a[0].iter_mut().zip(b[0]).for_each(|(x, y)| *x += y),
        GroupReduce::Sum | GroupReduce::Mean => {
            a[0].iter_mut().zip(b[0]).for_each(|(x, y)| *x += y);
            a[1].iter_mut().zip(b[1]).for_each(|(x, y)| *x += y);
        }
        GroupReduce::Prod => {
            a[0].iter_mut().zip(b[0]).for_each(|(x, y)| *x *= y);
            a[1].iter_mut().zip(b[1]).for_each(|(x, y)| *x += y);
        }
        GroupReduce::Min => {
            a[0].iter_mut()
                .zip(b[0])
                .for_each(|(x, y)| *x = nan_min(*x, *y));
            a[1].iter_mut().zip(b[1]).for_each(|(x, y)| *x += y);
        }
        GroupReduce::Max => {
            a[0].iter_mut()
                .zip(b[0])
                .for_each(|(x, y)| *x = nan_max(*x, *y));
            a[1].iter_mut().zip(b[1]).for_each(|(x, y)| *x += y);
        }
        GroupReduce::Var(_) | GroupReduce::Std(_) => {
            // Chan et al.: counts add, means meet weighted, deviations add with a correction.
            let [n, mean, m2] = a else { return };
            for i in 0..n.len() {
                let (na, nb) = (n[i], b[0][i]);
                if nb == 0.0 {
                    continue;
                }
                if na == 0.0 {
                    n[i] = nb;
                    mean[i] = b[1][i];
                    m2[i] = b[2][i];
                    continue;
                }
                let total = na + nb;
                let delta = b[1][i] - mean[i];
                mean[i] += delta * nb / total;
                m2[i] += b[2][i] + delta * delta * na * nb / total;
                n[i] = total;
            }
        }
    }
}

/// The value of a group from its states.
fn finish_value(op: GroupReduce, s: &[f64]) -> f64 {
    match op {
        GroupReduce::Count => s[0],
        GroupReduce::Sum | GroupReduce::Prod => s[0],
        GroupReduce::Mean => {
            if s[1] > 0.0 {
                s[0] / s[1]
            } else {
                f64::NAN
            }
        }
        GroupReduce::Min | GroupReduce::Max => {
            if s[1] > 0.0 {
                s[0]
            } else {
                f64::NAN
            }
        }
        GroupReduce::Var(ddof) | GroupReduce::Std(ddof) => {
            let dof = s[0] - ddof;
            let v = if dof > 0.0 { s[2] / dof } else { f64::NAN };
            if let GroupReduce::Std(_) = op {
                v.sqrt()
            } else {
                v
            }
        }
    }
}

impl BlockKernel for Merge {
    fn exact(&self) -> bool {
        true
    }
    fn name(&self) -> String {
        if self.finish.is_some() {
            format!("groupby-{}", self.op.name())
        } else {
            format!("groupby-{}-merge", self.op.name())
        }
    }
    fn fingerprint(&self, h: &mut Fingerprint) {
        h.str("groupby-merge");
        self.op.fingerprint(h);
        h.usize(self.axis);
        for (from, (lo, hi)) in &self.into {
            h.usize(from.len());
            from.iter().for_each(|&i| h.usize(i));
            h.usize(*lo);
            h.usize(*hi);
        }
        self.from.ranges.iter().for_each(|&(lo, hi)| {
            h.usize(lo);
            h.usize(hi);
        });
        if let Some(f) = &self.finish {
            h.str(f.dtype.name());
            f.empty.iter().for_each(|&e| h.u8(u8::from(e)));
        }
    }
    fn deps(&self, block: &[usize]) -> Vec<(usize, usize)> {
        let mut idx = block.to_vec();
        self.into[block[self.axis]]
            .0
            .iter()
            .map(|&i| {
                idx[self.axis] = i;
                (0, self.from.grid.ravel(&idx))
            })
            .collect()
    }
    fn run(&self, block: &[usize], inputs: &[&Chunk]) -> Result<Chunk> {
        let (from, (lo, hi)) = &self.into[block[self.axis]];
        let (lo, hi) = (*lo, *hi);
        let s = self.op.states();
        let width = (hi - lo) * s;
        let mut shape = self.grid.chunk_shape(block);
        shape[self.axis] = width;
        let (pre, _, post) = three(&shape, self.axis);
        let mut acc = try_array::<f64>(&shape, "groupby merged states")?;
        let a = acc
            .as_slice_mut()
            .ok_or_else(|| Error::internal("groupby: merged states not contiguous"))?;
        let init = identity(self.op);
        for p in 0..pre {
            for g in 0..hi - lo {
                let r = (p * width + g * s) * post;
                a[r..r + post].iter_mut().for_each(|v| *v = init);
            }
        }
        for (&i, chunk) in from.iter().zip(inputs) {
            let part = typed::<f64>(chunk, "groupby merge")?;
            let values = contiguous(part);
            let (plo, phi) = self.from.ranges[i];
            let pw = (phi - plo) * s;
            for p in 0..pre {
                for g in plo.max(lo)..phi.min(hi) {
                    let dst = (p * width + (g - lo) * s) * post;
                    let src = (p * pw + (g - plo) * s) * post;
                    let mut rows: Vec<&mut [f64]> =
                        a[dst..dst + s * post].chunks_mut(post).collect();
                    let theirs: Vec<&[f64]> = values[src..src + s * post].chunks(post).collect();
                    merge_states(self.op, &mut rows, &theirs);
                }
            }
        }
        let Some(finish) = &self.finish else {
            return Ok(f64::into_chunk(acc));
        };
        let mut out_shape = shape.clone();
        out_shape[self.axis] = hi - lo;
        let mut out = vec![0.0; pre * (hi - lo) * post];
        let mut states = vec![0.0; s];
        for p in 0..pre {
            for g in lo..hi {
                for q in 0..post {
                    let o = (p * (hi - lo) + (g - lo)) * post + q;
                    if finish.empty[g] {
                        out[o] = f64::NAN;
                        continue;
                    }
                    for (k, st) in states.iter_mut().enumerate() {
                        *st = a[(p * width + (g - lo) * s + k) * post + q];
                    }
                    out[o] = finish_value(self.op, &states);
                }
            }
        }
        let out = ArrayD::from_shape_vec(IxDyn(&out_shape), out).map_err(Error::internal)?;
        Ok(match finish.dtype {
            ndtask_core::DType::F32 => f32::into_chunk(out.mapv(|v| v as f32)),
            ndtask_core::DType::I64 => {
                i64::into_chunk(out.mapv(|v| if v.is_nan() { 0 } else { v as i64 }))
            }
            _ => f64::into_chunk(out),
        })
    }
}

/// `x op g[group]` for one chunk of `x`.
struct Apply<T> {
    from: ChunkGrid,
    groups: ChunkGrid,
    axis: usize,
    codes: Arc<[u32]>,
    op: GroupArith,
    _t: PhantomData<fn() -> T>,
}

impl<T: Float> Apply<T> {
    /// The blocks of the values per group along the axis that chunk `i` of `x` reads.
    fn group_blocks(&self, i: usize) -> std::ops::Range<usize> {
        let lo = self.from.block_offset(self.axis, i);
        let (a, b) = group_range(&self.codes, lo, lo + self.from.block_size(self.axis, i));
        self.groups.block_of(self.axis, a)..self.groups.block_of(self.axis, b - 1) + 1
    }
}

impl<T: Float> BlockKernel for Apply<T> {
    fn exact(&self) -> bool {
        true
    }
    fn name(&self) -> String {
        format!("groupby-{}", self.op.name())
    }
    fn fingerprint(&self, h: &mut Fingerprint) {
        h.str("groupby-apply");
        h.str(self.op.name());
        h.usize(self.axis);
        hash_codes(h, &self.codes);
    }
    fn deps(&self, block: &[usize]) -> Vec<(usize, usize)> {
        let mut deps = vec![(0, self.from.ravel(block))];
        let mut idx = block.to_vec();
        for j in self.group_blocks(block[self.axis]) {
            idx[self.axis] = j;
            deps.push((1, self.groups.ravel(&idx)));
        }
        deps
    }
    fn run(&self, block: &[usize], inputs: &[&Chunk]) -> Result<Chunk> {
        let x = typed::<T>(inputs[0], "groupby apply")?;
        let (pre, n, post) = three(x.shape(), self.axis);
        let first = self.from.block_offset(self.axis, block[self.axis]);
        let blocks = self.group_blocks(block[self.axis]);
        let parts: Vec<(usize, usize, std::borrow::Cow<'_, [T]>)> = blocks
            .zip(&inputs[1..])
            .map(|(j, c)| {
                Ok((
                    self.groups.block_offset(self.axis, j),
                    self.groups.block_size(self.axis, j),
                    contiguous(typed::<T>(c, "groupby apply")?),
                ))
            })
            .collect::<Result<_>>()?;
        let values = contiguous(x);
        let mut out = Vec::new();
        out.try_reserve_exact(values.len()).map_err(|_| {
            Error::Memory(format!("groupby apply: a chunk of {} values", values.len()))
        })?;
        for p in 0..pre {
            for t in 0..n {
                let src = &values[(p * n + t) * post..(p * n + t + 1) * post];
                let c = self.codes[first + t];
                let part = (c != NONE)
                    .then(|| {
                        parts
                            .iter()
                            .find(|(o, s, _)| (c as usize) >= *o && (c as usize) < o + s)
                    })
                    .flatten();
                match part {
                    None => out.extend(std::iter::repeat_n(T::NAN, post)),
                    Some((o, s, g)) => {
                        let r = (p * s + (c as usize - o)) * post;
                        let gv = &g[r..r + post];
                        out.extend(
                            src.iter()
                                .zip(gv)
                                .map(|(&a, &b)| T::from_f64(self.op.apply(a.to_f64(), b.to_f64()))),
                        );
                    }
                }
            }
        }
        Ok(T::into_chunk(
            ArrayD::from_shape_vec(IxDyn(x.shape()), out).map_err(Error::internal)?,
        ))
    }
}
