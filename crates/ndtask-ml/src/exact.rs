//! Sums that do not depend on their order: each value is a fixed-point `i64` at a scale chosen
//! from the largest magnitude, added in an `i128`, so adding in any order, on any chunking,
//! thread or rank gives the same integer, and the same `f64` back.

use ndtask_core::{Error, Result};

/// A fixed-point scale: values times `2^shift`, truncated toward zero to an `i64` term, terms
/// added in an `i128`. The factor is applied in two halves, so that neither overflows nor
/// underflows for any finite magnitude (2^shift itself does beyond 2^1023).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Scale {
    up: [f64; 2],
    down: [f64; 2],
}

impl Scale {
    /// The scale for values of magnitude at most `max_abs`: each term fits in 61 bits, so a term
    /// is off by less than `max_abs * 2^-59` (finer than an `f64` at `max_abs`), and a sum of
    /// any number of terms up to 2^64 fits.
    pub(crate) fn for_values(max_abs: f64) -> Result<Scale> {
        if !max_abs.is_finite() {
            return Err(Error::InvalidArgument(format!(
                "the data hold a value of magnitude {max_abs}: sums need finite values"
            )));
        }
        let top = if max_abs > 0.0 {
            max_abs.log2().ceil() as i32 + 1
        } else {
            0
        };
        let shift = 61 - top;
        let (a, b) = (shift / 2, shift - shift / 2);
        Ok(Scale {
            up: [pow2(a), pow2(b)],
            down: [pow2(-a), pow2(-b)],
        })
    }

    /// `v` in fixed point (two exact multiplications, one conversion instruction).
    #[inline]
    pub(crate) fn fix(self, v: f64) -> i64 {
        (v * self.up[0] * self.up[1]) as i64
    }

    /// A fixed-point sum back as `f64`.
    #[inline]
    pub(crate) fn float(self, s: i128) -> f64 {
        s as f64 * self.down[0] * self.down[1]
    }
}

/// `2^e` for exponents far beyond `f64::powi`'s exact range (applied in steps that stay exact).
fn pow2(e: i32) -> f64 {
    let mut v = 1.0;
    let mut e = e;
    while e > 1000 {
        v *= 2f64.powi(1000);
        e -= 1000;
    }
    while e < -1000 {
        v *= 2f64.powi(-1000);
        e += 1000;
    }
    v * 2f64.powi(e)
}

/// An `i128` as two `i64` words (high, low), to travel in an `i64` array.
pub(crate) fn split(v: i128) -> [i64; 2] {
    [(v >> 64) as i64, v as u64 as i64]
}

/// Two words back as the `i128`.
pub(crate) fn join(hi: i64, lo: i64) -> i128 {
    (i128::from(hi) << 64) | i128::from(lo as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_are_the_same_in_any_order_and_close_to_the_true_sum() {
        let v: Vec<f64> = (0..1000)
            .map(|i| ((i * 7919) % 1000) as f64 * 0.37 - 123.456 + 1e-9 * i as f64)
            .collect();
        let s = Scale::for_values(v.iter().fold(0.0f64, |m, x| m.max(x.abs()))).unwrap();
        let fwd: i128 = v.iter().map(|&x| i128::from(s.fix(x))).sum();
        let back: i128 = v.iter().rev().map(|&x| i128::from(s.fix(x))).sum();
        assert_eq!(fwd, back);
        let exact: f64 = v.iter().sum();
        assert!((s.float(fwd) - exact).abs() <= 1e-9 * exact.abs());
        for x in [
            0i128,
            1,
            -1,
            i128::MAX,
            i128::MIN,
            1 << 100,
            -(1 << 90) + 12345,
        ] {
            let [h, l] = split(x);
            assert_eq!(join(h, l), x);
        }
        assert!(Scale::for_values(f64::NAN).is_err());
        assert_eq!(Scale::for_values(0.0).unwrap().fix(0.0), 0);
        // The largest and the smallest magnitudes keep their precision.
        for m in [1e300, f64::MAX, 1e-300, 5e-324, 1e-150] {
            let s = Scale::for_values(m).unwrap();
            let t = s.fix(m);
            assert!(t > 1 << 58 && t < i64::MAX, "{m}: {t}");
            assert_eq!(s.fix(-m), -t);
            let back = s.float(i128::from(t));
            assert!((back - m).abs() <= m * 1e-15, "{m}: {back}");
        }
    }
}
