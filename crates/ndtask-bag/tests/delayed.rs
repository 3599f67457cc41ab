//! Delayed values against the same computation done eagerly, on every scheduler; reading
//! arrays, scalars and chunks; arrays made of delayed chunks.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use ndarray::{ArrayD, IxDyn};
use ndtask_array::Config;
use ndtask_bag::delayed::{self, Delayed};
use ndtask_core::Error;
use ndtask_sched::{SyncScheduler, ThreadedScheduler};
use proptest::prelude::*;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

fn schedulers() -> Vec<Config> {
    let mut s: Vec<Config> = vec![Config::new().scheduler(SyncScheduler)];
    for t in 1..=3 {
        s.push(Config::new().scheduler(ThreadedScheduler::with_threads(t).unwrap()));
    }
    s
}

#[test]
fn calls_compose_and_share_one_graph() {
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let a = delayed::delayed(move || {
        c.fetch_add(1, Ordering::SeqCst);
        vec![1.5f64, 2.5, 3.0]
    });
    let total = a.map(|v| v.iter().sum::<f64>());
    let len = a.map(|v| v.len());
    let mean = total.zip_map(&len, |s, &n| s / n as f64);
    for s in schedulers() {
        calls.store(0, Ordering::SeqCst);
        let (t, m, n) = s.compute((&total, &mean, &len)).unwrap();
        assert_eq!((t, m, n), (7.0, 7.0 / 3.0, 3));
        assert_eq!(calls.load(Ordering::SeqCst), 1, "the shared input ran once");
    }
    let parts: Vec<Delayed<i64>> = (0..10).map(|i| delayed::value(i * i)).collect();
    let sum = delayed::combine(&parts, |xs| xs.iter().copied().sum::<i64>());
    assert_eq!(sum.compute().unwrap(), (0..10).map(|i| i * i).sum::<i64>());
    assert_eq!(
        ndtask_array::compute(parts.clone()).unwrap(),
        (0..10).map(|i| i * i).collect::<Vec<_>>()
    );
    let text = sum.explain().unwrap();
    assert!(
        text.contains("value: 10 tasks") && text.contains("combine: 1 task"),
        "{text}"
    );
}

#[test]
fn local_values_need_no_serde() {
    struct Opaque(std::sync::Mutex<u32>);
    let o = delayed::delayed_local(|| Opaque(std::sync::Mutex::new(41)));
    let n = o.map(|o| *o.0.lock().unwrap() + 1);
    for s in schedulers() {
        assert_eq!(n.compute_with(&s).unwrap(), 42);
    }
}

#[test]
fn failures_are_errors() {
    let bad = delayed::delayed(|| -> i64 { panic!("no luck") });
    let twice = bad.map(|x| x * 2);
    for s in schedulers() {
        let e = twice.compute_with(&s).unwrap_err();
        assert!(
            matches!(&e, Error::Task { .. }) && e.to_string().contains("no luck"),
            "{e}"
        );
    }
    let checked = delayed::value(-1i64).try_map(|&x| match x {
        x if x < 0 => Err(format!("negative: {x}")),
        x => Ok(x),
    });
    assert!(checked
        .compute()
        .unwrap_err()
        .to_string()
        .contains("negative: -1"));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]

    /// Arrays into delayed values (whole, by chunk, a reduced scalar) and delayed chunks into
    /// an array, against ndarray.
    #[test]
    fn arrays_round_trip(rows in 1usize..12, cols in 1usize..9, cr in 1usize..6, cc in 1usize..6, seed in 0u64..1000) {
        let x = ndtask_array::random::uniform::<f64>([rows, cols], [cr, cc], seed).unwrap();
        let y = &(&x * 2.0) + 1.0; // a computed input, not a source
        let eager = y.compute().unwrap();
        let whole = delayed::from_array(&y);
        let total = delayed::from_scalar(&y.sum());
        let chunks = delayed::chunks(&y);
        prop_assert_eq!(chunks.len(), y.num_chunks());
        for s in schedulers() {
            prop_assert_eq!(whole.compute_with(&s).unwrap(), eager.clone());
            prop_assert_eq!(total.compute_with(&s).unwrap(), y.sum().compute_with(&s).unwrap());
            let got = s.compute(chunks.clone()).unwrap();
            for (b, c) in got.iter().enumerate() {
                let idx = y.grid().unravel(b);
                let off = y.grid().chunk_offset(&idx);
                let sh = y.grid().chunk_shape(&idx);
                let want = eager.slice(ndarray::s![off[0]..off[0] + sh[0], off[1]..off[1] + sh[1]]);
                prop_assert_eq!(c.view().into_dimensionality::<ndarray::Ix2>().unwrap(), want);
            }
        }
        // And back: the delayed chunks (shifted) as an array, chunked as y, then a slice.
        let parts: Vec<Delayed<ArrayD<f64>>> = chunks.iter().map(|c| c.map(|a| a - 1.0)).collect();
        let z = delayed::to_array(parts, [rows, cols], ndtask_core::Chunks::Explicit(vec![
            y.grid().axis_sizes(0), y.grid().axis_sizes(1),
        ])).unwrap();
        let want = eager.mapv(|v| v - 1.0);
        for s in schedulers() {
            prop_assert_eq!(z.compute_with(&s).unwrap(), want.clone());
            let r = rows / 2;
            let sl = z.slice(ndarray::s![r..rows, 0..cols]).unwrap().compute_with(&s).unwrap();
            prop_assert_eq!(sl, want.slice(ndarray::s![r..rows, 0..cols]).into_owned().into_dyn());
            // Rechunked: a region that spans several delayed parts.
            let rc = z.rechunk([rows, cols]).unwrap().compute_with(&s).unwrap();
            prop_assert_eq!(rc, want.clone());
        }
    }
}

#[test]
fn to_array_checks_parts() {
    let parts = vec![delayed::delayed(|| ArrayD::<f64>::zeros(IxDyn(&[3])))];
    assert!(delayed::to_array::<f64>(parts.clone(), [6], [3]).is_err());
    let x = delayed::to_array::<f64>(parts, [2], [2]).unwrap();
    let e = x.compute().unwrap_err().to_string();
    assert!(e.contains("[3]") && e.contains("[2]"), "{e}");
}
