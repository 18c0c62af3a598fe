"""The guide's promises that every backend keeps, tested once and run on each backend:
shared memory, and nats:// on a nats-server this module starts (skipped, with the
reason, when nats-server is missing or pysyncq was built without NATS).

A backend says how to name a fresh queue, whether a name exists, and what a message
costs (each predicted here, independently of pysyncq's own code). To add a platform:
write one class like ShmBackend and add it to BACKENDS. What one backend alone does
stays in its own file (test_pysyncq_api.py, test_nats_queue.py...).
"""

import os
import secrets
import time

import pytest

import pysyncq
from conftest import fresh_queue_name, shm_exists
from nats_servers import NatsServers, predicted_bytes, skip_reason
from pysyncq import PySyncQ

TIMEOUT = 30.0  # seconds: only a hung test waits this long


class ShmBackend:
    """Queues in /dev/shm; whatever a test leaves there is removed after it."""

    label = "shm"

    def __init__(self):
        self.names = []

    @staticmethod
    def skip_reason():
        return None

    def start(self):
        pass

    def stop(self):
        pass

    def fresh(self, tag):
        name = fresh_queue_name(tag)
        self.names.append(name)
        return name

    def cleanup(self):
        for name in self.names:
            if shm_exists(name):
                os.unlink(f"/dev/shm/{name}")
        self.names.clear()

    @staticmethod
    def exists(name):
        return shm_exists(name)

    @staticmethod
    def charge(name, sender, mtype, body):
        """A record: a 16-byte header and the three fields, padded to 8 bytes (the next
        header's alignment, docs/design.md)."""
        del name  # every shared-memory queue charges alike
        return (16 + len(sender) + len(mtype) + len(body) + 7) // 8 * 8

    @staticmethod
    def granule(name):
        del name
        return 8  # capacities round up to a multiple of 8


class NatsBackend:
    """Queues on one nats-server for the whole module; killed, with its store, at the end."""

    label = "nats"

    def __init__(self):
        self.servers = None

    @staticmethod
    def skip_reason():
        return skip_reason()

    def start(self):
        self.servers = NatsServers(1)

    def stop(self):
        self.servers.close()

    def fresh(self, tag):
        return self.servers.url(f"py-{tag}-{secrets.token_hex(4)}")

    def cleanup(self):
        pass  # the server's store goes with it

    def exists(self, name):
        # list_queues, not an attach: dropping a handle that never opened a queue without
        # members would remove it, as close() does.
        return name in pysyncq.list_queues(name.rsplit("/", 1)[0])

    @staticmethod
    def charge(name, sender, mtype, body):
        return predicted_bytes("memory", name, sender, mtype, body)[0]

    @staticmethod
    def granule(name):
        return predicted_bytes("memory", name, "", "", "")[1]


BACKENDS = [ShmBackend, NatsBackend]


@pytest.fixture(scope="module", params=BACKENDS, ids=lambda backend: backend.label)
def backend(request):
    """One backend for every test of this module that runs on it (one NATS server)."""
    made = request.param()
    reason = made.skip_reason()
    if reason:
        pytest.skip(reason)
    made.start()
    yield made
    made.stop()


@pytest.fixture
def name(backend, request):
    """A fresh queue name on the test's backend."""
    tag = "".join(c if c.isalnum() else "-" for c in request.node.name[:30])
    yield backend.fresh(tag)
    backend.cleanup()


def eventually(condition, timeout=TIMEOUT):
    """Whether `condition()` comes true within `timeout` seconds (a server applies acks
    after the call that made them returns; shared memory holds at once)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


# --- names ---


def test_create_on_a_taken_name_raises_file_exists_and_attach_to_none_file_not_found(
        backend, name):
    with PySyncQ(name, size=4096):
        with pytest.raises(FileExistsError):
            PySyncQ(name, size=4096)
    with pytest.raises(FileNotFoundError):
        PySyncQ(backend.fresh("missing"), create=False)


def test_close_is_idempotent_and_the_last_close_removes_the_queue(backend, name):
    a = PySyncQ(name, size=4096)
    a.open("a")
    b = PySyncQ(name, create=False)
    b.open("b")
    b.append("t", "from b")
    b.close()
    assert backend.exists(name), "a member is left"
    assert a.pop(block=True, timer=TIMEOUT) == ("b", "t", "from b")
    a.close()
    a.close()
    assert a.closed and a.sender is None
    assert not backend.exists(name)
    with pytest.raises(FileNotFoundError):
        PySyncQ(name, create=False)


# --- timers, iteration, screening ---


def test_a_blocking_pop_waits_its_timer_and_iteration_ends_when_empty(name):
    q = PySyncQ(name, size=1 << 16)
    q.open("me", filtself=False)
    start = time.monotonic()
    assert q.pop(block=True, timer=0.3) is None
    assert 0.3 <= time.monotonic() - start < 10
    assert q.pop(block=True, timer=0) is None
    assert q.pop(block=True, timer=-1) is None
    for body in ("a", "b", "c"):
        q.append("t", body)
    seen = []
    for message in q(block=True, timer=0.5):
        seen.append(message[2])
    else:
        ended = True
    assert seen == ["a", "b", "c"] and ended
    assert list(q) == [] and q.pop() is None
    q.append(b"t", b"\xff\x00")
    assert q.pop(block=True, timer=5, decode=False) == (b"me", b"t", b"\xff\x00")
    q.append("n", "x")
    assert list(q(block=True, timer=0.3, decode=False)) == [(b"me", b"n", b"x")]
    q.close()


def test_screening_skips_own_messages_and_chosen_types_and_they_count_as_read(name):
    q = PySyncQ(name, size=1 << 16)
    q.open("me")  # filtself: screens "me"
    assert "me" in q.scrnsend and b"me" in q.scrnsend
    q.append("t", "mine")
    assert q.pop(block=True, timer=0.3) is None
    q.scrnsend.remove("me")
    q.scrntype.add("noise")
    q.append("noise", "x")
    q.append("t", "kept")
    assert q.pop(block=True, timer=5) == ("me", "t", "kept")
    q.scrntype.discard(b"noise")
    q.scrnsend.add("me")
    q.append("noise", "screened by sender")
    assert q.pop(block=True, timer=0.3) is None
    assert eventually(lambda: q.stats().queued_messages == 0)  # screened ones were read
    q.close()


# --- capacity ---


def test_memoryerror_comes_at_the_predicted_count_with_the_sizes_then_deadlock(backend, name):
    each = backend.charge(name, "w", "t", "b" * 100)
    granule = backend.granule(name)
    size = 10 * each + (each // 2) // granule * granule
    q = PySyncQ(name, size=size)
    q.open("w", filtself=False)  # its own messages are its to read (screened ones are not)
    for _ in range(10):
        q.append("t", "b" * 100)
    with pytest.raises(MemoryError) as caught:
        q.append("t", "b" * 100)
    assert isinstance(caught.value, pysyncq.QueueFull)
    assert caught.value.needed_bytes == each
    assert caught.value.free_bytes == size - 10 * each
    assert caught.value.capacity_bytes == size == q.size
    assert f"needs {each} bytes" in str(caught.value) and str(size) in str(caught.value)
    assert q.stats().used_bytes == 10 * each
    # Only this process holds them: a blocking append moves them into its backlog (issue
    # 13), until that holds a capacity's worth too; then no timer helps.
    appended = 10
    with pytest.raises(pysyncq.Deadlock) as deadlock:
        while True:
            q.append("t", "b" * 100, block=True, timer=TIMEOUT)
            appended += 1
            assert appended <= 20, "the backlog outgrew the capacity"
    assert isinstance(deadlock.value, MemoryError) and os.getpid() in deadlock.value.blocked_pids
    assert appended == 20
    assert q.stats().member_list[0].backlog_messages == 10
    q.close()


def test_a_message_larger_than_the_queue_raises_at_once_even_when_blocking_for_ever(name):
    with PySyncQ(name, size=4096) as q:
        q.open("w")
        with pytest.raises(MemoryError, match="can never fit"):
            q.append("big", "x" * (q.size + 1))
        with pytest.raises(MemoryError, match="can never fit"):
            q.append("big", "x" * (q.size + 1), block=True, timer=None)


def test_a_blocked_append_raises_memoryerror_at_its_timer_then_waits_for_a_reader(name):
    q = PySyncQ(name, size=4096)
    q.open("w")
    other = PySyncQ(name, create=False)  # a second member, in this process
    other.open("other")
    with pytest.raises(MemoryError):
        while True:
            q.append("t", "b" * 300)
    assert list(q(block=True, timer=0.3)) == []  # its own are screened: read and freed for q
    start = time.monotonic()
    with pytest.raises(MemoryError) as caught:
        q.append("t", "b" * 300, block=True, timer=0.3)
    assert not isinstance(caught.value, pysyncq.Deadlock)
    assert 0.3 <= time.monotonic() - start < 10
    assert other.pop(block=True, timer=5) == ("w", "t", "b" * 300)
    q.append("t", "b" * 300, block=True, timer=10)
    other.close()
    q.close()


def test_close_frees_what_the_closing_member_had_not_read(name):
    with PySyncQ(name, size=4096) as writer:
        writer.open("w")
        reader = PySyncQ(name, create=False)
        reader.open("r")
        for _ in range(5):
            writer.append("t", "x" * 100)
        # The writer's own messages are screened: this marks them read.
        assert list(writer(block=True, timer=0.3)) == []
        assert writer.stats().used_bytes > 0  # held back by the reader alone
        reader.close()
        assert eventually(lambda: writer.stats().used_bytes == 0)


# --- batches (issue 17) ---


def test_batches_keep_order_and_screening_and_pop_many_waits_for_the_first(name):
    q = PySyncQ(name, size=1 << 16)
    q.open("me", filtself=False)
    q.scrntype.add("skip")
    assert q.pop_many(block=True, timer=0.2) == []
    q.append_many([("keep", "a"), ("skip", "b"), ("keep", "c")])
    q.append_many((("keep", str(i)) for i in range(5)), block=True, timer=TIMEOUT)
    got = []
    while len(got) < 7:
        batch = q.pop_many(3, block=True, timer=TIMEOUT)
        assert 1 <= len(batch) <= 3
        got.extend(batch)
    assert [m[2] for m in got] == ["a", "c", "0", "1", "2", "3", "4"]
    assert all(m[:2] == ("me", "keep") for m in got)
    q.append_many([(b"t", b"\xff\x00")])
    assert q.pop_many(decode=False, block=True, timer=TIMEOUT) == [(b"me", b"t", b"\xff\x00")]
    assert q.pop_many(0) == [] and q.pop_many() == []
    with pytest.raises(ValueError):
        q.pop_many(-1)
    with pytest.raises(TypeError):
        q.append_many(["not a pair"])
    q.close()
