"""Message transfer time through a PySyncQ on this machine: ``python3 -m pysyncq.benchmark``.

The original package's benchmark (its tests/benchmark.py), with per-transfer samples:
N processes (default 8) share one queue; the parent appends an 'origin' message of S
bytes; every child echoes it back with type 'echo'; the parent pops the echo of one
child, screens the others, and drains. One-way time = half the round trip. Prints the
median, 99th percentile, mean and minimum in microseconds per message size, and the
sustained time: from the first send until every child has echoed every message, per
transfer (the parent waits for one child only, so the others may lag behind it).

    python3 -m pysyncq.benchmark                      # 8 processes, about 15 s
    python3 -m pysyncq.benchmark --procs 2 --wait sleep --seconds 2

``--wait`` is the queue's wait policy: 'adaptive' (the default: spin only while a CPU is
spare and recent waits were short), 'sleep', 'spin', or seconds of spinning before every
sleep (e.g. 50e-6).

The project's full comparison with other transports is ``make bench`` (bench/ in the
source tree).
"""

import argparse
import gc
import multiprocessing as mp
import os
import statistics
import sys
import time

from pysyncq import pysyncq as pq

SIZES = (2, 16, 256, 4096, 65536)


def _child(q, name, ready, done, index):
    q.open(name)
    q.scrntype.add("echo")
    gc.disable()  # no collection pauses in the measured loop
    ready.wait()
    for (_, typ, msg) in q(block=True, timer=None):
        if typ == "kill":
            break
        q.append("echo", msg, block=True, timer=None)
    done[index] = time.perf_counter_ns()
    q.close()


def _transfer(q, body):
    q.append("origin", body, block=True, timer=None)
    q.pop(block=True, timer=None)
    for _ in q:  # screen the other children's echoes
        pass


def measure(nprocs, size, seconds, min_samples, wait):
    """One-way transfer times (µs) of `size`-byte messages among `nprocs` processes, and
    the sustained one-way time: first send until every child has echoed every message
    (children may lag behind the parent and child 0), per transfer, halved."""
    ctx = mp.get_context("fork")
    # Room for 256 transfers of every process's copy (at least 32 MiB): the parent waits
    # for one child only, and a child the scheduler leaves aside may fall behind.
    capacity = max(32 << 20, 256 * nprocs * (size + 256))
    name = f"pysyncq-benchmark-{os.getpid()}-{size}"
    q = pq.PySyncQ(name=name, size=capacity, wait=wait)
    ready = ctx.Barrier(nprocs)
    done = ctx.RawArray("q", nprocs - 1)
    children = [ctx.Process(target=_child, args=(q, f"child-{i}", ready, done, i),
                            daemon=True) for i in range(nprocs - 1)]
    for child in children:
        child.start()
    samples = []
    try:
        q.open("parent")
        for i in range(1, nprocs - 1):
            q.scrnsend.add(f"child-{i}")
        ready.wait()
        body = bytes(size)
        gc.disable()
        for _ in range(20):  # burn-in
            _transfer(q, body)
        clock = time.perf_counter_ns
        first = clock()
        end = time.perf_counter() + seconds
        while len(samples) < min_samples or time.perf_counter() < end:
            start = clock()
            _transfer(q, body)
            samples.append((clock() - start) / 2000.0)
        gc.enable()
        q.append("kill", "", block=True, timer=None)
        q.close()
        for child in children:
            child.join(60)
        sustained = (max(done) - first) / len(samples) / 2000.0
    finally:
        for child in children:
            if child.is_alive():
                child.terminate()
                child.join(5)
        try:
            import pysyncq
            pysyncq.unlink(name)  # only if a failure left it behind
        except Exception:
            pass
    return samples, sustained


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python3 -m pysyncq.benchmark", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--procs", type=int, default=8,
                        help="processes on the queue, parent included (default 8)")
    parser.add_argument("--sizes", default=",".join(str(s) for s in SIZES),
                        help="message body sizes in bytes (default %(default)s)")
    parser.add_argument("--seconds", type=float, default=2.0,
                        help="measuring time per size (default %(default)s)")
    parser.add_argument("--wait", default=None,
                        help="wait policy: 'adaptive' (the default), 'sleep', 'spin' or "
                             "seconds of spinning")
    args = parser.parse_args(argv)
    if args.procs < 2:
        parser.error("--procs must be at least 2")
    wait = args.wait
    if wait not in (None, "adaptive", "sleep", "spin"):
        try:
            wait = float(wait)
        except ValueError:
            parser.error(f"--wait must be 'adaptive', 'sleep', 'spin' or seconds, not {wait!r}")
    sizes = [int(s) for s in args.sizes.split(",") if s]
    cpus = os.cpu_count() or 1
    print(f"pysyncq echo benchmark: {args.procs} processes on {cpus} CPUs, wait policy "
          f"{'default' if wait is None else wait}, {args.seconds:g} s per size")
    if args.procs > cpus and wait is None:
        print(f"note: more processes than CPUs; spinning waiters compete with working ones"
              f" (compare --wait sleep)")
    print(f"{'bytes':>8} {'median us':>10} {'p99 us':>10} {'mean us':>10} {'min us':>9}"
          f" {'sustained':>10} {'samples':>8}")
    for size in sizes:
        print(f"{size:>8} ... measuring", end="\r", flush=True)
        samples, sustained = measure(args.procs, size, args.seconds, 50, wait)
        samples.sort()
        p99 = samples[min(len(samples) - 1, int(0.99 * (len(samples) - 1) + 0.5))]
        print(f"{size:>8} {statistics.median(samples):>10.1f} {p99:>10.1f} "
              f"{statistics.fmean(samples):>10.1f} {samples[0]:>9.1f} {sustained:>10.1f} "
              f"{len(samples):>8}", flush=True)
    print("one-way µs per message; sustained: until every child has echoed every message")
    return 0


if __name__ == "__main__":
    sys.exit(main())
