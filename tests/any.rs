//! Arrays whose element type is known at run time ([`AnyArray`]): files NumPy wrote of every
//! stored type open without a type parameter and compute what NumPy computes (element-wise
//! operations with NumPy's promotion, against NumPy itself; reductions, integer sums exact);
//! element-wise operations and reductions over random shapes, broadcasts and chunkings of
//! every pair of element types agree with eager ndarray in the promoted type on every
//! scheduler; errors name the types.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod common;

use common::*;
use ndarray::{ArrayD, IxDyn, Zip};
use ndtask::{
    from_ndarray, open_npy, AnyArray, AnyNdArray, AnyValue, Chunks, DType, Element, Error, Numeric,
    ReduceOptions,
};
use proptest::prelude::*;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

fn temp(name: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    std::env::temp_dir().join(format!("ndtask-any-{}-{n}-{name}", std::process::id()))
}

const TYPES: [DType; 4] = [DType::F64, DType::F32, DType::I64, DType::Bool];

/// NumPy's dtype name for one of ndtask's (narrow integers map to `i64`, as ndtask reads them).
fn ours(numpy: &str) -> DType {
    match numpy {
        "float64" => DType::F64,
        "float32" => DType::F32,
        "bool" => DType::Bool,
        _ => DType::I64,
    }
}

/// NumPy's type code for one of ndtask's element types.
fn code(t: DType) -> &'static str {
    match t {
        DType::F64 => "f8",
        DType::F32 => "f4",
        DType::I64 => "i8",
        DType::Bool => "b1",
    }
}

/// The lazy array of `values` (f64) converted to `t`, cut into `chunks`, made by a map (a
/// computed array, not a source) when `computed`.
fn lazy(values: &ArrayD<f64>, t: DType, chunks: Chunks, computed: bool) -> AnyArray {
    let x = from_ndarray(values.clone(), chunks).unwrap();
    let x = if computed { x.map(|v| v) } else { x };
    AnyArray::from(x).astype(t)
}

/// `values` as f64, exactly (bools as 0 and 1).
fn as_f64(a: &AnyNdArray) -> ArrayD<f64> {
    a.to_f64()
}

/// Two arrays equal bit for bit (floats by their bits, NaN included).
fn same(got: &AnyNdArray, want: &AnyNdArray) -> bool {
    match (got, want) {
        (AnyNdArray::F64(a), AnyNdArray::F64(b)) => same_bits(a, b),
        (AnyNdArray::F32(a), AnyNdArray::F32(b)) => {
            a.shape() == b.shape() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
        }
        (AnyNdArray::I64(a), AnyNdArray::I64(b)) => a == b,
        (AnyNdArray::Bool(a), AnyNdArray::Bool(b)) => a == b,
        _ => false,
    }
}

/// The binary operations, by name.
const OPS: [&str; 9] = [
    "add", "sub", "mul", "div", "floordiv", "rem", "max", "min", "less",
];

fn lazy_op(a: &AnyArray, b: &AnyArray, op: &str) -> ndtask::Result<AnyArray> {
    match op {
        "add" => a.try_add(b),
        "sub" => a.try_sub(b),
        "mul" => a.try_mul(b),
        "div" => a.try_div(b),
        "floordiv" => a.floor_div(b),
        "rem" => a.remainder(b),
        "max" => a.maximum(b),
        "min" => a.minimum(b),
        _ => a.less(b),
    }
}

/// NumPy's promotion, written out independently of the library: the type `op` computes in.
fn computes_in(a: DType, b: DType, op: &str) -> Option<DType> {
    use DType::*;
    let t = match (a, b) {
        (x, y) if x == y => x,
        (Bool, x) | (x, Bool) => x,
        _ => F64,
    };
    match (op, t) {
        ("sub", Bool) => None,
        ("div", I64 | Bool) => Some(F64),
        ("floordiv" | "rem", Bool) => Some(I64),
        _ => Some(t),
    }
}

/// `op` on eager arrays in type `T`, with broadcasting.
fn eager_in<T: Numeric>(a: &ArrayD<f64>, b: &ArrayD<f64>, op: &str) -> AnyNdArray
where
    AnyNdArray: From<ArrayD<T>>,
{
    let shape = broadcast(a.shape(), b.shape());
    let a = a.broadcast(IxDyn(&shape)).unwrap().mapv(T::from_f64);
    let b = b.broadcast(IxDyn(&shape)).unwrap().mapv(T::from_f64);
    let pick = |x: T, y: T, greater: bool| {
        if x.partial_cmp(&y).is_none() {
            T::add(x, y)
        } else if (x > y) == greater {
            x
        } else {
            y
        }
    };
    if op == "less" {
        return AnyNdArray::Bool(Zip::from(&a).and(&b).map_collect(|&x, &y| x < y));
    }
    Zip::from(&a)
        .and(&b)
        .map_collect(|&x, &y| match op {
            "add" => T::add(x, y),
            "sub" => T::sub(x, y),
            "mul" => T::mul(x, y),
            "div" => T::div(x, y),
            "floordiv" => T::floor_div(x, y),
            "rem" => T::remainder(x, y),
            "max" => pick(x, y, true),
            _ => pick(x, y, false),
        })
        .into()
}

fn broadcast(a: &[usize], b: &[usize]) -> Vec<usize> {
    let n = a.len().max(b.len());
    (0..n)
        .map(|i| {
            let get = |s: &[usize]| (i + s.len()).checked_sub(n).map_or(1, |j| s[j]);
            let (x, y) = (get(a), get(b));
            if x == 1 {
                y
            } else {
                x
            }
        })
        .collect()
}

/// The eager result of `a op b` for inputs of types `ta`, `tb` (values already of those types,
/// held as f64), as NumPy computes it.
fn eager(a: &ArrayD<f64>, ta: DType, b: &ArrayD<f64>, tb: DType, op: &str) -> AnyNdArray {
    let t = computes_in(ta, tb, op).unwrap();
    let (a, b) = (cast(a, ta), cast(b, tb));
    if t == DType::Bool {
        let shape = broadcast(a.shape(), b.shape());
        let a = a.broadcast(IxDyn(&shape)).unwrap().mapv(|v| v != 0.0);
        let b = b.broadcast(IxDyn(&shape)).unwrap().mapv(|v| v != 0.0);
        return AnyNdArray::Bool(match op {
            "add" | "max" => Zip::from(&a).and(&b).map_collect(|&x, &y| x | y),
            "less" => Zip::from(&a).and(&b).map_collect(|&x, &y| !x & y),
            _ => Zip::from(&a).and(&b).map_collect(|&x, &y| x & y),
        });
    }
    match t {
        DType::F64 => eager_in::<f64>(&a, &b, op),
        DType::F32 => eager_in::<f32>(&a, &b, op),
        _ => eager_in::<i64>(&a, &b, op),
    }
}

/// `values` converted to `t` and back to f64 (what an array of type `t` holds).
fn cast(values: &ArrayD<f64>, t: DType) -> ArrayD<f64> {
    values.mapv(|v| match t {
        DType::F64 => v,
        DType::F32 => v as f32 as f64,
        DType::I64 => v as i64 as f64,
        DType::Bool => (v != 0.0) as u8 as f64,
    })
}

/// A shape that broadcasts against `shape`: some axes set to 1, maybe fewer leading axes.
fn broadcast_of(shape: Vec<usize>) -> impl Strategy<Value = Vec<usize>> {
    let n = shape.len();
    (prop::collection::vec(any::<bool>(), n), 0..n).prop_map(move |(ones, drop)| {
        shape
            .iter()
            .zip(&ones)
            .map(|(&d, &one)| if one { 1 } else { d })
            .skip(drop)
            .collect()
    })
}

fn pair() -> impl Strategy<Value = (Vec<usize>, Chunks, Vec<usize>, Chunks)> {
    shape(6)
        .prop_flat_map(|s| (Just(s.clone()), chunks_for(s.clone()), broadcast_of(s)))
        .prop_flat_map(|(s, c, t)| (Just(s), Just(c), Just(t.clone()), chunks_for(t)))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Every pair of element types, every operation, broadcast shapes chunked differently,
    /// source and computed inputs: the promoted result type and values of eager ndarray in
    /// that type, on every scheduler.
    #[test]
    fn binary_operations_promote_as_numpy_on_every_scheduler(
        (sa, ca, sb, cb) in pair(),
        ta in 0..4usize,
        tb in 0..4usize,
        computed in any::<bool>(),
        seed in 0u64..1000,
    ) {
        let (ta, tb) = (TYPES[ta], TYPES[tb]);
        // Multiples of 1/4 in [-10, 10), some zeros: exact in every type.
        let va = data(&sa, seed).mapv(|v| (v * 4.0).round() / 4.0);
        let vb = data(&sb, seed + 1).mapv(|v| (v * 4.0).round() / 4.0);
        let a = lazy(&va, ta, ca.clone(), computed);
        let b = lazy(&vb, tb, cb.clone(), !computed);
        for op in OPS {
            let Some(t) = computes_in(ta, tb, op) else {
                let e = lazy_op(&a, &b, op).err().unwrap().to_string();
                prop_assert!(e.contains("bool"), "{e}");
                continue;
            };
            let got = lazy_op(&a, &b, op).unwrap();
            let want = eager(&va, ta, &vb, tb, op);
            let result = if op == "less" { DType::Bool } else { t };
            prop_assert_eq!(got.dtype(), result);
            for s in schedulers() {
                let v = got.compute_with(&s).unwrap();
                prop_assert!(same(&v, &want), "{} {:?} {} {:?} on {}: {:?} vs {:?}", op, ta, tb, sa, s.name(), v, want);
            }
        }
    }

    /// Reductions of every element type over all axes and over one axis, with NumPy's result
    /// types (bools sum as i64), on every scheduler, against eager ndarray.
    #[test]
    fn reductions_follow_numpy_result_types(
        (shape, chunks) in shape_and_chunks(6),
        t in 0..4usize,
        axis in 0..3usize,
        seed in 0u64..1000,
    ) {
        let t = TYPES[t];
        let v = cast(&data(&shape, seed).mapv(|v| (v * 4.0).round() / 4.0), t);
        let x = lazy(&v, t, chunks, true);
        let axis = axis % shape.len();
        for s in schedulers() {
            let sum = x.sum().compute_with(&s).unwrap();
            let want_sum = v.sum();
            match t {
                DType::F64 => prop_assert!((sum.to_f64() - want_sum).abs() < 1e-9),
                DType::F32 => prop_assert!((sum.to_f64() - want_sum).abs() < 1e-3),
                _ => prop_assert_eq!(sum, AnyValue::I64(want_sum as i64)),
            }
            let mean = x.mean().compute_with(&s).unwrap();
            prop_assert!(matches!(mean, AnyValue::F64(m) if (m - v.mean().unwrap()).abs() < 1e-9));
            let (min, max) = (x.min().compute_with(&s).unwrap(), x.max().compute_with(&s).unwrap());
            prop_assert_eq!(min.dtype(), t);
            prop_assert_eq!(min.to_f64(), v.iter().copied().fold(f64::INFINITY, f64::min));
            prop_assert_eq!(max.to_f64(), v.iter().copied().fold(f64::NEG_INFINITY, f64::max));
            let along = x.sum_with(&ReduceOptions::axes([axis])).unwrap();
            prop_assert_eq!(along.dtype(), if t == DType::Bool { DType::I64 } else { t });
            let got = as_f64(&along.compute_with(&s).unwrap());
            assert_close(&got, &v.sum_axis(ndarray::Axis(axis)), 1e-5);
            let any = x.any_with(&ReduceOptions::axes([axis])).unwrap().compute_with(&s).unwrap();
            prop_assert_eq!(any, AnyNdArray::Bool(v.map_axis(ndarray::Axis(axis), |r| r.iter().any(|&e| e != 0.0))));
        }
    }
}

#[test]
fn scalars_are_weak_as_python_numbers_in_numpy() {
    let v = data(&[5, 4], 3).mapv(|v| (v * 4.0).round() / 4.0);
    for t in TYPES {
        let x = lazy(&v, t, Chunks::Block(vec![2, 3]), false);
        let plus_half = &x + 2.5;
        let times_three = &x * 3i64;
        let from = 2.5 - &x;
        // A float scalar keeps a float array's type; an integer keeps an integer's, and
        // makes a bool array i64.
        let float_t = if matches!(t, DType::F32) {
            t
        } else {
            DType::F64
        };
        assert_eq!(plus_half.dtype(), float_t, "{t}");
        assert_eq!(from.dtype(), float_t, "{t}");
        let int_t = if t == DType::Bool { DType::I64 } else { t };
        assert_eq!(times_three.dtype(), int_t, "{t}");
        let held = cast(&v, t);
        let want = |f: &dyn Fn(f64) -> f64| held.mapv(f);
        assert_eq!(as_f64(&plus_half.compute().unwrap()), want(&|e| e + 2.5));
        assert_eq!(as_f64(&from.compute().unwrap()), want(&|e| 2.5 - e));
        assert_eq!(as_f64(&times_three.compute().unwrap()), want(&|e| e * 3.0));
        let less = x.less(0.5).unwrap().compute().unwrap();
        assert_eq!(less, AnyNdArray::Bool(held.mapv(|e| e < 0.5)));
    }
}

#[test]
fn conversions_name_the_types() {
    let x: AnyArray = ndtask::arange(0i64, 10, 1, [4]).unwrap().into();
    let e = x.typed::<f32>().err().unwrap();
    assert!(
        matches!(&e, Error::InvalidArgument(m) if m.contains("holds i64 values, not f32") && m.contains("shape=[10]")),
        "{e}"
    );
    assert_eq!(x.cast::<f32>().sum().compute().unwrap(), 45.0);
    let got = x.compute().unwrap();
    assert!(got.clone().into_typed::<bool>().is_err());
    assert_eq!(got.into_typed::<i64>().unwrap().sum(), 45);
    // Bool arithmetic NumPy refuses is refused, at build time with try_* and when computed with
    // operators, naming bool.
    let b = x.greater(4i64).unwrap();
    assert!(b.try_sub(&b).unwrap_err().to_string().contains("bool"));
    assert!((-&b).compute().unwrap_err().to_string().contains("bool"));
    assert_eq!(
        (&b + &b).compute().unwrap(),
        b.compute().unwrap(),
        "bool + bool is or"
    );
    // An error of an operand reaches the result.
    let bad = &x + &AnyArray::from(ndtask::arange(0i64, 3, 1, [2]).unwrap());
    assert!(matches!(bad.check(), Err(Error::Shape(_))));
    assert!(matches!(bad.sum().compute(), Err(Error::Shape(_))));
    // min of an empty array has no identity.
    let empty: AnyArray = ndtask::full([0], [1], false).unwrap().into();
    assert!(empty.min().compute().is_err());
    assert_eq!(empty.sum().compute().unwrap(), AnyValue::I64(0));
}

#[test]
fn concatenate_and_where_promote() {
    let a: AnyArray = ndtask::arange(0i64, 4, 1, [3]).unwrap().into();
    let b: AnyArray = ndtask::arange(0.5f32, 2.5, 1.0, [1]).unwrap().into();
    let c = AnyArray::concatenate(&[a.clone(), b.clone()], 0).unwrap();
    assert_eq!(c.dtype(), DType::F64);
    assert_eq!(
        c.compute().unwrap(),
        AnyNdArray::F64(ndarray::arr1(&[0.0, 1.0, 2.0, 3.0, 0.5, 1.5]).into_dyn())
    );
    let cond = a.greater(1i64).unwrap();
    let w = AnyArray::where_(
        &cond,
        &a,
        &AnyArray::from(ndtask::full([4], [2], 9.5f32).unwrap()),
    )
    .unwrap();
    assert_eq!(w.dtype(), DType::F64);
    assert_eq!(
        as_f64(&w.compute().unwrap()),
        ndarray::arr1(&[9.5, 9.5, 2.0, 3.0]).into_dyn()
    );
    assert_eq!(a.sqrt().dtype(), DType::F64);
    assert_eq!(b.sqrt().dtype(), DType::F32);
    assert_eq!(a.abs().dtype(), DType::I64);
    assert_eq!(
        a.is_nan().compute().unwrap(),
        AnyNdArray::Bool(ndarray::arr1(&[false; 4]).into_dyn())
    );
}

/// Files NumPy wrote, of every type it stores and ndtask reads, open without a type and
/// compute what NumPy computes: reductions (integer sums exact beyond 2^53), element-wise
/// operations between every pair of ndtask's types, with arrays and Python scalars, in
/// NumPy's result type; on every scheduler and for three chunkings.
#[test]
fn numpy_is_the_oracle_for_every_stored_type() {
    let Some(py) = python(&["numpy"]) else {
        return;
    };
    let dir = temp("numpy");
    std::fs::create_dir_all(&dir).unwrap();
    let d = dir.display();
    run_python(
        &py,
        &format!(
            "import numpy as np, json, itertools\n\
             rng = np.random.default_rng(5)\n\
             s = (37, 23)\n\
             arrs = {{\n\
             \x20 'f8': np.round(rng.uniform(-10, 10, s), 3),\n\
             \x20 'f4': rng.uniform(-10, 10, s).astype('f4'),\n\
             \x20 'i8': rng.integers(-1000, 1000, s) + 2**44,\n\
             \x20 'i4': rng.integers(-2**31, 2**31 - 1, s, dtype='i4'),\n\
             \x20 'u1': rng.integers(0, 256, s, dtype='u1'),\n\
             \x20 'b1': rng.random(s) < 0.4,\n\
             }}\n\
             arrs['i8'][0, :5] = [0, -3, 7, 0, 12]\n\
             arrs['f8'][1, :3] = 0.0\n\
             stats = {{}}\n\
             for k, a in arrs.items():\n\
             \x20 np.save('{d}/' + k + '.npy', a)\n\
             \x20 f = a.astype('f8')\n\
             \x20 integer = a.dtype.kind in 'iub'\n\
             \x20 stats[k] = dict(dtype=str(a.dtype), sum=int(a.sum(dtype='i8')) if integer else float(a.sum(dtype='f8')),\n\
             \x20   mean=float(f.mean()), std=float(f.std()), min=float(f.min()), max=float(f.max()))\n\
             ops = dict(add=np.add, sub=np.subtract, mul=np.multiply, div=np.true_divide, floordiv=np.floor_divide,\n\
             \x20 rem=np.remainder, max=np.maximum, min=np.minimum, less=np.less)\n\
             res = {{}}\n\
             native = ['f8', 'f4', 'i8', 'b1']\n\
             with np.errstate(all='ignore'):\n\
             \x20 for a, b in itertools.product(native, native):\n\
             \x20   for name, f in ops.items():\n\
             \x20     key = a + '_' + b + '_' + name\n\
             \x20     try:\n\
             \x20       r = f(arrs[a], arrs[b][3])\n\
             \x20     except TypeError:\n\
             \x20       res[key] = None\n\
             \x20       continue\n\
             \x20     np.save('{d}/r_' + key + '.npy', r.astype('f8'))\n\
             \x20     res[key] = str(r.dtype)\n\
             \x20 for a in native:\n\
             \x20   for name, r in [('plus', arrs[a] + 2.5), ('times', arrs[a] * 3), ('rsub', 2.5 - arrs[a])]:\n\
             \x20     np.save('{d}/s_' + a + '_' + name + '.npy', r.astype('f8'))\n\
             \x20     res['s_' + a + '_' + name] = str(r.dtype)\n\
             \x20 for a in ['f8', 'f4', 'i8']:\n\
             \x20   r = np.sqrt(np.abs(arrs[a]))\n\
             \x20   np.save('{d}/u_' + a + '.npy', r.astype('f8'))\n\
             \x20   res['u_' + a] = str(r.dtype)\n\
             json.dump(dict(stats=stats, res=res), open('{d}/want.json', 'w'))\n"
        ),
    );
    let want: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("want.json")).unwrap()).unwrap();
    let load = |name: &str| -> ArrayD<f64> {
        ndtask::from_npy::<f64>(dir.join(name), [64, 64])
            .unwrap()
            .compute()
            .unwrap()
    };
    let row = |x: &AnyArray| x.slice(ndarray::s![3, ..]).unwrap();
    let chunkings = [
        Chunks::Block(vec![37, 23]),
        Chunks::Block(vec![5, 7]),
        Chunks::Explicit(vec![vec![20, 1, 16], vec![3, 20]]),
    ];
    for chunks in chunkings {
        for s in schedulers() {
            let open = |k: &str| open_npy(dir.join(format!("{k}.npy")), chunks.clone()).unwrap();
            for k in ["f8", "f4", "i8", "i4", "u1", "b1"] {
                let x = open(k);
                let st = &want["stats"][k];
                let numpy = st["dtype"].as_str().unwrap();
                assert_eq!(x.dtype(), ours(numpy), "{k}");
                let stored = match k {
                    "f8" => "f64",
                    "f4" => "f32",
                    "i8" => "i64",
                    "i4" => "i32",
                    "u1" => "u8",
                    _ => "bool",
                };
                assert_eq!(x.stored_dtype(), stored);
                let (sum, mean, std, min, max) = s
                    .compute((x.sum(), x.mean(), x.std(0.0), x.min(), x.max()))
                    .unwrap();
                match sum {
                    // Integer sums are exact: 851 values near 2^44 sum beyond f64's precision.
                    AnyValue::I64(v) => assert_eq!(v, st["sum"].as_i64().unwrap(), "{k}"),
                    v => {
                        let w = st["sum"].as_f64().unwrap();
                        let tol = if k == "f4" { 1e-5 } else { 1e-12 };
                        assert!(
                            (v.to_f64() - w).abs() <= tol * w.abs().max(1.0),
                            "{k} {v} {w}"
                        );
                    }
                }
                for (got, name) in [(mean, "mean"), (std, "std"), (min, "min"), (max, "max")] {
                    let w = st[name].as_f64().unwrap();
                    // The spread of values near 2^44, around a mean rounded to 2^-8: both
                    // NumPy's and ndtask's std lose digits there.
                    let tol = if (k, name) == ("i8", "std") {
                        1e-9
                    } else {
                        1e-12
                    };
                    assert!(
                        (got.to_f64() - w).abs() <= tol * w.abs().max(1.0),
                        "{k} {name}: {got} vs {w} on {}",
                        s.name()
                    );
                }
            }
            for (a, b) in TYPES
                .iter()
                .flat_map(|a| TYPES.iter().map(move |b| (*a, *b)))
            {
                let (x, y) = (open(code(a)), row(&open(code(b))));
                for op in OPS {
                    let key = format!("{}_{}_{op}", code(a), code(b));
                    let Some(numpy) = want["res"][&key].as_str() else {
                        assert!(lazy_op(&x, &y, op).is_err(), "{key}: NumPy refuses it");
                        continue;
                    };
                    let got = lazy_op(&x, &y, op).unwrap();
                    assert_eq!(got.dtype(), ours(numpy), "{key}: NumPy gives {numpy}");
                    let v = as_f64(&got.compute_with(&s).unwrap());
                    assert!(
                        same_bits(&v, &load(&format!("r_{key}.npy"))),
                        "{key} on {}",
                        s.name()
                    );
                }
            }
            for t in TYPES {
                let k = code(t);
                let x = open(k);
                for (name, got) in [("plus", &x + 2.5), ("times", &x * 3i64), ("rsub", 2.5 - &x)] {
                    let key = format!("s_{k}_{name}");
                    assert_eq!(
                        got.dtype(),
                        ours(want["res"][&key].as_str().unwrap()),
                        "{key}"
                    );
                    let v = as_f64(&got.compute_with(&s).unwrap());
                    assert!(same_bits(&v, &load(&format!("{key}.npy"))), "{key}");
                }
                if t != DType::Bool {
                    let key = format!("u_{k}");
                    let got = x.abs().sqrt();
                    assert_eq!(
                        got.dtype(),
                        ours(want["res"][&key].as_str().unwrap()),
                        "{key}"
                    );
                    let v = as_f64(&got.compute_with(&s).unwrap());
                    assert!(same_bits(&v, &load(&format!("{key}.npy"))), "{key}");
                }
            }
        }
    }
    // Writing back keeps the type, and NumPy reads it so.
    let x = open_npy(dir.join("f4.npy"), [10, 10]).unwrap();
    x.try_mul(2i64)
        .unwrap()
        .to_npy(dir.join("back.npy"))
        .and_then(|w| w.compute())
        .unwrap();
    run_python(
        &py,
        &format!(
            "import numpy as np\n\
             a = np.load('{d}/back.npy'); b = np.load('{d}/f4.npy')\n\
             assert a.dtype == np.float32, a.dtype\n\
             assert np.array_equal(a, b * 2)\n"
        ),
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A `.npy` file cut inside its header says so, and how many bytes the header needs.
#[test]
fn a_file_cut_inside_its_header_says_so() {
    let path = temp("whole.npy");
    ndtask::arange(0.0, 10.0, 1.0, [4])
        .unwrap()
        .to_npy(&path)
        .and_then(|w| w.compute())
        .unwrap();
    let bytes = std::fs::read(&path).unwrap();
    for cut in [4, 9, 30] {
        let p = temp("cut.npy");
        std::fs::write(&p, &bytes[..cut]).unwrap();
        let e = open_npy(&p, [4]).unwrap_err().to_string();
        assert!(
            e.contains("cut short inside its header")
                && e.contains(&format!("the file has {cut}"))
                && e.contains(&p.display().to_string()),
            "{e}"
        );
        std::fs::remove_file(&p).unwrap();
    }
    let x = open_npy(&path, [4]).unwrap();
    assert_eq!(
        x.compute_with(&sync()).unwrap(),
        AnyNdArray::F64(ndarray::Array::range(0.0, 10.0, 1.0).into_dyn())
    );
    std::fs::remove_file(&path).unwrap();
}

/// Every element type's computed values convert as they should.
#[test]
fn computed_values_convert() {
    fn check<T: Element>(v: T) {
        let x: AnyArray = ndtask::full([3], [2], v).unwrap().into();
        assert_eq!(x.dtype(), T::DTYPE);
        let got = x.compute().unwrap();
        assert_eq!(got.shape(), &[3]);
        assert_eq!(got.into_typed::<T>().unwrap()[[1]], v);
    }
    check(1.5f64);
    check(1.5f32);
    check(-7i64);
    check(true);
}
