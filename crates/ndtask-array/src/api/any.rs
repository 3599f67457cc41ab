//! The handles whose element type is known at run time: [`AnyArray`] (a lazy array of any
//! element type, what opening a store gives when the program does not know its type),
//! [`AnyScalar`], and their computed values [`AnyNdArray`] and [`AnyValue`].
//!
//! An `AnyArray` is the same plan node as an [`Array<T>`], without the static type: every
//! operation dispatches on the run-time [`DType`] to the typed operation, so results are the
//! same bits as the typed path.

use crate::api::array::{node_accessors, Array, Scalar};
use crate::plan::{Node, NodeKind};
use ndarray::ArrayD;
use ndtask_core::{ChunkGrid, DType, Element, Error, Result};
use std::fmt;
use std::sync::Arc;

/// A lazy, chunked n-dimensional array whose element type is known at run time (NumPy's and
/// Dask's arrays are all of this kind): what [`crate::open_npy`] and `open_zarr` give.
///
/// Element-wise operations promote their operands as NumPy does for these types (`bool` <
/// `i64` < `f64`, `f32` < `f64`, and `i64` with `f32` is `f64`; a plain number is a *weak*
/// scalar that keeps a float array's type), reductions follow NumPy's result types (the sum of
/// bools counts them as `i64`), and [`AnyArray::typed`] turns it into an [`Array<T>`] where the
/// type is known.
///
/// # Examples
/// ```
/// use ndtask_array::{arange, AnyArray, AnyValue};
/// use ndtask_core::DType;
/// let i: AnyArray = arange(0i64, 6, 1, [4])?.into();
/// let f: AnyArray = arange(0.0f32, 6.0, 1.0, [3])?.into();
/// let x = &i * &f; // i64 * f32 -> f64, as NumPy
/// assert_eq!(x.dtype(), DType::F64);
/// assert_eq!(x.sum().compute()?, AnyValue::F64(55.0));
/// assert!(x.typed::<f32>().is_err());
/// # Ok::<(), ndtask_core::Error>(())
/// ```
#[derive(Clone)]
pub struct AnyArray {
    pub(crate) node: Arc<Node>,
}

/// A lazy scalar of an element type known at run time (a full reduction of an [`AnyArray`]).
#[derive(Clone)]
pub struct AnyScalar(pub(crate) AnyArray);

/// An [`AnyArray`] seen with its static type: one variant per element type.
#[derive(Clone)]
pub enum Typed {
    /// `f64` values.
    F64(Array<f64>),
    /// `f32` values.
    F32(Array<f32>),
    /// `i64` values.
    I64(Array<i64>),
    /// `bool` values.
    Bool(Array<bool>),
}

/// A computed [`AnyArray`]: an ndarray of the element type it holds.
#[derive(Debug, Clone, PartialEq)]
pub enum AnyNdArray {
    /// `f64` values.
    F64(ArrayD<f64>),
    /// `f32` values.
    F32(ArrayD<f32>),
    /// `i64` values.
    I64(ArrayD<i64>),
    /// `bool` values.
    Bool(ArrayD<bool>),
}

/// A value of an element type known at run time: a computed [`AnyScalar`], or a scalar
/// operand (`From<f64>`, `From<i64>`, ...).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum AnyValue {
    /// An `f64`.
    F64(f64),
    /// An `f32`.
    F32(f32),
    /// An `i64`.
    I64(i64),
    /// A `bool`.
    Bool(bool),
}

/// Runs `$e` with `$x` bound to `$a` (an [`AnyArray`]) as the `Array<T>` of its element type.
macro_rules! with_typed {
    ($a:expr, $x:ident => $e:expr) => {
        match $a.typed_view() {
            $crate::api::any::Typed::F64($x) => $e,
            $crate::api::any::Typed::F32($x) => $e,
            $crate::api::any::Typed::I64($x) => $e,
            $crate::api::any::Typed::Bool($x) => $e,
        }
    };
}
pub(crate) use with_typed;

impl AnyArray {
    pub(crate) fn from_node(node: Arc<Node>) -> Self {
        AnyArray { node }
    }

    /// An array that reports `e` when it is computed (what operators that cannot return a
    /// `Result` give on a mistake); its element type is `dtype`.
    pub(crate) fn invalid(e: Error, dtype: DType) -> Self {
        AnyArray::from_node(Node::invalid(e, dtype))
    }

    /// Fails if this array could not be built.
    ///
    /// # Errors
    /// The error recorded when the expression was built.
    pub fn check(&self) -> Result<&Self> {
        match self.node.error() {
            Some(e) => Err(e.clone()),
            None => Ok(self),
        }
    }

    /// The element type.
    pub fn dtype(&self) -> DType {
        self.node.dtype
    }

    /// The element type of the values where they are stored, when this array is a store's
    /// array as opened: `"i32"` or `"u8"` for stored types that are computed as `i64`
    /// (`"i16"`, `"u32"`, ... likewise), otherwise the name of [`AnyArray::dtype`].
    pub fn stored_dtype(&self) -> String {
        match &self.node.kind {
            NodeKind::Source(s) => s.stored_dtype(),
            _ => self.dtype().name().to_string(),
        }
    }

    node_accessors!();

    /// The array with its static type, one variant per element type (to `match` on).
    pub fn typed_view(&self) -> Typed {
        let node = self.node.clone();
        match self.dtype() {
            DType::F64 => Typed::F64(Array::from_node(node)),
            DType::F32 => Typed::F32(Array::from_node(node)),
            DType::I64 => Typed::I64(Array::from_node(node)),
            DType::Bool => Typed::Bool(Array::from_node(node)),
        }
    }

    /// The array as an `Array<T>`, when it holds `T` values.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] naming both types when it holds another type (convert with
    /// [`AnyArray::cast`] or [`AnyArray::astype`]).
    ///
    /// # Examples
    /// ```
    /// let x: ndtask_array::AnyArray = ndtask_array::arange(0i64, 4, 1, [2])?.into();
    /// assert_eq!(x.typed::<i64>()?.sum().compute()?, 6);
    /// let e = x.typed::<f64>().err().unwrap().to_string();
    /// assert!(e.contains("holds i64 values, not f64"), "{e}");
    /// # Ok::<(), ndtask_core::Error>(())
    /// ```
    pub fn typed<T: Element>(&self) -> Result<Array<T>> {
        if self.dtype() != T::DTYPE {
            return Err(Error::InvalidArgument(format!(
                "the array ({}) holds {} values, not {}; convert it with cast::<{}>()",
                self.describe(),
                self.dtype(),
                T::DTYPE,
                T::DTYPE
            )));
        }
        Ok(Array::from_node(self.node.clone()))
    }

    /// The array converted to `T` (no conversion when it holds `T` already), with NumPy's
    /// `astype` rules (see [`Array::astype`]).
    pub fn cast<T: Element>(&self) -> Array<T> {
        if let Some(e) = self.node.error() {
            return Array::invalid(e.clone());
        }
        if self.dtype() == T::DTYPE {
            return Array::from_node(self.node.clone());
        }
        with_typed!(self, x => x.astype::<T>())
    }

    /// The array converted to `dtype` (NumPy's `astype`).
    pub fn astype(&self, dtype: DType) -> AnyArray {
        match dtype {
            DType::F64 => self.cast::<f64>().into(),
            DType::F32 => self.cast::<f32>().into(),
            DType::I64 => self.cast::<i64>().into(),
            DType::Bool => self.cast::<bool>().into(),
        }
    }

    /// Shape, chunks and element type, for messages.
    fn describe(&self) -> String {
        with_typed!(self, x => x.to_string())
    }
}

impl<T: Element> From<Array<T>> for AnyArray {
    fn from(a: Array<T>) -> Self {
        AnyArray { node: a.node }
    }
}

impl<T: Element> From<&Array<T>> for AnyArray {
    fn from(a: &Array<T>) -> Self {
        AnyArray {
            node: a.node.clone(),
        }
    }
}

impl<T: Element> From<Scalar<T>> for AnyScalar {
    fn from(s: Scalar<T>) -> Self {
        AnyScalar(s.0.into())
    }
}

impl AnyScalar {
    /// The element type.
    pub fn dtype(&self) -> DType {
        self.0.dtype()
    }

    /// The scalar as a 0-dimensional array, to combine it with other arrays.
    pub fn into_array(self) -> AnyArray {
        self.0
    }

    /// The scalar as a 0-dimensional array.
    pub fn as_array(&self) -> &AnyArray {
        &self.0
    }
}

impl fmt::Display for AnyArray {
    /// As [`Array`]'s: shape, chunks, element type, number of chunks and bytes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

impl fmt::Debug for AnyArray {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for AnyScalar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ndtask.Scalar<{}>", self.dtype())
    }
}

impl AnyNdArray {
    /// The element type.
    pub fn dtype(&self) -> DType {
        match self {
            AnyNdArray::F64(_) => DType::F64,
            AnyNdArray::F32(_) => DType::F32,
            AnyNdArray::I64(_) => DType::I64,
            AnyNdArray::Bool(_) => DType::Bool,
        }
    }

    /// The shape.
    pub fn shape(&self) -> &[usize] {
        match self {
            AnyNdArray::F64(a) => a.shape(),
            AnyNdArray::F32(a) => a.shape(),
            AnyNdArray::I64(a) => a.shape(),
            AnyNdArray::Bool(a) => a.shape(),
        }
    }

    /// The values as an `ArrayD<T>`, when they are `T`.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] naming both types when they are of another type.
    pub fn into_typed<T: Element>(self) -> Result<ArrayD<T>> {
        let dtype = self.dtype();
        let chunk = match self {
            AnyNdArray::F64(a) => f64::into_chunk(a),
            AnyNdArray::F32(a) => f32::into_chunk(a),
            AnyNdArray::I64(a) => i64::into_chunk(a),
            AnyNdArray::Bool(a) => bool::into_chunk(a),
        };
        T::from_chunk(chunk).ok_or_else(|| {
            Error::InvalidArgument(format!(
                "the computed array holds {dtype} values, not {}",
                T::DTYPE
            ))
        })
    }

    /// The values converted to `f64` (`true` is 1).
    pub fn to_f64(&self) -> ArrayD<f64> {
        match self {
            AnyNdArray::F64(a) => a.clone(),
            AnyNdArray::F32(a) => a.mapv(|v| v as f64),
            AnyNdArray::I64(a) => a.mapv(|v| v as f64),
            AnyNdArray::Bool(a) => a.mapv(|v| v as u8 as f64),
        }
    }
}

impl AnyValue {
    /// The element type.
    pub fn dtype(self) -> DType {
        match self {
            AnyValue::F64(_) => DType::F64,
            AnyValue::F32(_) => DType::F32,
            AnyValue::I64(_) => DType::I64,
            AnyValue::Bool(_) => DType::Bool,
        }
    }

    /// The value as `f64` (`true` is 1).
    pub fn to_f64(self) -> f64 {
        match self {
            AnyValue::F64(v) => v,
            AnyValue::F32(v) => v as f64,
            AnyValue::I64(v) => v as f64,
            AnyValue::Bool(v) => v as u8 as f64,
        }
    }

    /// The value converted to `T` (NumPy's `astype` rules).
    pub fn cast<T: Element>(self) -> T {
        match self {
            AnyValue::F64(v) => T::cast_from(v),
            AnyValue::F32(v) => T::cast_from(v),
            AnyValue::I64(v) => T::cast_from(v),
            AnyValue::Bool(v) => T::cast_from(v),
        }
    }

    pub(crate) fn of<T: Element>(v: T) -> AnyValue {
        match T::DTYPE {
            DType::F64 => AnyValue::F64(v.to_f64()),
            DType::F32 => AnyValue::F32(v.to_f64() as f32),
            DType::I64 => AnyValue::I64(v.to_i64()),
            DType::Bool => AnyValue::Bool(v.to_bool()),
        }
    }
}

impl fmt::Display for AnyValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AnyValue::F64(v) => write!(f, "{v}"),
            AnyValue::F32(v) => write!(f, "{v}"),
            AnyValue::I64(v) => write!(f, "{v}"),
            AnyValue::Bool(v) => write!(f, "{v}"),
        }
    }
}

macro_rules! value_from {
    ($($t:ty => $v:ident),*) => {$(
        impl From<$t> for AnyValue {
            fn from(v: $t) -> Self {
                AnyValue::$v(v)
            }
        }
    )*};
}
value_from!(f64 => F64, f32 => F32, i64 => I64, bool => Bool);

macro_rules! ndarray_from {
    ($($t:ty => $v:ident),*) => {$(
        impl From<ArrayD<$t>> for AnyNdArray {
            fn from(a: ArrayD<$t>) -> Self {
                AnyNdArray::$v(a)
            }
        }
    )*};
}
ndarray_from!(f64 => F64, f32 => F32, i64 => I64, bool => Bool);
