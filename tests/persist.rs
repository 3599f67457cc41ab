//! `persist`: the chunks are computed once and kept; what is built on the kept array runs none
//! of the tasks that made them, and gives the same bits, sliced and rechunked too.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod common;

use common::*;
use ndarray::s;
use ndtask::engine::RunContext;
use ndtask::observe::{Observer, TaskEvent};
use ndtask::random;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// Records the op of every task that runs.
#[derive(Default)]
struct Ops(Mutex<Vec<String>>, AtomicUsize);

impl Observer for Ops {
    fn task_finished(&self, e: &TaskEvent<'_>) {
        self.0.lock().unwrap().push(e.op.to_string());
        self.1.fetch_add(1, Ordering::Relaxed);
    }
}

#[test]
fn a_persisted_array_runs_no_upstream_task_and_gives_the_same_bits() {
    let x = random::uniform::<f64>([90, 70], [20, 30], 5).unwrap();
    let e = (&x * 3.0 + 1.0).map_named("cube", |v| v * v * v);
    for s in schedulers() {
        let kept = e.persist_with(&s).unwrap();
        assert_eq!(kept.chunks(), e.chunks());
        let ops = Arc::new(Ops::default());
        let watched = s.clone().observe(ops.clone());
        let got = watched.compute(&kept.sum()).unwrap();
        assert_eq!(
            got.to_bits(),
            e.sum().compute_with(&s).unwrap().to_bits(),
            "{}",
            s.name()
        );
        let names = ops.0.lock().unwrap().clone();
        assert!(!names.is_empty());
        assert!(
            names
                .iter()
                .all(|n| !n.contains("uniform") && !n.contains("cube") && !n.contains("multiply")),
            "{names:?}"
        );
        // Only the reduction's own tasks ran: one partial per chunk, then the tree.
        assert_eq!(
            ops.1.load(Ordering::Relaxed),
            kept.sum().task_graph().unwrap().len()
        );
        // Slices and other chunkings read the kept chunks across their boundaries.
        let want = e.compute_with(&s).unwrap();
        let sl = kept.slice(s![15..61, 25..33]).unwrap();
        assert_eq!(
            sl.compute_with(&s).unwrap(),
            want.slice(s![15..61, 25..33]).into_dyn()
        );
        let re = kept.rechunk([17, 23]).unwrap();
        assert_eq!(re.compute_with(&s).unwrap(), want);
        assert!(same_bits(
            &(&kept - 1.0).compute_with(&s).unwrap(),
            &want.mapv(|v| v - 1.0)
        ));
    }
}

#[test]
fn persisting_a_failing_or_empty_array() {
    let x = ndtask::arange(0i64, 10, 1, [3]).unwrap().map(|v| {
        assert!(v != 7, "seven");
        v
    });
    assert!(matches!(x.persist(), Err(ndtask::Error::Task { .. })));
    let e = ndtask::zeros::<f64>([0, 4], [1, 2])
        .unwrap()
        .persist()
        .unwrap();
    assert_eq!(e.compute().unwrap().shape(), &[0, 4]);
    let z = ndtask::full::<f64>([], [], 2.5).unwrap().persist().unwrap();
    assert_eq!(z.sum().compute().unwrap(), 2.5);
}

/// One process keeps every output of a run here (the default `Scheduler::execute_kept`, which
/// `persist` uses on several MPI ranks): the same chunks `execute_with` returns, all on rank 0.
#[test]
fn one_process_keeps_every_output_here() {
    let x = random::uniform::<f64>([30, 20], [7, 6], 3).unwrap();
    let graph = (&x * 2.0).task_graph().unwrap();
    for s in schedulers() {
        let sched = s.get_scheduler().unwrap();
        let kept = sched.execute_kept(&graph, &RunContext::new()).unwrap();
        let all = sched
            .execute_with(&graph, &RunContext::new())
            .unwrap()
            .unwrap();
        assert_eq!(kept.homes, vec![0; all.len()]);
        let kept: Vec<_> = kept.chunks.into_iter().map(Option::unwrap).collect();
        assert_eq!(kept, all, "{}", s.name());
    }
}
