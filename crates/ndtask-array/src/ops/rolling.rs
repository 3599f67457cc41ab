//! Moving-window reductions along one axis (Xarray's `rolling(dim=n)`, pandas' `rolling`): each
//! output chunk reads its own input chunk and the neighbours its windows reach into, one task
//! per chunk. Windows are summed directly, position by position, in one order fixed by the
//! window, so every chunking and scheduler gives the same bits.

use crate::api::array::Array;
use crate::ops::layout::{blocks, overlapping};
use crate::plan::chunks::typed;
use crate::plan::BlockKernel;
use ndarray::{ArrayD, IxDyn};
use ndtask_core::{Chunk, ChunkGrid, Error, Fingerprint, Float, Result};
use std::marker::PhantomData;

/// What a moving window computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RollingReduce {
    /// The sum of the values that are not NaN.
    Sum,
    /// Their mean.
    Mean,
    /// The smallest of them.
    Min,
    /// The largest of them.
    Max,
    /// How many there are.
    Count,
}

impl RollingReduce {
    fn name(self) -> &'static str {
        match self {
            RollingReduce::Sum => "sum",
            RollingReduce::Mean => "mean",
            RollingReduce::Min => "min",
            RollingReduce::Max => "max",
            RollingReduce::Count => "count",
        }
    }
}

/// Moving windows along one axis of an array: made by [`Array::rolling`].
#[derive(Clone)]
pub struct Rolling<T> {
    array: Array<T>,
    axis: usize,
    window: usize,
    center: bool,
    min_periods: Option<usize>,
}

impl<T: Float> Array<T> {
    /// Windows of `window` positions along `axis`, each labelled by its last position (use
    /// [`Rolling::center`] to label by the middle). Positions outside the array count as
    /// missing, as NaN values do.
    ///
    /// # Errors
    /// [`Error::Shape`] for an axis out of range; [`Error::InvalidArgument`] for a window of 0.
    ///
    /// # Examples
    /// ```
    /// use ndtask_array::{from_ndarray, RollingReduce};
    /// let x = from_ndarray(ndarray::array![1.0f64, 2.0, 3.0, 4.0], [3])?;
    /// let m = x.rolling(0, 2)?.reduce(RollingReduce::Mean)?.compute()?;
    /// assert!(m[[0]].is_nan());
    /// assert_eq!(m.as_slice().map(|s| s[1..].to_vec()), Some(vec![1.5, 2.5, 3.5]));
    /// # Ok::<(), ndtask_core::Error>(())
    /// ```
    pub fn rolling(&self, axis: usize, window: usize) -> Result<Rolling<T>> {
        self.check()?;
        if axis >= self.ndim() {
            return Err(Error::Shape(format!(
                "rolling: axis {axis} is out of range for an array of {} axes",
                self.ndim()
            )));
        }
        if window == 0 {
            return Err(Error::InvalidArgument(
                "rolling: the window must hold at least 1 position".into(),
            ));
        }
        Ok(Rolling {
            array: self.clone(),
            axis,
            window,
            center: false,
            min_periods: None,
        })
    }
}

impl<T: Float> Rolling<T> {
    /// Labels each window by its middle position (for an even window, the one after the
    /// middle), as Xarray's `center=True`.
    pub fn center(mut self, center: bool) -> Self {
        self.center = center;
        self
    }

    /// The fewest values a window needs for a result (default: the window); fewer give NaN.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for 0 or more than the window.
    pub fn min_periods(mut self, n: usize) -> Result<Self> {
        if n == 0 || n > self.window {
            return Err(Error::InvalidArgument(format!(
                "rolling: min_periods {n} must be between 1 and the window {}",
                self.window
            )));
        }
        self.min_periods = Some(n);
        Ok(self)
    }

    /// Positions before and after each labelled position that its window holds.
    fn reach(&self) -> (usize, usize) {
        if self.center {
            (self.window / 2, self.window - 1 - self.window / 2)
        } else {
            (self.window - 1, 0)
        }
    }

    /// The windows' reduction, on the array's chunks.
    ///
    /// # Errors
    /// The array's own error, if it has one.
    pub fn reduce(&self, op: RollingReduce) -> Result<Array<T>> {
        let x = &self.array;
        x.check()?;
        let grid = x.node.grid.clone();
        let (before, after) = self.reach();
        Ok(blocks(
            vec![x.node.clone()],
            grid.clone(),
            Window::<T> {
                grid,
                axis: self.axis,
                before,
                after,
                min_periods: self.min_periods.unwrap_or(self.window),
                op,
                _t: PhantomData,
            },
        ))
    }
}

struct Window<T> {
    grid: ChunkGrid,
    axis: usize,
    before: usize,
    after: usize,
    min_periods: usize,
    op: RollingReduce,
    _t: PhantomData<fn() -> T>,
}

impl<T: Float> Window<T> {
    /// The positions block `i`'s windows read: `[lo, hi)`.
    fn span(&self, i: usize) -> (usize, usize) {
        let s = self.grid.block_offset(self.axis, i);
        let e = s + self.grid.block_size(self.axis, i);
        let len = self.grid.shape()[self.axis];
        (s.saturating_sub(self.before), (e + self.after).min(len))
    }
}

impl<T: Float> BlockKernel for Window<T> {
    fn exact(&self) -> bool {
        true
    }
    fn name(&self) -> String {
        format!("rolling-{}", self.op.name())
    }
    fn fingerprint(&self, h: &mut Fingerprint) {
        h.str(&self.name());
        h.usize(self.axis);
        h.usize(self.before);
        h.usize(self.after);
        h.usize(self.min_periods);
    }
    fn deps(&self, block: &[usize]) -> Vec<(usize, usize)> {
        let (lo, hi) = self.span(block[self.axis]);
        let mut idx = block.to_vec();
        overlapping(&self.grid, self.axis, lo, hi)
            .map(|j| {
                idx[self.axis] = j;
                (0, self.grid.ravel(&idx))
            })
            .collect()
    }
    fn run(&self, block: &[usize], inputs: &[&Chunk]) -> Result<Chunk> {
        let axis = self.axis;
        let i = block[axis];
        let (lo, hi) = self.span(i);
        let start = self.grid.block_offset(axis, i);
        let n = self.grid.block_size(axis, i);
        let shape = self.grid.chunk_shape(block);
        let pre: usize = shape[..axis].iter().product();
        let post: usize = shape[axis + 1..].iter().product();
        // The positions [lo, hi) of every row, gathered from the blocks that hold them.
        let span = hi - lo;
        let mut data = Vec::new();
        data.try_reserve_exact(pre * span * post).map_err(|_| {
            Error::Memory(format!(
                "rolling: a window buffer of {} values",
                pre * span * post
            ))
        })?;
        data.resize(pre * span * post, 0.0f64);
        let first = overlapping(&self.grid, axis, lo, hi).start;
        for (k, c) in inputs.iter().enumerate() {
            let part = typed::<T>(c, "rolling")?;
            let j = first + k;
            let off = self.grid.block_offset(axis, j);
            let m = self.grid.block_size(axis, j);
            let std = part.as_standard_layout();
            let v = std
                .as_slice()
                .ok_or_else(|| Error::internal("rolling: a chunk not contiguous"))?;
            for p in 0..pre {
                for t in off.max(lo)..(off + m).min(hi) {
                    let src = (p * m + (t - off)) * post;
                    let dst = (p * span + (t - lo)) * post;
                    for q in 0..post {
                        data[dst + q] = v[src + q].to_f64();
                    }
                }
            }
        }
        let mut out = vec![T::NAN; pre * n * post];
        let mut acc = vec![0.0f64; post];
        let mut cnt = vec![0usize; post];
        let min_periods = self.min_periods;
        for p in 0..pre {
            for t in start..start + n {
                let a = t.saturating_sub(self.before).max(lo);
                let b = (t + self.after + 1).min(hi);
                let init = match self.op {
                    RollingReduce::Min => f64::INFINITY,
                    RollingReduce::Max => f64::NEG_INFINITY,
                    _ => 0.0,
                };
                acc.iter_mut().for_each(|v| *v = init);
                cnt.iter_mut().for_each(|c| *c = 0);
                for w in a..b {
                    let row = &data[(p * span + (w - lo)) * post..(p * span + (w - lo) + 1) * post];
                    for ((s, c), &v) in acc.iter_mut().zip(cnt.iter_mut()).zip(row) {
                        if v.is_nan() {
                            continue;
                        }
                        *c += 1;
                        match self.op {
                            RollingReduce::Min => *s = s.min(v),
                            RollingReduce::Max => *s = s.max(v),
                            _ => *s += v,
                        }
                    }
                }
                let o = (p * n + (t - start)) * post;
                for q in 0..post {
                    if cnt[q] < min_periods {
                        continue;
                    }
                    let v = match self.op {
                        RollingReduce::Mean => acc[q] / cnt[q] as f64,
                        RollingReduce::Count => cnt[q] as f64,
                        _ => acc[q],
                    };
                    out[o + q] = T::from_f64(v);
                }
            }
        }
        Ok(T::into_chunk(
            ArrayD::from_shape_vec(IxDyn(&shape), out).map_err(Error::internal)?,
        ))
    }
}
