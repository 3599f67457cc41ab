//! The MPI scaling model: for an expression and rank counts up to 1,024 and beyond, what every
//! rank would do — tasks, work (elements processed), messages and bytes — and a projected
//! makespan, computed in one process without starting any rank.
//!
//! Placement is a pure function of (graph, ranks) and every result's layout is known before it
//! runs, so the counts are exact (`mpi_check` compares them with `MpiScheduler::last_run` under
//! `mpirun -n 1..16`). The makespan is a model: each rank's work times a cost per element
//! measured on this machine (one run of the same pattern on 1 thread, `--calibrate` chunks of
//! at most 1e6 elements), divided by the threads per rank, plus its messages times the latency and its bytes over
//! the bandwidth (the larger of what it sends and receives); the slowest rank sets the time.
//!
//! ```text
//! cargo run --release --features mpi --example mpi_model -- --pattern pi --size 1e12 --chunk 1e6
//! cargo run --release --features mpi --example mpi_model -- --pattern center --size 1e6 --chunk 1e4
//! ```

use ndtask::engine::TaskGraph;
use ndtask::prelude::*;
use std::time::Instant;

/// A configuration on the sync scheduler.
fn sync() -> Config {
    Config::new().scheduler(SyncScheduler)
}

const USAGE: &str = "usage: mpi_model [--pattern pi|center|concat|matmul] [--size N] [--chunk C]
  [--ranks 1,2,4,...] [--threads T] [--latency-us L] [--bandwidth-gbs B] [--calibrate K] [--json]
  --pattern     pi (N throws in chunks of C), center ((x - x.mean())^2).mean() of N x N in C x C
                chunks, concat (concatenate([x, x]).sum(axis 0)), matmul (x . x.T)
  --ranks       rank counts (default 1,2,4,...,1024)
  --threads     worker threads per rank (default 1)
  --latency-us  per-message latency (default 1.5, a 100 Gb/s fabric)
  --bandwidth-gbs  bytes per second per rank, in GB/s (default 12.5: 100 Gb/s)
  --calibrate   chunks of the calibration run on this machine (default 16)";

struct Args {
    pattern: String,
    size: usize,
    chunk: usize,
    ranks: Vec<usize>,
    threads: usize,
    latency: f64,
    bandwidth: f64,
    calibrate: usize,
    json: bool,
}

fn count(s: &str) -> Result<usize, String> {
    let v: f64 = s
        .replace('_', "")
        .parse()
        .map_err(|_| format!("not a number: {s:?}"))?;
    if v < 1.0 || v.fract() != 0.0 || v > 1.8e19 {
        return Err(format!("expected a positive whole number, got {s:?}"));
    }
    Ok(v as usize)
}

fn parse() -> Result<Args, String> {
    let mut a = Args {
        pattern: "pi".into(),
        size: 100_000_000,
        chunk: 1_000_000,
        ranks: (0..=10).map(|k| 1 << k).collect(),
        threads: 1,
        latency: 1.5e-6,
        bandwidth: 12.5e9,
        calibrate: 16,
        json: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || {
            it.next()
                .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))
        };
        match flag.as_str() {
            "--pattern" => a.pattern = value()?,
            "--size" => a.size = count(&value()?)?,
            "--chunk" => a.chunk = count(&value()?)?,
            "--threads" => a.threads = count(&value()?)?,
            "--calibrate" => a.calibrate = count(&value()?)?,
            "--latency-us" => {
                a.latency = value()?.parse::<f64>().map_err(|e| e.to_string())? * 1e-6
            }
            "--bandwidth-gbs" => {
                a.bandwidth = value()?.parse::<f64>().map_err(|e| e.to_string())? * 1e9
            }
            "--ranks" => a.ranks = value()?.split(',').map(count).collect::<Result<_, _>>()?,
            "--json" => a.json = true,
            _ => return Err(USAGE.into()),
        }
    }
    Ok(a)
}

/// Computes a pattern on the sync scheduler and returns a summary value.
type Run = Box<dyn Fn() -> Result<f64, Error>>;

/// The pattern's graph at `size` with chunks of `chunk`, and a closure that computes it.
fn graph(pattern: &str, size: usize, chunk: usize) -> Result<(TaskGraph, Run), Error> {
    let rng = random::default_rng(1);
    Ok(match pattern {
        "pi" => {
            // The f64 throws of `pi_chunked --dtype f64` (docs/scaling.md was measured on them;
            // f32 throws make the same graph and messages, with cheaper tasks).
            let x = rng.uniform::<f64>([size], [chunk])?;
            let y = rng.uniform::<f64>([size], [chunk])?;
            let hits = (&x * &x + &y * &y).less_equal(1.0)?.count_true();
            let g = ndtask::Config::default().task_graph(&hits)?;
            (
                g,
                Box::new(move || hits.compute_with(&sync()).map(|h| h as f64)),
            )
        }
        "center" | "concat" | "matmul" => {
            let x = rng.uniform::<f64>([size, size], [chunk, chunk])?;
            let e: Array<f64> = match pattern {
                "center" => {
                    let c = &x - &x.mean().into_array();
                    (&c * &c).mean().into_array()
                }
                "concat" => ndtask::concatenate(&[&x, &x], 0)?.sum_axis(0)?,
                _ => x.dot(&x.t())?,
            };
            let g = ndtask::Config::default().task_graph(&e)?;
            (
                g,
                Box::new(move || e.compute_with(&sync()).map(|a| a.sum())),
            )
        }
        p => {
            return Err(Error::InvalidArgument(format!(
                "unknown pattern {p:?}\n{USAGE}"
            )))
        }
    })
}

/// Seconds per element processed, from one timed run (after a warm-up) on one thread.
fn calibrate(a: &Args) -> Result<f64, Error> {
    // Chunks of at most 1e6 elements: the cost per element hardly depends on the chunk size
    // beyond that, and the run stays short.
    let (size, chunk) = if a.pattern == "pi" {
        let c = a.chunk.min(1_000_000);
        (c * a.calibrate, c)
    } else {
        let c = a.chunk.min(1_000);
        (c * (a.calibrate as f64).sqrt().ceil() as usize, c)
    };
    let (g, run) = graph(&a.pattern, size, chunk)?;
    run()?;
    let t = Instant::now();
    run()?;
    let secs = t.elapsed().as_secs_f64();
    let work: usize = (0..g.len() as u32).map(|t| g.work_of(t)).sum();
    Ok(secs / work.max(1) as f64)
}

fn main() {
    // Exit codes: 2 for bad arguments, 1 for a failed run.
    let code = match parse().map(|a| run(&a)) {
        Err(usage) => {
            eprintln!("{usage}");
            2
        }
        Ok(Err(e)) => {
            eprintln!("mpi_model: {e}");
            1
        }
        Ok(Ok(())) => 0,
    };
    std::process::exit(code);
}

fn run(a: &Args) -> Result<(), Error> {
    let cost = calibrate(a)?;
    let (g, _) = graph(&a.pattern, a.size, a.chunk)?;
    println!(
        "{} of size {} in chunks of {}: {} tasks; {:.3} ns per element on this machine; \
         {} thread(s) per rank, latency {:.1} us, bandwidth {:.1} GB/s",
        a.pattern,
        a.size,
        a.chunk,
        g.len(),
        cost * 1e9,
        a.threads,
        a.latency * 1e6,
        a.bandwidth / 1e9
    );
    println!(
        "| ranks | tasks per rank (min-max) | work per rank, max (elements) | messages sent, max | bytes sent, max | projected s | speed-up |"
    );
    println!("|---:|---|---:|---:|---:|---:|---:|");
    let mut first = None;
    let mut rows = Vec::new();
    for &p in &a.ranks {
        let stats = ndtask_mpi::predict(&g, p, false)
            .ok_or_else(|| Error::InvalidArgument("a result's size depends on the data".into()))?;
        let placement = ndtask_mpi::Placement::new(&g, p);
        let mut work = vec![0usize; p];
        for t in 0..g.len() as u32 {
            work[placement.owner(t)] += g.work_of(t);
        }
        let secs = (0..p)
            .map(|r| {
                let s = &stats[r];
                let comm_bytes = s.bytes_sent.max(s.bytes_received) as f64;
                let comm_msgs = s.messages_sent.max(s.messages_received) as f64;
                work[r] as f64 * cost / a.threads as f64
                    + comm_msgs * a.latency
                    + comm_bytes / a.bandwidth
            })
            .fold(0.0, f64::max);
        let base = *first.get_or_insert(secs);
        let tasks: Vec<usize> = stats.iter().map(|s| s.tasks_run).collect();
        let (tmin, tmax) = (
            tasks.iter().min().copied().unwrap_or(0),
            tasks.iter().max().copied().unwrap_or(0),
        );
        let wmax = work.iter().max().copied().unwrap_or(0);
        let mmax = stats.iter().map(|s| s.messages_sent).max().unwrap_or(0);
        let bmax = stats.iter().map(|s| s.bytes_sent).max().unwrap_or(0);
        println!(
            "| {p} | {tmin}-{tmax} | {wmax} | {mmax} | {bmax} | {secs:.4} | {:.1}x |",
            base / secs
        );
        rows.push(format!(
            "{{\"ranks\":{p},\"tasks_min\":{tmin},\"tasks_max\":{tmax},\"work_max\":{wmax},\"messages_max\":{mmax},\"bytes_max\":{bmax},\"seconds\":{secs:?}}}"
        ));
    }
    if a.json {
        println!(
            "{{\"pattern\":\"{}\",\"size\":{},\"chunk\":{},\"tasks\":{},\"seconds_per_element\":{cost:?},\"rows\":[{}]}}",
            a.pattern,
            a.size,
            a.chunk,
            g.len(),
            rows.join(",")
        );
    }
    Ok(())
}
