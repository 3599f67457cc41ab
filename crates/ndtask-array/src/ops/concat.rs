//! Concatenation: the output's chunks along `axis` are the inputs' chunks, side by side. No data
//! is copied when the expression is built, and lowering creates no tasks for it: the output
//! chunks are the input tasks themselves.

use crate::api::array::Array;
use crate::plan::{Node, NodeKind};
use ndtask_core::{Element, Error, Result};

/// Joins arrays along an existing axis (NumPy's `concatenate`).
///
/// # Errors
/// [`Error::InvalidArgument`] for an empty list; [`Error::Axis`] if `axis` is out of range;
/// [`Error::Shape`] if the number of dimensions or the other axes' lengths differ. Different
/// chunkings of the other axes are aligned to their common boundaries.
///
/// # Examples
/// ```
/// use ndtask_array::{concatenate, ones, zeros};
/// let a = ones::<f64>([2, 3], [1, 3])?;
/// let b = zeros::<f64>([4, 3], [2, 3])?;
/// let c = concatenate(&[&a, &b], 0)?;
/// assert_eq!(c.shape(), vec![6, 3]);
/// assert_eq!(c.chunks()[0], vec![1, 1, 2, 2]);
/// assert_eq!(c.sum().compute()?, 6.0);
/// # Ok::<(), ndtask_core::Error>(())
/// ```
pub fn concatenate<T: Element>(arrays: &[&Array<T>], axis: usize) -> Result<Array<T>> {
    let (first, rest) = arrays
        .split_first()
        .ok_or_else(|| Error::InvalidArgument("concatenate needs at least one array".into()))?;
    first.check()?;
    let shape0 = first.shape();
    if axis >= shape0.len() {
        return Err(Error::Axis {
            op: "concatenate".into(),
            axis,
            ndim: shape0.len(),
            shape: shape0,
        });
    }
    let mut sizes = first.grid().axis_sizes(axis);
    for a in rest {
        a.check()?;
        let s = a.shape();
        let others_differ = s.len() != shape0.len()
            || s.iter()
                .zip(&shape0)
                .enumerate()
                .any(|(i, (x, y))| i != axis && x != y);
        if others_differ {
            return Err(Error::Shape(format!(
                "cannot concatenate shapes {shape0:?} and {s:?} along axis {axis}: other axes differ"
            )));
        }
        sizes.extend(a.grid().axis_sizes(axis));
    }
    // Other axes: align every input to the common refinement of their chunk boundaries.
    let common: Vec<Vec<usize>> = (0..shape0.len())
        .map(|i| {
            let all: Vec<Vec<usize>> = arrays.iter().map(|a| a.grid().axis_sizes(i)).collect();
            crate::ops::layout::common_sizes(&all)
        })
        .collect();
    let inputs = arrays
        .iter()
        .map(|a| {
            let mut want = common.clone();
            want[axis] = a.grid().axis_sizes(axis);
            let want = ndtask_core::ChunkGrid::from_sizes(want)?;
            Ok(if want == *a.grid() {
                a.node.clone()
            } else {
                crate::ops::layout::rechunk_node(&a.node, want)
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let mut grid_sizes = common;
    grid_sizes[axis] = sizes;
    let grid = ndtask_core::ChunkGrid::from_sizes(grid_sizes)?;
    Ok(Array::from_node(Node::new(
        NodeKind::Concat { inputs, axis },
        grid,
        T::DTYPE,
    )))
}

/// Joins arrays of one shape along a new axis (NumPy's `stack`).
///
/// # Errors
/// [`Error::InvalidArgument`] for an empty list; [`Error::Shape`] if shapes or chunks differ;
/// [`Error::Axis`] if `axis > ndim`.
///
/// # Examples
/// ```
/// let a = ndtask_array::ones::<f64>([3], [2])?;
/// let s = ndtask_array::stack(&[&a, &a], 0)?;
/// assert_eq!(s.shape(), vec![2, 3]);
/// # Ok::<(), ndtask_core::Error>(())
/// ```
pub fn stack<T: Element>(arrays: &[&Array<T>], axis: usize) -> Result<Array<T>> {
    let first = arrays
        .first()
        .ok_or_else(|| Error::InvalidArgument("stack needs at least one array".into()))?;
    if axis > first.ndim() {
        return Err(Error::Axis {
            op: "stack".into(),
            axis,
            ndim: first.ndim(),
            shape: first.shape(),
        });
    }
    for a in arrays {
        if a.shape() != first.shape() {
            return Err(Error::Shape(format!(
                "cannot stack shapes {:?} and {:?}: shapes differ",
                first.shape(),
                a.shape()
            )));
        }
    }
    let expanded = arrays
        .iter()
        .map(|a| a.expand_dims(axis))
        .collect::<Result<Vec<_>>>()?;
    crate::ops::concat::concatenate(&expanded.iter().collect::<Vec<_>>(), axis)
}
