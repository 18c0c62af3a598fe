"""The guide's PySyncQ API in one process, on shared memory: defaults, conversions, the
screen sets, closing, and the extras (stats, repr, context manager, threads). Timers,
iteration, screening, capacity and the last close, which every backend keeps alike,
are in test_contract.py."""

import inspect
import os
import random
import threading
import zlib

import pytest

import pysyncq
from pysyncq import pysyncq as pq


def make(name, **kw):
    return pysyncq.PySyncQ(name, **kw)


# --- import forms and signatures (every default of the guide) ---


def test_both_import_forms_give_the_same_class():
    assert pq.PySyncQ is pysyncq.PySyncQ


def test_constructor_defaults_are_the_guides():
    params = inspect.signature(pysyncq.PySyncQ.__init__).parameters
    assert params["name"].default is None
    assert params["create"].default is True
    assert params["size"].default == os.sysconf("SC_PAGE_SIZE")
    assert params["start"].default is None


def test_method_defaults_are_the_guides():
    opening = inspect.signature(pysyncq.PySyncQ.open).parameters
    assert opening["sender"].default is None and opening["filtself"].default is True
    call = inspect.signature(pysyncq.PySyncQ.__call__).parameters
    assert call["block"].default is False
    assert call["timer"].default == 0.5
    assert call["decode"].default is True
    append = inspect.signature(pysyncq.PySyncQ.append).parameters
    assert [(p.name, p.default) for p in list(append.values())[1:]] == [
        ("msgtype", ""), ("msg", ""), ("block", False), ("timer", 0.5)]
    pop = inspect.signature(pysyncq.PySyncQ.pop).parameters
    assert [(p.name, p.default) for p in list(pop.values())[1:]] == [
        ("block", False), ("timer", 0.5), ("decode", True)]


def test_defaults_behave_as_the_guide_says(queue_name):
    with make(queue_name, size=256) as queue:
        queue.open("me", filtself=False)
        queue.append()  # msgtype='' and msg=''
        assert queue.pop() == ("me", "", "")  # block=False: no wait; decode=True: str
        with pytest.raises(MemoryError):  # block=False: a full queue raises at once
            for _ in range(100):
                queue.append("t", "x" * 50)
        for _ in queue:
            pass
        other = pysyncq.PySyncQ(queue_name, create=False)
        other.open("other")  # holds every new message: a blocked append must time out
        while True:
            try:
                queue.append("t", "x" * 50)
            except MemoryError:
                break
        import time
        began = time.monotonic()
        with pytest.raises(MemoryError):
            queue.append("t", "x" * 50, block=True)  # timer=0.5 by default
        waited = time.monotonic() - began
        began = time.monotonic()
        for _ in queue:
            pass
        assert queue.pop(block=True) is None  # waits timer=0.5 by default, then None
        other.close()
        # Generous bounds: only that the default timer is neither 0 nor endless.
        assert 0.3 < waited < 30 and 0.3 < time.monotonic() - began < 30


def test_positional_and_keyword_arguments_of_append_and_pop(q):
    q.append("t", "b", False, 0.5)
    q.append(msg="m", msgtype="k")
    assert q.pop(False, 0.5, False) == (b"self", b"t", b"b")
    assert q.pop(decode=True, timer=1, block=True) == ("self", "k", "m")
    with pytest.raises(TypeError):
        q.pop(True, 1, True, 4)
    with pytest.raises(TypeError):
        q.pop(blok=True)
    with pytest.raises(TypeError):
        q.append("t", msgtype="again")


def test_default_size_is_the_page_size(queue_name):
    with make(queue_name) as q:
        assert q.size == os.sysconf("SC_PAGE_SIZE")


def test_attributes_are_readable(queue_name):
    with make(queue_name, size=1000, start="spawn") as q:
        assert (q.name, q.size, q.start, q.create, q.sender) == (
            queue_name, 1000, "spawn", True, None)
        q.open("me")
        assert q.sender == "me"
        other = pysyncq.PySyncQ(queue_name, create=False)
        assert other.create is False and other.size == 1000
        other.close()


def test_name_none_picks_a_fresh_name_each_time(shm_exists):
    a, b = pysyncq.PySyncQ(), pysyncq.PySyncQ()
    try:
        assert a.name != b.name and shm_exists(a.name) and shm_exists(b.name)
    finally:
        a.close()
        b.close()
    assert not shm_exists(a.name) and not shm_exists(b.name)


def test_start_none_uses_multiprocessing_default(queue_name):
    import multiprocessing as mp

    with make(queue_name) as q:
        assert q.start == mp.get_start_method()


@pytest.mark.parametrize("start", ["fork", "spawn", "forkserver"])
def test_start_accepts_each_method(queue_name, start):
    with make(queue_name, start=start) as q:
        assert q.start == start


@pytest.mark.parametrize("start", ["thread", "", "FORK", 1])
def test_bad_start_raises_value_error(queue_name, start, shm_exists):
    with pytest.raises(ValueError):
        make(queue_name, start=start)
    assert not shm_exists(queue_name)


@pytest.mark.parametrize("size", [-1, 0, -4096])
def test_non_positive_size_raises_value_error(queue_name, size, shm_exists):
    with pytest.raises(ValueError):
        make(queue_name, size=size)
    assert not shm_exists(queue_name)


@pytest.mark.parametrize("size", [1.5, "4096", None])
def test_non_int_size_raises_type_error(queue_name, size):
    with pytest.raises(TypeError):
        make(queue_name, size=size)


@pytest.mark.parametrize("name", ["a/b", "", ".", "x" * 300])
def test_bad_name_raises_value_error(name):
    with pytest.raises(ValueError):
        pysyncq.PySyncQ(name)


# --- messages ---


@pytest.fixture
def q(queue_name):
    """An opened queue that does not screen its own messages (one process talks to itself)."""
    with make(queue_name, size=4096) as queue:
        queue.open("self", filtself=False)
        yield queue


def test_append_defaults_to_empty_type_and_body(q):
    q.append()
    assert q.pop() == ("self", "", "")


def test_str_bytes_and_other_objects_round_trip(q):
    q.append("type", "body é")
    q.append(b"\x00t", b"\xff\x00")
    q.append(42, [1, 2])
    assert q.pop() == ("self", "type", "body é")
    assert q.pop(decode=False) == (b"self", b"\x00t", b"\xff\x00")
    assert q.pop() == ("self", "42", "[1, 2]")


def test_pop_on_empty_queue_returns_none(q):
    assert q.pop() is None


def test_undecodable_message_raises_and_is_consumed(q):
    q.append("t", b"\xff")
    q.append("t", "next")
    with pytest.raises(UnicodeDecodeError):
        q.pop()
    assert q.pop() == ("self", "t", "next")


def test_default_sender_is_the_pid(queue_name):
    with make(queue_name) as queue:
        queue.open()
        assert queue.sender == str(os.getpid())
        assert str(os.getpid()).encode() in queue.scrnsend


def test_screen_sets_behave_as_sets(q):
    s = q.scrntype
    s.update(["a", b"b"], [3])
    assert len(s) == 3 and set(s) == {b"a", b"b", b"3"}
    assert "a" in s and b"3" in s and 3 in s and "z" not in s
    s.discard("zzz")
    with pytest.raises(KeyError):
        s.remove("zzz")
    s.remove("a")
    assert s == {b"b", b"3"} and (s | {b"c"}) == {b"b", b"3", b"c"}
    s.clear()
    assert len(s) == 0 and not s
    q.scrntype = ["x", "y"]
    assert q.scrntype == {b"x", b"y"}
    assert "ScreenSet(" in repr(q.scrntype)


def test_wrap_around_keeps_every_byte(q):
    rng = random.Random(1234)
    sent, got = [], []
    for _ in range(3000):
        body = bytes(rng.getrandbits(8) for _ in range(rng.randrange(0, 300)))
        mtype = str(rng.randrange(1000))
        try:
            q.append(mtype, body)
            sent.append((mtype, body))
        except MemoryError:
            pass
        if rng.random() < 0.6:
            m = q.pop(decode=False)
            if m is not None:
                got.append((m[1].decode(), m[2]))
    got.extend((m[1].decode(), m[2]) for m in q(decode=False))
    assert len(sent) > 1000 and got == sent
    assert zlib.crc32(b"".join(b for _, b in got)) == zlib.crc32(b"".join(b for _, b in sent))


# --- open / close ---


def test_operations_before_open_raise_a_clear_value_error(queue_name):
    with make(queue_name) as queue:
        with pytest.raises(ValueError, match="open"):
            queue.append("t", "b")
        with pytest.raises(ValueError, match="open"):
            queue.pop()


def test_open_twice_raises_value_error(q):
    with pytest.raises(ValueError, match="already open"):
        q.open()


def test_closed_queue_raises_value_error(queue_name):
    queue = make(queue_name)
    queue.open()
    queue.close()
    for call in (lambda: queue.append("t"), queue.pop, queue.open):
        with pytest.raises(ValueError, match="closed"):
            call()


def test_close_without_open_unlinks_when_no_member_remains(queue_name, shm_exists):
    make(queue_name).close()
    assert not shm_exists(queue_name)


def test_context_manager_closes(queue_name, shm_exists):
    with make(queue_name) as queue:
        queue.open()
        assert queue.is_open
    assert queue.closed and not shm_exists(queue_name)


def test_repr_names_the_queue_and_state(queue_name):
    with make(queue_name) as queue:
        assert queue_name in repr(queue) and "not open" in repr(queue)
        queue.open("me")
        assert "'me'" in repr(queue) and " open>" in repr(queue)
    assert "closed" in repr(queue)


# --- extras ---


def test_stats_is_a_dataclass_with_asdict(q):
    q.append("t", "x")
    stats = q.stats()
    assert stats.name == q.name and stats.capacity_bytes == q.size
    assert stats.members == 1 and stats.queued_messages == 1 and stats.used_bytes > 0
    as_dict = stats._asdict()
    assert as_dict["member_list"][0]["sender"] == "self"
    assert as_dict["member_list"][0]["unread_messages"] == 1
    assert stats.member_list[0]._asdict()["pid"] == os.getpid()


@pytest.mark.parametrize("wait", [0, 1e-3, "sleep", "spin"])
def test_wait_policy_knob(queue_name, wait):
    with make(queue_name, wait=wait) as queue:
        queue.open()
        assert queue.pop(block=True, timer=0.01) is None


def test_bad_wait_policy_raises_value_error(queue_name):
    with make(queue_name) as queue:
        with pytest.raises(ValueError):
            queue.set_wait_policy("fast")
        with pytest.raises(ValueError):
            queue.set_wait_policy(-1)


@pytest.mark.parametrize("timer", ["1", [1]])
def test_non_numeric_timer_raises_type_error(q, timer):
    with pytest.raises(TypeError):
        q.pop(block=True, timer=timer)


def test_threads_share_one_instance_without_losing_or_duplicating(queue_name):
    with make(queue_name, size=1 << 16) as queue:
        queue.open("t", filtself=False)
        per_thread, writers = 2000, 3
        got, errors = [], []

        def write(k):
            try:
                for i in range(per_thread):
                    queue.append("n", f"{k}:{i}", block=True, timer=None)
            except Exception as error:  # reported below
                errors.append(error)

        def read():
            try:
                while len(got) < per_thread * writers:
                    m = queue.pop(block=True, timer=0.05)
                    if m is not None:
                        got.append(m[2])
            except Exception as error:
                errors.append(error)

        threads = [threading.Thread(target=write, args=(k,)) for k in range(writers)]
        threads += [threading.Thread(target=read) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors
        # Two readers share one read position: each message exactly once between them.
        assert sorted(got) == sorted(f"{k}:{i}" for k in range(writers) for i in range(per_thread))


def test_one_reader_thread_sees_each_writers_order(queue_name):
    with make(queue_name, size=1 << 14) as queue:
        queue.open("t", filtself=False)
        got = []

        def write(k):
            for i in range(1000):
                queue.append("n", f"{k}:{i}", block=True, timer=None)

        writers = [threading.Thread(target=write, args=(k,)) for k in range(2)]
        for t in writers:
            t.start()
        while len(got) < 2000:
            m = queue.pop(block=True, timer=5)
            assert m is not None
            got.append(m[2])
        for t in writers:
            t.join()
        for k in range(2):
            mine = [int(b.split(":")[1]) for b in got if b.startswith(f"{k}:")]
            assert mine == list(range(1000))


def test_close_from_another_thread_ends_a_blocked_pop(queue_name):
    with make(queue_name) as queue:
        queue.open()
        outcome = []
        started = threading.Event()

        def wait():
            started.set()
            try:
                outcome.append(queue.pop(block=True, timer=None))
            except ValueError as error:
                outcome.append(error)

        t = threading.Thread(target=wait)
        t.start()
        started.wait()
        queue.close()
        t.join(timeout=30)
        assert not t.is_alive() and len(outcome) == 1


def test_screen_sets_have_sets_named_methods(q):
    import collections.abc

    s = q.scrnsend
    assert isinstance(s, collections.abc.MutableSet)
    s.update(["a", "b"])
    assert s.union(["c"]) == {b"a", b"b", b"c"}
    assert s.intersection({"a", "z"}) == {b"a"}
    assert s.difference(["a"]) == {b"b"}
    assert s.symmetric_difference(["a", "z"]) == {b"b", b"z"}
    assert s.issubset(["a", "b", "c"]) and s.issuperset([b"a"]) and s.isdisjoint(["q"])
    assert s == {"a", "b"} and s == {b"a", b"b"} and s != {b"a"}
    s.intersection_update(["a", "z"])
    assert s == {b"a"}
    s.symmetric_difference_update(["a", "y"])
    assert s == {b"y"}
    s |= {"k"}
    s -= {b"y"}
    assert s.copy() == {b"k"} and q.scrnsend == {b"k"}
    q.scrnsend = q.scrnsend  # assigning a set to itself keeps it
    assert q.scrnsend == {b"k"}


def test_pickling_in_process_attaches_a_second_handle_by_name(q):
    import pickle

    q.scrntype.add("hidden")
    q.note = "user attribute"
    copy = pickle.loads(pickle.dumps(q))
    try:
        assert copy.name == q.name and copy.size == q.size and copy.start == q.start
        assert copy.scrntype == {b"hidden"} and copy.note == "user attribute"
        assert not copy.is_open and copy.sender is None
        copy.open("copy")
        q.append("t", "to copy")
        assert copy.pop() == ("self", "t", "to copy")
    finally:
        copy.close()


def test_dropping_the_last_reference_closes_the_registration(queue_name):
    with make(queue_name) as observer:
        other = pysyncq.PySyncQ(queue_name, create=False)
        other.open("other")
        other.scrnsend.add("x")  # the sets must not keep the instance alive
        assert observer.stats().members == 1
        del other
        assert observer.stats().members == 0


def test_bytes_sender_that_is_not_utf8_works(queue_name):
    with make(queue_name) as queue:
        queue.open(b"\xffme")
        assert b"\xffme" in queue.scrnsend and len(queue.scrnsend) == 1
        queue.scrnsend.clear()
        queue.append("t", "b")
        assert queue.pop(decode=False) == (b"\xffme", b"t", b"b")


def test_a_batch_is_all_or_none_and_a_bad_message_in_a_batch_is_met_by_the_next_call(
        queue_name):
    """append_many on shared memory: a batch that does not fit appends nothing; one larger
    than the capacity never fits, even waiting. pop_many delivers what comes before an
    undecodable message, and the next call raises for it (consuming it, as pop does)."""
    with pysyncq.PySyncQ(queue_name, size=4096) as q:
        q.open("me", filtself=False)
        body = "x" * 500  # 520 bytes a record with sender 'me' and type 't'
        q.append_many([("t", body)] * 6)
        with pytest.raises(MemoryError, match="is full"):
            q.append_many([("t", body)] * 2)
        assert q.stats().queued_messages == 6
        with pytest.raises(MemoryError, match="batch of 9 messages"):
            q.append_many([("t", body)] * 9, block=True, timer=None)
        assert len(q.pop_many(100)) == 6
        q.append_many([("t", "ok1"), ("t", b"\xff"), ("t", "ok2")])
        assert q.pop_many() == [("me", "t", "ok1")]
        with pytest.raises(UnicodeDecodeError):
            q.pop_many()
        assert q.pop_many() == [("me", "t", "ok2")]
