"""What the blocking peers (peers.py) and the asyncio peers (aio_peers.py) share, so that
neither imports the other: unique names, the pyzmq socket setup, and the setup of a
pysyncq queue (ours or the original) for the echo workload. This module imports
neither; workloads.py, the one place that knows both, picks a peer by name.
"""

import os
import time


def unique_name(tag):
    return f"pysyncq-bench-{tag}-{os.getpid()}-{time.monotonic_ns() % 1_000_000_000}"


def zmq_socket(context, kind, path, bind):
    """A socket of `context` (plain or zmq.asyncio) on ipc://path, high-water marks off
    (nothing dropped, a send never blocks on them), no linger at close."""
    import zmq
    sock = context.socket(kind)
    sock.setsockopt(zmq.SNDHWM, 0)
    sock.setsockopt(zmq.RCVHWM, 0)
    sock.setsockopt(zmq.LINGER, 0)
    if kind == zmq.SUB:
        sock.setsockopt(zmq.SUBSCRIBE, b"")
    (sock.bind if bind else sock.connect)("ipc://" + path)
    return sock


class PySyncQContender:
    """Our package or the original, whichever `pysyncq` is on sys.path: one queue made
    before the fork, opened by the hub and by each child after it. Subclasses wrap the
    opened queue in their blocking or asyncio hub and child.

    ``wait``: our package's wait policy ('sleep', 'spin' or seconds of spinning; None
    keeps the default). The original has no such option.
    """

    def __init__(self, label, wait=None, hub_wait=None, batch=False):
        from pysyncq import pysyncq as pq  # the same import line works for both
        self.pq = pq
        self.label = label
        self.wait = wait
        self.hub_wait = hub_wait  # the parent's own policy, when it differs
        self.batch = batch  # fanout: append_many / pop_many (our package only)
        self.q = None
        self.name = None

    def make(self, nchildren, capacity):
        self.name = unique_name(self.label)
        kwargs = {}
        if self.wait is not None:
            kwargs["wait"] = self.wait
        self.q = self.pq.PySyncQ(name=self.name, size=capacity, **kwargs)
        self.nchildren = nchildren

    def open_hub(self):
        """The parent's queue: only child 0's echo is popped, the rest screened."""
        q = self.q
        q.open("parent")
        if self.hub_wait is not None:
            q.set_wait_policy(self.hub_wait)
        for i in range(1, self.nchildren):
            q.scrnsend.add(f"child-{i}")
        return q

    def open_child(self, index):
        """Child `index`'s queue: it echoes 'origin' and skips the other children's echoes."""
        q = self.q
        q.open(f"child-{index}")
        q.scrntype.add("echo")
        return q

    def cleanup(self):
        """After a failed run: remove the name if the last close did not."""
        try:
            import pysyncq
            if hasattr(pysyncq, "unlink"):
                pysyncq.unlink(self.name)
                return
        except Exception:
            pass
        try:
            os.unlink(f"/dev/shm/{self.name}")
        except OSError:
            pass

