//! The shape of plans and graphs: laziness, O(1) building, fusion into one kernel, shared inputs
//! computed once, tree reductions with the requested fan-in.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use ndtask::{compute, concatenate, ones, random, Array, Error, ReduceOptions};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

#[test]
fn building_does_no_work() {
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let x = random::uniform::<f64>([1000, 1000], [100, 100], 1).unwrap();
    let y = x.map(move |v| {
        c.fetch_add(1, Ordering::Relaxed);
        v * 2.0
    });
    let m = (&y + 1.0).mean();
    let _graph = m.task_graph().unwrap();
    assert_eq!(
        calls.load(Ordering::Relaxed),
        0,
        "building and lowering ran the closure"
    );
    m.compute().unwrap();
    assert_eq!(calls.load(Ordering::Relaxed), 1_000_000);
}

#[test]
fn building_is_independent_of_the_number_of_chunks() {
    // 10^6 chunks: building the mean does no per-chunk work.
    let t = Instant::now();
    let x = random::uniform::<f64>([1_000_000_000_000], [1_000_000], 1).unwrap();
    let m = ((&x * 2.0) - 1.0).mean();
    assert_eq!(x.num_chunks(), 1_000_000);
    let _ = m; // never computed
    assert!(
        t.elapsed().as_secs_f64() < 0.5,
        "built in {:?}",
        t.elapsed()
    );
    let x2 = random::uniform::<f64>([1000, 1000, 1000, 1000], [1, 1, 1000, 1000], 1).unwrap();
    assert_eq!(x2.num_chunks(), 1_000_000);
}

#[test]
fn an_elementwise_chain_becomes_one_kernel() {
    let x = random::uniform::<f64>([1000, 1000], [250, 250], 1).unwrap();
    let m = ((&x + 1.0) * 2.0 - &x * &x).mean();
    let g = m.task_graph().unwrap();
    let names = g.op_names();
    assert_eq!(
        names[0],
        "mean-partial(fused[uniform, add-scalar, subtract(multiply-scalar, multiply)])"
    );
    // x appears once in the kernel even though the expression reads it three times.
    assert_eq!(names[0].matches("uniform").count(), 1);
    // 16 partials streamed from the fused kernel, then the tree: nothing is materialised.
    assert_eq!(g.tasks_per_op()[0], 16);
    assert!(names.iter().all(|n| !n.starts_with("fused")));
}

#[test]
fn arithmetic_trees_of_depth_two_become_one_step() {
    let rng = random::default_rng(3);
    let x = rng.uniform::<f64>([100], [50]).unwrap();
    let y = rng.uniform::<f64>([100], [50]).unwrap();
    let plan = |a: &Array<f64>| a.task_graph().unwrap().op_names()[0].clone();
    assert_eq!(
        plan(&(&x * &x + &y * &y)),
        "fused[uniform, uniform, add(multiply, multiply)]"
    );
    assert_eq!(
        plan(&((&x + 1.0) * 2.0)),
        "fused[uniform, multiply-scalar(add-scalar)]"
    );
    assert_eq!(
        plan(&(2.0 - &x / &y)),
        "fused[uniform, uniform, scalar-subtract(divide)]"
    );
    // Deeper chains are cut into trees of depth two, from the result backwards.
    assert_eq!(
        plan(&((((&x + 1.0) * 2.0) - 3.0) / 4.0)),
        "fused[uniform, multiply-scalar(add-scalar), divide-scalar(subtract-scalar)]"
    );
    // A value read twice stays a step of its own; so does what is not arithmetic.
    let t = &x * 2.0;
    assert_eq!(
        plan(&(&t + &t * &y)),
        "fused[uniform, multiply-scalar, uniform, add(multiply)]"
    );
    assert_eq!(
        plan(&(x.map(f64::sqrt) * 3.0)),
        "fused[uniform, map, multiply-scalar]"
    );
    // Integer arithmetic keeps one step per operator.
    let i = ndtask::arange(0i64, 10, 1, [5]).unwrap();
    assert_eq!(
        (&i * 2 + 1).task_graph().unwrap().op_names()[0],
        "fused[arange, multiply-scalar, add-scalar]"
    );
}

#[test]
fn reduction_tree_uses_the_fan_in() {
    let x = ones::<f64>([64], [1]).unwrap();
    let g = x
        .sum_with(&ReduceOptions::all().split_every(4))
        .unwrap()
        .task_graph()
        .unwrap();
    // 64 partials -> 16 -> 4 -> 1.
    assert_eq!(g.tasks_per_op(), vec![64, 16, 4, 1]);
    let g = x
        .sum_with(&ReduceOptions::all().split_every(8))
        .unwrap()
        .task_graph()
        .unwrap();
    assert_eq!(g.tasks_per_op(), vec![64, 8, 1]);
    // Along an axis, the other axis keeps its chunks.
    let y = ones::<f64>([8, 6], [2, 3]).unwrap();
    let g = y.sum_axis(0).unwrap().task_graph().unwrap();
    assert_eq!(g.tasks_per_op(), vec![8, 2]);
    assert_eq!(y.sum_axis(0).unwrap().chunks(), vec![vec![3, 3]]);
}

#[test]
fn a_shared_input_is_computed_once() {
    let x = random::uniform::<f64>([100, 100], [10, 100], 1).unwrap() + 1.0;
    let (s, m, full) = (x.sum(), x.mean(), x.clone());
    let g = ndtask::Config::default()
        .task_graph(&(&s, &m, &full))
        .unwrap();
    let fused: Vec<_> = g
        .op_names()
        .into_iter()
        .zip(g.tasks_per_op())
        .filter(|(n, _)| n.starts_with("fused"))
        .collect();
    assert_eq!(fused, vec![("fused[uniform, add-scalar]".to_string(), 10)]);
    let (s, m, full) = compute((&s, &m, &full)).unwrap();
    assert_eq!(full.shape(), &[100, 100]);
    assert!((s / 10_000.0 - m).abs() < 1e-12);
    // The closure of a shared map runs once per element, not once per consumer.
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let y: Array<f64> = x.map(move |v| {
        c.fetch_add(1, Ordering::Relaxed);
        v
    });
    compute((y.sum(), y.mean(), concatenate(&[&y, &y], 0).unwrap())).unwrap();
    assert_eq!(calls.load(Ordering::Relaxed), 10_000);
}

#[test]
fn concatenate_adds_no_tasks() {
    let a = random::uniform::<f64>([50, 10], [10, 10], 1).unwrap();
    let c = concatenate(&[&a, &a], 0).unwrap();
    let g = c.task_graph().unwrap();
    assert_eq!(g.len(), 5, "concatenate reuses the 5 chunks of a");
    assert_eq!(g.outputs().len(), 10);
}

#[test]
fn a_reduction_through_a_repeated_concatenation_folds_each_chunk_once() {
    let x = random::uniform::<f64>([50, 20], [10, 10], 1).unwrap(); // 10 chunks
    let y = random::uniform::<f64>([10, 20], [10, 10], 2).unwrap(); // 2 chunks
    let partials = |g: ndtask::engine::TaskGraph| {
        let names = g.op_names();
        g.tasks_per_op()
            .iter()
            .zip(&names)
            .filter(|(_, name)| name.contains("-partial"))
            .map(|(n, _)| n)
            .sum::<usize>()
    };
    let c = concatenate(&[&x, &y, &x], 0).unwrap();
    // Summing over axis 0: x's 10 chunks and y's 2 are each folded once.
    assert_eq!(partials(c.sum_axis(0).unwrap().task_graph().unwrap()), 12);
    assert_eq!(partials(c.sum_axis(1).unwrap().task_graph().unwrap()), 12);
    // argmax records positions, so the two copies of x are folded separately.
    assert_eq!(
        partials(c.argmax_axis(0).unwrap().task_graph().unwrap()),
        22
    );
    // Each copy still counts: the result equals the one over the materialised concatenation.
    let eager = c.compute().unwrap();
    let sum = c.sum_axis(0).unwrap().compute().unwrap();
    let want = eager.sum_axis(ndarray::Axis(0));
    assert!(sum.iter().zip(&want).all(|(a, b)| (a - b).abs() < 1e-12));
    let argmax = c.argmax_axis(0).unwrap().compute().unwrap();
    for (j, &i) in argmax.iter().enumerate() {
        let col = eager.index_axis(ndarray::Axis(1), j);
        let best = col.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        assert_eq!(col[i as usize], best);
        assert!(
            col.iter().take(i as usize).all(|&v| v < best),
            "first maximum"
        );
    }
}

#[test]
fn lowering_a_million_chunks_is_fast() {
    let x = random::uniform::<f64>([1_000_000_000], [1_000], 1).unwrap();
    let t = Instant::now();
    let g = x.mean().task_graph().unwrap();
    assert_eq!(g.tasks_per_op()[0], 1_000_000);
    // Generous bound: this is a smoke test for accidental quadratic work, not a benchmark.
    assert!(
        t.elapsed().as_secs_f64() < 10.0,
        "lowered in {:?}",
        t.elapsed()
    );
}

#[test]
fn a_memory_budget_changes_nothing_but_the_schedule() {
    let x = random::uniform::<f64>([400, 300], [20, 30], 9).unwrap();
    let c = concatenate(&[&x, &(&x * 2.0)], 0)
        .unwrap()
        .sum_axis(0)
        .unwrap();
    let reference = c
        .compute_with(&ndtask::Config::new().scheduler(ndtask::scheduler::SyncScheduler))
        .unwrap();
    // Below one chunk (4.7 KiB) the plan cannot run: an error before anything runs.
    for threads in [1, 2] {
        let s = ndtask::Config::new()
            .threads(threads)
            .unwrap()
            .memory_budget(1);
        let e = c.compute_with(&s).unwrap_err();
        assert!(matches!(e, Error::Memory(_)), "{e}");
        assert!(e.to_string().contains("memory budget of 1 B"), "{e}");
    }
    for budget in [128 << 10, 1 << 20, 1 << 30] {
        for threads in [1, 2, 3] {
            let s = ndtask::Config::new()
                .threads(threads)
                .unwrap()
                .memory_budget(budget);
            assert_eq!(
                c.compute_with(&s).map_err(|e| e.to_string()),
                Ok(reference.clone()),
                "budget {budget}, {threads} threads"
            );
        }
    }
}

#[test]
fn a_reduction_streams_through_a_concatenation() {
    let x = random::uniform::<f64>([500, 40], [100, 20], 4).unwrap();
    let y = random::uniform::<f64>([300, 40], [100, 20], 5).unwrap() * 2.0;
    let c = concatenate(&[&x, &y, &x], 0).unwrap();
    let s = c.sum_axis(0).unwrap();
    let g = s.task_graph().unwrap();
    // No chunk of x or y is materialised: the partials generate them as they fold them.
    assert!(
        g.op_names().iter().all(|n| !n.starts_with("fused")),
        "{:?}",
        g.op_names()
    );
    let partial = &g.op_names()[0];
    assert!(
        // One program per distinct input: both copies of x are read through the first.
        partial.contains("concatenate: fused[uniform], fused[uniform, multiply-scalar])"),
        "{partial}"
    );
    // A source also read elsewhere is materialised once and read by the streamed partials.
    let shared = concatenate(&[&x, &(&x * 2.0)], 0).unwrap().sum();
    let names = shared.task_graph().unwrap().op_names();
    assert_eq!(names[0], "fused[uniform]", "{names:?}");
    // The same bits as when the concatenation is materialised (it is also an output here).
    let (streamed, _) = compute((&s, &c)).unwrap();
    assert_eq!(
        s.compute_with(&ndtask::Config::new().scheduler(ndtask::scheduler::SyncScheduler))
            .unwrap(),
        streamed
    );
    let full = c.sum().compute().unwrap();
    let (full_mat, _) = compute((c.sum(), &c)).unwrap();
    assert_eq!(full.to_bits(), full_mat.to_bits());
}

/// Every task's result has the layout its op announces before it runs (element types and
/// shapes of its arrays), which the MPI scaling model counts bytes with.
#[test]
fn result_layouts_are_known_before_the_run() {
    use ndtask::engine::{Chunk, Layout, TaskGraph};
    fn layout(c: &Chunk) -> Layout {
        match c {
            Chunk::Tuple(p) => Layout {
                tuple: true,
                parts: p
                    .iter()
                    .map(|a| (a.dtype().unwrap(), a.shape().to_vec()))
                    .collect(),
            },
            a => Layout::array(a.dtype().unwrap(), a.shape().to_vec()),
        }
    }
    fn check(g: &TaskGraph) {
        let mut results: Vec<Chunk> = Vec::with_capacity(g.len());
        for t in 0..g.len() as u32 {
            let inputs: Vec<&Chunk> = g.deps(t).iter().map(|&d| &results[d as usize]).collect();
            let r = g.run_task(t, &inputs).unwrap();
            assert_eq!(
                g.layout_of(t),
                Some(layout(&r)),
                "task {t} of {:?}",
                g.op_names()
            );
            results.push(r);
        }
    }
    let x = ndtask::random::uniform::<f64>([30, 20], [7, 6], 3).unwrap();
    let i = ndtask::arange(0i64, 600, 1, [101])
        .unwrap()
        .reshape([30, 20])
        .unwrap();
    check(&x.mean().task_graph().unwrap());
    check(&(&x - &x.mean().into_array()).task_graph().unwrap());
    check(
        &x.var_with(&ndtask::ReduceOptions::axes([0]), 1.0)
            .unwrap()
            .task_graph()
            .unwrap(),
    );
    check(&x.argmax_axis(1).unwrap().task_graph().unwrap());
    check(
        &x.t()
            .rechunk([5, 5])
            .unwrap()
            .sum_axis(1)
            .unwrap()
            .task_graph()
            .unwrap(),
    );
    check(
        &ndtask::concatenate(&[&x, &x], 0)
            .unwrap()
            .sum_axis(0)
            .unwrap()
            .task_graph()
            .unwrap(),
    );
    check(&x.dot(&x.t()).unwrap().task_graph().unwrap());
    check(&i.cumsum(1).unwrap().task_graph().unwrap());
    check(&x.less(0.5).unwrap().count_true().task_graph().unwrap());
    check(
        &ndtask::zeros::<f64>([0, 4], [1, 2])
            .unwrap()
            .sum()
            .task_graph()
            .unwrap(),
    );
}
