"""Iterating a queue (``for m in q``, ``q(block, timer)``) gives exactly what pops give.

An iteration may read ahead internally, but a message it fetched and has not yielded yet
must stay where the next read of the handle finds it first: after a ``break``, while a
half-used iterator is kept, when ``pop``/``pop_many`` are mixed in, when the screens
change mid-loop, in a forked child, and with threads sharing a handle. Each test would
fail if a message were lost, repeated or reordered.

Handshakes are pipes; every wait has a generous timer."""

import asyncio
import gc
import json
import multiprocessing as mp
import os
import pathlib
import random
import select
import subprocess
import threading
import time
import weakref

import pytest

import pysyncq

TIMER = 30.0  # seconds: only a hung test ever waits this long
ROOT = pathlib.Path(__file__).resolve().parents[2]


def filled(queue_name, count, types=("a",)):
    """A writer and a reader handle on a fresh queue, `count` messages appended by the
    writer: bodies '0'.. in order, types cycling through `types`."""
    writer = pysyncq.PySyncQ(queue_name, start="fork")
    reader = pysyncq.PySyncQ(queue_name, create=False, start="fork")
    writer.open("w")
    reader.open("r")
    for index in range(count):
        writer.append(types[index % len(types)], str(index), block=True, timer=TIMER)
    return writer, reader


def test_break_then_pop_then_a_kept_iterator_lose_and_repeat_nothing(queue_name):
    writer, reader = filled(queue_name, 100)
    got = []
    for message in reader:
        got.append(message[2])
        break
    got.append(reader.pop()[2])
    kept = iter(reader)  # half-used and kept alive: what it read ahead is not its own
    got.append(next(kept)[2])
    got += [m[2] for m in reader.pop_many(3)]
    got.append(next(kept)[2])
    got.append(reader.pop(decode=False)[2].decode())
    for message in reader(block=True, timer=0.01):
        got.append(message[2])
        if len(got) == 50:
            break
    got.append(next(kept)[2])
    got += [m[2] for m in reader]
    assert got == [str(i) for i in range(100)]
    assert reader.pop() is None and next(kept, None) is None
    writer.close()
    reader.close()


def test_screens_changed_mid_loop_apply_from_the_next_message_on(queue_name):
    writer, reader = filled(queue_name, 20, types=("a", "b"))
    reader.scrntype = {"b"}
    got = []
    for message in reader:
        got.append(message[2])
        if message[2] == "4":
            reader.scrntype.discard("b")  # 5 comes next: not screened any more
        if message[2] == "8":
            reader.scrntype.add("a")  # 9 is a 'b'; 10 is an 'a': screened from now on
        if message[2] == "11":
            break
    got.append(reader.pop()[2])
    reader.scrntype.clear()
    got += [m[2] for m in reader]
    assert got == ["0", "2", "4", "5", "6", "7", "8", "9", "11", "13", "14", "15", "16",
                   "17", "18", "19"]
    writer.close()
    reader.close()


def test_filtself_turned_off_mid_loop_shows_own_messages_that_follow(queue_name):
    writer, reader = filled(queue_name, 0)
    for index in range(10):
        (reader if index % 2 else writer).append("t", str(index))
    got = []
    for message in reader:  # filtself: reader's own (odd) messages are screened
        got.append(message[2])
        if message[2] == "2":
            reader.scrnsend.discard("r")
    assert got == ["0", "2", "3", "4", "5", "6", "7", "8", "9"]
    writer.close()
    reader.close()


def forked_child(q, conn):
    """Opens the inherited handle; must see only what is appended after it opened."""
    q.open("child")
    conn.send("registered")
    got = []
    while True:
        message = q.pop(block=True, timer=TIMER)
        if message is None or message[1] == "stop":
            break
        got.append(message[2])
    conn.send(got)
    q.close()


def test_a_forked_child_never_inherits_what_the_parent_read_ahead(queue_name):
    writer, reader = filled(queue_name, 10)
    kept = iter(reader)
    assert next(kept)[2] == "0"  # the parent may hold 1..9 read ahead
    ctx = mp.get_context("fork")
    parent_end, child_end = ctx.Pipe()
    child = ctx.Process(target=forked_child, args=(reader, child_end))
    child.start()
    assert parent_end.poll(TIMER) and parent_end.recv() == "registered"
    writer.append("t", "after")
    writer.append("stop", "")
    assert parent_end.poll(TIMER) and parent_end.recv() == ["after"]
    child.join(TIMER)
    assert child.exitcode == 0
    got = [next(kept)[2]] + [m[2] for m in reader]
    assert got == [str(i) for i in range(1, 10)] + ["after", ""]
    writer.close()
    reader.close()


def test_threads_sharing_a_handle_split_the_messages_without_loss_or_repeat(queue_name):
    count = 4000
    writer, reader = filled(queue_name, 0)
    per_thread = {0: [], 1: []}

    def read(which):
        rng = random.Random(which)
        mine = per_thread[which]
        while True:
            for message in reader(block=True, timer=0.5):
                if message[1] == "stop":
                    return
                mine.append(int(message[2]))
                if rng.random() < 0.2:
                    break

    threads = [threading.Thread(target=read, args=(which,)) for which in (0, 1)]
    for thread in threads:
        thread.start()
    for index in range(count):
        writer.append("t", str(index), block=True, timer=TIMER)
    writer.append("stop", "")
    writer.append("stop", "")
    for thread in threads:
        thread.join(TIMER)
        assert not thread.is_alive()
    assert sorted(per_thread[0] + per_thread[1]) == list(range(count))
    for mine in per_thread.values():
        assert mine == sorted(mine)  # each thread sees its share in queue order
    writer.close()
    reader.close()


# --- several writers and readers in their own processes ---

WRITERS = 3
MESSAGES = 1500  # per writer


def writing_child(q, conn, index):
    """Appends MESSAGES numbered messages through the small queue, reading as it goes
    (a member that never reads holds space: the guide's pattern reads between appends)."""
    q.open(f"writer{index}")
    conn.send("registered")
    conn.recv()  # everyone has opened
    for number in range(MESSAGES):
        for _ in q:
            pass
        q.append("n", f"{number}:" + "x" * (number % 50), block=True, timer=TIMER)
    q.close()


def reading_child(q, conn, seed):
    """Reads every writer's messages with a random mix of iterations that break early,
    kept half-used iterators, pops and batches; sends what it got in its order."""
    rng = random.Random(seed)
    q.open(f"reader{seed}")
    conn.send("registered")
    conn.recv()
    total = WRITERS * MESSAGES
    got = []
    kept = []
    give_up = time.monotonic() + 3 * TIMER  # a lost message fails the test, never hangs it
    while len(got) < total and time.monotonic() < give_up:
        mode = rng.randrange(5)
        if mode == 0:
            stop_after = rng.randrange(1, 6)
            for message in q:
                got.append(message)
                if len(got) % stop_after == 0:
                    break
        elif mode == 1:
            kept.append(iter(q(block=True, timer=0.01)))
            if len(kept) > 4:
                kept.pop(rng.randrange(len(kept)))  # some end half-used
        elif mode == 2 and kept:
            message = next(rng.choice(kept), None)
            if message is not None:
                got.append(message)
        elif mode == 3:
            message = q.pop(block=True, timer=0.01)
            if message is not None:
                got.append(message)
        else:
            got.extend(q.pop_many(rng.randrange(1, 9), block=True, timer=0.01))
    extra = q.pop(block=True, timer=0.2)
    conn.send(([(m[0], m[2]) for m in got], extra))
    q.close()


def test_readers_mixing_broken_iterations_pops_and_batches_get_every_message_in_order(
        queue_name):
    q = pysyncq.PySyncQ(queue_name, size=4096, start="fork")
    ctx = mp.get_context("fork")
    pipes = []
    procs = []
    for index in range(WRITERS):
        parent_end, child_end = ctx.Pipe()
        procs.append(ctx.Process(target=writing_child, args=(q, child_end, index)))
        pipes.append(parent_end)
    for seed in range(3):
        parent_end, child_end = ctx.Pipe()
        procs.append(ctx.Process(target=reading_child, args=(q, child_end, seed)))
        pipes.append(parent_end)
    for proc in procs:
        proc.start()
    for pipe in pipes:
        assert pipe.poll(TIMER) and pipe.recv() == "registered"
    for pipe in pipes:
        pipe.send("go")
    results = []
    for pipe in pipes[WRITERS:]:
        assert pipe.poll(4 * TIMER), "a reader did not finish"
        results.append(pipe.recv())
    for proc in procs:
        proc.join(TIMER)
        assert proc.exitcode == 0
    for got, extra in results:
        assert extra is None, "a reader got more than was sent"
        for index in range(WRITERS):
            numbers = [int(body.split(":")[0]) for sender, body in got
                       if sender == f"writer{index}"]
            assert numbers == list(range(MESSAGES)), f"writer{index}'s messages"
    # One total order: every reader got the same interleaving.
    assert results[0][0] == results[1][0] == results[2][0]


@pytest.mark.parametrize("decode", [True, False])
def test_an_iteration_yields_what_pop_would_with_its_arguments(queue_name, decode):
    writer, reader = filled(queue_name, 5)
    expected = [(b"w", b"a", str(i).encode()) for i in range(5)]
    if decode:
        expected = [tuple(field.decode() for field in m) for m in expected]
    assert [tuple(m) for m in reader(decode=decode)] == expected
    writer.close()
    reader.close()


# --- the iterator is a C type now (python/src/iterator.cpp): what the generator did ---


def test_an_iteration_that_found_no_message_stays_ended_as_a_generator_did(queue_name):
    writer, reader = filled(queue_name, 1)
    ended = iter(reader)
    assert iter(ended) is ended
    assert [m[2] for m in ended] == ["0"]
    writer.append("t", "1")
    assert next(ended, None) is None  # ended for good: a new iteration reads "1"
    assert [m[2] for m in reader] == ["1"]
    writer.close()
    reader.close()


def test_an_iteration_that_raised_stays_ended_and_the_next_read_goes_on(queue_name):
    writer, reader = filled(queue_name, 0)
    writer.append("t", b"\xff")  # not UTF-8: consumed and raised, as pop does
    writer.append("t", "after")
    iteration = iter(reader)
    with pytest.raises(UnicodeDecodeError):
        next(iteration)
    assert next(iteration, None) is None
    assert [m[2] for m in reader] == ["after"]
    writer.close()
    reader.close()


def test_an_iteration_pops_through_a_subclass_pop(queue_name):
    class Tagged(pysyncq.PySyncQ):
        def pop(self, block=False, timer=0.5, decode=True):
            message = super().pop(block, timer, decode)
            return None if message is None else ("tagged",) + tuple(message[1:])

    writer = pysyncq.PySyncQ(queue_name, start="fork")
    reader = Tagged(queue_name, create=False, start="fork")
    writer.open("w")
    reader.open("r")
    writer.append("t", "0")
    writer.append("t", "1")
    assert list(reader) == [("tagged", "t", "0"), ("tagged", "t", "1")]
    writer.close()
    reader.close()


def test_an_iterator_keeps_its_queue_alive_and_a_cycle_through_it_is_collected(queue_name):
    writer, reader = filled(queue_name, 2)
    iteration = iter(reader)
    reader_ref = weakref.ref(reader)
    del reader
    assert next(iteration)[2] == "0"  # the queue lives on in its iterator
    queue = reader_ref()
    queue.kept = iteration  # queue -> iterator -> queue
    del queue, iteration
    gc.collect()
    assert reader_ref() is None
    writer.close()


# --- read-ahead: a step that pops from shared memory may move up to 64 following
# messages into the handle's backlog (docs/design.md, "Read-ahead") ---


def member(q, sender):
    """The MemberStats of `sender` in q.stats()."""
    return next(m for m in q.stats().member_list if m.sender == sender)


def test_a_screen_removed_mid_loop_shows_the_messages_read_ahead_after_it(queue_name):
    writer, reader = filled(queue_name, 10, types=("a", "b"))
    reader.scrntype = {"b"}
    iteration = iter(reader)
    assert next(iteration)[2] == "0"
    assert member(reader, "r").backlog_messages == 9  # read ahead, the 'b's unscreened
    reader.scrntype.discard("b")
    assert [m[2] for m in iteration] == [str(i) for i in range(1, 10)]
    writer.close()
    reader.close()


def test_stats_count_what_an_iteration_read_ahead_as_the_members_unread(queue_name):
    writer, reader = filled(queue_name, 100)
    assert writer.pop() is None  # the writer passes its own (screened) messages
    for message in reader:
        break
    footprint = reader._footprint(1, 1, 2)  # sender 'w', type 'a', bodies '10'..'64'
    stats = reader.stats()
    me = member(reader, "r")
    assert (me.unread_messages, me.backlog_messages) == (99, 64)
    assert me.backlog_bytes == 54 * footprint + 10 * reader._footprint(1, 1, 1)
    assert stats.queued_messages == 100 - 65  # their space is free, as after pops
    syncq = pathlib.Path(os.environ.get("SYNCQ", ROOT / "build" / "cli" / "syncq"))
    if syncq.is_file():  # the CLI shows the same lag
        shown = json.loads(subprocess.run([str(syncq), "stat", "--json", queue_name],
                                          capture_output=True, check=True, timeout=TIMER).stdout)
        entry = next(m for m in shown["member_list"] if m["sender"] == "r")
        assert (entry["unread_messages"], entry["backlog_messages"]) == (99, 64)
    assert len(list(reader)) == 99
    assert (member(reader, "r").unread_messages, member(reader, "r").backlog_messages) == (0, 0)
    writer.close()
    reader.close()


def test_asyncio_after_a_break_with_read_ahead_pending_returns_at_once(queue_name):
    writer, reader = filled(queue_name, 5)
    assert writer.pop() is None  # the writer passes its own (screened) messages
    for message in reader:
        break
    assert reader.stats().queued_messages == 0  # only the backlog holds messages now
    reader._arm_for_message()  # the notify fd says so at once
    assert select.select([reader._notify_fd()], [], [], TIMER)[0]
    reader._disarm()

    async def main():
        got = [(await reader.apop(timer=TIMER))[2]]
        async for message in reader.aiter():
            got.append(message[2])
            if len(got) == 4:
                return got

    assert asyncio.run(asyncio.wait_for(main(), TIMER)) == ["1", "2", "3", "4"]
    writer.close()
    reader.close()


def test_a_blocked_append_after_a_break_goes_on_in_one_order_and_loses_nothing(queue_name):
    each = pysyncq.PySyncQ._footprint(2, 1, 3)  # sender 'me', type 't', bodies '100'..
    q = pysyncq.PySyncQ(queue_name, size=10 * each, start="fork")
    q.open("me", filtself=False)  # a lone member that reads its own messages
    for number in range(100, 110):  # the ring is full
        q.append("t", str(number))
    for message in q:
        assert message[2] == "100"
        break  # 101..109 read ahead: the ring is empty, the backlog holds nine
    for number in range(110, 121):  # ten fill the ring; the last one moves 110 over
        q.append("t", str(number), block=True, timer=TIMER)
    with pytest.raises(pysyncq.Deadlock):  # a full ring and a full backlog, as without
        q.append("t", "121", block=True, timer=TIMER)
    got = [q.pop()[2]] + [m[2] for m in q.pop_many(3)]
    for message in q:
        got.append(message[2])
        if len(got) == 10:
            break
    got += [m[2] for m in q]
    assert got == [str(number) for number in range(101, 121)]
    q.close()
