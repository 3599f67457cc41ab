#!/usr/bin/env bash
# Runs the benchmark workloads of issue 4 with ndtask, a graph-free Rust loop and Dask in the
# same run, interleaved, and prints a markdown table of median seconds, ratios and peak RSS.
#
#   benches/compare/run.sh                      # every workload, 5 timed runs each
#   WORKLOADS="A D" RUNS=7 benches/compare/run.sh
#
# Environment:
#   WORKLOADS  ids among A B-sum B-std C D E F G H N P I J K L R R-age S Z X M MP (default: A to H). H is "2 threads vs 1
#              on A and D": it adds 1-thread runs of A and D (and their 2-thread runs if not
#              selected). N (normal variates) and P (pi with 1e9 throws) are the random-arrays
#              issue's workloads; N also runs on 1 thread (NumPy's throughput per thread).
#              I J K L are the bounded-memory issue's patterns on a 40000² array in 1000²
#              chunks (center, anomaly, transpose, rechunk); their baseline column is ndtask's
#              plain mean of the same array, and they run without a warm-up (Dask holds up to
#              the whole 12.8 GB array on I and J: the machine needs about 16 GB free).
#              S and Z are the Zarr issue's out-of-core workloads on a 20000² f64 store
#              (2000² chunks, zstd; written once under DATA): statistics, and the anomaly
#              x - x.mean(axis=0) written to a new array. Their baseline is zarr-python +
#              NumPy in memory, and Dask reads with da.from_zarr (benches/compare/zarr_workloads.py).
#              R is the bags issue's workload: read 1e7 people records (JSON lines in 20 files,
#              written once with examples/people.rs), decode, filter age > 30, count; its
#              baseline is a plain Python loop with json.loads, and Dask is dask.bag on its
#              default (processes) scheduler (benches/compare/bag_workloads.py). R-age is R
#              with ndtask decoding only the field the filter reads.
#              X is the labelled-arrays issue's workload: the monthly climatology and anomaly
#              (Xarray's ds.groupby("time.month") - clim) of a 2920 x 361 x 720 float32 Zarr v3
#              group in 73 x 181 x 360 chunks (written once under DATA with examples/climatology),
#              written to a new group; its baseline is ndtask's plain copy of the same store,
#              and Dask is Xarray + Dask + flox (benches/compare/labelled_workloads.py).
#              M is the machine-learning issue's workload: k-means (k = 8) on 1e7 x 10 float64
#              samples around 8 centres (make_blobs, written once to DATA/blobs.npy), ndtask
#              streaming the file in 1e5-row chunks (examples/kmeans); its baseline is
#              scikit-learn's KMeans in memory, and Dask is dask-ml's KMeans (k-means||) on the
#              memory-mapped file (benches/compare/ml_workloads.py). MP is its Dask-ML seed:
#              predictions, accuracy and r2 of a LogisticRegressionCV(cv=3) on 100 chunks of
#              1000 x 2 (examples/ml_predict; baseline scikit-learn in memory, Dask dask-ml's
#              ParallelPostFit).
#   DATA       where R, S, Z, X and M keep their data (default target/compare-data)
#   RUNS       timed runs per workload and side (default 5; each process also does one untimed
#              warm-up run of its workload first)
#   THREADS    threads of every side (default 2)
#   VENV       the Python virtual environment for Dask (default bench-venv/, ignored by git)
#   NATIVE     1 (default): build the Rust side (ndtask and the loop alike) with
#              `-C target-cpu=native`, as HPC codes are built; 0: the portable default target
#              (SSE2 only on x86-64). NumPy picks its SIMD kernels at run time either way.
#
# Each run is one process under /usr/bin/time -v, so its "Maximum resident set size" is the
# peak memory of that workload alone. Sides are interleaved (ndtask, baseline, Dask, then the
# next workload, then the next round) so a slow spell on a shared machine hits all of them.
set -euo pipefail
cd "$(dirname "$0")/../.."

RUNS=${RUNS:-5}
THREADS=${THREADS:-2}
WORKLOADS=${WORKLOADS:-"A B-sum B-std C D E F G H"}
VENV=${VENV:-bench-venv}

if [ ! -x /usr/bin/time ]; then
  echo "== installing GNU time (for peak RSS)" >&2
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && apt-get install -y -qq time >/dev/null
  else
    sudo apt-get update -qq && sudo apt-get install -y -qq time >/dev/null
  fi
fi

if ! "$VENV/bin/python" -c "import dask.array, numpy" 2>/dev/null; then
  echo "== setting up $VENV (dask[array], numpy)" >&2
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --upgrade pip
  "$VENV/bin/pip" install --quiet "dask[array]" numpy
fi
PY="$VENV/bin/python"

echo "== building the release example" >&2
NATIVE=${NATIVE:-1}
if [ "$NATIVE" = 1 ]; then
  # A separate target folder, so the portable build in target/ is not rebuilt back and forth.
  export CARGO_TARGET_DIR=target/native RUSTFLAGS="${RUSTFLAGS:-} -C target-cpu=native"
fi
cargo build --release --quiet --example bench_workloads
BIN=${CARGO_TARGET_DIR:-target}/release/examples/bench_workloads
DATA=${DATA:-target/compare-data}
ZT=${CARGO_TARGET_DIR:-target}/release/examples/zarr_tool
PEOPLE=${CARGO_TARGET_DIR:-target}/release/examples/people
if [[ " $WORKLOADS " == *" R "* || " $WORKLOADS " == *" R-age "* ]]; then
  cargo build --release --quiet --example people
  if [ ! -f "$DATA/people/19.json" ]; then
    echo "== writing 1e7 people records as JSON lines for R to $DATA/people" >&2
    "$PEOPLE" --dir "$DATA/people" --records 1e7 --partitions 20 --seed 7 >/dev/null
  fi
fi
if [[ " $WORKLOADS " == *" S "* || " $WORKLOADS " == *" Z "* ]]; then
  cargo build --release --quiet --features zarr --example zarr_tool
  "$PY" -c "import zarr" 2>/dev/null || "$VENV/bin/pip" install --quiet zarr
  if [ ! -f "$DATA/x.zarr/zarr.json" ]; then
    echo "== writing the 20000² store for S and Z to $DATA/x.zarr" >&2
    mkdir -p "$DATA"
    "$ZT" random "$DATA/x.zarr" --shape 20000,20000 --chunks 2000,2000 --seed 7 >/dev/null
  fi
fi
CLIM=${CARGO_TARGET_DIR:-target}/release/examples/climatology
if [[ " $WORKLOADS " == *" X "* ]]; then
  cargo build --release --quiet --features zarr --example climatology
  "$PY" -c "import xarray, flox, zarr" 2>/dev/null || "$VENV/bin/pip" install --quiet xarray flox zarr
  if [ ! -f "$DATA/air.zarr/zarr.json" ]; then
    echo "== writing the 2920 x 361 x 720 float32 group for X to $DATA/air.zarr" >&2
    mkdir -p "$DATA"
    "$CLIM" make "$DATA/air.zarr" --shape 2920,361,720 --chunks 73,181,360 --seed 7 >/dev/null
  fi
fi
MLP=${CARGO_TARGET_DIR:-target}/release/examples/ml_predict
if [[ " $WORKLOADS " == *" MP "* ]]; then
  cargo build --release --quiet --features ml --example ml_predict
  "$PY" -c "import sklearn, dask_ml" 2>/dev/null || "$VENV/bin/pip" install --quiet scikit-learn dask-ml
fi
KM=${CARGO_TARGET_DIR:-target}/release/examples/kmeans
if [[ " $WORKLOADS " == *" M "* ]]; then
  cargo build --release --quiet --features ml --example kmeans
  "$PY" -c "import sklearn, dask_ml" 2>/dev/null || "$VENV/bin/pip" install --quiet scikit-learn dask-ml
  if [ ! -f "$DATA/blobs.npy" ]; then
    echo "== writing 1e7 x 10 samples (make_blobs) for M to $DATA/blobs.npy" >&2
    "$PY" benches/compare/ml_workloads.py make --data "$DATA"
  fi
fi
echo "== Rust built with RUSTFLAGS='${RUSTFLAGS:-}'" >&2

# Jobs are "workload:threads".
jobs=()
add_job() { [[ " ${jobs[*]} " == *" $1 "* ]] || jobs+=("$1"); }
for w in $WORKLOADS; do
  case "$w" in
    H) add_job "A:$THREADS"; add_job "D:$THREADS"; add_job "A:1"; add_job "D:1" ;;
    A | B-sum | B-std | C | D | E | F | G | P | I | J | K | L | R | R-age | S | Z | X | M | MP) add_job "$w:$THREADS" ;;
    N) add_job "N:1"; add_job "N:$THREADS" ;;
    *) echo "unknown workload $w (known: A B-sum B-std C D E F G H N P I J K L R R-age S Z X M MP)" >&2; exit 2 ;;
  esac
done

RAW=$(mktemp -d)
trap 'rm -rf "$RAW"' EXIT

run_one() { # job side round
  local w=${1%%:*} t=${1##*:} side=$2 r=$3 f="$RAW/$1.$2.$3"
  local cmd warmup=1
  case "$w" in I | J | K | L | R | R-age | S | Z | X | M) warmup=0 ;; esac
  case "$w:$side" in
    S:* | Z:*)
      local as=$side
      [ "$side" = baseline ] && as=numpy
      cmd=(env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$PY" benches/compare/zarr_workloads.py
        "$w" "$as" --data "$DATA" --zarr-tool "$ZT" --threads "$t")
      ;;
    MP:*)
      local as=$side
      [ "$side" = baseline ] && as=sklearn
      [ "$side" = dask ] && as=daskml
      cmd=(env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$PY" benches/compare/ml_workloads.py
        "$w" "$as" --predict "$MLP" --threads "$t")
      ;;
    M:*)
      local as=$side
      [ "$side" = baseline ] && as=sklearn
      [ "$side" = dask ] && as=daskml
      cmd=(env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$PY" benches/compare/ml_workloads.py
        "$w" "$as" --data "$DATA" --kmeans "$KM" --threads "$t")
      ;;
    X:*)
      local as=$side
      [ "$side" = baseline ] && as=copy
      [ "$side" = dask ] && as=xarray
      cmd=(env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$PY" benches/compare/labelled_workloads.py
        "$w" "$as" --data "$DATA" --climatology "$CLIM" --threads "$t")
      ;;
    R:* | R-age:*)
      local as=$side
      [ "$side" = baseline ] && as=python
      cmd=("$PY" benches/compare/bag_workloads.py "$w" "$as" --data "$DATA/people" --people "$PEOPLE"
        --threads "$t")
      ;;
    *:ndtask | *:baseline) cmd=("$BIN" "$w" "$side" --threads "$t" --warmup "$warmup") ;;
    # NumPy's OpenBLAS must pick its own kernels; the environment may pin them for Rust tools.
    *:dask) cmd=(env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$PY" benches/compare/workloads.py
      "$w" --threads "$t" --warmup "$warmup") ;;
  esac
  if ! /usr/bin/time -v -o "$f.time" "${cmd[@]}" >"$f.out" 2>"$f.err"; then
    echo "FAILED: ${cmd[*]}" >&2
    cat "$f.err" "$f.time" >&2
    exit 1
  fi
}

{
  echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)"
  echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "versions: $(rustc --version), $("$PY" -c 'import dask, numpy, platform; print(f"Dask {dask.__version__}, NumPy {numpy.__version__}, Python {platform.python_version()}")')"
  echo "command: WORKLOADS=\"$WORKLOADS\" RUNS=$RUNS THREADS=$THREADS NATIVE=$NATIVE benches/compare/run.sh"
} >"$RAW/header"

start=$(date +%s)
for r in $(seq 1 "$RUNS"); do
  echo "== round $r of $RUNS" >&2
  for j in "${jobs[@]}"; do
    for side in ndtask baseline dask; do
      run_one "$j" "$side" "$r"
    done
  done
done
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg); $(($(date +%s) - start)) s in all" >>"$RAW/header"

"$PY" benches/compare/table.py "$RAW" "$RUNS" "$THREADS" "${jobs[@]}"
