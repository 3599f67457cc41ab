#!/usr/bin/env bash
# A real SLURM launch: starts a one-node SLURM cluster on this machine from Debian's packages
# (munge, slurmctld, slurmd; `apt-get install munge slurmctld slurmd slurm-client`), submits
# docs/mpi.md's batch script (scripts/slurm/pi.sbatch) with sbatch, launches the pi demo with
# srun through PMIx on 2 ranks, checks that both give mpirun's bits, and stops the cluster.
#
#   bash scripts/slurm-tests.sh     # as root (the daemons run as root), after the MPI build
#
# The cluster lives in target/slurm (configuration, state, logs; munge is the machine's own,
# started if it is not running); SLURM_CONF points the
# commands at it, so a SLURM configuration of the machine is neither read nor changed.
# Ends with "slurm: N passed, M failed"; exits non-zero if anything failed.
set -uo pipefail
cd "$(dirname "$0")/.."

export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
EX=target/release/examples
dir=$PWD/target/slurm
passed=0
failed=0
pass() { passed=$((passed + 1)); echo "ok   $*"; }
fail() { failed=$((failed + 1)); echo "FAIL $*"; }
field() { grep -o "\"$1\":[^,}]*" | tail -n 1 | cut -d: -f2; }

for program in munged slurmctld slurmd sbatch srun "$EX/pi_chunked"; do
  if ! command -v "$program" >/dev/null; then
    echo "$program not found (apt-get install munge slurmctld slurmd slurm-client; build the" \
      "examples with --features mpi)" >&2
    exit 1
  fi
done

# docs/mpi.md shows the batch script that runs here, word for word.
if awk '/^<!-- scripts\/slurm\/pi.sbatch -->$/{on=1; next} on&&/^```sh$/{next} on&&/^```$/{exit} on' \
  docs/mpi.md | diff -q - scripts/slurm/pi.sbatch >/dev/null; then
  pass "docs/mpi.md shows scripts/slurm/pi.sbatch"
else
  fail "docs/mpi.md does not show scripts/slurm/pi.sbatch as it is"
fi

stop() {
  for d in slurmd slurmctld; do
    [ -f "$dir/$d.pid" ] && kill "$(cat "$dir/$d.pid")" 2>/dev/null
  done
  [ -n "${started_munge:-}" ] && pkill -u munge -x munged
  sleep 1
}
trap stop EXIT
stop
rm -rf "$dir"
mkdir -p "$dir/state" "$dir/spool"

echo "== munge (the daemons' authentication)"
# Debian's munge package makes the key; munged runs as its own user (as root it refuses
# credentials), on its default socket, which slurm uses.
if ! { munge -n | unmunge; } >/dev/null 2>&1; then
  [ -f /etc/munge/munge.key ] || mungekey --create --keyfile=/etc/munge/munge.key
  mkdir -p /run/munge /var/log/munge /var/lib/munge
  chown munge:munge /etc/munge/munge.key /run/munge /var/log/munge /var/lib/munge
  chmod 0400 /etc/munge/munge.key
  runuser -u munge -- munged
  started_munge=1
  sleep 1
fi
if { munge -n | unmunge; } >/dev/null 2>&1; then
  pass "munge: a credential round trip"
else
  fail "munge does not start"; tail -n 20 /var/log/munge/munged.log; exit 1
fi

echo "== slurm.conf for this host (slurmd -C)"
host=$(hostname -s)
node=$(slurmd -C | head -n 1 | sed "s/^NodeName=[^ ]*/NodeName=$host/")
cat > "$dir/slurm.conf" <<CONF
ClusterName=ndtask-ci
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=pmix
ProctrackType=proctrack/linuxproc
TaskPlugin=task/affinity
SwitchType=switch/none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
MailProg=/bin/true
$node State=UNKNOWN
PartitionName=ci Nodes=ALL Default=YES MaxTime=30 State=UP
CONF
cat "$dir/slurm.conf" | sed 's/^/     /' | grep -E 'NodeName|MpiDefault|TaskPlugin'
export SLURM_CONF=$dir/slurm.conf

echo "== slurmctld and slurmd"
slurmctld -f "$SLURM_CONF"
slurmd -f "$SLURM_CONF"
up=0
for _ in $(seq 1 60); do
  if timeout 5 sinfo -h -o '%T' 2>/dev/null | grep -q -E '^(idle|mixed|allocated)'; then up=1; break; fi
  sleep 1
done
if [ "$up" = 1 ]; then
  pass "slurm: node $host is $(sinfo -h -o '%T')"
else
  fail "slurm: the node did not come up"
  sinfo; tail -n 20 "$dir/slurmctld.log" "$dir/slurmd.log"
  exit 1
fi
echo "     srun --mpi=list: $(srun --mpi=list 2>&1 | tr -s ' \n' ' ')"

pi_args=(--throws 2e7 --chunk 1e6)
ref=$(timeout 120 mpirun.openmpi --oversubscribe -n 2 "$EX/pi_chunked" --scheduler mpi --json \
  "${pi_args[@]}" 2>&1 | tail -n 1)
want_pi=$(printf '%s' "$ref" | field pi)
want_hits=$(printf '%s' "$ref" | field hits)
threaded=$("$EX/pi_chunked" --scheduler threaded --json "${pi_args[@]}" | tail -n 1 | field hits)
echo "     mpirun -n 2: pi = $want_pi, hits = $want_hits (threaded: hits = $threaded)"

echo "== srun -n 2 --mpi=pmix: the pi demo"
line=$(timeout 120 srun -n 2 --mpi=pmix "$EX/pi_chunked" --scheduler auto --json "${pi_args[@]}" 2>&1 | tail -n 1)
got_pi=$(printf '%s' "$line" | field pi)
got_hits=$(printf '%s' "$line" | field hits)
ranks=$(printf '%s' "$line" | field ranks)
if [ -n "$want_hits" ] && [ "$got_hits" = "$want_hits" ] && [ "$got_pi" = "$want_pi" ] \
  && [ "$ranks" = 2 ] && [ "$want_hits" = "$threaded" ]; then
  pass "srun -n 2: pi = $got_pi, hits = $got_hits on $ranks ranks, as mpirun and threads"
else
  fail "srun -n 2: '$line'"
fi

echo "== sbatch scripts/slurm/pi.sbatch on 1 node, 2 ranks of 1 thread"
out=$dir/pi-%j.out
job=$(sbatch --parsable -N 1 --ntasks-per-node=2 --cpus-per-task=1 -t 5 -o "$out" \
  scripts/slurm/pi.sbatch "${pi_args[@]}")
state=
for _ in $(seq 1 120); do
  state=$(scontrol show job "$job" 2>/dev/null | grep -o 'JobState=[A-Z_]*' | cut -d= -f2)
  case "$state" in COMPLETED | FAILED | CANCELLED | TIMEOUT | NODE_FAIL | OUT_OF_MEMORY) break ;; esac
  sleep 1
done
file=${out//%j/$job}
line=$(tail -n 1 "$file" 2>/dev/null)
got_pi=$(printf '%s' "$line" | field pi)
got_hits=$(printf '%s' "$line" | field hits)
ranks=$(printf '%s' "$line" | field ranks)
threads=$(printf '%s' "$line" | field threads)
if [ "$state" = COMPLETED ] && [ "$got_hits" = "$want_hits" ] && [ "$got_pi" = "$want_pi" ] \
  && [ "$ranks" = 2 ]; then
  pass "sbatch job $job: $state, pi = $got_pi, hits = $got_hits on $ranks ranks ($threads threads each)"
else
  fail "sbatch job $job: state '$state', last line '$line'"
  cat "$file" 2>/dev/null | tail -n 20
  tail -n 20 "$dir/slurmctld.log" "$dir/slurmd.log"
fi

stop
trap - EXIT
echo "slurm: $passed passed, $failed failed"
[ "$failed" = 0 ]
