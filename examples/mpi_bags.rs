//! Bags and delayed values under MPI: every check computes on the MPI scheduler and, where the
//! result arrives, on the sync scheduler, and compares. Run under `mpirun -n 1..4` by
//! `scripts/mpi-tests.sh`:
//!
//! ```text
//! mpirun -n 3 target/release/examples/mpi_bags DIR [--gather-to-all]
//! ```
//!
//! `DIR` is a scratch directory shared by the ranks (text files are written there).

use ndtask::bag::{read_text_with, Bag, ReadText};
use ndtask::delayed;
use ndtask::observe::{Observer, TaskEvent};
use ndtask::prelude::*;
use ndtask::scheduler::MpiScheduler;
use ndtask_mpi::mpi::collective::SystemOperation;
use ndtask_mpi::mpi::traits::CommunicatorCollectives;
use serde::{Deserialize, Serialize};
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Every rank waits here for the others (a rank other than the root returns from a compute
/// before the others have finished their tasks).
fn barrier(mpi: &MpiScheduler) {
    mpi.universe().world().barrier();
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Rec {
    id: u64,
    group: String,
    weight: f64,
}

/// A configuration on the sync scheduler, the reference.
fn sync() -> Config {
    Config::new().scheduler(SyncScheduler)
}

struct Suite<'a> {
    mpi: &'a MpiScheduler,
    /// Every run on `mpi`.
    cfg: Config,
    passed: usize,
    failed: Vec<String>,
}

impl Suite<'_> {
    fn receives(&self) -> bool {
        self.mpi.rank() == 0 || self.mpi.gathers_to_all()
    }

    /// Computes `c` on MPI and, where the result arrives, on the sync scheduler; compares.
    fn check<C: Collection>(&mut self, name: &str, c: C) -> Result<(), Error>
    where
        C::Output: PartialEq + std::fmt::Debug,
    {
        let got = self.cfg.compute_local(&c)?;
        match (got, self.receives()) {
            (Some(got), true) => {
                let want = sync().compute(&c)?;
                match got == want {
                    true => self.passed += 1,
                    false => self
                        .failed
                        .push(format!("{name}: MPI result differs from sync")),
                }
            }
            (None, false) => self.passed += 1,
            (Some(_), false) => self.failed.push(format!("{name}: a result on this rank")),
            (None, true) => self.failed.push(format!("{name}: no result on this rank")),
        }
        Ok(())
    }

    /// `c` fails on MPI on every rank, with an error containing `text`.
    fn fails<C: Collection>(&mut self, name: &str, c: C, text: &str) {
        match self.cfg.compute_local(&c) {
            Err(e) if e.to_string().contains(text) => self.passed += 1,
            Err(e) => self.failed.push(format!("{name}: wrong error {e}")),
            Ok(_) => self.failed.push(format!("{name}: no error")),
        }
    }
}

fn records(n: u64) -> Vec<Rec> {
    (0..n)
        .map(|i| Rec {
            id: i,
            group: ["a", "b", "c", "d"][(i * 7 % 4) as usize].to_string(),
            weight: (i as f64).sqrt(),
        })
        .collect()
}

/// Counts the finished tasks of one op.
struct OpCount(&'static str, AtomicUsize);

impl Observer for OpCount {
    fn task_finished(&self, e: &TaskEvent<'_>) {
        if e.op == self.0 {
            self.1.fetch_add(1, Ordering::SeqCst);
        }
    }
}

/// The sum over the ranks of `v` (a collective call).
fn total(mpi: &MpiScheduler, v: usize) -> usize {
    let mut all = 0u64;
    mpi.universe()
        .world()
        .all_reduce_into(&(v as u64), &mut all, SystemOperation::sum());
    all as usize
}

/// One protocol across ranks: an array mean, a bag count, a delayed value and an `.npy` write
/// of one computed array, in one compute, run the array's tasks once in all (counted by the
/// function that makes them and by an observer on each rank, summed over the ranks), and give
/// the sync scheduler's values and file.
fn protocol(s: &mut Suite, dir: &str) -> Result<(), Error> {
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let x = random::uniform::<f64>([40, 30], [10, 15], 3)?.map_blocks(move |b| {
        c.fetch_add(1, Ordering::SeqCst);
        b.mapv(|v| (v * 8.0).floor())
    });
    let path = format!("{dir}/protocol-mpi.npy");
    let all = (
        x.mean(),
        ndtask::bag::from_array(&x).filter(|&v| v > 3.0).count(),
        delayed::from_array(&x).map(|a| a.iter().copied().fold(0.0, f64::max)),
        x.to_npy(&path)?,
    );
    let seen = Arc::new(OpCount("map_blocks", AtomicUsize::new(0)));
    let got = s.cfg.clone().observe(seen.clone()).compute_local(&all)?;
    let (ran, observed) = (
        total(s.mpi, calls.load(Ordering::SeqCst)),
        total(s.mpi, seen.1.load(Ordering::SeqCst)),
    );
    match ran == x.num_chunks() && observed == x.num_chunks() {
        true => s.passed += 1,
        false => s.failed.push(format!(
            "protocol: the shared input's {} chunks ran {ran} times ({observed} tasks seen)",
            x.num_chunks()
        )),
    }
    barrier(s.mpi);
    if let Some((mean, n, max, ())) = got {
        let reference = format!("{dir}/protocol-sync-{}.npy", s.mpi.rank());
        let want = sync().compute((
            x.mean(),
            ndtask::bag::from_array(&x).filter(|&v| v > 3.0).count(),
            delayed::from_array(&x).map(|a| a.iter().copied().fold(0.0, f64::max)),
            x.to_npy(&reference)?,
        ))?;
        let same_file = std::fs::read(&path).ok() == std::fs::read(&reference).ok();
        match (mean.to_bits(), n, max.to_bits()) == (want.0.to_bits(), want.1, want.2.to_bits())
            && same_file
        {
            true => s.passed += 1,
            false => s
                .failed
                .push("protocol: MPI results or file differ from sync".into()),
        }
    }
    barrier(s.mpi);
    Ok(())
}

fn run<'a>(mpi: &'a Rc<MpiScheduler>, dir: &str) -> Result<Suite<'a>, Error> {
    let cfg = Config::new().shared_scheduler(mpi.clone());
    let mut s = Suite {
        mpi,
        cfg: cfg.clone(),
        passed: 0,
        failed: Vec::new(),
    };
    for p in [1, 3, 7] {
        let b = Bag::from_vec(records(200), p)?;
        s.check("from_vec", &b)?;
        s.check("map", b.map(|r| r.weight * 2.0))?;
        s.check("filter", b.filter(|r| r.id % 3 == 0))?;
        s.check("flat_map", b.flat_map(|r| vec![r.id; (r.id % 3) as usize]))?;
        s.check("count", b.count())?;
        s.check("sum", b.map(|r| r.weight).sum())?;
        s.check("mean", b.map(|r| r.weight).mean())?;
        s.check("min max", (b.map(|r| r.id).min(), b.map(|r| r.id).max()))?;
        s.check("frequencies", b.map(|r| r.group.clone()).frequencies())?;
        s.check("distinct", b.map(|r| r.id % 11).distinct())?;
        s.check(
            "foldby",
            b.foldby(|r| r.group.clone(), 0.0, |a, r| a + r.weight, |x, y| x + y),
        )?;
        s.check("groupby", b.groupby(|r| r.id % 5))?;
        s.check("range", Bag::range(1000, p)?.map(|i| i * i).sum())?;
        // JSON values cross ranks too (MessagePack is self-describing).
        let json = b.to_json().decode_json::<serde_json::Value>();
        s.check("json pluck", json.pluck("group"))?;
        let want = records(200).into_iter().take(5).collect::<Vec<_>>();
        match (
            b.take_with(5, &cfg),
            mpi.gathers_to_all() || mpi.ranks() == 1,
        ) {
            (Ok(got), true) if got == want => s.passed += 1,
            // Without results on every rank, take refuses on every rank, before computing.
            (Err(e), false) if e.to_string().contains("gather_to_all") => s.passed += 1,
            (got, _) => s.failed.push(format!("take: {:?}", got.map(|g| g.len()))),
        }
        // Text files: written on MPI, the same bytes as written on sync.
        let strings = b.to_json();
        let (m, w) = (
            format!("{dir}/mpi-{p}/*.json"),
            format!("{dir}/sync-{p}-{}/*.json", mpi.rank()),
        );
        let files = cfg.compute_local(&strings.to_textfiles(&m)?)?;
        barrier(mpi);
        if s.receives() {
            let theirs = strings.to_textfiles(&w)?.compute_with(&sync())?;
            let files = files.unwrap_or_default();
            let same = files.len() == theirs.len()
                && files
                    .iter()
                    .zip(&theirs)
                    .all(|(a, b)| std::fs::read(a).ok() == std::fs::read(b).ok());
            match same {
                true => s.passed += 1,
                false => s.failed.push(format!("to_textfiles {p}: files differ")),
            }
        }
        barrier(mpi);
        let back = read_text_with(
            &m,
            &ReadText {
                blocksize: Some(997),
            },
        )?
        .decode_json::<Rec>();
        s.check("read_text", &back)?;
        s.check("read_text count", back.count())?;
    }
    // Delayed values over arrays.
    let x = random::uniform::<f64>([40, 30], [9, 7], 5)?;
    let y = &(&x * 3.0) - 1.0;
    let total = delayed::from_scalar(&y.sum());
    let chunks = delayed::chunks(&y);
    let norms = delayed::combine(&chunks, |cs| {
        cs.iter().map(|c| c.sum()).collect::<Vec<f64>>()
    });
    s.check("delayed from_scalar", &total)?;
    s.check("delayed chunks", &norms)?;
    s.check("delayed from_array", delayed::from_array(&y))?;
    s.check(
        "delayed zip_with",
        total.zip_map(&norms, |t, n| t - n.iter().sum::<f64>()),
    )?;
    let parts: Vec<_> = chunks.iter().map(|c| c.map(|a| a * 2.0)).collect();
    let grid = y.grid();
    let z = delayed::to_array(
        parts,
        [40, 30],
        ndtask::Chunks::Explicit(vec![grid.axis_sizes(0), grid.axis_sizes(1)]),
    )?;
    let sum_mpi = cfg.compute_local(&z.sum())?;
    if let Some(v) = sum_mpi {
        match v == z.sum().compute_with(&sync())? {
            true => s.passed += 1,
            false => s.failed.push("delayed to_array".into()),
        }
    }
    protocol(&mut s, dir)?;
    // Failures: the same error on every rank.
    let bad = Bag::from_vec((0..64).collect::<Vec<u64>>(), 8)?.map(|&x| {
        if x == 45 {
            panic!("bad item {x}")
        } else {
            x
        }
    });
    s.fails("panicking map", bad.count(), "bad item 45");
    if mpi.ranks() > 1 {
        // Values with no serialisation cannot reach rank 0 from the others.
        let locals: Vec<_> = (0..8)
            .map(|i| delayed::delayed_local(move || std::sync::Mutex::new(i)))
            .collect();
        let raw: Vec<_> = locals
            .iter()
            .map(|l| l.map_local(|m| m.lock().is_ok()))
            .collect();
        s.fails("delayed_local across ranks", raw, "no serialisation");
    }
    Ok(s)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let Some(dir) = args.get(1).filter(|a| !a.starts_with("--")) else {
        eprintln!("usage: mpi_bags DIR [--gather-to-all]");
        std::process::exit(2);
    };
    let gather = args.iter().any(|a| a == "--gather-to-all");
    let code =
        match MpiScheduler::builder().gather_to_all(gather).build() {
            Err(e) => {
                eprintln!("mpi_bags: {e}");
                2
            }
            Ok(mpi) => {
                let mpi = Rc::new(mpi);
                let (rank, ranks) = (mpi.rank(), mpi.ranks());
                match run(&mpi, dir) {
                    Err(e) => {
                        eprintln!("mpi_bags: rank {rank} of {ranks}: {e}");
                        1
                    }
                    Ok(s) if !s.failed.is_empty() => {
                        s.failed.iter().for_each(|f| {
                            eprintln!("mpi_bags: rank {rank} of {ranks}: FAILED {f}")
                        });
                        1
                    }
                    Ok(s) => {
                        if rank == 0 {
                            println!(
                            "mpi_bags: {} checks passed on {ranks} ranks{}; results equal to sync",
                            s.passed,
                            if gather { ", outputs on every rank" } else { "" }
                        );
                        }
                        0
                    }
                }
            }
        };
    std::process::exit(code);
}
