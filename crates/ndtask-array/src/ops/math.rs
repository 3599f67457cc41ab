//! Element-wise math beyond arithmetic: NumPy's ufuncs on float arrays, two-array minimum and
//! maximum, `where_`, and logical operators on bool arrays. Every one is a tile kernel, so it
//! fuses with its neighbours into one pass.

use crate::api::array::Array;
use crate::exec::kernels::{key_of, Ternary};
use crate::ops::arith::Operand;
use crate::plan::{Node, NodeKind};
use ndtask_core::{Element, Error, Float, Numeric, Result};
use std::marker::PhantomData;
use std::ops::{BitAnd, BitOr, BitXor, Not};
use std::sync::Arc;

macro_rules! unary_float {
    ($($name:ident => $np:literal, $doc:literal;)*) => {
        impl<T: Float> Array<T> {
            $(
                #[doc = concat!($doc, " (NumPy's `", $np, "`), element-wise and lazily.")]
                pub fn $name(&self) -> Array<T> {
                    self.map_keyed($np, 0, T::$name)
                }
            )*
        }
    };
}

unary_float! {
    abs => "abs", "Absolute value";
    sqrt => "sqrt", "Square root";
    exp => "exp", "Exponential";
    ln => "log", "Natural logarithm";
    log10 => "log10", "Base-10 logarithm";
    sin => "sin", "Sine";
    cos => "cos", "Cosine";
    tanh => "tanh", "Hyperbolic tangent";
    floor => "floor", "Round down";
    ceil => "ceil", "Round up";
}

impl<T: Float> Array<T> {
    /// Natural logarithm (alias of [`Array::ln`], NumPy's `log`).
    pub fn log(&self) -> Array<T> {
        self.ln()
    }

    /// Rounds half to even (NumPy's `round`).
    pub fn round(&self) -> Array<T> {
        self.map_keyed("round", 0, T::round_even)
    }

    /// Raises every element to the integer power `n`.
    pub fn powi(&self, n: i32) -> Array<T> {
        self.map_keyed("powi", key_of(&[n as i64]), move |x| x.powi(n))
    }

    /// Raises every element to the power `p`.
    pub fn powf(&self, p: T) -> Array<T> {
        self.map_keyed("powf", key_of(&[p]), move |x| x.powf(p))
    }

    /// Whether each element is NaN.
    pub fn is_nan(&self) -> Array<bool> {
        self.map_keyed("isnan", 0, T::is_nan)
    }
}

/// NumPy's `maximum`/`minimum`: NaN wins.
fn pick<T: Numeric>(x: T, y: T, greater: bool) -> T {
    if x.partial_cmp(&y).is_none() {
        // At least one is NaN (only floats can be): NaN + anything is NaN.
        return T::add(x, y);
    }
    if (x > y) == greater {
        x
    } else {
        y
    }
}

impl<T: Numeric> Array<T> {
    /// Clips every element into `[lo, hi]` (NaN stays NaN).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if `lo > hi`.
    pub fn clip(&self, lo: T, hi: T) -> Result<Array<T>> {
        if lo > hi {
            return Err(Error::InvalidArgument(format!(
                "clip needs lo <= hi, got lo={lo}, hi={hi}"
            )));
        }
        self.check()?;
        Ok(self.map_keyed("clip", key_of(&[lo, hi]), move |x| {
            if x < lo {
                lo
            } else if x > hi {
                hi
            } else {
                x
            }
        }))
    }

    /// The larger of two arrays element by element (NumPy's `maximum`: NaN propagates).
    ///
    /// # Errors
    /// [`Error::Shape`] if the shapes do not broadcast.
    pub fn maximum(&self, other: &Array<T>) -> Result<Array<T>> {
        self.zip_keyed("maximum", 0, other, |x, y| pick(x, y, true))
    }

    /// The smaller of two arrays element by element (NumPy's `minimum`: NaN propagates).
    ///
    /// # Errors
    /// [`Error::Shape`] if the shapes do not broadcast.
    pub fn minimum(&self, other: &Array<T>) -> Result<Array<T>> {
        self.zip_keyed("minimum", 0, other, |x, y| pick(x, y, false))
    }
}

/// Chooses from `a` where `cond` is true and from `b` elsewhere (NumPy's `where`); `a` and `b`
/// are arrays (broadcast with `cond`) or scalars.
///
/// # Errors
/// [`Error::Shape`] if the shapes do not broadcast.
///
/// # Examples
/// ```
/// let x = ndtask_array::arange(-2.0, 3.0, 1.0, [2])?;
/// let relu = ndtask_array::where_(&x.greater(0.0)?, &x, 0.0)?;
/// assert_eq!(relu.compute()?.iter().copied().collect::<Vec<_>>(), vec![0.0, 0.0, 0.0, 1.0, 2.0]);
/// # Ok::<(), ndtask_core::Error>(())
/// ```
pub fn where_<T: Element>(
    cond: &Array<bool>,
    a: impl Into<Operand<T>>,
    b: impl Into<Operand<T>>,
) -> Result<Array<T>> {
    cond.check()?;
    match (a.into(), b.into()) {
        (Operand::Scalar(x), Operand::Scalar(y)) => {
            Ok(cond.map_keyed("where", key_of(&[x, y]), move |c| if c { x } else { y }))
        }
        (Operand::Array(x), Operand::Scalar(y)) => cond.zip_keyed(
            "where-scalar",
            key_of(&[y]),
            &x,
            move |c, v| if c { v } else { y },
        ),
        (Operand::Scalar(x), Operand::Array(y)) => cond.zip_keyed(
            "scalar-where",
            key_of(&[x]),
            &y,
            move |c, v| if c { x } else { v },
        ),
        (Operand::Array(x), Operand::Array(y)) => {
            x.check()?;
            y.check()?;
            // The same broadcasting and chunk alignment as the binary operators, over all three.
            let (inputs, grid) = crate::ops::layout::align(
                "where",
                &[cond.node.clone(), x.node.clone(), y.node.clone()],
            )?;
            let f = |c: bool, v: T, w: T| if c { v } else { w };
            let kernel = Arc::new(Ternary {
                name: "where".into(),
                key: 0,
                f,
                _t: PhantomData,
            });
            let kind = NodeKind::Map { kernel, inputs };
            Ok(Array::from_node(Node::new(kind, grid, T::DTYPE)))
        }
    }
}

impl Array<bool> {
    /// Element-wise logical and.
    ///
    /// # Errors
    /// [`Error::Shape`] if the shapes do not broadcast.
    pub fn logical_and(&self, other: &Array<bool>) -> Result<Array<bool>> {
        self.zip_keyed("logical_and", 0, other, |x, y| x & y)
    }

    /// Element-wise logical or.
    ///
    /// # Errors
    /// [`Error::Shape`] if the shapes do not broadcast.
    pub fn logical_or(&self, other: &Array<bool>) -> Result<Array<bool>> {
        self.zip_keyed("logical_or", 0, other, |x, y| x | y)
    }

    /// Element-wise logical exclusive or.
    ///
    /// # Errors
    /// [`Error::Shape`] if the shapes do not broadcast.
    pub fn logical_xor(&self, other: &Array<bool>) -> Result<Array<bool>> {
        self.zip_keyed("logical_xor", 0, other, |x, y| x ^ y)
    }

    /// Element-wise logical not.
    pub fn logical_not(&self) -> Array<bool> {
        self.map_keyed("logical_not", 0, |x| !x)
    }
}

macro_rules! bool_op {
    ($Trait:ident, $method:ident, $named:ident) => {
        impl $Trait<&Array<bool>> for &Array<bool> {
            type Output = Array<bool>;
            fn $method(self, rhs: &Array<bool>) -> Array<bool> {
                Array::from_result(self.$named(rhs))
            }
        }
        impl $Trait<Array<bool>> for Array<bool> {
            type Output = Array<bool>;
            fn $method(self, rhs: Array<bool>) -> Array<bool> {
                Array::from_result(self.$named(&rhs))
            }
        }
    };
}
bool_op!(BitAnd, bitand, logical_and);
bool_op!(BitOr, bitor, logical_or);
bool_op!(BitXor, bitxor, logical_xor);

impl Not for &Array<bool> {
    type Output = Array<bool>;
    fn not(self) -> Array<bool> {
        self.logical_not()
    }
}
impl Not for Array<bool> {
    type Output = Array<bool>;
    fn not(self) -> Array<bool> {
        self.logical_not()
    }
}
