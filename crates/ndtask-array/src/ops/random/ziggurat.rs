//! Normal variates by Doornik's ziggurat (ZIGNOR: J. A. Doornik, "An Improved Ziggurat Method to
//! Generate Normal Random Samples", 2005), 128 layers, fed by one element's own Philox draws: the
//! fast path takes one 64-bit draw (7 bits choose the layer, 53 bits the position), and the rare
//! rejections draw more from the same element's counters, never from its neighbours'.

use std::sync::OnceLock;

const LAYERS: usize = 128;
/// The start of the tail.
const R: f64 = 3.442_619_855_899;
/// The area of each layer.
const V: f64 = 9.912_563_035_262_17e-3;

pub(crate) struct Tables {
    /// Right edges: `x[0] = V / f(R)` (the bottom layer with its tail), `x[1] = R`, decreasing
    /// to `x[128] = 0`.
    x: [f64; LAYERS + 1],
    /// `x[i + 1] / x[i]`: below it, a point of layer `i` is inside the curve for certain.
    ratio: [f64; LAYERS],
}

pub(crate) fn tables() -> &'static Tables {
    static T: OnceLock<Tables> = OnceLock::new();
    T.get_or_init(|| {
        let mut x = [0.0; LAYERS + 1];
        let mut f = (-0.5 * R * R).exp();
        x[0] = V / f;
        x[1] = R;
        for i in 2..LAYERS {
            x[i] = (-2.0 * (V / x[i - 1] + f).ln()).sqrt();
            f = (-0.5 * x[i] * x[i]).exp();
        }
        x[LAYERS] = 0.0;
        let ratio = std::array::from_fn(|i| x[i + 1] / x[i]);
        Tables { x, ratio }
    })
}

/// `[0, 1)` from the top 53 bits.
#[inline(always)]
fn unit(bits: u64) -> f64 {
    (bits >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// `(0, 1]`, for logarithms.
#[inline(always)]
fn unit_open(bits: u64) -> f64 {
    ((bits >> 11) + 1) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// The fast path of one draw: the variate, or `None` when the draw falls outside the layers'
/// inner rectangles (about 1.2% of draws: then [`slow`]).
#[inline(always)]
pub(crate) fn fast(t: &Tables, bits: u64) -> Option<f64> {
    let i = (bits & 0x7f) as usize;
    let u = 2.0 * unit(bits) - 1.0;
    (u.abs() < t.ratio[i]).then(|| u * t.x[i])
}

/// A standard normal variate whose first draw `first` missed the fast path, from as many more
/// draws as `more` gives (the element's own further counters).
#[cold]
pub(crate) fn slow(first: u64, more: &mut dyn FnMut() -> u64) -> f64 {
    let t = tables();
    let mut bits = first;
    // A rejection has probability ~1.2%: 64 rounds end the loop for all practical purposes; the
    // bound only makes the result well defined whatever the draws.
    for _ in 0..64 {
        if let Some(v) = fast(t, bits) {
            return v;
        }
        let i = (bits & 0x7f) as usize;
        let u = 2.0 * unit(bits) - 1.0;
        if i == 0 {
            // The tail beyond R (Marsaglia's method).
            for _ in 0..64 {
                let x = unit_open(more()).ln() / R;
                let y = unit_open(more()).ln();
                if -2.0 * y >= x * x {
                    return if u < 0.0 { x - R } else { R - x };
                }
            }
            return if u < 0.0 { -R } else { R };
        }
        // The wedge between the rectangle and the curve.
        let x = u * t.x[i];
        let f0 = (-0.5 * (t.x[i] * t.x[i] - x * x)).exp();
        let f1 = (-0.5 * (t.x[i + 1] * t.x[i + 1] - x * x)).exp();
        if f1 + unit(more()) * (f0 - f1) < 1.0 {
            return x;
        }
        bits = more();
    }
    0.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_close_the_curve() {
        let t = tables();
        // The layers shrink to the top of the curve.
        assert!(
            t.x[LAYERS - 1] > 0.0 && t.x[LAYERS - 1] < 0.3,
            "{}",
            t.x[LAYERS - 1]
        );
        assert!(t.x.windows(2).skip(1).all(|w| w[0] > w[1]));
        assert!(t.ratio.iter().all(|&r| (0.0..1.0).contains(&r)));
    }
}
