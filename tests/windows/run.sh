#!/usr/bin/env bash
# Runs the Windows build's C++ test programs under Wine (make test-windows, after the
# build): each program once, all its tests in one run (Wine starts a process in about a
# second; the children each test spawns are started the same way). One wineserver for the
# whole run (-p: it stays between programs instead of starting again for each), a
# WINEPREFIX inside the build folder, no Wine debug output. Each program under a timeout.
# Usage: tests/windows/run.sh [BUILD_DIR]   (default build-windows)
set -uo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build-windows}
wine=/usr/lib/wine/wine64
export WINEDEBUG=-all
export WINEPREFIX="$PWD/$build/wineprefix"
export WINEDLLOVERRIDES="mscoree=;mshtml=" # no Mono or Gecko installer on the first run
# Seconds per program: far above its usual time (each test also has its own handshake
# timeouts and each child a watchdog).
program_seconds=${PYSYNCQ_WINE_PROGRAM_SECONDS:-240}
# Random-kill rounds: each starts five processes, which Wine takes far longer to start
# than Linux forks them (about 1 s a round; 150 on Linux).
export PYSYNCQ_RANDOM_KILL_ROUNDS=${PYSYNCQ_RANDOM_KILL_ROUNDS:-20}

programs=(
  tests/unit/unit_tests.exe
  tests/contract/contract_tests.exe
  tests/crash/crash_points_test.exe
  tests/crash/reclaim_test.exe
  tests/crash/deadlock_test.exe
  tests/crash/random_kill_test.exe
  tests/process/process_tests.exe
)

mkdir -p "$WINEPREFIX"
wineserver -p 120 # persistent until 120 s after its last client; shut down below
start=$(date +%s)
failed=()
for program in "${programs[@]}"; do
  log="$build/$(basename "$program" .exe).log"
  timeout -k 10 "$program_seconds" "$wine" "$build/$program" --gtest_brief=1 >"$log" 2>&1
  rc=$?
  summary=$(grep -E '^\[  (PASSED|FAILED) +\]|^\[  SKIPPED \]' "$log" | tr '\n' ' ')
  echo "wine $(basename "$program"): rc=$rc $summary"
  if [ $rc != 0 ]; then
    [ $rc = 124 ] && echo "== timed out after $program_seconds s"
    tail -n 40 "$log"
    failed+=("$(basename "$program")")
  fi
done
wineserver -k 2>/dev/null # the server of this WINEPREFIX only; its named objects go with it
echo "Windows tests under Wine: $(( $(date +%s) - start )) s"
if ((${#failed[@]})); then
  echo "FAILED under Wine: ${failed[*]}"
  exit 1
fi
