//! Element-wise math and the wider set of reductions against eager ndarray, on every scheduler,
//! over random shapes and chunkings (NaNs included where the NaN-skipping variants matter).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod common;

use common::*;
use ndarray::{ArrayD, Axis, Zip};
use ndtask::{from_ndarray, where_, Array, ReduceOptions};
use proptest::prelude::*;

/// Data with a NaN at every position where `mask(i)` holds.
fn with_nans(shape: &[usize], seed: u64, every: usize) -> ArrayD<f64> {
    let mut d = data(shape, seed);
    d.iter_mut()
        .enumerate()
        .filter(|(i, _)| i % every == 1)
        .for_each(|(_, v)| *v = f64::NAN);
    d
}

fn nan_skip(xs: impl Iterator<Item = f64>) -> Vec<f64> {
    xs.filter(|v| !v.is_nan()).collect()
}

fn variance(xs: &[f64], ddof: f64) -> f64 {
    let n = xs.len() as f64;
    let m = xs.iter().sum::<f64>() / n;
    xs.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (n - ddof)
}

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a.is_nan() && b.is_nan()) || (a - b).abs() <= tol * b.abs().max(1.0)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn unary_math_matches_ndarray((shape, chunks) in shape_and_chunks(8), seed in any::<u64>()) {
        let e = data(&shape, seed);
        let x = from_ndarray(e.clone(), chunks).unwrap();
        let pos = x.abs() + 0.5;
        let epos = e.mapv(|v| v.abs() + 0.5);
        let cases: Vec<(Array<f64>, ArrayD<f64>)> = vec![
            (x.abs(), e.mapv(f64::abs)),
            (pos.sqrt(), epos.mapv(f64::sqrt)),
            (x.exp(), e.mapv(f64::exp)),
            (pos.ln(), epos.mapv(f64::ln)),
            (pos.log(), epos.mapv(f64::ln)),
            (pos.log10(), epos.mapv(f64::log10)),
            (x.sin(), e.mapv(f64::sin)),
            (x.cos(), e.mapv(f64::cos)),
            (x.tanh(), e.mapv(f64::tanh)),
            (x.floor(), e.mapv(f64::floor)),
            (x.ceil(), e.mapv(f64::ceil)),
            ((&x * 2.0).round(), e.mapv(|v| (v * 2.0).round_ties_even())),
            (x.powi(3), e.mapv(|v| v.powi(3))),
            (pos.powf(1.5), epos.mapv(|v| v.powf(1.5))),
            (x.clip(-2.0, 3.0).unwrap(), e.mapv(|v| v.clamp(-2.0, 3.0))),
        ];
        for s in schedulers() {
            for (i, (lazy, eager)) in cases.iter().enumerate() {
                prop_assert!(same_bits(&lazy.compute_with(&s).unwrap(), eager), "case {}", i);
            }
        }
    }

    #[test]
    fn binary_math_where_and_logic((shape, chunks) in shape_and_chunks(8), seed in any::<u64>()) {
        let (ea, eb) = (with_nans(&shape, seed, 7), data(&shape, seed ^ 9));
        let a = from_ndarray(ea.clone(), chunks.clone()).unwrap();
        let b = from_ndarray(eb.clone(), chunks).unwrap();
        let zip = |f: fn(f64, f64) -> f64| Zip::from(&ea).and(&eb).map_collect(move |&x, &y| f(x, y));
        let np_max = |x: f64, y: f64| if x.is_nan() || y.is_nan() { f64::NAN } else { x.max(y) };
        let np_min = |x: f64, y: f64| if x.is_nan() || y.is_nan() { f64::NAN } else { x.min(y) };
        let (pa, pb) = (a.greater(0.0).unwrap(), b.greater(0.0).unwrap());
        let (epa, epb) = (ea.mapv(|v| v > 0.0), eb.mapv(|v| v > 0.0));
        for s in schedulers() {
            prop_assert!(same_bits(&a.maximum(&b).unwrap().compute_with(&s).unwrap(), &zip(np_max)));
            prop_assert!(same_bits(&a.minimum(&b).unwrap().compute_with(&s).unwrap(), &zip(np_min)));
            prop_assert_eq!(a.is_nan().compute_with(&s).unwrap(), ea.mapv(f64::is_nan));
            let w = where_(&pa, &a, &b).unwrap().compute_with(&s).unwrap();
            let ew = Zip::from(&epa).and(&ea).and(&eb).map_collect(|&c, &x, &y| if c { x } else { y });
            prop_assert!(same_bits(&w, &ew));
            let w = where_(&pa, 1.0, &b).unwrap().compute_with(&s).unwrap();
            let want = Zip::from(&epa).and(&eb).map_collect(|&c, &y| if c { 1.0 } else { y });
            prop_assert!(same_bits(&w, &want));
            let w = where_(&pa, &a, -1.0).unwrap().compute_with(&s).unwrap();
            let want = Zip::from(&epa).and(&ea).map_collect(|&c, &x| if c { x } else { -1.0 });
            prop_assert!(same_bits(&w, &want));
            prop_assert_eq!(where_(&pa, 1i64, 0i64).unwrap().compute_with(&s).unwrap(), epa.mapv(|c| c as i64));
            prop_assert_eq!((&pa & &pb).compute_with(&s).unwrap(), Zip::from(&epa).and(&epb).map_collect(|&x, &y| x && y));
            prop_assert_eq!((&pa | &pb).compute_with(&s).unwrap(), Zip::from(&epa).and(&epb).map_collect(|&x, &y| x || y));
            prop_assert_eq!((&pa ^ &pb).compute_with(&s).unwrap(), Zip::from(&epa).and(&epb).map_collect(|&x, &y| x ^ y));
            prop_assert_eq!((!&pa).compute_with(&s).unwrap(), epa.mapv(|x| !x));
        }
    }

    #[test]
    fn full_reductions_match_ndarray((shape, chunks) in shape_and_chunks(9), seed in any::<u64>(), ddof in 0usize..2) {
        let e = data(&shape, seed);
        let x = from_ndarray(e.clone(), chunks.clone()).unwrap();
        let v: Vec<f64> = e.iter().copied().collect();
        let small = from_ndarray(e.mapv(|v| 1.0 + v / 100.0), chunks.clone()).unwrap();
        let ddof = ddof as f64;
        let reference = sync().compute((x.min(), x.max(), x.prod(), x.var(ddof), x.std(ddof), small.prod(), x.count_nonzero())).unwrap();
        prop_assert_eq!(reference.0, v.iter().copied().fold(f64::INFINITY, f64::min));
        prop_assert_eq!(reference.1, v.iter().copied().fold(f64::NEG_INFINITY, f64::max));
        prop_assert!(close(reference.3, variance(&v, ddof), 1e-9), "var {} vs {}", reference.3, variance(&v, ddof));
        prop_assert!(close(reference.4, variance(&v, ddof).sqrt(), 1e-9));
        prop_assert!(close(reference.5, e.mapv(|v| 1.0 + v / 100.0).product(), 1e-9));
        prop_assert_eq!(reference.6, v.iter().filter(|&&x| x != 0.0).count() as i64);
        let b = x.greater(0.0).unwrap();
        for s in schedulers() {
            let got = s.compute((x.min(), x.max(), x.prod(), x.var(ddof), x.std(ddof), small.prod(), x.count_nonzero())).unwrap();
            prop_assert_eq!(got.0.to_bits(), reference.0.to_bits());
            prop_assert_eq!(got.1.to_bits(), reference.1.to_bits());
            prop_assert_eq!(got.2.to_bits(), reference.2.to_bits());
            prop_assert_eq!(got.3.to_bits(), reference.3.to_bits());
            prop_assert_eq!(got.4.to_bits(), reference.4.to_bits());
            prop_assert_eq!(got.5.to_bits(), reference.5.to_bits());
            prop_assert_eq!(got.6, reference.6);
            prop_assert_eq!(b.any().compute_with(&s).unwrap(), v.iter().any(|&x| x > 0.0));
            prop_assert_eq!(b.all().compute_with(&s).unwrap(), v.iter().all(|&x| x > 0.0));
        }
    }

    #[test]
    fn nan_reductions_match_numpy((shape, chunks) in shape_and_chunks(9), seed in any::<u64>(), every in 2usize..5) {
        let e = with_nans(&shape, seed, every);
        let x = from_ndarray(e.clone(), chunks).unwrap();
        let v = nan_skip(e.iter().copied());
        for s in schedulers() {
            prop_assert!(close(x.nansum().compute_with(&s).unwrap(), v.iter().sum(), 1e-9));
            let mean = v.iter().sum::<f64>() / v.len() as f64;
            prop_assert!(close(x.nanmean().compute_with(&s).unwrap(), mean, 1e-9));
            let (lo, hi) = (v.iter().copied().fold(f64::NAN, f64::min), v.iter().copied().fold(f64::NAN, f64::max));
            prop_assert!(close(x.nanmin().compute_with(&s).unwrap(), lo, 0.0));
            prop_assert!(close(x.nanmax().compute_with(&s).unwrap(), hi, 0.0));
            let var0 = if v.is_empty() { f64::NAN } else { variance(&v, 0.0) };
            let std1 = if v.len() < 2 { f64::NAN } else { variance(&v, 1.0).sqrt() };
            prop_assert!(close(x.nanvar(0.0).compute_with(&s).unwrap(), var0, 1e-9));
            prop_assert!(close(x.nanstd(1.0).compute_with(&s).unwrap(), std1, 1e-9));
            let has_nan = e.iter().any(|v| v.is_nan());
            prop_assert_eq!(x.max().compute_with(&s).unwrap().is_nan(), has_nan);
            prop_assert_eq!(x.sum().compute_with(&s).unwrap().is_nan(), has_nan);
        }
    }

    #[test]
    fn axis_reductions_match_ndarray((shape, chunks) in shape_and_chunks(9), seed in any::<u64>(), pick in 0usize..3, keep in any::<bool>()) {
        let e = data(&shape, seed);
        let axis = pick % shape.len();
        let x = from_ndarray(e.clone(), chunks).unwrap();
        let opts = ReduceOptions::axes([axis]).keepdims(keep).split_every(3);
        let fix = |mut a: ArrayD<f64>| { if keep { a.insert_axis_inplace(Axis(axis)); } a };
        let lanes = |f: &dyn Fn(&[f64]) -> f64| fix(e.map_axis(Axis(axis), |l| f(&l.to_vec())));
        for s in schedulers() {
            prop_assert_eq!(x.min_with(&opts).unwrap().compute_with(&s).unwrap(), lanes(&|l| l.iter().copied().fold(f64::INFINITY, f64::min)));
            prop_assert_eq!(x.max_with(&opts).unwrap().compute_with(&s).unwrap(), lanes(&|l| l.iter().copied().fold(f64::NEG_INFINITY, f64::max)));
            assert_close(&x.var_with(&opts, 0.0).unwrap().compute_with(&s).unwrap(), &lanes(&|l| variance(l, 0.0)), 1e-9);
            assert_close(&x.std_with(&opts, 0.0).unwrap().compute_with(&s).unwrap(), &lanes(&|l| variance(l, 0.0).sqrt()), 1e-9);
            assert_close(&x.prod_with(&opts).unwrap().compute_with(&s).unwrap(), &lanes(&|l| l.iter().product()), 1e-9);
            let any = x.greater(5.0).unwrap().any_with(&opts).unwrap().compute_with(&s).unwrap();
            prop_assert_eq!(any.mapv(|b| b as u8 as f64), lanes(&|l| l.iter().any(|&v| v > 5.0) as u8 as f64));
        }
    }
}

#[test]
fn variance_is_stable_for_large_offsets() {
    // A naive sum of squares loses every digit here; the pairwise merge does not.
    let e = data(&[100_000], 3).mapv(|v| 1e9 + v);
    let x = from_ndarray(e.clone(), [1000]).unwrap();
    let v: Vec<f64> = e.iter().copied().collect();
    let want = variance(&v, 0.0);
    let got = x.var(0.0).compute().unwrap();
    assert!((got - want).abs() / want < 1e-6, "var {got} vs {want}");
}

#[test]
fn math_errors_name_values() {
    let x = ndtask::ones::<f64>([4], [2]).unwrap();
    assert!(x
        .clip(2.0, 1.0)
        .unwrap_err()
        .to_string()
        .contains("lo=2, hi=1"));
    let y = ndtask::ones::<f64>([5], [2]).unwrap();
    assert!(x.maximum(&y).unwrap_err().to_string().contains("[5]"));
    let c = ndtask::ones::<f64>([5], [2]).unwrap().greater(0.0).unwrap();
    assert!(where_(&c, &x, 0.0).unwrap_err().to_string().contains("[4]"));
    let empty = ndtask::zeros::<f64>([0, 3], [1, 1]).unwrap();
    assert!(empty
        .max()
        .compute()
        .unwrap_err()
        .to_string()
        .contains("no identity"));
    assert!(empty.min_with(&ReduceOptions::axes([0])).is_err());
    assert_eq!(
        empty
            .min_with(&ReduceOptions::axes([1]))
            .unwrap()
            .compute()
            .unwrap()
            .shape(),
        &[0]
    );
}
