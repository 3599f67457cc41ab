//! Indexing, reshaping, user functions, linear algebra, scans and counting statistics against
//! eager ndarray, on every scheduler, over random shapes and chunkings.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod common;

use common::*;
use ndarray::{s, ArrayD, Axis, Ix2, IxDyn, SliceInfoElem};
use ndtask::{from_ndarray, stack, Array};
use proptest::prelude::*;

/// A random `s![...]`-style selection for `shape`, with steps of either sign, negative bounds,
/// integer indices and new axes.
fn selection(shape: Vec<usize>) -> BoxedStrategy<Vec<SliceInfoElem>> {
    let per_axis: Vec<BoxedStrategy<Vec<SliceInfoElem>>> = shape
        .iter()
        .map(|&d| {
            let d = d as isize;
            let slice = (
                0..=d,
                0..=d,
                prop_oneof![1isize..4, -3isize..0],
                any::<bool>(),
                any::<bool>(),
            )
                .prop_map(move |(a, b, step, neg_start, open_end)| {
                    let (lo, hi) = (a.min(b), a.max(b));
                    let start = if neg_start && lo < d { lo - d } else { lo };
                    let end = if open_end { None } else { Some(hi) };
                    vec![SliceInfoElem::Slice { start, end, step }]
                });
            let index = (0..d)
                .prop_map(move |i| vec![SliceInfoElem::Index(if i % 2 == 0 { i } else { i - d })]);
            let with_new = Just(vec![
                SliceInfoElem::NewAxis,
                SliceInfoElem::Slice {
                    start: 0,
                    end: None,
                    step: 1,
                },
            ]);
            prop_oneof![4 => slice, 1 => index, 1 => with_new].boxed()
        })
        .collect();
    per_axis.prop_map(|v| v.concat()).boxed()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn slicing_matches_ndarray(
        ((shape, chunks), sel) in shape_and_chunks(9).prop_flat_map(|(s, c)| (Just((s.clone(), c)), selection(s))),
        seed in any::<u64>(),
    ) {
        let e = data(&shape, seed);
        let x = from_ndarray(e.clone(), chunks).unwrap();
        let want = e.slice(sel.as_slice()).to_owned();
        let y = x.slice(&sel).unwrap();
        prop_assert_eq!(y.shape(), want.shape().to_vec());
        for s in schedulers() {
            prop_assert_eq!(&y.compute_with(&s).unwrap(), &want);
            prop_assert_eq!(&(&y * 2.0).compute_with(&s).unwrap(), &(&want * 2.0));
        }
    }

    #[test]
    fn transpose_expand_squeeze_reshape((shape, chunks) in shape_and_chunks(7), seed in any::<u64>(), rot in 0usize..3) {
        let e = data(&shape, seed);
        let x = from_ndarray(e.clone(), chunks).unwrap();
        let n = shape.len();
        let perm: Vec<usize> = (0..n).map(|i| (i + rot) % n).collect();
        for s in schedulers() {
            prop_assert_eq!(x.t().compute_with(&s).unwrap(), e.t().to_owned());
            prop_assert_eq!(x.permuted_axes(&perm).unwrap().compute_with(&s).unwrap(), e.clone().permuted_axes(perm.clone()));
            let ex = x.expand_dims(1.min(n)).unwrap();
            prop_assert_eq!(ex.compute_with(&s).unwrap(), e.clone().insert_axis(Axis(1.min(n))));
            prop_assert_eq!(ex.squeeze(Some(&[1.min(n)])).unwrap().compute_with(&s).unwrap(), e.clone());
            // Reshape to the flat array and back, through chunks that allow it.
            let rows = x.rechunk([[1usize].as_slice(), &shape[1..]].concat()).unwrap();
            let flat = rows.reshape([e.len()]).unwrap();
            prop_assert_eq!(flat.compute_with(&s).unwrap(), e.clone().into_shape_with_order(IxDyn(&[e.len()])).unwrap());
            let back = flat.rechunk([e.len()]).unwrap().reshape(&shape).unwrap();
            prop_assert_eq!(back.compute_with(&s).unwrap(), e.clone());
        }
    }

    #[test]
    fn stack_matches_ndarray(shape in shape(6), block in 1usize..4, seed in any::<u64>(), pick in 0usize..4) {
        let axis = pick % (shape.len() + 1);
        let (ea, eb) = (data(&shape, seed), data(&shape, seed ^ 2));
        let c: Vec<usize> = shape.iter().map(|&d| block.min(d)).collect();
        let (a, b) = (from_ndarray(ea.clone(), c.clone()).unwrap(), from_ndarray(eb.clone(), c).unwrap());
        let want = ndarray::stack(Axis(axis), &[ea.view(), eb.view(), ea.view()]).unwrap();
        for s in schedulers() {
            prop_assert_eq!(stack(&[&a, &b, &a], axis).unwrap().compute_with(&s).unwrap(), want.clone());
        }
    }

    #[test]
    fn matmul_matches_ndarray(m in 1usize..12, k in 1usize..12, n in 1usize..12, (ca, cb, cc) in (1usize..5, 1usize..5, 1usize..5), seed in any::<u64>()) {
        let a = data(&[m, k], seed).into_dimensionality::<Ix2>().unwrap();
        let b = data(&[k, n], seed ^ 4).into_dimensionality::<Ix2>().unwrap();
        let v = data(&[k], seed ^ 8).into_dimensionality::<ndarray::Ix1>().unwrap();
        let (la, lb, lv) = (
            from_ndarray(a.clone(), [ca, cb]).unwrap(),
            from_ndarray(b.clone(), [cc, ca]).unwrap(),
            from_ndarray(v.clone(), [cc]).unwrap(),
        );
        let reference = la.dot(&lb).unwrap().compute_with(&sync()).unwrap();
        assert_close(&reference, &a.dot(&b).into_dyn(), 1e-12);
        for s in schedulers() {
            prop_assert!(same_bits(&la.dot(&lb).unwrap().compute_with(&s).unwrap(), &reference));
            assert_close(&la.matmul(&lv).unwrap().compute_with(&s).unwrap(), &a.dot(&v).into_dyn(), 1e-12);
        }
    }

    #[test]
    fn scans_match_ndarray((shape, chunks) in shape_and_chunks(8), seed in any::<u64>(), pick in 0usize..3) {
        let axis = pick % shape.len();
        let e = data(&shape, seed);
        let small = e.mapv(|v| 1.0 + v / 50.0);
        let ints = e.mapv(|v| v as i64);
        let (x, p, i) = (
            from_ndarray(e.clone(), chunks.clone()).unwrap(),
            from_ndarray(small.clone(), chunks.clone()).unwrap(),
            from_ndarray(ints.clone(), chunks).unwrap(),
        );
        let mut cs = e.clone();
        cs.accumulate_axis_inplace(Axis(axis), |&a, b| *b += a);
        let mut cp = small.clone();
        cp.accumulate_axis_inplace(Axis(axis), |&a, b| *b *= a);
        let mut ci = ints.clone();
        ci.accumulate_axis_inplace(Axis(axis), |&a, b| *b += a);
        for s in schedulers() {
            assert_close(&x.cumsum(axis).unwrap().compute_with(&s).unwrap(), &cs, 1e-12);
            assert_close(&p.cumprod(axis).unwrap().compute_with(&s).unwrap(), &cp, 1e-12);
            prop_assert_eq!(i.cumsum(axis).unwrap().compute_with(&s).unwrap(), ci.clone());
        }
    }

    #[test]
    fn arg_extremes_match_numpy((shape, chunks) in shape_and_chunks(8), seed in any::<u64>(), pick in 0usize..3) {
        // Rounded data has ties: the first index must win.
        let e = data(&shape, seed).mapv(|v| v.round());
        let x = from_ndarray(e.clone(), chunks).unwrap();
        let flat: Vec<f64> = e.iter().copied().collect();
        let first = |better: fn(f64, f64) -> bool| {
            let mut best = 0;
            for (i, &v) in flat.iter().enumerate() {
                if better(v, flat[best]) {
                    best = i;
                }
            }
            best as i64
        };
        let axis = pick % shape.len();
        let lane_arg = |max: bool| e.map_axis(Axis(axis), |l| {
            let mut best = 0;
            for (i, &v) in l.iter().enumerate() {
                if (max && v > l[best]) || (!max && v < l[best]) {
                    best = i;
                }
            }
            best as i64
        });
        for s in schedulers() {
            prop_assert_eq!(x.argmax().unwrap().compute_with(&s).unwrap(), first(|a, b| a > b));
            prop_assert_eq!(x.argmin().unwrap().compute_with(&s).unwrap(), first(|a, b| a < b));
            prop_assert_eq!(x.argmax_axis(axis).unwrap().compute_with(&s).unwrap(), lane_arg(true));
            prop_assert_eq!(x.argmin_axis(axis).unwrap().compute_with(&s).unwrap(), lane_arg(false));
        }
    }

    #[test]
    fn histogram_bincount_compress((shape, chunks) in shape_and_chunks(9), seed in any::<u64>(), bins in 1usize..9) {
        let e = data(&shape, seed);
        let x = from_ndarray(e.clone(), chunks.clone()).unwrap();
        let (lo, hi) = (-5.0, 7.5);
        let edges = ndarray::Array1::linspace(lo, hi, bins + 1);
        let mut want = vec![0i64; bins];
        for &v in e.iter() {
            if (lo..=hi).contains(&v) {
                // searchsorted(edges, v, side="right") - 1, with hi in the last bin.
                let i = edges.iter().filter(|&&b| b <= v).count() - 1;
                want[i.min(bins - 1)] += 1;
            }
        }
        let ints = e.mapv(|v| (v.abs() as i64) % 7);
        let xi = from_ndarray(ints.clone(), chunks).unwrap();
        let mut want_bc = vec![0i64; 9];
        ints.iter().for_each(|&v| want_bc[v as usize] += 1);
        let flat = from_ndarray(e.clone().into_shape_with_order(IxDyn(&[e.len()])).unwrap(), [3]).unwrap();
        let want_pos: Vec<f64> = e.iter().copied().filter(|&v| v > 0.0).collect();
        for s in schedulers() {
            let (counts, got_edges) = x.histogram(bins, (lo, hi)).unwrap();
            let got_edges: Vec<f64> = got_edges.compute_with(&s).unwrap().iter().copied().collect();
            prop_assert_eq!(got_edges, edges.to_vec());
            prop_assert_eq!(counts.compute_with(&s).unwrap().iter().copied().collect::<Vec<_>>(), want.clone());
            prop_assert_eq!(xi.bincount(9).unwrap().compute_with(&s).unwrap().iter().copied().collect::<Vec<_>>(), want_bc.clone());
            let pos = flat.compress(&flat.greater(0.0).unwrap()).unwrap();
            prop_assert_eq!(s.compute(&pos).unwrap().to_vec(), want_pos.clone());
        }
    }
}

#[test]
fn only_touched_chunks_are_computed() {
    let x = ndtask::random::uniform::<f64>([1000, 1000], [100, 100], 1).unwrap();
    let y = x.slice(s![250..260, 10..20]).unwrap();
    let g = y.task_graph().unwrap();
    // The random source generates the selected box itself: one task of 10 x 10 values.
    assert_eq!(g.len(), 1, "{:?}", g.op_names());
    assert_eq!(g.op_names(), vec!["fused[uniform]"]);
    let full = x.compute().unwrap();
    assert_eq!(
        y.compute().unwrap(),
        full.slice(s![250..260, 10..20]).into_dyn()
    );
    // A stepped slice reads whole chunks: one source chunk and one slice task.
    let z = x.slice(s![250..260;2, 10..20]).unwrap();
    assert_eq!(z.task_graph().unwrap().len(), 2);
    assert_eq!(
        z.compute().unwrap(),
        full.slice(s![250..260;2, 10..20]).into_dyn()
    );
    // Every reader is asked for the selected region only, an in-memory array's too: one task.
    let e = data(&[100, 100], 3);
    let w = from_ndarray(e.clone(), [10, 10])
        .unwrap()
        .slice(s![25..26, 10..20])
        .unwrap();
    assert_eq!(w.task_graph().unwrap().len(), 1);
    assert_eq!(w.compute().unwrap(), e.slice(s![25..26, 10..20]).into_dyn());
    // Rechunking a source makes no rechunk tasks: the source is cut afresh.
    let r = x.rechunk([1000, 25]).unwrap();
    assert_eq!(r.task_graph().unwrap().op_names(), vec!["fused[uniform]"]);
    assert_eq!(r.compute().unwrap(), full);
    // Windows compose: a slice of a slice of a random array is generated directly too.
    let yy = y.slice(s![2..5, 3, ndarray::NewAxis]).unwrap();
    assert_eq!(yy.task_graph().unwrap().len(), 1);
    assert_eq!(
        yy.compute().unwrap(),
        full.slice(s![252..255, 13, ndarray::NewAxis]).into_dyn()
    );
}

#[test]
fn map_blocks_variants() {
    let e = data(&[10, 6], 5);
    let x = from_ndarray(e.clone(), [4, 3]).unwrap();
    for s in schedulers() {
        let doubled: Array<f64> = x.map_blocks(|c| c.mapv(|v| v * 2.0));
        assert_eq!(doubled.compute_with(&s).unwrap(), &e * 2.0);
        // One value per chunk: the chunk sums, declared as a 3x2 array of 1x1 chunks.
        let sums = x
            .map_blocks_with_chunks([3, 2], [1, 1], |c| {
                ArrayD::from_elem(IxDyn(&[1, 1]), c.sum())
            })
            .unwrap();
        let got = sums.compute_with(&s).unwrap();
        assert!((got[[1, 1]] - e.slice(s![4..8, 3..6]).sum()).abs() < 1e-12);
        let y = from_ndarray(e.clone(), [5, 6]).unwrap();
        let both = x.map_blocks2(&y, |a, b| &a - &b).unwrap();
        assert_eq!(
            both.compute_with(&s).unwrap(),
            ArrayD::<f64>::zeros(IxDyn(&[10, 6]))
        );
        // A closure that returns the wrong shape is an error naming the chunk, not a crash.
        let bad: Array<f64> = x.map_blocks(|c| c.slice(s![..1, ..]).to_owned().into_dyn());
        let err = bad.sum().compute_with(&s).unwrap_err().to_string();
        assert!(
            err.contains("map_blocks") && err.contains("declared"),
            "{err}"
        );
    }
    assert!(x
        .map_blocks_with_chunks([3, 2], [3, 2], |c| c.to_owned())
        .is_err());
}

#[test]
fn structural_errors_name_values() {
    let x = ndtask::ones::<f64>([6, 4], [3, 2]).unwrap();
    let msg = |r: ndtask::Result<Array<f64>>| r.unwrap_err().to_string();
    assert!(msg(x.reshape([5, 5])).contains("[6, 4]"));
    // Chunks that split rows are rechunked as needed (as Dask does), not refused.
    let flat = x.reshape([24]).unwrap();
    assert_eq!(flat.chunks(), vec![vec![8, 8, 8]]);
    assert!(msg(x.permuted_axes(&[0, 0])).contains("permutation"));
    assert!(msg(x.squeeze(Some(&[0]))).contains("length 6"));
    assert!(msg(x.expand_dims(3)).contains("axis 3"));
    assert!(msg(x.slice(s![0..2])).contains("1 indices given"));
    assert!(msg(x.slice(s![6, ..])).contains("index 6 is out of bounds for axis 0"));
    assert!(msg(x.dot(&x)).contains("[6, 4] and [6, 4]"));
    assert!(x.cumsum(2).is_err());
    assert!(x.argmax_axis(5).is_err());
    assert!(x.histogram(0, (0.0, 1.0)).is_err());
    let neg = ndtask::arange(-1i64, 3, 1, [2]).unwrap();
    let err = neg.bincount(3).unwrap().compute().unwrap_err().to_string();
    assert!(
        err.contains("value -1 is outside 0..3") && err.contains("chunk [0]:"),
        "{err}"
    );
    assert!(stack::<f64>(&[], 0).is_err());
}
