//! Creation functions and seeded random arrays: values against eager ndarray, and the same bits
//! on every scheduler and thread count.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod common;

use common::*;
use ndarray::{ArrayD, IxDyn};
use ndtask::{arange, full, linspace, ones, random, zeros, Array};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn constants((shape, chunks) in shape_and_chunks(9), v in -5i64..5) {
        for s in schedulers() {
            prop_assert_eq!(zeros::<f64>(&shape, chunks.clone()).unwrap().compute_with(&s).unwrap(), ArrayD::<f64>::zeros(IxDyn(&shape)));
            prop_assert_eq!(ones::<i64>(&shape, chunks.clone()).unwrap().compute_with(&s).unwrap(), ArrayD::<i64>::ones(IxDyn(&shape)));
            prop_assert_eq!(full(&shape, chunks.clone(), v).unwrap().compute_with(&s).unwrap(), ArrayD::from_elem(IxDyn(&shape), v));
            prop_assert_eq!(full(&shape, chunks.clone(), v > 0).unwrap().compute_with(&s).unwrap(), ArrayD::from_elem(IxDyn(&shape), v > 0));
        }
    }

    #[test]
    fn ranges(start in -50i64..50, len in 0usize..60, step in 1i64..4, chunk in 1usize..9, fstart4 in -12i32..12, num in 0usize..40, endpoint in any::<bool>()) {
        let stop = start + len as i64;
        let fstart = fstart4 as f64 / 4.0; // exact in binary, so the length of a float arange is exact
        let want: Vec<i64> = (start..stop).step_by(step as usize).collect();
        let fwant = ndarray::Array1::linspace(fstart, fstart + 2.5, num);
        for s in schedulers() {
            prop_assert_eq!(arange(start, stop, step, [chunk]).unwrap().compute_with(&s).unwrap().iter().copied().collect::<Vec<_>>(), want.clone());
            let down = arange(stop, start, -step, [chunk]).unwrap().compute_with(&s).unwrap().iter().copied().collect::<Vec<_>>();
            prop_assert_eq!(down, (0..want.len() as i64).map(|i| stop - i * step).collect::<Vec<_>>());
            let f = arange(fstart, fstart + 3.0, 0.5, [chunk]).unwrap().compute_with(&s).unwrap().iter().copied().collect::<Vec<_>>();
            prop_assert_eq!(f, (0..6).map(|i| fstart + i as f64 * 0.5).collect::<Vec<_>>());
            if endpoint {
                let got = linspace(fstart, fstart + 2.5, num, true, [chunk]).unwrap().compute_with(&s).unwrap();
                prop_assert_eq!(got.len(), num);
                for (g, w) in got.iter().zip(fwant.iter()) {
                    prop_assert!((g - w).abs() < 1e-12);
                }
                if num > 1 {
                    prop_assert_eq!(got[num - 1], fstart + 2.5);
                }
            } else {
                let got = linspace(0.0, 1.0, num, false, [chunk]).unwrap().compute_with(&s).unwrap();
                prop_assert_eq!(got.iter().copied().collect::<Vec<_>>(), (0..num).map(|i| i as f64 * (1.0 / num as f64)).collect::<Vec<_>>());
            }
        }
    }

    #[test]
    fn random_is_identical_on_every_scheduler((shape, chunks) in shape_and_chunks(12), seed in any::<u64>()) {
        let rng = random::default_rng(seed);
        let u: Array<f64> = rng.uniform(&shape, chunks.clone()).unwrap();
        let n: Array<f64> = rng.normal(1.0, 2.0, &shape, chunks.clone()).unwrap();
        let i = rng.integers(-3, 9, &shape, chunks.clone()).unwrap();
        let f: Array<f32> = rng.uniform_range(-1.0, 1.0, &shape, chunks).unwrap();
        let reference = sync().compute((&u, &n, &i, &f)).unwrap();
        prop_assert!(reference.0.iter().all(|&v| (0.0..1.0).contains(&v)));
        prop_assert!(reference.2.iter().all(|&v| (-3..9).contains(&v)));
        prop_assert!(reference.3.iter().all(|&v| (-1.0..1.0).contains(&v)));
        for s in schedulers() {
            let got = s.compute((&u, &n, &i, &f)).unwrap();
            prop_assert!(same_bits(&got.0, &reference.0) && same_bits(&got.1, &reference.1));
            prop_assert_eq!(&got.2, &reference.2);
            prop_assert_eq!(&got.3, &reference.3);
        }
    }
}

#[test]
fn random_statistics() {
    let rng = random::default_rng(7);
    let u: Array<f64> = rng.uniform([400_000], [30_000]).unwrap();
    let z: Array<f64> = rng.standard_normal([400_000], [30_000]).unwrap();
    let n: Array<f64> = rng.normal(3.0, 0.5, [400_000], [30_000]).unwrap();
    let i = rng.integers(0, 10, [400_000], [30_000]).unwrap();
    let (u, z, n, i) = ndtask::compute((&u, &z, &n, &i)).unwrap();
    let mean = |a: &ArrayD<f64>| a.mean().unwrap();
    let std = |a: &ArrayD<f64>| a.std(0.0);
    assert!((mean(&u) - 0.5).abs() < 3e-3 && (std(&u) - (1.0f64 / 12.0).sqrt()).abs() < 3e-3);
    assert!(mean(&z).abs() < 6e-3 && (std(&z) - 1.0).abs() < 6e-3);
    assert!((mean(&n) - 3.0).abs() < 3e-3 && (std(&n) - 0.5).abs() < 3e-3);
    for k in 0..10 {
        let count = i.iter().filter(|&&v| v == k).count() as f64;
        assert!(
            (count / 400_000.0 - 0.1).abs() < 3e-3,
            "value {k} drawn {count} times"
        );
    }
}

#[test]
fn random_arrays_differ_by_seed_and_stream() {
    let a = random::uniform::<f64>([1000], [100], 1)
        .unwrap()
        .compute()
        .unwrap();
    let b = random::uniform::<f64>([1000], [100], 2)
        .unwrap()
        .compute()
        .unwrap();
    let rng = random::default_rng(1);
    let first = rng
        .uniform::<f64>([1000], [100])
        .unwrap()
        .compute()
        .unwrap();
    let second = rng
        .uniform::<f64>([1000], [100])
        .unwrap()
        .compute()
        .unwrap();
    assert_eq!(a, first, "free function = first array of default_rng");
    assert_ne!(a, b);
    assert_ne!(first, second);
    // Chunks of one array use different streams.
    assert_ne!(a.slice(ndarray::s![0..100]), a.slice(ndarray::s![100..200]));
}

#[test]
fn the_mean_of_a_large_uniform_array_is_one_half() {
    let x = random::uniform::<f64>([10_000, 10_000], [1_000, 1_000], 42).unwrap();
    assert_eq!(x.num_chunks(), 100);
    let m = x.mean().compute().unwrap();
    assert!((m - 0.5).abs() < 1e-4, "mean {m}");
    assert_eq!(
        m.to_bits(),
        x.mean().compute_with(&sync()).unwrap().to_bits()
    );
}

#[test]
fn display_is_like_dasks_repr() {
    let x = random::uniform::<f64>([10_000, 10_000], [1_000, 1_000], 42).unwrap();
    assert_eq!(
        x.to_string(),
        "ndtask.Array<f64>(shape=[10000, 10000], chunks=[1000, 1000] (100 chunks), 762.94 MiB)"
    );
    let b = ones::<f64>([5], vec![vec![2, 3]])
        .unwrap()
        .less(2.0)
        .unwrap();
    assert_eq!(
        b.to_string(),
        "ndtask.Array<bool>(shape=[5], chunks=[[2, 3]] (2 chunks), 5 B)"
    );
}
