//! Bad input gives clear errors that name the values involved; failing tasks give `Err` on every
//! scheduler, never a hang or a crash.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod common;

use common::*;
use ndtask::{arange, concatenate, from_ndarray, ones, random, Array, Error, ReduceOptions};

fn msg<T: std::fmt::Debug>(r: ndtask::Result<T>) -> String {
    r.unwrap_err().to_string()
}

#[test]
fn chunk_errors_name_shape_and_chunks() {
    let e = msg(ones::<f64>([10, 5], [0, 5]));
    assert!(
        e.contains("[10, 5]") && e.contains("[0, 5]") && e.contains("zero"),
        "{e}"
    );
    let e = msg(ones::<f64>([10, 5], [5]));
    assert!(e.contains("1 block sizes given for 2 dimensions"), "{e}");
    let e = msg(ones::<f64>([10], vec![vec![3, 3]]));
    assert!(
        e.contains("add up to 6, not 10") && e.contains("[[3, 3]]"),
        "{e}"
    );
    let e = msg(ones::<f64>([4], vec![vec![4, 0]]));
    assert!(e.contains("size zero"), "{e}");
    assert!(matches!(
        random::uniform::<f64>([4, 4], [2], 1),
        Err(Error::Chunks { .. })
    ));
}

#[test]
fn shape_errors_name_both_shapes() {
    let a = ones::<f64>([4, 3], [2, 3]).unwrap();
    let b = ones::<f64>([4, 5], [2, 5]).unwrap();
    let e = msg(a.try_add(&b));
    assert!(e.contains("[4, 3]") && e.contains("[4, 5]"), "{e}");
    // Operators defer the same error to compute(), before any task runs.
    let sum = &a + &b;
    assert!(sum.check().is_err());
    let e = msg((sum.clone() * 2.0).sum().compute());
    assert!(e.contains("[4, 3]") && e.contains("[4, 5]"), "{e}");
    // Different chunks are aligned, not an error.
    let c = ones::<f64>([4, 3], [3, 2]).unwrap();
    let p = a.try_mul(&c).unwrap();
    assert_eq!(p.chunks(), vec![vec![2, 1, 1], vec![2, 1]]);
    // Shapes that do not broadcast name both shapes and the axis.
    let e = msg(a.try_add(&ones::<f64>([2, 3], [2, 3]).unwrap()));
    assert!(
        e.contains("[4, 3] and [2, 3]") && e.contains("axis 0"),
        "{e}"
    );
    assert!(msg(a.less(&b)).contains("[4, 5]"));
}

#[test]
fn axis_and_option_errors() {
    let a = ones::<f64>([4, 3], [2, 3]).unwrap();
    let e = msg(a.sum_axis(2));
    assert!(
        e.contains("axis 2") && e.contains("2 dimensions") && e.contains("[4, 3]"),
        "{e}"
    );
    assert_eq!(
        msg(a.sum_with(&ReduceOptions::axes([0, 0]))),
        "invalid argument: sum: axis 0 is repeated in the axes [0, 0]"
    );
    assert!(msg(a.mean_with(&ReduceOptions::all().split_every(1))).contains("split_every"));
    assert!(a.sum().compute().is_ok());
}

#[test]
fn concatenate_errors() {
    let a = ones::<f64>([4, 3], [2, 3]).unwrap();
    let b = ones::<f64>([4, 5], [2, 5]).unwrap();
    let e = msg(concatenate(&[&a, &b], 0));
    assert_eq!(
        e,
        "cannot concatenate shapes [4, 3] and [4, 5] along axis 0: other axes differ"
    );
    assert!(concatenate(&[&a, &b], 1).is_ok());
    assert!(msg(concatenate(&[&a, &b], 2)).contains("axis 2"));
    assert!(msg(concatenate::<f64>(&[], 0)).contains("at least one"));
    // Different chunks on the other axes are aligned, not an error.
    let c = ones::<f64>([4, 3], [4, 1]).unwrap();
    let joined = concatenate(&[&a, &c], 0).unwrap();
    assert_eq!(joined.chunks(), vec![vec![2, 2, 4], vec![1, 1, 1]]);
    assert_eq!(joined.sum().compute().unwrap(), 24.0);
}

#[test]
fn argument_errors() {
    assert!(msg(arange(0.0, 1.0, 0.0, [2])).contains("step"));
    let rng = random::default_rng(0);
    assert!(msg(rng.uniform_range::<f64>(1.0, 1.0, [3], [3])).contains("low=1"));
    assert!(msg(rng.normal::<f64>(0.0, -1.0, [3], [3])).contains("std=-1"));
    assert!(msg(rng.integers(5, 5, [3], [3])).contains("low=5, high=5"));
    assert!(ndtask::scheduler::make(ndtask::scheduler::Kind::Threaded, Some(0)).is_err());
    assert!(msg("gpu".parse::<ndtask::scheduler::Kind>()).contains("gpu"));
}

#[cfg(not(feature = "mpi"))]
#[test]
fn mpi_without_the_feature_is_a_clear_error() {
    let e = ndtask::scheduler::make(ndtask::scheduler::Kind::Mpi, None)
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("--features mpi"), "{e}");
}

#[test]
fn a_panicking_task_is_an_error_naming_op_and_chunk() {
    let x = arange(0i64, 100, 1, [10]).unwrap();
    let bad: Array<i64> = x.map(|v| {
        if v == 57 {
            panic!("value {v} is cursed")
        } else {
            v
        }
    });
    for s in schedulers() {
        let e = bad.sum().compute_with(&s).unwrap_err();
        match &e {
            Error::Task { op, chunk, message } => {
                assert!(op.contains("map"), "{e}");
                assert_eq!(chunk, "[5]");
                assert!(message.contains("value 57 is cursed"), "{e}");
            }
            other => panic!("expected a task error, got {other}"),
        }
        // The scheduler is still usable afterwards.
        assert_eq!(x.sum().compute_with(&s).unwrap(), 4950);
    }
}

#[test]
fn failure_in_many_chunks_stops_the_run() {
    // Every chunk fails; the run stops and reports one of them (the lowest task id among those
    // that ran), on every scheduler.
    let x = random::uniform::<f64>([2000, 100], [10, 100], 3).unwrap();
    let bad = x.map(|v| -> f64 { panic!("boom {}", v >= 0.0) });
    let concat = concatenate(&[&bad, &x], 0).unwrap().sum_axis(0).unwrap();
    for s in schedulers() {
        let e = concat.compute_with(&s).unwrap_err();
        match &e {
            Error::Task { chunk, message, .. } => {
                assert!(chunk.starts_with('[') && chunk.ends_with(", 0]"), "{e}");
                assert!(message.contains("boom"), "{e}");
            }
            other => panic!("expected a task error, got {other}"),
        }
    }
}

#[test]
fn data_chunking_mismatch_in_from_ndarray() {
    let e = msg(from_ndarray(data(&[3, 4], 1), [3]));
    assert!(e.contains("[3, 4]"), "{e}");
}
