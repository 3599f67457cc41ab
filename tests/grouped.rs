//! Group-wise reductions, group-wise arithmetic and moving windows along an axis, against eager
//! loops over ndarray, on every scheduler and random chunkings (computed inputs, NaN values,
//! positions in no group, empty groups, short merge trees); every scheduler gives the same
//! bits.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{chunks_for, data, schedulers, shape};
use ndarray::{ArrayD, Axis, Dimension, IxDyn};
use ndtask::array::{GroupArith, GroupReduce, RollingReduce};
use ndtask::{from_ndarray, Array, Chunks};
use proptest::prelude::*;

/// Random data with some NaN values (every seventh, from `seed`).
fn nan_data(shape: &[usize], seed: u64, nans: bool) -> ArrayD<f64> {
    let mut a = data(shape, seed);
    if nans {
        for (i, v) in a.iter_mut().enumerate() {
            if (i as u64 + seed).is_multiple_of(7) {
                *v = f64::NAN;
            }
        }
    }
    a
}

/// The eager reduction of one group's values.
fn eager(op: GroupReduce, vals: &[f64], skipna: bool) -> f64 {
    let v: Vec<f64> = if skipna {
        vals.iter().copied().filter(|v| !v.is_nan()).collect()
    } else {
        vals.to_vec()
    };
    let n = v.len() as f64;
    match op {
        GroupReduce::Sum => v.iter().sum(),
        GroupReduce::Prod => v.iter().product(),
        GroupReduce::Count => n,
        GroupReduce::Mean => {
            if n > 0.0 {
                v.iter().sum::<f64>() / n
            } else {
                f64::NAN
            }
        }
        GroupReduce::Min | GroupReduce::Max => {
            if v.is_empty() || v.iter().any(|x| x.is_nan()) {
                f64::NAN
            } else if op == GroupReduce::Min {
                v.iter().copied().fold(f64::INFINITY, f64::min)
            } else {
                v.iter().copied().fold(f64::NEG_INFINITY, f64::max)
            }
        }
        GroupReduce::Var(d) | GroupReduce::Std(d) => {
            let m = v.iter().sum::<f64>() / n;
            let var = if n - d > 0.0 {
                v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (n - d)
            } else {
                f64::NAN
            };
            if let GroupReduce::Std(_) = op {
                var.sqrt()
            } else {
                var
            }
        }
    }
}

/// The eager group reduction of `a` along `axis`.
fn eager_groups(
    a: &ArrayD<f64>,
    axis: usize,
    codes: &[Option<usize>],
    ngroups: usize,
    op: GroupReduce,
    skipna: bool,
) -> ArrayD<f64> {
    let mut shape = a.shape().to_vec();
    shape[axis] = ngroups;
    let mut out = ArrayD::<f64>::zeros(IxDyn(&shape));
    for g in 0..ngroups {
        let members: Vec<usize> = (0..codes.len()).filter(|&i| codes[i] == Some(g)).collect();
        let mut lane = out.index_axis_mut(Axis(axis), g);
        for (idx, o) in lane.indexed_iter_mut() {
            if members.is_empty() {
                // An empty group's count is 0 (an integer); every other result NaN.
                *o = if op == GroupReduce::Count {
                    0.0
                } else {
                    f64::NAN
                };
                continue;
            }
            let vals: Vec<f64> = members
                .iter()
                .map(|&m| {
                    let mut full: Vec<usize> = idx.as_array_view().to_vec();
                    full.insert(axis, m);
                    a[IxDyn(&full)]
                })
                .collect();
            *o = eager(op, &vals, skipna);
        }
    }
    out
}

fn close(got: &ArrayD<f64>, want: &ArrayD<f64>, what: &str) {
    assert_eq!(got.shape(), want.shape(), "{what}: shapes");
    for (g, w) in got.iter().zip(want.iter()) {
        let ok = (g.is_nan() && w.is_nan()) || g == w || (g - w).abs() <= 1e-12 * w.abs().max(1.0);
        assert!(ok, "{what}: got {g}, want {w}");
    }
}

fn bits(a: &ArrayD<f64>) -> Vec<u64> {
    a.iter().map(|v| v.to_bits()).collect()
}

const OPS: [GroupReduce; 8] = [
    GroupReduce::Sum,
    GroupReduce::Prod,
    GroupReduce::Mean,
    GroupReduce::Min,
    GroupReduce::Max,
    GroupReduce::Var(0.0),
    GroupReduce::Std(1.0),
    GroupReduce::Count,
];

/// A shape, a chunking, an axis, group codes (some `None`), a group count (some groups empty).
fn case() -> impl Strategy<Value = (Vec<usize>, Chunks, usize, Vec<Option<usize>>, usize)> {
    shape(9).prop_flat_map(|s| {
        let nd = s.len();
        (Just(s.clone()), chunks_for(s), 0..nd).prop_flat_map(|(s, c, axis)| {
            let len = s[axis];
            (1usize..6).prop_flat_map(move |ng| {
                let codes = prop::collection::vec(prop::option::weighted(0.85, 0..ng), len);
                (
                    Just(s.clone()),
                    Just(c.clone()),
                    Just(axis),
                    codes,
                    Just(ng),
                )
            })
        })
    })
}

fn grouped(
    x: &Array<f64>,
    axis: usize,
    codes: &[Option<usize>],
    ng: usize,
    split: usize,
    skipna: bool,
    op: GroupReduce,
) -> Array<f64> {
    let g = x
        .group_by(axis, codes, ng)
        .unwrap()
        .split_every(split)
        .skipna(skipna);
    if op == GroupReduce::Count {
        g.count().unwrap().astype::<f64>()
    } else {
        g.reduce(op).unwrap()
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Every reduction of random groups of a computed input, with and without NaN values and
    /// skipping, on every scheduler: the eager values to 1e-12, the same bits everywhere.
    #[test]
    fn group_reductions_match_eager_loops(
        (shape, chunks, axis, codes, ng) in case(),
        seed in 0u64..1000,
        split in 2usize..5,
        nans in any::<bool>(),
        skipna in any::<bool>(),
    ) {
        let a = nan_data(&shape, seed, nans);
        // A computed input, not a source.
        let x = from_ndarray(a.clone(), chunks).unwrap().map(|v| v * 2.0 + 1.0);
        let a = a.mapv(|v| v * 2.0 + 1.0);
        for op in OPS {
            let want = eager_groups(&a, axis, &codes, ng, op, skipna);
            let y = grouped(&x, axis, &codes, ng, split, skipna, op);
            let mut first: Option<Vec<u64>> = None;
            for config in schedulers() {
                let got = y.compute_with(&config).unwrap();
                close(&got, &want, &format!("{op:?} skipna={skipna} on {}", config.name()));
                let b = bits(&got);
                if let Some(f) = &first {
                    prop_assert_eq!(f, &b, "{:?}: bits differ on {}", op, config.name());
                } else {
                    first = Some(b);
                }
            }
        }
    }

    /// `x - g[group]` (an anomaly) against an eager loop, with the per-group values chunked
    /// differently from x and computed from x itself.
    #[test]
    fn group_arithmetic_matches_eager_loops(
        (shape, chunks, axis, codes, ng) in case(),
        seed in 0u64..1000,
        gchunk in 1usize..4,
    ) {
        let a = data(&shape, seed);
        let x = from_ndarray(a.clone(), chunks).unwrap();
        let g = x.group_by(axis, &codes, ng).unwrap();
        let clim = g.reduce(GroupReduce::Mean).unwrap();
        let mut cchunks: Vec<usize> = clim.shape();
        cchunks[axis] = gchunk;
        let clim = clim.rechunk(Chunks::Block(cchunks)).unwrap();
        let want_clim = eager_groups(&a, axis, &codes, ng, GroupReduce::Mean, true);
        for (op, f) in [
            (GroupArith::Sub, (|a: f64, b: f64| a - b) as fn(f64, f64) -> f64),
            (GroupArith::Div, |a, b| a / b),
            (GroupArith::Add, |a, b| a + b),
            (GroupArith::Mul, |a, b| a * b),
        ] {
            let y = g.apply(op, &clim).unwrap();
            let mut want = a.clone();
            for (idx, w) in want.indexed_iter_mut() {
                let t = idx[axis];
                *w = match codes[t] {
                    None => f64::NAN,
                    Some(k) => {
                        let mut gi: Vec<usize> = idx.as_array_view().to_vec();
                        gi[axis] = k;
                        f(*w, want_clim[IxDyn(&gi)])
                    }
                };
            }
            let mut first = None;
            for config in schedulers() {
                let got = y.compute_with(&config).unwrap();
                close(&got, &want, &format!("{op:?} on {}", config.name()));
                let b = bits(&got);
                if let Some(f) = &first { prop_assert_eq!(f, &b); } else { first = Some(b); }
            }
        }
    }

    /// Moving windows, trailing and centred, with min_periods, against eager loops.
    #[test]
    fn rolling_matches_eager_loops(
        (shape, chunks) in shape(9).prop_flat_map(|s| (Just(s.clone()), chunks_for(s))),
        axis_pick in 0usize..3,
        window in 1usize..6,
        center in any::<bool>(),
        min_pick in 0usize..6,
        seed in 0u64..1000,
        nans in any::<bool>(),
    ) {
        let axis = axis_pick % shape.len();
        let a = nan_data(&shape, seed, nans);
        let x = from_ndarray(a.clone(), chunks).unwrap();
        let min_periods = if min_pick == 0 { window } else { 1 + (min_pick - 1) % window };
        let (before, after) = if center { (window / 2, window - 1 - window / 2) } else { (window - 1, 0) };
        let n = shape[axis];
        for op in [RollingReduce::Sum, RollingReduce::Mean, RollingReduce::Min, RollingReduce::Max, RollingReduce::Count] {
            let y = x.rolling(axis, window).unwrap().center(center).min_periods(min_periods).unwrap().reduce(op).unwrap();
            let mut want = a.clone();
            for (idx, w) in want.indexed_iter_mut() {
                let t = idx[axis];
                let lo = t.saturating_sub(before);
                let hi = (t + after + 1).min(n);
                let vals: Vec<f64> = (lo..hi).map(|m| {
                    let mut full: Vec<usize> = idx.as_array_view().to_vec();
                    full[axis] = m;
                    a[IxDyn(&full)]
                }).filter(|v| !v.is_nan()).collect();
                *w = if vals.len() < min_periods { f64::NAN } else {
                    match op {
                        RollingReduce::Sum => vals.iter().sum(),
                        RollingReduce::Mean => vals.iter().sum::<f64>() / vals.len() as f64,
                        RollingReduce::Min => vals.iter().copied().fold(f64::INFINITY, f64::min),
                        RollingReduce::Max => vals.iter().copied().fold(f64::NEG_INFINITY, f64::max),
                        RollingReduce::Count => vals.len() as f64,
                    }
                };
            }
            let mut first = None;
            for config in schedulers() {
                let got = y.compute_with(&config).unwrap();
                close(&got, &want, &format!("rolling {op:?} on {}", config.name()));
                let b = bits(&got);
                if let Some(f) = &first { prop_assert_eq!(f, &b); } else { first = Some(b); }
            }
        }
    }
}

/// Bad arguments are errors that name them.
#[test]
fn bad_groups_and_windows_are_clear_errors() {
    let x = from_ndarray(data(&[4, 3], 1), [2, 2]).unwrap();
    let e = x.group_by(2, &[Some(0)], 1).err().unwrap().to_string();
    assert!(e.contains("axis 2"), "{e}");
    let e = x.group_by(0, &[Some(0)], 1).err().unwrap().to_string();
    assert!(e.contains("1 group codes") && e.contains("length 4"), "{e}");
    let e = x
        .group_by(0, &[Some(0), Some(3), None, None], 2)
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("position 1") && e.contains("group 3"), "{e}");
    let g = x.group_by(0, &[Some(0), Some(1), None, None], 2).unwrap();
    let e = g.apply(GroupArith::Sub, &x).err().unwrap().to_string();
    assert!(e.contains("[4, 3]") && e.contains("[2, 3]"), "{e}");
    let e = x.rolling(0, 0).err().unwrap().to_string();
    assert!(e.contains("window"), "{e}");
    let e = x
        .rolling(0, 3)
        .unwrap()
        .min_periods(4)
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("min_periods 4"), "{e}");
}

/// An empty axis and no groups give empty or NaN results, not errors.
#[test]
fn empty_axes_and_no_groups() {
    let x = from_ndarray(ArrayD::<f64>::zeros(IxDyn(&[0, 3])), [1, 2]).unwrap();
    let g = x.group_by(0, &[], 2).unwrap();
    let m = g.reduce(GroupReduce::Mean).unwrap().compute().unwrap();
    assert_eq!(m.shape(), &[2, 3]);
    assert!(m.iter().all(|v| v.is_nan()));
    assert_eq!(g.count().unwrap().compute().unwrap().sum(), 0);
    let y = from_ndarray(data(&[3, 2], 2), [2, 1]).unwrap();
    let none = y.group_by(0, &[None, None, None], 0).unwrap();
    assert_eq!(
        none.reduce(GroupReduce::Sum)
            .unwrap()
            .compute()
            .unwrap()
            .shape(),
        &[0, 2]
    );
    let r = x
        .rolling(0, 2)
        .unwrap()
        .reduce(RollingReduce::Mean)
        .unwrap()
        .compute()
        .unwrap();
    assert_eq!(r.shape(), &[0, 3]);
}
