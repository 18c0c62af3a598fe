#!/usr/bin/env bash
# Runs every suite that `make test` promises, after `make build`: C++ tests (ctest),
# Python tests (pytest), then the C++ tests again under AddressSanitizer and
# UndefinedBehaviorSanitizer, and finally checks that no test left a segment in /dev/shm.
set -uo pipefail
cd "$(dirname "$0")/.."
PYTHON=/usr/bin/python3
JOBS=$(nproc)
failed=()

leftovers() { ls /dev/shm 2>/dev/null | grep -E '^pysyncq-test-' || true; }
before=$(leftovers)

echo "== C++ tests (build/)"
ctest --test-dir build --output-on-failure -j "$JOBS" || failed+=("ctest")

if compgen -G "tests/python/test_*.py" >/dev/null; then
  echo "== Python tests"
  PYTHONPATH=build/python "$PYTHON" -m pytest -q -p no:cacheprovider tests/python || failed+=("pytest")
fi

if [ "${PYSYNCQ_SKIP_SANITIZERS:-0}" != 1 ]; then
  echo "== C++ tests under AddressSanitizer + UndefinedBehaviorSanitizer (build-asan/)"
  { cmake -S . -B build-asan -G "Unix Makefiles" -DPYSYNCQ_SANITIZE=address,undefined \
      -DPYSYNCQ_PYTHON=OFF -DCMAKE_BUILD_TYPE=Debug >/dev/null &&
    cmake --build build-asan -j "$JOBS" >/dev/null &&
    ASAN_OPTIONS=detect_leaks=1 ctest --test-dir build-asan --output-on-failure -j "$JOBS"; } \
    || failed+=("sanitizers")
fi

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
