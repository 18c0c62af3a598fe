# pysyncq front door: make | make test | make test-portable | make test-windows | make demo
# | make bench | make torture | make format | make lint
# Every target installs what it needs from Debian when it is missing (no PyPI).

PYTHON    := /usr/bin/python3
BUILD     := build
ASAN      := build-asan
TSAN      := build-tsan
PORTABLE  := build-portable
WINDOWS   := build-windows
JOBS      := $(shell nproc)
CMAKE_GEN := -G "Unix Makefiles"

# Debian packages the build and the tests need (checked with dpkg, installed when missing).
DEB_PACKAGES := cmake g++ clang clang-tidy cppcheck libgtest-dev libgmock-dev libbenchmark-dev \
  pybind11-dev python3-pybind11 python3-dev python3-pytest python3-venv python3-pip \
  python3-setuptools python3-wheel libcli11-dev python3-zmq python3-matplotlib \
  libzmq3-dev cppzmq-dev libboost-dev nats-server libnats-dev libclang-rt-14-dev strace \
  iceoryx libiceoryx-posh-dev linux-perf openssl python3-build pkg-config \
  g++-mingw-w64-x86-64-posix wine64 googletest

.PHONY: all deps configure build test test-cpp test-python test-sanitizers test-portable build-portable build-windows \
  test-windows demo bench torture format lint clean check-wine

all: build

deps:
	@missing=$$(for p in $(DEB_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null \
	  | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages: $$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

$(BUILD)/Makefile: | deps
	cmake -S . -B $(BUILD) $(CMAKE_GEN) -DPython_EXECUTABLE=$(PYTHON) -DPYTHON_EXECUTABLE=$(PYTHON)

configure: $(BUILD)/Makefile

build: configure
	cmake --build $(BUILD) -j $(JOBS)

test: build
	bash tests/run_all.sh

# The macOS algorithm built and tested on Linux (PYSYNCQ_PLATFORM=portable, issue 18): the
# owner-word lock, ftruncate once, names of at most 30 bytes, a pipe notifier, with futex
# and /proc standing in for macOS's wait-on-address and sysctl. Every C++ suite (unit,
# multi-process, crash with random kills, soak, live mutation) but NATS, a backend that
# the platform does not change; only the targets those suites need are built (so the
# placeholder ctest adds for the unbuilt nats_tests, nats_tests_NOT_BUILT, is left out too).
PORTABLE_TARGETS := unit_tests process_tests contract_tests crash_points_test random_kill_test reclaim_test \
  deadlock_test bad_input_test hostile_test soak_test live_mutation_test
build-portable: | deps
	cmake -S . -B $(PORTABLE) $(CMAKE_GEN) -DPYSYNCQ_PLATFORM=portable -DPYSYNCQ_PYTHON=OFF \
	  -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG=-O1 >/dev/null
	cmake --build $(PORTABLE) -j $(JOBS) --target $(PORTABLE_TARGETS)
test-portable: build-portable
	ctest --test-dir $(PORTABLE) --output-on-failure -j $(JOBS) -E '^(nats|consumer)[._]'

# Windows (issue 18, stage 3): the library and its C++ suites cross-compiled with
# mingw-w64 (cmake/mingw-w64.cmake; GoogleTest from Debian's source) and run under Wine
# (tests/windows/run.sh): unit, contract, crash points, reclaim, deadlock and 20 rounds
# of random kills (TerminateProcess as the kill), and the multi-process suite's
# broadcast, capacity, liveness and backlog tests. Children are spawned, not forked
# (tests/support/processes.hpp). No CLI, Python or NATS on Windows. -O1 without -g,
# assertions on: a third less compile time than -O3, which is most of this stage.
WINDOWS_TARGETS := unit_tests contract_tests crash_points_test reclaim_test deadlock_test \
  random_kill_test process_tests
build-windows: | deps
	cmake -S . -B $(WINDOWS) $(CMAKE_GEN) -DCMAKE_TOOLCHAIN_FILE=cmake/mingw-w64.cmake \
	  -DPYSYNCQ_PYTHON=OFF -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG=-O1 >/dev/null
	nice -n 10 cmake --build $(WINDOWS) -j $(JOBS) --target $(WINDOWS_TARGETS)
test-windows: build-windows
	bash tests/windows/run.sh $(WINDOWS)

# What the Windows platform relies on, checked under Wine with one small program
# (tests/windows/wine_check.cpp): named file mappings, GetProcessTimes and WAIT_ABANDONED
# after TerminateProcess.
check-wine: | deps
	mkdir -p $(WINDOWS)
	x86_64-w64-mingw32-g++-posix -O1 -static -o $(WINDOWS)/wine_check.exe tests/windows/wine_check.cpp
	WINEDEBUG=-all WINEPREFIX=$(CURDIR)/$(WINDOWS)/wineprefix /usr/lib/wine/wine64 --version
	WINEDEBUG=-all WINEPREFIX=$(CURDIR)/$(WINDOWS)/wineprefix /usr/lib/wine/wine64 $(WINDOWS)/wine_check.exe

demo: build
	PYTHONPATH=$(BUILD)/python $(PYTHON) -m pysyncq.demo --seconds 4 --cxx $(BUILD)/examples/pysyncq_chat

bench: build
	bash bench/run.sh

torture: build
	PYSYNCQ_TORTURE=1 bash tests/run_all.sh

format:
	clang-format -i $$(git ls-files '*.cpp' '*.hpp')

# clang-tidy (.clang-tidy) on the sources of src/, cli/ and python/src/ that this build
# compiles (an optional backend or the Python binding, when not configured, has no compile
# command), one process per core; cppcheck (.cppcheck-suppressions, each with its reason)
# on the same folders.
LINT_DIRS := src cli python/src
lint: configure
	@files=$$(git ls-files $(foreach d,$(LINT_DIRS),'$(d)/*.cpp') | while read -r f; do \
	  grep -q "\"file\": \"$$(pwd)/$$f\"" $(BUILD)/compile_commands.json && echo $$f; done); \
	echo "clang-tidy on $$(echo $$files | wc -w) files"; \
	echo $$files | xargs -n 1 -P $(JOBS) clang-tidy -p $(BUILD) --quiet
	cppcheck --quiet --error-exitcode=1 --std=c++20 --enable=warning,performance,portability \
	  --inline-suppr --suppressions-list=.cppcheck-suppressions -Iinclude -Isrc -Icli -Ipython/src \
	  $(LINT_DIRS)

clean:
	rm -rf $(BUILD) $(ASAN) $(TSAN) $(PORTABLE) $(WINDOWS)
