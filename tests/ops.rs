//! Every operation against eager ndarray, on every scheduler, over random shapes and chunkings.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod common;

use common::*;
use ndarray::{ArrayD, Axis, IxDyn};
use ndtask::{concatenate, from_ndarray, Array, ReduceOptions};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn from_ndarray_roundtrips((shape, chunks) in shape_and_chunks(9), seed in any::<u64>()) {
        let e = data(&shape, seed);
        let x = from_ndarray(e.clone(), chunks).unwrap();
        for s in schedulers() {
            prop_assert_eq!(&x.compute_with(&s).unwrap(), &e);
        }
    }

    #[test]
    fn elementwise_matches_ndarray((shape, chunks) in shape_and_chunks(9), seed in any::<u64>(), k in -4.0f64..4.0) {
        let (ea, eb) = (data(&shape, seed), data(&shape, seed ^ 1).mapv(|v| v + 20.5));
        let a = from_ndarray(ea.clone(), chunks.clone()).unwrap();
        let b = from_ndarray(eb.clone(), chunks).unwrap();
        let cases: Vec<(Array<f64>, ArrayD<f64>)> = vec![
            (&a + &b, &ea + &eb),
            (&a - &b, &ea - &eb),
            (&a * &b, &ea * &eb),
            (&a / &b, &ea / &eb),
            (&a + k, &ea + k),
            (&a - k, &ea - k),
            (&a * k, &ea * k),
            (&a / k, &ea / k),
            (k - &a, ea.mapv(|v| k - v)),
            (k / &b, eb.mapv(|v| k / v)),
            (-&a, -&ea),
            (((&a + 1.0) * 2.0 - &a * &a), (&ea + 1.0) * 2.0 - &ea * &ea),
            // Trees of arithmetic compiled as one kernel (the fusion pass), every shape and side.
            ((k - &a) / &b, ea.mapv(|v| k - v) / &eb),
            (&b - &a * k, &eb - &(&ea * k)),
            ((&a / &b) - (k / &a), &ea / &eb - ea.mapv(|v| k / v)),
            ((&a + &b) * (&a - k) / 3.0 + &b, (&ea + &eb) * (&ea - k) / 3.0 + &eb),
            (&a * &a + &b * &b, &ea * &ea + &eb * &eb),
            (&b - &a * &a, &eb - &(&ea * &ea)),
            ((&a * &a) / 3.0, &ea * &ea / 3.0),
            ((k - &a) * (&b / 2.0) - (&a + k) / (0.5 - &b), ea.mapv(|v| k - v) * &eb.mapv(|v| v / 2.0) - &ea.mapv(|v| v + k) / &eb.mapv(|v| 0.5 - v)),
            (a.map(|v| v.sin()), ea.mapv(f64::sin)),
            (a.zip_map(&b, f64::max).unwrap(), ndarray::Zip::from(&ea).and(&eb).map_collect(|&x, &y| x.max(y))),
        ];
        let (fa, fb) = (a.astype::<f32>(), b.astype::<f32>());
        let (efa, efb) = (ea.mapv(|v| v as f32), eb.mapv(|v| v as f32));
        let kf = k as f32;
        let want_f32 = (&efa - kf) * &efb + efa.mapv(|v| kf / v);
        for s in schedulers() {
            for (i, (lazy, eager)) in cases.iter().enumerate() {
                let got = lazy.compute_with(&s).unwrap();
                prop_assert!(same_bits(&got, eager), "case {} on {}", i, s.name());
            }
            let got = ((&fa - kf) * &fb + kf / &fa).compute_with(&s).unwrap();
            let bits = |x: &ArrayD<f32>| x.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            prop_assert_eq!(bits(&got), bits(&want_f32), "f32 tree on {}", s.name());
        }
    }

    #[test]
    fn comparisons_and_astype((shape, chunks) in shape_and_chunks(9), seed in any::<u64>()) {
        let ea = data(&shape, seed).mapv(f64::round);
        let eb = data(&shape, seed ^ 7).mapv(f64::round);
        let a = from_ndarray(ea.clone(), chunks.clone()).unwrap();
        let b = from_ndarray(eb.clone(), chunks).unwrap();
        let zip = |f: fn(f64, f64) -> bool| ndarray::Zip::from(&ea).and(&eb).map_collect(move |&x, &y| f(x, y));
        let cases: Vec<(Array<bool>, ArrayD<bool>)> = vec![
            (a.less(&b).unwrap(), zip(|x, y| x < y)),
            (a.less_equal(&b).unwrap(), zip(|x, y| x <= y)),
            (a.greater(&b).unwrap(), zip(|x, y| x > y)),
            (a.greater_equal(&b).unwrap(), zip(|x, y| x >= y)),
            (a.equal(&b).unwrap(), zip(|x, y| x == y)),
            (a.not_equal(&b).unwrap(), zip(|x, y| x != y)),
            (a.less(0.0).unwrap(), ea.mapv(|x| x < 0.0)),
            (a.astype::<bool>(), ea.mapv(|x| x != 0.0)),
        ];
        for s in schedulers() {
            for (lazy, eager) in &cases {
                prop_assert_eq!(&lazy.compute_with(&s).unwrap(), eager);
            }
            prop_assert_eq!(a.astype::<i64>().compute_with(&s).unwrap(), ea.mapv(|x| x as i64));
            prop_assert_eq!(a.astype::<f32>().compute_with(&s).unwrap(), ea.mapv(|x| x as f32));
            let n = a.less(&b).unwrap().count_true().compute_with(&s).unwrap();
            prop_assert_eq!(n, zip(|x, y| x < y).iter().filter(|&&t| t).count() as i64);
        }
    }

    #[test]
    fn integer_arithmetic_is_exact((shape, chunks) in shape_and_chunks(9), seed in any::<u64>()) {
        let ea = data(&shape, seed).mapv(|v| (v * 1000.0) as i64);
        let eb = data(&shape, seed ^ 3).mapv(|v| (v * 10.0) as i64);
        let a = from_ndarray(ea.clone(), chunks.clone()).unwrap();
        let b = from_ndarray(eb.clone(), chunks).unwrap();
        for s in schedulers() {
            prop_assert_eq!((&a * &b + 3).compute_with(&s).unwrap(), &ea * &eb + 3);
            prop_assert_eq!(((&a - 7) * (&b + &a)).compute_with(&s).unwrap(), (&ea - 7) * &(&eb + &ea));
            let div = ndarray::Zip::from(&ea).and(&eb).map_collect(|&x, &y| x.checked_div(y).unwrap_or(0));
            prop_assert_eq!((&a / &b).compute_with(&s).unwrap(), div);
            prop_assert_eq!(a.sum().compute_with(&s).unwrap(), ea.sum());
        }
    }

    #[test]
    fn full_reductions((shape, chunks) in shape_and_chunks(10), seed in any::<u64>(), split in 2usize..6) {
        let e = data(&shape, seed);
        let x = from_ndarray(e.clone(), chunks).unwrap();
        let opts = ReduceOptions::all().split_every(split);
        let (s_ref, m_ref) = (x.sum().compute_with(&sync()).unwrap(), x.mean().compute_with(&sync()).unwrap());
        prop_assert!((s_ref - e.sum()).abs() <= 1e-9 * e.len() as f64);
        prop_assert!((m_ref - e.mean().unwrap()).abs() <= 1e-12 * 10.0 * e.len() as f64);
        for s in schedulers() {
            prop_assert_eq!(x.sum().compute_with(&s).unwrap().to_bits(), s_ref.to_bits());
            prop_assert_eq!(x.mean().compute_with(&s).unwrap().to_bits(), m_ref.to_bits());
            let with = x.sum_with(&opts).unwrap().compute_with(&s).unwrap();
            prop_assert_eq!(with.ndim(), 0);
            prop_assert!((with[IxDyn(&[])] - e.sum()).abs() <= 1e-9 * e.len() as f64);
        }
    }

    #[test]
    fn axis_reductions((shape, chunks) in shape_and_chunks(10), seed in any::<u64>(), axis_pick in 0usize..3, keep in any::<bool>(), split in 2usize..5) {
        let e = data(&shape, seed);
        let axis = axis_pick % shape.len();
        let x = from_ndarray(e.clone(), chunks).unwrap();
        let opts = ReduceOptions::axes([axis]).keepdims(keep).split_every(split);
        let mut want_sum = e.sum_axis(Axis(axis));
        let mut want_mean = e.mean_axis(Axis(axis)).unwrap();
        if keep {
            want_sum.insert_axis_inplace(Axis(axis));
            want_mean.insert_axis_inplace(Axis(axis));
        }
        let reference = x.sum_with(&opts).unwrap().compute_with(&sync()).unwrap();
        assert_close(&reference, &want_sum, 1e-12);
        for s in schedulers() {
            let got = x.sum_with(&opts).unwrap().compute_with(&s).unwrap();
            prop_assert!(same_bits(&got, &reference), "sum on {} not bit-identical", s.name());
            assert_close(&x.mean_with(&opts).unwrap().compute_with(&s).unwrap(), &want_mean, 1e-12);
        }
        prop_assert_eq!(x.sum_axis(axis).unwrap().shape(), e.sum_axis(Axis(axis)).shape().to_vec());
    }

    #[test]
    fn multi_axis_reductions((shape, chunks) in shape_and_chunks(8), seed in any::<u64>()) {
        prop_assume!(shape.len() >= 2);
        let e = data(&shape, seed);
        let x = from_ndarray(e.clone(), chunks).unwrap();
        let axes = [0, shape.len() - 1];
        let want = e.sum_axis(Axis(shape.len() - 1)).sum_axis(Axis(0));
        for s in schedulers() {
            let got = x.sum_with(&ReduceOptions::axes(axes)).unwrap().compute_with(&s).unwrap();
            assert_close(&got, &want, 1e-12);
            let kept = x.mean_with(&ReduceOptions::axes(axes).keepdims(true)).unwrap();
            let mut expect_shape = shape.clone();
            expect_shape[0] = 1;
            *expect_shape.last_mut().unwrap() = 1;
            let got = kept.compute_with(&s).unwrap();
            prop_assert_eq!(got.shape(), &expect_shape[..]);
        }
    }

    #[test]
    fn concatenate_matches_ndarray(shape in shape(7), extra in 1usize..6, axis_pick in 0usize..3, seed in any::<u64>(), block in 1usize..4) {
        let axis = axis_pick % shape.len();
        let mut shape_b = shape.clone();
        shape_b[axis] = extra;
        let (ea, eb) = (data(&shape, seed), data(&shape_b, seed ^ 5));
        let ca: Vec<usize> = shape.iter().map(|&d| block.min(d)).collect();
        let mut cb = ca.clone();
        cb[axis] = block.min(extra);
        let a = from_ndarray(ea.clone(), ca).unwrap();
        let b = from_ndarray(eb.clone(), cb).unwrap();
        let c = concatenate(&[&a, &b, &a], axis).unwrap();
        let want = ndarray::concatenate(Axis(axis), &[ea.view(), eb.view(), ea.view()]).unwrap();
        for s in schedulers() {
            prop_assert_eq!(&c.compute_with(&s).unwrap(), &want);
            let summed = c.sum_axis(axis).unwrap().compute_with(&s).unwrap();
            assert_close(&summed, &want.sum_axis(Axis(axis)), 1e-12);
        }
    }
}

#[test]
fn reductions_of_empty_arrays() {
    let x = ndtask::zeros::<f64>([0, 3], [2, 2]).unwrap();
    for s in schedulers() {
        assert_eq!(x.sum().compute_with(&s).unwrap(), 0.0);
        assert!(x.mean().compute_with(&s).unwrap().is_nan());
        assert_eq!(
            x.sum_axis(0).unwrap().compute_with(&s).unwrap(),
            ArrayD::<f64>::zeros(IxDyn(&[3]))
        );
        assert_eq!(
            x.sum_axis(1).unwrap().compute_with(&s).unwrap().shape(),
            &[0]
        );
    }
}

#[test]
fn float32_arrays() {
    let e = data(&[37, 5], 9).mapv(|v| v as f32);
    let x = from_ndarray(e.clone(), [8, 2]).unwrap();
    for s in schedulers() {
        assert_eq!((&x * 2.0f32).compute_with(&s).unwrap(), &e * 2.0);
        let m = x.mean().compute_with(&s).unwrap();
        let want = e.iter().map(|&v| v as f64).sum::<f64>() / e.len() as f64;
        assert!((m - want).abs() < 1e-9);
    }
}

fn broadcastable() -> impl Strategy<Value = (Vec<usize>, Vec<usize>)> {
    shape(6).prop_flat_map(|s| {
        let n = s.len();
        (Just(s), prop::collection::vec(any::<bool>(), n), 0..=n).prop_map(
            move |(s, ones, drop)| {
                let t: Vec<usize> = s
                    .iter()
                    .zip(&ones)
                    .map(|(&d, &one)| if one { 1 } else { d })
                    .collect();
                (s, t[drop.min(n - 1)..].to_vec())
            },
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn broadcasting_and_chunk_alignment_match_ndarray(
        (sa, sb) in broadcastable(),
        (ca, cb) in (1usize..4, 1usize..4),
        seed in any::<u64>(),
        swap in any::<bool>(),
    ) {
        let (sa, sb) = if swap { (sb, sa) } else { (sa, sb) };
        let (ea, eb) = (data(&sa, seed), data(&sb, seed ^ 11));
        let a = from_ndarray(ea.clone(), vec![ca; sa.len()]).unwrap();
        let b = from_ndarray(eb.clone(), vec![cb; sb.len()]).unwrap();
        let want = &ea + &eb;
        let want_max = ndarray::Zip::from(&ea.broadcast(want.shape()).unwrap())
            .and(&eb.broadcast(want.shape()).unwrap())
            .map_collect(|&x, &y| x.max(y));
        for s in schedulers() {
            prop_assert!(same_bits(&(&a + &b).compute_with(&s).unwrap(), &want));
            prop_assert!(same_bits(&a.maximum(&b).unwrap().compute_with(&s).unwrap(), &want_max));
            let m = (&a * &b).mean_with(&ReduceOptions::axes([0])).unwrap().compute_with(&s).unwrap();
            assert_close(&m, &(&ea * &eb).mean_axis(Axis(0)).unwrap(), 1e-12);
        }
    }

    #[test]
    fn rechunk_roundtrips((shape, from) in shape_and_chunks(9), to in shape(9).prop_flat_map(chunks_for), seed in any::<u64>()) {
        let e = data(&shape, seed);
        let x = from_ndarray(e.clone(), from).unwrap();
        // `to` was drawn for another shape: only use it when it fits.
        if let Ok(y) = x.rechunk(to) {
            for s in schedulers() {
                prop_assert_eq!(&y.compute_with(&s).unwrap(), &e);
                prop_assert_eq!(&(&y + &x).compute_with(&s).unwrap(), &(&e * 2.0));
            }
        }
        let blocky = x.rechunk(vec![2; shape.len()]).unwrap();
        prop_assert_eq!(blocky.compute().unwrap(), e);
    }
}
