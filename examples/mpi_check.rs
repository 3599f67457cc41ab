//! Every op computed on the MPI scheduler must be bit-identical to the sync scheduler's result,
//! for any number of ranks (including more ranks than chunks). Asserts its own results, prints
//! on rank 0 only (and on a rank that finds a problem), exits non-zero on any mismatch.
//!
//! ```text
//! cargo build --release --features mpi --examples
//! mpirun -n 3 target/release/examples/mpi_check
//! mpirun -n 3 target/release/examples/mpi_check --gather-to-all   # every rank checks outputs
//! mpirun -n 2 target/release/examples/mpi_check --threads 3       # 3 worker threads per rank
//! mpirun -n 3 target/release/examples/mpi_check --memory-budget 1073741824  # every run budgeted
//! ```

// The random expression chains of `tests/chains.rs`, built from seeds alike on every rank.
#[path = "../tests/common/chain.rs"]
mod chain;

use ndarray::{Array2, ArrayD};
use ndtask::observe::{ChromeTrace, ProgressBar};
use ndtask::prelude::*;
use ndtask::scheduler::MpiScheduler;
use ndtask::{arange, from_ndarray, full, linspace, ones, zeros, CancelToken, Collection};
use ndtask_mpi::mpi::traits::CommunicatorCollectives;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Values as raw bits, so that -0.0 differs from 0.0 and NaN equals NaN.
trait Bits {
    fn bits(&self, out: &mut Vec<u64>);
}

impl Bits for f64 {
    fn bits(&self, out: &mut Vec<u64>) {
        out.push(self.to_bits());
    }
}
impl Bits for f32 {
    fn bits(&self, out: &mut Vec<u64>) {
        out.push(self.to_bits() as u64);
    }
}
impl Bits for i64 {
    fn bits(&self, out: &mut Vec<u64>) {
        out.push(*self as u64);
    }
}
impl Bits for bool {
    fn bits(&self, out: &mut Vec<u64>) {
        out.push(*self as u64);
    }
}
impl<T: Bits> Bits for ArrayD<T> {
    fn bits(&self, out: &mut Vec<u64>) {
        out.push(self.ndim() as u64);
        out.extend(self.shape().iter().map(|&s| s as u64));
        self.iter().for_each(|v| v.bits(out));
    }
}
impl<T: Bits> Bits for ndarray::Array1<T> {
    fn bits(&self, out: &mut Vec<u64>) {
        out.push(self.len() as u64);
        self.iter().for_each(|v| v.bits(out));
    }
}
impl<T: Bits> Bits for Vec<T> {
    fn bits(&self, out: &mut Vec<u64>) {
        self.iter().for_each(|v| v.bits(out));
    }
}
macro_rules! tuple_bits {
    ($($n:ident),+) => {
        impl<$($n: Bits),+> Bits for ($($n,)+) {
            #[allow(non_snake_case)]
            fn bits(&self, out: &mut Vec<u64>) {
                let ($($n,)+) = self;
                $($n.bits(out);)+
            }
        }
    };
}
impl Bits for ndtask::labelled::DataArray {
    fn bits(&self, out: &mut Vec<u64>) {
        out.push(self.dims().len() as u64);
        match self.to_f64() {
            Ok(v) => v.bits(out),
            Err(_) => out.push(u64::MAX),
        }
    }
}
tuple_bits!(A, B);
tuple_bits!(A, B, C);
tuple_bits!(A, B, C, D);

/// A configuration on the sync scheduler, the reference.
fn sync() -> Config {
    Config::new().scheduler(SyncScheduler)
}

struct Suite<'a> {
    mpi: &'a MpiScheduler,
    /// Every run of the suite: on `mpi`, under the budget given on the command line.
    cfg: Config,
    passed: usize,
    failed: Vec<String>,
}

impl Suite<'_> {
    fn receives(&self) -> bool {
        self.mpi.rank() == 0 || self.mpi.gathers_to_all()
    }

    /// Computes `c` on MPI and, where the result arrives, on the sync scheduler; compares bits.
    fn check<C: Collection>(&mut self, name: &str, c: C) -> Result<(), Error>
    where
        C::Output: Bits,
    {
        self.compare(name, &c, &c)
    }

    /// Computes `c` on MPI and, where the result arrives, `reference` on the sync scheduler;
    /// compares bits.
    fn compare<C: Collection, D: Collection<Output = C::Output>>(
        &mut self,
        name: &str,
        c: &C,
        reference: &D,
    ) -> Result<(), Error>
    where
        C::Output: Bits,
    {
        let cfg = self.cfg.clone();
        self.compare_in(name, c, reference, &cfg)
    }

    /// As [`Suite::compare`], computing `c` on MPI under `ctx`.
    fn compare_in<C: Collection, D: Collection<Output = C::Output>>(
        &mut self,
        name: &str,
        c: &C,
        reference: &D,
        ctx: &Config,
    ) -> Result<(), Error>
    where
        C::Output: Bits,
    {
        let got = ctx.compute_local(c)?;
        match (got, self.receives()) {
            (Some(got), true) => {
                let want = sync().compute_local(reference)?.ok_or_else(|| {
                    Error::Scheduler("the sync scheduler returned nothing".into())
                })?;
                let (mut a, mut b) = (Vec::new(), Vec::new());
                got.bits(&mut a);
                want.bits(&mut b);
                if a == b {
                    self.passed += 1;
                } else {
                    self.failed
                        .push(format!("{name}: MPI result differs from sync"));
                }
            }
            (None, false) => self.passed += 1,
            (Some(_), false) => self
                .failed
                .push(format!("{name}: unexpected result on this rank")),
            (None, true) => self.failed.push(format!("{name}: no result on this rank")),
        }
        Ok(())
    }
}

fn two_d(s: &mut Suite, shape: [usize; 2], chunks: [usize; 2]) -> Result<(), Error> {
    let tag = format!("{shape:?} in {chunks:?}");
    let ch = chunks.to_vec();
    let rng = random::default_rng(7);
    let x = rng.uniform::<f64>(shape, ch.clone())?;
    let y = rng.normal::<f64>(1.0, 2.0, shape, ch.clone())?;
    let n = |op: &str| format!("{op} {tag}");

    s.check(&n("uniform"), &x)?;
    s.check(&n("normal"), &y)?;
    s.check(&n("uniform f32"), rng.uniform::<f32>(shape, ch.clone())?)?;
    s.check(&n("integers"), rng.integers(-5, 5, shape, ch.clone())?)?;
    s.check(&n("zeros"), zeros::<f64>(shape, ch.clone())?)?;
    s.check(&n("ones"), ones::<i64>(shape, ch.clone())?)?;
    s.check(&n("full"), full(shape, ch.clone(), 2.5f32)?)?;
    let grid = Array2::from_shape_fn((shape[0], shape[1]), |(i, j)| (i * 31 + j) as f64 - 0.5);
    let g = from_ndarray(grid, ch.clone())?;
    s.check(&n("from_ndarray"), &g)?;

    s.check(&n("x + y"), &x + &y)?;
    s.check(&n("x - 2"), &x - 2.0)?;
    s.check(&n("2 - x"), 2.0 - &x)?;
    s.check(&n("x * y"), &x * &y)?;
    s.check(&n("x / (y + 10)"), &x / &(&y + 10.0))?;
    s.check(&n("x / 3"), &x / 3.0)?;
    s.check(&n("-x"), -&x)?;
    s.check(&n("(x + 1) * 2 - g * g"), (&x + 1.0) * 2.0 - &g * &g)?;
    s.check(&n("map sin"), x.map(f64::sin))?;
    s.check(&n("zip_with max"), x.zip_map(&y, f64::max)?)?;

    s.check(&n("x <= 0.5"), x.less_equal(0.5)?)?;
    s.check(&n("x < y"), x.less(&y)?)?;
    s.check(&n("x > y"), x.greater(&y)?)?;
    s.check(&n("x >= 0.25"), x.greater_equal(0.25)?)?;
    s.check(&n("x == x"), x.equal(&x)?)?;
    s.check(&n("x != y"), x.not_equal(&y)?)?;

    s.check(&n("astype f32"), x.astype::<f32>())?;
    s.check(&n("astype i64"), (&y * 100.0).astype::<i64>())?;
    s.check(
        &n("astype bool"),
        rng.integers(0, 2, shape, ch.clone())?.astype::<bool>(),
    )?;

    s.check(&n("sum"), x.sum())?;
    s.check(&n("mean"), y.mean())?;
    s.check(&n("sum i64"), rng.integers(-9, 9, shape, ch.clone())?.sum())?;
    s.check(&n("sum axis 0"), x.sum_axis(0)?)?;
    s.check(&n("sum axis 1"), y.sum_axis(1)?)?;
    s.check(&n("mean axis 0"), x.mean_axis(0)?)?;
    s.check(&n("mean axis 1"), y.mean_axis(1)?)?;
    // Several reductions of one input fold it in one pass (one task per chunk for all).
    let z = &x * 2.0 - &y;
    s.check(
        &n("sum, std, argmax, mean axis 0 of one input"),
        (z.sum(), z.std(1.0), z.argmax()?, z.mean_axis(0)?),
    )?;
    s.check(
        &n("min, max, sum axis 1 of one input"),
        (z.min(), z.max(), z.sum_axis(1)?),
    )?;
    // 18 state arrays in one shared partial result, sent whole between ranks.
    s.check(
        &n("std, var, min, max, argmax, argmin of one input"),
        (
            (z.std(0.0), z.var(0.0), z.min()),
            (z.max(), z.argmax()?, z.argmin()?),
        ),
    )?;
    for split in [2, 3, 4, 16] {
        let all = ReduceOptions::all().split_every(split);
        let ax0 = ReduceOptions::axes([0]).keepdims(true).split_every(split);
        let ax1 = ReduceOptions::axes([1]).split_every(split);
        s.check(&n(&format!("sum split_every {split}")), x.sum_with(&all)?)?;
        s.check(
            &n(&format!("mean keepdims split_every {split}")),
            y.mean_with(&all.clone().keepdims(true))?,
        )?;
        s.check(
            &n(&format!("sum axis 0 keepdims split_every {split}")),
            x.sum_with(&ax0)?,
        )?;
        s.check(
            &n(&format!("mean axis 1 split_every {split}")),
            y.mean_with(&ax1)?,
        )?;
        s.check(
            &n(&format!("count_true axis 0 split_every {split}")),
            x.less(0.3)?.count_true_with(&ax0)?,
        )?;
    }
    s.check(&n("count_true"), x.less(&y)?.count_true())?;
    s.check(
        &n("sum axes [0, 1]"),
        x.sum_with(&ReduceOptions::axes([0, 1]))?,
    )?;

    s.check(
        &n("concatenate axis 0"),
        ndtask::concatenate(&[&x, &y, &g], 0)?,
    )?;
    s.check(&n("concatenate axis 1"), ndtask::concatenate(&[&x, &y], 1)?)?;
    s.check(
        &n("sum of concatenate"),
        ndtask::concatenate(&[&x, &g], 1)?.sum(),
    )?;
    // A repeated input: its partials are shared, so combines read one result twice.
    for axis in [0, 1] {
        let twice = ndtask::concatenate(&[&x, &y, &x], axis)?;
        s.check(
            &n(&format!("sum over axis {axis} of concatenate [x, y, x]")),
            twice.sum_axis(axis)?,
        )?;
        s.check(
            &n(&format!("argmax over axis {axis} of concatenate [x, y, x]")),
            twice.argmax_axis(axis)?,
        )?;
    }

    // Several outputs over one shared graph, as `ndtask::compute` does.
    s.check(
        &n("tuple of 4"),
        (x.sum(), y.mean(), &x + 1.0, y.sum_axis(0)?),
    )?;
    s.check(&n("tuple of 2"), (x.less(0.5)?.count_true(), &x * &y))?;
    s.check(&n("vec"), vec![x.sum(), y.sum(), g.sum()])?;
    Ok(())
}

fn one_d(s: &mut Suite) -> Result<(), Error> {
    let a = arange(0i64, 1000, 3, 17)?;
    s.check("arange i64", &a)?;
    s.check("arange i64 sum", a.sum())?;
    let f = arange(0.0f64, 10.0, 0.25, 7)?;
    s.check("arange f64", &f)?;
    s.check("arange f64 mean", f.mean())?;
    s.check("linspace", linspace(0.0, 1.0, 101, true, 10)?)?;
    s.check(
        "linspace no endpoint mean",
        linspace(-3.0, 5.0, 1000, false, 64)?.mean(),
    )?;
    // One chunk: every rank but rank 0 is idle.
    let one = arange(0i64, 5, 1, 5)?;
    s.check("one chunk", &one * 2)?;
    s.check("one chunk sum", one.sum())?;
    // Many chunks: a deep reduction tree crossing ranks.
    let u = random::uniform::<f64>([100_000], [1_000], 3)?;
    s.check("100 chunks sum", u.sum())?;
    // A full reduction moves partial states (a few dozen bytes each), never 8 KB chunks. (Under
    // a budget, each partial a rank receives costs it a grant of 5 bytes more.)
    let st = s.mpi.last_run();
    let most = match s.cfg.budget() {
        Some(_) => 32,
        None => 16,
    };
    if st.bytes_sent > 4096 || st.messages_sent > most {
        s.failed.push(format!(
            "100 chunks sum: this rank sent {} bytes in {} messages; only partials should move",
            st.bytes_sent, st.messages_sent
        ));
    } else {
        s.passed += 1;
    }
    s.check(
        "100 chunks mean split_every 2",
        u.mean_with(&ReduceOptions::all().split_every(2))?,
    )?;
    s.check("100 chunks count", u.greater(0.5)?.count_true())?;
    Ok(())
}

/// The wider array API (element-wise math, more reductions, scans, indexing, reshaping, user
/// functions, matmul, statistics): the same bits as the sync scheduler.
fn api(s: &mut Suite) -> Result<(), Error> {
    use ndarray::s;
    let rng = random::default_rng(5);
    let x = rng.normal::<f64>(0.0, 3.0, [40, 30], vec![9, 7])?;
    let y = rng.uniform::<f64>([40, 30], vec![13, 30])?; // other chunks: aligned automatically
    let row = rng.uniform::<f64>([30], vec![8])?; // broadcast along axis 0
    let pos = x.abs() + 0.5;
    s.check(
        "sqrt exp ln tanh",
        pos.sqrt() + x.tanh() - pos.ln() + (&x * 0.1).exp(),
    )?;
    s.check(
        "sin cos floor ceil round",
        x.sin() * x.cos() + x.floor() - x.ceil() + x.round(),
    )?;
    s.check(
        "powi powf clip",
        x.powi(3) + pos.powf(0.5) + x.clip(-1.0, 1.0)?,
    )?;
    s.check("maximum minimum", x.maximum(&y)? - x.minimum(&y)?)?;
    s.check("broadcast row", &x + &row)?;
    let b = x.greater(0.0)?;
    s.check("where", ndtask::where_(&b, &x, &y)?)?;
    s.check("logic", (&b & &y.less(0.5)?) | !&b)?;
    s.check("min max prod", (x.min(), x.max(), (&y + 0.5).prod()))?;
    s.check(
        "var std",
        (
            x.var(0.0),
            x.std(1.0),
            x.var_with(&ReduceOptions::axes([0]), 1.0)?,
        ),
    )?;
    s.check(
        "argmax argmin",
        (x.argmax()?, x.argmin_axis(0)?, x.argmax_axis(1)?),
    )?;
    s.check(
        "any all count_nonzero",
        (b.any(), b.all(), x.round().count_nonzero()),
    )?;
    let nans = ndtask::where_(&y.less(0.2)?, f64::NAN, &x)?;
    s.check(
        "nan reductions",
        (
            nans.nansum(),
            nans.nanmean(),
            nans.nanmax(),
            nans.nanstd(0.0),
        ),
    )?;
    s.check(
        "cumsum cumprod",
        (x.cumsum(0)?, (&y * 0.1 + 1.0).cumprod(1)?),
    )?;
    s.check("slice", x.slice(s![3..37;2, -5..])?)?;
    s.check("slice index", x.slice(s![-1, 2..20;-3])?)?;
    s.check("rechunk transpose", x.rechunk([20, 10])?.t())?;
    s.check(
        "reshape",
        x.rechunk([8, 30])?
            .reshape([1200])?
            .rechunk([300])?
            .reshape([40, 30])?,
    )?;
    s.check("stack squeeze", ndtask::stack(&[&x, &y], 0)?.squeeze(None)?)?;
    s.check("expand_dims", x.expand_dims(1)?.sum_axis(0)?)?;
    s.check("map_blocks", x.map_blocks(|c| c.mapv(|v| v * v)))?;
    s.check("matmul", x.dot(&y.t())?)?;
    s.check("matvec", x.dot(&row)?)?;
    let (h, _) = x.histogram(12, (-6.0, 6.0))?;
    s.check("histogram", h)?;
    s.check(
        "bincount",
        rng.integers(0, 9, [1000], vec![77])?.bincount(9)?,
    )?;
    let flat = rng.uniform::<f64>([500], vec![60])?;
    s.check("compress", flat.compress(&flat.greater(0.7)?)?)?;
    Ok(())
}

/// Megabyte chunks moving both ways at once (MPI's rendezvous protocol, not eager sends): the
/// concatenation's chunks and `b`'s chunks are split over the ranks differently.
fn big(s: &mut Suite) -> Result<(), Error> {
    let rng = random::default_rng(11);
    let x = rng.uniform::<f64>([1024, 512], vec![128, 512])?;
    let y = rng.uniform::<f64>([1024, 512], vec![128, 512])?;
    let a = ndtask::concatenate(&[&x, &y], 0)?; // 16 chunks of 512 KiB
    let b = rng.standard_normal::<f64>([2048, 512], vec![128, 512])?;
    s.check("big a + b", &a + &b)?;
    s.check("big (a * b).sum()", (&a * &b).sum())?;
    s.check("big b - a, mean axis 0", (&b - &a).mean_axis(0)?)?;
    Ok(())
}

/// Ranks that build different graphs must all get an error, not hang; the scheduler still
/// works afterwards.
fn mismatch(s: &mut Suite) -> Result<(), Error> {
    let x = arange(0i64, 100, 1, 10)?;
    let e = if s.mpi.rank() == 0 {
        x.sum()
    } else {
        (&x + 1).sum()
    };
    let got = s.cfg.compute_local(&e);
    match (got, s.mpi.ranks()) {
        (Err(Error::Mpi(_)), r) if r > 1 => s.passed += 1,
        (Ok(_), 1) => s.passed += 1,
        (other, _) => s.failed.push(format!(
            "graph mismatch: expected an MPI error, got {other:?}"
        )),
    }
    s.check("after a mismatch", x.sum())
}

/// Random expression chains (broadcasting, `where_`, mixed chunkings, computed inputs, empty and
/// length-1 axes, slicing, rechunk, transpose, reductions): MPI against sync, and where the
/// result arrives, against eager ndarray too.
fn chains(s: &mut Suite) -> Result<(), Error> {
    for seed in 0..96 {
        let c = chain::chain(seed);
        let name = format!("chain {seed}: {}", c.text);
        s.check(&name, &c.lazy)?;
        if s.receives() {
            let got = c.lazy.compute_with(&sync())?;
            if !chain::matches(&c, &got) {
                s.failed.push(format!("{name}: differs from ndarray"));
            }
        }
    }
    Ok(())
}

/// The scaling model (`ndtask_mpi::predict`) against what each rank measured
/// (`MpiScheduler::last_run`): tasks, messages and bytes, exactly, for pi, the centring pattern
/// `(x - x.mean())^2`, a concatenation and a matrix product.
fn model(s: &mut Suite) -> Result<(), Error> {
    let rng = random::default_rng(5);
    let x = rng.uniform::<f64>([400, 300], [100, 75])?;
    let y = rng.uniform::<f64>([400], [40])?;
    let hits = (&y * &y + &y).less_equal(1.0)?.count_true();
    let c = &x - &x.mean().into_array();
    let center = (&c * &c).mean();
    let cat = concatenate(&[&x, &x.rechunk([50, 300])?], 0)?.sum_axis(0)?;
    let product = x.dot(&x.t())?;
    let (rank, ranks) = (s.mpi.rank(), s.mpi.ranks());
    let gather = s.mpi.gathers_to_all();
    let budgeted = s.cfg.budget().is_some();
    let mut check = |name: &str, graph: ndtask::engine::TaskGraph, got: ndtask_mpi::RunStats| {
        let predicted = match budgeted {
            true => ndtask_mpi::predict_under_budget(&graph, ranks, gather),
            false => ndtask_mpi::predict(&graph, ranks, gather),
        };
        // The peak held under a budget is measured, not modelled.
        let got = ndtask_mpi::RunStats {
            peak_held_bytes: 0,
            ..got
        };
        match predicted {
            Some(p) if p[rank] == got => s.passed += 1,
            Some(p) => s.failed.push(format!(
                "model of {name}: predicted {:?}, measured {got:?}",
                p[rank]
            )),
            None => s.failed.push(format!("model of {name}: no prediction")),
        }
    };
    s.cfg.compute_local(&hits)?;
    check(
        "pi",
        ndtask::Config::default().task_graph(&hits)?,
        s.mpi.last_run(),
    );
    s.cfg.compute_local(&center)?;
    check(
        "center",
        ndtask::Config::default().task_graph(&center)?,
        s.mpi.last_run(),
    );
    s.cfg.compute_local(&cat)?;
    check(
        "concatenate",
        ndtask::Config::default().task_graph(&cat)?,
        s.mpi.last_run(),
    );
    s.cfg.compute_local(&product)?;
    check(
        "matmul",
        ndtask::Config::default().task_graph(&product)?,
        s.mpi.last_run(),
    );
    Ok(())
}

/// Under a memory budget per rank: the bits of sync with no rank holding more than the budget
/// (for each pattern, at the smallest of a few budgets its plan fits in), a plan that cannot fit
/// failing on every rank before anything runs, and a failing task failing every rank.
fn budget(s: &mut Suite) -> Result<(), Error> {
    let rng = random::default_rng(21);
    let x = rng.uniform::<f64>([240, 240], [30, 25])?; // 8 x 10 chunks of up to 6000 bytes
    let y = rng.uniform::<f64>([240, 240], [48, 40])?; // chunked differently
    let chunk = 30 * 25 * 8;
    let c = &x - &x.mean().into_array();
    let a = &x - &x.mean_axis(0)?;
    // Chunks made by a user's function cannot be regenerated inside a fused kernel: they are
    // materialised, and a transpose moves them between ranks.
    let m = x.map_blocks(|b| b.mapv(|v| v * 2.0 - 1.0));
    let cases: Vec<(&str, Array<f64>)> = vec![
        ("blocks transposed", (&m.t() + &m).sum_axis(0)?),
        ("cumsum", m.cumsum(0)?.sum_axis(1)?),
        ("center", (&c * &c).mean().into_array()),
        ("anomaly", (&a * &a).mean().into_array()),
        ("transpose", (&x.t() * &x).mean().into_array()),
        (
            "rechunk",
            x.rechunk([240, 5])?
                .std_with(&ndtask::ReduceOptions::axes([0]), 0.0)?
                .mean()
                .into_array(),
        ),
        ("mixed chunks", (&x * &y + &y.t().t()).sum_axis(1)?),
        ("matmul", x.dot(&y.t())?.sum_axis(0)?),
        (
            "slices",
            x.slice(ndarray::s![7..200, 3..190])?.t().sum_axis(1)?,
        ),
    ];
    let mut held = Vec::new();
    for (name, e) in &cases {
        // The smallest budget that fits: the plan-time check answers alike on every rank.
        let fits = |b: usize| {
            let ctx = s.cfg.clone().memory_budget(b);
            !matches!(ctx.compute_local(e), Err(Error::Memory(_)))
        };
        let Some(b) = [3, 4, 6, 8, 12, 16, 24, 32, 64, 128]
            .map(|k| k * chunk)
            .into_iter()
            .find(|&b| fits(b))
        else {
            s.failed
                .push(format!("budget {name}: no budget up to 128 chunks fits"));
            continue;
        };
        let ctx = s.cfg.clone().memory_budget(b);
        s.compare_in(&format!("budget {name} ({b} bytes)"), e, e, &ctx)?;
        let peaks: Vec<usize> = s
            .mpi
            .last_run_per_rank()
            .iter()
            .map(|r| r.peak_held_bytes)
            .collect();
        let fullest = peaks.iter().copied().max().unwrap_or(0);
        held.push(format!("{name} {fullest}/{b}"));
        match peaks.iter().all(|&p| p <= b) && fullest > 0 {
            true => s.passed += 1,
            false => s.failed.push(format!(
                "budget {name}: peaks held per rank {peaks:?} with a budget of {b}"
            )),
        }
    }
    if s.mpi.rank() == 0 {
        println!(
            "mpi_check: bytes held on the fullest rank / budget: {}",
            held.join(", ")
        );
    }
    // A budget below one chunk: the same plan-time error on every rank, nothing run or sent.
    let ranks = s.mpi.ranks();
    let tiny = s.cfg.clone().memory_budget(100);
    match tiny.compute_local(&(&c * &c).mean()) {
        Err(Error::Memory(m)) if m.contains(&format!("on MPI rank 0 of {ranks}")) => {
            match s.mpi.last_run() {
                r if r.tasks_run == 0 && r.messages_sent == 0 => s.passed += 1,
                r => s
                    .failed
                    .push(format!("budget of 100 bytes: ran before failing: {r:?}")),
            }
        }
        other => s.failed.push(format!(
            "budget of 100 bytes: expected rank 0's plan-time error, got {:?}",
            other.map(|_| ())
        )),
    }
    // A budget that the ranks answer differently at plan time: rank 0 holds every output chunk
    // until the end (they are gathered there), the other ranks one or two chunks at a time. The
    // check fails on rank 0 only, and every rank must return rank 0's error, none run. (Under
    // MPICH 4.0 the agreement read "no rank failed", a u64::MAX, as -1: the other ranks ran
    // and waited for rank 0 forever, issue 33.)
    if ranks > 1 {
        let out = random::uniform::<f64>([8 * 4 * ranks, 100], [8, 100], 3)?;
        let some = s.cfg.clone().memory_budget(3 * 8 * 100 * 8);
        match some.compute_local(&out) {
            Err(Error::Memory(m)) if m.contains(&format!("on MPI rank 0 of {ranks}")) => {
                match s.mpi.last_run() {
                    r if r.tasks_run == 0 && r.messages_sent == 0 => s.passed += 1,
                    r => s.failed.push(format!(
                        "a budget only some ranks fit: ran before failing: {r:?}"
                    )),
                }
            }
            other => s.failed.push(format!(
                "a budget only some ranks fit: expected rank 0's plan-time error on every rank, \
                 got {:?}",
                other.map(|_| ())
            )),
        }
        s.check("after a budget only some ranks fit", out.sum())?;
    }
    // A failing task under a budget fails every rank, and the scheduler computes again.
    let failing = x
        .map_named("fails", |v| if v > 0.999 { f64::NAN } else { v })
        .map(|v| {
            assert!(!v.is_nan(), "a NaN");
            v
        });
    let ctx = s.cfg.clone().memory_budget(16 * chunk);
    match ctx.compute_local(&failing.sum()) {
        Err(Error::Task { .. }) => s.passed += 1,
        other => s.failed.push(format!(
            "a failing task under a budget: {:?}",
            other.map(|_| ())
        )),
    }
    s.check("after a failure under a budget", x.sum())
}

/// A computed array rechunked through a file in a directory every rank sees: each rank writes
/// the chunks it computed, and reads the new chunks its tasks need; also within a budget.
fn spill(s: &mut Suite) -> Result<(), Error> {
    let ranks = s.mpi.ranks();
    let dir = std::env::temp_dir().join(format!("ndtask-mpi-check-spill-{ranks}"));
    std::fs::create_dir_all(&dir)
        .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
    let x = random::uniform::<f64>([120, 90], [30, 25], 5)?.map_blocks(|b| b.mapv(|v| v * 2.0));
    let direct = x.rechunk([120, 7])?;
    let columns = x.rechunk_through_with([120, 7], &dir, &s.cfg)?;
    s.compare(
        "rechunk through a file",
        &columns.sum_axis(0)?,
        &direct.sum_axis(0)?,
    )?;
    let cut = ndarray::s![5..100, 3..80];
    s.compare(
        "rechunk through a file, a slice",
        &columns.slice(cut)?.t().sum_axis(1)?,
        &direct.slice(cut)?.t().sum_axis(1)?,
    )?;
    let ctx = s.cfg.clone().memory_budget(8 * 30 * 25 * 8);
    let budgeted = x.rechunk_through_with([120, 7], &dir, &ctx)?;
    s.compare_in(
        "rechunk through a file within 8 chunks",
        &budgeted.mean_axis(0)?,
        &direct.mean_axis(0)?,
        &ctx,
    )?;
    drop((columns, budgeted));
    // Every rank has dropped its arrays before this collective run ends.
    s.check("after rechunks through a file", x.sum())?;
    if s.mpi.rank() == 0 {
        match std::fs::read_dir(&dir).map(|d| d.count()) {
            Ok(0) => s.passed += 1,
            other => s.failed.push(format!(
                "rechunk through a file: {other:?} files left in the directory"
            )),
        }
        let _ = std::fs::remove_dir(&dir);
    }
    Ok(())
}

/// A user's reader of the values `i * 7 + j` (every rank builds one alike).
struct Formula;

impl ndtask::engine::reader::ChunkReader for Formula {
    fn name(&self) -> String {
        "formula".into()
    }
    fn fingerprint(&self, h: &mut ndtask::engine::Fingerprint) {
        h.str("formula");
    }
    fn dtype(&self) -> ndtask::DType {
        ndtask::DType::F64
    }
    fn read(&self, r: &ndtask::engine::reader::Subset) -> Result<ndtask::engine::Chunk, Error> {
        let a = ArrayD::from_shape_fn(ndarray::IxDyn(&r.shape), |i| {
            ((r.start[0] + i[0]) * 7 + r.start[1] + i[1]) as f64
        });
        Ok(f64::into_chunk(a))
    }
}

/// Arrays from a reader: reductions, a broadcast against a random array, a slice.
fn readers(s: &mut Suite) -> Result<(), Error> {
    let x = ndtask::engine::reader::from_reader::<f64>(Formula, [50, 40], [9, 11])?;
    let y = random::uniform::<f64>([40], [13], 3)?;
    s.check("reader sum", x.sum())?;
    s.check("reader broadcast", (&x * &y).sum_axis(0)?)?;
    s.check("reader slice", x.slice(ndarray::s![3..40, 5])?)
}

/// `persist` on K ranks: each chunk stays on the rank that computed it (persisting an
/// element-wise expression moves no chunk at all); what is built on the kept array runs none of
/// the tasks that made it and gives sync's bits for the same expression of the original; and
/// another scheduler cannot read chunks kept on other ranks.
fn persist(s: &mut Suite, e: &Array<f64>) -> Result<(), Error> {
    let ranks = s.mpi.ranks();
    let kept = e.persist_with(&s.cfg)?;
    let moved = s
        .mpi
        .last_run_per_rank()
        .iter()
        .map(|r| r.messages_sent)
        .sum::<usize>();
    match moved {
        0 => s.passed += 1,
        n => s
            .failed
            .push(format!("persist on {ranks} ranks sent {n} messages")),
    }
    let centred = |a: &Array<f64>| a - &a.mean().into_array();
    let pairs = [
        ("persist sum_axis", kept.sum_axis(0)?, e.sum_axis(0)?),
        (
            "persist slice",
            kept.slice(ndarray::s![3..40, 5..30])?,
            e.slice(ndarray::s![3..40, 5..30])?,
        ),
        (
            "persist rechunk",
            kept.rechunk([13, 7])?,
            e.rechunk([13, 7])?,
        ),
        (
            "persist transpose",
            kept.t().sum_axis(0)?,
            e.t().sum_axis(0)?,
        ),
        ("persist centred", centred(&kept), centred(e)),
    ];
    for (name, got, want) in &pairs {
        // Nothing that made the kept array is in the graph: only the kept chunks and what is
        // built on them, and every rank runs exactly its tasks of that graph.
        let g = got.task_graph()?;
        if g.op_names().iter().any(|n| n.contains("uniform")) {
            s.failed
                .push(format!("{name}: the graph recomputes the persisted array"));
        }
        s.compare(name, got, want)?;
        let tasks: usize = s.mpi.last_run_per_rank().iter().map(|r| r.tasks_run).sum();
        match tasks == g.len() {
            true => s.passed += 1,
            false => s.failed.push(format!(
                "{name}: {tasks} tasks ran for a graph of {}",
                g.len()
            )),
        }
    }
    // Persisting a persisted array, and an error in a persisted expression, on every rank.
    s.compare("persist twice", &kept.persist_with(&s.cfg)?.sum(), &e.sum())?;
    let failing = e
        .map_named("fails", |v| if v > 1.9 { f64::NAN } else { v })
        .map(|v| {
            assert!(!v.is_nan(), "a NaN");
            v
        });
    match failing.persist_with(&s.cfg) {
        Err(Error::Task { .. }) => s.passed += 1,
        other => s.failed.push(format!(
            "persist of a failing array: {:?}",
            other.map(|_| ())
        )),
    }
    // Chunks kept on other ranks are not here for another scheduler.
    match (sync().compute_local(&kept.sum()), ranks) {
        (Ok(Some(_)), 1) => s.passed += 1,
        (Err(e), r) if r > 1 && e.to_string().contains("kept on MPI rank") => s.passed += 1,
        (other, _) => s.failed.push(format!(
            "a persisted array on the sync scheduler of rank {}: {:?}",
            s.mpi.rank(),
            other.map(|_| ())
        )),
    }
    Ok(())
}

/// `.npy` files and Zarr stores from K ranks: every rank writes the chunks it computed; the
/// file (the store) is byte for byte the one the sync scheduler writes, and reading it back on
/// MPI gives the sync bits.
fn npy(s: &mut Suite) -> Result<(), Error> {
    let ranks = s.mpi.ranks();
    // The same path on every rank (one machine, or a shared file system).
    let path = std::env::temp_dir().join(format!("ndtask-mpi-check-{ranks}.npy"));
    let x = random::uniform::<f64>([50, 40], [9, 11], 21)?;
    let e = &x * 3.0 - 1.0;
    e.to_npy(&path).and_then(|w| w.compute_with(&s.cfg))?;
    if s.mpi.rank() == 0 {
        let alone = std::env::temp_dir().join(format!("ndtask-mpi-check-{ranks}-sync.npy"));
        e.to_npy(&alone).and_then(|w| w.compute_with(&sync()))?;
        let same = std::fs::read(&path).ok() == std::fs::read(&alone).ok();
        let _ = std::fs::remove_file(&alone);
        match same {
            true => s.passed += 1,
            false => s.failed.push(format!(
                "npy: the file {ranks} ranks wrote differs from sync's"
            )),
        }
    }
    sink(s, &e)?;
    persist(s, &e)?;
    let y = ndtask::from_npy::<f64>(&path, [13, 7])?;
    s.check("npy read back", (&y - &e).abs().sum())?;
    s.check("npy slice", y.slice(ndarray::s![10..30, 3])?)?;
    if s.mpi.rank() == 0 {
        let _ = std::fs::remove_file(&path);
    }
    #[cfg(feature = "zarr")]
    zarr(s, &e)?;
    Ok(())
}

/// A format of the user's own: each chunk's values as raw bytes in a file named after it.
struct RawFiles {
    dir: std::path::PathBuf,
    created: std::sync::atomic::AtomicUsize,
}

impl ndtask::io::Sink for RawFiles {
    fn kind(&self) -> &'static str {
        "raw"
    }
    fn target(&self) -> String {
        self.dir.display().to_string()
    }
    fn fingerprint(&self, h: &mut ndtask::engine::Fingerprint) {
        h.str("raw");
    }
    fn create(&self) -> Result<(), Error> {
        self.created
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        std::fs::create_dir_all(&self.dir)
            .map_err(|e| Error::io(format!("creating {}", self.dir.display()), e))
    }
    fn write(&self, block: usize, chunk: &ndtask::engine::Chunk) -> Result<(), Error> {
        let a = f64::chunk_ref(chunk).ok_or_else(|| Error::InvalidArgument("not f64".into()))?;
        let bytes: Vec<u8> = a.iter().flat_map(|v| v.to_le_bytes()).collect();
        let path = self.dir.join(format!("{block}.raw"));
        std::fs::write(&path, bytes)
            .map_err(|e| Error::io(format!("writing {}", path.display()), e))
    }
}

/// A custom sink from K ranks: the sink is prepared once in all (on one rank), every chunk is
/// written once, by the rank that computed it, and the files are those of the sync scheduler.
fn sink(s: &mut Suite, e: &Array<f64>) -> Result<(), Error> {
    let ranks = s.mpi.ranks();
    let dir = std::env::temp_dir().join(format!("ndtask-mpi-check-{ranks}-raw"));
    let raw = Arc::new(RawFiles {
        dir: dir.clone(),
        created: Default::default(),
    });
    e.to_sink(raw.clone())?.compute_with(&s.cfg)?;
    let mut all = 0u64;
    let created = raw.created.load(std::sync::atomic::Ordering::SeqCst) as u64;
    s.mpi.universe().world().all_reduce_into(
        &created,
        &mut all,
        ndtask_mpi::mpi::collective::SystemOperation::sum(),
    );
    if s.mpi.rank() == 0 {
        let alone = std::env::temp_dir().join(format!("ndtask-mpi-check-{ranks}-raw-sync"));
        let reference = Arc::new(RawFiles {
            dir: alone.clone(),
            created: Default::default(),
        });
        e.to_sink(reference)?.compute_with(&sync())?;
        let same = (0..e.num_chunks()).all(|b| {
            let name = format!("{b}.raw");
            std::fs::read(dir.join(&name)).ok() == std::fs::read(alone.join(&name)).ok()
        });
        let files = std::fs::read_dir(&dir).map_or(0, |d| d.count());
        let _ = std::fs::remove_dir_all(&alone);
        let _ = std::fs::remove_dir_all(&dir);
        match same && files == e.num_chunks() && all == 1 {
            true => s.passed += 1,
            false => s.failed.push(format!(
                "custom sink: {files} files of {} chunks, created {all} times, same as sync: {same}",
                e.num_chunks()
            )),
        }
    }
    Ok(())
}

/// Zarr (zstd, sharded, and a region stored into it) from K ranks (built with the `zarr`
/// feature).
#[cfg(feature = "zarr")]
fn zarr(s: &mut Suite, e: &Array<f64>) -> Result<(), Error> {
    let ranks = s.mpi.ranks();
    // Zarr (zstd, sharded): every stored shard written by the rank that computed it; the store
    // is byte for byte the sync scheduler's.
    let store = std::env::temp_dir().join(format!("ndtask-mpi-check-{ranks}.zarr"));
    let options = ndtask::io::ZarrOptions {
        chunks: Some(vec![5, 10]),
        codec: ndtask::io::ZarrCodec::Zstd,
        shard: Some(vec![10, 20]),
        ..ndtask::io::ZarrOptions::default()
    };
    // Then a region stored into it, across shard boundaries (read, updated and written back
    // by the one task that owns each shard it touches).
    let region = random::uniform::<f64>([17, 23], [6, 7], 5)?;
    e.to_zarr(&store, "/e", &options)
        .and_then(|w| w.compute_with(&s.cfg))?;
    region
        .store_zarr(&store, "/e", &[7, 9])
        .and_then(|w| w.compute_with(&s.cfg))?;
    if s.mpi.rank() == 0 {
        let alone = std::env::temp_dir().join(format!("ndtask-mpi-check-{ranks}-sync.zarr"));
        e.to_zarr(&alone, "/e", &options)
            .and_then(|w| w.compute_with(&sync()))?;
        region
            .store_zarr(&alone, "/e", &[7, 9])
            .and_then(|w| w.compute_with(&sync()))?;
        let files = |root: &std::path::Path| -> Vec<(String, Vec<u8>)> {
            let mut out = Vec::new();
            let mut stack = vec![root.to_path_buf()];
            while let Some(d) = stack.pop() {
                for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
                    let p = entry.path();
                    if p.is_dir() {
                        stack.push(p);
                    } else if let Ok(bytes) = std::fs::read(&p) {
                        let rel = p.strip_prefix(root).map(|r| r.display().to_string());
                        out.push((rel.unwrap_or_default(), bytes));
                    }
                }
            }
            out.sort();
            out
        };
        let (ours, theirs) = (files(&store), files(&alone));
        let _ = std::fs::remove_dir_all(&alone);
        let differ: Vec<String> = ours
            .iter()
            .zip(&theirs)
            .filter(|(a, b)| a != b)
            .map(|(a, b)| format!("{} ({} vs {} bytes)", a.0, a.1.len(), b.1.len()))
            .collect();
        match ours.len() == theirs.len() && differ.is_empty() && ours.len() > 2 {
            true => s.passed += 1,
            false => s.failed.push(format!(
                "zarr: the store {ranks} ranks wrote ({} files) differs from sync's ({} files): {differ:?}",
                ours.len(),
                theirs.len()
            )),
        }
    }
    let z = ndtask::from_zarr::<f64>(&store, "/e")?;
    s.check("zarr read back", (&z - e).abs().sum())?;
    s.check("zarr slice", z.slice(ndarray::s![7..33, 12..14])?)?;
    // Every rank has finished its own reads of the store (with gather_to_all, the sync ones
    // too) once it joins the next compute: only then may rank 0 remove it.
    s.cfg.compute_local(&e.sum())?;
    if s.mpi.rank() == 0 {
        let _ = std::fs::remove_dir_all(&store);
    }
    Ok(())
}

/// Watching and stopping MPI runs: rank 0's trace holds one event per task of every rank,
/// rank 0's progress bar counts the tasks of all ranks, an observer sees this rank's share, and
/// a cancellation on rank 0 from another thread stops every rank with `Error::Cancelled`.
fn observers(s: &mut Suite) -> Result<(), Error> {
    let (rank, ranks) = (s.mpi.rank(), s.mpi.ranks());
    let x = random::uniform::<f64>([40, 300], [1, 300], 17)?;
    let expr = (&x * &x).sum_axis(1)?.sum();
    let graph = ndtask::Config::default().task_graph(&expr)?;
    let trace = Arc::new(ChromeTrace::new());
    let bar = Arc::new(ProgressBar::new().hidden().delay(Duration::ZERO));
    let ctx = s.cfg.clone().observe(trace.clone()).observe(bar.clone());
    let got = ctx.compute_local(&expr)?;
    let want = sync().compute_local(&expr)?;
    let mut fail = |what: String| s.failed.push(format!("observers: {what}"));
    let receives = s.mpi.rank() == 0 || s.mpi.gathers_to_all();
    if receives && got.map(f64::to_bits) != want.map(f64::to_bits) {
        fail("the observed run differs from sync".into());
    }
    let predicted = ndtask_mpi::predict(&graph, ranks, s.mpi.gathers_to_all())
        .ok_or_else(|| Error::internal("no prediction"))?;
    if rank == 0 {
        let json = trace.to_json();
        let events = json.matches("\"ph\":\"X\"").count();
        if events != graph.len() || trace.events() != graph.len() {
            fail(format!(
                "trace has {events} events, the graph {} tasks",
                graph.len()
            ));
        }
        for (r, p) in predicted.iter().enumerate() {
            let on_r = json.matches(&format!("\"pid\":{r},")).count();
            if on_r != p.tasks_run {
                fail(format!(
                    "trace has {on_r} events of rank {r}, which ran {}",
                    p.tasks_run
                ));
            }
        }
        if (bar.done(), bar.total()) != (graph.len(), graph.len()) {
            fail(format!(
                "progress {} of {}, want {} of {}",
                bar.done(),
                bar.total(),
                graph.len(),
                graph.len()
            ));
        }
    } else if trace.events() != 0 {
        fail(format!("rank {rank} kept {} trace events", trace.events()));
    }
    if s.failed.iter().all(|f| !f.starts_with("observers")) {
        s.passed += 1;
    }

    // Cancelling on rank 0 stops every rank. About 2.4e9 random values: seconds of work.
    let big = random::uniform::<f64>([240_000, 10_000], [100, 10_000], 1)?.sum();
    let token = CancelToken::new();
    let ctx = s.cfg.clone().cancel_token(token.clone());
    let canceller = (rank == 0).then(|| {
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            token.cancel();
            Instant::now()
        })
    });
    let result = ctx.compute_local(&big);
    let returned = Instant::now();
    let late = canceller
        .and_then(|c| c.join().ok())
        .map(|at| returned.saturating_duration_since(at));
    match result {
        Err(Error::Cancelled) => s.passed += 1,
        other => s.failed.push(format!(
            "cancel: rank {rank} got {:?}, not Cancelled",
            other.map(|_| ())
        )),
    }
    if let Some(late) = late {
        println!(
            "mpi_check: a cancellation on rank 0 ended the run {:.1} ms later",
            late.as_secs_f64() * 1e3
        );
        if late > Duration::from_millis(500) {
            s.failed
                .push(format!("cancel: the run went on for {late:?}"));
        }
    }
    // The next run is clean.
    s.check("after a cancellation", x.sum())
}

/// Labelled arrays over uneven time chunks, with missing values: the monthly climatology, the
/// anomaly and its spread, seasons, daily means, a rolling mean and a selection by label.
fn labelled(s: &mut Suite) -> Result<(), Error> {
    use ndtask::labelled::{time, Coordinate, DataArray, GroupArith, Labels};
    let nt = 700;
    let rng = random::default_rng(11);
    let u = rng.uniform::<f64>([nt, 6, 5], vec![97, 4, 5])?;
    let x = ndtask::where_(&u.greater(0.95)?, f64::NAN, &(&u * 30.0 + 270.0))?;
    let start = time::parse("2013-01-01")?.0;
    let t: Vec<i64> = (0..nt as i64).map(|i| start + i * 6 * time::HOUR).collect();
    let da = DataArray::new(x, &["time", "lat", "lon"])?
        .with_coord("time", Coordinate::new("time", Labels::Time(t)))?
        .with_coord(
            "lat",
            Coordinate::new("lat", Labels::F64(vec![60.0, 50.0, 40.0, 30.0, 20.0, 10.0])),
        )?;
    let months = da.groupby("time.month")?;
    let clim = months.mean()?;
    let anomaly = months.arith(GroupArith::Sub, &clim)?;
    s.check("labelled: monthly climatology", &clim)?;
    s.check("labelled: anomaly", &anomaly)?;
    s.check("labelled: anomaly std", anomaly.std(&["time"])?)?;
    s.check("labelled: seasons", da.groupby("time.season")?.std()?)?;
    s.check("labelled: daily means", da.resample("time", "1D")?.mean()?)?;
    s.check(
        "labelled: rolling mean",
        da.rolling("time", 4)?.center(true).mean()?,
    )?;
    s.check(
        "labelled: sel and mean",
        da.sel([("time", "2013-03".into())])?
            .mean(&["time", "lon"])?,
    )?;
    Ok(())
}

/// k-means (its passes need every rank to know the centres: a gathering scheduler), the
/// scalers, logistic regression (plain and cross-validated), linear regression, averaged SGD,
/// the generators and the split, fitted under MPI, against the same on the sync scheduler, to
/// the bit; parallel predictions and scores.
#[cfg(feature = "ml")]
fn ml(s: &mut Suite) -> Result<(), Error> {
    use ndtask::ml::{
        accuracy_score, r2_score, train_test_split, Incremental, KMeans, LinearRegression,
        LogisticRegression, LogisticRegressionCV, MakeClassification, ParallelPostFit, Sgd,
        SgdLoss, StandardScaler,
    };
    let rng = random::default_rng(21);
    let centres = from_ndarray(
        ndarray::Array2::from_shape_fn((600, 3), |(i, j)| ((i % 4) * 10 + j) as f64),
        [97, 3],
    )?;
    let x = &rng.normal::<f64>(0.0, 1.5, [600, 3], vec![97, 3])? + &centres;
    let km = KMeans::new(4).seed(3);
    let (got, want) = (km.fit_with(&x, &s.cfg)?, km.fit_with(&x, &sync())?);
    let flat = |m: &ndtask::ml::KMeansModel| {
        let mut v: Vec<f64> = m.centers.iter().copied().collect();
        v.extend([m.inertia, m.n_iter as f64]);
        v
    };
    let (a, b) = (
        StandardScaler::fit_with(&x, &s.cfg)?,
        StandardScaler::fit_with(&x, &sync())?,
    );
    for (name, p, q) in [
        ("ml: k-means", flat(&got), flat(&want)),
        (
            "ml: standard scaler",
            [a.mean, a.var].concat(),
            [b.mean, b.var].concat(),
        ),
    ] {
        same(s, name, &p, &q);
    }
    let labels = got.predict(&x)?;
    s.check("ml: k-means labels", &labels)?;
    // The seed's models: data made on every rank, fits whose passes run on all of them.
    let (xc, yc) = MakeClassification::new(600, 4)
        .features(3, 1, 0)
        .classes(3, 1)
        .seed(5)
        .generate(83)?;
    s.check("ml: make_classification", &xc)?;
    let split = train_test_split(&xc, &yc, 0.3, 2, &s.cfg)?;
    let again = train_test_split(&xc, &yc, 0.3, 2, &sync())?;
    s.compare("ml: train_test_split", &split.x_test, &again.x_test)?;
    let lr = LogisticRegression::new();
    let (p, q) = (
        lr.fit_with(&xc, &yc, &s.cfg)?,
        lr.fit_with(&xc, &yc, &sync())?,
    );
    let flat = |m: &ndtask::ml::LogisticModel| {
        [m.coef.iter().copied().collect(), m.intercept.clone()].concat()
    };
    same(s, "ml: logistic regression", &flat(&p), &flat(&q));
    let cv = LogisticRegressionCV::new().cs(vec![0.01, 1.0, 100.0]);
    let (p, q) = (
        cv.fit_with(&xc, &yc, &s.cfg)?,
        cv.fit_with(&xc, &yc, &sync())?,
    );
    same(
        s,
        "ml: cross-validated",
        &[flat(&p.model), vec![p.best_c]].concat(),
        &[flat(&q.model), vec![q.best_c]].concat(),
    );
    let post = ParallelPostFit::new(p.model)?;
    let pred = post.predict(&xc)?;
    s.check("ml: parallel predictions", &pred)?;
    s.check("ml: probabilities", &post.predict_proba(&xc)?)?;
    s.check("ml: accuracy", &accuracy_score(&yc, &pred)?)?;
    s.check("ml: r2", &r2_score(&yc, &pred)?)?;
    let (p, q) = (
        LinearRegression::new()
            .alpha(1.0)
            .fit_with(&xc, &yc, &s.cfg)?,
        LinearRegression::new()
            .alpha(1.0)
            .fit_with(&xc, &yc, &sync())?,
    );
    same(
        s,
        "ml: linear regression",
        &[p.coef, vec![p.intercept]].concat(),
        &[q.coef, vec![q.intercept]].concat(),
    );
    let sgd = Incremental::new(Sgd::classifier(SgdLoss::Log, vec![0.0, 1.0, 2.0])?).epochs(2);
    let (p, q) = (
        sgd.fit_averaged(&xc, &yc, &s.cfg)?,
        sgd.fit_averaged(&xc, &yc, &sync())?,
    );
    let flat =
        |m: &ndtask::ml::SgdModel| [m.coef.iter().copied().collect(), m.intercept.clone()].concat();
    same(s, "ml: averaged SGD", &flat(&p), &flat(&q));
    let (p, q) = (
        sgd.fit_synchronous(&xc, &yc, 7, &s.cfg)?,
        sgd.fit_synchronous(&xc, &yc, 7, &sync())?,
    );
    same(s, "ml: synchronous SGD", &flat(&p), &flat(&q));
    Ok(())
}

/// Counts a pass if `p` and `q` are the same bits.
#[cfg(feature = "ml")]
fn same(s: &mut Suite, name: &str, p: &[f64], q: &[f64]) {
    {
        if p.iter()
            .map(|v| v.to_bits())
            .eq(q.iter().map(|v| v.to_bits()))
        {
            s.passed += 1;
        } else {
            s.failed
                .push(format!("{name}: MPI result differs from sync"));
        }
    }
}

fn run(mpi: &Rc<MpiScheduler>, memory_budget: Option<usize>) -> Result<Suite<'_>, Error> {
    let mut cfg = Config::new().shared_scheduler(mpi.clone());
    if let Some(b) = memory_budget {
        cfg = cfg.memory_budget(b);
    }
    let mut s = Suite {
        mpi,
        cfg,
        passed: 0,
        failed: Vec::new(),
    };
    for (shape, chunks) in [
        ([60, 50], [15, 20]), // 4 x 3 chunks
        ([61, 47], [8, 9]),   // 8 x 6 uneven chunks
        ([60, 50], [7, 50]),  // 9 row blocks
        ([60, 50], [60, 50]), // one chunk: more ranks than chunks
    ] {
        two_d(&mut s, shape, chunks)?;
    }
    one_d(&mut s)?;
    api(&mut s)?;
    big(&mut s)?;
    mismatch(&mut s)?;
    chains(&mut s)?;
    model(&mut s)?;
    budget(&mut s)?;
    observers(&mut s)?;
    readers(&mut s)?;
    npy(&mut s)?;
    spill(&mut s)?;
    labelled(&mut s)?;
    #[cfg(feature = "ml")]
    if mpi.gathers_to_all() {
        ml(&mut s)?;
    }
    // MPI is initialised once per process: a second scheduler is a clear error, not a panic.
    match MpiScheduler::new() {
        Err(Error::Mpi(_)) => s.passed += 1,
        Err(e) => s.failed.push(format!("second scheduler: wrong error {e}")),
        Ok(_) => s.failed.push("a second MPI scheduler was created".into()),
    }
    Ok(s)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let gather_to_all = args.iter().any(|a| a == "--gather-to-all");
    let mut builder = MpiScheduler::builder().gather_to_all(gather_to_all);
    let value = |flag: &str| -> Option<usize> {
        let i = args.iter().position(|a| a == flag)?;
        args.get(i + 1)?.parse().ok()
    };
    if let Some(n) = value("--threads") {
        builder = builder.threads(n);
    }
    let budget = value("--memory-budget");
    let code = match builder.build().map(Rc::new) {
        Err(e) => {
            eprintln!("mpi_check: {e}");
            2
        }
        Ok(mpi) => {
            let (rank, ranks) = (mpi.rank(), mpi.ranks());
            match run(&mpi, budget) {
                Err(e) => {
                    eprintln!("mpi_check: rank {rank} of {ranks}: {e}");
                    1
                }
                Ok(s) if !s.failed.is_empty() => {
                    for f in &s.failed {
                        eprintln!("mpi_check: rank {rank} of {ranks}: FAILED {f}");
                    }
                    1
                }
                Ok(s) => {
                    if rank == 0 {
                        println!(
                            "mpi_check: {} checks passed on {ranks} ranks ({} threads each{}{}); results bit-identical to sync",
                            s.passed,
                            mpi.threads(),
                            if gather_to_all { ", outputs on every rank" } else { "" },
                            match budget {
                                Some(b) => format!(", a memory budget of {b} bytes per rank"),
                                None => String::new(),
                            }
                        );
                    }
                    0
                }
            }
        }
    };
    std::process::exit(code);
}
