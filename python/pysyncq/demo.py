"""The guide's demonstration: a parent and its children chat over one PySyncQ.

    python3 -m pysyncq.demo                 # Enter starts the children, Enter stops them
    python3 -m pysyncq.demo --seconds 4     # unattended: runs 4 seconds
    python3 -m pysyncq.demo --cxx build/examples/pysyncq_chat   # add a C++ process

The parent creates the queue and starts one child per CPU (--procs). Every process,
the C++ one included (examples/chat.cpp), follows one protocol: open, wait for a
message of type 'start', append a 'sentence' every 200 ms while printing each sentence
it reads and who sent it, and close on a message of type 'stop'. At the end nothing of
the queue is left in /dev/shm.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import random
import signal
import subprocess
import sys
import threading
import time
from typing import Optional

from ._pysyncq import unlink
from .pysyncq import PAGE_SIZE, START_METHODS, PySyncQ

#: How often each process appends a sentence (the C++ example uses the same period).
SENTENCE_PERIOD = 0.2

#: Generous bound for every handshake of the demo (registration, exits).
HANDSHAKE_SECONDS = 30.0

SENTENCES = (
    "the queue keeps every message until all of us have read it",
    "each of us reads at its own pace",
    "a message larger than the queue is refused at once",
    "screened messages count as read",
    "the last process to close unlinks the shared memory",
    "blocking calls release the GIL",
    "a killed process does not clog the queue",
)


def say(text: str) -> None:
    """Prints one line with a single write, so lines of processes never interleave."""
    sys.stdout.flush()
    os.write(sys.stdout.fileno(), (text + "\n").encode(errors="backslashreplace"))


def child(q: PySyncQ, index: int) -> None:
    """One Python member of the chat (runs in a child process)."""
    # Ctrl-C at the terminal reaches every process of the group: only the parent acts
    # on it, by sending 'stop', so every child still closes the queue properly.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    me = f"py-{index}"
    q.open(me)  # filtself: we do not read our own sentences
    rng = random.Random(os.getpid())
    message = q.pop(block=True, timer=HANDSHAKE_SECONDS)
    while message is not None and message[1] not in ("start", "stop"):
        message = q.pop(block=True, timer=HANDSHAKE_SECONDS)
    if message is None or message[1] == "stop":
        if message is None:
            say(f"{me}: no start message within {HANDSHAKE_SECONDS:.0f} s")
        q.close()
        return
    sent = 0
    next_sentence = time.monotonic()
    stopped = False
    while not stopped:
        # Read what arrives until our next sentence is due (one deadline per round).
        while not stopped:
            message = q.pop(block=True, timer=max(0.0, next_sentence - time.monotonic()))
            if message is None:
                break
            sender, mtype, body = message
            if mtype == "stop":
                stopped = True
            elif mtype == "sentence":
                say(f"{me} read from {sender}: {body}")
        if not stopped:
            sent += 1
            try:
                q.append("sentence", f"{rng.choice(SENTENCES)} (#{sent} from {me})",
                         block=True, timer=SENTENCE_PERIOD)
            except MemoryError:
                sent -= 1  # the queue stayed full: skip this one, keep reading
            next_sentence = time.monotonic() + SENTENCE_PERIOD
    q.close()
    say(f"{me}: closed after sending {plural(sent, 'sentence')}")


def wait_for_enter(prompt: str = "") -> None:
    """Waits for Enter on stdin; end of input counts as Enter."""
    if prompt:
        say(prompt)
    try:
        input()
    except EOFError:
        pass


def wait_for_enter_unbuffered() -> None:
    """As wait_for_enter, for a daemon thread: reads the raw descriptor, because a thread
    still blocked inside input() holds sys.stdin's buffer lock, and the interpreter then
    aborts at exit ("could not acquire lock ... at interpreter shutdown")."""
    try:
        while True:
            chunk = os.read(sys.stdin.fileno(), 1)
            if not chunk or chunk == b"\n":
                return
    except (OSError, ValueError):
        return


def plural(count: int, noun: str) -> str:
    """'1 sentence', '2 sentences'."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


def wait_for_members(q: PySyncQ, expected: int, processes) -> None:
    """Waits until `expected` processes have opened the queue (polls its statistics)."""
    deadline = time.monotonic() + HANDSHAKE_SECONDS
    while q.stats().members < expected:
        if time.monotonic() > deadline or any(not alive() for alive in processes):
            raise RuntimeError(f"only {q.stats().members} of {expected} processes opened "
                               f"the queue in time")
        time.sleep(0.01)  # polling the queue's own member count, not a handshake by delay


def run(seconds: Optional[float], size: int, procs: int, cxx: Optional[str],
        start: Optional[str]) -> int:
    """Runs the demonstration; returns the exit status."""
    q = PySyncQ(None, size=size, start=start)
    say(f"demo: queue {q.name!r}, {q.size} bytes, start method {q.start!r}, "
        f"{procs} Python child{'ren' if procs != 1 else ''}"
        f"{' and one C++ process' if cxx else ''}")
    ctx = mp.get_context(q.start)
    children = [ctx.Process(target=child, args=(q, index), name=f"py-{index}")
                for index in range(procs)]
    cxx_process = None
    counts: dict[str, int] = {}
    try:
        for process in children:
            process.start()
        if cxx:
            # Its own session: Ctrl-C at the terminal must not kill it before it closes.
            cxx_process = subprocess.Popen([cxx, q.name, "c++"], start_new_session=True)
        q.open("parent")
        alive = [process.is_alive for process in children]
        if cxx_process is not None:
            alive.append(lambda: cxx_process.poll() is None)
        wait_for_members(q, procs + (1 if cxx else 0) + 1, alive)

        stop = threading.Event()
        if seconds is None:
            wait_for_enter("demo: every process has opened the queue. Press Enter to start.")
            threading.Thread(target=lambda: (wait_for_enter_unbuffered(), stop.set()),
                             daemon=True).start()
            say("demo: started. Press Enter to stop.")
        else:
            threading.Timer(seconds, stop.set).start()
            say(f"demo: every process has opened the queue; chatting for {seconds:g} s")
        q.append("start")
        while not stop.is_set():  # the parent reads too, or it would hold back space
            message = q.pop(block=True, timer=0.1)
            if message is not None and message[1] == "sentence":
                counts[message[0]] = counts.get(message[0], 0) + 1
        say("demo: stopping")
    except KeyboardInterrupt:
        say("demo: interrupted, stopping")
    finally:
        status = finish(q, children, cxx_process)
    if counts:
        say("demo: the parent read " + ", ".join(
            f"{plural(n, 'sentence')} from {sender}" for sender, n in sorted(counts.items())))
    return status


def finish(q: PySyncQ, children, cxx_process) -> int:
    """Sends 'stop', closes, waits for every process, and checks /dev/shm is clean."""
    status = 0
    if q.is_open:
        q.append("stop", block=True, timer=HANDSHAKE_SECONDS)
    q.close()  # frees what the parent has not read; the last process to close unlinks
    for process in children:
        if process.pid is None:
            continue
        process.join(HANDSHAKE_SECONDS)
        if process.exitcode != 0:
            say(f"demo: {process.name} exited with {process.exitcode}")
            status = 1
    if cxx_process is not None:
        try:
            if cxx_process.wait(HANDSHAKE_SECONDS) != 0:
                say(f"demo: the C++ process exited with {cxx_process.returncode}")
                status = 1
        except subprocess.TimeoutExpired:
            cxx_process.kill()
            cxx_process.wait()
            status = 1
    if os.path.exists(f"/dev/shm/{q.name}"):
        # Someone died without closing (only the dead can hold it now): clean up.
        say(f"demo: /dev/shm/{q.name} was still there (a process did not close); removed")
        unlink(q.name)
        status = 1
    else:
        say(f"demo: every process closed the queue; /dev/shm/{q.name} is gone")
    return status


def main(argv=None) -> int:
    """Command line entry point (python3 -m pysyncq.demo --help)."""
    parser = argparse.ArgumentParser(
        prog="python3 -m pysyncq.demo",
        description="The pysyncq guide's demonstration: processes chatting over one queue.")
    parser.add_argument("--seconds", type=float, default=None,
                        help="run unattended for this many seconds (default: interactive, "
                             "Enter starts and Enter stops)")
    parser.add_argument("--size", type=int, default=PAGE_SIZE,
                        help=f"queue size in bytes (default {PAGE_SIZE}, the page size)")
    parser.add_argument("--procs", type=int, default=os.cpu_count() or 1,
                        help="Python child processes (default: one per CPU)")
    parser.add_argument("--cxx", metavar="PATH", default=None,
                        help="also run this C++ chat program (build/examples/pysyncq_chat)")
    parser.add_argument("--start", choices=START_METHODS, default=None,
                        help="multiprocessing start method (default: multiprocessing's)")
    args = parser.parse_args(argv)
    if args.procs < 0 or (args.seconds is not None and args.seconds < 0):
        parser.error("--procs and --seconds must not be negative")
    if args.cxx and not os.access(args.cxx, os.X_OK):
        parser.error(f"--cxx {args.cxx}: not an executable file (run make first?)")
    return run(args.seconds, args.size, args.procs, args.cxx, args.start)


if __name__ == "__main__":
    sys.exit(main())
