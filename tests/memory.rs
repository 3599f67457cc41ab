//! Bounded memory: cheap chunks read after a barrier are recomputed, not held (and give the
//! same values as eager ndarray on every scheduler and chunking); broadcasts are read through
//! by the fused kernels; the memory model's order and projected peak; the plan-time budget
//! check.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod common;

use common::*;
use ndarray::{ArrayD, Axis};
use ndtask::engine::memory::{check_budget, memory_order, MemoryProfile};
use ndtask::{from_ndarray, random, Array, Chunks, Error, ReduceOptions};
use proptest::prelude::*;

/// Centring by the global mean, the per-column anomaly and the transpose product, lazily.
fn patterns(x: &Array<f64>) -> Vec<Array<f64>> {
    let c = x - &x.mean().into_array();
    let a = x - &x.mean_axis(0).unwrap();
    vec![
        (&c * &c).sum_axis(1).unwrap(),
        (&a * &a).sum_axis(0).unwrap(),
        (&x.t() * x).sum_axis(1).unwrap(),
    ]
}

/// The same patterns on an eager square array.
fn eager_patterns(x: &ArrayD<f64>) -> Vec<ArrayD<f64>> {
    let c = x - x.mean().unwrap();
    let m = x.mean_axis(Axis(0)).unwrap();
    let a = x - &m;
    let t = &x.t() * x;
    vec![
        (&c * &c).sum_axis(Axis(1)),
        (&a * &a).sum_axis(Axis(0)),
        t.sum_axis(Axis(1)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn recomputed_patterns_match_ndarray_on_every_scheduler(
        (n, chunks) in (1usize..=24).prop_flat_map(|n| (Just(n), chunks_for(vec![n, n]))),
        seed in 0u64..1000,
    ) {
        let data = data(&[n, n], seed);
        let x = from_ndarray(data.clone(), chunks).unwrap();
        let want = eager_patterns(&data);
        for (lazy, want) in patterns(&x).iter().zip(&want) {
            let reference = lazy.compute_with(&sync()).unwrap();
            assert_close(&reference, want, 1e-9);
            for s in schedulers() {
                prop_assert!(same_bits(&lazy.compute_with(&s).unwrap(), &reference));
            }
        }
    }

    #[test]
    fn fused_broadcasts_match_ndarray(
        (shape, chunks) in shape_and_chunks(9),
        stretch in prop::collection::vec(any::<bool>(), 3),
        drop in 0usize..3,
        seed in 0u64..1000,
    ) {
        // An operand with some axes of length 1 and some leading axes missing, against a
        // computed (not source) array.
        let small: Vec<usize> = shape
            .iter()
            .zip(&stretch)
            .map(|(&d, &s)| if s { 1 } else { d })
            .skip(drop.min(shape.len() - 1))
            .collect();
        let (a, b) = (data(&shape, seed), data(&small, seed + 1));
        let x = from_ndarray(a.clone(), chunks).unwrap() * 2.0;
        let y = from_ndarray(b.clone(), Chunks::Block(vec![4; small.len()])).unwrap();
        let want = &(&a * 2.0) - &b;
        let lazy = &x - &y;
        let reference = lazy.compute_with(&sync()).unwrap();
        prop_assert!(same_bits(&reference, &want));
        for s in schedulers() {
            prop_assert!(same_bits(&lazy.compute_with(&s).unwrap(), &reference));
        }
        // Folded straight into a reduction too.
        let total = lazy.sum().compute().unwrap();
        prop_assert!((total - want.sum()).abs() <= 1e-9 * want.sum().abs().max(1.0));
    }
}

#[test]
fn a_source_read_after_a_barrier_is_recomputed_and_not_held() {
    let x = random::uniform::<f64>([2000, 2000], [200, 200], 5).unwrap();
    let chunk = 200 * 200 * 8;
    // The transpose of a source is the source read in transposed order, so the transpose
    // product reads two sources and shares nothing to hold or recompute.
    for (e, recomputed) in patterns(&x).into_iter().zip([1, 1, 0]) {
        let text = e.explain().unwrap();
        assert_eq!(
            text.contains("[recomputed here, not held]"),
            recomputed > 0,
            "{text}"
        );
        let plan = e.plan_graph().unwrap();
        let count = plan.node_weights().filter(|n| n.recomputed).count();
        assert_eq!(count, recomputed, "{text}");
        // A few chunks at a time on 2 threads, never the 100 chunks of x.
        let report = e.memory_report(2).unwrap();
        assert!(
            report.profile.peak_bytes <= 4 * chunk,
            "peak {} for {text}",
            report.profile.peak_bytes
        );
    }
    // The broadcast of the mean and the transpose of a computed array are read through: no
    // task materialises them.
    let c = &x - &x.mean_axis(0).unwrap();
    let y = &x - &x.mean().into_array();
    for (g, what) in [
        (c.sum().task_graph().unwrap(), "broadcast"),
        ((&y.t() * &y).sum().task_graph().unwrap(), "transpose["),
        ((&x.t() * &x).sum().task_graph().unwrap(), "transpose["),
    ] {
        let tasks = g.tasks_per_op();
        for (name, n) in g.op_names().iter().zip(&tasks) {
            assert!(!name.starts_with(what) || *n == 0, "{name}: {n} tasks");
        }
    }
}

#[test]
fn a_chunk_read_once_or_a_single_chunk_is_not_recomputed() {
    // Two consumers, but neither waits for a barrier: nothing to recompute.
    let x = random::uniform::<f64>([100, 100], [10, 10], 1).unwrap();
    let e = (&x * 2.0 + &x.exp()).sum();
    assert!(!e.explain().unwrap().contains("recomputed"));
    // One chunk is held at no cost.
    let y = random::uniform::<f64>([100, 100], [100, 100], 1).unwrap();
    let e = (&y - &y.mean().into_array()).sum();
    assert!(!e.explain().unwrap().contains("recomputed"));
    // A reduction read after a barrier is not cheap: held, not recomputed.
    let s = x.sum_axis(0).unwrap();
    let e = (&s - &s.mean().into_array()).sum();
    assert!(!e.explain().unwrap().contains("recomputed"));
}

#[test]
fn the_memory_order_finishes_what_a_source_feeds_first() {
    let x = random::uniform::<f64>([1000, 1000], [100, 100], 2).unwrap();
    let s = x
        .sum_with(&ReduceOptions::axes([0]).split_every(2))
        .unwrap();
    let g = s.task_graph().unwrap();
    let order = memory_order(&g);
    // Every task once, each after its inputs.
    let mut at = vec![usize::MAX; g.len()];
    for (i, &t) in order.iter().enumerate() {
        assert_eq!(at[t as usize], usize::MAX);
        at[t as usize] = i;
    }
    for t in 0..g.len() as u32 {
        assert!(g.deps(t).iter().all(|&d| at[d as usize] < at[t as usize]));
    }
    // Depth first: the 10 output chunks (kept to the end) and a few partial sums per thread
    // (one per level of a binary tree over 10 chunks), not one per chunk.
    let state = 100 * 8;
    for threads in [1, 2, 4] {
        let p = MemoryProfile::of(&g, &order, threads);
        assert!(p.peak_bytes <= (10 + 6 * threads) * state, "{p:?}");
    }
    // In id order (all partials first) the same graph would hold every partial.
    let by_id: Vec<u32> = (0..g.len() as u32).collect();
    assert!(MemoryProfile::of(&g, &by_id, 1).peak_bytes >= 100 * state);
}

#[test]
fn a_plan_that_cannot_fit_fails_before_running_naming_the_task() {
    let x = random::uniform::<f64>([400, 400], [100, 100], 3).unwrap();
    let g = (&x.t() + &x).task_graph().unwrap();
    let order = memory_order(&g);
    // The output alone is 16 chunks of 78 KiB: a budget of one chunk cannot hold it.
    let e = check_budget(&g, &order, 100 * 100 * 8).unwrap_err();
    let text = e.to_string();
    assert!(matches!(e, Error::Memory(_)));
    assert!(text.contains("memory budget of 78.12 KiB"), "{text}");
    assert!(text.contains("needs 78.12 KiB for its result"), "{text}");
    assert!(text.contains("on chunk ["), "{text}");
    let need = MemoryProfile::of(&g, &order, 1).peak_bytes;
    assert!(check_budget(&g, &order, need).is_ok());
    assert!(check_budget(&g, &order, need - 1).is_err());
    // The same through compute, on every scheduler, and a sufficient budget gives the bits.
    let e = &x.t() + &x;
    let want = e.compute_with(&sync()).unwrap();
    for s in schedulers() {
        let small = s.clone().memory_budget(need - 1);
        assert!(matches!(small.compute(&e), Err(Error::Memory(_))));
        let enough = s.clone().memory_budget(need);
        assert_eq!(enough.compute(&e).unwrap(), want);
    }
}

#[test]
fn a_rechunk_or_slice_of_a_cheap_expression_cuts_its_sources() {
    let rng = random::default_rng(4);
    let x: Array<f64> = rng.uniform([300, 200], [100, 100]).unwrap();
    let y: Array<f64> = rng.normal(0.0, 1.0, [300, 200], [100, 100]).unwrap();
    let e = (&x * 2.0 + &y).exp();
    let eager = e.compute().unwrap();
    // Short-fat to tall-skinny: every new chunk gathers from 3 old ones.
    let tall = e.rechunk([300, 7]).unwrap();
    let cut = e
        .slice(ndarray::s![17..251, 3..190])
        .unwrap()
        .rechunk([50, 60])
        .unwrap();
    for (lazy, want) in [
        (&tall, eager.clone()),
        (
            &cut,
            eager
                .slice(ndarray::s![17..251, 3..190])
                .to_owned()
                .into_dyn(),
        ),
    ] {
        let g = lazy.task_graph().unwrap();
        let tasks = g.tasks_per_op();
        for (name, n) in g.op_names().iter().zip(&tasks) {
            assert!(
                !name.starts_with("rechunk") && !name.starts_with("slice") || *n == 0,
                "{name}: {n} tasks"
            );
        }
        for s in schedulers() {
            assert!(same_bits(&lazy.compute_with(&s).unwrap(), &want));
        }
    }
    // A reduction's result is not cheap: its rechunk stays a rechunk.
    let m = x.sum_axis(1).unwrap().rechunk([7]).unwrap();
    assert!(m
        .task_graph()
        .unwrap()
        .op_names()
        .iter()
        .any(|n| n.starts_with("rechunk")));
}

/// Broadcasts over chunks of many tiles: a row (loaded once per tile length, every tile being
/// whole rows), a scalar, a column (loaded per tile), a row of a computed array; rows that fill
/// a tile exactly or not, and a last tile shorter than the others.
#[test]
fn broadcasts_over_many_tiles_match_ndarray() {
    for (rows, cols, chunk_rows) in [(300, 50, 300), (97, 37, 41), (64, 1024, 10), (5, 1500, 5)] {
        let a = data(&[rows, cols], 3);
        let x = from_ndarray(a.clone(), Chunks::Block(vec![chunk_rows, cols])).unwrap();
        let row = data(&[cols], 4);
        let col = data(&[rows, 1], 5);
        let r = from_ndarray(row.clone(), Chunks::Block(vec![cols])).unwrap();
        let c = from_ndarray(col.clone(), Chunks::Block(vec![chunk_rows, 1])).unwrap();
        let m = x.mean_axis(0).unwrap();
        let eager_m = a.mean_axis(Axis(0)).unwrap();
        let cases = [
            (&x - &r, &a - &row),
            ((&x - &r) * (&x - &r), (&a - &row).mapv(|v| v * v)),
            (&x * 2.0 + &c, &a * 2.0 + &col),
            (&x - &m, &a - &eager_m),
            // Steps after the broadcast's last use take its register: it is loaded again.
            (
                ((&x - &m) * 3.0 + 1.0).exp(),
                (&a - &eager_m).mapv(|v| (v * 3.0 + 1.0).exp()),
            ),
        ];
        for (lazy, want) in &cases {
            for s in schedulers() {
                let got = lazy.compute_with(&s).unwrap();
                assert_close(&got, want, 1e-12);
            }
            // Folded straight into reductions, as the fused kernels stream them.
            let total = lazy.sum().compute().unwrap();
            assert!((total - want.sum()).abs() <= 1e-9 * want.sum().abs().max(1.0));
            let cols_sum = lazy.sum_axis(0).unwrap().compute().unwrap();
            assert_close(&cols_sum, &want.sum_axis(Axis(0)), 1e-9);
        }
    }
}

#[test]
fn a_failure_under_a_tight_budget_is_the_same_error_on_every_scheduler() {
    // Several chunks fail; the error reported is the lowest failing task's on every scheduler,
    // and the tasks below it still run within the budget (no hang, no other error).
    let x = random::uniform::<f64>([300, 300], [30, 30], 5).unwrap();
    let bad = x.map(|v| -> f64 {
        if v > 0.995 {
            panic!("value {v} is cursed")
        }
        v
    });
    let e = (&bad.t() + &bad).sum_axis(0).unwrap();
    let g = e.task_graph().unwrap();
    let need = MemoryProfile::of(&g, &memory_order(&g), 1).peak_bytes;
    let want = e.compute_with(&sync()).unwrap_err().to_string();
    assert!(want.contains("is cursed"), "{want}");
    for s in schedulers() {
        for budget in [need, need * 2] {
            let got = s.clone().memory_budget(budget).compute(&e).unwrap_err();
            assert_eq!(got.to_string(), want, "{} under {budget}", s.name());
        }
    }
}
