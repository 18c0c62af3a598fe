"""Shared fixtures for every Python test of pysyncq (tests/python).

Kept general on purpose: any test file may use them.

- ``queue_name``: a fresh name starting with ``pysyncq-test-``; whatever segment of
  that name is left at the end is removed (the runner fails on leftovers).
- ``shm_exists(name)``: whether /dev/shm/NAME exists.
- ``chat_program``: the C++ example build/examples/pysyncq_chat, found next to the
  imported pysyncq package (or from $PYSYNCQ_CHAT).
- a watchdog on every test: a hung test dumps every thread's stack and exits the run
  instead of hanging CI for ever.
"""

import faulthandler
import os
import pathlib
import secrets
import sys

import pytest

#: Seconds after which a single test is considered hung (it dumps stacks and exits).
WATCHDOG_SECONDS = float(os.environ.get("PYSYNCQ_TEST_WATCHDOG", "120"))

SHM = pathlib.Path("/dev/shm")


def shm_exists(name: str) -> bool:
    """True if the shared-memory segment NAME exists."""
    return (SHM / name.lstrip("/")).exists()


def fresh_queue_name(tag: str = "") -> str:
    """A unique queue name with the prefix the test runner watches for leaks."""
    tag = f"{tag}-" if tag else ""
    return f"pysyncq-test-{tag}{os.getpid()}-{secrets.token_hex(6)}"


def pytest_configure(config):
    """Registers the markers of this suite."""
    config.addinivalue_line(
        "markers", "packaging: installs the package into a temporary venv (tens of seconds)")


@pytest.fixture
def queue_name(request):
    """A fresh queue name; the segment is removed after the test if it is still there."""
    tag = "".join(c if c.isalnum() or c in "-_" else "-" for c in request.node.name[:40])
    name = fresh_queue_name(tag)
    yield name
    path = SHM / name
    if path.exists():
        path.unlink()


@pytest.fixture(name="shm_exists")
def shm_exists_fixture():
    """The shm_exists helper as a fixture."""
    return shm_exists


def _find_chat_program():
    override = os.environ.get("PYSYNCQ_CHAT")
    if override:
        return pathlib.Path(override)
    import pysyncq  # the package under test: <build>/python/pysyncq/__init__.py

    build = pathlib.Path(pysyncq.__file__).resolve().parent.parent.parent
    return build / "examples" / "pysyncq_chat"


@pytest.fixture(scope="session")
def chat_program():
    """Path of the C++ example pysyncq_chat (skips if the package is not a build tree)."""
    path = _find_chat_program()
    if not path.exists():
        pytest.skip(f"no C++ chat example at {path} (set PYSYNCQ_CHAT)")
    return str(path)


@pytest.fixture(autouse=True)
def watchdog():
    """Dumps all stacks and exits if a test runs longer than WATCHDOG_SECONDS."""
    faulthandler.dump_traceback_later(WATCHDOG_SECONDS, exit=True, file=sys.stderr)
    yield
    faulthandler.cancel_dump_traceback_later()


def _end_leftover_children():
    """Ends the multiprocessing children a test left running; returns their names.

    A child that a failed test never released (blocked in a pipe or a queue) would keep
    the interpreter from exiting: multiprocessing joins its children at exit."""
    import multiprocessing

    leftovers = multiprocessing.active_children()
    for child in leftovers:
        child.terminate()
    for child in leftovers:
        child.join(5)
        if child.is_alive():
            child.kill()
            child.join(5)
    return [child.name for child in leftovers]


@pytest.fixture(autouse=True)
def no_leftover_children(request):
    """Every test ends the processes it started: a passing test that leaves one fails."""
    yield
    leftovers = _end_leftover_children()
    report = getattr(request.node, "rep_call", None)
    if leftovers and report is not None and report.passed:
        pytest.fail(f"the test left {len(leftovers)} child process(es) running: {leftovers}")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Keeps each phase's report on the test item (no_leftover_children reads it)."""
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


def pytest_unconfigure(config):
    """Last net: no child survives the session, so the interpreter can exit."""
    _end_leftover_children()
