#!/usr/bin/env bash
# A C++ program outside the tree builds against an installed pysyncq, both ways a user
# would (README, "C++ API"): CMake's find_package and pkg-config. Run by ctest
# (consumer.cxx, label "consumer"), so `make test` runs it.
#
#   bash tests/consumer/check_cxx.sh BUILD_DIR VERSION
#
# Installs BUILD_DIR with `cmake --install --prefix` into a temporary folder, then:
# find_package(pysyncq VERSION) finds it and the program runs; find_package of the next
# minor version is refused (pysyncqConfigVersion.cmake); pkg-config reports VERSION and
# its flags build the same program, which runs; nothing installed names the build tree.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
build=$(cd "${1:?usage: check_cxx.sh BUILD_DIR VERSION}" && pwd)
version=${2:?usage: check_cxx.sh BUILD_DIR VERSION}
tmp=$(mktemp -d /tmp/pysyncq-consumer-cxx.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix
log=$tmp/log
fail() { echo "FAILED: $*" >&2; tail -n 40 "$log" >&2 2>/dev/null; exit 1; }

cmake --install "$build" --prefix "$prefix" >"$log" 2>&1 || fail "cmake --install $build"
echo "installed $build into a temporary prefix"
if grep -rlF "$build" "$prefix/lib" "$prefix/include" 2>/dev/null | grep -v '\.a$' >"$log"; then
  fail "installed files name the build tree: $(tr '\n' ' ' <"$log")"
fi

# 1. CMake: find_package(pysyncq VERSION) and the target pysyncq::pysyncq.
cmake -S "$here/app" -B "$tmp/cmake" -DCMAKE_PREFIX_PATH="$prefix" \
  -DPYSYNCQ_WANTED_VERSION="$version" >"$log" 2>&1 || fail "find_package(pysyncq $version)"
cmake --build "$tmp/cmake" >"$log" 2>&1 || fail "building against find_package(pysyncq)"
out=$("$tmp/cmake/consumer" "pysyncq-test-consumer-$$-cmake") || fail "the find_package program: $out"
[ "$out" = ok ] || fail "the find_package program printed: $out"
echo "find_package(pysyncq $version): built and ran"

IFS=. read -r major minor _ <<<"$version"
next="$major.$((minor + 1))"
if cmake -S "$here/app" -B "$tmp/cmake-next" -DCMAKE_PREFIX_PATH="$prefix" \
     -DPYSYNCQ_WANTED_VERSION="$next" >"$log" 2>&1; then
  fail "find_package(pysyncq $next) accepted version $version"
fi
grep -q 'compatible with requested version' "$log" || fail "find_package(pysyncq $next) failed otherwise"
echo "find_package(pysyncq $next): refused, as it should be"

# 2. pkg-config.
pc=$(find "$prefix" -name pysyncq.pc -print -quit)
[ -n "$pc" ] || fail "no pysyncq.pc installed"
export PKG_CONFIG_PATH
PKG_CONFIG_PATH=$(dirname "$pc")
got=$(pkg-config --modversion pysyncq) || fail "pkg-config --modversion pysyncq"
[ "$got" = "$version" ] || fail "pkg-config says version $got, CMake $version"
flags=$(pkg-config --cflags --libs pysyncq) || fail "pkg-config --cflags --libs pysyncq"
# shellcheck disable=SC2086  # the flags are words
c++ -std=c++20 "$here/app/main.cpp" -o "$tmp/consumer-pc" $flags >"$log" 2>&1 ||
  fail "c++ -std=c++20 main.cpp $flags"
out=$("$tmp/consumer-pc" "pysyncq-test-consumer-$$-pc") || fail "the pkg-config program: $out"
[ "$out" = ok ] || fail "the pkg-config program printed: $out"
echo "pkg-config pysyncq ($flags): built and ran"
