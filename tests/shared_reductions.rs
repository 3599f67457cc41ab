//! Several reductions of one input, computed together, read it once: one task per chunk makes
//! the chunk and folds it into every reduction's partial state (`x.sum()`, `x.std()` and
//! `x.max()` of a file read each chunk once, and a streamed source is never held). The results
//! are the bits each reduction gives alone, on every scheduler, and right against eager ndarray.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod common;

use common::*;
use ndarray::{ArrayD, Axis, IxDyn};
use ndtask::array::Fused;
use ndtask::{from_ndarray, random, Array, Chunks, ReduceOptions};
use proptest::prelude::*;

/// A shape of 1 to 3 axes of length 0 to `max`, and a chunking of it.
fn any_shape_and_chunks(max: usize) -> impl Strategy<Value = (Vec<usize>, Chunks)> {
    prop::collection::vec(0..=max, 1..=3).prop_flat_map(|s| (Just(s.clone()), chunks_for(s)))
}

/// The input the reductions read: the source itself, an element-wise expression of it, or
/// one of it and a row chunked unlike it (broadcast along the leading axes).
fn input(x: &Array<f64>, row: &Array<f64>, kind: u8) -> Array<f64> {
    match kind {
        0 => x.clone(),
        1 => x * 2.0 - 1.0,
        _ => x + row,
    }
}

/// Eager population standard deviation.
fn std_of(a: &ArrayD<f64>) -> f64 {
    let n = a.len() as f64;
    let mean = a.sum() / n;
    (a.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n).sqrt()
}

fn bits(v: f64) -> u64 {
    v.to_bits()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Whole-array reductions and reductions over the leading axis and over the last axis
    /// (which folds a materialised chunk), together: each is right, and has the bits it has
    /// when computed alone, on every scheduler.
    #[test]
    fn reductions_computed_together_give_what_each_gives_alone(
        (shape, chunks) in any_shape_and_chunks(7),
        row_chunk in 1usize..=4,
        kind in 0u8..3,
        seed in 0u64..1000,
    ) {
        let nd = shape.len();
        let last = shape[nd - 1];
        let x = from_ndarray(data(&shape, seed), chunks).unwrap();
        let row = from_ndarray(data(&[last], seed + 1), [row_chunk.min(last.max(1))]).unwrap();
        let z = input(&x, &row, kind);
        let eager = z.compute().unwrap();
        let n = eager.len();
        let sum_0 = z.sum_axis(0).unwrap();
        let mean_last = z.mean_axis(nd - 1).unwrap();
        for s in schedulers() {
            let (sum, mean, sum0, meanl) =
                s.compute((z.sum(), z.mean(), sum_0.clone(), mean_last.clone())).unwrap();
            prop_assert_eq!(bits(sum), bits(z.sum().compute_with(&sync()).unwrap()));
            prop_assert_eq!(bits(mean), bits(z.mean().compute_with(&sync()).unwrap()));
            prop_assert!(same_bits(&sum0, &sum_0.compute_with(&sync()).unwrap()));
            prop_assert!(same_bits(&meanl, &mean_last.compute_with(&sync()).unwrap()));
            assert_close(
                &ArrayD::from_elem(IxDyn(&[]), sum),
                &ArrayD::from_elem(IxDyn(&[]), eager.sum()),
                1e-12,
            );
            assert_close(&sum0, &eager.sum_axis(Axis(0)), 1e-12);
            if n == 0 {
                prop_assert!(mean.is_nan());
                continue;
            }
            let want_mean = eager.sum() / n as f64;
            prop_assert!((mean - want_mean).abs() <= 1e-12 * want_mean.abs().max(1.0));
            if last > 0 {
                assert_close(&meanl, &eager.mean_axis(Axis(nd - 1)).unwrap(), 1e-12);
            }
            // Whole-array statistics of a non-empty input, the argmax's position included.
            let (std, min, max, argmax) =
                s.compute((z.std(0.0), z.min(), z.max(), z.argmax().unwrap())).unwrap();
            prop_assert_eq!(bits(std), bits(z.std(0.0).compute_with(&sync()).unwrap()));
            prop_assert!((std - std_of(&eager)).abs() <= 1e-10);
            let want_min = eager.iter().copied().fold(f64::INFINITY, f64::min);
            let want_max = eager.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            prop_assert_eq!(min, want_min);
            prop_assert_eq!(max, want_max);
            let first_max = eager.iter().position(|&v| v == want_max).unwrap();
            prop_assert_eq!(argmax as usize, first_max);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    /// With options, together: keepdims, a fan-in of 2, a reduction over the last axes (a
    /// materialised chunk) and a positional one (argmax along the last axis) beside ones over
    /// the leading axes and all axes; each has the bits it has alone, on every scheduler.
    #[test]
    fn reductions_with_options_computed_together_give_what_each_gives_alone(
        (shape, chunks) in shape_and_chunks(6),
        kind in 0u8..3,
        seed in 0u64..1000,
    ) {
        let nd = shape.len();
        let x = from_ndarray(data(&shape, seed), chunks).unwrap();
        let row = from_ndarray(data(&shape[nd - 1..], seed + 1), [2]).unwrap();
        let z = input(&x, &row, kind);
        let lead = ReduceOptions::axes([0]).keepdims(true).split_every(2);
        let tail = ReduceOptions::axes((1..nd).collect::<Vec<_>>()).split_every(2);
        let last = ReduceOptions::axes([nd - 1]).keepdims(true);
        let all = ReduceOptions::all().split_every(2).keepdims(true);
        let a = z.sum_with(&lead).unwrap();
        let b = z.std_with(&tail, 1.0).unwrap();
        let c = z.argmax_with(&last).unwrap();
        let d = z.max_with(&all).unwrap();
        let e = z.var_with(&all, 0.0).unwrap();
        for s in schedulers() {
            let (ga, gb, gc, (gd, ge)) =
                s.compute((a.clone(), b.clone(), c.clone(), (d.clone(), e.clone())))
                    .unwrap();
            prop_assert!(same_bits(&ga, &a.compute_with(&sync()).unwrap()));
            prop_assert!(same_bits(&gb, &b.compute_with(&sync()).unwrap()));
            prop_assert_eq!(&gc, &c.compute_with(&sync()).unwrap());
            prop_assert!(same_bits(&gd, &d.compute_with(&sync()).unwrap()));
            prop_assert!(same_bits(&ge, &e.compute_with(&sync()).unwrap()));
        }
        let eager = z.compute().unwrap();
        let want_c = eager.map_axis(Axis(nd - 1), |lane| {
            let m = lane.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            lane.iter().position(|&v| v == m).unwrap() as i64
        });
        prop_assert_eq!(c.compute().unwrap(), want_c.insert_axis(Axis(nd - 1)));
        assert_close(&a.compute().unwrap(), &eager.sum_axis(Axis(0)).insert_axis(Axis(0)), 1e-12);
    }
}

/// A 0-d input and a size-1 one: the shared pass folds their one value into every state.
#[test]
fn reductions_of_one_value_computed_together() {
    let one = ArrayD::from_elem(IxDyn(&[]), 2.5);
    for x in [
        from_ndarray(one.clone(), Vec::<usize>::new()).unwrap(),
        from_ndarray(one.into_shape_with_order(IxDyn(&[1, 1])).unwrap(), [1, 1]).unwrap(),
    ] {
        let z = &x * 2.0;
        for s in schedulers() {
            let (sum, mean, std, max) =
                s.compute((z.sum(), z.mean(), z.std(0.0), z.max())).unwrap();
            assert_eq!((sum, mean, std, max), (5.0, 5.0, 0.0, 5.0), "{}", s.name());
        }
    }
}

/// The reductions share one partial task per chunk, and the plan says so.
#[test]
fn the_input_is_made_once_per_chunk_for_all_its_reductions() {
    let x = random::uniform::<f64>([400, 300], [100, 100], 3).unwrap();
    let y = &x * 3.0;
    let all = (y.sum(), y.std(1.0), y.max(), y.mean_axis(0).unwrap());
    let g = ndtask::Config::default().task_graph(&all).unwrap();
    let names = g.op_names();
    let counts = g.tasks_per_op();
    let shared: Vec<usize> = (0..names.len())
        .filter(|&i| names[i].starts_with("sum+std+max+mean-partial("))
        .collect();
    assert_eq!(shared.len(), 1, "{names:?}");
    assert_eq!(counts[shared[0]], 12, "one task per chunk of x");
    // No other task reads a chunk of x: the only partial layer is the shared one.
    assert!(
        !names
            .iter()
            .any(|n| n.contains("-partial(") && !n.starts_with("sum+std+max+mean")),
        "{names:?}"
    );
    let plan = ndtask::Config::default().explain(&all).unwrap();
    assert!(
        plan.contains("[fused region, streamed into its reductions in one pass]"),
        "{plan}"
    );
    let nodes = y.mean().into_array().plan_graph().unwrap();
    assert!(nodes.node_weights().all(|n| n.fused != Fused::Shared));
    // The same values as computed one at a time.
    let (sum, std, max, m0) = sync().compute(all).unwrap();
    assert_eq!(sum.to_bits(), y.sum().compute().unwrap().to_bits());
    assert_eq!(std.to_bits(), y.std(1.0).compute().unwrap().to_bits());
    assert_eq!(max.to_bits(), y.max().compute().unwrap().to_bits());
    assert!(same_bits(&m0, &y.mean_axis(0).unwrap().compute().unwrap()));
}

/// A failing input fails every reduction that shares it, with the input's error.
#[test]
fn a_failure_in_the_shared_pass_is_the_error_of_the_compute() {
    let x = random::uniform::<f64>([50, 40], [10, 10], 3).unwrap();
    let bad = x.map_blocks(|b| {
        assert!(b[[0, 0]] > 2.0, "no good");
        b.to_owned()
    });
    let y = &bad + 1.0;
    for s in schedulers() {
        let e = s.compute((y.sum(), y.max())).unwrap_err();
        assert!(e.to_string().contains("no good"), "{e}");
    }
}
