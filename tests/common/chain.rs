//! Random expression chains for property tests: creation -> element-wise with broadcasting and
//! `where_` -> slicing / rechunk / transpose -> a reduction, over random shapes (empty and
//! length-1 axes included) with inputs chunked differently from each other, one of them
//! sometimes a computed (not source) array. Each chain comes with the same computation done
//! eagerly with ndarray. Driven by a seed alone, so the MPI suite (`examples/mpi_check.rs`)
//! builds the same chains on every rank.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use ndarray::{ArrayD, Axis, IxDyn, SliceInfoElem, Zip};
use ndtask::{from_ndarray, where_, Array, Chunks, ReduceOptions};

/// A small deterministic generator (xorshift64*).
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    pub fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
    /// Values in [-10, 10) on a grid of quarters, so sums of a few are exact.
    pub fn data(&mut self, shape: &[usize]) -> ArrayD<f64> {
        let n = shape.iter().product();
        let v = (0..n).map(|_| self.below(80) as f64 / 4.0 - 10.0).collect();
        ArrayD::from_shape_vec(IxDyn(shape), v).unwrap()
    }
    /// A random chunking of `shape`: a block shape, or explicit random sizes.
    pub fn chunks(&mut self, shape: &[usize]) -> Chunks {
        if self.chance(50) {
            return Chunks::Block(shape.iter().map(|&d| 1 + self.below(d.max(1))).collect());
        }
        let sizes = shape
            .iter()
            .map(|&d| {
                let mut left = d;
                let mut v = Vec::new();
                while left > 0 {
                    let s = 1 + self.below(left);
                    v.push(s);
                    left -= s;
                }
                v
            })
            .collect();
        Chunks::Explicit(sizes)
    }
}

/// A lazy chain, the same chain computed eagerly, and what it is (for failure messages).
pub struct Chain {
    pub lazy: Array<f64>,
    pub eager: ArrayD<f64>,
    pub text: String,
    /// Whether the result went through a reduction whose order differs from ndarray's (compare
    /// with a tolerance, not bits).
    pub reduced: bool,
}

fn shape_of(rng: &mut Rng) -> Vec<usize> {
    let ndim = 1 + rng.below(3);
    (0..ndim)
        .map(|_| match rng.below(12) {
            0 => 0,
            1 | 2 => 1,
            _ => 2 + rng.below(4),
        })
        .collect()
}

/// A shape that broadcasts against `base`: some axes 1, maybe the leading axis dropped.
fn broadcast_variant(rng: &mut Rng, base: &[usize]) -> Vec<usize> {
    let mut s: Vec<usize> = base
        .iter()
        .map(|&d| if rng.chance(30) { 1 } else { d })
        .collect();
    if s.len() > 1 && rng.chance(25) {
        s.remove(0);
    }
    s
}

fn bshape(shapes: &[&[usize]]) -> IxDyn {
    let n = shapes.iter().map(|s| s.len()).max().unwrap_or(0);
    let mut out = vec![1; n];
    for s in shapes {
        for (i, &d) in s.iter().enumerate() {
            if out[n - s.len() + i] == 1 {
                out[n - s.len() + i] = d;
            }
        }
    }
    IxDyn(&out)
}

fn zip2(a: &ArrayD<f64>, b: &ArrayD<f64>, f: impl Fn(f64, f64) -> f64) -> ArrayD<f64> {
    let sh = bshape(&[a.shape(), b.shape()]);
    Zip::from(&a.broadcast(sh.clone()).unwrap())
        .and(&b.broadcast(sh).unwrap())
        .map_collect(|&x, &y| f(x, y))
}

/// An input: a source array, or (sometimes) a computed one chunked unlike its source.
fn input(
    rng: &mut Rng,
    shape: &[usize],
    text: &mut String,
    name: &str,
) -> (Array<f64>, ArrayD<f64>) {
    let e = rng.data(shape);
    let chunks = rng.chunks(shape);
    text.push_str(&format!("{name} = from_ndarray({shape:?}, {chunks:?})"));
    let mut a = from_ndarray(e.clone(), chunks).unwrap();
    match rng.below(4) {
        0 => {
            let c = rng.chunks(shape);
            text.push_str(&format!(".rechunk({c:?})"));
            a = a.rechunk(c).unwrap();
        }
        1 => {
            // Two transposes: materialised block tasks with the source's values.
            text.push_str(".t().t()");
            a = a.t().t();
        }
        _ => {}
    }
    text.push_str("; ");
    (a, e)
}

/// The chain for `seed`.
pub fn chain(seed: u64) -> Chain {
    let mut rng = Rng::new(seed);
    let mut text = String::new();
    let base = shape_of(&mut rng);
    let (a, ea) = input(&mut rng, &base, &mut text, "a");
    let sb = broadcast_variant(&mut rng, &base);
    let (b, eb) = input(&mut rng, &sb, &mut text, "b");
    let k = rng.below(9) as f64 / 2.0 - 2.0;

    // Element-wise, broadcasting a against b.
    let (mut x, mut ex) = match rng.below(7) {
        0 => (&a + &b, zip2(&ea, &eb, |x, y| x + y)),
        1 => (&a - &b, zip2(&ea, &eb, |x, y| x - y)),
        2 => ((&a * &b) + k, zip2(&ea, &eb, |x, y| x * y).mapv(|v| v + k)),
        3 => (a.maximum(&b).unwrap(), zip2(&ea, &eb, f64::max)),
        4 => {
            let w = where_(&b.greater(k).unwrap(), &a, &b).unwrap();
            (w, zip2(&ea, &eb, |x, y| if y > k { x } else { y }))
        }
        5 => {
            // The condition is the broadcast operand and the values are both arrays.
            let w = where_(&b.less(0.0).unwrap(), &(&a * 2.0), &a).unwrap();
            (w, zip2(&ea, &eb, |x, y| if y < 0.0 { x * 2.0 } else { x }))
        }
        _ => {
            let w = where_(&a.greater(0.0).unwrap(), k, &b).unwrap();
            (w, zip2(&ea, &eb, |x, y| if x > 0.0 { k } else { y }))
        }
    };
    text.push_str("elementwise; ");

    // Structure.
    match rng.below(4) {
        0 => {
            let sel: Vec<SliceInfoElem> = ex
                .shape()
                .iter()
                .map(|&d| {
                    let lo = rng.below(d + 1);
                    let hi = lo + rng.below(d - lo + 1);
                    let step = [1isize, 2, 3, -1, -2][rng.below(5)];
                    SliceInfoElem::Slice {
                        start: lo as isize,
                        end: Some(hi as isize),
                        step,
                    }
                })
                .collect();
            text.push_str(&format!("slice {sel:?}; "));
            x = x.slice(&sel).unwrap();
            ex = ex.slice(sel.as_slice()).to_owned();
        }
        1 => {
            let c = rng.chunks(ex.shape());
            text.push_str(&format!("rechunk {c:?}; "));
            x = x.rechunk(c).unwrap();
        }
        2 => {
            text.push_str("transpose; ");
            x = x.t();
            ex = ex.t().as_standard_layout().into_owned();
        }
        _ => {}
    }

    // Reduction.
    let ndim = ex.ndim();
    let axis = rng.below(ndim.max(1));
    let (lazy, eager, reduced) = match rng.below(6) {
        0 => {
            text.push_str("sum");
            let s = x.sum_with(&ReduceOptions::all()).unwrap();
            (s, ArrayD::from_elem(IxDyn(&[]), ex.sum()), true)
        }
        1 if ndim > 0 => {
            text.push_str(&format!("sum axis {axis}"));
            (x.sum_axis(axis).unwrap(), ex.sum_axis(Axis(axis)), true)
        }
        2 if !ex.is_empty() => {
            text.push_str("mean");
            let m = x.mean_with(&ReduceOptions::all()).unwrap();
            (
                m,
                ArrayD::from_elem(IxDyn(&[]), ex.sum() / ex.len() as f64),
                true,
            )
        }
        3 if ndim > 0 && ex.shape()[axis] > 0 => {
            text.push_str(&format!("max axis {axis} keepdims"));
            let m = x
                .max_with(&ReduceOptions::axes([axis]).keepdims(true))
                .unwrap();
            let e = ex
                .fold_axis(Axis(axis), f64::NEG_INFINITY, |&a, &b| a.max(b))
                .insert_axis(Axis(axis));
            (m, e, false)
        }
        _ => {
            text.push_str("no reduction");
            (x, ex, false)
        }
    };
    Chain {
        lazy,
        eager,
        text,
        reduced,
    }
}

/// Whether `got` is the chain's eager result: bit for bit, or within a relative 1e-9 after a
/// reduction.
pub fn matches(c: &Chain, got: &ArrayD<f64>) -> bool {
    got.shape() == c.eager.shape()
        && got.iter().zip(c.eager.iter()).all(|(&g, &w)| {
            if c.reduced {
                (g - w).abs() <= 1e-9 * w.abs().max(1.0) || (g.is_nan() && w.is_nan())
            } else {
                g.to_bits() == w.to_bits()
            }
        })
}
