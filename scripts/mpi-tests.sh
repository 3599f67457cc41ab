#!/usr/bin/env bash
# The MPI suite: builds the examples with `--features mpi` and runs them under mpirun, the way
# rsmpi's ci/run-examples.sh does. Each example asserts its own results; this script checks exit
# codes (and, for the failure test and pi, what the ranks printed).
#
#   bash scripts/mpi-tests.sh                  # Open MPI (libopenmpi-dev openmpi-bin)
#   MPI_IMPL=mpich bash scripts/mpi-tests.sh   # MPICH (libmpich-dev mpich), built apart in target/mpich
#   MPI_IMPL=mpich CARGO_TARGET_DIR=target bash scripts/mpi-tests.sh   # in target (CI: only the
#                                              # MPI bindings and what links them are rebuilt)
#
# MPI_IMPL picks the library: rsmpi builds against the MPI whose compiler wrapper MPICC names
# (mpicc.openmpi or mpicc.mpich on Debian, where both can be installed), and the programs run
# under that library's launcher (mpirun.openmpi, mpiexec.mpich). Each library gets its own
# target directory, so switching does not rebuild the other. NDTASK_MPI_JITTER (microseconds)
# adds random delays to every run's messages (see the jitter checks below).
#
# Ends with "mpi: N passed, M failed"; exits non-zero if anything failed.
set -uo pipefail
cd "$(dirname "$0")/.."

MPI_IMPL=${MPI_IMPL:-openmpi}
case "$MPI_IMPL" in
  openmpi)
    launcher=mpirun.openmpi
    command -v "$launcher" >/dev/null || launcher=mpirun
    command -v mpicc.openmpi >/dev/null && export MPICC=mpicc.openmpi
    # More ranks than cores is part of the suite; Open MPI refuses it unless asked.
    MPIRUN=("$launcher" --oversubscribe)
    BIND=(--bind-to none)
    ;;
  mpich)
    launcher=mpiexec.mpich
    export MPICC=mpicc.mpich
    export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target/mpich}
    # Hydra oversubscribes by default.
    MPIRUN=("$launcher")
    BIND=(-bind-to none)
    ;;
  *)
    echo "MPI_IMPL is openmpi or mpich, got '$MPI_IMPL'" >&2
    exit 1
    ;;
esac
if ! command -v "$launcher" >/dev/null; then
  echo "$launcher not found: install an MPI library (apt-get install libopenmpi-dev openmpi-bin libclang-dev, or libmpich-dev mpich)" >&2
  exit 1
fi
if [ "$(id -u)" = 0 ]; then
  # Open MPI refuses to run as root without these.
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
EX=${CARGO_TARGET_DIR:-target}/release/examples
echo "== MPI library: $MPI_IMPL ($launcher; MPICC=${MPICC:-mpicc}; examples in $EX)"

# rsmpi's build script does not watch MPICC, so a target directory that was built against the
# other library has its MPI bindings (and what links them) rebuilt: a stamp names the library.
stamp=${CARGO_TARGET_DIR:-target}/release/.ndtask-mpi-impl
if [ "$(cat "$stamp" 2>/dev/null)" != "$MPI_IMPL" ]; then
  cargo clean --release -p mpi-sys 2>/dev/null
fi
echo "== cargo build --release --features \"mpi zarr ml\" --examples"
cargo build --release --features "mpi zarr ml" --examples || exit 1
echo "$MPI_IMPL" >"$stamp"

passed=0
failed=0
pass() { passed=$((passed + 1)); echo "ok   $*"; }
fail() { failed=$((failed + 1)); echo "FAIL $*"; }

# Runs a command with a time limit; passes if it exits 0.
check() {
  local name=$1
  shift
  local out
  if out=$(timeout 300 "$@" 2>&1); then
    pass "$name"
    printf '%s\n' "$out" | grep -E '^mpi_(check|bags):' | sed 's/^/     /'
  else
    fail "$name (exit $?)"
    printf '%s\n' "$out" | tail -n 30
  fi
}

echo "== unit tests of ndtask-mpi (placement, wire format; no MPI initialisation)"
check "cargo test -p ndtask-mpi" cargo test --release -p ndtask-mpi

echo "== every op against the sync scheduler, 1..4 ranks"
for n in 1 2 3 4; do
  check "mpi_check -n $n" "${MPIRUN[@]}" -n "$n" "$EX/mpi_check"
done
for n in 1 2 3 4; do
  check "mpi_check -n $n --gather-to-all" "${MPIRUN[@]}" -n "$n" "$EX/mpi_check" --gather-to-all
done
check "mpi_check -n 2 --threads 3" "${MPIRUN[@]}" -n 2 "${BIND[@]}" "$EX/mpi_check" --threads 3
# Every run of the suite under a memory budget per rank (flow control: steps in order, grants
# before sends), with a budget that fits every check.
for n in 2 3 4; do
  check "mpi_check -n $n --memory-budget 1GiB" "${MPIRUN[@]}" -n "$n" "$EX/mpi_check" --memory-budget 1073741824
done
check "mpi_check -n 2 --threads 3 --memory-budget 1GiB" "${MPIRUN[@]}" -n 2 "${BIND[@]}" "$EX/mpi_check" \
  --threads 3 --memory-budget 1073741824
# The suite's one-chunk arrays leave ranks idle at any size; 6 ranks also splits 4-chunk ones unevenly.
check "mpi_check -n 6 (more ranks than chunks)" "${MPIRUN[@]}" -n 6 "$EX/mpi_check"

# A rank must never leave a run another rank still needs (issue 33): the whole check again and
# again, with random delays before every report, grant and round of sends.
REPEAT=${MPI_REPEAT:-20}
echo "== mpi_check $REPEAT times in a row on 2 and 3 ranks, with random delays in every run's messages"
for n in 2 3; do
  ok=0
  for i in $(seq "$REPEAT"); do
    jitter=$(( (i % 4) * 100 ))
    budget=()
    [ $((i % 2)) = 0 ] && budget=(--memory-budget 1073741824)
    if out=$(NDTASK_MPI_JITTER=$jitter timeout 300 "${MPIRUN[@]}" -n "$n" "$EX/mpi_check" --threads 2 "${budget[@]}" 2>&1); then
      ok=$((ok + 1))
    else
      printf '%s\n' "$out" | grep -v '^ ' | tail -n 20
      break
    fi
  done
  [ "$ok" = "$REPEAT" ] && pass "mpi_check -n $n: $REPEAT runs in a row (delays up to 300 us, half under a budget)" \
    || fail "mpi_check -n $n: run $((ok + 1)) of $REPEAT failed or hung"
done

echo "== the scaling model's messages and bytes equal the measured ones, 8 and 16 ranks (oversubscribed)"
for n in 8 16; do
  check "mpi_check -n $n" "${MPIRUN[@]}" -n "$n" "$EX/mpi_check"
done

echo "== the scaling model tool runs for 1..1024 ranks"
check "mpi_model pi" "$EX/mpi_model" --pattern pi --size 1e7 --chunk 1e6 --ranks 1,2,1024
check "mpi_model center" "$EX/mpi_model" --pattern center --size 2000 --chunk 250 --ranks 1,4,64

echo "== ranks that build different expressions all get the same error, then compute again"
for n in 1 2 3 4; do
  check "mpi_disagree -n $n" "${MPIRUN[@]}" -n "$n" "$EX/mpi_disagree"
done

echo "== a task failing on rank 1 of 3 fails every rank, quickly"
start=$(date +%s%N)
out=$(timeout 20 "${MPIRUN[@]}" -n 3 "$EX/mpi_fail" 2>&1)
rc=$?
ms=$((($(date +%s%N) - start) / 1000000))
errors=$(printf '%s\n' "$out" | grep -E '^mpi_fail: rank [0-9]+ of 3 got the expected error' | sed 's/^mpi_fail: rank [0-9]* of 3 //' | sort | uniq -c)
ranks_ok=$(printf '%s\n' "$out" | grep -cE '^mpi_fail: rank [0-9]+ of 3 got the expected error')
if [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] && [ "$rc" -ne 137 ] \
  && [ "$ms" -lt 10000 ] && [ "$ranks_ok" = 3 ] && [ "$(printf '%s\n' "$errors" | wc -l)" = 1 ] \
  && ! printf '%s\n' "$out" | grep -q 'FAILED'; then
  pass "mpi_fail -n 3: exit $rc after $ms ms, the same error on all 3 ranks"
  printf '%s\n' "$errors" | sed 's/^ *\([0-9]*\) /     \1 ranks /'
else
  fail "mpi_fail -n 3: exit $rc after $ms ms, $ranks_ok of 3 ranks reported the expected error"
  printf '%s\n' "$out" | grep -v '^ ' | tail -n 30
fi

echo "== pi: the same bits on K ranks as on threads"
pi_args=(--throws 2e7 --chunk 1e6 --json)
field() { grep -o "\"$1\":[^,}]*" | tail -n 1 | cut -d: -f2; }
ref=$("$EX/pi_chunked" --scheduler threaded "${pi_args[@]}" | tail -n 1 | field pi)
echo "     threaded: pi = $ref"
for k in 1 2 3 4 32; do
  line=$(timeout 120 "${MPIRUN[@]}" -n "$k" "$EX/pi_chunked" --scheduler mpi "${pi_args[@]}" 2>&1 | tail -n 1)
  got=$(printf '%s' "$line" | field pi)
  ranks=$(printf '%s' "$line" | field ranks)
  if [ -n "$ref" ] && [ "$got" = "$ref" ] && [ "$ranks" = "$k" ]; then
    pass "pi_chunked -n $k: pi = $got, ranks = $ranks"
  else
    fail "pi_chunked -n $k: pi = '$got' (threaded '$ref'), ranks = '$ranks'"
    printf '%s\n' "$line"
  fi
done

echo "== pi --scaling under MPI: a weak-scaling table whose exact hit counts equal the threaded ones"
table=$(timeout 120 "${MPIRUN[@]}" -n 3 "$EX/pi_chunked" --scheduler mpi --throws 2e6 --chunk 3e5 --scaling \
  --threads 1 2>&1 | grep -E '^ +[0-9]+ +[0-9]+ +[0-9]+ ')
rows=$(printf '%s\n' "$table" | grep -c .)
bad=0
while read -r k throws hits _; do
  want=$("$EX/pi_chunked" --scheduler threaded --throws "$throws" --chunk 3e5 --json | tail -n 1 | field hits)
  [ "$hits" = "$want" ] || bad=1
done <<<"$table"
if [ "$rows" = 3 ] && [ "$bad" = 0 ]; then
  pass "pi_chunked -n 3 --scaling: rows for 1, 2, 3 ranks, hits equal to threaded"
else
  fail "pi_chunked -n 3 --scaling: $rows rows, hits differ: $bad"
  printf '%s\n' "$table"
fi

echo "== pi --trace: one complete event per task, from every rank"
trace=$(mktemp)
for k in 1 2; do
  line=$(timeout 120 "${MPIRUN[@]}" -n "$k" "$EX/pi_chunked" --scheduler mpi --throws 1e8 --chunk 1e6 \
    --trace "$trace" --json 2>&1 | tail -n 1)
  tasks=$(printf '%s' "$line" | field tasks)
  events=$(grep -c '"ph":"X"' "$trace")
  pids=$(grep -o '"pid":[0-9]*' "$trace" | sort -u | wc -l)
  if [ -n "$tasks" ] && [ "$events" = "$tasks" ] && [ "$pids" = "$k" ]; then
    pass "pi_chunked -n $k --trace: $events events = tasks, from $pids ranks"
  else
    fail "pi_chunked -n $k --trace: $events events, tasks '$tasks', $pids ranks"
    printf '%s\n' "$line"
  fi
done
rm -f "$trace"

echo "== pi --report: rank 0's page holds every rank's tasks, lanes, runs and messages"
report=$(mktemp --suffix=.html)
for k in 1 3; do
  line=$(timeout 120 "${MPIRUN[@]}" -n "$k" "$EX/pi_chunked" --scheduler mpi --throws 2e7 --chunk 1e6 \
    --threads 1 --report "$report" --json 2>&1 | tail -n 1)
  tasks=$(printf '%s' "$line" | field tasks)
  # The page's data: its one JSON script, read back with Python's json.
  got=$(python3 - "$report" "$k" <<'PY'
import json, re, sys
html = open(sys.argv[1]).read()
k = int(sys.argv[2])
d = json.loads(re.search(r'<script id="data" type="application/json">(.*?)</script>', html, re.S).group(1))
ranks = sorted({lane[0] for lane in d["lanes"]})
runs = sorted(r["rank"] for r in d["runs"])
ok = ranks == list(range(k)) and runs == list(range(k)) and (k == 1) == (len(d["sent"]) == 0)
print(len(d["spans"]["op"]), ranks, runs, len(d["sent"]), "ok" if ok else "bad")
PY
)
  spans=${got%% *}
  if [ -n "$tasks" ] && [ "$spans" = "$tasks" ] && [ "${got##* }" = ok ]; then
    pass "pi_chunked -n $k --report: $spans tasks = the graph's; lanes' ranks, runs, messages: ${got#* }"
  else
    fail "pi_chunked -n $k --report: '$got', tasks '$tasks'"
    printf '%s\n' "$line"
  fi
done
rm -f "$report"

echo "== anomaly: the bounded-memory patterns give the threaded bits on 2 and 3 ranks"
for pattern in center anomaly transpose rechunk; do
  args=(--pattern "$pattern" --shape 2000 --chunk 250 --json)
  want=$("$EX/anomaly" --scheduler threaded "${args[@]}" | tail -n 1 | field value)
  for k in 2 3; do
    line=$(timeout 120 "${MPIRUN[@]}" -n "$k" "$EX/anomaly" --scheduler mpi "${args[@]}" 2>&1 | tail -n 1)
    got=$(printf '%s' "$line" | field value)
    ranks=$(printf '%s' "$line" | field ranks)
    if [ -n "$got" ] && [ "$got" = "$want" ] && [ "$ranks" = "$k" ]; then
      pass "anomaly --pattern $pattern -n $k: value = $got"
    else
      fail "anomaly --pattern $pattern -n $k: '$line' (threaded value '$want')"
    fi
  done
done

echo "== anomaly --memory-budget under MPI: the threaded bits, no rank holding more than the budget"
for pattern in center transpose; do
  args=(--pattern "$pattern" --shape 2000 --chunk 250 --json)
  want=$("$EX/anomaly" --scheduler threaded "${args[@]}" | tail -n 1 | field value)
  line=$(timeout 120 "${MPIRUN[@]}" -n 3 "$EX/anomaly" --scheduler mpi "${args[@]}" --memory-budget 1MiB 2>&1 | tail -n 1)
  verdict=$(printf '%s' "$line" | python3 -c 'import json, sys
d = json.loads(sys.stdin.read())
held, b = d["peak_held_bytes_per_rank"], d["memory_budget"]
ok = len(held) == 3 and all(0 < h <= b for h in held) and d["value"] == float(sys.argv[1])
print(("ok" if ok else "bad") + f" bytes held per rank {held}, budget {b}")' "$want" 2>&1)
  case "$verdict" in
    ok*) pass "anomaly --pattern $pattern -n 3 --memory-budget 1MiB: value = $want, ${verdict#ok }" ;;
    *) fail "anomaly --pattern $pattern -n 3 --memory-budget 1MiB: $verdict ($line; threaded $want)" ;;
  esac
done

echo "== anomaly --json under MPI: tasks and bytes per rank, the tasks balanced within 10% on 4 ranks"
for pattern in center anomaly; do
  line=$(timeout 120 "${MPIRUN[@]}" -n 4 "$EX/anomaly" --scheduler mpi --pattern "$pattern" --shape 4000 \
    --chunk 500 --threads 1 --json 2>&1 | tail -n 1)
  verdict=$(printf '%s' "$line" | python3 -c 'import json, sys
d = json.loads(sys.stdin.read())
t, b = d["tasks_per_rank"], d["bytes_sent_per_rank"]
mean = sum(t) / len(t)
ok = len(t) == len(b) == 4 and sum(t) == d["tasks"] and all(abs(x - mean) <= 0.1 * mean for x in t)
print(("ok" if ok else "bad") + f" tasks {t} bytes {b}")' 2>&1)
  case "$verdict" in
    ok*) pass "anomaly --pattern $pattern -n 4: ${verdict#ok }" ;;
    *) fail "anomaly --pattern $pattern -n 4: $verdict ($line)" ;;
  esac
done

echo "== zarr_tool random: the store mpirun -n K writes is byte for byte the threaded one"
zdir=$(mktemp -d)
"$EX/zarr_tool" random "$zdir/threaded.zarr" --shape 300,200 --chunks 40,50 --shard 80,100 --seed 7 >/dev/null
for k in 2 3; do
  if timeout 120 "${MPIRUN[@]}" -n "$k" "$EX/zarr_tool" random "$zdir/mpi$k.zarr" --shape 300,200 \
      --chunks 40,50 --shard 80,100 --seed 7 --scheduler mpi >/dev/null 2>&1 \
    && diff -r "$zdir/threaded.zarr" "$zdir/mpi$k.zarr" >/dev/null; then
    pass "zarr_tool random -n $k: $(find "$zdir/mpi$k.zarr" -type f | wc -l) files, identical to threaded"
  else
    fail "zarr_tool random -n $k: the store differs from the threaded one (or the run failed)"
  fi
done
"$EX/zarr_tool" random "$zdir/v2.zarr" --shape 300,200 --chunks 40,50 --codec blosc --format 2 \
  --seed 7 >/dev/null
if timeout 120 "${MPIRUN[@]}" -n 3 "$EX/zarr_tool" random "$zdir/v2-mpi3.zarr" --shape 300,200 \
    --chunks 40,50 --codec blosc --format 2 --seed 7 --scheduler mpi >/dev/null 2>&1 \
  && [ -f "$zdir/v2-mpi3.zarr/.zarray" ] && diff -r "$zdir/v2.zarr" "$zdir/v2-mpi3.zarr" >/dev/null; then
  pass "zarr_tool random --format 2 -n 3: identical to threaded"
else
  fail "zarr_tool random --format 2 -n 3: the store differs from the threaded one (or the run failed)"
fi
rm -rf "$zdir"

echo "== pi: the chunk size does not change the estimate (counter-based random numbers)"
for c in 3e5 1234567; do
  got=$("$EX/pi_chunked" --scheduler threaded --throws 2e7 --chunk "$c" --json | tail -n 1 | field pi)
  if [ -n "$ref" ] && [ "$got" = "$ref" ]; then
    pass "pi_chunked --chunk $c: pi = $got, as with --chunk 1e6"
  else
    fail "pi_chunked --chunk $c: pi = '$got', with --chunk 1e6 '$ref'"
  fi
done
line=$(timeout 120 "${MPIRUN[@]}" -n 3 "$EX/pi_chunked" --scheduler mpi --throws 2e7 --chunk 777777 --json 2>&1 | tail -n 1)
got=$(printf '%s' "$line" | field pi)
[ "$got" = "$ref" ] && pass "pi_chunked -n 3 --chunk 777777: pi = $got" \
  || fail "pi_chunked -n 3 --chunk 777777: pi = '$got' (threaded --chunk 1e6 '$ref')"

echo "== --scheduler auto picks MPI under mpirun with several ranks, threads otherwise"
sched=$("${MPIRUN[@]}" -n 2 "$EX/pi_chunked" --scheduler auto "${pi_args[@]}" 2>&1 | tail -n 1 | field scheduler)
[ "$sched" = '"mpi"' ] && pass "auto under mpirun -n 2: $sched" || fail "auto under mpirun -n 2: '$sched'"
sched=$("$EX/pi_chunked" --scheduler auto "${pi_args[@]}" 2>&1 | tail -n 1 | field scheduler)
[ "$sched" = '"threaded"' ] && pass "auto without mpirun: $sched" || fail "auto without mpirun: '$sched'"

echo "== bags and delayed values: every operation against sync, 1..4 ranks"
bdir=$(mktemp -d)
for n in 1 2 3 4; do
  check "mpi_bags -n $n" "${MPIRUN[@]}" -n "$n" "$EX/mpi_bags" "$bdir/n$n"
done
for n in 2 3; do
  check "mpi_bags -n $n --gather-to-all" "${MPIRUN[@]}" -n "$n" "$EX/mpi_bags" "$bdir/g$n" --gather-to-all
done

echo "== people: the same files and output on 2 and 3 ranks as on threads, and a plain count agrees"
# The fields that must agree (not the paths, times or scheduler), as one canonical JSON text.
people_key() {
  python3 -c 'import json, sys
d = json.loads(sys.stdin.read().splitlines()[-1])
print(json.dumps([d["count"], d["count_over_30"], d["take"], d["mean_age_by_occupation"]], sort_keys=True))'
}
people_args=(--records 1e5 --partitions 7 --seed 3 --json)
want=$("$EX/people" --dir "$bdir/people-threaded" "${people_args[@]}" | people_key)
plain=$(python3 -c 'import glob, json, sys
recs = [json.loads(l) for f in glob.glob(sys.argv[1] + "/*.json") for l in open(f)]
print(len(recs), sum(r["age"] > 30 for r in recs))' "$bdir/people-threaded")
counted=$(printf '%s' "$want" | python3 -c 'import json, sys; d = json.load(sys.stdin); print(d[0], d[1])')
[ -n "$plain" ] && [ "$plain" = "$counted" ] && pass "people threaded: count and count over 30 ($counted) equal a plain count of the files" \
  || fail "people threaded: counts '$counted', a plain count of the files '$plain'"
got=$("$EX/people" --dir "$bdir/people-sync" --scheduler sync "${people_args[@]}" | people_key)
if [ -n "$got" ] && [ "$got" = "$want" ] && diff -r "$bdir/people-threaded" "$bdir/people-sync" >/dev/null; then
  pass "people --scheduler sync: the threaded output and files"
else
  fail "people --scheduler sync: '$got' (threaded '$want'), or the files differ"
fi
for k in 2 3; do
  got=$(timeout 120 "${MPIRUN[@]}" -n "$k" "$EX/people" --dir "$bdir/people-mpi$k" --scheduler mpi \
    "${people_args[@]}" 2>/dev/null | people_key)
  if [ -n "$got" ] && [ "$got" = "$want" ] && diff -r "$bdir/people-threaded" "$bdir/people-mpi$k" >/dev/null; then
    pass "people -n $k: the threaded output and files"
  else
    fail "people -n $k: '$got' (threaded '$want'), or the files differ"
  fi
done
rm -rf "$bdir"

echo "mpi: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
