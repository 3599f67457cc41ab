//! `rechunk_through`: a computed array rechunked through a temporary file, on every scheduler,
//! over random shapes and pairs of chunkings (inputs chunked differently from each other,
//! empty and length-1 axes) and element types, against eager ndarray; within a memory budget
//! that the direct rechunk cannot keep; errors that name the file and leave nothing behind.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod common;

use common::*;
use ndarray::{ArrayD, IxDyn};
use ndtask::{from_ndarray, Chunks, Config, Element, Error, Numeric};
use proptest::prelude::*;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A fresh, empty directory of this test process.
fn fresh_dir() -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let d = std::env::temp_dir().join(format!("ndtask-spill-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The files in `dir`.
fn files(dir: &PathBuf) -> usize {
    std::fs::read_dir(dir).unwrap().count()
}

fn values<T: Element>(shape: &[usize], seed: u64) -> ArrayD<T> {
    data(shape, seed).mapv(|v| T::from_f64((v * 1000.0).round() / 8.0))
}

/// `x + y` (chunked `a` and `b`, so the sum is computed, not a source) rechunked to `to`
/// through a file, against ndarray and against the direct rechunk, on every scheduler.
fn round_trip<T: Numeric + std::ops::Add<Output = T>>(
    shape: &[usize],
    a: &Chunks,
    b: &Chunks,
    to: &Chunks,
) {
    let (xv, yv) = (values::<T>(shape, 1), values::<T>(shape, 2));
    let want = ndarray::Zip::from(&xv).and(&yv).map_collect(|&a, &b| a + b);
    let dir = fresh_dir();
    for s in schedulers() {
        let x = from_ndarray(xv.clone(), a.clone()).unwrap();
        let y = from_ndarray(yv.clone(), b.clone()).unwrap();
        let sum = &x + &y;
        let through = sum.rechunk_through_with(to.clone(), &dir, &s).unwrap();
        assert_eq!(through.chunks(), sum.rechunk(to.clone()).unwrap().chunks());
        assert_eq!(through.compute_with(&s).unwrap(), want, "{}", s.name());
        // A slice reads only the parts of the new chunks it needs.
        if shape.iter().all(|&d| d > 1) {
            let cut: Vec<ndarray::SliceInfoElem> = shape
                .iter()
                .map(|&d| ndarray::SliceInfoElem::Slice {
                    start: 1,
                    end: Some(d as isize),
                    step: 1,
                })
                .collect();
            let info = ndarray::SliceInfo::<_, IxDyn, IxDyn>::try_from(cut).unwrap();
            assert_eq!(
                through
                    .slice(info.clone())
                    .unwrap()
                    .compute_with(&s)
                    .unwrap(),
                want.slice(info).to_owned()
            );
        }
        assert_eq!(files(&dir), 1, "one file while the array lives");
        drop(through);
        assert_eq!(files(&dir), 0, "the file goes with the array");
    }
    std::fs::remove_dir(&dir).unwrap();
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn rechunk_through_a_file_gives_the_array(
        (shape, a) in shape_and_chunks(9),
        seed in 0u64..4,
    ) {
        let b = match seed {
            0 => a.clone(),
            _ => Chunks::Block(shape.iter().map(|&d| d.div_ceil(2).max(1)).collect()),
        };
        let to = Chunks::Block(
            shape.iter().enumerate().map(|(i, &d)| 1 + (i + seed as usize) % d.max(1)).collect(),
        );
        round_trip::<f64>(&shape, &a, &b, &to);
    }
}

#[test]
fn every_element_type_and_empty_size_one_and_no_axes() {
    let shape = [7, 5];
    let a = Chunks::Block(vec![3, 2]);
    let b = Chunks::Block(vec![7, 1]);
    let to = Chunks::Block(vec![1, 5]);
    round_trip::<f64>(&shape, &a, &b, &to);
    round_trip::<f32>(&shape, &a, &b, &to);
    round_trip::<i64>(&shape, &a, &b, &to);
    round_trip::<f64>(
        &[0, 4],
        &Chunks::Block(vec![1, 2]),
        &a,
        &Chunks::Block(vec![1, 4]),
    );
    round_trip::<f64>(
        &[1, 1],
        &Chunks::Block(vec![1, 1]),
        &b,
        &Chunks::Block(vec![1, 1]),
    );
    let none = Chunks::Block(Vec::new());
    round_trip::<f64>(&[], &none, &none, &none);
    let flags = ArrayD::from_shape_fn(IxDyn(&[6, 4]), |i| (i[0] * 3 + i[1]) % 5 == 0);
    let x = from_ndarray(flags.clone(), [4, 3]).unwrap().logical_not();
    let dir = fresh_dir();
    let through = x.rechunk_through([6, 1], &dir).unwrap();
    assert_eq!(through.compute().unwrap(), flags.mapv(|f| !f));
    drop(through);
    std::fs::remove_dir(&dir).unwrap();
}

/// Square chunks of a user function's output to full columns: the direct rechunk keeps a
/// column of eight old chunks alive and cannot run within six chunks' bytes; through a file it
/// can (each writing task holds an old chunk and its input), with the same bits.
#[test]
fn the_columns_fit_a_budget_the_direct_rechunk_cannot_keep() {
    let xv = data(&[240, 240], 5);
    let made = || {
        from_ndarray(xv.clone(), [30, 30])
            .unwrap()
            .map_blocks(|b| b.mapv(|v| v * 2.0 - 1.0))
    };
    let chunk = 30 * 30 * 8;
    let budget = 6 * chunk;
    let direct = made().rechunk([240, 4]).unwrap().sum_axis(0).unwrap();
    let want = direct.compute_with(&sync()).unwrap();
    let dir = fresh_dir();
    for threads in [1, 2] {
        let s = Config::new()
            .threads(threads)
            .unwrap()
            .memory_budget(budget);
        match direct.compute_with(&s) {
            Err(Error::Memory(m)) => assert!(
                m.contains("rechunk (") && m.contains("rechunk_through"),
                "{m}"
            ),
            other => panic!("the direct rechunk ran within {budget} bytes: {other:?}"),
        }
        let columns = made().rechunk_through_with([240, 4], &dir, &s).unwrap();
        let got = columns.sum_axis(0).unwrap().compute_with(&s).unwrap();
        assert!(same_bits(&got, &want));
        let report = columns.sum_axis(0).unwrap().memory_report(threads).unwrap();
        assert!(report.min_budget <= budget, "{report}");
    }
    assert_eq!(files(&dir), 0);
    std::fs::remove_dir(&dir).unwrap();
}

#[test]
fn errors_name_the_file_and_leave_nothing_behind() {
    let x = from_ndarray(data(&[8, 6], 1), [4, 3]).unwrap();
    let missing = std::env::temp_dir().join(format!("ndtask-no-such-dir-{}", std::process::id()));
    match (&x * 2.0).rechunk_through([8, 1], &missing) {
        Err(Error::Io { what, .. }) => {
            assert!(
                what.contains("creating") && what.contains("ndtask-no-such-dir"),
                "{what}"
            )
        }
        other => panic!("expected an I/O error, got {other:?}"),
    }
    let dir = fresh_dir();
    let wrong = Chunks::Explicit(vec![vec![8], vec![3, 4]]);
    match (&x * 2.0).rechunk_through(wrong, &dir) {
        Err(Error::Chunks { shape, chunks, .. }) => {
            assert_eq!(shape, [8, 6]);
            assert!(chunks.contains('4'), "{chunks}");
        }
        other => panic!("expected a chunks error, got {other:?}"),
    }
    // The last chunk fails, after the file was made and the others were written (in the sync
    // scheduler's order: the file first).
    let failing = from_ndarray(
        ArrayD::from_shape_fn(IxDyn(&[8, 6]), |i| (i[0] * 6 + i[1]) as f64),
        [4, 3],
    )
    .unwrap()
    .map(|v| {
        assert!(v < 47.0, "too large");
        v
    });
    let got = failing.rechunk_through_with([1, 6], &dir, &sync());
    assert!(matches!(got, Err(Error::Task { .. })), "{got:?}");
    assert_eq!(files(&dir), 0, "a failed write leaves no file");
    std::fs::remove_dir(&dir).unwrap();
}
