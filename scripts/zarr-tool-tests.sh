#!/usr/bin/env bash
# zarr_tool on stores and .npy files other tools wrote, of every element type it reads:
# `stats --json` reports the stored dtype and NumPy's statistics (integer sums exact), and
# `anomaly` writes float64 for integers and bools (float32 for float32), as NumPy computes it.
#
# Needs target/release/examples/zarr_tool (cargo build --release --features zarr --example
# zarr_tool) and a Python with NumPy and zarr ($NDTASK_PYTHON, default .venv/bin/python).
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${NDTASK_PYTHON:-.venv/bin/python}"
TOOL=target/release/examples/zarr_tool
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

"$PY" - "$dir" <<'PY'
import sys, numpy as np, zarr
d = sys.argv[1]
rng = np.random.default_rng(3)
s = (41, 13)
arrs = dict(f8=rng.uniform(-5, 5, s), f4=rng.uniform(-5, 5, s).astype('f4'),
            i8=rng.integers(0, 2**45, s), i4=rng.integers(-2**31, 2**31 - 1, s, dtype='i4'),
            u1=rng.integers(0, 256, s, dtype='u1'), b1=rng.random(s) < 0.3)
for k, a in arrs.items():
    z = zarr.create_array(f'{d}/{k}.zarr', shape=s, chunks=(10, 7), dtype=a.dtype)
    z[:] = a
    np.save(f'{d}/{k}.npy', a)
PY

for k in f8 f4 i8 i4 u1 b1; do
  for path in "$dir/$k.zarr" "$dir/$k.npy"; do
    "$TOOL" stats "$path" --json | tail -n 1 > "$path.stats.json"
    out="$dir/$k-anomaly-$(basename "$path").zarr"
    "$TOOL" anomaly "$path" "$out" --json | tail -n 1 > "$path.anomaly.json"
  done
done
"$TOOL" random "$dir/bools.zarr" --shape 300,20 --chunks 64,20 --dtype bool --seed 5 >/dev/null
"$TOOL" stats "$dir/bools.zarr" --json | tail -n 1 > "$dir/bools.json"

"$PY" - "$dir" <<'PY'
import sys, json, numpy as np, zarr
d = sys.argv[1]
names = dict(f8='f64', f4='f32', i8='i64', i4='i32', u1='u8', b1='bool')
out_types = dict(f8='float64', f4='float32', i8='float64', i4='float64', u1='float64', b1='float64')
for k in names:
    a = np.load(f'{d}/{k}.npy')
    f = a.astype('f8')
    for ext in ('zarr', 'npy'):
        st = json.load(open(f'{d}/{k}.{ext}.stats.json'))
        assert st['dtype'] == names[k], (k, ext, st)
        assert st['count'] == a.size and st['shape'] == list(a.shape), (k, st)
        if a.dtype.kind in 'iub':
            assert st['sum'] == int(a.sum(dtype='i8')), (k, ext, st['sum'], int(a.sum(dtype='i8')))
        else:
            assert abs(st['sum'] - float(f.sum())) <= 1e-5 * abs(f.sum()), (k, st)
        for key, want in (('mean', f.mean()), ('std', f.std()), ('min', f.min()), ('max', f.max())):
            got = float(st[key])
            assert abs(got - want) <= 1e-9 * max(1, abs(want)), (k, ext, key, got, want)
        an = json.load(open(f'{d}/{k}.{ext}.anomaly.json'))
        got = zarr.open_array(f'{d}/{k}-anomaly-{k}.{ext}.zarr', mode='r')[:]
        assert str(got.dtype) == out_types[k], (k, ext, got.dtype, an)
        want = f - f.mean(axis=0)
        assert np.allclose(got, want, rtol=1e-5, atol=1e-5), (k, ext)
b = json.load(open(f'{d}/bools.json'))
assert b['dtype'] == 'bool' and b['min'] is False and b['max'] is True and 0 < b['sum'] < 6000, b
print('zarr_tool: stats and anomaly of f64, f32, i64, i32, u8 and bool stores and .npy files match NumPy')
PY
