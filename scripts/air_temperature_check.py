"""Checks examples/air_temperature against Xarray (the CI runs it).

    python scripts/air_temperature_check.py RUN.json CLIM.nc

RUN.json holds the example's output with --json (the last line is the JSON); the example wrote
its clone of the tutorial file to the temporary directory and the time mean and climatology to
CLIM.nc. Xarray computes the same from the clone; every figure must agree to 1e-5 relative
(NumPy sums float32 in float32 along time, ndtask in float64), and the file must hold what
Xarray computes.
"""

import json
import os
import sys
import tempfile

import numpy as np
import xarray as xr

run = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
ds = xr.open_dataset(os.path.join(tempfile.gettempdir(), "ndtask-air_temperature.nc"))
air = ds.air
assert air.dtype == np.float32 and air.encoding["dtype"] == np.int16, (air.dtype, air.encoding)
assert run["dims"] == {"time": 2920, "lat": 25, "lon": 53}, run["dims"]
assert run["chunks"] == {"time": [2920], "lat": [25], "lon": [25, 25, 3]}, run["chunks"]
mean = air.mean("time")
months = air.groupby("time.month")
clim = months.mean()
want = {
    "time_mean_min": float(mean.min()),
    "time_mean_max": float(mean.max()),
    "clim_months": clim.sizes["month"],
    "anomaly_std": float((months - clim).std()),
    "daily_len": air.resample(time="1D").mean().sizes["time"],
}
for k, v in want.items():
    assert np.isclose(run[k], v, rtol=1e-5, atol=0), (k, run[k], v)
out = xr.open_dataset(sys.argv[2])
np.testing.assert_allclose(out.air_clim.values, clim.values, rtol=1e-5)
np.testing.assert_allclose(out.air_mean.values, mean.values, rtol=1e-5)
assert list(out.month.values) == list(range(1, 13))
print("air_temperature agrees with Xarray:", {k: run[k] for k in want})
