//! Labelled arrays against Xarray as the oracle (tests/labelled/oracle.py): files Xarray
//! writes read with the same dimensions, coordinates, attributes and values; every operation
//! on three chunkings and every scheduler to 1e-12 relative, with the same bits on every
//! scheduler; files ndtask writes read back by Xarray the same way; bad input as clear errors.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{python, schedulers};
use ndarray::ArrayD;
use ndtask::labelled::{
    open_dataset, Arith, Coordinate, DataArray, Dataset, GroupArith, Isel, Labels, Method, Reduce,
    Sel,
};
use ndtask::DType;
use serde_json::Value;
use std::path::{Path, PathBuf};

fn temp(name: &str) -> PathBuf {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let d = std::env::temp_dir().join(format!("ndtask-labelled-{name}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn oracle(py: &Path, args: &[&str]) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/labelled/oracle.py");
    let out = std::process::Command::new(py)
        .arg(script)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "oracle.py {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn npy(path: &Path) -> ArrayD<f64> {
    let (shape, _) = ndtask::io::npy_shape(path).unwrap();
    let chunks: Vec<usize> = shape.iter().map(|&n| n.max(1)).collect();
    ndtask::io::open_npy(path, chunks)
        .unwrap()
        .compute()
        .unwrap()
        .to_f64()
}

fn meta(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Asserts values agree to `tol` relative to the largest value (a difference of means such as
/// an anomaly cancels digits), NaN with NaN.
fn close(got: &ArrayD<f64>, want: &ArrayD<f64>, tol: f64, what: &str) {
    assert_eq!(got.shape(), want.shape(), "{what}: shapes");
    let scale = want
        .iter()
        .filter(|w| w.is_finite())
        .fold(1e-300, |m: f64, w| m.max(w.abs()));
    for (g, w) in got.iter().zip(want.iter()) {
        let ok = (g.is_nan() && w.is_nan()) || g == w || (g - w).abs() <= tol * scale;
        assert!(ok, "{what}: got {g}, want {w}");
    }
}

/// Asserts the coordinates Xarray gives are ours: names, dimensions and labels.
fn same_coords(got: &DataArray, want: &Value, what: &str) {
    let dims: Vec<String> = serde_json::from_value(want["dims"].clone()).unwrap();
    assert_eq!(got.dims(), dims.as_slice(), "{what}: dims");
    let coords = want["coords"].as_object().unwrap();
    for (name, c) in coords {
        let ours = got.coords().get(name).unwrap_or_else(|| {
            panic!(
                "{what}: no coordinate {name} (ours: {:?})",
                got.coords().names()
            )
        });
        assert_eq!(
            ours.dim.as_deref(),
            c["dim"].as_str(),
            "{what}: the dimension of {name}"
        );
        let vals = c["values"].as_array().unwrap();
        assert_eq!(ours.labels.len(), vals.len(), "{what}: labels of {name}");
        match (&ours.labels, c["kind"].as_str().unwrap()) {
            (Labels::Time(t), "time") => {
                let w: Vec<i64> = vals.iter().map(|v| v.as_i64().unwrap()).collect();
                assert_eq!(t, &w, "{what}: labels of {name}");
            }
            (Labels::Str(s), "str") => {
                let w: Vec<&str> = vals.iter().map(|v| v.as_str().unwrap()).collect();
                assert_eq!(s, &w, "{what}: labels of {name}");
            }
            (l, "float" | "int") => {
                let w: Vec<f64> = vals.iter().map(|v| v.as_f64().unwrap()).collect();
                assert_eq!(l.numbers().unwrap(), w, "{what}: labels of {name}");
            }
            (l, k) => panic!("{what}: {name} holds {} labels, Xarray {k}", l.dtype_name()),
        }
    }
    let ours: Vec<&str> = got.coords().names();
    assert_eq!(
        ours.len(),
        coords.len(),
        "{what}: coordinates {ours:?} vs {:?}",
        coords.keys().collect::<Vec<_>>()
    );
}

/// Every operation the oracle ran, built on `ds`.
fn ops(ds: &Dataset) -> Vec<(&'static str, DataArray)> {
    let air = ds.var("air").unwrap();
    let gb = air.groupby("time.month").unwrap();
    let clim = gb.mean().unwrap();
    let anomaly = gb.arith(GroupArith::Sub, &clim).unwrap();
    let f32v = ds.var("f32").unwrap();
    let r = |x: ndtask::Result<DataArray>| x.unwrap();
    vec![
        (
            "isel",
            r(air.isel([
                (
                    "time",
                    Isel::Slice {
                        start: Some(5),
                        stop: Some(40),
                        step: 3,
                    },
                ),
                ("lat", 2i64.into()),
            ])),
        ),
        (
            "isel_neg",
            r(air.isel([
                ("time", Isel::Index(-1)),
                (
                    "lon",
                    Isel::Slice {
                        start: None,
                        stop: None,
                        step: -2,
                    },
                ),
            ])),
        ),
        ("sel_month", r(air.sel([("time", "2013-05".into())]))),
        ("sel_day", r(air.sel([("time", "2013-02-03".into())]))),
        (
            "sel_exact_time",
            r(air.sel([("time", "2013-02-03T06:00".into())])),
        ),
        (
            "sel_nearest",
            r(air.sel_with(
                [("lat", 40.0.into()), ("lon", 211.0.into())],
                Method::Nearest(None),
            )),
        ),
        (
            "sel_tolerance",
            r(air.sel_with(
                [("lat", Sel::Labels(vec![42.0.into(), 57.0.into()]))],
                Method::Nearest(Some(3.0)),
            )),
        ),
        (
            "sel_slice",
            r(air.sel([
                ("lat", Sel::slice(60.0, 30.0)),
                ("time", Sel::slice("2013-02-10", "2013-03-05")),
            ])),
        ),
        (
            "sel_station",
            r(r(air.sel([("lon", 212.5.into())])).sel([("lat", 25.0.into())])),
        ),
        ("mean_time", r(air.mean(&["time"]))),
        ("std_latlon", r(air.std(&["lat", "lon"]))),
        ("sum_all", r(air.sum(&[]))),
        ("min_lon", r(air.min(&["lon"]))),
        ("max_time", r(air.max(&["time"]))),
        ("count_time", r(air.count(&["time"]))),
        ("var_ddof", r(air.reduce(Reduce::Var(1.0), &["time"]))),
        ("packed", ds.var("packed").unwrap()),
        ("packed_mean", r(ds.var("packed").unwrap().mean(&["time"]))),
        ("f32", f32v.clone()),
        ("counts_mean", r(ds.var("counts").unwrap().mean(&[]))),
        ("plus_f32", r(air.try_add(&f32v))),
        (
            "transposed_sub",
            r(air.try_sub(&r(r(air.transpose(&["lon", "lat", "time"])).try_mul(0.5)))),
        ),
        ("where", r(air.where_(&r(air.arith(Arith::Gt, 280.0))))),
        ("gt", r(air.arith(Arith::Gt, 285.0)).astype(DType::F64)),
        ("gb_month", clim),
        ("gb_season", r(air.groupby("time.season").unwrap().mean())),
        ("gb_hour_std", r(air.groupby("time.hour").unwrap().std())),
        (
            "gb_doy_max",
            r(air.groupby("time.dayofyear").unwrap().max()),
        ),
        ("gb_month_count", r(gb.count())),
        ("gb_lat", r(air.groupby("lat").unwrap().sum())),
        ("anomaly", anomaly.clone()),
        ("anomaly_std", r(anomaly.std(&["time"]))),
        ("resample_1d", r(air.resample("time", "1D").unwrap().mean())),
        ("resample_ms", r(air.resample("time", "MS").unwrap().mean())),
        (
            "resample_me_sum",
            r(air.resample("time", "ME").unwrap().sum()),
        ),
        (
            "resample_3d_max",
            r(air.resample("time", "3D").unwrap().max()),
        ),
        (
            "resample_gap_count",
            r(
                r(air.isel([("time", Isel::Positions((0..40).chain(80..120).collect()))]))
                    .resample("time", "1D")
                    .unwrap()
                    .count(),
            ),
        ),
        ("rolling4", r(air.rolling("time", 4).unwrap().mean())),
        (
            "rolling_center",
            r(air.rolling("time", 5).unwrap().center(true).mean()),
        ),
        (
            "rolling_minp",
            r(air.rolling("time", 3).unwrap().min_periods(1).sum()),
        ),
        (
            "transpose_mean",
            r(r(air.transpose(&["lon", "lat", "time"])).mean(&["lat"])),
        ),
        (
            "renamed",
            r(r(air.rename(&[("lat", "latitude")])).isel([("time", 0i64.into())])),
        ),
    ]
}

/// Everything the oracle made, once per test run.
fn made(py: &Path) -> PathBuf {
    let dir = temp("oracle");
    oracle(py, &["make", dir.to_str().unwrap(), "7"]);
    dir
}

/// Asserts the file `fname` in `dir` reads as Xarray read it (`dir/read/fname`): dimensions,
/// variables, attributes, coordinates, types and values to the bit.
fn reads_as_xarray(dir: &Path, fname: &str) {
    let ds = open_dataset(dir.join(fname), &[]).unwrap();
    let read = dir.join("read").join(fname);
    let m = meta(&read.join("dataset.json"));
    let dims: Vec<(String, usize)> = ds.dims();
    for (d, n) in m["dims"].as_object().unwrap() {
        assert!(
            dims.contains(&(d.clone(), n.as_u64().unwrap() as usize)),
            "{fname}: dims {dims:?}"
        );
    }
    let mut vars: Vec<&str> = ds.data_vars();
    vars.sort_unstable();
    let mut want: Vec<String> = serde_json::from_value(m["data_vars"].clone()).unwrap();
    want.sort_unstable();
    assert_eq!(vars, want);
    for (k, v) in m["attrs"].as_object().unwrap() {
        let ours = ds
            .attrs()
            .get(k)
            .unwrap_or_else(|| panic!("{fname}: attribute {k}"));
        match v {
            Value::String(s) => assert_eq!(ours.as_text(), Some(s.as_str())),
            n => assert_eq!(ours.as_f64(), n.as_f64(), "{fname}: attribute {k}"),
        }
    }
    for v in &want {
        let da = ds.var(v).unwrap();
        let vm = meta(&read.join(format!("{v}.json")));
        same_coords(&da, &vm, &format!("{fname}:{v}"));
        let dt = vm["dtype"].as_str().unwrap();
        if dt.starts_with("float") {
            assert_eq!(da.dtype_name(), dt, "{fname}:{v}: dtype");
        } else {
            assert_eq!(da.data().stored_dtype(), dt, "{fname}:{v}: stored dtype");
        }
        for (k, a) in vm["attrs"].as_object().unwrap() {
            let ours = da
                .attrs()
                .get(k)
                .unwrap_or_else(|| panic!("{fname}:{v}: attribute {k}"));
            if let Value::String(s) = a {
                assert_eq!(ours.as_text(), Some(s.as_str()));
            }
        }
        // Decoded exactly as Xarray decodes: the same bits.
        let got = da.values().unwrap().to_f64();
        let want = npy(&read.join(format!("{v}.npy")));
        assert_eq!(got.shape(), want.shape());
        for (g, w) in got.iter().zip(want.iter()) {
            assert!(
                g.to_bits() == w.to_bits() || (g.is_nan() && w.is_nan()),
                "{fname}:{v}: {g} vs {w}"
            );
        }
    }
}

#[test]
fn files_xarray_writes_read_the_same() {
    let Some(py) = python(&["xarray", "scipy"]) else {
        return;
    };
    let dir = made(&py);
    for fname in ["data.nc", "classic.nc"] {
        reads_as_xarray(&dir, fname);
    }
    // NetCDF-4 (HDF5, compressed and chunked), where the build reads it.
    if cfg!(feature = "netcdf") && dir.join("data4.nc").exists() {
        reads_as_xarray(&dir, "data4.nc");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn operations_match_xarray_on_every_chunking_and_scheduler() {
    let Some(py) = python(&["xarray", "scipy"]) else {
        return;
    };
    let dir = made(&py);
    let chunkings: [&[(&str, i64)]; 3] = [
        &[],
        &[("time", 97), ("lat", 3), ("lon", 4)],
        &[("time", 500), ("lon", 2)],
    ];
    for chunks in chunkings {
        let ds = open_dataset(dir.join("data.nc"), chunks).unwrap();
        for (name, da) in ops(&ds) {
            let m = meta(&dir.join("ops").join(format!("{name}.json")));
            same_coords(&da, &m, name);
            let want = npy(&dir.join("ops").join(format!("{name}.npy")));
            let mut first: Option<Vec<u64>> = None;
            for config in schedulers() {
                let got = da.compute_with(&config).unwrap().to_f64().unwrap();
                // NumPy sums float32 in float32 (row by row along a leading axis), we in
                // float64: the same to float32's precision, not bit for bit.
                let tol = if da.dtype() == DType::F32 {
                    1e-5
                } else {
                    1e-12
                };
                close(
                    &got,
                    &want,
                    tol,
                    &format!("{name} chunked {chunks:?} on {}", config.name()),
                );
                let bits: Vec<u64> = got.iter().map(|v| v.to_bits()).collect();
                match &first {
                    None => first = Some(bits),
                    Some(f) => assert_eq!(f, &bits, "{name}: bits differ on {}", config.name()),
                }
            }
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A real file nobody here wrote: the NCEP air temperature sample shipped in hvsampledata
/// (NetCDF-4; air as int16 with a float64 scale, time as float32 with a NaN fill value), read
/// as Xarray reads it, and its climatology as Xarray computes it.
#[cfg(feature = "netcdf")]
#[test]
fn the_ncep_sample_reads_as_xarray_reads_it() {
    let Some(py) = python(&["xarray", "netCDF4", "hvsampledata"]) else {
        return;
    };
    let dir = temp("real");
    oracle(&py, &["real", dir.to_str().unwrap()]);
    reads_as_xarray(&dir, "real.nc");
    let ds = open_dataset(dir.join("real.nc"), &[("lat", 10), ("lon", 20)]).unwrap();
    assert!(
        ds.to_string()
            .contains("Dimensions:  (time: 20, lat: 25, lon: 53)"),
        "{ds}"
    );
    let air = ds.var("air").unwrap();
    let got = air.mean(&["time"]).unwrap().to_f64().unwrap();
    let want = open_dataset(dir.join("real.nc"), &[])
        .unwrap()
        .var("air")
        .unwrap()
        .to_f64()
        .unwrap();
    let want = want.mean_axis(ndarray::Axis(0)).unwrap();
    close(&got, &want, 1e-12, "real.nc: time mean");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Asserts two datasets hold the same variables (values to the bit), coordinates and
/// attributes.
fn same_dataset(got: &Dataset, want: &Dataset, what: &str) {
    let mut a = got.data_vars();
    let mut b = want.data_vars();
    a.sort_unstable();
    b.sort_unstable();
    assert_eq!(a, b, "{what}: variables");
    for (k, v) in want.attrs().iter() {
        let g = got
            .attrs()
            .get(k)
            .unwrap_or_else(|| panic!("{what}: attribute {k}"));
        assert_eq!(g.to_string(), v.to_string(), "{what}: attribute {k}");
    }
    for name in want.coords().names() {
        let (g, w) = (got.coords().get(name), want.coords().get(name).unwrap());
        let g = g.unwrap_or_else(|| panic!("{what}: coordinate {name}"));
        assert_eq!(g.dim, w.dim, "{what}: coordinate {name}");
        assert!(g.labels.same(&w.labels), "{what}: labels of {name}");
    }
    for v in b {
        let (g, w) = (got.var(v).unwrap(), want.var(v).unwrap());
        assert_eq!(g.dims(), w.dims(), "{what}:{v}: dims");
        assert_eq!(g.dtype(), w.dtype(), "{what}:{v}: dtype");
        for (k, a) in w.attrs().iter() {
            let ours = g
                .attrs()
                .get(k)
                .unwrap_or_else(|| panic!("{what}:{v}: attribute {k}"));
            assert_eq!(ours.to_string(), a.to_string(), "{what}:{v}: attribute {k}");
        }
        let (x, y) = (g.values().unwrap().to_f64(), w.values().unwrap().to_f64());
        assert_eq!(x.shape(), y.shape());
        assert!(
            x.iter()
                .zip(y.iter())
                .all(|(p, q)| p.to_bits() == q.to_bits() || (p.is_nan() && q.is_nan())),
            "{what}:{v}: values"
        );
    }
}

/// Zarr groups Xarray wrote (formats 2 and 3, string coordinates, packed integers, CF time)
/// read as the NetCDF file they came from, chunked as the store or as asked.
#[cfg(feature = "zarr")]
#[test]
fn zarr_groups_xarray_writes_read_the_same() {
    let Some(py) = python(&["xarray", "scipy", "zarr"]) else {
        return;
    };
    let dir = made(&py);
    oracle(&py, &["zarr", dir.to_str().unwrap()]);
    let nc = open_dataset(dir.join("data.nc"), &[]).unwrap();
    for fname in ["xr_v2.zarr", "xr_v3.zarr"] {
        for chunks in [&[][..], &[("time", 333), ("lon", 4)][..]] {
            let z = open_dataset(dir.join(fname), chunks).unwrap();
            same_dataset(&z, &nc, fname);
            if let Some(&(_, n)) = chunks.first() {
                assert_eq!(
                    z.var("air").unwrap().chunks()[0].1[0],
                    n as usize,
                    "{fname}: chunks"
                );
            }
        }
    }
    // Operations on a Zarr group give what they give on the NetCDF file chunked alike.
    let z = open_dataset(dir.join("xr_v3.zarr"), &[("time", 97)]).unwrap();
    let nc = open_dataset(dir.join("data.nc"), &[("time", 97)]).unwrap();
    for ((name, a), (_, b)) in ops(&z).into_iter().zip(ops(&nc)) {
        let tol = if a.dtype() == DType::F32 { 1e-6 } else { 1e-12 };
        close(&a.to_f64().unwrap(), &b.to_f64().unwrap(), tol, name);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn files_ndtask_writes_read_back_in_xarray_the_same() {
    let Some(py) = python(&["xarray", "scipy"]) else {
        return;
    };
    let dir = made(&py);
    let ds = open_dataset(dir.join("data.nc"), &[("time", 200)]).unwrap();
    ds.to_netcdf(dir.join("ours.nc"))
        .unwrap()
        .compute()
        .unwrap();
    // And read back by ndtask the same way.
    let back = open_dataset(dir.join("ours.nc"), &[]).unwrap();
    same_dataset(&back, &ds, "ours.nc");
    #[cfg(feature = "zarr")]
    for (fname, format) in [
        ("ours_v2.zarr", ndtask::io::ZarrFormat::V2),
        ("ours_v3.zarr", ndtask::io::ZarrFormat::V3),
    ] {
        ds.to_zarr(dir.join(fname), format)
            .unwrap()
            .compute()
            .unwrap();
        let back = open_dataset(dir.join(fname), &[]).unwrap();
        same_dataset(&back, &ds, fname);
    }
    let clim = ds
        .var("air")
        .unwrap()
        .groupby("time.month")
        .unwrap()
        .mean()
        .unwrap();
    clim.to_dataset()
        .unwrap()
        .to_netcdf(dir.join("clim.nc"))
        .unwrap()
        .compute()
        .unwrap();
    oracle(&py, &["check", dir.to_str().unwrap()]);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_repr_shows_dims_coords_variables_and_attrs_without_computing() {
    let x = ndtask::random::uniform::<f32>([2920, 25, 53], [2920, 25, 25], 1).unwrap();
    let t: Vec<i64> = (0..2920)
        .map(|i| {
            ndtask::labelled::time::parse("2013-01-01").unwrap().0
                + i * 6 * ndtask::labelled::time::HOUR
        })
        .collect();
    let lat: Vec<f32> = (0..25).map(|i| 75.0 - 2.5 * i as f32).collect();
    let da = DataArray::new(x, &["time", "lat", "lon"])
        .unwrap()
        .with_coord("time", Coordinate::new("time", Labels::Time(t)))
        .unwrap()
        .with_coord("lat", Coordinate::new("lat", Labels::F32(lat)))
        .unwrap()
        .with_attr("long_name", "4xDaily Air temperature at sigma level 995");
    let ds = Dataset::new()
        .with_var("air", da)
        .unwrap()
        .with_attr("Conventions", "COARDS");
    let s = ds.to_string();
    for want in [
        "<ndtask.Dataset> Size: 15MB",
        "Dimensions:  (time: 2920, lat: 25, lon: 53)",
        // As Xarray prints the same dataset.
        "  * time     (time) datetime64[ns] 23kB 2013-01-01 ... 2014-12-31T18:00:00\n",
        "  * lat      (lat) float32 100B 75.0 72.5 70.0 67.5 65.0 ... 22.5 20.0 17.5 15.0\n",
        "Dimensions without coordinates: lon\n",
        "    air      (time, lat, lon) float32 15MB ndtask.array<chunksize=(2920, 25, 25), chunks=3>",
        "    Conventions:  COARDS",
    ] {
        assert!(s.contains(want), "{want:?} not in\n{s}");
    }
    let a = ds.var("air").unwrap().to_string();
    assert!(
        a.starts_with("<ndtask.DataArray 'air' (time: 2920, lat: 25, lon: 53)> Size: 15MB"),
        "{a}"
    );
    assert!(a.contains("\nndtask.array<shape=(2920, 25, 53), dtype=float32, chunksize=(2920, 25, 25), chunks=3>\n"), "{a}");
    assert!(a.contains("\n    long_name:  4xDaily"), "{a}");
}

#[test]
fn bad_input_is_a_clear_error() {
    let dir = temp("errors");
    let x = ndtask::from_ndarray(ndarray::Array2::<f64>::zeros((4, 3)), [2, 3]).unwrap();
    let da = DataArray::new(x, &["time", "lat"])
        .unwrap()
        .with_coord(
            "lat",
            Coordinate::new("lat", Labels::F64(vec![10.0, 20.0, 30.0])),
        )
        .unwrap();
    let e = da.mean(&["level"]).unwrap_err().to_string();
    assert!(e.contains("\"level\"") && e.contains("time, lat"), "{e}");
    let e = da.sel([("lat", 25.0.into())]).unwrap_err().to_string();
    assert!(
        e.contains("25.0") && e.contains("\"lat\"") && e.contains("10.0 .. 30.0"),
        "{e}"
    );
    let e = da.groupby("height").err().unwrap().to_string();
    assert!(e.contains("\"height\"") && e.contains("lat"), "{e}");
    let e = da.sel([("time", 1.0.into())]).unwrap_err().to_string();
    assert!(e.contains("no coordinate labels"), "{e}");
    let other = da
        .assign_coords(vec![(
            "lat",
            Coordinate::new("lat", Labels::F64(vec![10.0, 20.0, 31.0])),
        )])
        .unwrap();
    let e = da.try_sub(&other).unwrap_err().to_string();
    assert!(e.contains("\"lat\"") && e.contains("differ"), "{e}");
    let e = da
        .clone()
        .with_coord("lat", Coordinate::new("lat", Labels::F64(vec![1.0])))
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("1 labels") && e.contains("size 3"), "{e}");
    // Files: missing, not NetCDF, truncated, corrupt header, chunks of a dimension not there.
    let ds = Dataset::new().with_var("v", da.clone()).unwrap();
    let path = dir.join("good.nc");
    ds.to_netcdf(&path).unwrap().compute().unwrap();
    let e = open_dataset(&path, &[("level", 2)])
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("\"level\"") && e.contains("time, lat"), "{e}");
    let e = open_dataset(dir.join("missing.nc"), &[])
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("missing.nc"), "{e}");
    let bytes = std::fs::read(&path).unwrap();
    let cut = dir.join("cut.nc");
    std::fs::write(&cut, &bytes[..bytes.len() - 10]).unwrap();
    let e = open_dataset(&cut, &[]).err().unwrap().to_string();
    assert!(
        e.contains("cut.nc") && e.contains("truncated") && e.contains("\"v\""),
        "{e}"
    );
    let head = dir.join("head.nc");
    std::fs::write(&head, &bytes[..40]).unwrap();
    let e = open_dataset(&head, &[]).err().unwrap().to_string();
    assert!(e.contains("head.nc") && e.contains("cut short"), "{e}");
    let mut bad = bytes.clone();
    bad[12] = 0x55; // the dimension list's tag
    let badp = dir.join("bad.nc");
    std::fs::write(&badp, &bad).unwrap();
    let e = open_dataset(&badp, &[]).err().unwrap().to_string();
    assert!(
        e.contains("bad.nc") && e.contains("not valid NetCDF-3"),
        "{e}"
    );
    let text = dir.join("text.nc");
    std::fs::write(&text, "hello world").unwrap();
    let e = open_dataset(&text, &[]).err().unwrap().to_string();
    assert!(e.contains("text.nc") && e.contains("neither"), "{e}");
    // A file cut after opening: the chunk's read fails naming the file and the variable.
    let later = dir.join("later.nc");
    std::fs::write(&later, &bytes).unwrap();
    let opened = open_dataset(&later, &[]).unwrap();
    std::fs::write(&later, &bytes[..bytes.len() - 40]).unwrap();
    let e = opened.var("v").unwrap().values().unwrap_err().to_string();
    assert!(e.contains("later.nc") && e.contains("\"v\""), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[cfg(feature = "zarr")]
#[test]
fn bad_zarr_input_is_a_clear_error() {
    let dir = temp("zarr-errors");
    let x = ndtask::from_ndarray(ndarray::Array2::<f64>::zeros((4, 3)), [2, 3]).unwrap();
    let ds = Dataset::new()
        .with_var("v", DataArray::new(x, &["time", "lat"]).unwrap())
        .unwrap();
    // A directory that is not a Zarr group.
    let e = open_dataset(&dir, &[]).err().unwrap().to_string();
    assert!(e.contains("not a Zarr group"), "{e}");
    // A directory of something else is not replaced by a write, and nothing in it is lost.
    std::fs::write(dir.join("keep.txt"), "data").unwrap();
    let e = ds
        .to_zarr(&dir, ndtask::io::ZarrFormat::V3)
        .unwrap()
        .compute()
        .unwrap_err()
        .to_string();
    assert!(e.contains("not a Zarr store"), "{e}");
    assert_eq!(
        std::fs::read_to_string(dir.join("keep.txt")).unwrap(),
        "data"
    );
    // A store written, then an array without dimension names.
    let store = dir.join("s.zarr");
    ds.to_zarr(&store, ndtask::io::ZarrFormat::V2)
        .unwrap()
        .compute()
        .unwrap();
    let e = open_dataset(&store, &[("level", 2)])
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("\"level\"") && e.contains("time, lat"), "{e}");
    std::fs::write(store.join("v").join(".zattrs"), "{}").unwrap();
    let e = open_dataset(&store, &[]).err().unwrap().to_string();
    assert!(
        e.contains("\"v\"") && e.contains("_ARRAY_DIMENSIONS"),
        "{e}"
    );
    // Writing over a store replaces it whole.
    ds.to_zarr(&store, ndtask::io::ZarrFormat::V3)
        .unwrap()
        .compute()
        .unwrap();
    assert!(!store.join(".zgroup").exists() && store.join("zarr.json").exists());
    assert_eq!(open_dataset(&store, &[]).unwrap().data_vars(), vec!["v"]);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A file that starts as HDF5 but is not whole is an error naming it, not an abort.
#[cfg(feature = "netcdf")]
#[test]
fn a_broken_netcdf4_file_is_a_clear_error() {
    let dir = temp("nc4-errors");
    let path = dir.join("broken.nc");
    let mut bytes = b"\x89HDF\r\n\x1a\n".to_vec();
    bytes.extend(std::iter::repeat_n(7u8, 600));
    std::fs::write(&path, &bytes).unwrap();
    let e = open_dataset(&path, &[]).err().unwrap().to_string();
    assert!(e.contains("broken.nc") && e.contains("NetCDF-4"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}
