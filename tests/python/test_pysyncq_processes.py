"""PySyncQ between real processes: every start method (as the default and through a
context), broadcast, late joiners, closing and unlinking, killed members, Ctrl-C.

Handshakes are pipes and queue messages; every wait has a generous timer."""

import multiprocessing as mp
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

import pysyncq

TIMER = 30.0  # seconds: only a hung test ever waits this long
METHODS = ["fork", "spawn", "forkserver"]


# --- child targets (module level, so spawn and forkserver can import them) ---


def broadcast_child(q, conn):
    """Opens, reports, reads 'hello's until the parent's 'stop', echoes what it read."""
    q.open(f"child-{os.getpid()}")
    conn.send("registered")
    bodies = []
    while True:
        m = q.pop(block=True, timer=TIMER)
        if m is None:
            bodies.append("TIMEOUT")
            break
        sender, mtype, body = m
        if sender == "parent" and mtype == "stop":
            break
        if sender == "parent" and mtype == "hello":
            bodies.append(body)
    q.append("echo", ",".join(bodies), block=True, timer=TIMER)
    conn.send(sorted(q.scrnsend))
    q.close()


def unopened_child(q, conn):
    """Uses an instance it did not open: must get a clear ValueError."""
    try:
        q.pop()
        conn.send("no error")
    except ValueError as error:
        conn.send(str(error))


def idle_child(q, conn):
    """Opens, then never reads: holds back every message until it dies."""
    q.open("idle")
    conn.send("registered")
    conn.recv()  # blocks until the parent kills us


def late_child(q, conn):
    """Joins after the parent has sent messages; reports what it reads."""
    q.open("late")
    conn.send("registered")
    got = []
    for m in q(block=True, timer=TIMER):
        if m[1] == "stop":
            break
        got.append(m[2])
    conn.send(got)
    q.close()


def random_messages(seed, count):
    """The same pseudo-random (type, body) sequence in every process."""
    import random

    rng = random.Random(seed)
    for index in range(count):
        size = rng.choice([0, 1, 7, 8, 9, rng.randrange(0, 700)])
        yield str(index).encode(), rng.randbytes(size)


def streaming_child(q, conn, seed, count):
    """Appends `count` random messages through the (small) queue, waiting for space."""
    q.open("streamer")
    conn.send("registered")
    conn.recv()  # the parent has opened
    for mtype, body in random_messages(seed, count):
        for _ in q:  # a member reads its own (screened) messages too, or it holds them
            pass
        q.append(mtype, body, block=True, timer=TIMER)
    q.close()


def run_broadcast(q, ctx, children=2, messages=20):
    """The guide's pattern: start children, every process opens, the parent talks."""
    pipes = [ctx.Pipe() for _ in range(children)]
    procs = [ctx.Process(target=broadcast_child, args=(q, child)) for _, child in pipes]
    for p in procs:
        p.start()
    q.open("parent")
    for parent_end, _ in pipes:
        assert parent_end.poll(TIMER) and parent_end.recv() == "registered"
    for i in range(messages):
        q.append("hello", str(i), block=True, timer=TIMER)
    q.append("stop", "", block=True, timer=TIMER)
    echoes = []
    while len(echoes) < children:
        m = q.pop(block=True, timer=TIMER)
        assert m is not None, "a child did not echo in time"
        if m[1] == "echo":
            echoes.append(m)
    screens = [parent_end.recv() for parent_end, _ in pipes]
    for p in procs:
        p.join(TIMER)
        assert p.exitcode == 0
    q.close()
    expected = ",".join(str(i) for i in range(messages))
    assert sorted(e[0] for e in echoes) == sorted(f"child-{p.pid}" for p in procs)
    assert all(e[2] == expected for e in echoes)
    # Each child screens itself only, not the parent whose instance it inherited.
    for p, screen in zip(procs, screens):
        assert screen == [f"child-{p.pid}".encode()]


@pytest.mark.parametrize("method", METHODS)
def test_broadcast_through_a_context_of_each_start_method(queue_name, method, shm_exists):
    ctx = mp.get_context(method)
    q = pysyncq.PySyncQ(queue_name, start=method)
    run_broadcast(q, ctx)
    assert not shm_exists(queue_name)


def test_spawn_context_works_even_when_start_was_left_to_the_default(queue_name, shm_exists):
    # The original crashes here: its instance only supports the method it was told.
    q = pysyncq.PySyncQ(queue_name)  # start=None: the default, fork
    run_broadcast(q, mp.get_context("spawn"), children=1, messages=5)
    assert not shm_exists(queue_name)


def test_parent_opened_before_fork_does_not_screen_the_parent_in_children(queue_name):
    ctx = mp.get_context("fork")
    q = pysyncq.PySyncQ(queue_name, start="fork")
    q.open("parent")  # opened (and screening itself) before the children exist
    parent_end, child_end = ctx.Pipe()
    p = ctx.Process(target=broadcast_child, args=(q, child_end))
    p.start()
    assert parent_end.poll(TIMER) and parent_end.recv() == "registered"
    q.append("hello", "x")
    q.append("stop")
    m = q.pop(block=True, timer=TIMER)
    assert m == (f"child-{p.pid}", "echo", "x")
    assert parent_end.recv() == [f"child-{p.pid}".encode()]
    p.join(TIMER)
    q.close()


GUIDE_SCRIPT = textwrap.dedent('''
    # The guide's example, as a user of the original would write it.
    import multiprocessing, os, sys
    from pysyncq import pysyncq as pq

    def child_target_function(q, n):
        q.open(f"child{n}")
        q.append("ready", f"child{n}")
        while True:
            m = q.pop(block=True, timer=30)
            if m is None or m[1] == "stop":
                break
            if m[1] == "sentence":
                # One write per line: print() writes the newline separately, and two
                # children share the pipe.
                sys.stdout.write(f"child{n} read from {m[0]}: {m[2]}\\n")
                sys.stdout.flush()
        q.close()

    if __name__ == "__main__":
        method, name = sys.argv[1], sys.argv[2]
        multiprocessing.set_start_method(method)
        q = pq.PySyncQ(name, start=None)
        assert q.start == method
        # The parent opens first, so the children's 'ready' cannot come before it joins.
        q.open("parent")
        P = [multiprocessing.Process(target=child_target_function, args=(q, i))
             for i in range(2)]
        for p in P:
            p.start()
        ready = set()
        while len(ready) < 2:
            m = q.pop(block=True, timer=30)
            assert m is not None
            if m[1] == "ready":
                ready.add(m[2])
        q.append("sentence", "hello children")
        q.append("stop")
        for p in P:
            p.join(30)
            assert p.exitcode == 0
        q.close()
        print("parent done", flush=True)
''')


@pytest.mark.parametrize("method", METHODS)
def test_guide_script_runs_unchanged_with_each_default_start_method(
        queue_name, method, tmp_path, shm_exists):
    script = tmp_path / "guide.py"
    script.write_text(GUIDE_SCRIPT)
    done = subprocess.run([sys.executable, str(script), method, queue_name],
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert done.returncode == 0, done.stderr
    lines = sorted(done.stdout.splitlines())
    assert lines == ["child0 read from parent: hello children",
                     "child1 read from parent: hello children", "parent done"]
    assert not shm_exists(queue_name)


@pytest.mark.parametrize("method", METHODS)
def test_instance_not_opened_in_the_child_gives_a_clear_error(queue_name, method):
    ctx = mp.get_context(method)
    with pysyncq.PySyncQ(queue_name, start=method) as q:
        q.open("parent")
        parent_end, child_end = ctx.Pipe()
        p = ctx.Process(target=unopened_child, args=(q, child_end))
        p.start()
        assert parent_end.poll(TIMER)
        message = parent_end.recv()
        p.join(TIMER)
        assert "open()" in message and "this process" in message


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_late_joiner_reads_only_what_is_sent_after_it_opened(queue_name, method):
    ctx = mp.get_context(method)
    with pysyncq.PySyncQ(queue_name, start=method) as q:
        q.open("parent")
        q.append("before", "early")  # nobody but the parent is registered
        parent_end, child_end = ctx.Pipe()
        p = ctx.Process(target=late_child, args=(q, child_end))
        p.start()
        assert parent_end.poll(TIMER) and parent_end.recv() == "registered"
        q.append("after", "late1")
        q.append("after", "late2")
        q.append("stop")
        assert parent_end.poll(TIMER) and parent_end.recv() == ["late1", "late2"]
        p.join(TIMER)
        assert p.exitcode == 0


def test_killed_member_does_not_clog_the_queue(queue_name):
    ctx = mp.get_context("fork")
    with pysyncq.PySyncQ(queue_name, size=1024, start="fork") as q:
        parent_end, child_end = ctx.Pipe()
        p = ctx.Process(target=idle_child, args=(q, child_end))
        p.start()
        q.open("parent")
        assert parent_end.poll(TIMER) and parent_end.recv() == "registered"
        with pytest.raises(MemoryError):
            for _ in range(1000):
                q.append("fill", "x" * 50)
        for _ in q:  # the parent reads everything: only the idle child holds space
            pass
        assert q.stats().free_bytes < 100
        os.kill(p.pid, signal.SIGKILL)
        p.join(TIMER)
        # A blocked append reaps the dead member and goes through.
        q.append("after", "x" * 50, block=True, timer=TIMER)
        stats = q.stats()
        assert stats.members == 1 and stats.reaped_total == 1


def test_killed_member_is_reaped_when_another_process_opens(queue_name):
    ctx = mp.get_context("fork")
    with pysyncq.PySyncQ(queue_name, start="fork") as q:
        parent_end, child_end = ctx.Pipe()
        p = ctx.Process(target=idle_child, args=(q, child_end))
        p.start()
        assert parent_end.poll(TIMER) and parent_end.recv() == "registered"
        os.kill(p.pid, signal.SIGKILL)
        p.join(TIMER)
        assert q.stats().dead_members == 1
        q.open("parent")
        assert q.stats().members == 1 and q.stats().dead_members == 0


INTERRUPT_SCRIPT = textwrap.dedent('''
    import sys
    import pysyncq
    name, what = sys.argv[1], sys.argv[2]
    q = pysyncq.PySyncQ(name, create=False)
    q.open("victim", filtself=False)
    if what == "pop-beside-a-thread":  # another thread waits too, on its own handle
        import threading
        bg = pysyncq.PySyncQ(name, create=False)
        bg.open("bg")
        def wait_in_thread():
            try:
                bg.pop(block=True, timer=None)
            except ValueError:  # closed under it by the main thread, below
                pass
        thread = threading.Thread(target=wait_in_thread)
        thread.start()
    try:
        print("waiting", flush=True)
        if what.startswith("pop"):
            q.pop(block=True, timer=None)
        else:
            while True:
                q.append("fill", "x" * 100, block=True, timer=None)
        print("wait ended without an interrupt", flush=True)
    except KeyboardInterrupt:
        print("interrupted", flush=True)
    sys.stdin.readline()  # the parent has checked the queue and freed space
    # The queue is still usable: append and read back our own message.
    for _ in q:
        pass
    q.append("check", "after the interrupt")
    assert q.pop() == ("victim", "check", "after the interrupt")
    q.close()
    if what == "pop-beside-a-thread":
        bg.close()
        thread.join()
    print("clean", flush=True)
''')


@pytest.mark.parametrize("what", ["pop", "append", "pop-beside-a-thread"])
def test_ctrl_c_interrupts_an_indefinite_wait_and_leaves_the_queue_usable(
        queue_name, what, tmp_path):
    script = tmp_path / "victim.py"
    script.write_text(INTERRUPT_SCRIPT)
    with pysyncq.PySyncQ(queue_name, size=1024) as q:
        q.open("holder")  # a member that never reads, so the victim's appends block
        child = subprocess.Popen(
            [sys.executable, str(script), queue_name, what], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
        try:
            assert child.stdout.readline() == "waiting\n"
            wanted = "space" if what == "append" else "message"
            deadline = time.monotonic() + TIMER
            # Poll the queue's own view of the victim until it is asleep in the wait.
            while not any(m.sender == "victim" and m.waiting == wanted
                          for m in q.stats().member_list):
                assert time.monotonic() < deadline and child.poll() is None
                time.sleep(0.01)
            child.send_signal(signal.SIGINT)
            assert child.stdout.readline() == "interrupted\n"
            # The interrupted wait left no trace: the victim is registered, not waiting.
            victim = [m for m in q.stats().member_list if m.sender == "victim"]
            assert len(victim) == 1 and victim[0].waiting == "no"
            for _ in q:  # the holder reads all, so the victim's check can append
                pass
            out, err = child.communicate("go\n", timeout=TIMER)
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()
        assert child.returncode == 0, err
        assert out.splitlines() == ["clean"]
        assert q.stats().members == 1  # the victim (and bg) closed; the holder is left


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_messages_wrapping_a_small_queue_arrive_intact_and_in_order(queue_name, method):
    ctx = mp.get_context(method)
    seed, count = 20261125, 3000
    with pysyncq.PySyncQ(queue_name, size=1024, start=method) as q:
        parent_end, child_end = ctx.Pipe()
        p = ctx.Process(target=streaming_child, args=(q, child_end, seed, count))
        p.start()
        assert parent_end.poll(TIMER) and parent_end.recv() == "registered"
        q.open("reader")
        parent_end.send("go")
        for mtype, body in random_messages(seed, count):
            m = q.pop(block=True, timer=TIMER, decode=False)
            assert m == (b"streamer", mtype, body)
        p.join(TIMER)
        assert p.exitcode == 0
        assert q.pop() is None and q.stats().used_bytes == 0
