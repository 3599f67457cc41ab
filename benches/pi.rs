//! Monte Carlo pi (issue 4, workload D): 1e8 throws in chunks of 1e6, the hit count fused into
//! one pass per chunk, next to a hand-written rayon loop with one generator per chunk and axis.

// Benchmarks abort on a failed run, and criterion's macros generate undocumented items.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use common::{bench_pair, Workload};
use criterion::{criterion_group, criterion_main, Criterion};

fn pi_count(c: &mut Criterion) {
    bench_pair(c, "pi_count_1e8_chunks1e6", Workload::D);
}

criterion_group!(benches, pi_count);
criterion_main!(benches);
