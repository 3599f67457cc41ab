//! Concatenation feeding a reduction along the concatenated axis (issue 4, workload C):
//! `concatenate([x, x], 0).sum(axis 0)` for a 5000×5000 random x in 1000×1000 chunks.

// Benchmarks abort on a failed run, and criterion's macros generate undocumented items.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use common::{bench_pair, Workload};
use criterion::{criterion_group, criterion_main, Criterion};

fn concat_sum(c: &mut Criterion) {
    bench_pair(c, "concat_sum0_2x5000x5000", Workload::C);
}

criterion_group!(benches, concat_sum);
criterion_main!(benches);
