//! The analysis patterns that hold whole arrays in memory on other engines, computed in bounded
//! memory: centring by the global mean, the per-column anomaly (the climatology pattern), a
//! transpose product and a rechunk from square chunks to tall, thin ones.
//!
//! ```text
//! cargo run --release --example anomaly -- --pattern anomaly --shape 20000 --chunk 1000 --json
//! cargo run --release --example anomaly -- --pattern center --shape 20000 --chunk 1000 --memory-budget 64MiB
//! mpirun -n 2 target/release/examples/anomaly --pattern transpose --scheduler mpi   # built with --features mpi
//! ```
//!
//! The array is an N x N uniform random array in C x C chunks; the same seed gives the same
//! bits on every scheduler, thread count, rank count and memory budget.

#[path = "cli/mod.rs"]
mod cli;

use cli::parse_count;
use ndtask::engine::human_bytes;
use ndtask::observe::{Observer, RunSummary};
use ndtask::prelude::*;
use ndtask::scheduler::Kind;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// Keeps the peak of live result bytes a run reports.
#[derive(Default)]
struct Peak(AtomicUsize);

impl Observer for Peak {
    fn run_finished(&self, s: &RunSummary) {
        self.0.store(s.peak_bytes, Ordering::Relaxed);
    }
}

const USAGE: &str =
    "usage: anomaly [--pattern center|anomaly|transpose|rechunk|mean] [--shape N] [--chunk C]
               [--seed S] [--memory-budget BYTES] [--scheduler sync|threaded|mpi|auto]
               [--threads N] [--computed] [--through DIR] [--json] [--explain]
               [--report FILE.html]
  --pattern P          center:    ((x - x.mean())^2).mean()
                       anomaly:   ((x - x.mean_axis(0))^2).mean()
                       transpose: (x.T * x).mean()
                       rechunk:   x.rechunk([N, C*C/N]).std_axis(0).mean()
                       mean:      x.mean() (the baseline the others are measured against)
  --shape N            the array is N x N (default 10000)
  --chunk C            in C x C chunks (default 1000)
  --seed S             the random seed (default 42)
  --memory-budget B    bound the bytes of live chunks (e.g. 64MiB, 1GB, 1048576; under MPI per
                       rank); a plan that cannot run within it fails before anything runs
  --scheduler S        sync, threaded (default), mpi (needs --features mpi and mpirun), or auto
  --threads N          threads of the threaded scheduler (default: all cores)
  --computed           x is a user function's output (map_blocks), which is held rather than
                       made again where it is needed twice
  --through DIR        rechunk through a temporary file in DIR (rechunk_through: computed and
                       written first, within the budget; seconds include the writing)
  --json               end with one JSON line (under MPI with tasks_per_rank,
                       bytes_sent_per_rank and, with a budget, peak_held_bytes_per_rank,
                       indexed by rank)
  --explain            print the optimized plan first
  --report FILE        write a performance report (one HTML page: task stream, progress,
                       memory held against the budget; rank 0 under MPI)";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Pattern {
    Mean,
    Center,
    Anomaly,
    Transpose,
    Rechunk,
}

impl Pattern {
    fn name(self) -> &'static str {
        match self {
            Pattern::Mean => "mean",
            Pattern::Center => "center",
            Pattern::Anomaly => "anomaly",
            Pattern::Transpose => "transpose",
            Pattern::Rechunk => "rechunk",
        }
    }
}

struct Args {
    pattern: Pattern,
    n: usize,
    chunk: usize,
    seed: u64,
    budget: Option<usize>,
    scheduler: Option<Kind>,
    threads: Option<usize>,
    computed: bool,
    through: Option<std::path::PathBuf>,
    json: bool,
    report: Option<String>,
    explain: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        pattern: Pattern::Center,
        n: 10_000,
        chunk: 1_000,
        seed: 42,
        budget: None,
        scheduler: Some(Kind::Threaded),
        threads: None,
        computed: false,
        through: None,
        json: false,
        report: None,
        explain: false,
    };
    cli::each_arg(USAGE, |flag, value| {
        match flag {
            "--pattern" => {
                a.pattern = match value()?.as_str() {
                    "mean" => Pattern::Mean,
                    "center" => Pattern::Center,
                    "anomaly" => Pattern::Anomaly,
                    "transpose" => Pattern::Transpose,
                    "rechunk" => Pattern::Rechunk,
                    p => return Err(format!("unknown pattern {p:?}\n{USAGE}")),
                }
            }
            "--shape" => a.n = parse_count("--shape", &value()?)?,
            "--chunk" => a.chunk = parse_count("--chunk", &value()?)?,
            "--seed" => a.seed = parse_count("--seed", &value()?)? as u64,
            "--memory-budget" => {
                let v = value()?;
                let b = ndtask::parse_bytes(&v).map_err(|e| format!("--memory-budget: {e}"))?;
                a.budget = Some(b);
            }
            "--threads" => a.threads = Some(parse_count("--threads", &value()?)?),
            "--scheduler" => a.scheduler = cli::parse_scheduler(&value()?)?,
            "--computed" => a.computed = true,
            "--through" => a.through = Some(value()?.into()),
            "--json" => a.json = true,
            "--report" => a.report = Some(value()?),
            "--explain" => a.explain = true,
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    if a.n == 0 || a.chunk == 0 {
        return Err("--shape and --chunk must be positive".into());
    }
    if a.threads == Some(0) {
        return Err("--threads must be at least 1".into());
    }
    if a.through.is_some() && a.pattern != Pattern::Rechunk {
        return Err("--through stages a rechunk: use it with --pattern rechunk".into());
    }
    Ok(a)
}

/// The pattern's expression on an N x N uniform array in C x C chunks (with `--through`, the
/// rechunk is staged now, with `cfg`).
fn expression(a: &Args, cfg: &Config) -> Result<Scalar<f64>, Error> {
    let (n, c) = (a.n, a.chunk);
    let x: Array<f64> = random::default_rng(a.seed).uniform([n, n], [c, c])?;
    // A user function's chunks cannot be made again inside another kernel: they are held.
    let x = match a.computed {
        true => x.map_blocks(|b| b.to_owned()),
        false => x,
    };
    Ok(match a.pattern {
        Pattern::Mean => x.mean(),
        Pattern::Center => {
            let d = &x - &x.mean().into_array();
            (&d * &d).mean()
        }
        Pattern::Anomaly => {
            let d = &x - &x.mean_axis(0)?;
            (&d * &d).mean()
        }
        Pattern::Transpose => (&x.t() * &x).mean(),
        Pattern::Rechunk => {
            // Short-fat to tall-skinny: the same elements per chunk, full columns.
            let width = (c.saturating_mul(c) / n).clamp(1, n);
            let columns = match &a.through {
                Some(dir) => x.rechunk_through_with([n, width], dir, cfg)?,
                None => x.rechunk([n, width])?,
            };
            columns.std_with(&ReduceOptions::axes([0]), 0.0)?.mean()
        }
    })
}

fn main() {
    cli::main_with("anomaly", parse_args, run);
}

fn run(a: &Args) -> Result<(), Error> {
    let chosen = cli::Chosen::new(a.scheduler, a.threads, false)?;
    let s = chosen.get();
    let peak = Arc::new(Peak::default());
    let mut cfg = cli::reporting(chosen.config(), a.report.as_deref()).observe(peak.clone());
    if let Some(b) = a.budget {
        cfg = cfg.memory_budget(b);
    }
    let staging = Instant::now();
    let e = expression(a, &cfg)?;
    let staged = match a.through {
        Some(_) => staging.elapsed().as_secs_f64(),
        None => 0.0,
    };
    if a.explain && s.rank() == 0 {
        println!("{}", cfg.explain(&e)?);
    }
    let tasks = e.task_graph()?.len();
    let projected = cfg.memory_report(&e, s.threads())?.profile.peak_bytes;
    let t = Instant::now();
    let got = cfg.compute_local(&e)?;
    let secs = staged + t.elapsed().as_secs_f64();
    // Under MPI: what each rank did (every rank takes part in gathering it).
    let per_rank = chosen.per_rank();
    let Some(value) = got else { return Ok(()) };
    println!(
        "{} of a {n} x {n} array in {c} x {c} chunks = {value:.15}",
        a.pattern.name(),
        n = a.n,
        c = a.chunk
    );
    let peak = peak.0.load(Ordering::Relaxed);
    println!(
        "{secs:.3} s, {tasks} tasks on the {} scheduler ({} threads x {} ranks)",
        s.name(),
        s.threads(),
        s.ranks()
    );
    println!(
        "live results: projected peak {}, measured peak {}{}",
        human_bytes(projected),
        human_bytes(peak),
        a.budget
            .map(|b| format!(" (budget {})", human_bytes(b)))
            .unwrap_or_default()
    );
    if let Some([tasks, bytes, held]) = &per_rank {
        println!("tasks per rank: {tasks:?}; bytes sent per rank: {bytes:?}");
        if a.budget.is_some() {
            println!("most bytes held per rank (budget per rank): {held:?}");
        }
    }
    if a.json {
        let budget = a.budget.map_or("null".to_string(), |b| b.to_string());
        let list = |v: &[usize]| {
            let items: Vec<String> = v.iter().map(|x| x.to_string()).collect();
            format!("[{}]", items.join(","))
        };
        let ranks = match &per_rank {
            Some([tasks, bytes, held]) => format!(
                ",\"tasks_per_rank\":{},\"bytes_sent_per_rank\":{}{}",
                list(tasks),
                list(bytes),
                match a.budget {
                    Some(_) => format!(",\"peak_held_bytes_per_rank\":{}", list(held)),
                    None => String::new(),
                }
            ),
            None => String::new(),
        };
        println!(
            "{{\"pattern\":\"{}\",\"value\":{value:?},\"shape\":{},\"chunk\":{},\"seed\":{},\"seconds\":{secs:?},\"tasks\":{tasks},\"projected_peak_bytes\":{projected},\"peak_live_bytes\":{peak},\"memory_budget\":{budget},\"scheduler\":\"{}\",\"threads\":{},\"ranks\":{}{ranks}}}",
            a.pattern.name(),
            a.n,
            a.chunk,
            a.seed,
            s.name(),
            s.threads(),
            s.ranks()
        );
    }
    Ok(())
}
