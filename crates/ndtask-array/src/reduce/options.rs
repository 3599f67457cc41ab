//! Reductions as trees: each chunk becomes a partial state, states are merged in groups of
//! `split_every` (Dask's parameter) in a fixed order, and the last merge finalises the result.
//! The fixed grouping and order make results bit-identical on every scheduler. This module is
//! the API that builds reduction nodes; the reductions themselves are in `reductions`.

use crate::api::array::Array;
use crate::plan::{Node, NodeKind, ReduceSpec};
use crate::reduce::reduction::ReduceKernel;
use ndtask_core::{ChunkGrid, Element, Error, Result};
use std::sync::Arc;

/// Default number of partial states merged by one task (Dask's `split_every`).
pub const DEFAULT_SPLIT_EVERY: usize = 4;

/// Which axes to reduce, whether to keep them, and the fan-in of the tree.
///
/// # Examples
/// ```
/// use ndtask_array::{ones, ReduceOptions};
/// let x = ones::<f64>([4, 6], [2, 3])?;
/// let s = x.sum_with(&ReduceOptions::axes([1]).keepdims(true).split_every(2))?;
/// assert_eq!(s.shape(), vec![4, 1]);
/// assert_eq!(s.compute()?[[3, 0]], 6.0);
/// # Ok::<(), ndtask_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReduceOptions {
    axes: Option<Vec<usize>>,
    keepdims: bool,
    split_every: usize,
}

impl Default for ReduceOptions {
    fn default() -> Self {
        ReduceOptions {
            axes: None,
            keepdims: false,
            split_every: DEFAULT_SPLIT_EVERY,
        }
    }
}

impl ReduceOptions {
    /// Reduce over all axes.
    pub fn all() -> Self {
        Self::default()
    }

    /// Reduce over the given axes.
    pub fn axes(axes: impl AsRef<[usize]>) -> Self {
        ReduceOptions {
            axes: Some(axes.as_ref().to_vec()),
            ..Self::default()
        }
    }

    /// Keep reduced axes with length 1.
    pub fn keepdims(mut self, keep: bool) -> Self {
        self.keepdims = keep;
        self
    }

    pub(crate) fn axes_list(&self) -> Option<&[usize]> {
        self.axes.as_deref()
    }

    /// How many partial states one task merges (at least 2).
    pub fn split_every(mut self, n: usize) -> Self {
        self.split_every = n;
        self
    }
}

impl<T: Element> Array<T> {
    /// Builds a reduction node with `kernel` over the axes in `opts`.
    pub(crate) fn reduce<O: Element>(
        &self,
        op: &str,
        kernel: Arc<dyn ReduceKernel>,
        opts: &ReduceOptions,
    ) -> Result<Array<O>> {
        self.check()?;
        let ndim = self.ndim();
        let shape = self.shape();
        let mut axes = match &opts.axes {
            None => (0..ndim).collect(),
            Some(a) => a.clone(),
        };
        if let Some(&axis) = axes.iter().find(|&&a| a >= ndim) {
            return Err(Error::Axis {
                op: op.to_string(),
                axis,
                ndim,
                shape,
            });
        }
        axes.sort_unstable();
        if let Some(w) = axes.windows(2).find(|w| w[0] == w[1]) {
            return Err(Error::InvalidArgument(format!(
                "{op}: axis {} is repeated in the axes {:?}",
                w[0],
                opts.axes.as_deref().unwrap_or_default()
            )));
        }
        if opts.split_every < 2 {
            // Any value from 2 up is fine (the fan-in is an integer root of it).
            return Err(Error::InvalidArgument(format!(
                "{op}: split_every must be at least 2, got {}",
                opts.split_every
            )));
        }
        let grid = reduced_grid(&self.node.grid, &axes, opts.keepdims);
        let spec = ReduceSpec {
            input: self.node.clone(),
            kernel,
            axes,
            split_every: opts.split_every,
        };
        Ok(Array::from_node(Node::new(
            NodeKind::Reduce(spec),
            grid,
            O::DTYPE,
        )))
    }
}

/// The output grid of a reduction: kept axes keep their chunks, reduced axes become one block of
/// length 1 (`keepdims`) or disappear.
pub(crate) fn reduced_grid(grid: &ChunkGrid, axes: &[usize], keepdims: bool) -> ChunkGrid {
    let mut g = grid.clone();
    for &a in axes.iter().rev() {
        g = if keepdims {
            g.with_single_block(a, 1)
        } else {
            g.remove_axis(a)
        };
    }
    g
}
