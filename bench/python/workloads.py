"""Python workloads of issue 5 for one contender, one JSON line per result on stdout.

    PYTHONPATH=<where pysyncq is> /usr/bin/python3 bench/python/workloads.py \\
        --contender pysyncq|pysyncq-sleep|pysyncq-spin|original|mp.Queue|mp.Pipe|pyzmq \\
                    |pysyncq-asyncio|pyzmq-asyncio \\
        --workload echo|pingpong|fanout|scaling [--quick]

echo      N processes (default 8) on one queue; the parent sends an 'origin' of S bytes,
          every child echoes it, the parent waits for child 0's echo and drains the rest
          (the original package's tests/benchmark.py). One-way time = half the round
          trip; every round trip is one sample. Not pinned (8 processes, 2 CPUs).
pingpong  echo with 2 processes, parent pinned to CPU 0 and child to CPU 1. The
          *-asyncio contenders (issue 9) run an asyncio loop in each process and await
          every send and receive (aio_peers.py).
fanout    1 writer (CPU 0), R readers (CPU 1, 0, 1, ...); messages/s delivered to every
          reader (the writer stops at its time budget, then sends 'end').
scaling   echo at 16 B with N = 2, 4, 8, 16.

bench/python/run_python.py runs every contender in its own interpreter (the original
and ours are both the package `pysyncq`, told apart by PYTHONPATH).
"""

import argparse
import asyncio
import gc
import json
import multiprocessing as mp
import os
import resource
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import aio_peers  # noqa: E402
import peers  # noqa: E402

CTX = mp.get_context("fork")
NCPU = os.cpu_count() or 1


def make_peer(contender):
    """The peer named `contender` (as run_python.py names them): blocking or asyncio."""
    if contender.endswith("-asyncio"):
        return aio_peers.make_peer(contender)
    return peers.make_peer(contender)


def pin(cpu):
    try:
        os.sched_setaffinity(0, {cpu % NCPU})
    except OSError:
        pass


def percentile(sorted_values, q):
    index = int(q * (len(sorted_values) - 1) + 0.5)
    return sorted_values[min(index, len(sorted_values) - 1)]


def emit(record):
    print(json.dumps(record), flush=True)


def progress(text):
    print("  " + text, file=sys.stderr, flush=True)


# --- echo, pingpong, scaling --------------------------------------------------------------

def _echo_child(peer, index, barrier, pinned, done):
    if pinned:
        pin(1 + index)
    side = peer.child(index)
    barrier.wait()
    gc.disable()
    side.serve()
    done[index] = time.perf_counter_ns()  # after the stop message: all echoes are sent


class _Enough:
    """When to stop sampling: at max_samples, or once both min_samples and the time
    budget (counted from the first call, after the burn-in) are reached."""

    def __init__(self, budget, min_samples, max_samples):
        self.budget, self.deadline = budget, None
        self.min_samples, self.max_samples = min_samples, max_samples

    def __call__(self, samples):
        now = time.perf_counter()
        if self.deadline is None:
            self.deadline = now + self.budget
        n = len(samples)
        return n >= self.max_samples or (n >= self.min_samples and now >= self.deadline)


def _round_trips(hub, body, enough):
    """Burn-in, then one-way µs samples until `enough`, then the stop message; returns
    the samples and the clock at the first timed send."""
    for _ in range(20):
        hub.send(body)
        hub.wait_echo()
        hub.drain()
    samples = []
    clock = time.perf_counter_ns
    first = clock()
    while not enough(samples):
        start = clock()
        hub.send(body)
        hub.wait_echo()
        hub.drain()
        samples.append((clock() - start) / 2000.0)
    hub.stop()
    return samples, first


async def _round_trips_async(hub, body, enough):
    """_round_trips for an asyncio hub (aio_peers.py), all in one running loop."""
    for _ in range(20):
        await hub.send(body)
        await hub.wait_echo()
    samples = []
    clock = time.perf_counter_ns
    first = clock()
    while not enough(samples):
        start = clock()
        await hub.send(body)
        await hub.wait_echo()
        samples.append((clock() - start) / 2000.0)
    await hub.stop()
    return samples, first


def run_echo(peer, nprocs, size, budget, min_samples, max_samples, pinned):
    """One-way µs samples of the echo workload with `nprocs` processes, and the
    sustained one-way time: from the first send until every child has echoed every
    message (children that lag behind the parent and child 0 catch up before that),
    divided by the number of transfers, halved."""
    nchildren = nprocs - 1
    # Room for 128 transfers of this message (every process's copy), and at least 32 MiB,
    # so that children may lag: the parent waits for child 0 only, and a child that the
    # scheduler leaves aside on a busy 2-CPU machine falls behind. With too little room
    # the child furthest behind blocks in a full append while only its own reading could
    # free space (the original hangs there; ours raises Deadlock).
    capacity = max(32 << 20, 256 * nprocs * (size + 256))
    peer.make(nchildren, capacity)
    barrier = CTX.Barrier(nprocs)
    done = CTX.RawArray("q", nchildren)
    cpu_before = _cpu_seconds()
    children = [CTX.Process(target=_echo_child, args=(peer, i, barrier, pinned, done),
                            daemon=True) for i in range(nchildren)]
    for child in children:
        child.start()
    try:
        if pinned:
            pin(0)
        hub = peer.hub()
        barrier.wait()
        body = bytes(size)
        enough = _Enough(budget, min_samples, max_samples)
        gc.disable()
        if getattr(hub, "asynchronous", False):
            samples, first = asyncio.run(_round_trips_async(hub, body, enough))
        else:
            samples, first = _round_trips(hub, body, enough)
        gc.enable()
        # Keep draining while the children finish: a child whose last echoes are still
        # in flight (a multiprocessing.Queue feeder thread, a full pipe) cannot exit
        # until the parent reads them.
        give_up = time.monotonic() + 60
        while any(child.is_alive() for child in children) and time.monotonic() < give_up:
            hub.drain()
            for child in children:
                child.join(0.01)
        hub.close()
        if any(child.exitcode != 0 for child in children):
            raise RuntimeError(f"echo: a child failed (exit codes "
                               f"{[child.exitcode for child in children]})")
        sustained = (max(done) - first) / len(samples) / 2000.0
        # CPU time (user + system) of every process of the run, per transfer: with 2
        # CPUs a round trip cannot take less than half of it (the floor of the note).
        cpu_per_transfer_us = (_cpu_seconds() - cpu_before) / (len(samples) + 20) * 1e6
    finally:
        for child in children:
            if child.is_alive():
                child.terminate()
                child.join(5)
        peer.cleanup()
    return samples, sustained, cpu_per_transfer_us


def _cpu_seconds():
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)  # joined ones
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def echo_record(workload, contender, nprocs, size, result, pinned):
    samples, sustained, cpu_per_transfer_us = result
    ordered = sorted(samples)
    return {"suite": "python", "workload": workload, "contender": contender,
            "nprocs": nprocs, "size": size, "median_us": statistics.median(ordered),
            "p99_us": percentile(ordered, 0.99), "min_us": ordered[0],
            "max_us": ordered[-1], "mean_us": statistics.fmean(ordered),
            "samples": len(ordered), "sustained_us": sustained,
            "cpu_us_per_transfer": cpu_per_transfer_us, "pinned": pinned}


# --- fanout -------------------------------------------------------------------------------

def _fanout_reader(peer, index, barrier, ends, counts):
    pin(1 + index)
    side = peer.reader(index)
    barrier.wait()
    gc.disable()
    counts[index] = side.count_until_end()
    ends[index] = time.perf_counter_ns()


def run_fanout(peer, readers, size, budget, max_messages):
    peer.make(readers, 4 << 20)
    barrier = CTX.Barrier(readers + 1)
    ends = CTX.RawArray("q", readers)
    counts = CTX.RawArray("q", readers)
    children = [CTX.Process(target=_fanout_reader, args=(peer, i, barrier, ends, counts),
                            daemon=True) for i in range(readers)]
    for child in children:
        child.start()
    try:
        pin(0)
        side = peer.writer()
        barrier.wait()
        body = bytes(size)
        gc.disable()
        send = side.send
        sent = 0
        start = time.perf_counter_ns()
        stop_at = start + int(budget * 1e9)
        while sent < max_messages:
            send(body)
            sent += 1
            if sent % 64 == 0 and time.perf_counter_ns() > stop_at:
                break
        side.end()
        for child in children:
            child.join(120)
        side.close()
        gc.enable()
    finally:
        for child in children:
            if child.is_alive():
                child.terminate()
                child.join(5)
        peer.cleanup()
    got = list(counts)
    if any(n != sent for n in got):
        raise RuntimeError(f"fanout: readers got {got} of {sent} messages")
    seconds = (max(ends) - start) / 1e9
    return sent / seconds, sent


# --- main ---------------------------------------------------------------------------------

def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--contender", required=True)
    parser.add_argument("--workload", required=True,
                        choices=["echo", "pingpong", "fanout", "scaling"])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--nprocs", type=int, default=8, help="echo: processes (default 8)")
    args = parser.parse_args()
    contender = args.contender
    budget = 0.25 if args.quick else 0.8
    min_samples = 30 if args.quick else 100
    sizes = [16, 4096] if args.quick else [2, 16, 256, 4096, 65536]

    if args.workload in ("echo", "pingpong"):
        nprocs = args.nprocs if args.workload == "echo" else 2
        pinned = args.workload == "pingpong"
        for size in sizes:
            result = run_echo(make_peer(contender), nprocs, size, budget, min_samples,
                              200000, pinned)
            record = echo_record(args.workload, contender, nprocs, size, result, pinned)
            emit(record)
            progress(f"{args.workload:8s} {contender:14s} {size:6d} B  N={nprocs:<2d} "
                     f"median {record['median_us']:9.1f} us  p99 {record['p99_us']:9.1f} us"
                     f"  sustained {record['sustained_us']:9.1f} us")
    elif args.workload == "scaling":
        for nprocs in ([2, 8] if args.quick else [2, 4, 8, 16]):
            result = run_echo(make_peer(contender), nprocs, 16, budget, min_samples,
                              200000, False)
            record = echo_record("scaling", contender, nprocs, 16, result, False)
            emit(record)
            progress(f"scaling  {contender:14s}     16 B  N={nprocs:<2d} "
                     f"median {record['median_us']:9.1f} us  p99 {record['p99_us']:9.1f} us"
                     f"  sustained {record['sustained_us']:9.1f} us")
    else:
        runs = 1 if args.quick else 3
        for size in (64, 4096):
            for readers in ([1, 3] if args.quick else [1, 3, 7]):
                rates = []
                sent = 0
                for _ in range(runs):
                    rate, sent = run_fanout(make_peer(contender), readers, size,
                                            budget * 0.6, 2_000_000)
                    rates.append(rate)
                median = statistics.median(rates)
                emit({"suite": "python", "workload": "fanout", "contender": contender,
                      "size": size, "readers": readers, "msgs_per_s": median,
                      "msgs_per_s_min": min(rates), "msgs_per_s_max": max(rates),
                      "bytes_per_s": median * size, "messages": sent, "runs": rates,
                      "pinned": True})
                progress(f"fanout   {contender:14s} {size:6d} B  {readers} readers "
                         f"{median:10.0f} msgs/s  {median * size / 1e6:8.1f} MB/s")


if __name__ == "__main__":
    main()
