//! Random arrays: Philox known answers, values that do not depend on the chunking (nor on
//! slicing, the scheduler or the array's length), the distributions' moments and goodness of
//! fit over 1e7 draws, and the NumPy parity stream.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod common;

use common::*;
use ndarray::{ArrayD, Axis, SliceInfoElem};
use ndtask::random::{default_rng, Philox, RandomFloat};
use ndtask::{Array, Chunks};
use proptest::prelude::*;

/// Every random source of one generator, as f64 arrays (f32 and integers converted exactly).
fn all_kinds(seed: u64, shape: &[usize], chunks: Chunks) -> Vec<(&'static str, Array<f64>)> {
    let rng = default_rng(seed);
    vec![
        (
            "uniform f64",
            rng.uniform::<f64>(shape, chunks.clone()).unwrap(),
        ),
        (
            "uniform f32",
            rng.uniform::<f32>(shape, chunks.clone())
                .unwrap()
                .astype::<f64>(),
        ),
        (
            "uniform_range",
            rng.uniform_range::<f64>(-3.0, 5.0, shape, chunks.clone())
                .unwrap(),
        ),
        (
            "normal f64",
            rng.normal::<f64>(1.0, 2.0, shape, chunks.clone()).unwrap(),
        ),
        (
            "normal f32",
            rng.standard_normal::<f32>(shape, chunks.clone())
                .unwrap()
                .astype::<f64>(),
        ),
        (
            "integers",
            rng.integers(-1000, 1 << 40, shape, chunks)
                .unwrap()
                .astype::<f64>(),
        ),
    ]
}

/// A random selection of every axis: a range with a step of either sign.
fn selection(shape: &[usize], seed: u64) -> Vec<SliceInfoElem> {
    let mut rng = common::chain::Rng::new(seed);
    shape
        .iter()
        .map(|&d| {
            let lo = rng.below(d + 1);
            let hi = lo + rng.below(d - lo + 1);
            SliceInfoElem::Slice {
                start: lo as isize,
                end: Some(hi as isize),
                step: [1isize, 2, 3, -1, -2][rng.below(5)],
            }
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// The same seed gives the same values for any two chunkings, on every scheduler, and a
    /// slice gives the elements it selects.
    #[test]
    fn values_do_not_depend_on_chunking(
        (shape, c1, c2) in shape(9).prop_flat_map(|s| (Just(s.clone()), chunks_for(s.clone()), chunks_for(s))),
        seed in any::<u64>(),
    ) {
        let sel = selection(&shape, seed);
        let a = all_kinds(seed, &shape, c1);
        let b = all_kinds(seed, &shape, c2);
        for ((name, x), (_, y)) in a.iter().zip(&b) {
            let want = x.compute_with(&sync()).unwrap();
            for s in schedulers() {
                let got = y.compute_with(&s).unwrap();
                prop_assert!(same_bits(&got, &want), "{} with {} on {}", name, y, s.name());
                let sliced = y.slice(&sel).unwrap().compute_with(&s).unwrap();
                prop_assert!(same_bits(&sliced, &want.slice(sel.as_slice()).to_owned()), "{} sliced", name);
            }
        }
    }

    /// A transpose of a random array (made in transposed order, not gathered) gives the
    /// transposed values, for any permutation, chunking and scheduler, sliced before or after.
    #[test]
    fn transposes_are_the_transposed_values(
        (shape, c1, c2) in shape(9).prop_flat_map(|s| (Just(s.clone()), chunks_for(s.clone()), chunks_for(s))),
        seed in any::<u64>(),
        rot in 0usize..6,
    ) {
        let mut perm: Vec<usize> = (0..shape.len()).collect();
        perm.rotate_left(rot % shape.len());
        if rot >= 3 && shape.len() > 1 {
            perm.swap(0, 1);
        }
        let sel = selection(&shape, seed);
        let unit: Vec<SliceInfoElem> = sel
            .iter()
            .map(|e| match *e {
                SliceInfoElem::Slice { start, end, .. } => SliceInfoElem::Slice { start, end, step: 1 },
                other => other,
            })
            .collect();
        let a = all_kinds(seed, &shape, c1);
        let b = all_kinds(seed, &shape, c2);
        for ((name, x), (_, y)) in a.iter().zip(&b) {
            let want = x.compute_with(&sync()).unwrap();
            let t = want.view().permuted_axes(perm.clone()).to_owned();
            let lazy = y.permuted_axes(&perm).unwrap();
            for s in schedulers() {
                prop_assert!(same_bits(&lazy.compute_with(&s).unwrap(), &t), "{} {:?} on {}", name, perm, s.name());
            }
            for sel in [&sel, &unit] {
                // Sliced, then transposed; and the transposed array sliced.
                let st = want.slice(sel.as_slice()).permuted_axes(perm.clone()).to_owned();
                let got = y.slice(sel).unwrap().permuted_axes(&perm).unwrap().compute().unwrap();
                prop_assert!(same_bits(&got, &st), "{} sliced then {:?}", name, perm);
                let psel: Vec<SliceInfoElem> = perm.iter().map(|&p| sel[p]).collect();
                let ts = t.slice(psel.as_slice()).to_owned();
                let got = lazy.slice(&psel).unwrap().compute().unwrap();
                prop_assert!(same_bits(&got, &ts), "{} {:?} then sliced", name, perm);
            }
        }
    }

    /// A shorter array is a prefix of a longer one (row-major), for every distribution.
    #[test]
    fn prefixes_agree(rows in 1usize..40, more in 0usize..40, cols in 1usize..7, c in 1usize..9, seed in any::<u64>()) {
        let short = all_kinds(seed, &[rows, cols], Chunks::Block(vec![c, cols.min(c)]));
        let long = all_kinds(seed, &[rows + more, cols], Chunks::Block(vec![c + 3, 2]));
        for ((name, x), (_, y)) in short.iter().zip(&long) {
            let a = x.compute().unwrap();
            let b = y.compute().unwrap();
            let head = b.slice_axis(Axis(0), (0..rows).into()).to_owned();
            prop_assert!(same_bits(&a, &head), "{}", name);
        }
        // 1-D: the flat prefix, across shapes.
        let flat = default_rng(seed).uniform::<f64>([rows * cols], [c]).unwrap().compute().unwrap();
        let two_d = short[0].1.compute().unwrap();
        prop_assert!(flat.iter().zip(two_d.iter()).all(|(p, q)| p.to_bits() == q.to_bits()));
    }
}

/// Mean and variance of a sample.
fn moments(v: &ArrayD<f64>) -> (f64, f64) {
    let n = v.len() as f64;
    let mean = v.sum() / n;
    let var = v.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n;
    (mean, var)
}

/// Pearson's chi-square of counts against equal expected counts.
fn chi_square(counts: &[u64]) -> f64 {
    let total: u64 = counts.iter().sum();
    let e = total as f64 / counts.len() as f64;
    counts.iter().map(|&c| (c as f64 - e).powi(2) / e).sum()
}

/// The chi-square bound for `dof` degrees of freedom far in the upper tail (about 5 sigma).
fn chi_bound(dof: usize) -> f64 {
    dof as f64 + 5.5 * (2.0 * dof as f64).sqrt()
}

const N: usize = 10_000_000;

#[test]
fn uniform_moments_and_fit() {
    let rng = default_rng(2026);
    for (name, x) in [
        ("f64", rng.uniform::<f64>([N], [1_000_000]).unwrap()),
        (
            "f32",
            rng.uniform::<f32>([N], [999_999]).unwrap().astype::<f64>(),
        ),
    ] {
        let v = x.compute().unwrap();
        assert!(v.iter().all(|&u| (0.0..1.0).contains(&u)), "{name}");
        let (mean, var) = moments(&v);
        let sd = (1.0 / 12.0 / N as f64).sqrt();
        assert!((mean - 0.5).abs() < 6.0 * sd, "{name}: mean {mean}");
        assert!(
            (var - 1.0 / 12.0).abs() < 1e-3 / 12.0 * 3.0,
            "{name}: var {var}"
        );
        let mut counts = vec![0u64; 1000];
        v.iter().for_each(|&u| counts[(u * 1000.0) as usize] += 1);
        let chi = chi_square(&counts);
        assert!(
            chi < chi_bound(999) && chi > 999.0 - 5.5 * 44.7,
            "{name}: chi2 {chi}"
        );
    }
    let r = rng.uniform_range::<f64>(-3.0, 5.0, [N], [1 << 20]).unwrap();
    let v = r.compute().unwrap();
    assert!(v.iter().all(|&u| (-3.0..5.0).contains(&u)));
    let (mean, var) = moments(&v);
    assert!(
        (mean - 1.0).abs() < 6.0 * (64.0 / 12.0 / N as f64).sqrt(),
        "{mean}"
    );
    assert!((var - 64.0 / 12.0).abs() < 0.02, "{var}");
}

/// The standard normal CDF (Abramowitz and Stegun 7.1.26, absolute error below 1.5e-7).
fn phi(x: f64) -> f64 {
    let z = x.abs() / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.327_591_1 * z);
    let poly = t
        * (0.254_829_592
            + t * (-0.284_496_736
                + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    let erf = 1.0 - poly * (-z * z).exp();
    0.5 * (1.0 + if x < 0.0 { -erf } else { erf })
}

#[test]
fn normal_moments_and_fit() {
    let x = default_rng(7)
        .standard_normal::<f64>([N], [1_000_000])
        .unwrap();
    let mut v: Vec<f64> = x.compute().unwrap().iter().copied().collect();
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    let m2 = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n;
    let m3 = v.iter().map(|x| (x - mean).powi(3)).sum::<f64>() / n;
    let m4 = v.iter().map(|x| (x - mean).powi(4)).sum::<f64>() / n;
    assert!(mean.abs() < 6.0 / n.sqrt(), "mean {mean}");
    assert!((m2 - 1.0).abs() < 6.0 * (2.0 / n).sqrt(), "var {m2}");
    assert!(
        (m3 / m2.powf(1.5)).abs() < 6.0 * (6.0 / n).sqrt(),
        "skew {m3}"
    );
    assert!(
        (m4 / (m2 * m2) - 3.0).abs() < 6.0 * (24.0 / n).sqrt(),
        "kurtosis {m4}"
    );
    // The tail beyond the ziggurat's base (|x| > 3.4426) has its share: 2 (1 - Phi(R)).
    let r = 3.442_619_855_899;
    let tail = v.iter().filter(|x| x.abs() > r).count() as f64;
    let p = 2.0 * (1.0 - phi(r));
    assert!(
        (tail - n * p).abs() < 6.0 * (n * p).sqrt(),
        "tail {tail} vs {}",
        n * p
    );
    // Kolmogorov-Smirnov against the normal CDF.
    v.sort_by(f64::total_cmp);
    let d = v
        .iter()
        .enumerate()
        .map(|(i, &x)| {
            let f = phi(x);
            (f - i as f64 / n).abs().max(((i + 1) as f64 / n - f).abs())
        })
        .fold(0.0, f64::max);
    assert!(d < 1.95 / n.sqrt() * 1.3, "KS distance {d}");
    // f32 normals are the f64 ones rounded.
    let x32 = default_rng(7).standard_normal::<f32>([1000], [64]).unwrap();
    let x64 = default_rng(7)
        .standard_normal::<f64>([1000], [100])
        .unwrap();
    let (a, b) = (x32.compute().unwrap(), x64.compute().unwrap());
    assert!(a.iter().zip(b.iter()).all(|(&p, &q)| p == q as f32));
}

#[test]
fn integers_fit_and_stay_in_range() {
    let rng = default_rng(11);
    let v = rng
        .integers(-3, 7, [N], [1_000_000])
        .unwrap()
        .compute()
        .unwrap();
    let mut counts = vec![0u64; 10];
    v.iter().for_each(|&x| counts[(x + 3) as usize] += 1);
    assert!(chi_square(&counts) < chi_bound(9), "{counts:?}");
    // A range that is not a power of two and close to 2^63: no modulo bias (Lemire).
    let hi = 3i64 << 61;
    let w = rng
        .integers(0, hi, [N], [1 << 20])
        .unwrap()
        .compute()
        .unwrap();
    assert!(w.iter().all(|&x| (0..hi).contains(&x)));
    let mut counts = vec![0u64; 1000];
    w.iter()
        .for_each(|&x| counts[(x as f64 / hi as f64 * 1000.0) as usize] += 1);
    assert!(chi_square(&counts) < chi_bound(999));
    // The full range.
    let full = rng
        .integers(i64::MIN, i64::MAX, [1000], [7])
        .unwrap()
        .compute()
        .unwrap();
    assert!(full.iter().any(|&x| x < 0) && full.iter().any(|&x| x > 0));
}

/// FNV-1a 64 of the little-endian bytes of the values.
fn fnv(values: &ArrayD<f64>) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for v in values {
        for b in v.to_le_bytes() {
            h = (h ^ b as u64).wrapping_mul(0x100_0000_01b3);
        }
    }
    h
}

/// NumPy parity: `np.random.Generator(np.random.Philox(key=k)).random(1_000_000)` made with
/// NumPy 2.4.6; its FNV-1a hash (over the little-endian bytes) and some of its values.
#[test]
fn numpy_philox_stream_bit_for_bit() {
    for (key, hash, first, second, last) in [
        (
            0u64,
            0xb181_43b2_9c04_a235u64,
            0.011546754286331562,
            0.24154919656271812,
            0.04040332094189403,
        ),
        (
            12345,
            0xf05a_6672_0369_1d76,
            0.6463801884227345,
            0.7742675977164786,
            0.08261665638341531,
        ),
        (
            u64::MAX,
            0xc700_f51d_fde7_19d7,
            0.23494158814525556,
            0.7173107484541781,
            0.7690202804201298,
        ),
    ] {
        // Any chunking gives NumPy's stream.
        for chunk in [1_000_000, 65_537, 3] {
            if chunk == 3 && key != 0 {
                continue; // tiny chunks: slow, and the same code path
            }
            let v = Philox::numpy(key)
                .random([1_000_000], [chunk])
                .unwrap()
                .compute()
                .unwrap();
            assert_eq!(
                (v[[0]], v[[1]], v[[999_999]]),
                (first, second, last),
                "key {key}"
            );
            assert_eq!(fnv(&v), hash, "key {key}, chunks of {chunk}");
        }
    }
    assert_eq!(Philox::numpy(0).next_u64_at(1), 0x3dd6_2b0b_9ca8_c5b2);
    assert_eq!(Philox::numpy(0).next_u64_at(3), 0x907d_7a05_2fd5_b4dc);
}

/// Transposed random matrices and stacks of them, made in groups of rows sharing Philox blocks:
/// rows a whole number of blocks long or not (odd widths), regions starting inside a block,
/// rows longer than a batch of lanes, and rows that are whole tiles.
#[test]
fn transposed_regions_match_for_any_width_and_offset() {
    for (shape, chunks) in [
        (vec![67, 131], vec![20, 33]),
        (vec![64, 130], vec![64, 130]),
        (vec![70, 132], vec![33, 65]),
        (vec![3, 41, 37], vec![2, 17, 9]),
        // Rows of the transpose longer than half a tile: each tile is one whole row.
        (vec![600, 40], vec![600, 40]),
        // Rows too long for a group: the region is read and permuted instead.
        (vec![70_000, 3], vec![70_000, 2]),
        (vec![701, 7], vec![650, 5]),
    ] {
        for (name, x) in all_kinds(7, &shape, Chunks::Block(chunks.clone())) {
            let want = x.compute().unwrap();
            let n = shape.len();
            let mut perm: Vec<usize> = (0..n).collect();
            perm.swap(n - 2, n - 1);
            let t = x.permuted_axes(&perm).unwrap();
            let got = t.compute().unwrap();
            let eager = want.view().permuted_axes(perm.clone()).to_owned();
            assert!(same_bits(&got, &eager), "{name} {shape:?}");
            // A window starting at an odd column and row.
            let sel: Vec<SliceInfoElem> = shape
                .iter()
                .map(|&d| SliceInfoElem::Slice {
                    start: 1,
                    end: Some(d as isize - 2),
                    step: 1,
                })
                .collect();
            let got = x
                .slice(&sel)
                .unwrap()
                .permuted_axes(&perm)
                .unwrap()
                .compute()
                .unwrap();
            let eager = want
                .slice(sel.as_slice())
                .permuted_axes(perm.clone())
                .to_owned();
            assert!(same_bits(&got, &eager), "{name} {shape:?} sliced");
            for s in schedulers() {
                assert!(same_bits(
                    &t.compute_with(&s).unwrap(),
                    &want.view().permuted_axes(perm.clone()).to_owned()
                ));
            }
        }
    }
}

/// The Monte Carlo pi of `examples/pi_chunked.rs` counts the same hits for any chunk size, with
/// `f32` coordinates (its default) and with `f64` ones.
#[test]
fn pi_does_not_depend_on_chunk_size() {
    fn hits<T: RandomFloat>(chunk: usize) -> i64 {
        let rng = default_rng(42);
        let x = rng.uniform::<T>([5_000_000], [chunk]).unwrap();
        let y = rng.uniform::<T>([5_000_000], [chunk]).unwrap();
        (&x * &x + &y * &y)
            .less_equal(T::from_f64(1.0))
            .unwrap()
            .count_true()
            .compute()
            .unwrap()
    }
    let (h32, h64) = (hits::<f32>(1_000_000), hits::<f64>(1_000_000));
    for chunk in [300_000, 1_234_567, 5_000_000] {
        assert_eq!(hits::<f32>(chunk), h32, "f32, chunk {chunk}");
        assert_eq!(hits::<f64>(chunk), h64, "f64, chunk {chunk}");
    }
    for h in [h32, h64] {
        assert!((4.0 * h as f64 / 5e6 - std::f64::consts::PI).abs() < 3e-3);
    }
}

/// The NumPy counterpart is `Philox(key=key)`: NumPy's first positional argument is a seed
/// (hashed through `SeedSequence`), so the positional form gives other numbers. Checked with
/// NumPy itself, and every doc that names the counterpart must write the key by name.
#[test]
fn the_numpy_counterpart_takes_the_key_by_name() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = vec![root.join("README.md")];
    for dir in ["docs", "crates/ndtask-array/src/ops/random"] {
        for e in std::fs::read_dir(root.join(dir)).unwrap() {
            files.push(e.unwrap().path());
        }
    }
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap_or_default();
        for (i, line) in text.lines().enumerate() {
            let mut rest = line;
            while let Some(at) = rest.find("Philox(") {
                let arg = &rest[at + "Philox(".len()..];
                assert!(
                    arg.starts_with("key=") || arg.starts_with(')'),
                    "{}:{}: write NumPy's Philox with key= (its positional argument is a seed): {line}",
                    f.display(),
                    i + 1
                );
                rest = arg;
            }
        }
    }
    let Some(py) = common::python(&["numpy"]) else {
        return;
    };
    let out = std::process::Command::new(&py)
        .args([
            "-c",
            "import numpy as np\n\
             print(repr(float(np.random.Generator(np.random.Philox(key=12345)).random())))\n\
             print(repr(float(np.random.Generator(np.random.Philox(12345)).random())))",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    let v: Vec<f64> = text.lines().map(|l| l.parse().unwrap()).collect();
    let ours = Philox::numpy(12345)
        .random([3], [2])
        .unwrap()
        .compute()
        .unwrap()[[0]];
    assert_eq!(ours, v[0], "Philox(key=12345)");
    assert_ne!(
        ours, v[1],
        "the positional Philox(12345) is a seed, not the key"
    );
}
