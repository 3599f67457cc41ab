//! Full reductions over a 10000×10000 random array in 1000×1000 chunks (issue 4, workloads A, B
//! and F), each next to its graph-free rayon loop. `benches/compare/run.sh` runs the same
//! workloads side by side with Dask.

// Benchmarks abort on a failed run, and criterion's macros generate undocumented items.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use common::{bench_pair, Workload};
use criterion::{criterion_group, criterion_main, Criterion};

/// A: `random::uniform([10000, 10000], [1000, 1000]).mean()`.
fn reduction_mean(c: &mut Criterion) {
    bench_pair(c, "reduction_mean_10000x10000", Workload::A);
}

/// B: the same array's `sum()` and `std(0)`.
fn reduction_sum_std(c: &mut Criterion) {
    bench_pair(c, "reduction_sum_10000x10000", Workload::BSum);
    bench_pair(c, "reduction_std_10000x10000", Workload::BStd);
}

/// F: `((x + 1.0) * 2.0 - x * x).mean()`: one fused pass against a hand-fused loop.
fn fusion_mean(c: &mut Criterion) {
    bench_pair(c, "fusion_mean_10000x10000", Workload::F);
}

criterion_group!(benches, reduction_mean, reduction_sum_std, fusion_mean);
criterion_main!(benches);
