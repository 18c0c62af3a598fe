#!/usr/bin/env bash
# The Python package as a user installs it: `python3 -m build --wheel --no-isolation`
# (Debian's python3-build; no PyPI) makes a wheel, which installs into a fresh venv (no
# system site packages, --no-index --no-deps) and passes wheel_smoke.py there. Run by
# ctest (consumer.wheel, label "consumer"), so `make test` runs it.
#
#   bash tests/consumer/check_wheel.sh BUILD_DIR VERSION
#
# The wheel is built from a copy of the source tree (files git tracks or would track), so
# the check writes nothing into the tree and sees only what a checkout has. setup.py
# compiles the extension with CMake, as for a user (Release, BUILD_TESTING off, a
# configuration no other test builds): about 30 s on 2 cores. PYSYNCQ_WHEEL_PREBUILT=1
# packages the extension BUILD_DIR already built instead (PYSYNCQ_PREBUILT_DIR, see
# setup.py): seconds. Exits 77 (skipped) without python3-build.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
build=$(cd "${1:?usage: check_wheel.sh BUILD_DIR VERSION}" && pwd)
version=${2:?usage: check_wheel.sh BUILD_DIR VERSION}
python=/usr/bin/python3
tmp=$(mktemp -d /tmp/pysyncq-consumer-wheel.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
log=$tmp/log
fail() { echo "FAILED: $*" >&2; tail -n 40 "$log" >&2 2>/dev/null; exit 1; }

# Not from $root: a folder named build/ there would shadow the module.
if ! (cd "$tmp" && "$python" -m build --version >/dev/null 2>&1); then
  echo "skipped: $python -m build is missing (apt-get install python3-build)"
  exit 77
fi

mkdir "$tmp/src"
if git -C "$root" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  git -C "$root" ls-files -z --cached --others --exclude-standard |
    tar -C "$root" --null -T - --ignore-failed-read -cf - 2>/dev/null | tar -C "$tmp/src" -xf -
else
  tar -C "$root" -cf - --exclude='./build*' . | tar -C "$tmp/src" -xf -
fi

if [ "${PYSYNCQ_WHEEL_PREBUILT:-0}" = 1 ]; then
  export PYSYNCQ_PREBUILT_DIR=$build
  how="extension of $build"
else
  unset PYSYNCQ_PREBUILT_DIR
  how="compiled by setup.py"
fi
(cd "$tmp/src" && "$python" -m build --wheel --no-isolation --outdir "$tmp/dist") \
  >"$log" 2>&1 || fail "$python -m build --wheel --no-isolation"
wheels=("$tmp"/dist/pysyncq-"$version"-*.whl)
[ -f "${wheels[0]}" ] && [ "${#wheels[@]}" = 1 ] ||
  fail "expected one wheel pysyncq-$version-*.whl, got: $(ls "$tmp/dist")"
wheel=${wheels[0]}
echo "built $(basename "$wheel") ($how)"

"$python" -m venv "$tmp/venv" >"$log" 2>&1 || fail "$python -m venv"
PIP_DISABLE_PIP_VERSION_CHECK=1 "$tmp/venv/bin/python" -m pip install --no-index --no-deps \
  "$wheel" >"$log" 2>&1 || fail "pip install $(basename "$wheel") into a fresh venv"
out=$(cd "$tmp" && env -u PYTHONPATH "$tmp/venv/bin/python" "$here/wheel_smoke.py" "$version" \
        "pysyncq-test-consumer-$$-wheel" 2>&1) || { echo "$out" >&2; fail "the smoke test"; }
[ "$out" = ok ] || fail "the smoke test printed: $out"
echo "installed into a fresh venv; two processes appended and popped: ok"
