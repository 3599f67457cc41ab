//! Right answers or a clear error for every input: one regression test per class of bug a
//! downstream user found (where_ over broadcast and differently chunked inputs, panics, empty
//! nan-reductions, unchecked sizes, allocations sized by the user, split_every, slicing cost,
//! the MPI fingerprint, reshape, integer division, API gaps, error messages).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod common;

use common::*;
use ndarray::{s, ArrayD, Axis, IxDyn, Zip};
use ndtask::engine::{ChunkGrid, Scheduler, TaskGraph};
use ndtask::{
    arange, from_ndarray, full, ones, random, stack, where_, zeros, Array, Chunks, Error,
    ReduceOptions,
};
use proptest::prelude::*;
use std::sync::Arc;

/// NumPy's broadcast shape of several shapes (the shapes are known to broadcast).
fn broadcast(shapes: &[&[usize]]) -> Vec<usize> {
    let n = shapes.iter().map(|s| s.len()).max().unwrap_or(0);
    let mut out = vec![1; n];
    for s in shapes {
        for (i, &d) in s.iter().enumerate() {
            let o = &mut out[n - s.len() + i];
            if *o == 1 {
                *o = d;
            }
        }
    }
    out
}

/// Eager `np.where(c, x, y)`.
fn eager_where(c: &ArrayD<bool>, x: &ArrayD<f64>, y: &ArrayD<f64>) -> ArrayD<f64> {
    let shape = IxDyn(&broadcast(&[c.shape(), x.shape(), y.shape()]));
    Zip::from(&c.broadcast(shape.clone()).unwrap())
        .and(&x.broadcast(shape.clone()).unwrap())
        .and(&y.broadcast(shape).unwrap())
        .map_collect(|&c, &x, &y| if c { x } else { y })
}

/// A shape that broadcasts to `base`: some axes set to 1, maybe the leading axis dropped.
fn variant(base: Vec<usize>) -> BoxedStrategy<Vec<usize>> {
    let n = base.len();
    (prop::collection::vec(any::<bool>(), n), any::<bool>())
        .prop_map(move |(ones, drop)| {
            let mut s: Vec<usize> = base
                .iter()
                .zip(&ones)
                .map(|(&d, &one)| if one { 1 } else { d })
                .collect();
            if drop && s.len() > 1 {
                s.remove(0);
            }
            s
        })
        .boxed()
}

/// Three shapes that broadcast together, each with its own chunking.
fn three_shapes() -> BoxedStrategy<[(Vec<usize>, Chunks); 3]> {
    prop::collection::vec(0usize..=5, 1..=3)
        .prop_flat_map(|base| (variant(base.clone()), variant(base.clone()), variant(base)))
        .prop_flat_map(|(a, b, c)| {
            (
                (Just(a.clone()), chunks_for(a)),
                (Just(b.clone()), chunks_for(b)),
                (Just(c.clone()), chunks_for(c)),
            )
        })
        .prop_map(|(a, b, c)| [a, b, c])
        .boxed()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Item 1: `where_` broadcasts and aligns all three inputs, whichever of them is the
    /// broadcast one, including computed inputs chunked unlike the others.
    #[test]
    fn where_broadcasts_and_aligns_three_arrays(
        [(sc, cc), (sx, cx), (sy, cy)] in three_shapes(),
        seed in any::<u64>(),
        computed in any::<bool>(),
    ) {
        let ec = data(&sc, seed).mapv(|v| v > 0.0);
        let (ex, ey) = (data(&sx, seed ^ 1), data(&sy, seed ^ 2));
        let c = from_ndarray(ec.clone(), cc).unwrap();
        let x = from_ndarray(ex.clone(), cx).unwrap();
        let mut y = from_ndarray(ey.clone(), cy).unwrap();
        if computed {
            // A materialised input (a rechunk task), chunked unlike its source.
            let one = Chunks::Block(sy.iter().map(|&d| d.max(1)).collect());
            y = y.rechunk(one).unwrap();
        }
        let want = eager_where(&ec, &ex, &ey);
        let w = where_(&c, &x, &y).unwrap();
        prop_assert_eq!(w.shape(), want.shape().to_vec());
        for s in schedulers() {
            prop_assert_eq!(&w.compute_with(&s).unwrap(), &want);
        }
    }
}

#[test]
fn where_cases_from_the_report() {
    let e34 = data(&[3, 4], 1);
    let e14 = data(&[1, 4], 2);
    let cond = |e: &ArrayD<f64>| e.mapv(|v| v > 0.0);
    // x broadcast: was a task error ("range end index 12 out of range").
    let c = from_ndarray(cond(&e34), [2, 3]).unwrap();
    let x = from_ndarray(e14.clone(), [1, 2]).unwrap();
    let y = from_ndarray(e34.clone(), [3, 1]).unwrap();
    let want = eager_where(&cond(&e34), &e14, &e34);
    assert_eq!(where_(&c, &x, &y).unwrap().compute().unwrap(), want);
    // The condition broadcast: was silently of shape [1, 4].
    let c = from_ndarray(cond(&e14), [1, 4]).unwrap();
    let x = from_ndarray(e34.clone(), [2, 2]).unwrap();
    let w = where_(&c, &x, &y).unwrap();
    assert_eq!(w.shape(), vec![3, 4]);
    assert_eq!(w.compute().unwrap(), eager_where(&cond(&e14), &e34, &e34));
    // y computed (a cumsum) and chunked differently: was a panic in lowering.
    let c = from_ndarray(cond(&e34), [1, 4]).unwrap();
    let y = from_ndarray(e34.clone(), [2, 3])
        .unwrap()
        .cumsum(1)
        .unwrap();
    let mut ecum = e34.clone();
    ecum.accumulate_axis_inplace(Axis(1), |&p, c| *c += p);
    for s in schedulers() {
        let got = where_(&c, &x, &y).unwrap().compute_with(&s).unwrap();
        assert_close(&got, &eager_where(&cond(&e34), &e34, &ecum), 1e-12);
    }
    // A 0-d argument: was a panic out of compute().
    let m = x.max().into_array();
    let got = where_(&c, &m, &x).unwrap().compute().unwrap();
    let top = e34.iter().copied().fold(f64::MIN, f64::max);
    let want = eager_where(&cond(&e34), &ArrayD::from_elem(IxDyn(&[]), top), &e34);
    assert_eq!(got, want);
    // And with the binary operators.
    for s in schedulers() {
        assert_eq!((&x - &m).compute_with(&s).unwrap(), e34.mapv(|v| v - top));
        assert_eq!((&m * &x).compute_with(&s).unwrap(), e34.mapv(|v| top * v));
    }
}

/// A scheduler whose book-keeping panics.
struct Panicky;

impl Scheduler for Panicky {
    fn name(&self) -> &str {
        "panicky"
    }
    fn threads(&self) -> usize {
        1
    }
    fn execute(&self, _: &TaskGraph) -> ndtask::Result<Option<Vec<Arc<ndtask::engine::Chunk>>>> {
        panic!("book-keeping broke")
    }
}

/// Item 2: no panic leaves `compute()`.
#[test]
fn no_panic_leaves_compute() {
    let x = ones::<f64>([4], [2]).unwrap();
    match x
        .sum()
        .compute_with(&ndtask::Config::new().scheduler(Panicky))
    {
        Err(Error::Internal(m)) => {
            assert_eq!(m, "the panicky scheduler panicked: book-keeping broke")
        }
        other => panic!("{other:?}"),
    }
    // A panic in a task is a task error naming the op and chunk.
    let bad = x.map(|v| if v > 0.0 { panic!("boom") } else { v });
    match bad.sum().compute() {
        Err(Error::Task { chunk, message, .. }) => {
            assert_eq!(chunk, "[0]");
            assert!(message.contains("boom"), "{message}");
        }
        other => panic!("{other:?}"),
    }
}

/// Item 3: nan-reductions of an empty array are errors (as `min`/`max`), of all-NaN input NaN
/// (nanmin/nanmax) or a compute error (nanargmin/nanargmax, NumPy's ValueError).
#[test]
fn nan_reductions_of_empty_and_all_nan_input() {
    let empty = zeros::<f64>([0, 3], [1, 3]).unwrap();
    for r in [
        empty.nanmin().compute(),
        empty.nanmax().compute(),
        empty.min().compute(),
    ] {
        assert!(
            matches!(r, Err(Error::InvalidArgument(ref m)) if m.contains("zero-size")),
            "{r:?}"
        );
    }
    assert!(matches!(empty.nanargmin(), Err(Error::InvalidArgument(_))));
    assert!(matches!(empty.nanargmax(), Err(Error::InvalidArgument(_))));
    assert!(empty.nanmax_with(&ReduceOptions::axes([0])).is_err());
    // Reducing the non-empty axis of an empty array is fine: the result is empty.
    assert_eq!(
        empty
            .nanmax_with(&ReduceOptions::axes([1]))
            .unwrap()
            .shape(),
        vec![0]
    );
    let nans = full([5], [2], f64::NAN).unwrap();
    assert!(nans.nanmin().compute().unwrap().is_nan());
    assert!(nans.nanmax().compute().unwrap().is_nan());
    let e = nans.nanargmin().unwrap().compute().unwrap_err().to_string();
    assert!(e.contains("all-NaN"), "{e}");
    // With NaNs among values, nanargmax skips them on every scheduler; argmax picks the NaN.
    let v = ndarray::array![f64::NAN, 3.0, 9.0, f64::NAN, 9.0, -1.0].into_dyn();
    for chunks in [1, 2, 4] {
        let x = from_ndarray(v.clone(), [chunks]).unwrap();
        for s in schedulers() {
            assert_eq!(x.nanargmax().unwrap().compute_with(&s).unwrap(), 2);
            assert_eq!(x.nanargmin().unwrap().compute_with(&s).unwrap(), 5);
            assert_eq!(x.argmax().unwrap().compute_with(&s).unwrap(), 0);
        }
    }
    let rows = from_ndarray(
        ndarray::array![[f64::NAN, 1.0], [f64::NAN, f64::NAN]].into_dyn(),
        [1, 1],
    )
    .unwrap();
    let by_row = rows.nanargmax_with(&ReduceOptions::axes([1])).unwrap();
    assert!(by_row
        .compute()
        .unwrap_err()
        .to_string()
        .contains("all-NaN"));
    let by_col = rows.nanargmin_with(&ReduceOptions::axes([0]));
    assert!(by_col.unwrap().compute().is_err()); // column 0 is all NaN
}

/// Item 4: shape arithmetic is checked wherever a shape is made.
#[test]
fn sizes_that_overflow_are_shape_errors() {
    let shape = |r: ndtask::Result<Array<f64>>| match r {
        Err(Error::Shape(m)) => m,
        other => panic!("{other:?}"),
    };
    let m = shape(zeros([1 << 40, 1 << 40], [1 << 20, 1 << 20]));
    assert!(m.contains("[1099511627776, 1099511627776]"), "{m}");
    shape(zeros([(1 << 63) + 6, 2], [1, 1]));
    shape(zeros([usize::MAX], [1]));
    shape(zeros([ChunkGrid::MAX_ELEMENTS + 1], [1 << 30]));
    assert!(zeros::<f64>([ChunkGrid::MAX_ELEMENTS], [1 << 40]).is_ok()); // lazy: fine
    let m = shape(zeros([1 << 40], [1])); // 2^40 chunks: more than a task graph holds
    assert!(m.contains("more chunks"), "{m}");
    let twelve = arange(0.0, 12.0, 1.0, [6]).unwrap();
    let m = shape(twelve.reshape([(1 << 63) + 6, 2]));
    assert!(
        m.contains("[12]") && m.contains("[9223372036854775814, 2]"),
        "{m}"
    );
    assert!(matches!(
        ChunkGrid::from_sizes(vec![vec![usize::MAX, 2]]),
        Err(Error::Chunks { .. })
    ));
    assert!(matches!(
        ChunkGrid::from_sizes(vec![vec![1 << 40], vec![1 << 40]]),
        Err(Error::Shape(_))
    ));
    assert!(ChunkGrid::from_sizes(vec![vec![3, 0]]).is_err());
    assert!(matches!(
        ChunkGrid::new(&[6], vec![vec![usize::MAX, 7]].into()),
        Err(Error::Chunks { .. })
    ));
    // arange: exact lengths for integers (f64 would say 2^30 here), refused when too long.
    let exact = arange(0i64, (1 << 60) + 1, 1 << 30, [1 << 20]).unwrap();
    assert_eq!(exact.len(), (1 << 30) + 1);
    assert!(matches!(
        arange(0.0, 1e20, 1.0, [1000]),
        Err(Error::Shape(m)) if m.contains("1e20")
    ));
    assert!(matches!(
        arange(i64::MIN, i64::MAX, 1, [1000]),
        Err(Error::Shape(_))
    ));
    let down = arange(5i64, -2, -2, [2]).unwrap().compute().unwrap();
    assert_eq!(down.iter().copied().collect::<Vec<_>>(), vec![5, 3, 1, -1]);
    assert_eq!(arange(3i64, 3, 1, [2]).unwrap().len(), 0);
    assert_eq!(arange(0.0, 1.0, 0.3, [2]).unwrap().len(), 4); // NumPy: 4
}

/// Item 5: allocations sized by the user are errors, not aborts; nothing per bin at build time.
#[test]
fn huge_allocations_are_errors() {
    let x = arange(0.0, 10.0, 1.0, [3]).unwrap();
    let (counts, edges) = x.histogram(1 << 40, (0.0, 10.0)).unwrap(); // lazy: builds at once
    assert_eq!(edges.len(), (1 << 40) + 1);
    let e = counts.compute().unwrap_err().to_string();
    assert!(
        e.contains("out of memory") && e.contains("1099511627776 bins"),
        "{e}"
    );
    assert!(matches!(
        x.histogram(usize::MAX, (0.0, 1.0)),
        Err(Error::InvalidArgument(_))
    ));
    let ints = arange(0i64, 10, 1, [4]).unwrap();
    let e = ints
        .bincount(1 << 40)
        .unwrap()
        .compute()
        .unwrap_err()
        .to_string();
    assert!(e.contains("out of memory"), "{e}");
    let big = zeros::<f64>([1 << 40], [1 << 40]).unwrap();
    let e = big.compute().unwrap_err().to_string();
    assert!(
        e.contains("out of memory") && e.contains("[1099511627776]"),
        "{e}"
    );
    let e = big
        .reshape([1 << 20, 1 << 20])
        .unwrap()
        .sum_axis(0)
        .unwrap()
        .compute();
    assert!(e.unwrap_err().to_string().contains("out of memory"));
    // The histogram still counts right.
    let (counts, edges) = x.histogram(4, (0.0, 10.0)).unwrap();
    assert_eq!(
        counts.compute().unwrap().into_raw_vec_and_offset().0,
        vec![3, 2, 3, 2]
    );
    assert_eq!(
        edges.compute().unwrap().into_raw_vec_and_offset().0,
        vec![0.0, 2.5, 5.0, 7.5, 10.0]
    );
}

/// Item 6: any split_every from 2 up; lowering cost does not depend on it.
#[test]
fn split_every_of_any_size() {
    let x = arange(0i64, 5, 1, [1]).unwrap();
    let s = x
        .sum_with(&ReduceOptions::all().split_every(usize::MAX))
        .unwrap();
    assert_eq!(s.compute().unwrap().into_raw_vec_and_offset().0, vec![10]);
    assert_eq!(s.task_graph().unwrap().len(), 5 + 1); // the partials and one aggregate
    let sq = ones::<f64>([6, 6], [1, 1]).unwrap();
    let all = sq
        .sum_with(&ReduceOptions::all().split_every(1 << 62))
        .unwrap();
    assert_eq!(all.compute().unwrap()[[]], 36.0);
    assert!(sq.sum_with(&ReduceOptions::all().split_every(1)).is_err());
}

/// Item 7: building a slice costs O(chunks it touches), not O(elements).
#[test]
fn slicing_huge_arrays_builds_from_chunks() {
    let x = zeros::<f64>([10_000_000_000], [10_000_000]).unwrap(); // 1e10 elements, 1000 chunks
    let y = x.slice(s![1..]).unwrap();
    assert_eq!(y.num_chunks(), 1000);
    assert_eq!(y.chunks()[0][0], 9_999_999);
    let z = x.slice(s![5..;-3]).unwrap(); // backwards over all the chunks
    assert_eq!(z.len(), (10_000_000_000 - 5usize).div_ceil(3));
    assert_eq!(z.chunks()[0].iter().sum::<usize>(), z.len());
    let w = x.slice(s![12_345_678..12_345_690;4]).unwrap();
    assert_eq!(w.compute().unwrap().len(), 3);
    // 1e6 chunks.
    let many = zeros::<f64>([1_000_000_000], [1_000]).unwrap();
    let v = many.slice(s![1..;7]).unwrap();
    assert_eq!(v.len(), (1_000_000_000 - 1usize).div_ceil(7));
    // 7 does not divide the block: output chunks of 142 positions, each from 1 or 2 blocks.
    assert_eq!(v.num_chunks(), v.len().div_ceil(142));
    assert_eq!(many.slice(s![1..]).unwrap().num_chunks(), 1_000_000);
}

/// Item 8: the fingerprint MPI ranks compare covers every parameter that changes a result.
#[test]
fn fingerprints_cover_every_parameter() {
    let fp = |a: &ndtask::Scalar<f64>| a.task_graph().unwrap().fingerprint();
    let x = || arange(0.0, 100.0, 1.0, [10]).unwrap();
    let pairs: Vec<(ndtask::Scalar<f64>, ndtask::Scalar<f64>)> = vec![
        (
            random::uniform::<f64>([100], [10], 1).unwrap().sum(),
            random::uniform::<f64>([100], [10], 2).unwrap().sum(),
        ),
        ((&x() + 1.0).sum(), (&x() + 2.0).sum()),
        (
            arange(0.0, 100.0, 1.0, [10]).unwrap().sum(),
            arange(0.0, 99.0, 1.0, [10]).unwrap().sum(),
        ),
        (
            ones::<f64>([10], vec![vec![3, 7]]).unwrap().sum(),
            ones::<f64>([10], vec![vec![7, 3]]).unwrap().sum(),
        ),
        (
            full([10], [5], 1.0f64).unwrap().astype::<f64>().sum(),
            full([10], [5], 1.0f32).unwrap().astype::<f64>().sum(),
        ),
        (x().var(0.0), x().var(1.0)),
        (
            x().clip(0.0, 50.0).unwrap().sum(),
            x().clip(0.0, 60.0).unwrap().sum(),
        ),
        (
            x().map_named("double", |v| v * 2.0).sum(),
            x().map_named("twice", |v| v * 2.0).sum(),
        ),
        (
            x().rechunk([100]).unwrap().slice(s![0..50]).unwrap().sum(),
            x().rechunk([100]).unwrap().slice(s![1..51]).unwrap().sum(),
        ),
        (x().powf(2.0).sum(), x().powf(3.0).sum()),
        (
            full([4], [2], 0.0).unwrap().sum(),
            full([4], [2], -0.0).unwrap().sum(),
        ),
    ];
    for (i, (a, b)) in pairs.iter().enumerate() {
        assert_ne!(fp(a), fp(b), "pair {i}");
    }
    // Built twice the same way: the same fingerprint.
    assert_eq!(fp(&(&x() + 1.0).sum()), fp(&(&x() + 1.0).sum()));
}

/// A random reshape target for `shape`: its prime factors (and some 1s) shuffled into 1 to 3
/// axes.
fn reshape_target(shape: &[usize], seed: u64) -> Vec<usize> {
    let mut factors = Vec::new();
    for &d in shape {
        let (mut d, mut p) = (d, 2);
        while d > 1 {
            while d % p == 0 {
                factors.push(p);
                d /= p;
            }
            p += 1;
        }
    }
    let mut st = seed | 1;
    let mut next = || {
        st ^= st << 13;
        st ^= st >> 7;
        st ^= st << 17;
        st as usize
    };
    for i in (1..factors.len()).rev() {
        factors.swap(i, next() % (i + 1));
    }
    let n = 1 + next() % 3;
    let mut out = vec![1; n];
    for f in factors {
        out[next() % n] *= f;
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    /// Item 11: reshape works for every chunking (rechunking as needed) and matches ndarray.
    #[test]
    fn reshape_any_chunking((shape, chunks) in shape_and_chunks(8), seed in any::<u64>()) {
        let e = data(&shape, seed);
        let x = from_ndarray(e.clone(), chunks).unwrap();
        let to = reshape_target(&shape, seed);
        let want = e.to_shape(IxDyn(&to)).unwrap().to_owned();
        let y = x.reshape(&to).unwrap();
        prop_assert_eq!(y.shape(), to.clone());
        // Chunks never grow past the input array itself, and stay within a few times the
        // input's chunk size (rows of the new shape may need whole rows).
        for s in schedulers() {
            prop_assert_eq!(&y.compute_with(&s).unwrap(), &want);
            let back = y.reshape(&shape).unwrap();
            prop_assert_eq!(&back.compute_with(&s).unwrap(), &e);
        }
    }

    /// Item 12: NumPy's `//` and `%` for integers and floats, arrays and scalars.
    #[test]
    fn floor_div_and_remainder((shape, chunks) in shape_and_chunks(7), seed in any::<u64>(), k in -5i64..6) {
        let ea = data(&shape, seed).mapv(|v| (v * 3.0).round() as i64);
        let eb = data(&shape, seed ^ 5).mapv(|v| v.round() as i64);
        let a = from_ndarray(ea.clone(), chunks.clone()).unwrap();
        let b = from_ndarray(eb.clone(), [2; 8][..shape.len()].to_vec()).unwrap();
        // Reference: floor of the exact quotient (small integers are exact in f64).
        let fdiv = |x: i64, y: i64| if y == 0 { 0 } else { (x as f64 / y as f64).floor() as i64 };
        let rem = |x: i64, y: i64| if y == 0 { 0 } else { x - fdiv(x, y) * y };
        let want_q = Zip::from(&ea).and(&eb).map_collect(|&x, &y| fdiv(x, y));
        let want_r = Zip::from(&ea).and(&eb).map_collect(|&x, &y| rem(x, y));
        let fa = a.astype::<f64>();
        let want_fr = Zip::from(&ea).and(&eb).map_collect(|&x, &y| {
            if y == 0 { f64::NAN } else { rem(x, y) as f64 }
        });
        for s in schedulers() {
            prop_assert_eq!(&a.floor_div(&b).unwrap().compute_with(&s).unwrap(), &want_q);
            prop_assert_eq!(&a.remainder(&b).unwrap().compute_with(&s).unwrap(), &want_r);
            prop_assert_eq!(&a.floor_div(k).unwrap().compute_with(&s).unwrap(), &ea.mapv(|x| fdiv(x, k)));
            prop_assert_eq!(&a.remainder(k).unwrap().compute_with(&s).unwrap(), &ea.mapv(|x| rem(x, k)));
            let fr = fa.remainder(b.astype::<f64>()).unwrap().compute_with(&s).unwrap();
            // Zeros of either sign and NaNs of any payload compare equal.
            let norm = |v: f64| if v.is_nan() { f64::NAN } else if v == 0.0 { 0.0 } else { v };
            prop_assert!(same_bits(&fr.mapv(norm), &want_fr.mapv(norm)));
        }
    }
}

/// Item 12: `/` on integers rounds toward zero (Rust and ndarray), `floor_div` toward -inf.
#[test]
fn integer_division_semantics() {
    let x = from_ndarray(ndarray::array![-7i64, 7, -7, 7, 5].into_dyn(), [2]).unwrap();
    let d = from_ndarray(ndarray::array![2i64, -2, -2, 2, 0].into_dyn(), [3]).unwrap();
    let v = |a: Array<i64>| a.compute().unwrap().into_raw_vec_and_offset().0;
    assert_eq!(v(&x / &d), vec![-3, -3, 3, 3, 0]);
    assert_eq!(v(x.floor_div(&d).unwrap()), vec![-4, -4, 3, 3, 0]);
    assert_eq!(v(x.remainder(&d).unwrap()), vec![1, -1, -1, 1, 0]);
}

/// Item 13: the ndarray re-export, count_nonzero on bool, argmin/argmax with options.
#[test]
fn api_gaps() {
    let a: ndtask::ndarray::ArrayD<f64> =
        ndtask::ndarray::array![[1.0, 9.0, 9.0], [7.0, 3.0, 0.0]].into_dyn();
    let x = from_ndarray(a, [1, 2]).unwrap();
    assert_eq!(
        x.greater(2.0).unwrap().count_nonzero().compute().unwrap(),
        4
    );
    assert_eq!(x.count_nonzero().compute().unwrap(), 5);
    let i = x
        .argmax_with(&ReduceOptions::axes([1]).keepdims(true))
        .unwrap();
    assert_eq!(i.shape(), vec![2, 1]);
    assert_eq!(i.compute().unwrap().into_raw_vec_and_offset().0, vec![1, 0]);
    let flat = x.argmin_with(&ReduceOptions::all().keepdims(true)).unwrap();
    assert_eq!(flat.shape(), vec![1, 1]);
    assert_eq!(flat.compute().unwrap()[[0, 0]], 5);
    assert_eq!(
        x.argmin_with(&ReduceOptions::axes([0]))
            .unwrap()
            .compute()
            .unwrap()
            .into_raw_vec_and_offset()
            .0,
        vec![0, 1, 1]
    );
    assert!(matches!(
        x.argmax_with(&ReduceOptions::axes([0, 1])),
        Err(Error::InvalidArgument(_))
    ));
    assert!(matches!(
        x.argmax_with(&ReduceOptions::axes([2])),
        Err(Error::Axis { .. })
    ));
}

/// Item 14: error messages name the right thing.
#[test]
fn error_messages_name_the_right_thing() {
    let a = ones::<f64>([2, 3], [1, 3]).unwrap();
    match stack(&[&a, &a], 3) {
        Err(Error::Axis {
            op,
            axis: 3,
            ndim: 2,
            ..
        }) => assert_eq!(op, "stack"),
        other => panic!("{other:?}"),
    }
    let e = a
        .map_blocks_with_chunks([5], [5], |c| c.to_owned())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("declared chunks [5] have") && !e.contains('"'),
        "{e}"
    );
    let e = a
        .sum_with(&ReduceOptions::axes([1, 1]))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("axis 1 is repeated in the axes [1, 1]") && !e.contains("Some"),
        "{e}"
    );
    let v = arange(0i64, 6, 1, [2]).unwrap().map(|v| v - 3);
    let e = v.bincount(4).unwrap().compute().unwrap_err();
    match e {
        Error::Task { chunk, message, .. } => {
            assert_eq!(chunk, "[0]");
            assert!(message.contains("value -3 is outside 0..4"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    let e = zeros::<f64>([1 << 40], [1 << 40])
        .unwrap()
        .compute()
        .unwrap_err()
        .to_string();
    assert!(!e.contains("capacity overflow"), "{e}");
}

/// Item 7: slices of regular axes over many blocks are built in O(1) (a short first block, then
/// regular ones) and match ndarray for every bound and step, forwards and backwards.
#[test]
fn slices_of_regular_axes_match_ndarray_exhaustively() {
    for len in [7usize, 13, 20] {
        let e = ArrayD::from_shape_fn(IxDyn(&[len, 2]), |i| (i[0] * 2 + i[1]) as f64);
        for block in 1..=5 {
            let x = from_ndarray(e.clone(), [block, 1]).unwrap();
            for lo in 0..=len as isize {
                for hi in lo..=len as isize {
                    for step in [1isize, 2, 3, 4, -1, -2, -3, -4] {
                        let sel = s![lo..hi;step, 1..];
                        let want = e.slice(sel).to_owned().into_dyn();
                        let y = x.slice(sel).unwrap();
                        let got = y.compute_with(&sync()).unwrap();
                        assert_eq!(got, want, "len {len} block {block} {lo}..{hi};{step}");
                        assert_eq!(y.chunks()[0].iter().sum::<usize>(), want.shape()[0]);
                    }
                }
            }
        }
    }
    // Both axes strided with steps that do not divide the blocks: output chunks that gather
    // from up to four input chunks.
    let e2 = ArrayD::from_shape_fn(IxDyn(&[23, 19]), |i| (i[0] * 100 + i[1]) as f64);
    for (b0, b1) in [(3, 2), (5, 4), (2, 5)] {
        let x = from_ndarray(e2.clone(), [b0, b1]).unwrap();
        for (t0, t1) in [(2isize, 3isize), (-3, 2), (4, -3), (-2, -5), (7, 1)] {
            let sel = s![1..22;t0, 0..18;t1];
            let want = e2.slice(sel).to_owned().into_dyn();
            for sch in schedulers() {
                let got = x.slice(sel).unwrap().compute_with(&sch).unwrap();
                assert_eq!(got, want, "blocks {b0}x{b1} steps {t0},{t1}");
            }
        }
    }
    // A slice of a slice (a regular axis with a short first block) too.
    let e = ArrayD::from_shape_fn(IxDyn(&[40]), |i| i[0] as i64);
    let x = from_ndarray(e.clone(), [4]).unwrap();
    let once = x.slice(s![3..]).unwrap();
    let twice = once.slice(s![1..;2]).unwrap();
    let want = e.slice(s![3..]).slice(s![1..;2]).to_owned().into_dyn();
    assert_eq!(twice.compute().unwrap(), want);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// min, max, nanmin and nanmax (folded in lanes) against a one-value-at-a-time reference,
    /// with NaNs anywhere (first, last, all), over random chunkings, on every scheduler.
    #[test]
    fn extremes_with_nans_match_a_sequential_reference(
        len in 1usize..90,
        chunk in 1usize..40,
        nans in prop::collection::vec(0usize..90, 0..6),
        all_nan in any::<bool>(),
        seed in 0u64..500,
    ) {
        let mut v = data(&[len], seed);
        for &i in &nans {
            if i < len {
                v[[i]] = f64::NAN;
            }
        }
        if all_nan {
            v.fill(f64::NAN);
        }
        let any_nan = v.iter().any(|x| x.is_nan());
        let finite: Vec<f64> = v.iter().copied().filter(|x| !x.is_nan()).collect();
        let lo = finite.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = finite.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let x = ndtask::from_ndarray(v, [chunk]).unwrap();
        for s in schedulers() {
            let (mn, mx, nmn, nmx) =
                s.compute(&(x.min(), x.max(), x.nanmin(), x.nanmax())).unwrap();
            if any_nan {
                prop_assert!(mn.is_nan() && mx.is_nan());
            } else {
                prop_assert_eq!((mn, mx), (lo, hi));
            }
            if finite.is_empty() {
                prop_assert!(nmn.is_nan() && nmx.is_nan());
            } else {
                prop_assert_eq!((nmn, nmx), (lo, hi));
            }
        }
    }
}
