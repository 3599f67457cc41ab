//! Shared test helpers: every scheduler configuration, random shapes with random chunkings, and
//! random eager data to compare against.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod chain;

use ndarray::{ArrayD, IxDyn};
use ndtask::scheduler::{SyncScheduler, ThreadedScheduler};
use ndtask::{Chunks, Config};
use proptest::prelude::*;

/// Configurations on the sync reference scheduler and the threaded one with 1, 2 and 3
/// threads.
pub fn schedulers() -> Vec<Config> {
    vec![
        Config::new().scheduler(SyncScheduler),
        Config::new().scheduler(ThreadedScheduler::with_threads(1).unwrap()),
        Config::new().scheduler(ThreadedScheduler::with_threads(2).unwrap()),
        Config::new().scheduler(ThreadedScheduler::with_threads(3).unwrap()),
    ]
}

/// Cuts `len` into random positive pieces (one empty list for a zero-length axis).
fn partition(len: usize) -> BoxedStrategy<Vec<usize>> {
    if len == 0 {
        return Just(vec![]).boxed();
    }
    prop::collection::vec(any::<bool>(), len - 1)
        .prop_map(move |cuts| {
            let mut sizes = Vec::new();
            let mut cur = 1;
            for c in cuts {
                if c {
                    sizes.push(cur);
                    cur = 1;
                } else {
                    cur += 1;
                }
            }
            sizes.push(cur);
            sizes
        })
        .boxed()
}

/// A chunking of `shape`: a random block shape or random explicit sizes.
pub fn chunks_for(shape: Vec<usize>) -> BoxedStrategy<Chunks> {
    let block = shape
        .iter()
        .map(|&d| 1..=d.max(1))
        .collect::<Vec<_>>()
        .prop_map(Chunks::Block);
    let explicit = shape
        .iter()
        .map(|&d| partition(d))
        .collect::<Vec<_>>()
        .prop_map(Chunks::Explicit);
    prop_oneof![block, explicit].boxed()
}

/// A shape of 1 to 3 axes of length 1 to `max`.
pub fn shape(max: usize) -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(1..=max, 1..=3)
}

/// A shape and a chunking of it.
pub fn shape_and_chunks(max: usize) -> impl Strategy<Value = (Vec<usize>, Chunks)> {
    shape(max).prop_flat_map(|s| (Just(s.clone()), chunks_for(s)))
}

/// Random eager f64 data in [-10, 10) of `shape` (with exactly representable halves/quarters
/// mixed in) from a seed.
pub fn data(shape: &[usize], seed: u64) -> ArrayD<f64> {
    let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let n: usize = shape.iter().product();
    let v = (0..n)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            ((state >> 11) as f64 / (1u64 << 53) as f64) * 20.0 - 10.0
        })
        .collect();
    ArrayD::from_shape_vec(IxDyn(shape), v).unwrap()
}

/// Asserts two float arrays agree to a relative tolerance (for sums whose order differs from
/// ndarray's).
pub fn assert_close(got: &ArrayD<f64>, want: &ArrayD<f64>, tol: f64) {
    assert_eq!(got.shape(), want.shape(), "shapes differ");
    for (g, w) in got.iter().zip(want.iter()) {
        let scale = w.abs().max(1.0);
        assert!(
            (g - w).abs() <= tol * scale || (g.is_nan() && w.is_nan()),
            "got {g}, want {w}"
        );
    }
}

/// Bitwise equality of float arrays (NaN-safe).
pub fn same_bits(a: &ArrayD<f64>, b: &ArrayD<f64>) -> bool {
    a.shape() == b.shape()
        && a.iter()
            .zip(b.iter())
            .all(|(x, y)| x.to_bits() == y.to_bits())
}

/// The first of `candidates` that runs `args` successfully; `None` without one (the caller
/// skips, with a message naming `what` and `hint`), except under CI (`CI` set), where the test
/// fails.
pub fn first_working(
    what: &str,
    hint: &str,
    candidates: impl IntoIterator<Item = std::path::PathBuf>,
    args: &[&str],
) -> Option<std::path::PathBuf> {
    let found = candidates.into_iter().find(|p| {
        std::process::Command::new(p)
            .args(args)
            .output()
            .is_ok_and(|o| o.status.success())
    });
    if found.is_none() {
        assert!(std::env::var_os("CI").is_none(), "CI needs {what}");
        eprintln!("skipped: no {what} ({hint})");
    }
    found
}

/// A Python that imports `modules`: `NDTASK_PYTHON`, else `.venv/bin/python` at the workspace
/// root, else `python3`; `None` without one (the caller skips, with a message), except under CI
/// (`CI` set), where the test fails.
pub fn python(modules: &[&str]) -> Option<std::path::PathBuf> {
    use std::path::{Path, PathBuf};
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let import = format!("import {}", modules.join(", "));
    let candidates = [
        std::env::var_os("NDTASK_PYTHON").map(PathBuf::from),
        Some(root.join(".venv/bin/python")),
        Some(PathBuf::from("python3")),
    ];
    first_working(
        &format!("a Python with {modules:?}"),
        "set NDTASK_PYTHON",
        candidates.into_iter().flatten(),
        &["-c", &import],
    )
}

/// Runs `code` with `py`; fails the test with Python's output if it fails.
pub fn run_python(py: &std::path::Path, code: &str) {
    let out = std::process::Command::new(py)
        .args(["-c", code])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "python failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A configuration on the sync scheduler, the reference every other is compared with.
pub fn sync() -> Config {
    Config::new().scheduler(SyncScheduler)
}
