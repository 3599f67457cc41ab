//! The monthly climatology and anomaly of a dataset far larger than memory, Zarr to Zarr: the
//! scale workload of the labelled-arrays issue (benches/compare/run.sh, workload X).
//!
//! ```text
//! cargo run --release --features zarr --example climatology -- make air.zarr --shape 2920,361,720 --chunks 73,181,360
//! cargo run --release --features zarr --example climatology -- anomaly air.zarr anomaly.zarr --json
//! cargo run --release --features zarr --example climatology -- copy air.zarr copy.zarr --json
//! ```
//!
//! `make` writes a Zarr v3 group with `air(time, lat, lon)` of float32 (6-hourly from
//! 2013-01-01, a seasonal cycle and noise; the same bits for the same seed) and its
//! coordinates. `anomaly` opens it lazily in its stored chunks and writes
//! `air.groupby("time.month") - air.groupby("time.month").mean()` (Xarray's words) to a new
//! group; `copy` reads and writes the store as it is (the plain pass the anomaly is measured
//! against). Each ends with one JSON line with `--json`: seconds, tasks, and a value to check
//! (the anomaly or copy's mean of its first chunk).

#[path = "cli/mod.rs"]
mod cli;

use ndtask::io::ZarrFormat;
use ndtask::labelled::{open_dataset, time, Coordinate, DataArray, Dataset, GroupArith, Labels};
use ndtask::prelude::*;
use ndtask::scheduler::Kind;
use std::path::PathBuf;
use std::time::Instant;

/// As in zarr_tool: big chunks are reused rather than faulted in again.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const USAGE: &str = "usage:
  climatology make OUT [--shape T,Y,X] [--chunks T,Y,X] [--seed S]
  climatology anomaly IN OUT [--json]
  climatology copy IN OUT [--json]
options: --scheduler sync|threaded|mpi|auto, --threads N, --report FILE.html (a performance
  report of the runs: one HTML page)
  --shape    default 2920,361,720 (3 GB of float32)
  --chunks   default 73,181,360";

struct Args {
    command: String,
    paths: Vec<PathBuf>,
    shape: Vec<usize>,
    chunks: Vec<usize>,
    seed: u64,
    json: bool,
    report: Option<String>,
    scheduler: Option<Kind>,
    threads: Option<usize>,
}

fn list(flag: &str, s: &str) -> Result<Vec<usize>, String> {
    let v: Vec<usize> = s
        .split(',')
        .map(|p| cli::parse_count(flag, p.trim()))
        .collect::<Result<_, _>>()?;
    if v.len() != 3 || v.contains(&0) {
        return Err(format!(
            "{flag} expects three positive sizes T,Y,X, got {s:?}"
        ));
    }
    Ok(v)
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        command: String::new(),
        paths: Vec::new(),
        shape: vec![2920, 361, 720],
        chunks: vec![73, 181, 360],
        seed: 7,
        json: false,
        report: None,
        scheduler: None,
        threads: None,
    };
    let mut words = Vec::new();
    cli::each_arg(USAGE, |flag, value| {
        match flag {
            "--shape" => a.shape = list("--shape", &value()?)?,
            "--chunks" => a.chunks = list("--chunks", &value()?)?,
            "--seed" => a.seed = cli::parse_count("--seed", &value()?)? as u64,
            "--json" => a.json = true,
            "--report" => a.report = Some(value()?),
            "--scheduler" => a.scheduler = cli::parse_scheduler(&value()?)?,
            "--threads" => a.threads = Some(cli::parse_count("--threads", &value()?)?),
            w if !w.starts_with("--") => words.push(w.to_string()),
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    let want = match words.first().map(String::as_str) {
        Some("make") => 2,
        Some("anomaly" | "copy") => 3,
        _ => return Err(USAGE.to_string()),
    };
    if words.len() != want {
        return Err(format!("{} takes {} path(s)\n{USAGE}", words[0], want - 1));
    }
    a.command = words.remove(0);
    a.paths = words.into_iter().map(PathBuf::from).collect();
    Ok(a)
}

fn main() {
    cli::main_with("climatology", parse_args, run);
}

/// The synthetic dataset: 270 K, a seasonal cycle of 10 K, uniform noise of 6 K.
fn dataset(a: &Args) -> Result<Dataset, Error> {
    let (nt, ny, nx) = (a.shape[0], a.shape[1], a.shape[2]);
    let start = time::parse("2013-01-01")?.0;
    let t: Vec<i64> = (0..nt as i64).map(|i| start + i * 6 * time::HOUR).collect();
    let season = ndarray::Array3::from_shape_fn((nt, 1, 1), |(i, _, _)| {
        (10.0 * (2.0 * std::f64::consts::PI * (i as f64 / 4.0 - 105.0) / 365.25).sin()) as f32
    });
    let season = ndtask::from_ndarray(season, [a.chunks[0], 1, 1])?;
    let noise =
        ndtask::random::default_rng(a.seed).uniform::<f32>([nt, ny, nx], a.chunks.clone())?;
    let air = &(&noise * 6.0f32 + 270.0f32) + &season;
    let lat: Vec<f32> = (0..ny)
        .map(|i| 90.0 - 180.0 * i as f32 / (ny.max(2) - 1) as f32)
        .collect();
    let lon: Vec<f32> = (0..nx).map(|i| 360.0 * i as f32 / nx as f32).collect();
    let air = DataArray::new(air, &["time", "lat", "lon"])?.with_attr("units", "K");
    Dataset::new()
        .with_var("air", air)?
        .with_coord("time", Coordinate::new("time", Labels::Time(t)))?
        .with_coord("lat", Coordinate::new("lat", Labels::F32(lat)))?
        .with_coord("lon", Coordinate::new("lon", Labels::F32(lon)))
}

fn run(a: &Args) -> Result<(), Error> {
    let chosen = cli::Chosen::new(a.scheduler, a.threads, false)?;
    let cfg = cli::reporting(chosen.config(), a.report.as_deref());
    let write = match a.command.as_str() {
        "make" => dataset(a)?.to_zarr(&a.paths[0], ZarrFormat::V3)?,
        cmd => {
            let ds = open_dataset(&a.paths[0], &[])?;
            let out = if cmd == "anomaly" {
                let months = ds.var("air")?.groupby("time.month")?;
                let clim = months.mean()?;
                Dataset::new().with_var("air", months.arith(GroupArith::Sub, &clim)?)?
            } else {
                ds
            };
            out.to_zarr(&a.paths[1], ZarrFormat::V3)?
        }
    };
    let tasks = cfg.task_graph(&write)?.len();
    let t = Instant::now();
    cfg.compute_local(&write)?;
    let seconds = t.elapsed().as_secs_f64();
    if chosen.get().rank() != 0 {
        return Ok(());
    }
    // A value to check the result by: the mean of the first chunk written.
    let out = a.paths.last().cloned().unwrap_or_default();
    let air = open_dataset(&out, &[])?.var("air")?;
    let c = &a.chunks;
    let first = air
        .isel([
            (
                "time",
                ndtask::labelled::Isel::Slice {
                    start: Some(0),
                    stop: Some(c[0] as i64),
                    step: 1,
                },
            ),
            (
                "lat",
                ndtask::labelled::Isel::Slice {
                    start: Some(0),
                    stop: Some(c[1] as i64),
                    step: 1,
                },
            ),
            (
                "lon",
                ndtask::labelled::Isel::Slice {
                    start: Some(0),
                    stop: Some(c[2] as i64),
                    step: 1,
                },
            ),
        ])?
        .mean(&[])?
        .to_f64()?;
    let value = first.iter().next().copied().unwrap_or(f64::NAN);
    println!(
        "{} {}: {seconds:.3} s, {tasks} tasks; mean of the first chunk {value}",
        a.command,
        out.display()
    );
    if a.json {
        println!(
            "{}",
            serde_json::json!({"seconds": seconds, "tasks": tasks, "value": value})
        );
    }
    Ok(())
}
