//! The user-facing handles: [`Array`] (a lazy chunked array) and [`Scalar`] (a lazy
//! 0-dimensional result such as a full reduction). Both are cheap to clone: an `Arc` to a plan
//! node plus the element type.

use crate::kernels::{Binary, Unary};
use crate::plan::{MapKernel, Node, NodeKind};
use ndtask_core::{ChunkGrid, DType, Element, Error, Result};
use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

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

    /// The element type.
    pub fn dtype(&self) -> DType {
        T::DTYPE
    }

    /// Bytes the whole array would take in memory.
    pub fn nbytes(&self) -> usize {
        self.len() * T::DTYPE.size()
    }

    /// Applies `f` to every element, lazily; the function joins the fused kernel of its chunk.
    ///
    /// A panic inside `f` makes `compute()` return an error naming the chunk.
    ///
    /// # Examples
    /// ```
    /// use ndtask_array::arange;
    /// let x = arange(0i64, 5, 1, [2])?.map(|v| v * v);
    /// assert_eq!(x.compute()?.into_raw_vec_and_offset().0, vec![0, 1, 4, 9, 16]);
    /// # Ok::<(), ndtask_core::Error>(())
    /// ```
    pub fn map<O: Element>(&self, f: impl Fn(T) -> O + Send + Sync + 'static) -> Array<O> {
        self.map_named("map", f)
    }

    /// [`Array::map`] with a name, shown in plans and errors. Under MPI the name is the
    /// closure's identity in the check that every rank built the same expression: give closures
    /// that differ between ranks different names.
    ///
    /// # Examples
    /// ```
    /// let x = ndtask_array::arange(0i64, 3, 1, [2])?.map_named("cube", |v| v * v * v);
    /// assert!(x.task_graph()?.op_names()[0].contains("cube"));
    /// # Ok::<(), ndtask_core::Error>(())
    /// ```
    pub fn map_named<O: Element>(
        &self,
        name: &str,
        f: impl Fn(T) -> O + Send + Sync + 'static,
    ) -> Array<O> {
        self.unary(name, 0, false, f)
    }

    /// One of ndtask's own element-wise functions, named `name`, capturing scalars whose hash
    /// is `key` (which tells the MPI ranks apart when they capture different values). Its name
    /// and key identify it completely, so the optimizer may share two equal ones.
    pub(crate) fn map_keyed<O: Element>(
        &self,
        name: &str,
        key: u64,
        f: impl Fn(T) -> O + Send + Sync + 'static,
    ) -> Array<O> {
        self.unary(name, key, true, f)
    }

    fn unary<O: Element>(
        &self,
        name: &str,
        key: u64,
        exact: bool,
        f: impl Fn(T) -> O + Send + Sync + 'static,
    ) -> Array<O> {
        self.map_kernel(Arc::new(Unary {
            name: name.to_string(),
            key,
            exact,
            f,
            _t: PhantomData,
        }))
    }

    /// Applies an element-wise kernel with `O` outputs to every element, lazily.
    pub(crate) fn map_kernel<O: Element>(&self, kernel: Arc<dyn MapKernel>) -> Array<O> {
        if let Some(e) = self.node.error() {
            return Array::invalid(e.clone());
        }
        let kind = NodeKind::Map {
            kernel,
            inputs: vec![self.node.clone()],
        };
        Array::from_node(Node::new(kind, self.node.grid.clone(), O::DTYPE))
    }

    /// Combines two arrays element by element with `f`, lazily. Shapes broadcast (NumPy rules)
    /// and differing chunks are aligned to their common boundaries.
    ///
    /// # Errors
    /// [`Error::Shape`] if the shapes do not broadcast (the message names both).
    ///
    /// # Examples
    /// ```
    /// use ndtask_array::{full, Array};
    /// let a: Array<f64> = full([4], [2], 3.0)?;
    /// let b: Array<f64> = full([4], [2], 4.0)?;
    /// let h = a.zip_with(&b, |x, y| (x * x + y * y).sqrt())?;
    /// assert_eq!(h.compute()?[[0]], 5.0);
    /// assert!(a.zip_with(&full([5], [2], 1.0)?, |x: f64, y: f64| x + y).is_err());
    /// let col: Array<f64> = full([4, 1], [2, 1], 1.0)?;
    /// assert_eq!(a.zip_with(&col, |x, y| x + y)?.shape(), vec![4, 4]); // broadcasting
    /// # Ok::<(), ndtask_core::Error>(())
    /// ```
    pub fn zip_with<U: Element, O: Element>(
        &self,
        other: &Array<U>,
        f: impl Fn(T, U) -> O + Send + Sync + 'static,
    ) -> Result<Array<O>> {
        self.zip_named("zip_with", other, f)
    }

    /// [`Array::zip_with`] with a name, shown in plans and errors and, under MPI, the closure's
    /// identity (as for [`Array::map_named`]).
    ///
    /// # Errors
    /// As [`Array::zip_with`].
    pub fn zip_named<U: Element, O: Element>(
        &self,
        name: &str,
        other: &Array<U>,
        f: impl Fn(T, U) -> O + Send + Sync + 'static,
    ) -> Result<Array<O>> {
        self.binary(name, 0, false, other, f)
    }

    /// One of ndtask's own binary functions (see [`Array::map_keyed`]).
    pub(crate) fn zip_keyed<U: Element, O: Element>(
        &self,
        name: &str,
        key: u64,
        other: &Array<U>,
        f: impl Fn(T, U) -> O + Send + Sync + 'static,
    ) -> Result<Array<O>> {
        self.binary(name, key, true, other, f)
    }

    fn binary<U: Element, O: Element>(
        &self,
        name: &str,
        key: u64,
        exact: bool,
        other: &Array<U>,
        f: impl Fn(T, U) -> O + Send + Sync + 'static,
    ) -> Result<Array<O>> {
        let kernel = Arc::new(Binary {
            name: name.to_string(),
            key,
            exact,
            f,
            _t: PhantomData,
        });
        self.zip_kernel(name, other, kernel)
    }

    /// Combines two arrays element by element with a kernel of `O` outputs, lazily (as
    /// [`zip_with`](Array::zip_with)).
    pub(crate) fn zip_kernel<U: Element, O: Element>(
        &self,
        name: &str,
        other: &Array<U>,
        kernel: Arc<dyn MapKernel>,
    ) -> Result<Array<O>> {
        self.check()?;
        other.check()?;
        let (nodes, grid) = crate::blocks::align(name, &[self.node.clone(), other.node.clone()])?;
        let kind = NodeKind::Map {
            kernel,
            inputs: nodes,
        };
        Ok(Array::from_node(Node::new(kind, grid, O::DTYPE)))
    }

    /// Converts the elements to another type (`as` for numbers, `!= 0` to bool, `true -> 1`).
    pub fn astype<O: Element>(&self) -> Array<O> {
        self.map_keyed(&format!("astype[{}]", O::DTYPE), 0, O::cast_from)
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

/// Bytes as B, KiB, MiB, GiB or TiB with two decimals.
pub(crate) fn human_bytes(n: usize) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.2} {}", UNITS[u])
    }
}
