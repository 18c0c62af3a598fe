"""Blocking appends never deadlock a correct program (the guide's pattern: every process
appends with block=True and reads regularly), and the guide's promises about a full queue
still hold. Real processes under every start method; a C++ writer among Python ones.

Each scenario checks: no writer fails, every reader gets every message exactly once,
every writer gets every message but its own exactly once, and all of them see the
messages in one total order. Each runs ROUNDS times (below).
"""

import multiprocessing as mp
import os
import pathlib
import random
import signal
import subprocess
import time

import pytest

import pysyncq

# Each scenario races writers against readers: one run proves little, so make test runs
# each one 3 times (about 25 s for the file) and make torture 30 times.
ROUNDS = 30 if os.environ.get("PYSYNCQ_TORTURE") == "1" else 3
COUNT = 300  # messages per writer, as in the report that found the deadlock
FINISH_SECONDS = 60  # bound for a writer or reader to get all it expects (never reached)


def message_id(body):
    index, number, _ = body.split(":", 2)
    return f"{index}:{number}"


def writer(name, index, count, max_body, expect, barrier, results):
    """The guide's writer: block=True appends, reading after every one."""
    try:
        q = pysyncq.PySyncQ(name, create=False)
        q.open(f"w{index}")
        barrier.wait()
        rnd = random.Random(index)
        got = []
        for i in range(count):
            q.append("seq", f"{index}:{i}:" + "x" * rnd.randint(0, max_body),
                     block=True, timer=10)
            got.extend(message_id(m[2]) for m in q)
        give_up = time.monotonic() + FINISH_SECONDS
        while len(got) < expect and time.monotonic() < give_up:
            m = q.pop(block=True, timer=0.5)
            if m is not None:
                got.append(message_id(m[2]))
        q.close()
        results.put((f"w{index}", "ok", got))
    except Exception as error:  # reported, not raised: the parent names the writer
        results.put((f"w{index}", repr(error), []))


def reader(name, index, expect, barrier, results):
    q = pysyncq.PySyncQ(name, create=False)
    q.open(f"r{index}")
    barrier.wait()
    got = []
    give_up = time.monotonic() + FINISH_SECONDS
    while len(got) < expect and time.monotonic() < give_up:
        m = q.pop(block=True, timer=0.5)
        if m is not None:
            got.append(message_id(m[2]))
    q.close()
    results.put((f"r{index}", "ok", got))


def check_outcomes(outcomes, every_id):
    """Each participant got what it should, once each, all in one order."""
    failures = [(who, status) for who, status, _ in outcomes if status != "ok"]
    assert not failures, failures
    orders = []
    for who, _, got in outcomes:
        index = who[1:]
        own = {i for i in every_id if i.split(":")[0] == index} if who[0] == "w" else set()
        assert len(got) == len(set(got)), f"{who} got a message twice"
        assert set(got) == every_id - own, (
            f"{who} missed {sorted(every_id - own - set(got))[:5]}")
        orders.append(got)
    position = {i: n for n, i in enumerate(max(orders, key=len))}
    for got in orders:
        ranks = [position[i] for i in got if i in position]
        assert ranks == sorted(ranks), "two members saw the messages in different orders"


def run_scenario(queue_name, method, writers, readers, size, max_body):
    ctx = mp.get_context(method)
    every_id = {f"{w}:{i}" for w in range(writers) for i in range(COUNT)}
    with pysyncq.PySyncQ(queue_name, size=size):
        barrier = ctx.Barrier(writers + readers)
        results = ctx.Queue()
        processes = [ctx.Process(target=reader,
                                 args=(queue_name, i, len(every_id), barrier, results))
                     for i in range(readers)]
        processes += [ctx.Process(target=writer,
                                  args=(queue_name, i, COUNT, max_body,
                                        len(every_id) - COUNT, barrier, results))
                      for i in range(writers)]
        for p in processes:
            p.start()
        outcomes = [results.get(timeout=2 * FINISH_SECONDS) for _ in processes]
        for p in processes:
            p.join(FINISH_SECONDS)
            assert p.exitcode == 0
    check_outcomes(outcomes, every_id)


@pytest.mark.parametrize("method", ["fork", "spawn", "forkserver"])
@pytest.mark.parametrize("writers,readers,size,max_body", [
    (3, 2, 8192, 0),     # the report: 3 writers of short messages, 2 readers, 8 KiB
    (5, 2, 8192, 900),   # 5 writers, random sizes up to 900 bytes
    (3, 3, 4096, 0),     # 3 writers, 3 readers, 4 KiB
])
def test_writers_that_block_and_read_regularly_all_complete(queue_name, method, writers,
                                                            readers, size, max_body):
    for _ in range(ROUNDS):
        run_scenario(queue_name, method, writers, readers, size, max_body)


def blocking_writer_program():
    build = pathlib.Path(pysyncq.__file__).resolve().parent.parent.parent
    path = pathlib.Path(os.environ.get("PYSYNCQ_BLOCKING_WRITER",
                                       build / "tests" / "process" / "pysyncq_blocking_writer"))
    if not path.exists():
        pytest.skip(f"no C++ blocking writer at {path}")
    return str(path)


def test_a_cpp_writer_among_python_writers_completes_and_so_do_they(queue_name):
    program = blocking_writer_program()
    ctx = mp.get_context("fork")
    python_writers, readers, max_body = 3, 2, 900
    writers = python_writers + 1
    every_id = {f"{w}:{i}" for w in range(writers) for i in range(COUNT)}
    for _ in range(ROUNDS):
        with pysyncq.PySyncQ(queue_name, size=8192):
            barrier = ctx.Barrier(python_writers + readers + 1)
            results = ctx.Queue()
            cxx = subprocess.Popen(
                [program, queue_name, f"w{python_writers}", str(python_writers), str(COUNT),
                 str(max_body), str(len(every_id) - COUNT)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            assert cxx.stdout.readline() == "ready\n"
            processes = [ctx.Process(target=reader,
                                     args=(queue_name, i, len(every_id), barrier, results))
                         for i in range(readers)]
            processes += [ctx.Process(target=writer,
                                      args=(queue_name, i, COUNT, max_body,
                                            len(every_id) - COUNT, barrier, results))
                          for i in range(python_writers)]
            for p in processes:
                p.start()
            barrier.wait()  # everyone is registered: the C++ writer may go too
            cxx.stdin.write("go\n")
            cxx.stdin.flush()
            out, _ = cxx.communicate(timeout=2 * FINISH_SECONDS)
            lines = out.splitlines()
            assert cxx.returncode == 0 and lines[-1] == "done", lines[-3:]
            outcomes = [results.get(timeout=2 * FINISH_SECONDS) for _ in processes]
            outcomes.append((f"w{python_writers}", "ok",
                             [line.split()[2] for line in lines if line.startswith("got ")]))
            for p in processes:
                p.join(FINISH_SECONDS)
            check_outcomes(outcomes, every_id)


def wait_for(condition, what, seconds=30.0):
    """Polls the queue's own state (a handshake, not a guessed sleep) until `condition`."""
    give_up = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < give_up, f"timed out waiting until {what}"
        time.sleep(0.01)


def member(q, sender):
    return next(m for m in q.stats().member_list if m.sender == sender)


def blocked_appender(name, conn, count, timer):
    q = pysyncq.PySyncQ(name, create=False)
    q.open("appender")
    conn.send("registered")
    try:
        for i in range(count):
            q.append("t", f"a{i}".ljust(100, "."), block=True, timer=timer)
        conn.send("appended")
    except MemoryError as error:
        conn.send(type(error).__name__)
    conn.recv()  # the parent has looked
    q.close()


def test_without_a_timer_a_blocking_append_waits_until_the_member_holding_the_space_reads(
        queue_name):
    """The guide: a live member that is not appending holds the space; timer=None waits."""
    ctx = mp.get_context("fork")
    with pysyncq.PySyncQ(queue_name, size=1024, start="fork") as holder:
        holder.open("holder")
        parent_end, child_end = ctx.Pipe()
        p = ctx.Process(target=blocked_appender, args=(queue_name, child_end, 40, None))
        p.start()
        assert parent_end.poll(30) and parent_end.recv() == "registered"
        wait_for(lambda: member(holder, "appender").waiting == "space",
                 "the appender waits for space")
        assert not parent_end.poll(0), "the append returned while the space was held"
        got = []
        while len(got) < 40:
            m = holder.pop(block=True, timer=10)
            assert m is not None
            got.append(m[2].rstrip("."))
        assert parent_end.poll(30) and parent_end.recv() == "appended"
        assert got == [f"a{i}" for i in range(40)]
        parent_end.send("done")
        p.join(30)
        assert p.exitcode == 0


def test_with_a_timer_a_blocking_append_held_back_by_a_reader_raises_memoryerror(queue_name):
    ctx = mp.get_context("fork")
    with pysyncq.PySyncQ(queue_name, size=1024, start="fork") as holder:
        holder.open("holder")  # never reads until the end
        parent_end, child_end = ctx.Pipe()
        p = ctx.Process(target=blocked_appender, args=(queue_name, child_end, 40, 0.2))
        p.start()
        assert parent_end.poll(30) and parent_end.recv() == "registered"
        assert parent_end.poll(60)
        outcome = parent_end.recv()
        assert outcome == "QueueFull", outcome  # a MemoryError; not a Deadlock
        parent_end.send("done")
        p.join(30)
        assert p.exitcode == 0


def appender_that_never_reads(name, conn):
    q = pysyncq.PySyncQ(name, create=False)
    q.open("stuck")
    conn.send("registered")
    # Only once the parent has appended: otherwise, on a busy machine, our own appends
    # can fill the queue first, and the parent (which never reads) could then append
    # nothing for us to hold in a backlog.
    assert conn.recv() == "go"
    for i in range(10_000):  # blocks: the parent holds the space and reads nothing
        q.append("s", f"s{i}".ljust(60, "."), block=True, timer=None)


def test_a_member_killed_with_a_backlog_loses_nothing_for_the_others(queue_name):
    """Kill -9 a blocked appender whose backlog holds messages: the others lose nothing
    (every message exactly once, none torn), and the whole capacity comes back."""
    ctx = mp.get_context("fork")
    with pysyncq.PySyncQ(queue_name, size=2048, start="fork") as q:
        q.open("parent")
        parent_end, child_end = ctx.Pipe()
        p = ctx.Process(target=appender_that_never_reads, args=(queue_name, child_end))
        p.start()
        assert parent_end.poll(30) and parent_end.recv() == "registered"
        sent = []
        for _ in range(3):  # ours first, so the stuck member has some to read (and hold)
            body = f"p{len(sent)}".ljust(80, ".")
            q.append("p", body)
            sent.append(body)
        parent_end.send("go")
        while True:  # our messages: the stuck member must hold them to read them later
            body = f"p{len(sent)}".ljust(80, ".")
            try:
                q.append("p", body)
            except MemoryError:
                if member(q, "stuck").backlog_messages > 0:
                    break
                wait_for(lambda: member(q, "stuck").waiting == "space"
                         or member(q, "stuck").backlog_messages > 0,
                         "the stuck member blocks and moves our messages to its backlog")
                continue
            sent.append(body)
        wait_for(lambda: member(q, "stuck").waiting == "space", "it is blocked again")
        os.kill(p.pid, signal.SIGKILL)
        p.join(30)
        got = [m for m in q]
        stuck = [m for m in got if m[0] == "stuck"]
        assert [m[2] for m in stuck] == [f"s{i}".ljust(60, ".") for i in range(len(stuck))]
        assert q.stats().members == 2  # the dead one, until a blocked append reaps it
        whole = "w" * (q.size - pysyncq.PySyncQ._footprint(len("parent"), 1, 0))
        q.append("w", whole, block=True, timer=30)  # reaps it: the whole ring is free
        assert q.stats().members == 1


BIG_TIMER = 20  # seconds; a starved big append fails the test after this


def big_appender(name, conn, size):
    q = pysyncq.PySyncQ(name, create=False)
    q.open("big")
    conn.send("registered")
    try:
        q.append("big", "B" * size, block=True, timer=BIG_TIMER)
        conn.send("appended")
    except MemoryError as error:  # starved: the parent reports it
        conn.send(repr(error))
    conn.recv()
    q.close()


def small_appender(name, conn, index):
    """A stream of small blocking appends, reading after each, until told to stop."""
    q = pysyncq.PySyncQ(name, create=False)
    q.open(f"small{index}")
    conn.send("registered")
    conn.recv()  # go
    appended = 0
    while not conn.poll(0):
        q.append("small", f"{index}:{appended}", block=True, timer=60)
        appended += 1
        for _ in q:
            pass
    assert conn.recv() == "stop"
    conn.send(appended)
    q.close()


def test_a_large_message_is_not_starved_by_a_stream_of_small_ones(queue_name):
    """A large blocking append waits behind a stream of small ones that never pause, on a
    queue that a slow reader frees one message at a time. Without reservations every
    freed byte would go to a small append and the large one would wait for ever: the
    large append's ticket reserves the space it needs, so it gets in while the small
    ones keep streaming (a later append may still go first, with bytes the large one
    does not need: docs/design.md, "Blocked appenders")."""
    ctx = mp.get_context("fork")
    children = []
    try:
        with pysyncq.PySyncQ(queue_name, size=4096, start="fork") as q:
            q.open("slow-reader", filtself=False)
            smalls = []
            for index in range(2):
                parent_end, child_end = ctx.Pipe()
                p = ctx.Process(target=small_appender, args=(queue_name, child_end, index),
                                daemon=True)
                p.start()
                children.append(p)
                assert parent_end.poll(30) and parent_end.recv() == "registered"
                smalls.append((parent_end, p))
            for parent_end, _ in smalls:
                parent_end.send("go")
            # Reading nothing yet: the small ones fill the queue and block.
            wait_for(lambda: all(member(q, f"small{i}").waiting == "space" for i in range(2)),
                     "both small appenders block")
            big_end, big_child = ctx.Pipe()
            big = ctx.Process(target=big_appender, args=(queue_name, big_child, 3000),
                              daemon=True)
            big.start()
            children.append(big)
            assert big_end.poll(30) and big_end.recv() == "registered"
            wait_for(lambda: member(q, "big").waiting == "space" or big_end.poll(0),
                     "the big append waits")
            smalls_before_big = 0
            big_seen = False
            give_up = time.monotonic() + BIG_TIMER + 30
            while not big_seen and time.monotonic() < give_up:
                # The slow reader frees one message whenever the writers wait for space:
                # slower than they write, so only a reservation lets free space grow.
                wait_for(lambda: big_end.poll(0) or all(
                    member(q, f"small{i}").waiting == "space" for i in range(2)),
                    "the small appenders wait for space again")
                m = q.pop(block=True, timer=1)
                if m is not None:
                    big_seen = m[1] == "big"
                    smalls_before_big += m[1] == "small"
            report = big_end.recv() if big_end.poll(5) else "no answer"
            assert big_seen and report == "appended", f"the big append starved: {report}"
            # The stream went on while the big one waited, and goes on after it.
            big_end.send("done")
            appended = []
            for parent_end, p in smalls:
                parent_end.send("stop")
                while not parent_end.poll(0.05):
                    for _ in q:  # keep reading so that their last appends finish
                        pass
                appended.append(parent_end.recv())
                p.join(30)
                assert p.exitcode == 0
            big.join(30)
            assert big.exitcode == 0
            assert smalls_before_big > 0 and sum(appended) > smalls_before_big, (
                f"no stream of small appends: {smalls_before_big} before the big one, "
                f"{appended} in all")
    finally:
        for child in children:
            if child.is_alive():
                child.kill()
                child.join(5)
