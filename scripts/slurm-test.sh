#!/usr/bin/env bash
# Cluster test: niiv's sharded reconstruction on a real one-node Slurm
# cluster (slurmctld, slurmd and munged started here, in a temporary folder,
# and stopped on exit, pass or fail).
#
#   scripts/slurm-test.sh [--bin NIIV] [--keep]
#
#   --bin NIIV  use this niiv binary (default: build the working tree into ./niiv)
#   --keep      keep the temporary folder (logs, volumes) after the run
#
# Installs Debian's slurmctld, slurmd, slurm-client and munge when they are
# missing (needs root, or sudo). The daemons use their own munge key and
# socket, their own ports and a slurm.conf in the temporary folder, so a
# system Slurm or munge, if any, is neither used nor disturbed.
#
# Checks:
#   smoke      sbatch --array=0-3 --wait --wrap 'echo $SLURM_ARRAY_TASK_ID'
#   reference  niiv sample (16×128×128 uint8), then a one-process
#              niiv reconstruct IN.zarr REF.zarr --chunk 128,32,32 --levels 3
#              (16 blocks, a pyramid of 3 levels)
#   array      the same as an 8-task job array (each task: plain ./niiv with
#              SLURM_ARRAY_TASK_ID/COUNT), then --finish (builds the pyramid);
#              every level equals the reference's, bit for bit (Python zarr)
#   resume     the array again (2 tasks at a time) into a new output: once a
#              block is done, a running task and task 5 (pending) are
#              cancelled (scancel); --status must show missing blocks and
#              --finish must refuse; the resubmitted array must compute
#              exactly the missing blocks (sum of "blocks computed") and,
#              after --finish, the output must equal the reference
#   deploy     bash deploy/slurm/reconstruct.sbatch (4 tasks and a dependent
#              --finish job): the --finish job's output, equal to the reference
#
# Needs /usr/bin/python3 with zarr and numpy (scripts/setup.sh test). Exit
# status 0 only when every check passed; nothing of what it started (munged,
# slurmctld, slurmd, slurmstepd, job processes) is left running.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
PYTHON=${PYTHON:-/usr/bin/python3}
bin=""
keep=0
while [ $# -gt 0 ]; do
  case "$1" in
    --bin) bin=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "slurm-test: unknown argument $1 (--help)" >&2; exit 2 ;;
  esac
done

t_start=$(date +%s.%N)
elapsed() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }
log() { echo "slurm-test: $*"; }
die() { echo "slurm-test: FAIL: $*" >&2; exit 1; }

# --- root, packages ---------------------------------------------------------
if [ "$(id -u)" -ne 0 ]; then
  # munged, slurmctld and slurmd run as root here (SlurmUser=root).
  if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    args=()
    [ -n "$bin" ] && args+=(--bin "$bin")
    [ $keep = 1 ] && args+=(--keep)
    exec sudo -E PYTHON="$PYTHON" bash "$0" ${args[@]+"${args[@]}"}
  fi
  die "needs root (or password-less sudo) to run munged, slurmctld and slurmd"
fi
pkgs=(slurmctld slurmd slurm-client munge)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  command -v apt-get >/dev/null || die "missing ${missing[*]} and no apt-get to install them"
  log "installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
for c in munged slurmctld slurmd sbatch sinfo squeue scancel; do
  command -v "$c" >/dev/null || die "$c not found after installing ${pkgs[*]}"
done
"$PYTHON" -c 'import zarr, numpy' 2>/dev/null || die "$PYTHON cannot import zarr and numpy (scripts/setup.sh test)"

if [ -z "$bin" ]; then
  log "building niiv"
  (cd "$repo" && go build -o niiv .)
  bin=$repo/niiv
fi
NIIV=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")
[ -x "$NIIV" ] || die "$NIIV is not an executable"
help=$("$NIIV" reconstruct --help 2>&1 || true)
grep -q -- '-finish' <<<"$help" || die "$NIIV reconstruct has no --finish (cluster contract not built in)"

# --- temporary folder, cleanup ----------------------------------------------
tmp=$(mktemp -d "${TMPDIR:-/tmp}/niiv-slurm.XXXXXX")
chmod 0755 "$tmp" # munged wants its socket's folder searchable by all
pids=()           # daemons started here: munged, slurmctld, slurmd

# ours lists the processes that belong to this run: those whose command line
# or working folder is in $tmp (the daemons, slurmstepd, job scripts, niiv).
ours() {
  {
    pgrep -f -- "$tmp"
    find /proc/[0-9]*/cwd -maxdepth 0 \( -lname "$tmp" -o -lname "$tmp/*" \) 2>/dev/null | cut -d/ -f3
  } | sort -un | grep -vx -e "$$" -e "$BASHPID" || true
}

# stop PID NAME: SIGTERM, up to 10 s, then SIGKILL.
stop() {
  local pid=$1 name=$2 i
  kill -0 "$pid" 2>/dev/null || return 0
  kill "$pid" 2>/dev/null || true
  for i in $(seq 100); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  log "$name (pid $pid) still running 10 s after SIGTERM: SIGKILL"
  kill -9 "$pid" 2>/dev/null || true
}

cleanup() {
  local rc=$? i left
  set +e
  trap - EXIT INT TERM
  exec 1>&8 2>&9 # a signal's trap runs with the redirections of the command it interrupted
  cd /
  if [ -n "${SLURM_CONF:-}" ] && [ -f "$SLURM_CONF" ] && [ ${#pids[@]} -ge 2 ]; then
    # Jobs still queued or running (a failed check): cancel them first, so
    # that slurmd can end their steps.
    if [ -n "$(timeout 10 squeue -h -o %i 2>/dev/null)" ]; then
      timeout 10 scancel --full --quiet --user=root 2>/dev/null
      for i in $(seq 50); do
        [ -z "$(timeout 5 squeue -h -o %i 2>/dev/null)" ] && break
        sleep 0.2
      done
    fi
  fi
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    stop "${pids[i]%%:*}" "${pids[i]#*:}"
  done
  # Job steps and their processes outlive slurmd when they hang: end them.
  left=$(ours)
  if [ -n "$left" ]; then
    for i in $left; do stop "$i" "process"; done
  fi
  left=$(ours)
  for i in ${pids[@]+"${pids[@]}"}; do
    kill -0 "${i%%:*}" 2>/dev/null && left="$left ${i%%:*}"
  done
  if [ -n "${left// /}" ]; then
    echo "slurm-test: FAIL: still running after cleanup:" >&2
    ps -o pid,ppid,cmd -p "$(echo $left | tr ' ' ,)" >&2
    kill -9 $left 2>/dev/null
    rc=1
  fi
  # The pgrep check: no munged/slurm process of this run.
  if pgrep -f "$tmp" >/dev/null; then
    echo "slurm-test: FAIL: pgrep finds processes of this run:" >&2
    pgrep -af "$tmp" >&2
    rc=1
  fi
  if [ $keep = 1 ]; then
    log "kept $tmp"
  else
    rm -rf "$tmp"
  fi
  if [ $rc -eq 0 ]; then
    log "PASS ($(elapsed "$t_start") s in all; nothing left running)"
  else
    echo "slurm-test: FAILED (exit $rc, $(elapsed "$t_start") s)" >&2
  fi
  exit $rc
}
exec 8>&1 9>&2
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

daemon_logs() {
  local f
  for f in munged.log slurmctld.log slurmd.log; do
    [ -f "$tmp/$f" ] || continue
    echo "----- $f (last 30 lines)" >&2
    tail -n 30 "$tmp/$f" >&2
  done
}
fail() {
  echo "slurm-test: FAIL: $*" >&2
  daemon_logs
  exit 1
}

# A listening TCP port? (/proc/net/tcp*, no ss or netstat needed)
port_busy() {
  local hex
  hex=$(printf ':%04X ' "$1")
  cat /proc/net/tcp /proc/net/tcp6 2>/dev/null | awk -v h="$hex" '$2 ~ h"$" || index($2" ", h) { found = 1 } END { exit !found }'
}
ctld_port=""
for i in $(seq 50); do
  p=$((20000 + RANDOM % 20000))
  if ! port_busy $p && ! port_busy $((p + 1)); then ctld_port=$p; break; fi
done
[ -n "$ctld_port" ] || die "no two free TCP ports found"
slurmd_port=$((ctld_port + 1))

# --- munged -----------------------------------------------------------------
t0=$(date +%s.%N)
host=$(hostname -s)
cpus=$(nproc)
mem_mb=$(($(awk '/^MemTotal:/ { print $2 }' /proc/meminfo) / 1024))
mem_mb=$((mem_mb > 2048 ? mem_mb - 1024 : mem_mb * 3 / 4)) # a margin for the OS
mkdir -p "$tmp/state" "$tmp/spool" "$tmp/work"

# munged runs as root here: the key is root's, mode 0400.
if command -v mungekey >/dev/null; then
  mungekey --create --keyfile="$tmp/munge.key" --bits=1024 >/dev/null 2>&1 || true
fi
[ -s "$tmp/munge.key" ] || dd if=/dev/urandom of="$tmp/munge.key" bs=1024 count=1 status=none
chown root:root "$tmp/munge.key"
chmod 0400 "$tmp/munge.key"
munge_sock=$tmp/munge.socket
munged_args=(--socket="$munge_sock" --key-file="$tmp/munge.key" --pid-file="$tmp/munged.pid"
  --log-file="$tmp/munged.log" --seed-file="$tmp/munged.seed")
if ! munged "${munged_args[@]}" 2>"$tmp/munged.err"; then
  # Some versions refuse to run as root or in a folder they deem insecure.
  munged --force "${munged_args[@]}" 2>>"$tmp/munged.err" || { cat "$tmp/munged.err" >&2; fail "munged did not start"; }
fi
for i in $(seq 50); do [ -s "$tmp/munged.pid" ] && break; sleep 0.1; done
[ -s "$tmp/munged.pid" ] || fail "munged wrote no pid file"
pids+=("$(cat "$tmp/munged.pid"):munged")
munge -S "$munge_sock" -n | unmunge -S "$munge_sock" >/dev/null || fail "munge/unmunge round trip through $munge_sock"

# --- slurmctld, slurmd ------------------------------------------------------
export SLURM_CONF=$tmp/slurm.conf
cat >"$SLURM_CONF" <<EOF
# A one-node test cluster: everything under $tmp.
ClusterName=niivtest
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$munge_sock
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
ReturnToService=2
# Finished jobs are forgotten after 5 s, which keeps sbatch --wait polling
# every 2 s (it backs off to 32 s when MinJobAge allows).
MinJobAge=5
KillWait=5
StateSaveLocation=$tmp/state
SlurmdSpoolDir=$tmp/spool
SlurmctldPidFile=$tmp/slurmctld.pid
SlurmdPidFile=$tmp/slurmd.pid
SlurmctldLogFile=$tmp/slurmctld.log
SlurmdLogFile=$tmp/slurmd.log
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MailProg=/bin/true
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
# Started from $tmp, so that they and their job steps are found by ours().
(cd "$tmp" && slurmctld -f "$SLURM_CONF") || fail "slurmctld did not start"
for i in $(seq 100); do [ -s "$tmp/slurmctld.pid" ] && break; sleep 0.1; done
[ -s "$tmp/slurmctld.pid" ] || fail "slurmctld wrote no pid file"
pids+=("$(cat "$tmp/slurmctld.pid"):slurmctld")
(cd "$tmp" && slurmd -f "$SLURM_CONF") || fail "slurmd did not start"
for i in $(seq 100); do [ -s "$tmp/slurmd.pid" ] && break; sleep 0.1; done
[ -s "$tmp/slurmd.pid" ] || fail "slurmd wrote no pid file"
pids+=("$(cat "$tmp/slurmd.pid"):slurmd")
state=""
for i in $(seq 150); do # 30 s
  state=$(timeout 5 sinfo -h -n "$host" -o %t 2>/dev/null || true)
  [ "$state" = idle ] && break
  sleep 0.2
done
[ "$state" = idle ] || fail "node $host is not idle after 30 s (sinfo: '${state:-no answer}')"
t_up=$(elapsed "$t0")
log "cluster up in $t_up s: node $host, $cpus CPUs, ${mem_mb} MB, ports $ctld_port/$slurmd_port"

# --- helpers for the checks -------------------------------------------------
results=()
failed=0
# result NAME SECONDS OK|FAIL DETAIL
result() {
  results+=("$(printf '%-10s %-4s %6s s  %s' "$1" "$3" "$2" "$4")")
  [ "$3" = ok ] || failed=1
  echo "slurm-test: $1: $3 ($2 s): $4"
}

# blocks_done OUT: "D T" from niiv reconstruct --status ("blocks D of T done").
blocks_done() {
  "$NIIV" reconstruct --status "$1" 2>/dev/null | sed -n 's/^blocks  *\([0-9][0-9]*\) of \([0-9][0-9]*\) done.*/\1 \2/p'
}

# exits DIR: "OK FAILED" counts of the tasks' "niiv exit N" lines in DIR/*.out.
exits() {
  cat "$1"/*.out 2>/dev/null | sed -n 's/^task [0-9]*: niiv exit \([0-9]*\)$/\1/p' |
    awk '{ if ($1 == 0) ok++; else bad++ } END { print ok + 0, bad + 0 }'
}

# shard_sums LOG...: "COMPUTED SKIPPED LINES" summed over the shard lines.
shard_sums() {
  cat "$@" 2>/dev/null | sed -n 's/^shard [0-9]*\/[0-9]*.*: \([0-9][0-9]*\) blocks\{0,1\} computed, \([0-9][0-9]*\) already done.*/\1 \2/p' |
    awk '{ c += $1; s += $2; n++ } END { print c + 0, s + 0, n + 0 }'
}

# same A B: every multiscale level of OME-Zarr A equals B's (dtype, shape,
# values); prints one line per level.
same() {
  "$PYTHON" - "$1" "$2" <<'EOF'
import sys
import numpy as np
import zarr

def levels(path):
    g = zarr.open_group(path, mode="r")
    return g, [d["path"] for d in g.attrs["multiscales"][0]["datasets"]]

(ga, la), (gb, lb) = levels(sys.argv[1]), levels(sys.argv[2])
ok = True
if la != lb:
    print(f"levels differ: {la} vs {lb}")
    ok = False
for p in la:
    if p not in lb:
        continue
    a, b = ga[p][...], gb[p][...]
    if a.dtype != b.dtype or a.shape != b.shape:
        print(f"level {p}: {a.dtype}{a.shape} vs {b.dtype}{b.shape}")
        ok = False
    elif not np.array_equal(a, b):
        d = a != b
        print(f"level {p}: {a.dtype}{a.shape}, {int(d.sum())} voxels differ, "
              f"max |diff| {float(np.abs(a.astype(np.float64) - b).max()):.3g}")
        ok = False
    else:
        print(f"level {p}: {a.dtype}{a.shape} equal")
sys.exit(0 if ok else 1)
EOF
}

# in_bg CMD...: CMD in the background, waited for: bash runs the trap of a
# signal (a CI runner's SIGTERM) only between commands, but it interrupts
# a wait at once.
in_bg() {
  "$@" &
  wait $!
}

# tasklogs DIR...: the end of every array task's output, on stderr.
tasklogs() {
  local d f
  for d in "$@"; do
    for f in "$d"/*.out; do
      [ -f "$f" ] || continue
      echo "----- $f" >&2
      tail -n 4 "$f" >&2
    done
  done
}

# oneline FILE: FILE's lines joined with "; ".
oneline() { sed 's/[[:space:]]*$//' "$1" 2>/dev/null | paste -sd '|' | sed 's/|/; /g'; }

# wait_gone JOBID SECONDS: until squeue lists no task of the job.
wait_gone() {
  local i
  for i in $(seq $(($2 * 5))); do
    [ -z "$(squeue -h -j "$1" -o %i 2>/dev/null)" ] && return 0
    sleep 0.2
  done
  return 1
}

# The batch script of a shard: a plain (srun-less) run of this niiv, one
# thread per CPU of the task, then its exit status ("niiv exit N": the
# checks count these rather than trust sbatch --wait's status, which misses
# tasks that Slurm forgot before it looked). Arguments: IN OUT [flags...].
cat >"$tmp/shard.sbatch" <<EOF
#!/bin/bash
set -euo pipefail
echo "task \$SLURM_ARRAY_TASK_ID of \$SLURM_ARRAY_TASK_COUNT on \$(hostname -s), \${SLURM_CPUS_PER_TASK:-1} CPU(s)"
rc=0
"$NIIV" reconstruct "\$1" "\$2" --chunk 128,32,32 --levels 3 --threads "\${SLURM_CPUS_PER_TASK:-1}" "\${@:3}" || rc=\$?
echo "task \$SLURM_ARRAY_TASK_ID: niiv exit \$rc"
exit \$rc
EOF
chmod +x "$tmp/shard.sbatch"
cd "$tmp/work"

# --- smoke: a trivial job array ---------------------------------------------
t0=$(date +%s.%N)
mkdir -p smoke
if in_bg timeout 60 sbatch --array=0-3 --wait --chdir="$tmp/work/smoke" -o '%a.out' \
  --wrap 'echo $SLURM_ARRAY_TASK_ID' >smoke.log 2>&1; then
  got=$(cat smoke/0.out smoke/1.out smoke/2.out smoke/3.out 2>/dev/null | tr '\n' ' ')
  if [ "$got" = "0 1 2 3 " ]; then
    result smoke "$(elapsed "$t0")" ok "$(oneline smoke.log), 4 array tasks printed their ids: $got"
  else
    result smoke "$(elapsed "$t0")" FAIL "array tasks printed '$got', want '0 1 2 3 '"
  fi
else
  result smoke "$(elapsed "$t0")" FAIL "sbatch --wait: $(oneline smoke.log)"
  fail "the trivial job array failed; not going on"
fi

# --- reference: one process -------------------------------------------------
t0=$(date +%s.%N)
in_bg "$NIIV" sample --size 128 --factor 8 --dtype uint8 IN.zarr >sample.log 2>&1 || { cat sample.log >&2; fail "niiv sample"; }
t1=$(date +%s.%N)
if in_bg "$NIIV" reconstruct IN.zarr REF.zarr --chunk 128,32,32 --levels 3 --method niiv >ref.log 2>&1; then
  t_ref=$(elapsed "$t1")
  result reference "$(elapsed "$t0")" ok "sample, then $(grep '^wrote REF' ref.log | sed 's/^wrote //') in $t_ref s"
else
  cat ref.log >&2
  result reference "$(elapsed "$t0")" FAIL "one-process niiv reconstruct failed"
  fail "no reference; not going on"
fi

# --- array: 8 tasks, then --finish, equal to the reference ------------------
array() {
  local ok bad computed skipped lines
  timeout 150 sbatch --array=0-7 --wait --cpus-per-task=1 -o "$tmp/work/array/%a.out" \
    "$tmp/shard.sbatch" "$tmp/work/IN.zarr" "$tmp/work/OUT.zarr" >sbatch.log 2>&1 ||
    echo "sbatch --wait: exit $? ($(oneline sbatch.log))"
  read -r ok bad < <(exits array)
  [ "$ok" = 8 ] || { echo "$ok of 8 tasks exited 0 ($bad non-zero)"; return 1; }
  read -r computed skipped lines < <(shard_sums array/*.out)
  echo "8 tasks: $lines shard lines, $computed blocks computed, $skipped already done"
  [ "$lines" = 8 ] && [ "$computed" = 16 ] && [ "$skipped" = 0 ] ||
    { echo "want 8 shard lines, 16 blocks computed, 0 already done"; return 1; }
  "$NIIV" reconstruct --finish OUT.zarr >finish.log 2>&1 || { echo "--finish: $(oneline finish.log)"; return 1; }
  grep '^finished' finish.log
  "$NIIV" reconstruct --status OUT.zarr | grep '^blocks' | tr -s ' '
  same OUT.zarr REF.zarr
}
t0=$(date +%s.%N)
mkdir -p array
if in_bg array >array.log 2>&1; then
  result array "$(elapsed "$t0")" ok "$(oneline array.log)"
else
  result array "$(elapsed "$t0")" FAIL "$(oneline array.log)"
  tasklogs array
fi

# --- resume: cancel tasks mid-run, resubmit, equal to the reference ---------
resume() {
  local job i d t done_n missing queue running ok bad computed skipped lines
  # At most 2 tasks at a time (%2), so that task 5 has not started yet when
  # the first block is done, whatever the number of CPUs.
  job=$(sbatch --parsable --array=0-7%2 --cpus-per-task=1 -o "$tmp/work/resume1/%a.out" \
    "$tmp/shard.sbatch" "$tmp/work/IN.zarr" "$tmp/work/OUT2.zarr" --method niiv) || { echo "sbatch failed"; return 1; }
  job=${job%%;*}
  # Wait for the first finished block, then cancel a running task (in the
  # middle of a block) and task 5 (not started).
  done_n=0
  for i in $(seq 300); do # 60 s
    read -r d t < <(blocks_done OUT2.zarr; echo "0 0") || true
    [ "${d:-0}" -gt 0 ] && { done_n=$d; break; }
    sleep 0.2
  done
  [ "$done_n" -gt 0 ] || { echo "no block was finished within 60 s"; return 1; }
  queue=$(squeue -h -j "$job" -o '%K:%t' 2>/dev/null | tr '\n' ' ')
  running=$(tr ' ' '\n' <<<"$queue" | sed -n 's/^\([0-9]*\):R$/\1/p' | grep -vx 5 | head -n 1 || true)
  scancel ${running:+"${job}_$running"} "${job}_5" || { echo "scancel failed"; return 1; }
  echo "cancelled tasks ${running:+$running (running) and }5 at $done_n block(s) done (tasks:states then: ${queue% })"
  wait_gone "$job" 120 || { echo "the other tasks did not end within 120 s"; return 1; }
  read -r d t < <(blocks_done OUT2.zarr)
  missing=$((t - d))
  echo "--status after the rest: $d of $t blocks done, $missing missing"
  [ "$missing" -gt 0 ] || { echo "nothing missing: the cancel came too late"; return 1; }
  if "$NIIV" reconstruct --finish OUT2.zarr >finish2a.log 2>&1; then
    echo "--finish succeeded on an incomplete output"; return 1
  fi
  echo "--finish refused ($(grep -m1 '^missing' finish2a.log | tr -s ' '))"
  timeout 150 sbatch --array=0-7 --wait --cpus-per-task=1 -o "$tmp/work/resume2/%a.out" \
    "$tmp/shard.sbatch" "$tmp/work/IN.zarr" "$tmp/work/OUT2.zarr" --method niiv >sbatch2.log 2>&1 ||
    echo "sbatch --wait: exit $? ($(oneline sbatch2.log))"
  read -r ok bad < <(exits resume2)
  [ "$ok" = 8 ] || { echo "rerun: $ok of 8 tasks exited 0 ($bad non-zero)"; return 1; }
  read -r computed skipped lines < <(shard_sums resume2/*.out)
  echo "rerun: $lines shard lines, $computed blocks computed, $skipped already done"
  [ "$computed" = "$missing" ] || { echo "the rerun computed $computed blocks, want the $missing missing"; return 1; }
  [ "$skipped" = "$d" ] || { echo "the rerun skipped $skipped blocks, want the $d done"; return 1; }
  read -r d t < <(blocks_done OUT2.zarr)
  [ "$d" = "$t" ] || { echo "--status after the rerun: $d of $t"; return 1; }
  "$NIIV" reconstruct --finish OUT2.zarr >finish2.log 2>&1 || { echo "--finish: $(oneline finish2.log)"; return 1; }
  grep '^finished' finish2.log
  same OUT2.zarr REF.zarr
}
t0=$(date +%s.%N)
mkdir -p resume1 resume2
if in_bg resume >resume.log 2>&1; then
  result resume "$(elapsed "$t0")" ok "$(oneline resume.log)"
else
  result resume "$(elapsed "$t0")" FAIL "$(oneline resume.log)"
  tasklogs resume1 resume2
fi
# --- deploy: deploy/slurm/reconstruct.sbatch submits the array and --finish --
deploy() {
  local jid fin f
  NIIV=$NIIV bash "$repo/deploy/slurm/reconstruct.sbatch" --array=0-3 --cpus-per-task=1 --mem=256M --time=10 \
    --output="$tmp/work/deploy/%a.out" IN.zarr OUT3.zarr --chunk 128,32,32 --levels 3 >submit.log 2>&1 ||
    { echo "submitting: $(oneline submit.log)"; return 1; }
  read -r jid fin < <(sed -n 's/^submitted array job \([0-9]*\) and --finish job \([0-9]*\).*/\1 \2/p' submit.log)
  [ -n "$fin" ] || { echo "no job ids in: $(oneline submit.log)"; return 1; }
  echo "$(oneline submit.log)"
  wait_gone "$jid" 120 && wait_gone "$fin" 60 || { echo "jobs $jid and $fin did not end within 180 s"; return 1; }
  f=niiv-finish-$fin.out
  grep '^finished' "$f" || { echo "--finish job: $(oneline "$f")"; return 1; }
  same OUT3.zarr REF.zarr
}
t0=$(date +%s.%N)
mkdir -p deploy
if in_bg deploy >deploy.log 2>&1; then
  result deploy "$(elapsed "$t0")" ok "$(oneline deploy.log)"
else
  result deploy "$(elapsed "$t0")" FAIL "$(oneline deploy.log)"
  tasklogs deploy
fi
cd "$repo"

# --- summary ----------------------------------------------------------------
echo
echo "slurm-test summary (cluster up in $t_up s, $(elapsed "$t_start") s so far):"
printf '  %s\n' "${results[@]}"
[ $failed = 0 ] || { daemon_logs; exit 1; }
