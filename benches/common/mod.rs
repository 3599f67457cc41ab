//! The benchmark workloads of issue 4, each twice: as an ndtask expression, and as a graph-free
//! baseline — a hand-written loop over the same chunks, one xoshiro256++ generator per chunk,
//! on a plain rayon pool. The criterion benches (`benches/*.rs`) and the comparison program
//! (`examples/bench_workloads.rs`, driven by `benches/compare/run.sh`) share these definitions,
//! so both measure exactly the same code.
//!
//! The baselines are written the way one would write the loop by hand for speed: no chunk is
//! ever stored; values are drawn into a small stack block and reduced while it is in L1, with
//! 32 independent accumulators so the floating-point adds vectorise and run at the adders'
//! throughput rather than their latency (with eight, our first choice, the fused pass of F was
//! latency-bound and 17% slower); element-wise work is fused into that reduction. (Folding each
//! value as it is drawn, with four accumulators, was slower still.) They do not reproduce
//! ndtask's bits (other seeding, other summation order), only its amount of work.

// Each bench target uses a subset of the workloads.
#![allow(dead_code)]

use ndtask::prelude::*;
use rand_xoshiro::rand_core::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use rayon::prelude::*;
use rayon::ThreadPool;

/// The seed of every workload.
pub const SEED: u64 = 42;

/// A workload of issue 4 ("Workloads and targets").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Workload {
    /// `random::uniform([10000,10000],[1000,1000]).mean()`.
    A,
    /// A with `sum`.
    BSum,
    /// A with `std` (ddof 0, NumPy's and Dask's default).
    BStd,
    /// `concatenate([x, x], 0).sum(axis 0)`, x 5000², chunks 1000².
    C,
    /// Monte Carlo pi, 1e8 throws, 1e6 per chunk.
    D,
    /// `ones([1000,1000],[10,10]).sum()`: 10,000 tiny chunks (per-task overhead).
    E,
    /// `((x + 1.0) * 2.0 - x * x).mean()`, x = A's array.
    F,
    /// `random::uniform([40000,40000],[2000,2000]).mean()`: 12.8 GB logical.
    G,
    /// `random::standard_normal([1e8], [1e6]).sum()`: normal variates (the random-arrays
    /// issue's target is against NumPy's `standard_normal`, per thread).
    N,
    /// Monte Carlo pi, 1e9 throws, 1e6 per chunk (the random-arrays issue's target).
    P,
    /// The bounded-memory issue's patterns on x = `uniform([40000, 40000], [1000, 1000])`
    /// (12.8 GB): center, `((x - x.mean())²).mean()`.
    I,
    /// Anomaly: `((x - x.mean_axis(0))²).mean()`.
    J,
    /// Transpose: `(x.T * x).mean()`.
    K,
    /// Rechunk: `x.rechunk([40000, 25]).std_axis(0).mean()`.
    L,
}

/// The side of I to L: the array is 40000² in 1000² chunks.
const PATTERN_N: usize = 40_000;
/// Its chunks.
const PATTERN_C: usize = 1_000;

impl Workload {
    /// Every workload, in table order.
    pub const ALL: [Workload; 14] = [
        Workload::A,
        Workload::BSum,
        Workload::BStd,
        Workload::C,
        Workload::D,
        Workload::E,
        Workload::F,
        Workload::G,
        Workload::N,
        Workload::P,
        Workload::I,
        Workload::J,
        Workload::K,
        Workload::L,
    ];

    /// The id used on the command line and in the table.
    pub fn id(self) -> &'static str {
        match self {
            Workload::A => "A",
            Workload::BSum => "B-sum",
            Workload::BStd => "B-std",
            Workload::C => "C",
            Workload::D => "D",
            Workload::E => "E",
            Workload::F => "F",
            Workload::G => "G",
            Workload::N => "N",
            Workload::P => "P",
            Workload::I => "I",
            Workload::J => "J",
            Workload::K => "K",
            Workload::L => "L",
        }
    }

    /// The workload with this id.
    pub fn parse(id: &str) -> Option<Workload> {
        Self::ALL
            .into_iter()
            .find(|w| w.id().eq_ignore_ascii_case(id))
    }

    /// Runs the ndtask expression on `s` (building it included) and returns a summary value.
    pub fn ndtask(self, s: &Config) -> Result<f64, Error> {
        Ok(match self {
            Workload::A => uniform_2d(10_000, 1_000)?.mean().compute_with(s)?,
            Workload::BSum => uniform_2d(10_000, 1_000)?.sum().compute_with(s)?,
            Workload::BStd => uniform_2d(10_000, 1_000)?.std(0.0).compute_with(s)?,
            Workload::C => {
                let x = uniform_2d(5_000, 1_000)?;
                let col = concatenate(&[&x, &x], 0)?.sum_axis(0)?.compute_with(s)?;
                col.sum()
            }
            Workload::D => pi_hits(100_000_000, 1_000_000)?.compute_with(s)? as f64,
            Workload::E => ndtask::ones::<f64>([1_000, 1_000], [10, 10])?
                .sum()
                .compute_with(s)?,
            Workload::F => {
                let x = uniform_2d(10_000, 1_000)?;
                ((&x + 1.0) * 2.0 - &x * &x).mean().compute_with(s)?
            }
            Workload::G => uniform_2d(40_000, 2_000)?.mean().compute_with(s)?,
            Workload::N => random::standard_normal::<f64>([100_000_000], [1_000_000], SEED)?
                .sum()
                .compute_with(s)?,
            Workload::P => pi_hits(1_000_000_000, 1_000_000)?.compute_with(s)? as f64,
            Workload::I | Workload::J | Workload::K | Workload::L => {
                let x = uniform_2d(PATTERN_N, PATTERN_C)?;
                let e = match self {
                    Workload::I => {
                        let d = &x - &x.mean().into_array();
                        (&d * &d).mean()
                    }
                    Workload::J => {
                        let d = &x - &x.mean_axis(0)?;
                        (&d * &d).mean()
                    }
                    Workload::K => (&x.t() * &x).mean(),
                    _ => x
                        .rechunk([PATTERN_N, PATTERN_C * PATTERN_C / PATTERN_N])?
                        .std_with(&ReduceOptions::axes([0]), 0.0)?
                        .mean(),
                };
                e.compute_with(s)?
            }
        })
    }

    /// Whether the baseline of this workload is ndtask's plain mean of the same array (the
    /// bounded-memory patterns I to L are measured against it) rather than a graph-free loop.
    pub fn baseline_is_plain_mean(self) -> bool {
        matches!(self, Workload::I | Workload::J | Workload::K | Workload::L)
    }

    /// Runs the graph-free baseline on `pool` and returns the same summary value (up to
    /// rounding and, for random data, sampling).
    pub fn baseline(self, pool: &ThreadPool) -> f64 {
        pool.install(|| match self {
            Workload::A => uniform_mean(10_000, 1_000, |u| u),
            Workload::BSum => uniform_sum(10_000, 1_000, |u| u),
            Workload::BStd => uniform_std(10_000, 1_000),
            Workload::C => concat_colsum(5_000, 1_000).iter().sum(),
            Workload::D => pi_hits_baseline(100_000_000, 1_000_000) as f64,
            Workload::E => ones_sum_baseline(1_000, 10),
            Workload::F => uniform_mean(10_000, 1_000, |u| (u + 1.0) * 2.0 - u * u),
            Workload::G => uniform_mean(40_000, 2_000, |u| u),
            Workload::N => normal_sum_baseline(100_000_000, 1_000_000),
            Workload::P => pi_hits_baseline(1_000_000_000, 1_000_000) as f64,
            // Measured by `plain_mean` instead (see `baseline_is_plain_mean`).
            Workload::I | Workload::J | Workload::K | Workload::L => f64::NAN,
        })
    }

    /// ndtask's plain mean of the array of I to L on `s`: their baseline.
    pub fn plain_mean(s: &Config) -> Result<f64, Error> {
        uniform_2d(PATTERN_N, PATTERN_C)?.mean().compute_with(s)
    }
}

/// A square `n`×`n` uniform array in square chunks of `c`.
pub fn uniform_2d(n: usize, c: usize) -> Result<Array<f64>, Error> {
    random::uniform::<f64>([n, n], [c, c], SEED)
}

/// The pi workload's lazy hit count: `f32` throws (as `examples/pi_chunked.rs` makes by
/// default) with x² + y² <= 1. The baseline loop throws `f64` values, unchanged.
pub fn pi_hits(throws: usize, chunk: usize) -> Result<Scalar<i64>, Error> {
    let rng = random::default_rng(SEED);
    let x = rng.uniform::<f32>([throws], [chunk])?;
    let y = rng.uniform::<f32>([throws], [chunk])?;
    Ok((&x * &x + &y * &y).less_equal(1.0)?.count_true())
}

/// A plain rayon pool of `threads` threads.
pub fn pool(threads: usize) -> ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap_or_else(|e| panic!("cannot start a rayon pool of {threads} threads: {e}"))
}

/// A uniform value in [0, 1) from the top 53 bits of a draw (ndtask's and NumPy's mapping).
#[inline(always)]
fn unit(bits: u64) -> f64 {
    (bits >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// The generator of chunk `c` of array `array`.
fn chunk_rng(array: u64, c: u64) -> Xoshiro256PlusPlus {
    Xoshiro256PlusPlus::seed_from_u64(SEED ^ (array << 48) ^ c)
}

/// Values are drawn into a stack block of this many, then reduced while the block is in L1:
/// the generator's loop and the (vectorised) reduction are separate tight loops, which measured
/// faster than reducing each value as it is drawn.
const BLOCK: usize = 1024;

/// Fills `out` with fresh unit draws.
#[inline(always)]
fn draw(rng: &mut Xoshiro256PlusPlus, out: &mut [f64]) {
    for v in out {
        *v = unit(rng.next_u64());
    }
}

/// Σ f(u) over `n` fresh draws, a block at a time.
#[inline(always)]
fn sum_draws(rng: &mut Xoshiro256PlusPlus, n: usize, f: impl Fn(f64) -> f64) -> f64 {
    let mut buf = [0.0f64; BLOCK];
    let mut total = 0.0;
    let mut left = n;
    while left > 0 {
        let b = &mut buf[..left.min(BLOCK)];
        draw(rng, b);
        total += sum_lanes(b, &f);
        left -= b.len();
    }
    total
}

/// Σ f(u) over an `n`×`n` uniform array in `c`×`c` chunks: one rayon task per chunk.
pub fn uniform_sum(n: usize, c: usize, f: impl Fn(f64) -> f64 + Sync) -> f64 {
    let chunks = (n / c) * (n / c);
    (0..chunks as u64)
        .into_par_iter()
        .map(|k| sum_draws(&mut chunk_rng(0, k), c * c, &f))
        .sum()
}

/// Mean of f(u) over an `n`×`n` uniform array in `c`×`c` chunks.
pub fn uniform_mean(n: usize, c: usize, f: impl Fn(f64) -> f64 + Sync) -> f64 {
    uniform_sum(n, c, f) / (n * n) as f64
}

/// (count, mean, M2) merged pairwise (Chan et al.), as any stable one-pass variance does.
fn chan(a: (f64, f64, f64), b: (f64, f64, f64)) -> (f64, f64, f64) {
    if a.0 == 0.0 {
        return b;
    }
    if b.0 == 0.0 {
        return a;
    }
    let n = a.0 + b.0;
    let d = b.1 - a.1;
    (n, a.1 + d * b.0 / n, a.2 + b.2 + d * d * a.0 * b.0 / n)
}

/// Population standard deviation of an `n`×`n` uniform array in `c`×`c` chunks. Each chunk is
/// drawn a block at a time; a block's mean and M2 take two passes over it in cache, and blocks
/// merge with Chan's update (never the naive Σx², which loses precision).
pub fn uniform_std(n: usize, c: usize) -> f64 {
    let chunks = (n / c) * (n / c);
    let (count, _, m2) = (0..chunks as u64)
        .into_par_iter()
        .map(|k| {
            let mut rng = chunk_rng(0, k);
            let mut buf = [0.0f64; BLOCK];
            let mut st = (0.0, 0.0, 0.0);
            let mut left = c * c;
            while left > 0 {
                let b = &mut buf[..left.min(BLOCK)];
                draw(&mut rng, b);
                let len = b.len() as f64;
                let mean = sum_lanes(b, |x| x) / len;
                let m2 = sum_lanes(b, |x| (x - mean) * (x - mean));
                st = chan(st, (len, mean, m2));
                left -= b.len();
            }
            st
        })
        .reduce(|| (0.0, 0.0, 0.0), chan);
    (m2 / count).sqrt()
}

/// Σ f(x) over a slice with eight independent accumulators (vectorises).
#[inline(always)]
fn sum_lanes(xs: &[f64], f: impl Fn(f64) -> f64) -> f64 {
    const L: usize = 32;
    let mut acc = [0.0f64; L];
    let mut it = xs.chunks_exact(L);
    for q in &mut it {
        for i in 0..L {
            acc[i] += f(q[i]);
        }
    }
    let tail: f64 = it.remainder().iter().map(|&x| f(x)).sum();
    let mut w = L;
    while w > 1 {
        w /= 2;
        for i in 0..w {
            acc[i] += acc[i + w];
        }
    }
    acc[0] + tail
}

/// Column sums of `concatenate([x, x], 0)` for an `n`×`n` uniform x in `c`×`c` chunks. Each
/// chunk of x is drawn once, row by row, and its column sums are added twice (x appears twice).
pub fn concat_colsum(n: usize, c: usize) -> Vec<f64> {
    let per_side = n / c;
    let partials: Vec<Vec<f64>> = (0..(per_side * per_side) as u64)
        .into_par_iter()
        .map(|k| {
            let mut rng = chunk_rng(0, k);
            let (mut col, mut row) = (vec![0.0f64; c], vec![0.0f64; c]);
            for _ in 0..c {
                draw(&mut rng, &mut row);
                col.iter_mut().zip(&row).for_each(|(s, &v)| *s += v);
            }
            col
        })
        .collect();
    let mut out = vec![0.0f64; n];
    for (k, part) in partials.iter().enumerate() {
        let j = k % per_side;
        for (o, &p) in out[j * c..(j + 1) * c].iter_mut().zip(part) {
            *o += p + p;
        }
    }
    out
}

/// Monte Carlo pi hit count: per chunk, one generator for x and one for y, drawn a block at a
/// time; the test and count vectorise over the block.
pub fn pi_hits_baseline(throws: usize, chunk: usize) -> u64 {
    (0..(throws / chunk) as u64)
        .into_par_iter()
        .map(|k| {
            let (mut rx, mut ry) = (chunk_rng(0, k), chunk_rng(1, k));
            let (mut xs, mut ys) = ([0.0f64; BLOCK], [0.0f64; BLOCK]);
            let (mut hits, mut left) = (0u64, chunk);
            while left > 0 {
                let m = left.min(BLOCK);
                draw(&mut rx, &mut xs[..m]);
                draw(&mut ry, &mut ys[..m]);
                hits += xs[..m]
                    .iter()
                    .zip(&ys[..m])
                    .map(|(&x, &y)| u64::from(x * x + y * y <= 1.0))
                    .sum::<u64>();
                left -= m;
            }
            hits
        })
        .sum()
}

/// Sum of `n` standard normal variates in chunks of `c`: per chunk a xoshiro256++ generator and
/// Marsaglia's polar method (two variates per accepted pair), drawn a block at a time.
pub fn normal_sum_baseline(n: usize, c: usize) -> f64 {
    (0..(n / c) as u64)
        .into_par_iter()
        .map(|k| {
            let mut rng = chunk_rng(0, k);
            let mut block = [0.0f64; BLOCK];
            let (mut sum, mut left) = (0.0, c);
            while left > 0 {
                let m = left.min(BLOCK) & !1;
                let mut i = 0;
                while i < m {
                    let u = 2.0 * unit(rng.next_u64()) - 1.0;
                    let v = 2.0 * unit(rng.next_u64()) - 1.0;
                    let s = u * u + v * v;
                    if s > 0.0 && s < 1.0 {
                        let f = (-2.0 * s.ln() / s).sqrt();
                        block[i] = u * f;
                        block[i + 1] = v * f;
                        i += 2;
                    }
                }
                sum += sum_lanes(&block[..m], |x| x);
                left -= m.max(1);
            }
            sum
        })
        .sum()
}

/// Sum of an `n`×`n` array of ones in `c`×`c` chunks, one rayon task per chunk that fills and
/// sums its chunk (the per-chunk work ndtask's tasks do, without a graph).
pub fn ones_sum_baseline(n: usize, c: usize) -> f64 {
    (0..(n / c) * (n / c))
        .into_par_iter()
        .map(|_| {
            let chunk = std::hint::black_box(vec![1.0f64; c * c]);
            sum_lanes(&chunk, |x| x)
        })
        .sum()
}

/// Threads of both sides in the criterion benches (the targets are for 2 threads).
pub const THREADS: usize = 2;

/// Benches `w` on ndtask's threaded scheduler and its baseline on a rayon pool, both with
/// [`THREADS`] threads, as two functions of one criterion group named `name`.
#[allow(clippy::expect_used)] // a benchmark that cannot run has nothing to report
pub fn bench_pair(c: &mut criterion::Criterion, name: &str, w: Workload) {
    let s = Config::new().threads(THREADS).expect("threaded scheduler");
    let pool = pool(THREADS);
    let mut g = c.benchmark_group(name);
    // Runs of 0.01-1 s: ten single-iteration samples are plenty, and keep `cargo bench` short.
    g.sample_size(10)
        .sampling_mode(criterion::SamplingMode::Flat)
        .warm_up_time(std::time::Duration::from_secs(1))
        .measurement_time(std::time::Duration::from_secs(6));
    g.bench_function("ndtask", |b| b.iter(|| w.ndtask(&s).expect("ndtask run")));
    g.bench_function("baseline", |b| b.iter(|| w.baseline(&pool)));
    g.finish();
}
