"""The error table of python/src/errors.cpp, row by row, and the real failures behind
each row: bad input gets the right exception and never a crash."""

import errno
import pathlib
import struct

import pytest

import pysyncq
from pysyncq import _pysyncq

SHM = pathlib.Path("/dev/shm")

# (C++ exception, Python exception it must become)
TABLE = [
    ("QueueFull", pysyncq.QueueFull),
    ("Deadlock", pysyncq.Deadlock),
    ("InvalidArgument", ValueError),
    ("NotAQueue", ValueError),
    ("LayoutMismatch", ValueError),
    ("NotOpen", ValueError),
    ("TooManyMembers", RuntimeError),
    ("Interrupted", InterruptedError),
    ("Error", RuntimeError),
]


@pytest.mark.parametrize("kind,expected", TABLE)
def test_each_cpp_error_maps_to_its_python_exception(kind, expected):
    with pytest.raises(expected) as info:
        _pysyncq._raise_for_test(kind)
    assert str(info.value).startswith("test: ")


def test_queue_full_and_deadlock_are_memory_errors_with_numbers():
    assert issubclass(pysyncq.QueueFull, MemoryError)
    assert issubclass(pysyncq.Deadlock, pysyncq.QueueFull)
    with pytest.raises(MemoryError) as info:
        _pysyncq._raise_for_test("Deadlock")
    error = info.value
    assert (error.needed_bytes, error.free_bytes, error.capacity_bytes) == (96, 8, 64)
    assert error.blocked_pids == (11, 22)


@pytest.mark.parametrize("number,expected", [
    (errno.ENOENT, FileNotFoundError),
    (errno.EEXIST, FileExistsError),
    (errno.EACCES, PermissionError),
    (errno.ENOSPC, OSError),
])
def test_syscall_errors_become_oserror_with_the_errno(number, expected):
    with pytest.raises(expected) as info:
        _pysyncq._raise_for_test("SyscallError", number)
    assert info.value.errno == number and type(info.value) is expected


def test_unknown_kind_of_the_test_hook_is_a_value_error():
    with pytest.raises(ValueError, match="unknown"):
        _pysyncq._raise_for_test("NoSuchError")


# --- the same rows, provoked for real ---


def test_foreign_segment_is_refused_with_value_error(queue_name):
    (SHM / queue_name).write_bytes(b"not a queue at all" * 512)
    with pytest.raises(ValueError, match="not a"):
        pysyncq.PySyncQ(queue_name, create=False)


def test_empty_segment_is_refused_with_value_error(queue_name):
    (SHM / queue_name).write_bytes(b"")
    with pytest.raises(ValueError):
        pysyncq.PySyncQ(queue_name, create=False)


def test_queue_of_another_layout_version_is_refused_with_value_error(queue_name):
    queue = pysyncq.PySyncQ(queue_name)
    try:
        path = SHM / queue_name
        with path.open("r+b") as segment:  # the layout version follows the 8-byte magic
            segment.seek(8)
            (version,) = struct.unpack("<I", segment.read(4))
            segment.seek(8)
            segment.write(struct.pack("<I", version + 1))
        with pytest.raises(ValueError, match="layout"):
            pysyncq.PySyncQ(queue_name, create=False)
    finally:
        queue.close()


def test_member_limit_raises_runtime_error(queue_name):
    with pysyncq.PySyncQ(queue_name, max_members=1) as first:
        first.open("one")
        with pysyncq.PySyncQ(queue_name, create=False) as second:
            with pytest.raises(RuntimeError, match="limit"):
                second.open("two")


@pytest.mark.parametrize("max_members", [0, -1])
def test_bad_member_limit_raises_value_error(queue_name, max_members):
    with pytest.raises(ValueError):
        pysyncq.PySyncQ(queue_name, max_members=max_members)


def test_too_large_size_raises_value_error(queue_name):
    with pytest.raises(ValueError, match="too large"):
        pysyncq.PySyncQ(queue_name, size=1 << 50)


def test_too_small_size_raises_value_error(queue_name):
    with pytest.raises(ValueError, match="too small"):
        pysyncq.PySyncQ(queue_name, size=8)


def test_attach_without_a_name_raises_value_error():
    with pytest.raises(ValueError):
        pysyncq.PySyncQ(None, create=False)


def test_name_of_wrong_type_raises_type_error():
    with pytest.raises(TypeError):
        pysyncq.PySyncQ(b"bytes-name")


def test_unencodable_str_raises_unicode_error_and_appends_nothing(queue_name):
    with pysyncq.PySyncQ(queue_name) as q:
        q.open("me", filtself=False)
        with pytest.raises(UnicodeEncodeError):
            q.append("t", "\udcff")
        assert q.pop() is None


def test_object_whose_str_raises_propagates_its_error(queue_name):
    class Bad:
        def __str__(self):
            raise ArithmeticError("no str for you")

    with pysyncq.PySyncQ(queue_name) as q:
        q.open("me")
        with pytest.raises(ArithmeticError):
            q.append(Bad(), "b")
        with pytest.raises(ArithmeticError):
            q.scrntype.add(Bad())


def test_nan_timer_raises_value_error(queue_name):
    with pysyncq.PySyncQ(queue_name) as q:
        q.open("me")
        with pytest.raises(ValueError):
            q.pop(block=True, timer=float("nan"))


def test_uninitialised_instance_is_refused_not_crashed():
    bare = pysyncq.PySyncQ.__new__(pysyncq.PySyncQ)
    with pytest.raises(TypeError):
        bare.pop()


def test_unlink_of_a_missing_queue_raises_file_not_found(queue_name):
    with pytest.raises(FileNotFoundError):
        pysyncq.unlink(queue_name)


def test_list_queues_shows_ours_and_unlink_removes_it(queue_name, shm_exists):
    q = pysyncq.PySyncQ(queue_name)
    assert queue_name in pysyncq.list_queues()
    pysyncq.unlink(queue_name)
    assert not shm_exists(queue_name)
    q.close()


WEIRD = [None, True, 0, -1, 2**70, 1.5, float("inf"), float("-inf"), float("nan"), "", "é",
         b"", b"\xff", bytearray(b"x"), memoryview(b"x"), [], {}, object(), type, "x" * 70000]


def test_weird_arguments_raise_python_errors_and_never_crash(queue_name):
    with pysyncq.PySyncQ(queue_name, size=4096) as q:
        q.open("me", filtself=False)
        calls = []
        for weird in WEIRD:
            calls += [
                lambda w=weird: q.append(w, w),
                lambda w=weird: q.append("t", "b", False, w),
                lambda w=weird: q.append("t", "b", w, 0),
                lambda w=weird: q.pop(w, 0, True),
                lambda w=weird: q.pop(False, w, w),
                lambda w=weird: q.pop(True, 0, w),
                lambda w=weird: q.scrntype.add(w),
                lambda w=weird: q.scrntype.discard(w),
                lambda w=weird: w in q.scrnsend,
                lambda w=weird: q.set_wait_policy(w),
                lambda w=weird: pysyncq.PySyncQ(queue_name + "-x", size=w).close(),
                lambda w=weird: pysyncq.PySyncQ(w, create=False),
            ]
        for call in calls:
            try:
                call()
            except (TypeError, ValueError, MemoryError, OverflowError, OSError, KeyError,
                    UnicodeError):
                pass
            for _ in q(decode=False):  # keep the queue from filling up with what got in
                pass
        q.append("t", "still fine")
        assert q.pop() == ("me", "t", "still fine")
