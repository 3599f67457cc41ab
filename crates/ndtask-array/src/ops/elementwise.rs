//! Element-wise functions of one or two arrays: `map`, `zip_map` and the kernels behind every
//! element-wise operation (a function of one value, of two, with broadcasting and chunk
//! alignment), and `astype`.

use crate::api::array::Array;
use crate::exec::kernels::{Binary, Unary};
use crate::ops::layout::align;
use crate::plan::{MapKernel, Node, NodeKind};
use ndtask_core::{Element, Result};
use std::marker::PhantomData;
use std::sync::Arc;

impl<T: Element> Array<T> {
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
    /// [`ndtask_core::Error::Shape`] if the shapes do not broadcast (the message names both).
    ///
    /// # Examples
    /// ```
    /// use ndtask_array::{full, Array};
    /// let a: Array<f64> = full([4], [2], 3.0)?;
    /// let b: Array<f64> = full([4], [2], 4.0)?;
    /// let h = a.zip_map(&b, |x, y| (x * x + y * y).sqrt())?;
    /// assert_eq!(h.compute()?[[0]], 5.0);
    /// assert!(a.zip_map(&full([5], [2], 1.0)?, |x: f64, y: f64| x + y).is_err());
    /// let col: Array<f64> = full([4, 1], [2, 1], 1.0)?;
    /// assert_eq!(a.zip_map(&col, |x, y| x + y)?.shape(), vec![4, 4]); // broadcasting
    /// # Ok::<(), ndtask_core::Error>(())
    /// ```
    pub fn zip_map<U: Element, O: Element>(
        &self,
        other: &Array<U>,
        f: impl Fn(T, U) -> O + Send + Sync + 'static,
    ) -> Result<Array<O>> {
        self.zip_named("zip_map", other, f)
    }

    /// [`Array::zip_map`] with a name, shown in plans and errors and, under MPI, the closure's
    /// identity (as for [`Array::map_named`]).
    ///
    /// # Errors
    /// As [`Array::zip_map`].
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
    /// [`zip_map`](Array::zip_map)).
    pub(crate) fn zip_kernel<U: Element, O: Element>(
        &self,
        name: &str,
        other: &Array<U>,
        kernel: Arc<dyn MapKernel>,
    ) -> Result<Array<O>> {
        self.check()?;
        other.check()?;
        let (nodes, grid) = align(name, &[self.node.clone(), other.node.clone()])?;
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
