"""The bags issue's workload R, one run per process: count the people older than 30 in the JSON
lines files that run.sh writes once with `people` (1e7 records in 20 files):

    read_text(files) -> decode each line as JSON -> filter age > 30 -> count

    python bag_workloads.py <R|R-age> <ndtask|python|dask> --data DIR [--people BIN] [--threads N]

ndtask runs `people --read-only` (its own timing, from its --json line), decoding each record
into the whole `Person` struct (R) or into a struct of its age only (R-age: serde still parses
every record, but makes no strings); python is a plain loop
with `json.loads` in this process (the one-core baseline); dask is
`db.read_text(...).map(json.loads).filter(...).count()` on Dask's default scheduler for bags
(processes) with N workers. Prints one line: `<seconds> <count>`.
"""

import argparse
import glob
import json
import os
import subprocess
import sys
import time


def over_30(record):
    return record["age"] > 30


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("workload", choices=["R", "R-age"])
    p.add_argument("side", choices=["ndtask", "python", "dask"])
    p.add_argument("--data", required=True)
    p.add_argument("--people")
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    files = sorted(glob.glob(os.path.join(a.data, "*.json")))
    if a.side == "ndtask":
        decode = "age" if a.workload == "R-age" else "person"
        cmd = [a.people, "--dir", a.data, "--read-only", "--decode", decode, "--json",
               "--threads", str(a.threads)]
        line = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        d = json.loads(line.strip().splitlines()[-1])
        secs, count = d["seconds"], d["count_over_30"]
    elif a.side == "python":
        t = time.perf_counter()
        count = 0
        for f in files:
            with open(f) as lines:
                count += sum(1 for line in lines if json.loads(line)["age"] > 30)
        secs = time.perf_counter() - t
    else:
        import dask.bag as db

        t = time.perf_counter()
        count = (
            db.read_text(files)
            .map(json.loads)
            .filter(over_30)
            .count()
            .compute(scheduler="processes", num_workers=a.threads)
        )
        secs = time.perf_counter() - t
    print(f"{secs:.6f} {count}")


if __name__ == "__main__":
    sys.exit(main())
