"""Xarray as the oracle of ndtask's labelled arrays (tests/labelled.rs runs this).

    oracle.py make DIR SEED   writes DIR/data.nc (NetCDF-3, 64-bit offset), DIR/classic.nc
                              (classic, with a record dimension) and, with netCDF4, DIR/data4.nc
                              (NetCDF-4, compressed), each variable and coordinate as
                              Xarray decodes it (DIR/read/*), and the result of every operation
                              (DIR/ops/NAME.npy, NAME.json: dims and index coordinates)
    oracle.py check DIR       reads DIR/ours.nc (and DIR/ours_v2.zarr, DIR/ours_v3.zarr when
                              there) written by ndtask and compares them with DIR/data.nc as
                              Xarray reads it
    oracle.py zarr DIR        writes DIR/xr_v2.zarr and DIR/xr_v3.zarr from DIR/data.nc
    oracle.py real DIR        copies the NCEP air temperature sample of hvsampledata (NetCDF-4) to
                              DIR/real.nc and describes it as `make` does (DIR/read/real.nc)
"""

import json
import os
import sys
import warnings

import numpy as np
import pandas as pd
import xarray as xr

warnings.simplefilter("ignore")


def dataset(seed):
    rng = np.random.default_rng(seed)
    time = pd.date_range("2012-12-01", periods=4 * 430, freq="6h")
    lat = np.linspace(75, 15, 7).astype("float32")
    lon = (200 + 2.5 * np.arange(9)).astype("float32")
    nt = len(time)
    doy = time.dayofyear.values[:, None, None]
    air = (
        280.0
        + 10 * np.sin(2 * np.pi * doy / 365.0)
        + 0.3 * lat[None, :, None]
        + rng.normal(0, 3, (nt, 7, 9))
    )
    air[rng.random(air.shape) < 0.02] = np.nan
    packed = air.copy()
    f32 = rng.normal(0, 1, (7, 9)).astype("float32")
    counts = rng.integers(-1000, 1000, nt).astype("int32")
    ds = xr.Dataset(
        {
            "air": (("time", "lat", "lon"), air, {"units": "degK", "long_name": "air temperature"}),
            "packed": (("time", "lat", "lon"), packed, {"units": "degK"}),
            "f32": (("lat", "lon"), f32, {"note": "float32 values"}),
            "counts": (("time",), counts),
        },
        coords={
            "time": time,
            "lat": ("lat", lat, {"units": "degrees_north", "axis": "Y"}),
            "lon": ("lon", lon, {"units": "degrees_east"}),
            "station": ("lon", np.array([f"s{i}" for i in range(9)])),
        },
        attrs={"title": "random air", "version": np.int32(3), "scale": 1.5},
    )
    enc = {
        "packed": {"dtype": "int16", "scale_factor": np.float32(0.01), "add_offset": np.float32(200.0), "_FillValue": np.int16(-32767)},
        "time": {"units": "hours since 1800-01-01", "dtype": "float64"},
    }
    return ds, enc


def labels_json(c):
    v = np.atleast_1d(c.values)
    if np.issubdtype(v.dtype, np.datetime64):
        return {"kind": "time", "values": v.astype("datetime64[ns]").astype("int64").tolist()}
    if v.dtype.kind in "USO":
        return {"kind": "str", "values": [str(x) for x in v]}
    if v.dtype.kind in "iu":
        return {"kind": "int", "values": v.astype("int64").tolist()}
    return {"kind": "float", "values": v.astype("float64").tolist()}


def save(d, name, da):
    np.save(os.path.join(d, name + ".npy"), np.array(da.values, dtype="float64", order="C"))
    meta = {
        "dims": list(da.dims),
        "dtype": str(da.dtype),
        "coords": {k: dict(labels_json(da.coords[k]), dim=(da.coords[k].dims[0] if da.coords[k].dims else None)) for k in da.coords},
        "attrs": {k: (v if isinstance(v, str) else np.asarray(v).tolist()) for k, v in da.attrs.items()},
    }
    with open(os.path.join(d, name + ".json"), "w") as f:
        json.dump(meta, f)


def ops(ds):
    air = ds.air
    clim = air.groupby("time.month").mean()
    anomaly = air.groupby("time.month") - clim
    return {
        "isel": air.isel(time=slice(5, 40, 3), lat=2),
        "isel_neg": air.isel(time=-1, lon=slice(None, None, -2)),
        "sel_month": air.sel(time="2013-05"),
        "sel_day": air.sel(time="2013-02-03"),
        "sel_exact_time": air.sel(time="2013-02-03T06:00"),
        "sel_nearest": air.sel(lat=40, lon=211, method="nearest"),
        "sel_tolerance": air.sel(lat=[42.0, 57.0], method="nearest", tolerance=3),
        "sel_slice": air.sel(lat=slice(60, 30), time=slice("2013-02-10", "2013-03-05")),
        "sel_station": air.sel(lon=212.5).sel(lat=25.0),
        "mean_time": air.mean("time"),
        "std_latlon": air.std(["lat", "lon"]),
        "sum_all": air.sum(),
        "min_lon": air.min("lon"),
        "max_time": air.max("time"),
        "count_time": air.count("time"),
        "var_ddof": air.var("time", ddof=1),
        "packed": ds.packed,
        "packed_mean": ds.packed.mean("time"),
        "f32": ds.f32,
        "counts_mean": ds.counts.mean(),
        "plus_f32": air + ds.f32,
        "transposed_sub": air - air.transpose("lon", "lat", "time") * 0.5,
        "where": air.where(air > 280),
        "gt": (air > 285).astype("float64"),
        "gb_month": clim,
        "gb_season": air.groupby("time.season").mean(),
        "gb_hour_std": air.groupby("time.hour").std(),
        "gb_doy_max": air.groupby("time.dayofyear").max(),
        "gb_month_count": air.groupby("time.month").count(),
        "gb_lat": air.groupby("lat").sum(),
        "anomaly": anomaly,
        "anomaly_std": anomaly.std("time"),
        "resample_1d": air.resample(time="1D").mean(),
        "resample_ms": air.resample(time="MS").mean(),
        "resample_me_sum": air.resample(time="ME").sum(),
        "resample_3d_max": air.resample(time="3D").max(),
        "resample_gap_count": air.isel(time=list(range(0, 40)) + list(range(80, 120))).resample(time="1D").count(),
        "rolling4": air.rolling(time=4).mean(),
        "rolling_center": air.rolling(time=5, center=True).mean(),
        "rolling_minp": air.rolling(time=3, min_periods=1).sum(),
        "transpose_mean": air.transpose("lon", "lat", "time").mean("lat"),
        "renamed": air.rename(lat="latitude").isel(time=0),
    }


def describe(path, out):
    """Each variable of the file as Xarray reads it, and the dataset's metadata, into out."""
    got = xr.open_dataset(path)
    os.makedirs(out, exist_ok=True)
    for v in got.data_vars:
        save(out, v, got[v])
    meta = {
        "dims": dict(got.sizes),
        "attrs": {k: (v if isinstance(v, str) else np.asarray(v).tolist()) for k, v in got.attrs.items()},
        "data_vars": list(got.data_vars),
        "dtypes": {v: str(got[v].dtype) for v in got.data_vars},
    }
    with open(os.path.join(out, "dataset.json"), "w") as f:
        json.dump(meta, f)


def real(d):
    """The NCEP air temperature sample of hvsampledata (NetCDF-4), copied to d/real.nc."""
    import shutil

    import hvsampledata

    src = os.path.join(os.path.dirname(hvsampledata.__file__), "_data", "air_temperature_small.nc")
    os.makedirs(d, exist_ok=True)
    shutil.copy(src, os.path.join(d, "real.nc"))
    describe(os.path.join(d, "real.nc"), os.path.join(d, "read", "real.nc"))


def make(d, seed):
    os.makedirs(os.path.join(d, "ops"), exist_ok=True)
    os.makedirs(os.path.join(d, "read"), exist_ok=True)
    ds, enc = dataset(seed)
    ds.to_netcdf(os.path.join(d, "data.nc"), format="NETCDF3_64BIT", engine="scipy", encoding=enc)
    # A classic file with a record dimension.
    small = ds.isel(time=slice(0, 30))
    small.to_netcdf(os.path.join(d, "classic.nc"), format="NETCDF3_CLASSIC", engine="scipy",
                    encoding=enc, unlimited_dims=["time"])
    names = ["data.nc", "classic.nc"]
    try:
        import netCDF4  # noqa: F401
        # NetCDF-4 (HDF5), compressed and chunked.
        enc4 = dict(enc, air={"zlib": True, "complevel": 4, "chunksizes": (100, 7, 9)})
        ds.to_netcdf(os.path.join(d, "data4.nc"), format="NETCDF4", engine="netcdf4", encoding=enc4)
        names.append("data4.nc")
    except ImportError:
        pass
    for fname in names:
        describe(os.path.join(d, fname), os.path.join(d, "read", fname))
    got = xr.open_dataset(os.path.join(d, "data.nc"))
    for name, da in ops(got).items():
        save(os.path.join(d, "ops"), name, da)


def same(a, b, what):
    assert a.dims == b.dims, f"{what}: dims {a.dims} != {b.dims}"
    for k in a.coords:
        assert k in b.coords, f"{what}: coordinate {k} missing"
        assert np.array_equal(a.coords[k].values, b.coords[k].values), f"{what}: coordinate {k} differs"
    np.testing.assert_array_equal(a.values, b.values, err_msg=what)


def check(d):
    ref = xr.open_dataset(os.path.join(d, "data.nc"))
    stores = [("ours.nc", {})]
    for z in ["ours_v2.zarr", "ours_v3.zarr"]:
        if os.path.exists(os.path.join(d, z)):
            stores.append((z, {"engine": "zarr", "consolidated": False}))
    for fname, kw in stores:
        ours = xr.open_dataset(os.path.join(d, fname), **kw)
        assert sorted(ours.data_vars) == sorted(ref.data_vars), (fname, list(ours.data_vars))
        assert dict(ours.sizes) == dict(ref.sizes), (fname, dict(ours.sizes))
        for k, v in ref.attrs.items():
            assert np.array_equal(np.asarray(ours.attrs[k]), np.asarray(v)), (fname, k, ours.attrs.get(k), v)
        for v in ref.data_vars:
            same(ours[v], ref[v], f"{fname}:{v}")
            for k, a in ref[v].attrs.items():
                assert np.array_equal(np.asarray(ours[v].attrs[k]), np.asarray(a)), (fname, v, k)
            if fname.endswith(".nc"):
                assert ours[v].dtype == ref[v].dtype, (fname, v, ours[v].dtype, ref[v].dtype)
        for k in ref.coords:
            assert np.array_equal(ours[k].values, ref[k].values), (fname, k)
            for n, a in ref[k].attrs.items():
                assert np.array_equal(np.asarray(ours[k].attrs[n]), np.asarray(a)), (fname, k, n)
    # The climatology ndtask wrote, against Xarray's.
    clim = xr.open_dataset(os.path.join(d, "clim.nc"))
    want = ref.air.groupby("time.month").mean()
    np.testing.assert_allclose(clim.air.values, want.values, rtol=1e-12)
    assert list(clim.month.values) == list(want.month.values)
    assert clim.air.dims == want.dims


def zarr(d):
    ref = xr.open_dataset(os.path.join(d, "data.nc"))
    ref.to_zarr(os.path.join(d, "xr_v2.zarr"), zarr_format=2, mode="w", consolidated=True)
    ref.to_zarr(os.path.join(d, "xr_v3.zarr"), zarr_format=3, mode="w", consolidated=False)


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "make":
        make(sys.argv[2], int(sys.argv[3]))
    elif cmd == "check":
        check(sys.argv[2])
    elif cmd == "zarr":
        zarr(sys.argv[2])
    elif cmd == "real":
        real(sys.argv[2])
    else:
        raise SystemExit(f"unknown command {cmd}")
