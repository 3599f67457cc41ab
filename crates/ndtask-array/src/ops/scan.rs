//! Cumulative sums and products along an axis: each chunk is scanned on its own, the last slice
//! of every chunk is its total, and each output chunk adds (multiplies) the totals of the chunks
//! before it along the axis, combined in order, so the result is deterministic.

use crate::api::array::Array;
use crate::ops::layout::blocks;
use crate::plan::chunks::typed;
use crate::plan::BlockKernel;
use ndarray::{ArrayD, Axis, Slice};
use ndtask_core::{Chunk, ChunkGrid, Error, Fingerprint, Numeric, Result};
use std::marker::PhantomData;

#[derive(Clone, Copy)]
struct ScanOp {
    prod: bool,
}

impl ScanOp {
    fn apply<T: Numeric>(self, a: T, b: T) -> T {
        if self.prod {
            T::mul(a, b)
        } else {
            T::add(a, b)
        }
    }
    fn name(self) -> &'static str {
        if self.prod {
            "cumprod"
        } else {
            "cumsum"
        }
    }
}

/// Scans each chunk along the axis.
struct LocalScan<T> {
    from: ChunkGrid,
    axis: usize,
    op: ScanOp,
    _t: PhantomData<fn() -> T>,
}

impl<T: Numeric> BlockKernel for LocalScan<T> {
    fn exact(&self) -> bool {
        true
    }
    fn name(&self) -> String {
        format!("{}-local", self.op.name())
    }
    fn fingerprint(&self, h: &mut Fingerprint) {
        h.str(&self.name());
        h.usize(self.axis);
    }
    fn deps(&self, block: &[usize]) -> Vec<(usize, usize)> {
        vec![(0, self.from.ravel(block))]
    }
    fn run(&self, _: &[usize], inputs: &[&Chunk]) -> Result<Chunk> {
        let mut a = typed::<T>(inputs[0], "scan")?.clone();
        let op = self.op;
        a.accumulate_axis_inplace(Axis(self.axis), |&prev, cur| *cur = op.apply(prev, *cur));
        Ok(T::into_chunk(a))
    }
}

/// The last slice along the axis of each scanned chunk (its total), kept as length 1.
struct Totals<T> {
    from: ChunkGrid,
    axis: usize,
    _t: PhantomData<fn() -> T>,
}

impl<T: Numeric> BlockKernel for Totals<T> {
    fn exact(&self) -> bool {
        true
    }
    fn name(&self) -> String {
        "scan-totals".into()
    }
    fn fingerprint(&self, h: &mut Fingerprint) {
        h.str(&self.name());
        h.usize(self.axis);
    }
    fn deps(&self, block: &[usize]) -> Vec<(usize, usize)> {
        vec![(0, self.from.ravel(block))]
    }
    fn run(&self, _: &[usize], inputs: &[&Chunk]) -> Result<Chunk> {
        let a = typed::<T>(inputs[0], "scan")?;
        let n = a.shape()[self.axis];
        let last = a.slice_axis(Axis(self.axis), Slice::from(n.saturating_sub(1)..n));
        Ok(T::into_chunk(last.to_owned()))
    }
}

/// Adds the totals of the earlier chunks along the axis to a scanned chunk.
struct Carry<T> {
    local: ChunkGrid,
    totals: ChunkGrid,
    axis: usize,
    op: ScanOp,
    _t: PhantomData<fn() -> T>,
}

impl<T: Numeric> BlockKernel for Carry<T> {
    fn exact(&self) -> bool {
        true
    }
    fn name(&self) -> String {
        self.op.name().into()
    }
    fn fingerprint(&self, h: &mut Fingerprint) {
        h.str(&self.name());
        h.usize(self.axis);
    }
    fn deps(&self, block: &[usize]) -> Vec<(usize, usize)> {
        let mut deps = vec![(0, self.local.ravel(block))];
        let mut idx = block.to_vec();
        for j in 0..block[self.axis] {
            idx[self.axis] = j;
            deps.push((1, self.totals.ravel(&idx)));
        }
        deps
    }
    fn run(&self, _: &[usize], inputs: &[&Chunk]) -> Result<Chunk> {
        let (first, earlier) = inputs
            .split_first()
            .ok_or_else(|| Error::internal("scan without input"))?;
        let mut out: ArrayD<T> = typed::<T>(first, "scan")?.clone();
        if let Some((t0, rest)) = earlier.split_first() {
            let mut carry = typed::<T>(t0, "scan")?.clone();
            for t in rest {
                let op = self.op;
                carry.zip_mut_with(typed::<T>(t, "scan")?, |c, &x| *c = op.apply(*c, x));
            }
            let op = self.op;
            let carry = carry
                .broadcast(out.raw_dim())
                .ok_or_else(|| Error::internal("scan carry does not broadcast"))?;
            out.zip_mut_with(&carry, |o, &c| *o = op.apply(c, *o));
        }
        Ok(T::into_chunk(out))
    }
}

impl<T: Numeric> Array<T> {
    fn scan(&self, axis: usize, op: ScanOp) -> Result<Array<T>> {
        self.check()?;
        if axis >= self.ndim() {
            return Err(Error::Axis {
                op: op.name().into(),
                axis,
                ndim: self.ndim(),
                shape: self.shape(),
            });
        }
        let grid = self.node.grid.clone();
        let local: Array<T> = blocks(
            vec![self.node.clone()],
            grid.clone(),
            LocalScan::<T> {
                from: grid.clone(),
                axis,
                op,
                _t: PhantomData,
            },
        );
        let totals_grid = grid.with_axis_sizes(axis, vec![1; grid.nblocks()[axis]])?;
        let totals: Array<T> = blocks(
            vec![local.node.clone()],
            totals_grid.clone(),
            Totals::<T> {
                from: grid.clone(),
                axis,
                _t: PhantomData,
            },
        );
        let carry = Carry::<T> {
            local: grid.clone(),
            totals: totals_grid,
            axis,
            op,
            _t: PhantomData,
        };
        Ok(blocks(vec![local.node, totals.node], grid, carry))
    }

    /// Cumulative sum along `axis` (NumPy's `cumsum`).
    ///
    /// # Errors
    /// [`Error::Axis`] if `axis` is out of range.
    ///
    /// # Examples
    /// ```
    /// let x = ndtask_array::arange(1i64, 6, 1, [2])?.cumsum(0)?;
    /// assert_eq!(x.compute()?.iter().copied().collect::<Vec<_>>(), vec![1, 3, 6, 10, 15]);
    /// # Ok::<(), ndtask_core::Error>(())
    /// ```
    pub fn cumsum(&self, axis: usize) -> Result<Array<T>> {
        self.scan(axis, ScanOp { prod: false })
    }

    /// Cumulative product along `axis` (NumPy's `cumprod`).
    ///
    /// # Errors
    /// [`Error::Axis`] if `axis` is out of range.
    pub fn cumprod(&self, axis: usize) -> Result<Array<T>> {
        self.scan(axis, ScanOp { prod: true })
    }
}
