"""C++ and Python processes on one queue (examples/chat.cpp), and the demo end to end."""

import os
import re
import subprocess
import sys

import pytest

import pysyncq

TIMER = 30.0


def read_until(stream, wanted):
    """Reads lines until one contains `wanted` (the test watchdog bounds the wait)."""
    lines = []
    for line in stream:
        lines.append(line)
        if wanted in line:
            return lines
    raise AssertionError(f"{wanted!r} never came; got {lines!r}")


def test_python_and_cpp_exchange_messages_on_one_queue(queue_name, chat_program, shm_exists):
    q = pysyncq.PySyncQ(queue_name)
    cxx = subprocess.Popen([chat_program, queue_name, "cxx"], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
    try:
        read_until(cxx.stdout, "registered")  # it has opened: it will read what follows
        q.open("py")
        q.append("start")
        m = q.pop(block=True, timer=TIMER)
        while m is not None and m[1] != "sentence":
            m = q.pop(block=True, timer=TIMER)
        assert m is not None and m[0] == "cxx" and m[2].startswith("C++ says hello")
        q.append("sentence", "héllo from Python")
        read_until(cxx.stdout, "cxx read from py: héllo from Python")
        q.append("stop")
        out, err = cxx.communicate(timeout=TIMER)
        assert cxx.returncode == 0, err
        assert "closed after sending" in out
    finally:
        if cxx.poll() is None:
            cxx.kill()
            cxx.wait()
        q.close()
    assert not shm_exists(queue_name)


def test_cpp_member_killed_does_not_clog_python(queue_name, chat_program):
    with pysyncq.PySyncQ(queue_name, size=512) as q:
        cxx = subprocess.Popen([chat_program, queue_name, "cxx"], stdout=subprocess.PIPE,
                               text=True)
        try:
            read_until(cxx.stdout, "registered")
            q.open("py")
            cxx.kill()  # from now on it holds back every message appended
            cxx.wait()
            assert q.stats().dead_members == 1
            for _ in range(50):  # far more than 512 bytes: needs the dead member reaped
                q.append("t", "x" * 40, block=True, timer=TIMER)
                for _ in q:
                    pass
            assert q.stats().reaped_total == 1 and q.stats().members == 1
        finally:
            if cxx.poll() is None:
                cxx.kill()
                cxx.wait()


def test_demo_runs_unattended_with_a_cpp_process_and_leaves_nothing(chat_program, shm_exists):
    done = subprocess.run(
        [sys.executable, "-m", "pysyncq.demo", "--seconds", "1.5", "--procs", "2",
         "--cxx", chat_program],
        capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    name = re.search(r"queue '([^']+)'", out).group(1)
    assert not shm_exists(name) and f"/dev/shm/{name} is gone" in out
    for reader, sender in [("py-0", "c++"), ("py-1", "py-0"), ("c++", "py-1")]:
        assert f"{reader} read from {sender}: " in out, out
    for member in ("py-0", "py-1", "c++"):
        assert f"{member}: closed after sending" in out


def test_demo_refuses_a_missing_cpp_program():
    done = subprocess.run([sys.executable, "-m", "pysyncq.demo", "--seconds", "1", "--cxx",
                           "/nonexistent/chat"], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert done.returncode == 2 and "not an executable" in done.stderr


def test_interactive_demo_survives_ctrl_c_and_leaves_nothing(chat_program, shm_exists):
    import signal

    demo = subprocess.Popen(
        [sys.executable, "-m", "pysyncq.demo", "--procs", "2", "--cxx", chat_program],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,  # its own process group: Ctrl-C goes to all of it
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    try:
        lines = read_until(demo.stdout, "Press Enter to start")
        name = re.search(r"queue '([^']+)'", "".join(lines)).group(1)
        demo.stdin.write("\n")
        demo.stdin.flush()
        read_until(demo.stdout, " read from ")  # the chat is on
        os.killpg(demo.pid, signal.SIGINT)  # what the terminal does on Ctrl-C
        out, _ = demo.communicate(timeout=TIMER)
    finally:
        if demo.poll() is None:
            os.killpg(demo.pid, signal.SIGKILL)
            demo.wait()
    assert demo.returncode == 0, out
    assert "interrupted, stopping" in out and "Traceback" not in out
    for member in ("py-0", "py-1", "c++"):
        assert f"{member}: closed after sending" in out
    assert not shm_exists(name)
