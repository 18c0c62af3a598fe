#!/usr/bin/env bash
# Runs every suite that `make test` promises, after `make build`: C++ tests (ctest, with
# the consumer checks of tests/consumer: a C++ program built against the installed
# library, and the wheel in a fresh venv), Python tests (pytest), the C++ tests against
# the portable platform (the macOS algorithm), the C++ tests built for Windows and run
# under Wine, then the C++ tests
# again under AddressSanitizer and UndefinedBehaviorSanitizer, the stress under
# ThreadSanitizer, the fuzzers for a bounded time, and finally checks that no test left
# a segment in /dev/shm.
# PYSYNCQ_TORTURE=1 (make torture): 1000 random-kill rounds, 60 s soaks, 120 s per fuzzer,
# 60 s of live mutation.
set -uo pipefail
cd "$(dirname "$0")/.."
PYTHON=/usr/bin/python3
JOBS=$(nproc)
failed=()

# Each stage runs under a deadline (STAGE_SECONDS, far above its usual time): a stage that
# hangs fails with a message instead of eating CI's whole budget.
STAGE_SECONDS=${PYSYNCQ_STAGE_SECONDS:-$([ "${PYSYNCQ_TORTURE:-0}" = 1 ] && echo 7200 || echo 1200)}
bounded() { timeout -k 30 "$STAGE_SECONDS" "$@"; local rc=$?; [ $rc = 124 ] && echo "== timed out after $STAGE_SECONDS s: $*"; return $rc; }

# Each stage says how long it took: CI must stay well under 15 minutes, and this shows
# where the time goes.
stage() {
  [ -n "${stage_name:-}" ] && echo "   (${stage_name%% (*}: $((SECONDS - stage_start)) s)"
  stage_name=$1; stage_start=$SECONDS
  [ -n "$1" ] && echo "== $1"
}

leftovers() { ls /dev/shm 2>/dev/null | grep -E '^pysyncq-(test|fuzz)-' || true; }
before=$(leftovers)

# The live mutator (fuzz/live_mutation_test.cpp) runs inside ctest: a few seconds here,
# a minute under torture.
export PYSYNCQ_MUTATION_SECONDS="${PYSYNCQ_MUTATION_SECONDS:-$([ "${PYSYNCQ_TORTURE:-0}" = 1 ] && echo 60 || echo 3)}"

# The builds of the later stages, one function each (the stage and the builder ahead
# both call them).
build_asan() {
  cmake -S . -B build-asan -G "Unix Makefiles" -DPYSYNCQ_SANITIZE=address,undefined \
    -DPYSYNCQ_PYTHON=OFF -DCMAKE_BUILD_TYPE=Debug >/dev/null &&
    cmake --build build-asan -j "$JOBS" >/dev/null
}
build_tsan() {
  cmake -S . -B build-tsan -G "Unix Makefiles" -DPYSYNCQ_SANITIZE=thread \
    -DPYSYNCQ_PYTHON=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null &&
    cmake --build build-tsan -j "$JOBS" --target soak_test >/dev/null
}
build_fuzz() {
  cmake -S . -B build-fuzz -G "Unix Makefiles" -DCMAKE_CXX_COMPILER=clang++ \
    -DPYSYNCQ_PYTHON=OFF -DBUILD_TESTING=OFF >/dev/null &&
    cmake --build build-fuzz -j "$JOBS" --target fuzz_attach fuzz_record >/dev/null
}
sanitizers=$([ "${PYSYNCQ_SKIP_SANITIZERS:-0}" != 1 ] && echo 1 || echo 0)
fuzzing=$([ "$sanitizers" = 1 ] && command -v clang++ >/dev/null && echo 1 || echo 0)

# Runs "$@" holding build directory $1's lock (flock): the builder ahead and a stage never
# build one directory at once.
with_build_lock() {
  local dir=$1
  shift
  mkdir -p "$dir"
  (flock 9 && "$@") 9>"$dir/.build-lock"
}

# Building ahead: while the tests of one stage run, the CPUs are often idle (processes
# waiting for each other, timeouts, Wine starting), so the builds of the later stages go
# on meanwhile, at the lowest priority (nice 19: a test that wants a CPU gets it). Each
# stage then takes its directory's lock, which waits for the builder if it is on that
# directory, and builds what is left (nothing, usually). A failed build ahead is only
# repeated by its stage, which reports it. make test spent about 20 of its 27 minutes
# building, one build after the other.
build_ahead() {
  with_build_lock build-portable make --no-print-directory build-portable
  with_build_lock build-windows make --no-print-directory build-windows
  if [ "$sanitizers" = 1 ]; then
    with_build_lock build-tsan build_tsan
  fi
  if [ "$fuzzing" = 1 ]; then
    with_build_lock build-fuzz build_fuzz
  fi
  if [ "$sanitizers" = 1 ]; then
    with_build_lock build-asan build_asan
  fi
}
# Its own process group (setsid), ended with everything it started if we stop early.
setsid nice -n 19 bash -c "$(declare -f with_build_lock build_asan build_tsan build_fuzz build_ahead)
  JOBS=$JOBS sanitizers=$sanitizers fuzzing=$fuzzing build_ahead" >/dev/null 2>&1 &
builder=$!
trap 'kill -- -"$builder" 2>/dev/null' EXIT

stage "C++ tests (build/)"
bounded ctest --test-dir build --output-on-failure -j "$JOBS" || failed+=("ctest")

if compgen -G "tests/python/test_*.py" >/dev/null; then
  stage "Python tests"
  PYTHONPATH=build/python bounded "$PYTHON" -m pytest -q -p no:cacheprovider tests/python || failed+=("pytest")
fi

# The macOS algorithm on Linux (make test-portable): every C++ suite against the
# portable platform's build.
stage "C++ tests on the portable platform, the macOS algorithm (build-portable/)"
with_build_lock build-portable bounded make --no-print-directory test-portable || failed+=("portable")

# Windows (make test-windows): the C++ suites cross-compiled with mingw-w64, run under Wine.
stage "C++ tests on Windows, under Wine (build-windows/)"
with_build_lock build-windows bounded make --no-print-directory test-windows || failed+=("windows")

if [ "$sanitizers" = 1 ]; then
  # ThreadSanitizer on the multi-threaded, multi-process stress (the soak program: each
  # writer process runs an appending and a popping thread on one handle). halt_on_error:
  # a child that sees a race dies with 66 at once (children end with _exit, so a report
  # would otherwise not change their exit status); the grep is a second net. setarch -R:
  # gcc 12's TSAN cannot map its shadow under this kernel's 28 bits of mmap randomness.
  # No suppressions.
  stage "multi-threaded, multi-process stress under ThreadSanitizer (build-tsan/)"
  tsan_log=$(mktemp)
  { with_build_lock build-tsan build_tsan &&
    TSAN_OPTIONS="halt_on_error=1 exitcode=66 second_deadlock_stack=1" \
    PYSYNCQ_SOAK_SECONDS="${PYSYNCQ_TSAN_SECONDS:-$([ "${PYSYNCQ_TORTURE:-0}" = 1 ] && echo 60 || echo 5)}" \
      setarch "$(uname -m)" -R build-tsan/tests/soak/soak_test 2>&1 | tee "$tsan_log" |
      grep -E '^soak:|OK|FAILED|ThreadSanitizer' &&
    [ "${PIPESTATUS[0]}" = 0 ] && ! grep -q 'WARNING: ThreadSanitizer' "$tsan_log"; } \
    || { tail -n 60 "$tsan_log"; failed+=("tsan"); }
  rm -f "$tsan_log"

  # libFuzzer: attaching to hostile segments and decoding hostile records, each for a
  # bounded time (PYSYNCQ_FUZZ_SECONDS, default 20; 120 under torture), starting from the
  # shipped corpus (fuzz/corpus/, read only) plus what earlier runs found (build-fuzz/).
  if [ "$fuzzing" = 1 ]; then
    stage "fuzzing (build-fuzz/, clang++ -fsanitize=fuzzer,address,undefined)"
    fuzz_seconds=${PYSYNCQ_FUZZ_SECONDS:-$([ "${PYSYNCQ_TORTURE:-0}" = 1 ] && echo 120 || echo 20)}
    if with_build_lock build-fuzz build_fuzz; then
      for target in attach record; do
        mkdir -p "build-fuzz/corpus/$target"
        (cd build-fuzz && "./fuzz/fuzz_$target" -max_total_time="$fuzz_seconds" -timeout=10 \
           -rss_limit_mb=2048 -print_final_stats=1 "corpus/$target" "../fuzz/corpus/$target" \
           >"fuzz-$target.log" 2>&1) \
          && echo "fuzz_$target: $(grep -E 'stat::number_of_executed_units' "build-fuzz/fuzz-$target.log" | awk '{print $2}') runs, clean" \
          || { tail -n 40 "build-fuzz/fuzz-$target.log"; failed+=("fuzz_$target"); }
      done
    else
      failed+=("fuzz-build")
    fi
  fi

  # Last: the builder ahead works on this, the biggest build, while the stages before run.
  stage "C++ tests under AddressSanitizer + UndefinedBehaviorSanitizer (build-asan/)"
  { with_build_lock build-asan build_asan &&
    ASAN_OPTIONS=detect_leaks=1 bounded ctest --test-dir build-asan --output-on-failure -j "$JOBS"; } \
    || failed+=("sanitizers")
fi

stage ""
wait "$builder" 2>/dev/null
after=$(leftovers)
if [ "$after" != "$before" ]; then
  echo "== leaked /dev/shm segments: $(comm -13 <(echo "$before") <(echo "$after") | tr '\n' ' ')"
  failed+=("shm-leak")
fi

if ((${#failed[@]})); then
  echo "FAILED: ${failed[*]}"
  exit 1
fi
echo "all suites passed"
