//! Element-wise operations on [`AnyArray`]: NumPy's type promotion for ndtask's element types,
//! then the typed operation. Each operation converts its operands to the type NumPy computes
//! in and runs the typed kernel, so the bits are those of the typed path.

use crate::api::any::{with_typed, AnyArray, AnyValue};
use crate::api::array::Array;
use crate::ops::arith::Operand;
use crate::ops::concat::concatenate;
use crate::ops::creation::full;
use crate::ops::math::where_;
use ndtask_core::{DType, Element, Error, Numeric, Result};
use std::ops::{Add, Div, Mul, Neg, Sub};

/// NumPy's `result_type` of two of ndtask's element types: `bool` < `i64` < `f64` and `f32` <
/// `f64`, where `i64` with `f32` is `f64` (NumPy's `promote_types`).
///
/// # Examples
/// ```
/// use ndtask_array::promote_types;
/// use ndtask_core::DType;
/// assert_eq!(promote_types(DType::I64, DType::F32), DType::F64);
/// assert_eq!(promote_types(DType::Bool, DType::F32), DType::F32);
/// ```
pub fn promote_types(a: DType, b: DType) -> DType {
    match (a, b) {
        (x, y) if x == y => x,
        (DType::Bool, x) | (x, DType::Bool) => x,
        // f64 with anything, and i64 with f32.
        _ => DType::F64,
    }
}

/// The type an array of `array` and a scalar `s` compute in. A Rust `f64`, `i64` or `bool`
/// is a *weak* scalar, as a Python number is in NumPy (NEP 50): it takes a float array's
/// type, and an integer makes a bool array `i64`; an `f32` is a typed value and promotes.
fn weak(array: DType, s: AnyValue) -> DType {
    match (array, s) {
        (_, AnyValue::F32(_)) => promote_types(array, DType::F32),
        (DType::F64 | DType::F32, _) => array,
        (_, AnyValue::F64(_)) => DType::F64,
        (DType::I64, _) | (_, AnyValue::I64(_)) => DType::I64,
        (DType::Bool, AnyValue::Bool(_)) => DType::Bool,
    }
}

/// `b` as an array of `x`'s element type (which it holds).
fn like<T: Element>(x: &Array<T>, b: &AnyArray) -> Result<Array<T>> {
    let _ = x;
    b.typed::<T>()
}

/// `s` converted to `x`'s element type.
fn scalar_like<T: Element>(x: &Array<T>, s: AnyValue) -> T {
    let _ = x;
    s.cast::<T>()
}

/// The right-hand side of an operation on an [`AnyArray`]: an array or a scalar.
#[derive(Clone)]
pub enum AnyOperand {
    /// An array (broadcast against the other operand).
    Array(AnyArray),
    /// A scalar.
    Scalar(AnyValue),
}

impl From<AnyArray> for AnyOperand {
    fn from(a: AnyArray) -> Self {
        AnyOperand::Array(a)
    }
}
impl From<&AnyArray> for AnyOperand {
    fn from(a: &AnyArray) -> Self {
        AnyOperand::Array(a.clone())
    }
}
impl From<AnyValue> for AnyOperand {
    fn from(v: AnyValue) -> Self {
        AnyOperand::Scalar(v)
    }
}
macro_rules! operand_from_scalar {
    ($($t:ty),*) => {$(
        impl From<$t> for AnyOperand {
            fn from(v: $t) -> Self {
                AnyOperand::Scalar(v.into())
            }
        }
    )*};
}
operand_from_scalar!(f64, f32, i64, bool);

/// A binary element-wise operation.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Bin {
    Add,
    Sub,
    Mul,
    Div,
    FloorDiv,
    Rem,
    Max,
    Min,
}

impl Bin {
    fn name(self) -> &'static str {
        match self {
            Bin::Add => "add",
            Bin::Sub => "subtract",
            Bin::Mul => "multiply",
            Bin::Div => "true_divide",
            Bin::FloorDiv => "floor_divide",
            Bin::Rem => "remainder",
            Bin::Max => "maximum",
            Bin::Min => "minimum",
        }
    }

    /// The type the operation computes in when its operands promote to `t`, as NumPy does:
    /// true division of integers is in `f64`; on two bools `+`/maximum are `or`, `*`/minimum
    /// `and`, `//` and `%` integers, and `-` an error.
    fn computes_in(self, t: DType) -> Result<DType> {
        Ok(match (self, t) {
            (Bin::Div, DType::I64 | DType::Bool) => DType::F64,
            (Bin::FloorDiv | Bin::Rem, DType::Bool) => DType::I64,
            (Bin::Sub, DType::Bool) => {
                return Err(Error::InvalidArgument(
                    "subtract of two bool operands is not supported (as in NumPy): use \
                     logical_xor, or convert with astype"
                        .into(),
                ))
            }
            (_, t) => t,
        })
    }

    fn typed<T: Numeric>(self, a: &Array<T>, b: &Array<T>) -> Result<Array<T>> {
        match self {
            Bin::Add => a.try_add(b),
            Bin::Sub => a.try_sub(b),
            Bin::Mul => a.try_mul(b),
            Bin::Div => a.try_div(b),
            Bin::FloorDiv => a.floor_div(b),
            Bin::Rem => a.remainder(b),
            Bin::Max => a.maximum(b),
            Bin::Min => a.minimum(b),
        }
    }

    /// `a op s` (or `s op a`) with the arithmetic kernels' scalar forms where there is one.
    fn typed_scalar<T>(self, a: &Array<T>, s: T, scalar_lhs: bool) -> Result<Array<T>>
    where
        T: Numeric
            + Add<Array<T>, Output = Array<T>>
            + Sub<Array<T>, Output = Array<T>>
            + Mul<Array<T>, Output = Array<T>>
            + Div<Array<T>, Output = Array<T>>,
    {
        a.check()?;
        Ok(match (self, scalar_lhs) {
            (Bin::Add, false) => a + s,
            (Bin::Sub, false) => a - s,
            (Bin::Mul, false) => a * s,
            (Bin::Div, false) => a / s,
            (Bin::FloorDiv, false) => a.floor_div(s)?,
            (Bin::Rem, false) => a.remainder(s)?,
            (Bin::Add, true) => s + a.clone(),
            (Bin::Sub, true) => s - a.clone(),
            (Bin::Mul, true) => s * a.clone(),
            (Bin::Div, true) => s / a.clone(),
            // No scalar kernel: the scalar as a 0-d array, broadcast.
            (_, lhs) => {
                let c = full::<T>(Vec::<usize>::new(), Vec::<usize>::new(), s)?;
                return if lhs {
                    self.typed(&c, a)
                } else {
                    self.typed(a, &c)
                };
            }
        })
    }

    /// The operation on two bool arrays, where NumPy defines it as a logical one.
    fn bools(self, a: &Array<bool>, b: &Array<bool>) -> Result<Array<bool>> {
        match self {
            Bin::Add | Bin::Max => a.logical_or(b),
            Bin::Mul | Bin::Min => a.logical_and(b),
            _ => Err(Error::internal(format!("{} of bools", self.name()))),
        }
    }
}

/// Runs `$e` with `$x` bound to `$a` (an [`AnyArray`]) converted to the typed array of the
/// numeric type `$t` (a [`DType`] other than `Bool`).
macro_rules! with_numeric_as {
    ($t:expr, $a:expr, $x:ident => $e:expr) => {
        match $t {
            DType::F64 => {
                let $x = $a.cast::<f64>();
                AnyArray::from($e)
            }
            DType::F32 => {
                let $x = $a.cast::<f32>();
                AnyArray::from($e)
            }
            DType::I64 | DType::Bool => {
                let $x = $a.cast::<i64>();
                AnyArray::from($e)
            }
        }
    };
}
pub(crate) use with_numeric_as;

impl AnyArray {
    fn binary(&self, rhs: AnyOperand, op: Bin) -> Result<AnyArray> {
        self.check()?;
        match rhs {
            AnyOperand::Array(b) => {
                b.check()?;
                let t = op.computes_in(promote_types(self.dtype(), b.dtype()))?;
                if t == DType::Bool {
                    return Ok(op.bools(&self.cast(), &b.cast())?.into());
                }
                Ok(with_numeric_as!(t, self, x => op.typed(&x, &b.cast())?))
            }
            AnyOperand::Scalar(s) => self.with_scalar(s, op, false),
        }
    }

    fn with_scalar(&self, s: AnyValue, op: Bin, scalar_lhs: bool) -> Result<AnyArray> {
        self.check()?;
        let t = op.computes_in(weak(self.dtype(), s))?;
        if t == DType::Bool {
            let c = full::<bool>(Vec::<usize>::new(), Vec::<usize>::new(), s.cast())?;
            let (a, b) = if scalar_lhs {
                (c, self.cast())
            } else {
                (self.cast(), c)
            };
            return Ok(op.bools(&a, &b)?.into());
        }
        Ok(with_numeric_as!(t, self, x => op.typed_scalar(&x, s.cast(), scalar_lhs)?))
    }

    /// Element-wise `self + rhs` (an array, broadcast, or a scalar), in the promoted type.
    ///
    /// # Errors
    /// [`Error::Shape`] if the shapes do not broadcast; the error of an operand.
    pub fn try_add(&self, rhs: impl Into<AnyOperand>) -> Result<AnyArray> {
        self.binary(rhs.into(), Bin::Add)
    }

    /// Element-wise `self - rhs`.
    ///
    /// # Errors
    /// As [`AnyArray::try_add`]; [`Error::InvalidArgument`] for two bool operands (as NumPy).
    pub fn try_sub(&self, rhs: impl Into<AnyOperand>) -> Result<AnyArray> {
        self.binary(rhs.into(), Bin::Sub)
    }

    /// Element-wise `self * rhs`.
    ///
    /// # Errors
    /// As [`AnyArray::try_add`].
    pub fn try_mul(&self, rhs: impl Into<AnyOperand>) -> Result<AnyArray> {
        self.binary(rhs.into(), Bin::Mul)
    }

    /// Element-wise true division `self / rhs`: integers and bools divide as `f64` (NumPy's
    /// `true_divide`).
    ///
    /// # Errors
    /// As [`AnyArray::try_add`].
    pub fn try_div(&self, rhs: impl Into<AnyOperand>) -> Result<AnyArray> {
        self.binary(rhs.into(), Bin::Div)
    }

    /// Element-wise floor division, NumPy's `//` (see [`Array::floor_div`]).
    ///
    /// # Errors
    /// As [`AnyArray::try_add`].
    pub fn floor_div(&self, rhs: impl Into<AnyOperand>) -> Result<AnyArray> {
        self.binary(rhs.into(), Bin::FloorDiv)
    }

    /// Element-wise remainder with the sign of the divisor, NumPy's `%`.
    ///
    /// # Errors
    /// As [`AnyArray::try_add`].
    pub fn remainder(&self, rhs: impl Into<AnyOperand>) -> Result<AnyArray> {
        self.binary(rhs.into(), Bin::Rem)
    }

    /// Element-wise maximum (NumPy's `maximum`: NaN wins).
    ///
    /// # Errors
    /// As [`AnyArray::try_add`].
    pub fn maximum(&self, rhs: impl Into<AnyOperand>) -> Result<AnyArray> {
        self.binary(rhs.into(), Bin::Max)
    }

    /// Element-wise minimum (NumPy's `minimum`: NaN wins).
    ///
    /// # Errors
    /// As [`AnyArray::try_add`].
    pub fn minimum(&self, rhs: impl Into<AnyOperand>) -> Result<AnyArray> {
        self.binary(rhs.into(), Bin::Min)
    }

    /// The operands of a comparison, converted to their common type.
    fn compare(
        &self,
        rhs: AnyOperand,
        f: impl Fn(&AnyArray, DType, AnyOperand) -> Result<Array<bool>>,
    ) -> Result<AnyArray> {
        self.check()?;
        let t = match &rhs {
            AnyOperand::Array(b) => promote_types(self.dtype(), b.check()?.dtype()),
            AnyOperand::Scalar(s) => weak(self.dtype(), *s),
        };
        Ok(f(self, t, rhs)?.into())
    }
}

macro_rules! comparisons {
    ($($method:ident => $np:literal),*) => {
        impl AnyArray {
            $(
                #[doc = concat!("Element-wise comparison as a bool array (NumPy's `", $np, "`), in the operands' promoted type.")]
                ///
                /// # Errors
                /// [`Error::Shape`] if the shapes do not broadcast; the error of an operand.
                pub fn $method(&self, rhs: impl Into<AnyOperand>) -> Result<AnyArray> {
                    self.compare(rhs.into(), |a, t, rhs| {
                        with_typed!(a.astype(t), x => match rhs {
                            AnyOperand::Array(b) => x.$method(&like(&x, &b.astype(t))?),
                            AnyOperand::Scalar(s) => x.$method(Operand::Scalar(scalar_like(&x, s))),
                        })
                    })
                }
            )*
        }
    };
}
comparisons!(less => "less", less_equal => "less_equal", greater => "greater",
    greater_equal => "greater_equal", equal => "equal", not_equal => "not_equal");

/// Runs `$e` with `$x` bound to `$a` as a float array: its own type if it is one, `f64`
/// otherwise (NumPy's ufuncs on integers compute in `f64`).
macro_rules! with_float {
    ($a:expr, $x:ident => $e:expr) => {
        match $a.dtype() {
            DType::F32 => {
                let $x = $a.cast::<f32>();
                AnyArray::from($e)
            }
            _ => {
                let $x = $a.cast::<f64>();
                AnyArray::from($e)
            }
        }
    };
}

macro_rules! float_functions {
    ($($name:ident => $np:literal),*) => {
        impl AnyArray {
            $(
                #[doc = concat!("NumPy's `", $np, "`, element-wise: floats keep their type, integers and bools compute in `f64`.")]
                pub fn $name(&self) -> AnyArray {
                    with_float!(self, x => x.$name())
                }
            )*
        }
    };
}
float_functions!(sqrt => "sqrt", exp => "exp", ln => "log", log10 => "log10", sin => "sin",
    cos => "cos", tanh => "tanh");

impl AnyArray {
    /// `self` raised to the power `p`: floats keep their type (`p` is a weak scalar),
    /// integers and bools compute in `f64`.
    pub fn powf(&self, p: f64) -> AnyArray {
        match self.dtype() {
            DType::F32 => self.cast::<f32>().powf(p as f32).into(),
            _ => self.cast::<f64>().powf(p).into(),
        }
    }

    /// Absolute value (NumPy's `abs`): integers stay integers (wrapping at `i64::MIN`, as
    /// NumPy), bools are unchanged.
    pub fn abs(&self) -> AnyArray {
        match self.dtype() {
            DType::F64 => self.cast::<f64>().abs().into(),
            DType::F32 => self.cast::<f32>().abs().into(),
            DType::I64 => self
                .cast::<i64>()
                .map_keyed("absolute", 0, |v: i64| v.wrapping_abs())
                .into(),
            DType::Bool => self.clone(),
        }
    }

    /// Whether each element is NaN (never, for integers and bools).
    pub fn is_nan(&self) -> AnyArray {
        match self.dtype() {
            DType::F64 => self.cast::<f64>().is_nan().into(),
            DType::F32 => self.cast::<f32>().is_nan().into(),
            _ => self.cast::<bool>().map_keyed("isnan", 0, |_| false).into(),
        }
    }

    /// Element-wise logical not (NumPy's `logical_not`: `x == 0` for numbers).
    pub fn logical_not(&self) -> AnyArray {
        self.cast::<bool>().logical_not().into()
    }

    /// NumPy's `where(cond, a, b)` with `a` and `b` promoted to their common type.
    ///
    /// # Errors
    /// [`Error::Shape`] if the shapes do not broadcast; the error of an operand.
    pub fn where_(cond: &AnyArray, a: &AnyArray, b: &AnyArray) -> Result<AnyArray> {
        let t = promote_types(a.check()?.dtype(), b.check()?.dtype());
        let cond = cond.check()?.cast::<bool>();
        with_typed!(a.astype(t), x => Ok(where_(&cond, &x, &like(&x, &b.astype(t))?)?.into()))
    }

    /// Joins arrays along `axis`, converted to their common type (NumPy's `concatenate`).
    ///
    /// # Errors
    /// As [`concatenate`]: no arrays, an axis out of range, shapes that differ off `axis`.
    pub fn concatenate(arrays: &[AnyArray], axis: usize) -> Result<AnyArray> {
        let first = arrays
            .first()
            .ok_or_else(|| Error::InvalidArgument("concatenate needs at least one array".into()))?;
        let t = arrays
            .iter()
            .fold(first.dtype(), |t, a| promote_types(t, a.dtype()));
        with_typed!(first.astype(t), x => {
            let rest = arrays[1..]
                .iter()
                .map(|a| like(&x, &a.astype(t)))
                .collect::<Result<Vec<_>>>()?;
            let all: Vec<_> = std::iter::once(&x).chain(rest.iter()).collect();
            Ok(concatenate(&all, axis)?.into())
        })
    }
}

impl Neg for &AnyArray {
    type Output = AnyArray;
    /// NumPy's `negative`; on a bool array an error (as NumPy), reported when computed.
    fn neg(self) -> AnyArray {
        match self.dtype() {
            DType::F64 => (-self.cast::<f64>()).into(),
            DType::F32 => (-self.cast::<f32>()).into(),
            DType::I64 => (-self.cast::<i64>()).into(),
            DType::Bool => AnyArray::invalid(
                Error::InvalidArgument(
                    "negative of a bool array is not supported (as in NumPy): use logical_not"
                        .into(),
                ),
                DType::Bool,
            ),
        }
    }
}
impl Neg for AnyArray {
    type Output = AnyArray;
    fn neg(self) -> AnyArray {
        -&self
    }
}

/// The type an invalid result of `a op b` is given (it only names the error).
fn invalid(e: Error, a: DType) -> AnyArray {
    AnyArray::invalid(e, a)
}

macro_rules! any_operator {
    ($Trait:ident, $method:ident, $op:expr) => {
        impl<R: Into<AnyOperand>> $Trait<R> for &AnyArray {
            type Output = AnyArray;
            fn $method(self, rhs: R) -> AnyArray {
                self.binary(rhs.into(), $op)
                    .unwrap_or_else(|e| invalid(e, self.dtype()))
            }
        }
        impl<R: Into<AnyOperand>> $Trait<R> for AnyArray {
            type Output = AnyArray;
            fn $method(self, rhs: R) -> AnyArray {
                (&self).$method(rhs)
            }
        }
        any_operator!(@lhs $Trait, $method, $op, f64, i64, bool);
    };
    (@lhs $Trait:ident, $method:ident, $op:expr, $($t:ty),*) => {$(
        impl $Trait<&AnyArray> for $t {
            type Output = AnyArray;
            fn $method(self, rhs: &AnyArray) -> AnyArray {
                rhs.with_scalar(self.into(), $op, true)
                    .unwrap_or_else(|e| invalid(e, rhs.dtype()))
            }
        }
        impl $Trait<AnyArray> for $t {
            type Output = AnyArray;
            fn $method(self, rhs: AnyArray) -> AnyArray {
                self.$method(&rhs)
            }
        }
    )*};
}
any_operator!(Add, add, Bin::Add);
any_operator!(Sub, sub, Bin::Sub);
any_operator!(Mul, mul, Bin::Mul);
any_operator!(Div, div, Bin::Div);
