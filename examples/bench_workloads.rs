//! One benchmark workload of issue 4, once, timed: the ndtask side or its graph-free baseline.
//! `benches/compare/run.sh` runs this program next to the Dask versions in
//! `benches/compare/workloads.py`, one workload per process so `/usr/bin/time -v` reports that
//! workload's peak memory.
//!
//! ```text
//! cargo run --release --example bench_workloads -- A ndtask --threads 2
//! cargo run --release --example bench_workloads -- D baseline --threads 1 --warmup 0
//! cargo run --release --example bench_workloads -- E ndtask --progress   # with a progress bar
//! ```
//!
//! Prints one line: `<seconds> <result>`, where seconds cover one run of the workload (building
//! the expression, lowering, scheduling and computing it; for the baseline, the loop) after
//! `--warmup` untimed runs in the same process (default 1). The result is a summary value (the
//! mean, sum, std, hit count, or the sum of C's column sums) to check the sides agree.

// The workload definitions are shared with the criterion benches, which live in benches/.
#[path = "../benches/common/mod.rs"]
mod common;

use common::Workload;
use ndtask::observe::{ProgressBar, Report};
use ndtask::prelude::*;
use std::sync::Arc;
use std::time::Instant;

const USAGE: &str = "usage: bench_workloads <A|B-sum|B-std|C|D|E|F|G|N|P|I|J|K|L> \
<ndtask|baseline> [--threads N] [--warmup N] [--progress] [--report FILE.html]
  the baseline of I to L (the bounded-memory patterns) is ndtask's plain mean of their array
  --threads N   threads of the scheduler or rayon pool (default 2)
  --warmup N    untimed runs before the timed one, in this process (default 1)
  --progress    run the ndtask side with a progress bar observing it (its cost)
  --report FILE run the ndtask side with a performance report observing it (its cost), and
                write the page to FILE after the timed run";

struct Args {
    workload: Workload,
    ndtask: bool,
    threads: usize,
    warmup: usize,
    progress: bool,
    report: Option<String>,
}

fn parse_args() -> Result<Args, String> {
    let mut pos = Vec::new();
    let (mut threads, mut warmup, mut progress, mut report) = (2, 1, false, None);
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut number = |flag: &str| -> Result<usize, String> {
            let v = it.next().ok_or(format!("{flag} needs a value\n{USAGE}"))?;
            v.parse()
                .map_err(|_| format!("{flag} expects a whole number, got {v:?}"))
        };
        match a.as_str() {
            "--threads" => threads = number("--threads")?,
            "--warmup" => warmup = number("--warmup")?,
            "--progress" => progress = true,
            "--report" => {
                report = Some(
                    it.next()
                        .ok_or(format!("--report needs a value\n{USAGE}"))?,
                )
            }
            "-h" | "--help" => return Err(USAGE.into()),
            _ if a.starts_with("--") => return Err(format!("unknown flag {a:?}\n{USAGE}")),
            _ => pos.push(a),
        }
    }
    let [id, side] = pos.as_slice() else {
        return Err(USAGE.into());
    };
    let workload = Workload::parse(id).ok_or(format!("unknown workload {id:?}\n{USAGE}"))?;
    let ndtask = match side.as_str() {
        "ndtask" => true,
        "baseline" => false,
        _ => return Err(format!("the side is ndtask or baseline, got {side:?}")),
    };
    if threads == 0 {
        return Err("--threads must be at least 1".into());
    }
    Ok(Args {
        workload,
        ndtask,
        threads,
        warmup,
        progress,
        report,
    })
}

fn main() {
    let a = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let report = a.report.as_ref().map(|_| Arc::new(Report::new()));
    let run: Box<dyn Fn() -> Result<f64, Error>> =
        if a.ndtask || a.workload.baseline_is_plain_mean() {
            let s = match Config::new().threads(a.threads) {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("bench_workloads: {e}");
                    std::process::exit(1);
                }
            };
            let s = match a.progress {
                true => s.observe(Arc::new(ProgressBar::new())),
                false => s,
            };
            let s = match &report {
                Some(r) => s.observe(r.clone()),
                None => s,
            };
            match a.ndtask {
                true => Box::new(move || a.workload.ndtask(&s)),
                false => Box::new(move || Workload::plain_mean(&s)),
            }
        } else {
            let pool = common::pool(a.threads);
            Box::new(move || Ok(a.workload.baseline(&pool)))
        };
    let timed = || -> Result<(f64, f64), Error> {
        for _ in 0..a.warmup {
            std::hint::black_box(run()?);
        }
        let t = Instant::now();
        let v = run()?;
        let secs = t.elapsed().as_secs_f64();
        if let (Some(r), Some(path)) = (&report, &a.report) {
            r.write(path)?;
        }
        Ok((secs, v))
    };
    match timed() {
        Ok((secs, v)) => println!("{secs:.6} {v:?}"),
        Err(e) => {
            eprintln!("bench_workloads: {} failed: {e}", a.workload.id());
            std::process::exit(1);
        }
    }
}
