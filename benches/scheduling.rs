//! What the graph costs: per-task overhead of the threaded scheduler (issue 4, workload E:
//! 10,000 chunks of 10×10 ones, summed) and lowering a 1,000,000-chunk expression to tasks.
//!
//! E's baseline is a rayon task per chunk that fills and sums it; the difference per chunk is
//! the scheduler's overhead per task. Lowering has no graph-free counterpart; its baseline is the
//! floor for any explicit graph: writing the same number of tasks (one per chunk plus a fan-in-4
//! reduction tree) into a flat adjacency list, with no plan, no ops and no checks.

// Benchmarks abort on a failed run, and criterion's macros generate undocumented items.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use common::{bench_pair, uniform_2d, Workload};
use criterion::{criterion_group, criterion_main, Criterion, SamplingMode};
use std::time::Duration;

fn scheduling_sum(c: &mut Criterion) {
    // The task count turns the time difference to the baseline into an overhead per task.
    let tasks = ndtask::ones::<f64>([1_000, 1_000], [10, 10])
        .unwrap()
        .sum()
        .task_graph()
        .unwrap()
        .len();
    eprintln!("scheduling_sum_1000x1000_chunks10x10: {tasks} tasks");
    bench_pair(c, "scheduling_sum_1000x1000_chunks10x10", Workload::E);
}

/// A reduction tree over `leaves` tasks with fan-in `k`, as CSR (offsets, dependencies).
fn adjacency_tree(leaves: usize, k: usize) -> (Vec<u32>, Vec<u32>) {
    let mut offsets = Vec::with_capacity(leaves + leaves / (k - 1) + 2);
    let mut deps = Vec::with_capacity(2 * leaves);
    offsets.push(0u32);
    offsets.extend(std::iter::repeat_n(0, leaves));
    let (mut level, mut first) = (leaves, 0usize);
    while level > 1 {
        let next_first = offsets.len() - 1;
        for g in (0..level).step_by(k) {
            deps.extend((first + g..first + (g + k).min(level)).map(|d| d as u32));
            offsets.push(deps.len() as u32);
        }
        (level, first) = (level.div_ceil(k), next_first);
    }
    (offsets, deps)
}

fn lowering_mean(c: &mut Criterion) {
    // 100000×100000 in 100×100 chunks: 1,000,000 chunks (80 GB logical, never computed).
    let m = uniform_2d(100_000, 100).unwrap().mean();
    let tasks = m.task_graph().unwrap().len();
    eprintln!("lowering_mean_1e6_chunks: {tasks} tasks");
    let mut g = c.benchmark_group("lowering_mean_1e6_chunks");
    g.sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    g.bench_function("ndtask", |b| b.iter(|| m.task_graph().unwrap()));
    g.bench_function("baseline", |b| b.iter(|| adjacency_tree(1_000_000, 4)));
    g.finish();
}

/// Building (not lowering) slices of a 1,000,000-chunk array: the cost is per chunk touched,
/// never per element (the hardening issue's item 7; the target is under 1 ms for any slice).
fn build_slice_1e6_chunks(c: &mut Criterion) {
    use ndtask::ndarray::s;
    let x = ndtask::zeros::<f64>([1_000_000_000], [1_000]).unwrap();
    let mut g = c.benchmark_group("build_slice_1e6_chunks");
    g.sample_size(20).warm_up_time(Duration::from_secs(1));
    g.bench_function("few_chunks", |b| {
        b.iter(|| x.slice(s![123_456_789..123_466_789]).unwrap())
    });
    g.bench_function("all_chunks_step_1", |b| {
        b.iter(|| x.slice(s![1..]).unwrap())
    });
    g.bench_function("all_chunks_step_7", |b| {
        b.iter(|| x.slice(s![1..;7]).unwrap())
    });
    g.finish();
}

criterion_group!(
    benches,
    scheduling_sum,
    lowering_mean,
    build_slice_1e6_chunks
);
criterion_main!(benches);
