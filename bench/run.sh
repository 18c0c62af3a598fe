#!/usr/bin/env bash
# make bench: every benchmark of issue 5 in one run, then the table, JSON and plots.
#
#   bash bench/run.sh                 # full run, a few minutes on 2 cores
#   QUICK=1 bash bench/run.sh         # about a minute
#   BUILD=/tmp/b bash bench/run.sh    # binaries and Python package of another build dir
#   PYSYNCQ_ORIGINAL=/path bash bench/run.sh   # folder with the original pysyncq/
#
# Writes bench/results/results.json, bench/results/bench.png and results.md.
# Leaves no process and no /dev/shm segment behind, even when interrupted: every step
# runs in its own process group, which the exit trap ends, and the names this bench
# creates (pysyncq-bench-*) are removed at exit; RouDi is stopped if we started it, and
# the NATS step's servers die with it.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
BUILD=$(cd "$BUILD" 2>/dev/null && pwd || echo "$BUILD")
QUICK=${QUICK:-0}
PY=/usr/bin/python3
OUT=$ROOT/bench/results
RAW=$OUT/results.jsonl.tmp
ORIGINAL=${PYSYNCQ_ORIGINAL:-}
if [ -z "$ORIGINAL" ] && [ -d "$ROOT/../shared/reference/pysyncq-original" ]; then
  ORIGINAL=$(cd "$ROOT/../shared/reference/pysyncq-original" && pwd)
fi
QUICK_FLAG=()
[ "$QUICK" = 1 ] && QUICK_FLAG=(--quick)

STEP_PID=""
ROUDI_PID=""
ROUDI_LOG=$OUT/roudi.log.tmp
ROUDI_OWN_SEGMENTS=()

say() { printf '%s\n' "$*" >&2; }
record() { printf '%s\n' "$1" >>"$RAW"; }
skip() { # skip SUITE WHAT REASON
  say "SKIPPED $2: $3"
  record "{\"suite\": \"$1\", \"skipped\": \"$2\", \"reason\": \"$3\"}"
}

# Runs one step in its own session and process group, so that the trap can end it with
# everything it forked.
run_step() {
  setsid "$@" &
  STEP_PID=$!
  wait "$STEP_PID"
  local rc=$?
  STEP_PID=""
  return $rc
}

stop_roudi() {
  [ -n "$ROUDI_PID" ] || return 0
  kill -TERM "$ROUDI_PID" 2>/dev/null
  for _ in $(seq 50); do kill -0 "$ROUDI_PID" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$ROUDI_PID" 2>/dev/null
  wait "$ROUDI_PID" 2>/dev/null
  ROUDI_PID=""
  # A RouDi that died hard leaves its segments; remove only those it created.
  for segment in "${ROUDI_OWN_SEGMENTS[@]}"; do rm -f "$segment"; done
}

cleanup() {
  local status=$?
  trap - EXIT INT TERM
  if [ -n "$STEP_PID" ]; then
    kill -TERM -- "-$STEP_PID" 2>/dev/null
    sleep 0.5
    kill -KILL -- "-$STEP_PID" 2>/dev/null
    wait "$STEP_PID" 2>/dev/null
  fi
  stop_roudi
  rm -f /dev/shm/pysyncq-bench-* /tmp/pysyncq-bench-*
  exit "$status"
}
trap cleanup EXIT
trap 'say "interrupted"; exit 130' INT
trap 'exit 143' TERM

start_roudi() {
  if ! command -v iox-roudi >/dev/null; then
    skip cpp iceoryx "iox-roudi not installed (Debian package iceoryx)"
    return 1
  fi
  if pgrep -x iox-roudi >/dev/null; then
    say "iceoryx: using the RouDi that is already running"
    return 0
  fi
  local candidates=(/dev/shm/iceoryx_mgmt /dev/shm/root /tmp/roudi /tmp/roudi.lock
                    /tmp/iox-unique-roudi.lock)
  ROUDI_OWN_SEGMENTS=()
  for path in "${candidates[@]}"; do [ -e "$path" ] || ROUDI_OWN_SEGMENTS+=("$path"); done
  if [ -e /dev/shm/iceoryx_mgmt ]; then
    skip cpp iceoryx "a stale /dev/shm/iceoryx_mgmt exists and no RouDi runs; not starting one"
    return 1
  fi
  iox-roudi >"$ROUDI_LOG" 2>&1 &
  ROUDI_PID=$!
  for _ in $(seq 50); do
    grep -q "RouDi is ready" "$ROUDI_LOG" 2>/dev/null && return 0
    kill -0 "$ROUDI_PID" 2>/dev/null || break
    sleep 0.1
  done
  skip cpp iceoryx "RouDi did not start: $(tail -1 "$ROUDI_LOG" 2>/dev/null | tr -d '"\\')"
  stop_roudi
  return 1
}

mkdir -p "$OUT"
: >"$RAW"
# The benchmark programs are out of the default build (make build): build them here, in
# the build directory whose library they measure.
if [ ! -f "$BUILD/CMakeCache.txt" ]; then
  say "no $BUILD/CMakeCache.txt: build first (make build, or BUILD=<your build dir>)"
  exit 1
fi
if ! cmake --build "$BUILD" -j "$(nproc)" --target bench_programs >/dev/null; then
  say "building the benchmark programs in $BUILD failed (cmake --build $BUILD --target bench_programs)"
  exit 1
fi

START=$(date -u +%Y-%m-%dT%H:%M:%SZ)
CPU=$(lscpu | sed -n 's/^Model name: *//p' | head -1)
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
COMMAND="make bench"
[ "$QUICK" = 1 ] && COMMAND="QUICK=1 make bench"
say "pysyncq bench: $START, $(nproc) CPUs ($CPU), load $LOAD_BEFORE, ${COMMAND}"
say "pinning: ping-pong parent on CPU 0, child on CPU 1; fanout writer on CPU 0, readers"
say "         from CPU 1 round-robin; Python echo and scaling are not pinned"

# --- C++ --------------------------------------------------------------------------------
say "C++: our queue, floors, memcpy"
run_step "$BUILD/bench/pysyncq_bench" "${QUICK_FLAG[@]}" >>"$RAW" || say "pysyncq_bench failed"
for peer in zmq boost; do
  if [ -x "$BUILD/bench/pysyncq_bench_$peer" ]; then
    say "C++: $peer"
    run_step "$BUILD/bench/pysyncq_bench_$peer" "${QUICK_FLAG[@]}" >>"$RAW" ||
      say "pysyncq_bench_$peer failed"
  else
    skip cpp "$peer" "not built (its Debian -dev package was missing at configure time)"
  fi
done
if [ -x "$BUILD/bench/pysyncq_bench_iceoryx" ]; then
  if start_roudi; then
    say "C++: iceoryx (RouDi pid ${ROUDI_PID:-external})"
    run_step timeout 300 "$BUILD/bench/pysyncq_bench_iceoryx" "${QUICK_FLAG[@]}" >>"$RAW" ||
      say "pysyncq_bench_iceoryx failed"
    stop_roudi
  fi
else
  skip cpp iceoryx "not built (libiceoryx-posh-dev was missing at configure time)"
fi

# --- NATS: what crossing machines costs (issue 8) ---------------------------------------
# The binary starts and stops its own nats-servers (one, then a 3-node cluster) on
# 127.0.0.1 and says {"skipped": ...} itself when nats-server is not installed.
if [ -x "$BUILD/bench/pysyncq_bench_nats" ]; then
  say "NATS: our queue on 1 server and on 3 nodes with replicas=3, beside shared memory"
  run_step timeout 600 "$BUILD/bench/pysyncq_bench_nats" "${QUICK_FLAG[@]}" >>"$RAW" || {
    say "pysyncq_bench_nats failed"
    record "{\"suite\": \"nats\", \"failed\": \"nats\", \"reason\": \"pysyncq_bench_nats exited with an error\"}"
  }
else
  skip nats nats "not built: libnats-dev was missing at configure time (make bench installs it and nats-server, then builds)"
fi

# --- hot path: syscalls per non-blocking append+pop, and memory --------------------------
say "C++: syscalls on the non-blocking hot path (strace -c), memory"
if command -v strace >/dev/null; then
  calls() { # total syscalls of `pysyncq_hotpath loop N`
    strace -f -c -o "$OUT/strace.tmp" "$BUILD/bench/pysyncq_hotpath" loop "$1" >/dev/null &&
      awk '$NF == "total" {print $4}' "$OUT/strace.tmp"
  }
  small=$(calls 1000)
  large=$(calls 1000000)
  say "  syscalls: $small for 1000 append+pop, $large for 1000000"
  record "{\"suite\": \"cpp\", \"workload\": \"syscalls\", \"contender\": \"pysyncq\", \"tool\": \"strace -c -f\", \"iterations_small\": 1000, \"calls_small\": ${small:-null}, \"iterations_large\": 1000000, \"calls_large\": ${large:-null}}"
else
  skip cpp syscalls "strace not installed"
fi
run_step "$BUILD/bench/pysyncq_hotpath" loop 2000000 >>"$RAW"
run_step "$BUILD/bench/pysyncq_hotpath" memory $([ "$QUICK" = 1 ] && echo 20000 || echo 200000) >>"$RAW"
for mebibytes in 1 8 64; do
  run_step "$BUILD/bench/pysyncq_hotpath" open "$mebibytes" >>"$RAW"
done

# --- Python -------------------------------------------------------------------------------
if [ -z "$ORIGINAL" ]; then
  say "SKIPPED original: no ../shared/reference/pysyncq-original and no PYSYNCQ_ORIGINAL"
fi
run_step "$PY" "$ROOT/bench/python/run_python.py" --ours "$BUILD/python" \
  --original "$ORIGINAL" --out "$RAW" "${QUICK_FLAG[@]}" || say "python bench failed"

# --- report -------------------------------------------------------------------------------
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
record "{\"suite\": \"meta\", \"date\": \"$START\", \"cpu\": \"$CPU\", \"cpus\": $(nproc), \"kernel\": \"$(uname -r)\", \"load_before\": \"$LOAD_BEFORE\", \"load_after\": \"$LOAD_AFTER\", \"command\": \"$COMMAND\", \"commit\": \"$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null)\", \"quick\": $([ "$QUICK" = 1 ] && echo true || echo false)}"
"$PY" "$ROOT/bench/report.py" "$RAW" --json "$OUT/results.json" --png "$OUT/bench.png" \
  --markdown "$OUT/results.md"
