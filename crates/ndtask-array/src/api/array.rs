//! The user-facing handles: [`Array`] (a lazy chunked array) and [`Scalar`] (a lazy
//! 0-dimensional result such as a full reduction). Both are cheap to clone: an `Arc` to a plan
//! node plus the element type.

use crate::plan::chunks::human_bytes;
use crate::plan::Node;
use ndtask_core::{ChunkGrid, DType, Element, Error, Result};
use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

/// The accessors of an array handle that read its plan node: shape, axes, length, chunks.
macro_rules! node_accessors {
    () => {
        /// The shape.
        pub fn shape(&self) -> Vec<usize> {
            self.node.shape()
        }

        /// Number of dimensions.
        pub fn ndim(&self) -> usize {
            self.node.grid.ndim()
        }

        /// Number of elements.
        pub fn len(&self) -> usize {
            self.shape().iter().product()
        }

        /// Whether the array has no elements.
        pub fn is_empty(&self) -> bool {
            self.len() == 0
        }

        /// The chunk grid.
        pub fn grid(&self) -> &ChunkGrid {
            &self.node.grid
        }

        /// The chunk sizes along each axis (Dask's `chunks`).
        pub fn chunks(&self) -> Vec<Vec<usize>> {
            (0..self.ndim())
                .map(|a| self.node.grid.axis_sizes(a))
                .collect()
        }

        /// Number of chunks.
        pub fn num_chunks(&self) -> usize {
            self.node.grid.num_chunks()
        }

        /// Bytes the whole array would take in memory.
        pub fn nbytes(&self) -> usize {
            self.len() * self.dtype().size()
        }
    };
}
pub(crate) use node_accessors;

/// A lazy, chunked n-dimensional array of `T`.
///
/// Operations build a plan and return at once; nothing is computed until
/// [`compute`](Array::compute) (or [`crate::compute`] for several results at once).
///
/// # Examples
/// ```
/// use ndtask_array::{random, Array};
/// let x: Array<f64> = random::uniform([1000, 1000], [250, 250], 7)?;
/// assert_eq!(x.num_chunks(), 16);
/// let y = (&x + 1.0) * 2.0;
/// let m: f64 = y.mean().compute()?;
/// assert!((m - 3.0).abs() < 0.01);
/// # Ok::<(), ndtask_core::Error>(())
/// ```
pub struct Array<T> {
    pub(crate) node: Arc<Node>,
    _t: PhantomData<fn() -> T>,
}

impl<T> Clone for Array<T> {
    fn clone(&self) -> Self {
        Array {
            node: self.node.clone(),
            _t: PhantomData,
        }
    }
}

/// A lazy scalar: the result of a full reduction. [`compute`](Scalar::compute) gives a `T`.
pub struct Scalar<T>(pub(crate) Array<T>);

impl<T> Clone for Scalar<T> {
    fn clone(&self) -> Self {
        Scalar(self.0.clone())
    }
}

impl<T: Element> Scalar<T> {
    /// The scalar as a 0-dimensional array, to combine it with other arrays.
    pub fn into_array(self) -> Array<T> {
        self.0
    }

    /// The scalar as a 0-dimensional array.
    pub fn as_array(&self) -> &Array<T> {
        &self.0
    }

    /// A 0-dimensional array (a combination of scalars, say) as a scalar.
    ///
    /// # Errors
    /// [`Error::Shape`] if `a` has dimensions.
    pub fn from_array(a: Array<T>) -> Result<Scalar<T>> {
        a.check()?;
        if !a.shape().is_empty() {
            return Err(Error::Shape(format!(
                "a scalar is a 0-dimensional array, got shape {:?}",
                a.shape()
            )));
        }
        Ok(Scalar(a))
    }
}

impl<T: Element> Array<T> {
    pub(crate) fn from_node(node: Arc<Node>) -> Self {
        debug_assert!(node.error().is_some() || node.dtype == T::DTYPE);
        Array {
            node,
            _t: PhantomData,
        }
    }

    /// An array that reports `e` when it is computed; used by operators that cannot return a
    /// `Result` (`+`, `-`, ...). The `try_*` methods report the same errors at once.
    pub(crate) fn invalid(e: Error) -> Self {
        Self::from_node(Node::invalid(e, T::DTYPE))
    }

    pub(crate) fn from_result(r: Result<Self>) -> Self {
        r.unwrap_or_else(Self::invalid)
    }

    /// Fails if this array could not be built (e.g. `a + b` with mismatched shapes).
    ///
    /// # Errors
    /// The error recorded when the expression was built.
    pub fn check(&self) -> Result<&Self> {
        match self.node.error() {
            Some(e) => Err(e.clone()),
            None => Ok(self),
        }
    }

    node_accessors!();

    /// The element type.
    pub fn dtype(&self) -> DType {
        T::DTYPE
    }
}

impl<T: Element> fmt::Display for Array<T> {
    /// Shape, chunk shape, dtype, number of chunks and bytes, like Dask's repr.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(e) = self.node.error() {
            return write!(f, "ndtask.Array<{}>(invalid: {e})", T::DTYPE);
        }
        write!(
            f,
            "ndtask.Array<{}>(shape={:?}, chunks={} ({} chunks), {})",
            T::DTYPE,
            self.shape(),
            self.node.grid.describe(),
            self.num_chunks(),
            human_bytes(self.nbytes())
        )
    }
}

impl<T: Element> fmt::Debug for Array<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl<T: Element> fmt::Display for Scalar<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ndtask.Scalar<{}>", T::DTYPE)
    }
}
