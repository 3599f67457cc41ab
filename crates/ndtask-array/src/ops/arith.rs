//! Arithmetic operators and comparisons. Operators cannot return a `Result`, so a mistake such
//! as adding arrays of different shapes yields an array that reports the error when computed;
//! the `try_*` twins report it at once.

use crate::api::array::Array;
use crate::exec::kernels::{input, key_of, wide};
use crate::plan::arith::{op, ArithInput, ArithOp, ArithView, ADD, DIV, MUL, SUB};
use crate::plan::MapKernel;
use ndtask_core::{Buf, Element, Fingerprint, Numeric, Result};
use std::ops::{Add, Div, Mul, Neg, Sub};
use std::sync::Arc;

/// The right-hand side of a comparison: an array or a scalar.
pub enum Operand<T> {
    /// An array (broadcast against the other operand).
    Array(Array<T>),
    /// A scalar compared with every element.
    Scalar(T),
}

impl<T: Element> From<T> for Operand<T> {
    fn from(v: T) -> Self {
        Operand::Scalar(v)
    }
}
impl<T: Element> From<&Array<T>> for Operand<T> {
    fn from(a: &Array<T>) -> Self {
        Operand::Array(a.clone())
    }
}
impl<T: Element> From<Array<T>> for Operand<T> {
    fn from(a: Array<T>) -> Self {
        Operand::Array(a)
    }
}

macro_rules! arith {
    ($Trait:ident, $method:ident, $try:ident, $op:expr, $doc:literal) => {
        impl<T: Numeric> Array<T> {
            #[doc = $doc]
            ///
            /// # Errors
            /// [`ndtask_core::Error::Shape`] if the shapes do not broadcast.
            pub fn $try(&self, rhs: &Array<T>) -> Result<Array<T>> {
                self.zip_kernel($op.name(), rhs, Arc::new(Arith::<T>::tiles($op)))
            }
        }
        impl<T: Numeric> $Trait<&Array<T>> for &Array<T> {
            type Output = Array<T>;
            fn $method(self, rhs: &Array<T>) -> Array<T> {
                Array::from_result(self.$try(rhs))
            }
        }
        impl<T: Numeric> $Trait<Array<T>> for Array<T> {
            type Output = Array<T>;
            fn $method(self, rhs: Array<T>) -> Array<T> {
                (&self).$method(&rhs)
            }
        }
        impl<T: Numeric> $Trait<&Array<T>> for Array<T> {
            type Output = Array<T>;
            fn $method(self, rhs: &Array<T>) -> Array<T> {
                (&self).$method(rhs)
            }
        }
        impl<T: Numeric> $Trait<Array<T>> for &Array<T> {
            type Output = Array<T>;
            fn $method(self, rhs: Array<T>) -> Array<T> {
                self.$method(&rhs)
            }
        }
        impl<T: Numeric> $Trait<T> for &Array<T> {
            type Output = Array<T>;
            fn $method(self, rhs: T) -> Array<T> {
                self.map_kernel(Arc::new(Arith::scalar($op, rhs, false)))
            }
        }
        impl<T: Numeric> $Trait<T> for Array<T> {
            type Output = Array<T>;
            fn $method(self, rhs: T) -> Array<T> {
                (&self).$method(rhs)
            }
        }
        scalar_lhs!($Trait, $method, $op, f64);
        scalar_lhs!($Trait, $method, $op, f32);
        scalar_lhs!($Trait, $method, $op, i64);
    };
}

macro_rules! scalar_lhs {
    ($Trait:ident, $method:ident, $op:expr, $t:ty) => {
        impl $Trait<&Array<$t>> for $t {
            type Output = Array<$t>;
            fn $method(self, rhs: &Array<$t>) -> Array<$t> {
                rhs.map_kernel(Arc::new(Arith::scalar($op, self, true)))
            }
        }
        impl $Trait<Array<$t>> for $t {
            type Output = Array<$t>;
            fn $method(self, rhs: Array<$t>) -> Array<$t> {
                self.$method(&rhs)
            }
        }
    };
}

arith!(
    Add,
    add,
    try_add,
    ArithOp::Add,
    "Element-wise `self + rhs`."
);
arith!(
    Sub,
    sub,
    try_sub,
    ArithOp::Sub,
    "Element-wise `self - rhs`."
);
arith!(
    Mul,
    mul,
    try_mul,
    ArithOp::Mul,
    "Element-wise `self * rhs`."
);
arith!(
    Div,
    div,
    try_div,
    ArithOp::Div,
    "Element-wise `self / rhs`. On `i64` it rounds toward zero (Rust's and ndarray's `/`; NumPy's `//` is [`Array::floor_div`]) and division by zero gives 0; on floats it is IEEE division (`±inf`, NaN)."
);

impl<T: Numeric> Array<T> {
    /// Element-wise floor division, NumPy's `self // rhs` (`floor_divide`): the quotient rounded
    /// toward negative infinity (`-7 // 2 == -4`, where `/` gives `-3`). `rhs` is an array
    /// (broadcast, chunks aligned) or a scalar. Division by zero: 0 for `i64` (as NumPy, which
    /// warns), `±inf` or NaN for floats.
    ///
    /// # Errors
    /// [`ndtask_core::Error::Shape`] if the shapes do not broadcast.
    ///
    /// # Examples
    /// ```
    /// let x = ndtask_array::arange(-3i64, 4, 1, [3])?;
    /// let q = x.floor_div(2i64)?.compute()?;
    /// assert_eq!(q.iter().copied().collect::<Vec<_>>(), vec![-2, -1, -1, 0, 0, 1, 1]);
    /// # Ok::<(), ndtask_core::Error>(())
    /// ```
    pub fn floor_div(&self, rhs: impl Into<Operand<T>>) -> Result<Array<T>> {
        match rhs.into() {
            Operand::Array(b) => self.zip_keyed("floor_divide", 0, &b, T::floor_div),
            Operand::Scalar(s) => {
                self.check()?;
                Ok(
                    self.map_keyed("floor_divide-scalar", key_of(&[s]), move |x| {
                        T::floor_div(x, s)
                    }),
                )
            }
        }
    }

    /// Element-wise remainder with the sign of the divisor, NumPy's `self % rhs` (`remainder`,
    /// `mod`): `-7 % 2 == 1`, so `x == x.floor_div(d) * d + x.remainder(d)`. Division by zero:
    /// 0 for `i64` (as NumPy), NaN for floats.
    ///
    /// # Errors
    /// [`ndtask_core::Error::Shape`] if the shapes do not broadcast.
    ///
    /// # Examples
    /// ```
    /// let x = ndtask_array::arange(-3i64, 4, 1, [3])?;
    /// let r = x.remainder(2i64)?.compute()?;
    /// assert_eq!(r.iter().copied().collect::<Vec<_>>(), vec![1, 0, 1, 0, 1, 0, 1]);
    /// # Ok::<(), ndtask_core::Error>(())
    /// ```
    pub fn remainder(&self, rhs: impl Into<Operand<T>>) -> Result<Array<T>> {
        match rhs.into() {
            Operand::Array(b) => self.zip_keyed("remainder", 0, &b, T::remainder),
            Operand::Scalar(s) => {
                self.check()?;
                Ok(self.map_keyed("remainder-scalar", key_of(&[s]), move |x| {
                    T::remainder(x, s)
                }))
            }
        }
    }
}

impl<T: Numeric> Neg for &Array<T> {
    type Output = Array<T>;
    fn neg(self) -> Array<T> {
        self.map_keyed("negative", 0, |x| T::sub(T::ZERO, x))
    }
}
impl<T: Numeric> Neg for Array<T> {
    type Output = Array<T>;
    fn neg(self) -> Array<T> {
        -&self
    }
}

macro_rules! compare {
    ($method:ident, $name:literal, $op:tt) => {
        #[doc = concat!("Element-wise `self ", stringify!($op), " rhs` as a bool array (NumPy's `", $name, "`).")]
        ///
        /// `rhs` is an array (shapes broadcast, chunks are aligned) or a scalar.
        ///
        /// # Errors
        /// [`ndtask_core::Error::Shape`] if the shapes do not broadcast.
        pub fn $method(&self, rhs: impl Into<Operand<T>>) -> Result<Array<bool>> {
            match rhs.into() {
                Operand::Array(b) => self.zip_keyed($name, 0, &b, |x, y| x $op y),
                Operand::Scalar(s) => {
                    self.check()?;
                    Ok(self.map_keyed(concat!($name, "-scalar"), key_of(&[s]), move |x| x $op s))
                }
            }
        }
    };
}

impl<T: Element> Array<T> {
    compare!(less, "less", <);
    compare!(less_equal, "less_equal", <=);
    compare!(greater, "greater", >);
    compare!(greater_equal, "greater_equal", >=);
    compare!(equal, "equal", ==);
    compare!(not_equal, "not_equal", !=);
}

/// The constant operand of an [`Arith`] kernel and its side.
#[derive(Clone, Copy)]
enum Constant<T> {
    /// `tile op s`
    Rhs(T),
    /// `s op tile`
    Lhs(T),
}

/// `a op b` on two tiles, on a tile and a scalar, or on a scalar and a tile.
pub(crate) struct Arith<T> {
    op: ArithOp,
    scalar: Option<Constant<T>>,
    /// "add", "add-scalar" or "scalar-add", built once (it names the kernel in errors too).
    name: String,
}

impl<T: Numeric> Arith<T> {
    /// `a op b` on two tiles.
    pub fn tiles(op: ArithOp) -> Self {
        Arith {
            op,
            scalar: None,
            name: op.name().to_string(),
        }
    }

    /// `tile op s`, or `s op tile` when `scalar_lhs`.
    pub fn scalar(op: ArithOp, s: T, scalar_lhs: bool) -> Self {
        let (scalar, name) = if scalar_lhs {
            (Constant::Lhs(s), format!("scalar-{}", op.name()))
        } else {
            (Constant::Rhs(s), format!("{}-scalar", op.name()))
        };
        Arith {
            op,
            scalar: Some(scalar),
            name,
        }
    }

    fn run<const O: u8>(&self, inputs: &[&Buf], out: &mut [T]) -> Result<()> {
        let n = out.len();
        let a = &input::<T>(&self.name, inputs[0])?[..n];
        match self.scalar {
            None => {
                let b = &input::<T>(&self.name, inputs[1])?[..n];
                wide(|| {
                    for ((o, &x), &y) in out.iter_mut().zip(a).zip(b) {
                        *o = op::<T, O>(x, y);
                    }
                });
            }
            Some(Constant::Rhs(s)) => wide(|| {
                for (o, &x) in out.iter_mut().zip(a) {
                    *o = op::<T, O>(x, s);
                }
            }),
            Some(Constant::Lhs(s)) => wide(|| {
                for (o, &x) in out.iter_mut().zip(a) {
                    *o = op::<T, O>(s, x);
                }
            }),
        }
        Ok(())
    }
}

impl<T: Numeric> MapKernel for Arith<T> {
    fn exact(&self) -> bool {
        true
    }
    fn name(&self) -> String {
        self.name.clone()
    }

    fn fingerprint(&self, h: &mut Fingerprint) {
        h.str(&self.name);
        h.str(T::DTYPE.name());
        match self.scalar {
            None => {}
            Some(Constant::Rhs(v) | Constant::Lhs(v)) => h.scalar(v),
        }
    }

    fn apply(&self, inputs: &[&Buf], out: &mut Buf, n: usize) -> Result<()> {
        let out = T::buf_mut(out);
        out.resize(n, T::ZERO);
        match self.op {
            ArithOp::Add => self.run::<ADD>(inputs, out),
            ArithOp::Sub => self.run::<SUB>(inputs, out),
            ArithOp::Mul => self.run::<MUL>(inputs, out),
            ArithOp::Div => self.run::<DIV>(inputs, out),
        }
    }

    fn arith(&self) -> Option<ArithView> {
        let one = |s: T| {
            let mut b = ndtask_core::Buf::with_capacity(T::DTYPE, 1);
            T::buf_mut(&mut b).push(s);
            b
        };
        Some(ArithView {
            op: self.op,
            operands: match self.scalar {
                None => [ArithInput::Input(0), ArithInput::Input(1)],
                Some(Constant::Rhs(s)) => [ArithInput::Input(0), ArithInput::Scalar(one(s))],
                Some(Constant::Lhs(s)) => [ArithInput::Scalar(one(s)), ArithInput::Input(0)],
            },
        })
    }
}
