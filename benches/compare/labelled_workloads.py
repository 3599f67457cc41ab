"""The scale workload of the labelled-arrays issue, one per process, on the 2920 x 361 x 720
float32 Zarr v3 group (chunks 73 x 181 x 360) that run.sh writes once with
`examples/climatology make`:

    X  the monthly climatology and anomaly, ds.groupby("time.month") - clim, written to a new
       Zarr group

    python labelled_workloads.py X <ndtask|copy|xarray> --data DIR --climatology BIN [--threads N]

ndtask runs `climatology anomaly` (its own timing, from its --json line); copy runs
`climatology copy`, ndtask's plain read-and-write pass of the same store (the baseline); xarray
opens the store with xr.open_zarr and computes with Dask's threaded scheduler (flox does the
group-wise reduction when installed). Prints one line: `<seconds> <value>`, the value being the
mean of the first chunk of what was written, read back.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import time


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("workload", choices=["X"])
    p.add_argument("side", choices=["ndtask", "copy", "xarray"])
    p.add_argument("--data", required=True)
    p.add_argument("--climatology", required=True)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    src = os.path.join(a.data, "air.zarr")
    out = os.path.join(a.data, f"anomaly-{a.side}-{os.getpid()}.zarr")
    try:
        if a.side in ("ndtask", "copy"):
            cmd = "anomaly" if a.side == "ndtask" else "copy"
            line = subprocess.run(
                [a.climatology, cmd, src, out, "--json", "--threads", str(a.threads)],
                check=True, capture_output=True, text=True,
            ).stdout
            d = json.loads(line.strip().splitlines()[-1])
            secs, value = d["seconds"], d["value"]
        else:
            os.environ.setdefault("OMP_NUM_THREADS", str(a.threads))
            import dask
            import xarray as xr

            t = time.perf_counter()
            ds = xr.open_zarr(src, consolidated=False)
            months = ds.groupby("time.month")
            anomaly = months - months.mean()
            anomaly.to_zarr(out, mode="w", zarr_format=3, consolidated=False, compute=False).compute(
                scheduler="threads", num_workers=a.threads)
            secs = time.perf_counter() - t
            got = xr.open_zarr(out, consolidated=False).air
            value = float(got[:73, :181, :360].mean())
    finally:
        shutil.rmtree(out, ignore_errors=True)
    print(f"{secs:.6f} {value!r}")


if __name__ == "__main__":
    sys.exit(main())
