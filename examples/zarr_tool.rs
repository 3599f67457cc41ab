//! Zarr and `.npy` files from the command line: write a random array, print statistics of one,
//! write its anomaly against the mean over axis 0. Every command streams chunk by chunk, so
//! arrays far larger than memory work.
//!
//! ```text
//! cargo run --release --features zarr --example zarr_tool -- random x.zarr --shape 20000,20000 --chunks 2000,2000 --seed 7
//! cargo run --release --features zarr --example zarr_tool -- stats x.zarr --json
//! cargo run --release --features zarr --example zarr_tool -- anomaly x.zarr anomaly.zarr
//! mpirun -n 4 target/release/examples/zarr_tool random x.zarr --scheduler mpi   # built with --features "mpi zarr"
//! ```
//!
//! A path ending in `.npy` is an `.npy` file; any other path is a Zarr directory store, whose
//! root array is used (or `--array PATH`).

use ndtask::observe::ProgressBar;
#[path = "cli/mod.rs"]
mod cli;

use ndtask::io::{npy_shape, ZarrCodec, ZarrFormat, ZarrOptions};
use ndtask::prelude::*;
use ndtask::scheduler::Kind;
use ndtask::{open_npy, open_zarr, AnyArray, AnyValue, DType};
use std::sync::Arc;
use std::time::Instant;

/// The allocator. Zarr chunks are big (2000² f64 is 32 MB, and writing one makes buffers of
/// about that size: the computed chunk, its encoded bytes; so does reading one with codecs
/// that do not stream); glibc's malloc hands buffers that large back to the kernel when they
/// are freed, so every chunk is faulted in page by page again. mimalloc keeps them for the next
/// chunk. Any program using ndtask can choose it the same way.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const USAGE: &str = "usage:
  zarr_tool random OUT --shape A,B,.. --chunks A,B,.. [--seed S] [--dtype f64|f32|i64|bool]
                       [--codec none|zstd|blosc] [--shard A,B,..] [--format 2|3]
  zarr_tool stats IN [--json]
  zarr_tool anomaly IN OUT [--json]
options for every command:
  --array PATH        the array inside a Zarr store (default: the root, /)
  --scheduler S       sync, threaded (default), mpi (needs --features mpi and mpirun), or auto
  --threads N         threads of the threaded scheduler (default: all cores)
  --progress          a progress bar on stderr
OUT or IN ending in .npy is an .npy file; anything else is a Zarr directory store.
Zarr formats 2 and 3 are read; arrays are written in format 3 unless --format 2 (no --shard).
stats and anomaly read any stored element type (float64, float32, integers, bool): sums of
integers are exact, and the anomaly of an integer or bool array is float64 (as NumPy's).";

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Dtype {
    F64,
    F32,
    I64,
    Bool,
}

struct Args {
    command: String,
    paths: Vec<String>,
    shape: Vec<usize>,
    chunks: Vec<usize>,
    seed: u64,
    dtype: Dtype,
    codec: ZarrCodec,
    shard: Option<Vec<usize>>,
    format: ZarrFormat,
    array: String,
    scheduler: Option<Kind>,
    threads: Option<usize>,
    progress: bool,
    json: bool,
}

fn list(flag: &str, v: &str) -> Result<Vec<usize>, String> {
    v.split(',')
        .map(|x| {
            x.trim()
                .replace('_', "")
                .parse::<usize>()
                .map_err(|_| format!("{flag} expects sizes like 20000,20000, got {v:?}"))
        })
        .collect()
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        command: String::new(),
        paths: Vec::new(),
        shape: Vec::new(),
        chunks: Vec::new(),
        seed: 42,
        dtype: Dtype::F64,
        codec: ZarrCodec::Zstd,
        shard: None,
        format: ZarrFormat::V3,
        array: "/".into(),
        scheduler: Some(Kind::Threaded),
        threads: None,
        progress: false,
        json: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = || {
            it.next()
                .ok_or_else(|| format!("{arg} needs a value\n{USAGE}"))
        };
        match arg.as_str() {
            "--shape" => a.shape = list("--shape", &value()?)?,
            "--chunks" => a.chunks = list("--chunks", &value()?)?,
            "--shard" => a.shard = Some(list("--shard", &value()?)?),
            "--seed" => {
                let v = value()?;
                a.seed = v
                    .parse()
                    .map_err(|_| format!("--seed expects a number, got {v:?}"))?;
            }
            "--dtype" => {
                a.dtype = match value()?.as_str() {
                    "f64" => Dtype::F64,
                    "f32" => Dtype::F32,
                    "i64" => Dtype::I64,
                    "bool" => Dtype::Bool,
                    d => return Err(format!("--dtype is f64, f32, i64 or bool, got {d:?}")),
                }
            }
            "--codec" => {
                a.codec = match value()?.as_str() {
                    "none" => ZarrCodec::None,
                    "zstd" => ZarrCodec::Zstd,
                    "blosc" => ZarrCodec::Blosc,
                    c => return Err(format!("--codec is none, zstd or blosc, got {c:?}")),
                }
            }
            "--format" => {
                a.format = match value()?.as_str() {
                    "2" => ZarrFormat::V2,
                    "3" => ZarrFormat::V3,
                    f => return Err(format!("--format is 2 or 3, got {f:?}")),
                }
            }
            "--array" => a.array = value()?,
            "--scheduler" => a.scheduler = cli::parse_scheduler(&value()?)?,
            "--threads" => {
                let v = value()?;
                a.threads = Some(
                    v.parse()
                        .map_err(|_| format!("--threads expects a number, got {v:?}"))?,
                );
            }
            "--progress" => a.progress = true,
            "--json" => a.json = true,
            "-h" | "--help" => return Err(USAGE.into()),
            _ if arg.starts_with("--") => return Err(format!("unknown flag {arg:?}\n{USAGE}")),
            _ if a.command.is_empty() => a.command = arg,
            _ => a.paths.push(arg),
        }
    }
    let want = match a.command.as_str() {
        "random" | "stats" => 1,
        "anomaly" => 2,
        "" => return Err(USAGE.into()),
        c => return Err(format!("unknown command {c:?}\n{USAGE}")),
    };
    if a.paths.len() != want {
        return Err(format!("{} takes {want} path(s)\n{USAGE}", a.command));
    }
    if a.command == "random" && (a.shape.is_empty() || a.shape.len() != a.chunks.len()) {
        return Err(format!(
            "random needs --shape and --chunks with as many sizes (got {:?} and {:?})",
            a.shape, a.chunks
        ));
    }
    Ok(a)
}

fn is_npy(path: &str) -> bool {
    path.ends_with(".npy")
}

/// Opens IN with the element type it holds (an .npy file with its own chunking of 2^22
/// elements along axis 0, or a Zarr array with its stored chunks).
fn open(a: &Args, path: &str) -> Result<AnyArray, Error> {
    if is_npy(path) {
        let (shape, _) = npy_shape(path)?;
        let row: usize = shape.iter().skip(1).product::<usize>().max(1);
        let mut chunks = shape.clone();
        if let Some(first) = chunks.first_mut() {
            *first = ((1usize << 22) / row).clamp(1, (*first).max(1));
        }
        return open_npy(path, chunks);
    }
    open_zarr(path, &a.array)
}

/// A value as JSON: floats as Rust's `{:?}` prints them (NaN and infinities as strings),
/// integers and bools as themselves.
fn json(v: AnyValue) -> String {
    match v {
        AnyValue::F64(x) if !x.is_finite() => format!("\"{x}\""),
        AnyValue::F32(x) if !x.is_finite() => format!("\"{x}\""),
        AnyValue::F64(x) => format!("{x:?}"),
        AnyValue::F32(x) => format!("{:?}", x as f64),
        AnyValue::I64(x) => x.to_string(),
        AnyValue::Bool(x) => x.to_string(),
    }
}

fn write(a: &Args, x: &AnyArray, path: &str, cfg: &Config) -> Result<(), Error> {
    if is_npy(path) {
        return x.to_npy(path)?.compute_with(cfg);
    }
    let options = ZarrOptions {
        chunks: Some(x.grid().max_chunk_shape()),
        codec: a.codec,
        shard: a.shard.clone(),
        format: a.format,
        ..ZarrOptions::default()
    };
    x.to_zarr(path, &a.array, &options)?.compute_with(cfg)
}

fn run(a: &Args) -> Result<(), Error> {
    let mut cfg = cli::make_config(a.scheduler, a.threads)?;
    if a.progress {
        cfg = cfg.observe(Arc::new(ProgressBar::new()));
    }
    let root = cfg.rank() == 0;
    let t = Instant::now();
    match a.command.as_str() {
        "random" => {
            let out = &a.paths[0];
            let rng = random::default_rng(a.seed);
            match a.dtype {
                Dtype::F64 => write(
                    a,
                    &rng.uniform::<f64>(&a.shape, a.chunks.clone())?.into(),
                    out,
                    &cfg,
                )?,
                Dtype::F32 => write(
                    a,
                    &rng.uniform::<f32>(&a.shape, a.chunks.clone())?.into(),
                    out,
                    &cfg,
                )?,
                Dtype::I64 => write(
                    a,
                    &rng.integers(0, 1000, &a.shape, a.chunks.clone())?.into(),
                    out,
                    &cfg,
                )?,
                Dtype::Bool => write(
                    a,
                    &rng.uniform::<f64>(&a.shape, a.chunks.clone())?
                        .less(0.5)?
                        .into(),
                    out,
                    &cfg,
                )?,
            }
            if root {
                println!(
                    "wrote {out}: shape {:?}, chunks {:?}, {:.3} s",
                    a.shape,
                    a.chunks,
                    t.elapsed().as_secs_f64()
                );
            }
        }
        "stats" => {
            let x = open(a, &a.paths[0])?;
            let all = (x.sum(), x.mean(), x.std(0.0), x.min(), x.max());
            let Some((sum, mean, std, min, max)) = cfg.compute_local(&all)? else {
                return Ok(());
            };
            let secs = t.elapsed().as_secs_f64();
            let count = x.len();
            let dtype = x.stored_dtype();
            println!(
                "{}: shape {:?}, {count} values of {dtype}",
                a.paths[0],
                x.shape()
            );
            println!("sum {sum}  mean {mean}  std {std}  min {min}  max {max}  ({secs:.3} s)");
            if a.json {
                println!(
                    "{{\"shape\":{:?},\"dtype\":\"{dtype}\",\"count\":{count},\"sum\":{},\"mean\":{},\"std\":{},\"min\":{},\"max\":{},\"seconds\":{secs:?}}}",
                    x.shape(),
                    json(sum),
                    json(mean),
                    json(std),
                    json(min),
                    json(max)
                );
            }
        }
        _ => {
            let x = open(a, &a.paths[0])?;
            // The mean in the array's float type (NumPy's mean of float32 is float32); of
            // integers and bools in float64, so their anomaly is float64.
            let mean = match x.dtype() {
                DType::F32 => x.mean_axis(0)?.astype(DType::F32),
                _ => x.mean_axis(0)?,
            };
            let anomaly = x.try_sub(&mean)?;
            write(a, &anomaly, &a.paths[1], &cfg)?;
            let secs = t.elapsed().as_secs_f64();
            if root {
                println!("wrote {}: x - mean(x, axis 0), {secs:.3} s", a.paths[1]);
                if a.json {
                    println!(
                        "{{\"out\":{:?},\"shape\":{:?},\"dtype\":\"{}\",\"seconds\":{secs:?}}}",
                        a.paths[1],
                        x.shape(),
                        anomaly.dtype()
                    );
                }
            }
        }
    }
    Ok(())
}

fn main() {
    cli::main_with("zarr_tool", parse_args, run);
}
