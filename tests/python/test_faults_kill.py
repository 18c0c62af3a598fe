"""Faults through the Python API: kill -9 of Python writers and readers mid-operation
(survivors keep working, read only whole messages, in order, and get the capacity back),
and the deadlock the broadcast semantics allow, in the original benchmark's setting,
ending with MemoryError instead of a hang. Seeds are printed; PYSYNCQ_SEED replays."""

import multiprocessing as mp
import os
import random
import signal
import struct
import time
import zlib

import pytest

pysyncq = pytest.importorskip("pysyncq")

TIMER = 20.0
ROUNDS = 100 if os.environ.get("PYSYNCQ_TORTURE") == "1" else 15


def seed_of_run():
    seed = int(os.environ.get("PYSYNCQ_SEED", "0")) or random.randrange(1, 2**32)
    print(f"seed {seed} (replay with PYSYNCQ_SEED={seed})")
    return seed


def checked_body(stream, seq, payload_bytes):
    """stream u32, seq u64, payload, crc32 of all before: a torn body fails the check."""
    head = struct.pack("<IQ", stream, seq)
    payload = bytes((seq * 31 + i) & 0xFF for i in range(payload_bytes))
    data = head + payload
    return data + struct.pack("<I", zlib.crc32(data))


def parse_body(body):
    """(stream, seq) of a whole body, or None."""
    if len(body) < 16 or zlib.crc32(body[:-4]) != struct.unpack("<I", body[-4:])[0]:
        return None
    stream, seq = struct.unpack("<IQ", body[:12])
    payload = body[12:-4]
    if payload != bytes((seq * 31 + i) & 0xFF for i in range(len(payload))):
        return None
    return stream, seq


def writer_child(q, conn, stream, seed):
    """Appends checked messages for ever (until killed), reading its own as it goes."""
    q.open(f"w{stream}")
    conn.send("registered")
    rng = random.Random(seed)
    seq = 0
    while True:
        try:
            q.append("data", checked_body(stream, seq, rng.randrange(0, 300)), block=True,
                     timer=0.05)
            seq += 1
        except MemoryError:
            pass
        while q.pop(decode=False) is not None:
            pass


def reader_child(q, conn):
    """Pops for ever (until killed); reports a torn message by exiting 3."""
    q.open("reader")
    conn.send("registered")
    while True:
        message = q.pop(block=True, timer=0.05, decode=False)
        if message is not None and parse_body(message[2]) is None:
            os._exit(3)


def drain_checked(q, next_seq):
    """Pops all there is; every body whole, each stream in order without gaps."""
    while True:
        message = q.pop(decode=False)
        if message is None:
            return
        parsed = parse_body(message[2])
        assert parsed is not None, f"torn message of {len(message[2])} bytes"
        stream, seq = parsed
        assert seq == next_seq.get(stream, 0), f"stream {stream}: {seq} out of order"
        next_seq[stream] = seq + 1


def whole_capacity_is_usable(q):
    """A message as large as the ring fits, twice: nothing dead holds a byte."""
    while q.pop(decode=False) is not None:
        pass
    sender = q.sender.encode()
    body = b"z" * (q.size - 16 - len(sender) - len(b"probe"))
    assert q._footprint(len(sender), 5, len(body)) == q.size
    for _ in range(2):
        q.append("probe", body, block=True, timer=TIMER)
        assert q.pop(decode=False)[2] == body


def test_python_writers_killed_mid_append_leave_only_whole_ordered_messages(queue_name,
                                                                           shm_exists):
    rng = random.Random(seed_of_run())
    ctx = mp.get_context("fork")
    with pysyncq.PySyncQ(queue_name, size=4096, start="fork") as q:
        q.open("survivor", filtself=False)
        next_seq = {}
        for round_number in range(ROUNDS):
            children = []
            for k in range(2):
                parent_end, child_end = ctx.Pipe()
                stream = round_number * 2 + k
                p = ctx.Process(target=writer_child,
                                args=(q, child_end, stream, rng.randrange(2**32)))
                p.start()
                assert parent_end.poll(TIMER) and parent_end.recv() == "registered"
                children.append(p)
            deadline = time.monotonic() + rng.uniform(0.0, 0.05)
            while time.monotonic() < deadline:
                drain_checked(q, next_seq)  # keep space moving while they write
            for p in children:
                os.kill(p.pid, signal.SIGKILL)
                p.join(TIMER)
                assert p.exitcode == -signal.SIGKILL
            drain_checked(q, next_seq)
        q.reap()
        assert q.stats().members == 1
        whole_capacity_is_usable(q)
    assert not shm_exists(queue_name)


def test_python_readers_killed_mid_pop_never_block_the_writer(queue_name, shm_exists):
    rng = random.Random(seed_of_run())
    ctx = mp.get_context("fork")
    with pysyncq.PySyncQ(queue_name, size=2048, start="fork") as q:
        q.open("writer", filtself=False)
        seq = 0
        for _ in range(ROUNDS):
            parent_end, child_end = ctx.Pipe()
            p = ctx.Process(target=reader_child, args=(q, child_end))
            p.start()
            assert parent_end.poll(TIMER) and parent_end.recv() == "registered"
            kill_at = time.monotonic() + rng.uniform(0.0, 0.05)
            while time.monotonic() < kill_at:
                q.append("data", checked_body(0, seq, rng.randrange(0, 400)), block=True,
                         timer=TIMER)  # MemoryError here would mean a clogged queue
                seq += 1
                while q.pop(decode=False) is not None:
                    pass
            os.kill(p.pid, signal.SIGKILL)
            p.join(TIMER)
            assert p.exitcode == -signal.SIGKILL, "the reader read a torn message (3)"
        # Blocked appends reap the dead readers that still hold space.
        whole_capacity_is_usable(q)
        assert q.stats().members == 1
    assert not shm_exists(queue_name)


def deadlock_participant(q, conn, index, body_bytes):
    q.open(f"p{index}")
    conn.send("registered")
    conn.recv()  # go
    try:
        for i in range(4):
            q.append("bench", checked_body(index, i, body_bytes), block=True, timer=None)
    except MemoryError as error:
        conn.send(("error", type(error).__name__, str(error)))
        q.close()
        return
    conn.send(("done", "", ""))
    q.close()


def test_the_original_benchmark_setting_raises_memoryerror_saying_deadlock(queue_name,
                                                                           shm_exists):
    """8 processes, 64 KiB messages, a queue of 10 transfers, timer=None."""
    ctx = mp.get_context("fork")
    body_bytes = 64 * 1024
    transfer = pysyncq.PySyncQ._footprint(2, 5, body_bytes + 16)
    with pysyncq.PySyncQ(queue_name, size=10 * transfer, start="fork") as q:
        pipes, processes = [], []
        for i in range(8):
            parent_end, child_end = ctx.Pipe()
            p = ctx.Process(target=deadlock_participant, args=(q, child_end, i, body_bytes))
            p.start()
            assert parent_end.poll(TIMER) and parent_end.recv() == "registered"
            pipes.append(parent_end)
            processes.append(p)
        for conn in pipes:
            conn.send("go")
        outcomes = []
        for conn, p in zip(pipes, processes):
            assert conn.poll(60), f"pid {p.pid} hangs: no deadlock detected"
            outcomes.append(conn.recv())
            p.join(TIMER)
            assert p.exitcode == 0
        errors = [o for o in outcomes if o[0] == "error"]
        assert errors, "every process completed: the setting did not deadlock"
        pids = {str(p.pid) for p in processes}
        for _, kind, text in errors:
            assert kind == "Deadlock" and "deadlock" in text, text
            named = [w.strip("(),'") for w in text.split("pid ")[1:]]
            assert named and all(n.split()[0] in pids for n in named), text
    assert not shm_exists(queue_name)
