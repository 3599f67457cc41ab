"""The out-of-core Zarr workloads of the `.npy`/Zarr issue, one per process, on the 20000² f64
store (2000² chunks, zstd) that run.sh writes once with `zarr_tool random`:

    S  statistics: sum, mean, std, min, max of the array
    Z  anomaly: x - x.mean(axis=0), written to a new Zarr array with the same chunks

    python zarr_workloads.py <S|Z> <ndtask|numpy|dask> --data DIR [--zarr-tool BIN] [--threads N]

ndtask runs `zarr_tool` (its own timing, from its --json line); numpy reads the whole array
with zarr-python and computes in memory (the baseline that needs the array in RAM); dask uses
`da.from_zarr` and Dask's threaded scheduler. Prints one line: `<seconds> <value>` (S: the
mean; Z: element [0, 0] of the written anomaly, read back).
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import time


def stats_value(x):
    return float(x)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("workload", choices=["S", "Z"])
    p.add_argument("side", choices=["ndtask", "numpy", "dask"])
    p.add_argument("--data", required=True)
    p.add_argument("--zarr-tool")
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    src = os.path.join(a.data, "x.zarr")
    out = os.path.join(a.data, f"anomaly-{a.side}-{os.getpid()}.zarr")
    if a.side == "ndtask":
        cmd = [a.zarr_tool, "stats" if a.workload == "S" else "anomaly", src]
        if a.workload == "Z":
            cmd.append(out)
        cmd += ["--json", "--threads", str(a.threads)]
        line = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        d = json.loads(line.strip().splitlines()[-1])
        secs = d["seconds"]
        value = d.get("mean")
    else:
        os.environ.setdefault("OMP_NUM_THREADS", str(a.threads))
        import numpy as np
        import zarr

        t = time.perf_counter()
        if a.side == "numpy":
            x = zarr.open_array(src, mode="r")[:]
            if a.workload == "S":
                value = float(x.mean())
                _ = (x.sum(), x.std(), x.min(), x.max())
            else:
                z = zarr.open_array(src, mode="r")
                y = x - x.mean(axis=0)
                w = zarr.create_array(out, shape=y.shape, chunks=z.chunks, dtype=y.dtype,
                                      overwrite=True)
                w[:] = y
        else:
            import dask
            import dask.array as da

            x = da.from_zarr(src)
            if a.workload == "S":
                r = dask.compute(x.sum(), x.mean(), x.std(), x.min(), x.max(),
                                 scheduler="threads", num_workers=a.threads)
                value = float(r[1])
            else:
                (x - x.mean(axis=0)).to_zarr(out, overwrite=True, compute=False).compute(
                    scheduler="threads", num_workers=a.threads)
        secs = time.perf_counter() - t
    if a.workload == "Z":
        import zarr

        value = float(zarr.open_array(out, mode="r")[0, 0])
        shutil.rmtree(out, ignore_errors=True)
    print(f"{secs:.6f} {value!r}")


if __name__ == "__main__":
    sys.exit(main())
