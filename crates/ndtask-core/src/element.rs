//! The Rust element types of arrays: the [`Element`] trait ties `f64`, `f32`, `i64` and `bool`
//! to their [`DType`] and moves values in and out of the type-erased [`Chunk`] (whole chunks)
//! and [`Buf`] (tiles, the unit of work inside a fused kernel); [`Numeric`] and [`Float`] add
//! arithmetic and float functions.

use crate::chunk::{Buf, Chunk};
use crate::dtype::DType;
use ndarray::ArrayD;
use std::fmt;

/// A type that can be the element of an ndtask array: `f64`, `f32`, `i64` or `bool`.
///
/// Casting between element types follows Rust's `as` for numbers, `true -> 1` for bools, and
/// `x != 0 -> true` from numbers to bool (NumPy's `astype` rules).
pub trait Element:
    Copy + Send + Sync + Default + PartialEq + PartialOrd + fmt::Debug + fmt::Display + 'static
{
    /// The run-time tag of this type.
    const DTYPE: DType;
    /// Wraps an array as a chunk.
    fn into_chunk(a: ArrayD<Self>) -> Chunk;
    /// Borrows the array inside a chunk of this type.
    fn chunk_ref(c: &Chunk) -> Option<&ArrayD<Self>>;
    /// Takes the array out of a chunk of this type.
    fn from_chunk(c: Chunk) -> Option<ArrayD<Self>>;
    /// Borrows the values of a tile of this type.
    fn buf_ref(b: &Buf) -> Option<&Vec<Self>>;
    /// Borrows the values of a tile mutably, turning it into a tile of this type if needed.
    fn buf_mut(b: &mut Buf) -> &mut Vec<Self>;
    /// The value as `f64`.
    fn to_f64(self) -> f64;
    /// The value as `i64`.
    fn to_i64(self) -> i64;
    /// The value as `bool`.
    fn to_bool(self) -> bool;
    /// A value from `f64` (`as` semantics).
    fn from_f64(v: f64) -> Self;
    /// A value from `i64` (`as` semantics).
    fn from_i64(v: i64) -> Self;
    /// A value from `bool` (`true -> 1`).
    fn from_bool(v: bool) -> Self;
    /// Converts a value of another element type to this one.
    fn cast_from<U: Element>(u: U) -> Self {
        match U::DTYPE {
            DType::F64 | DType::F32 => Self::from_f64(u.to_f64()),
            DType::I64 => Self::from_i64(u.to_i64()),
            DType::Bool => Self::from_bool(u.to_bool()),
        }
    }
}

macro_rules! element {
    ($t:ty, $var:ident, $to_f64:expr, $to_i64:expr, $to_bool:expr, $from_f64:expr, $from_i64:expr, $from_bool:expr) => {
        impl Element for $t {
            const DTYPE: DType = DType::$var;
            fn into_chunk(a: ArrayD<Self>) -> Chunk {
                Chunk::$var(a)
            }
            fn chunk_ref(c: &Chunk) -> Option<&ArrayD<Self>> {
                match c {
                    Chunk::$var(a) => Some(a),
                    _ => None,
                }
            }
            fn from_chunk(c: Chunk) -> Option<ArrayD<Self>> {
                match c {
                    Chunk::$var(a) => Some(a),
                    _ => None,
                }
            }
            fn buf_ref(b: &Buf) -> Option<&Vec<Self>> {
                match b {
                    Buf::$var(v) => Some(v),
                    _ => None,
                }
            }
            fn buf_mut(b: &mut Buf) -> &mut Vec<Self> {
                if !matches!(b, Buf::$var(_)) {
                    *b = Buf::$var(Vec::new());
                }
                match b {
                    Buf::$var(v) => v,
                    // Unreachable: the variant was set just above.
                    _ => unreachable!(),
                }
            }
            #[inline]
            fn to_f64(self) -> f64 {
                let f: fn($t) -> f64 = $to_f64;
                f(self)
            }
            #[inline]
            fn to_i64(self) -> i64 {
                let f: fn($t) -> i64 = $to_i64;
                f(self)
            }
            #[inline]
            fn to_bool(self) -> bool {
                let f: fn($t) -> bool = $to_bool;
                f(self)
            }
            #[inline]
            fn from_f64(v: f64) -> Self {
                let f: fn(f64) -> $t = $from_f64;
                f(v)
            }
            #[inline]
            fn from_i64(v: i64) -> Self {
                let f: fn(i64) -> $t = $from_i64;
                f(v)
            }
            #[inline]
            fn from_bool(v: bool) -> Self {
                let f: fn(bool) -> $t = $from_bool;
                f(v)
            }
        }
    };
}

element!(
    f64,
    F64,
    |x| x,
    |x| x as i64,
    |x| x != 0.0,
    |v| v,
    |v| v as f64,
    |b| b as u8 as f64
);
element!(
    f32,
    F32,
    |x| x as f64,
    |x| x as i64,
    |x| x != 0.0,
    |v| v as f32,
    |v| v as f32,
    |b| b as u8 as f32
);
element!(
    i64,
    I64,
    |x| x as f64,
    |x| x,
    |x| x != 0,
    |v| v as i64,
    |v| v,
    |b| b as i64
);
element!(
    bool,
    Bool,
    |x| x as u8 as f64,
    |x| x as i64,
    |x| x,
    |v| v != 0.0,
    |v| v != 0,
    |b| b
);

/// Element types with arithmetic: `f64`, `f32`, `i64`.
///
/// Integer arithmetic wraps on overflow and integer division by zero gives 0, as in NumPy
/// (which warns); a task never panics on either. `div` on integers rounds toward zero (Rust's
/// and ndarray's `/`); `floor_div` and `remainder` are NumPy's `//` and `%`.
pub trait Numeric: Element {
    /// 0
    const ZERO: Self;
    /// 1
    const ONE: Self;
    /// `a + b`
    fn add(a: Self, b: Self) -> Self;
    /// `a - b`
    fn sub(a: Self, b: Self) -> Self;
    /// `a * b`
    fn mul(a: Self, b: Self) -> Self;
    /// `a / b`
    fn div(a: Self, b: Self) -> Self;
    /// `a // b` as NumPy computes it: the quotient rounded toward negative infinity. Integers:
    /// 0 when `b == 0`, wrapping for `i64::MIN // -1`. Floats: NumPy's `floor_divide`
    /// (`±inf` or NaN when `b == 0`).
    fn floor_div(a: Self, b: Self) -> Self;
    /// `a % b` as NumPy computes it: the remainder with the sign of `b`
    /// (`a - floor_div(a, b) * b`). Integers: 0 when `b == 0`. Floats: NumPy's `remainder`
    /// (NaN when `b == 0`).
    fn remainder(a: Self, b: Self) -> Self;
}

macro_rules! float_numeric {
    ($t:ty) => {
        impl Numeric for $t {
            const ZERO: Self = 0.0;
            const ONE: Self = 1.0;
            #[inline(always)]
            fn add(a: Self, b: Self) -> Self {
                a + b
            }
            #[inline(always)]
            fn sub(a: Self, b: Self) -> Self {
                a - b
            }
            #[inline(always)]
            fn mul(a: Self, b: Self) -> Self {
                a * b
            }
            #[inline(always)]
            fn div(a: Self, b: Self) -> Self {
                a / b
            }
            #[inline]
            fn floor_div(a: Self, b: Self) -> Self {
                if b == 0.0 {
                    return a / b;
                }
                float_divmod(a, b).0
            }
            #[inline]
            fn remainder(a: Self, b: Self) -> Self {
                if b == 0.0 {
                    return a % b;
                }
                float_divmod(a, b).1
            }
        }
    };
}

/// NumPy's `npy_divmod` for `b != 0`: (floor quotient, remainder with the sign of `b`).
#[inline]
fn float_divmod<T: num_like::FloatOps>(a: T, b: T) -> (T, T) {
    let zero = T::zero();
    let mut m = a % b;
    let mut div = (a - m) / b;
    if m != zero {
        if (b < zero) != (m < zero) {
            m = m + b;
            div = div - T::one();
        }
    } else {
        m = zero.copysign(b);
    }
    let floordiv = if div != zero {
        let f = div.floor();
        if div - f > T::half() {
            f + T::one()
        } else {
            f
        }
    } else {
        zero.copysign(a / b)
    };
    (floordiv, m)
}

/// The float operations [`float_divmod`] needs, for `f64` and `f32`.
mod num_like {
    pub trait FloatOps:
        Copy
        + PartialOrd
        + std::ops::Add<Output = Self>
        + std::ops::Sub<Output = Self>
        + std::ops::Div<Output = Self>
        + std::ops::Rem<Output = Self>
    {
        fn zero() -> Self;
        fn one() -> Self;
        fn half() -> Self;
        fn floor(self) -> Self;
        fn copysign(self, sign: Self) -> Self;
    }
    macro_rules! ops {
        ($t:ty) => {
            impl FloatOps for $t {
                fn zero() -> Self {
                    0.0
                }
                fn one() -> Self {
                    1.0
                }
                fn half() -> Self {
                    0.5
                }
                fn floor(self) -> Self {
                    <$t>::floor(self)
                }
                fn copysign(self, sign: Self) -> Self {
                    <$t>::copysign(self, sign)
                }
            }
        };
    }
    ops!(f64);
    ops!(f32);
}
float_numeric!(f64);
float_numeric!(f32);

impl Numeric for i64 {
    const ZERO: Self = 0;
    const ONE: Self = 1;
    #[inline(always)]
    fn add(a: Self, b: Self) -> Self {
        a.wrapping_add(b)
    }
    #[inline(always)]
    fn sub(a: Self, b: Self) -> Self {
        a.wrapping_sub(b)
    }
    #[inline(always)]
    fn mul(a: Self, b: Self) -> Self {
        a.wrapping_mul(b)
    }
    #[inline(always)]
    fn div(a: Self, b: Self) -> Self {
        a.checked_div(b).unwrap_or(0)
    }
    #[inline]
    fn floor_div(a: Self, b: Self) -> Self {
        if b == 0 {
            return 0;
        }
        let q = a.wrapping_div(b);
        if a.wrapping_rem(b) != 0 && ((a < 0) != (b < 0)) {
            q - 1
        } else {
            q
        }
    }
    #[inline]
    fn remainder(a: Self, b: Self) -> Self {
        if b == 0 {
            return 0;
        }
        let r = a.wrapping_rem(b);
        if r != 0 && ((r < 0) != (b < 0)) {
            r + b
        } else {
            r
        }
    }
}

macro_rules! float_trait {
    ($($f:ident => $doc:literal),* $(,)?) => {
        /// Floating-point element types: `f64`, `f32`.
        pub trait Float: Numeric {
            /// Not a number.
            const NAN: Self;
            /// Whether the value is NaN.
            fn is_nan(self) -> bool;
            /// `self` raised to an integer power.
            fn powi(self, n: i32) -> Self;
            /// `self` raised to a float power.
            fn powf(self, p: Self) -> Self;
            /// Round half to even, as NumPy's `round`.
            fn round_even(self) -> Self;
            $(
                #[doc = $doc]
                fn $f(self) -> Self;
            )*
        }

        macro_rules! float_impl {
            ($t:ty) => {
                impl Float for $t {
                    const NAN: Self = <$t>::NAN;
                    #[inline(always)]
                    fn is_nan(self) -> bool {
                        <$t>::is_nan(self)
                    }
                    #[inline(always)]
                    fn powi(self, n: i32) -> Self {
                        <$t>::powi(self, n)
                    }
                    #[inline(always)]
                    fn powf(self, p: Self) -> Self {
                        <$t>::powf(self, p)
                    }
                    #[inline(always)]
                    fn round_even(self) -> Self {
                        <$t>::round_ties_even(self)
                    }
                    $(
                        #[inline(always)]
                        fn $f(self) -> Self {
                            <$t>::$f(self)
                        }
                    )*
                }
            };
        }
        float_impl!(f64);
        float_impl!(f32);
    };
}

float_trait!(
    abs => "`|x|`",
    sqrt => "Square root.",
    exp => "`e^x`.",
    ln => "Natural logarithm.",
    log10 => "Base-10 logarithm.",
    sin => "Sine.",
    cos => "Cosine.",
    tanh => "Hyperbolic tangent.",
    floor => "Round down.",
    ceil => "Round up.",
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn casts_follow_numpy() {
        assert_eq!(i64::cast_from(2.7f64), 2);
        assert!(bool::cast_from(-0.5f64));
        assert!(!bool::cast_from(0i64));
        assert_eq!(f32::cast_from(true), 1.0);
        assert_eq!(i64::div(7, 0), 0);
        assert_eq!(i64::add(i64::MAX, 1), i64::MIN);
    }

    #[test]
    fn floor_division_and_remainder_follow_numpy() {
        // (a, b, a // b, a % b) as NumPy gives them.
        for (a, b, q, r) in [
            (7i64, 2, 3, 1),
            (-7, 2, -4, 1),
            (7, -2, -4, -1),
            (-7, -2, 3, -1),
            (6, 3, 2, 0),
            (-6, 3, -2, 0),
            (5, 0, 0, 0),
            (i64::MIN, -1, i64::MIN, 0),
        ] {
            assert_eq!(
                (i64::floor_div(a, b), i64::remainder(a, b)),
                (q, r),
                "{a} {b}"
            );
        }
        for (a, b, q, r) in [
            (7.5f64, 2.0, 3.0, 1.5),
            (-7.5, 2.0, -4.0, 0.5),
            (7.5, -2.0, -4.0, -0.5),
            (-7.5, -2.0, 3.0, -1.5),
            (1.0, 0.1, 9.0, 0.09999999999999995),
        ] {
            assert_eq!(
                (f64::floor_div(a, b), f64::remainder(a, b)),
                (q, r),
                "{a} {b}"
            );
        }
        // Signed zeros and division by zero.
        assert!(f64::remainder(-6.0, 3.0).is_sign_positive());
        assert!(f64::remainder(6.0, -3.0).is_sign_negative());
        assert!(f64::floor_div(-0.0, 3.0).is_sign_negative());
        assert_eq!(f64::floor_div(1.0, 0.0), f64::INFINITY);
        assert!(f64::floor_div(0.0, 0.0).is_nan());
        assert!(f64::remainder(1.0, 0.0).is_nan());
        assert_eq!(f32::floor_div(-7.5, 2.0), -4.0);
    }
}
