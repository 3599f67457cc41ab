//! k-means on a `.npy` file of samples x features, streamed in row chunks (or held in memory
//! with `--persist`): the speed workload of the machine-learning issue (benches/compare/run.sh,
//! workload M).
//!
//! ```text
//! cargo run --release --features ml --example kmeans -- --input blobs.npy --k 8 --chunk 100000 --json
//! ```
//!
//! Prints the inertia, the Lloyd iterations and the seconds of the fit (the file is opened
//! lazily; reading it is part of every pass, unless `--persist` reads it once first, timed).

#[path = "cli/mod.rs"]
mod cli;

use ndtask::ml::KMeans;
use ndtask::prelude::*;
use ndtask::scheduler::Kind;
use std::path::PathBuf;
use std::time::Instant;

const USAGE: &str = "usage: kmeans --input X.npy [--k 8] [--chunk 100000] [--seed 0] [--persist]
              [--scheduler sync|threaded|mpi|auto] [--threads N] [--json] [--report FILE.html]
  --input X.npy   samples x features, float64
  --k K           clusters (default 8)
  --chunk ROWS    rows per chunk (default 100000)
  --seed S        the seed of k-means|| (default 0)
  --persist       read the file into memory once before fitting (timed)
  --json          end with one JSON line: inertia, iterations, seconds
  --report FILE   write a performance report of the runs (one HTML page)";

struct Args {
    input: PathBuf,
    k: usize,
    chunk: usize,
    seed: u64,
    persist: bool,
    json: bool,
    report: Option<String>,
    scheduler: Option<Kind>,
    threads: Option<usize>,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        input: PathBuf::new(),
        k: 8,
        chunk: 100_000,
        seed: 0,
        persist: false,
        json: false,
        report: None,
        scheduler: None,
        threads: None,
    };
    cli::each_arg(USAGE, |flag, value| {
        match flag {
            "--input" => a.input = PathBuf::from(value()?),
            "--k" => a.k = cli::parse_count("--k", &value()?)?,
            "--chunk" => a.chunk = cli::parse_count("--chunk", &value()?)?.max(1),
            "--seed" => a.seed = cli::parse_count("--seed", &value()?)? as u64,
            "--persist" => a.persist = true,
            "--json" => a.json = true,
            "--report" => a.report = Some(value()?),
            "--scheduler" => a.scheduler = cli::parse_scheduler(&value()?)?,
            "--threads" => a.threads = Some(cli::parse_count("--threads", &value()?)?),
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    if a.input.as_os_str().is_empty() {
        return Err(format!("--input is required\n{USAGE}"));
    }
    Ok(a)
}

fn main() {
    cli::main_with("kmeans", parse_args, run);
}

fn run(a: &Args) -> Result<(), Error> {
    let chosen = cli::Chosen::new(a.scheduler, a.threads, true)?;
    let cfg = cli::reporting(chosen.config(), a.report.as_deref());
    let (shape, _) = ndtask::io::npy_shape(&a.input)?;
    let features = shape.get(1).copied().unwrap_or(1);
    let t = Instant::now();
    let mut x = ndtask::from_npy::<f64>(&a.input, [a.chunk, features])?;
    if a.persist {
        x = x.persist_with(&cfg)?;
    }
    let model = KMeans::new(a.k).seed(a.seed).fit_with(&x, &cfg)?;
    let seconds = t.elapsed().as_secs_f64();
    if chosen.get().rank() != 0 {
        return Ok(());
    }
    println!(
        "k-means, k = {}, on {shape:?} in {}-row chunks: inertia {}, {} iterations{}, {seconds:.3} s",
        a.k,
        a.chunk,
        model.inertia,
        model.n_iter,
        if model.converged { "" } else { " (not converged)" }
    );
    if a.json {
        println!(
            "{}",
            serde_json::json!({"inertia": model.inertia, "iterations": model.n_iter, "seconds": seconds})
        );
    }
    Ok(())
}
