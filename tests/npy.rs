//! `.npy` files: written chunk by chunk in parallel and read lazily region by region, on every
//! scheduler, over random shapes, chunkings and element types; files NumPy wrote read exactly,
//! files ndtask wrote load in NumPy exactly; every bad file is an error naming it.
//!
//! The NumPy tests need a Python with NumPy: `NDTASK_PYTHON`, else `.venv/bin/python` at the
//! workspace root, else `python3`. Without one they are skipped with a message, except under CI
//! (`CI` set), where they fail.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod common;

use common::*;
use ndarray::{s, ArrayD, IxDyn};
use ndtask::{from_ndarray, from_npy, Element, Error};
use proptest::prelude::*;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A fresh path in the temporary directory.
fn temp(name: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    std::env::temp_dir().join(format!("ndtask-npy-{}-{n}-{name}", std::process::id()))
}

fn values<T: Element>(shape: &[usize], seed: u64) -> ArrayD<T> {
    data(shape, seed).mapv(|v| T::from_f64((v * 1000.0).round() / 8.0))
}

fn round_trip<T: Element>(shape: &[usize], write: ndtask::Chunks, read: ndtask::Chunks) {
    let want: ArrayD<T> = values(shape, 3);
    let path = temp("rt.npy");
    for s in schedulers() {
        let x = from_ndarray(want.clone(), write.clone()).unwrap();
        let x = x.map(|v| v); // a computed array, not a source
        x.to_npy(&path).and_then(|w| w.compute_with(&s)).unwrap();
        let y = from_npy::<T>(&path, read.clone()).unwrap();
        assert_eq!(y.compute_with(&s).unwrap(), want, "{} {shape:?}", s.name());
    }
    std::fs::remove_file(&path).unwrap();
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(16))]

    #[test]
    fn written_then_read_back_exactly((shape, write) in shape_and_chunks(3), read_seed in any::<u64>()) {
        let read = {
            let mut rng = proptest::test_runner::TestRng::from_seed(
                proptest::test_runner::RngAlgorithm::ChaCha,
                &[read_seed as u8; 32],
            );
            let chunks: Vec<usize> = shape.iter().map(|&d| 1 + (rng.next_u32() as usize) % d.max(1)).collect();
            ndtask::Chunks::Block(chunks)
        };
        round_trip::<f64>(&shape, write.clone(), read.clone());
        round_trip::<f32>(&shape, write.clone(), read.clone());
        round_trip::<i64>(&shape, write, read);
    }
}

#[test]
fn bools_empty_arrays_and_0d_round_trip() {
    let path = temp("b.npy");
    let b = from_ndarray(values::<f64>(&[7, 5], 1).mapv(|v| v > 0.5), [3, 2]).unwrap();
    b.to_npy(&path).and_then(|w| w.compute()).unwrap();
    assert_eq!(
        from_npy::<bool>(&path, [4, 5]).unwrap().compute().unwrap(),
        b.compute().unwrap()
    );
    let e = ndtask::zeros::<f64>([0, 4], [1, 2]).unwrap();
    e.to_npy(&path).and_then(|w| w.compute()).unwrap();
    assert_eq!(from_npy::<f64>(&path, [1, 2]).unwrap().shape(), vec![0, 4]);
    let z = ndtask::full::<i64>([], [], 42).unwrap();
    z.to_npy(&path).and_then(|w| w.compute()).unwrap();
    assert_eq!(
        from_npy::<i64>(&path, Vec::<usize>::new())
            .unwrap()
            .compute()
            .unwrap()[IxDyn(&[])],
        42
    );
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn a_slice_of_a_file_reads_only_its_bytes_and_fuses() {
    let want = values::<f64>(&[60, 50], 2);
    let path = temp("s.npy");
    from_ndarray(want.clone(), [60, 50])
        .unwrap()
        .to_npy(&path)
        .and_then(|w| w.compute())
        .unwrap();
    let x = from_npy::<f64>(&path, [10, 10]).unwrap();
    let y = x.slice(s![13..27, 5..9]).unwrap();
    let g = y.task_graph().unwrap();
    // One task per touched chunk of the slice's grid, each reading only its box.
    assert_eq!(g.len(), 2); // rows 13..20 and 20..27 of one column block
    assert_eq!(
        y.compute().unwrap(),
        want.slice(s![13..27, 5..9]).into_dyn()
    );
    let m = (&x * 2.0).sum().compute().unwrap();
    assert!((m - 2.0 * want.sum()).abs() <= 1e-9 * want.sum().abs());
    std::fs::remove_file(&path).unwrap();
}

/// The bytes of a hand-made `.npy` file.
fn npy_file(descr: &str, fortran: bool, shape: &str, payload: &[u8]) -> Vec<u8> {
    let mut dict = format!(
        "{{'descr': '{descr}', 'fortran_order': {}, 'shape': {shape}, }}",
        if fortran { "True" } else { "False" }
    );
    while (10 + dict.len() + 1) % 64 != 0 {
        dict.push(' ');
    }
    dict.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(dict.len() as u16).to_le_bytes());
    out.extend_from_slice(dict.as_bytes());
    out.extend_from_slice(payload);
    out
}

#[test]
fn narrow_integers_and_big_endian_files_are_read() {
    let path = temp("n.npy");
    let i4: Vec<u8> = [-3i32, 7, 1 << 30, -1]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    std::fs::write(&path, npy_file("<i4", false, "(2, 2)", &i4)).unwrap();
    let x = from_npy::<i64>(&path, [1, 2]).unwrap().compute().unwrap();
    assert_eq!(
        x.iter().copied().collect::<Vec<_>>(),
        vec![-3, 7, 1 << 30, -1]
    );
    std::fs::write(&path, npy_file("|u1", false, "(3,)", &[0, 200, 255])).unwrap();
    let x = from_npy::<i64>(&path, [2]).unwrap().compute().unwrap();
    assert_eq!(x.iter().copied().collect::<Vec<_>>(), vec![0, 200, 255]);
    let be: Vec<u8> = [1.5f64, -2.25]
        .iter()
        .flat_map(|v| v.to_be_bytes())
        .collect();
    std::fs::write(&path, npy_file(">f8", false, "(2,)", &be)).unwrap();
    let x = from_npy::<f64>(&path, [1]).unwrap().compute().unwrap();
    assert_eq!(x.iter().copied().collect::<Vec<_>>(), vec![1.5, -2.25]);
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn bad_files_are_errors_naming_the_file() {
    let path = temp("bad.npy");
    let io = |e: Error, want: &str| match &e {
        Error::Io { what, .. } => {
            assert!(what.contains(&path.display().to_string()), "{e}");
            assert!(e.to_string().contains(want), "{e}");
        }
        _ => panic!("expected an I/O error containing {want:?}, got {e}"),
    };
    io(from_npy::<f64>(&path, [1]).unwrap_err(), "No such file");
    std::fs::write(&path, b"hello, not numpy").unwrap();
    io(from_npy::<f64>(&path, [1]).unwrap_err(), "not an .npy file");
    std::fs::write(&path, npy_file("<f8", true, "(2, 2)", &[0; 32])).unwrap();
    io(from_npy::<f64>(&path, [1, 1]).unwrap_err(), "Fortran order");
    std::fs::write(&path, npy_file("<c16", false, "(2,)", &[0; 32])).unwrap();
    io(
        from_npy::<f64>(&path, [1]).unwrap_err(),
        "\"<c16\" is not supported",
    );
    // A type that starts with a multi-byte character (or an invalid byte): an error, no panic.
    std::fs::write(&path, npy_file("\u{e9}f8", false, "(2,)", &[0; 16])).unwrap();
    io(from_npy::<f64>(&path, [1]).unwrap_err(), "is not supported");
    std::fs::write(&path, npy_file("<f8", false, "(4,)", &[0; 16])).unwrap();
    io(from_npy::<f64>(&path, [1]).unwrap_err(), "the file has");
    std::fs::write(&path, npy_file("<f8", false, "(2,)", &[0; 16])).unwrap();
    let e = from_npy::<i64>(&path, [1]).unwrap_err();
    assert!(
        e.to_string()
            .contains("holds <f8 values (read as f64), not i64"),
        "{e}"
    );
    // A file that shrinks after it was opened: the read fails, naming the region.
    let x = from_npy::<f64>(&path, [1]).unwrap();
    std::fs::write(&path, npy_file("<f8", false, "(2,)", &[0; 8])).unwrap();
    let e = x.sum().compute().unwrap_err();
    assert!(
        matches!(&e, Error::Io { what, .. } if what.contains("reading region [1..2]")),
        "{e}"
    );
    // Writing where no file can be: an I/O error, nothing written.
    let e = x
        .to_npy("/nonexistent-dir-ndtask/x.npy")
        .and_then(|w| w.compute())
        .unwrap_err();
    assert!(
        matches!(&e, Error::Io { what, .. } if what.contains("creating /nonexistent-dir-ndtask/x.npy")),
        "{e}"
    );
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn files_numpy_writes_read_exactly_and_numpy_reads_ours() {
    let Some(py) = python(&["numpy"]) else {
        return;
    };
    let dir = temp("numpy");
    std::fs::create_dir_all(&dir).unwrap();
    let d = dir.display();
    // The same values on both sides: i * 0.25 - 3 (exact in every float type) over shape [7, 6, 5].
    run_python(
        &py,
        &format!(
            "import numpy as np\n\
         a = np.arange(210).reshape(7, 6, 5) * 0.25 - 3\n\
         np.save('{d}/f8.npy', a)\n\
         np.save('{d}/f4.npy', a.astype(np.float32))\n\
         np.save('{d}/i8.npy', np.arange(210).reshape(7, 6, 5) - 100)\n\
         np.save('{d}/i4.npy', (np.arange(210).reshape(7, 6, 5) - 100).astype(np.int32))\n\
         np.save('{d}/u1.npy', (np.arange(210) % 256).astype(np.uint8).reshape(7, 6, 5))\n\
         np.save('{d}/b1.npy', (np.arange(210).reshape(7, 6, 5) % 3) == 0)\n\
         np.save('{d}/be.npy', a.astype('>f8'))\n\
         np.save('{d}/empty.npy', np.zeros((0, 3)))\n"
        ),
    );
    let idx = |f: &dyn Fn(usize) -> f64| {
        ArrayD::from_shape_fn(IxDyn(&[7, 6, 5]), |i| f(i[0] * 30 + i[1] * 5 + i[2]))
    };
    let floats = idx(&|i| i as f64 * 0.25 - 3.0);
    for s in schedulers() {
        let c = [3, 4, 2];
        assert_eq!(
            from_npy::<f64>(dir.join("f8.npy"), c)
                .unwrap()
                .compute_with(&s)
                .unwrap(),
            floats
        );
        assert_eq!(
            from_npy::<f64>(dir.join("be.npy"), c)
                .unwrap()
                .compute_with(&s)
                .unwrap(),
            floats
        );
        assert_eq!(
            from_npy::<f32>(dir.join("f4.npy"), c)
                .unwrap()
                .compute_with(&s)
                .unwrap(),
            floats.mapv(|v| v as f32)
        );
        let ints = idx(&|i| i as f64 - 100.0).mapv(|v| v as i64);
        assert_eq!(
            from_npy::<i64>(dir.join("i8.npy"), c)
                .unwrap()
                .compute_with(&s)
                .unwrap(),
            ints
        );
        assert_eq!(
            from_npy::<i64>(dir.join("i4.npy"), c)
                .unwrap()
                .compute_with(&s)
                .unwrap(),
            ints
        );
        let bytes = idx(&|i| (i % 256) as f64).mapv(|v| v as i64);
        assert_eq!(
            from_npy::<i64>(dir.join("u1.npy"), c)
                .unwrap()
                .compute_with(&s)
                .unwrap(),
            bytes
        );
        let bools = idx(&|i| (i % 3) as f64).mapv(|v| v == 0.0);
        assert_eq!(
            from_npy::<bool>(dir.join("b1.npy"), c)
                .unwrap()
                .compute_with(&s)
                .unwrap(),
            bools
        );
        assert_eq!(
            from_npy::<f64>(dir.join("empty.npy"), [1, 2])
                .unwrap()
                .shape(),
            vec![0, 3]
        );
    }
    // ndtask writes, NumPy checks: values, dtype, shape, C order; and the bytes equal np.save's.
    let x = from_ndarray(floats.clone(), [2, 6, 3]).unwrap();
    x.to_npy(dir.join("ours_f8.npy"))
        .and_then(|w| w.compute())
        .unwrap();
    x.astype::<f32>()
        .to_npy(dir.join("ours_f4.npy"))
        .and_then(|w| w.compute())
        .unwrap();
    x.astype::<i64>()
        .to_npy(dir.join("ours_i8.npy"))
        .and_then(|w| w.compute())
        .unwrap();
    x.map(|v| v > 0.0)
        .to_npy(dir.join("ours_b1.npy"))
        .and_then(|w| w.compute())
        .unwrap();
    run_python(&py, &format!(
        "import numpy as np\n\
         a = np.arange(210).reshape(7, 6, 5) * 0.25 - 3\n\
         for name, want in [('f8', a), ('f4', a.astype(np.float32)), ('i8', a.astype(np.int64)), ('b1', a > 0)]:\n\
         \x20   got = np.load('{d}/ours_' + name + '.npy')\n\
         \x20   assert got.dtype == want.dtype and got.shape == want.shape, (name, got.dtype, got.shape)\n\
         \x20   assert np.array_equal(got, want), name\n\
         \x20   np.save('{d}/np_' + name + '.npy', want)\n\
         \x20   assert open('{d}/ours_' + name + '.npy', 'rb').read() == open('{d}/np_' + name + '.npy', 'rb').read(), name\n"
    ));
    std::fs::remove_dir_all(&dir).unwrap();
}
