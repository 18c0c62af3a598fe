# pysyncq front door: make | make test | make demo | make bench | make torture | make format | make lint
# Every target installs what it needs from Debian when it is missing (no PyPI).

PYTHON    := /usr/bin/python3
BUILD     := build
ASAN      := build-asan
TSAN      := build-tsan
JOBS      := $(shell nproc)
CMAKE_GEN := -G "Unix Makefiles"

# Debian packages the build and the tests need (checked with dpkg, installed when missing).
DEB_PACKAGES := cmake g++ clang clang-tidy cppcheck libgtest-dev libgmock-dev libbenchmark-dev \
  pybind11-dev python3-pybind11 python3-dev python3-pytest python3-venv python3-pip \
  python3-setuptools python3-wheel libcli11-dev python3-zmq python3-matplotlib \
  libzmq3-dev cppzmq-dev libboost-dev nats-server libnats-dev libclang-rt-14-dev strace \
  iceoryx libiceoryx-posh-dev linux-perf openssl python3-build pkg-config

.PHONY: all deps configure build test test-cpp test-python test-sanitizers demo bench torture \
  format lint clean

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
	rm -rf $(BUILD) $(ASAN) $(TSAN)
