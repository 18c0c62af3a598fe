"""The Python contenders of bench/python/workloads.py, one class per peer.

Every peer implements the same two workloads (issue 5):

echo / pingpong / scaling
    The parent ("hub") broadcasts an 'origin' message of S bytes; every child echoes
    it back; the parent waits for the echo of child 0, then drains what else has
    arrived without waiting. A pysyncq queue broadcasts by itself; the other peers
    emulate it with one channel per reader (a star around the parent), which is how a
    user would build it with them.
fanout
    One writer, R readers; the writer sends messages of S bytes (blocking when the
    transport is full) until its time budget ends, then an 'end' message; each reader
    counts what it got.

A peer gives: ``make(nchildren, size)`` in the parent before the fork (shared state
that children inherit), then ``hub()`` / ``child(i)`` for echo and ``writer()`` /
``reader(i)`` for fanout, each called in its own process after the fork. The asyncio
contenders of pingpong (``*-asyncio``) are in aio_peers.py; what both share is in
contenders.py.
"""

import multiprocessing as mp
import os
import queue as queue_module
import time

from contenders import PySyncQContender, zmq_socket

PAGE = 4096


# --- pysyncq: ours and the original share the guide's API --------------------------------

class PySyncQPeer(PySyncQContender):
    """Our package or the original (contenders.PySyncQContender), with blocking calls."""

    # echo
    def hub(self):
        return _PySyncQHub(self.open_hub())

    def child(self, index):
        return _PySyncQChild(self.open_child(index))

    # fanout
    def writer(self):
        self.q.open("writer")
        if self.batch:
            return _PySyncQBatchWriter(self.q)
        return _PySyncQWriter(self.q, self.pq)

    def reader(self, index):
        self.q.open(f"reader-{index}")
        if self.batch:
            return _PySyncQBatchReader(self.q)
        return _PySyncQReader(self.q)


class _PySyncQHub:
    def __init__(self, q):
        self.q = q

    def send(self, body):
        self.q.append("origin", body, block=True, timer=None)

    def wait_echo(self):
        self.q.pop(block=True, timer=None)

    def drain(self):
        for _ in self.q:
            pass

    def stop(self):
        self.q.append("kill", "", block=True, timer=None)

    def close(self):
        self.q.close()


class _PySyncQChild:
    def __init__(self, q):
        self.q = q

    def serve(self):
        q = self.q
        for (_, typ, msg) in q(block=True, timer=None):
            if typ == "kill":
                break
            q.append("echo", msg, block=True, timer=None)
        q.close()


class _PySyncQWriter:
    def __init__(self, q, pq):
        self.q = q

    def send(self, body):
        q = self.q
        try:
            q.append("m", body)
        except MemoryError:
            # Full: our own (screened) messages may be what holds the space; pass over
            # them, then wait for the readers.
            for _ in q:
                pass
            q.append("m", body, block=True, timer=None)

    def end(self):
        q = self.q
        for _ in q:
            pass
        q.append("end", b"", block=True, timer=None)

    def close(self):
        self.q.close()


class _PySyncQReader:
    def __init__(self, q):
        self.q = q

    def count_until_end(self):
        q = self.q
        count = 0
        while True:
            m = q.pop(block=True, timer=None, decode=False)
            if m is None:
                continue
            if m[1] == b"end":
                break
            count += 1
        q.close()
        return count


class _PySyncQBatchWriter:
    """The batch calls (pysyncq-batch): the writer appends BATCH messages per append_many,
    one lock round and at most one wake each, as faster-fifo's put_many."""

    BATCH = 64

    def __init__(self, q):
        self.q = q
        self.pending = []

    def flush(self):
        q = self.q
        for _ in q:  # our own (screened) messages: pass over them, they hold space
            pass
        q.append_many(self.pending, block=True, timer=None)
        self.pending.clear()

    def send(self, body):
        self.pending.append(("m", body))
        if len(self.pending) == self.BATCH:
            self.flush()

    def end(self):
        self.pending.append(("end", b""))
        self.flush()

    def close(self):
        self.q.close()


class _PySyncQBatchReader:
    """pop_many: up to 64 messages per call (one cursor store per batch: space comes back
    only at the end of a batch, so a batch of a whole queue of large messages would stall
    the writer until it is read)."""

    def __init__(self, q):
        self.q = q

    def count_until_end(self):
        q = self.q
        count = 0
        while True:
            batch = q.pop_many(64, block=True, timer=None, decode=False)
            if batch and batch[-1][1] == b"end":
                q.close()
                return count + len(batch) - 1
            count += len(batch)


# --- multiprocessing.Queue: one queue per reader -----------------------------------------

class MpQueuePeer:
    label = "mp.Queue"

    def make(self, nchildren, capacity):
        self.inboxes = [mp.Queue() for _ in range(nchildren)]
        self.back = mp.Queue()

    def hub(self):
        return _MpQueueHub(self.inboxes, self.back)

    def child(self, index):
        return _MpQueueChild(self.inboxes[index], self.back, index)

    def writer(self):
        return _MpQueueWriter(self.inboxes)

    def reader(self, index):
        return _MpQueueReader(self.inboxes[index])

    def cleanup(self):
        pass


class _MpQueueHub:
    def __init__(self, inboxes, back):
        self.inboxes, self.back = inboxes, back

    def send(self, body):
        for inbox in self.inboxes:
            inbox.put(("origin", body))

    def wait_echo(self):
        while self.back.get()[0] != 0:  # other children's echoes: screened
            pass

    def drain(self):
        try:
            while True:
                self.back.get_nowait()
        except queue_module.Empty:
            pass

    def stop(self):
        for inbox in self.inboxes:
            inbox.put(("kill", b""))

    def close(self):
        pass


class _MpQueueChild:
    def __init__(self, inbox, back, index):
        self.inbox, self.back, self.index = inbox, back, index

    def serve(self):
        while True:
            typ, body = self.inbox.get()
            if typ == "kill":
                break
            self.back.put((self.index, body))


class _MpQueueWriter:
    def __init__(self, inboxes):
        self.inboxes = inboxes

    def send(self, body):
        for inbox in self.inboxes:
            inbox.put(body)

    def end(self):
        for inbox in self.inboxes:
            inbox.put(None)

    def close(self):
        for inbox in self.inboxes:
            inbox.close()
            inbox.join_thread()


class _MpQueueReader:
    def __init__(self, inbox):
        self.inbox = inbox

    def count_until_end(self):
        count = 0
        get = self.inbox.get
        while get() is not None:
            count += 1
        return count


# --- multiprocessing.Pipe: one duplex pipe per child -------------------------------------

class PipePeer:
    label = "mp.Pipe"

    def make(self, nchildren, capacity):
        self.pairs = [mp.Pipe() for _ in range(nchildren)]

    def hub(self):
        return _PipeHub([p[0] for p in self.pairs])

    def child(self, index):
        return _PipeChild(self.pairs[index][1])

    def writer(self):
        return _PipeWriter([p[0] for p in self.pairs])

    def reader(self, index):
        return _PipeReader(self.pairs[index][1])

    def cleanup(self):
        pass


class _PipeHub:
    def __init__(self, conns):
        self.conns = conns

    def send(self, body):
        for conn in self.conns:
            conn.send_bytes(body)

    def wait_echo(self):
        self.conns[0].recv_bytes()

    def drain(self):
        for conn in self.conns[1:]:
            while conn.poll():
                conn.recv_bytes()

    def stop(self):
        for conn in self.conns:
            conn.send_bytes(b"")

    def close(self):
        pass


class _PipeChild:
    def __init__(self, conn):
        self.conn = conn

    def serve(self):
        recv, send = self.conn.recv_bytes, self.conn.send_bytes
        while True:
            body = recv()
            if not body:
                break
            send(body)


class _PipeWriter:
    def __init__(self, conns):
        self.conns = conns

    def send(self, body):
        for conn in self.conns:
            conn.send_bytes(body)

    def end(self):
        for conn in self.conns:
            conn.send_bytes(b"")

    def close(self):
        pass


class _PipeReader:
    def __init__(self, conn):
        self.conn = conn

    def count_until_end(self):
        count = 0
        recv = self.conn.recv_bytes
        while recv():
            count += 1
        return count


# --- pyzmq PUB/SUB over ipc://, PUSH/PULL back channel -----------------------------------

class ZmqPeer:
    label = "pyzmq"

    def __init__(self):
        import zmq  # noqa: F401  (fail early when python3-zmq is missing)

    def make(self, nchildren, capacity):
        base = f"/tmp/pysyncq-bench-pyzmq-{os.getpid()}-{time.monotonic_ns() % 10**9}"
        self.pub_path, self.back_path = base + "-pub", base + "-back"
        self.nchildren = nchildren
        self.ready = mp.Value("i", 0, lock=True)

    def _socket(self, kind, path, bind):
        import zmq
        return zmq_socket(zmq.Context.instance(), kind, path, bind)

    def _publisher(self):
        import zmq
        pub = self._socket(zmq.PUB, self.pub_path, True)
        back = self._socket(zmq.PULL, self.back_path, True)
        # Slow joiner: a subscriber gets nothing sent before it joined. Say hello until
        # every child has heard one.
        while self.ready.value < self.nchildren:
            pub.send(b"H")
            time.sleep(0.001)
        return pub, back

    def _subscriber(self):
        import zmq
        sub = self._socket(zmq.SUB, self.pub_path, False)
        push = self._socket(zmq.PUSH, self.back_path, False)
        while sub.recv_multipart()[0] != b"H":
            pass
        with self.ready.get_lock():
            self.ready.value += 1
        return sub, push

    def hub(self):
        return _ZmqHub(*self._publisher())

    def child(self, index):
        return _ZmqChild(*self._subscriber(), index)

    def writer(self):
        return _ZmqWriter(*self._publisher())

    def reader(self, index):
        return _ZmqReader(*self._subscriber())

    def cleanup(self):
        for path in (self.pub_path, self.back_path):
            try:
                os.unlink(path)
            except OSError:
                pass


class _ZmqHub:
    def __init__(self, pub, back):
        self.pub, self.back = pub, back

    def send(self, body):
        self.pub.send_multipart([b"origin", body])

    def wait_echo(self):
        while self.back.recv_multipart()[0] != b"0":
            pass

    def drain(self):
        while self.back.poll(0):
            self.back.recv_multipart()

    def stop(self):
        self.pub.send_multipart([b"kill", b""])

    def close(self):
        self.pub.close()
        self.back.close()


class _ZmqChild:
    def __init__(self, sub, push, index):
        self.sub, self.push, self.me = sub, push, str(index).encode()

    def serve(self):
        recv, send = self.sub.recv_multipart, self.push.send_multipart
        while True:
            parts = recv()
            if parts[0] == b"kill":
                break
            if parts[0] == b"origin":
                send([self.me, parts[1]])
        self.sub.close()
        self.push.close()


class _ZmqWriter:
    def __init__(self, pub, back):
        self.pub, self.back = pub, back

    # Single frames, as a throughput-minded pyzmq user sends them (a payload of zeros is
    # never the hello b"H"; the empty frame ends).
    def send(self, body):
        self.pub.send(body)

    def end(self):
        self.pub.send(b"")

    def close(self):
        self.pub.close()
        self.back.close()


class _ZmqReader:
    def __init__(self, sub, push):
        self.sub, self.push = sub, push

    def count_until_end(self):
        count = 0
        recv = self.sub.recv
        while True:
            frame = recv()
            if not frame:
                break
            if frame != b"H":
                count += 1
        self.sub.close()
        self.push.close()
        return count


def make_peer(contender):
    """The blocking peer named `contender`; workloads.make_peer picks among all of them."""
    if contender == "pysyncq":
        return PySyncQPeer("pysyncq")
    if contender == "pysyncq-hubspin":
        # What a wait policy that lets only as many waiters spin as there are spare CPUs
        # would do in echo: the parent spins (the default 50 µs), the children sleep.
        return PySyncQPeer("pysyncq", wait="sleep", hub_wait=50e-6)
    if contender == "pysyncq-batch":  # fanout with append_many / pop_many
        return PySyncQPeer("pysyncq", batch=True)
    if contender == "pysyncq-spin50us":  # spin 50 µs, then sleep (the C++ default)
        return PySyncQPeer("pysyncq", wait=50e-6)
    if contender.startswith("pysyncq-"):  # pysyncq-sleep, pysyncq-spin
        return PySyncQPeer("pysyncq", wait=contender.split("-", 1)[1])
    if contender == "original":
        return PySyncQPeer("original")
    if contender == "mp.Queue":
        return MpQueuePeer()
    if contender == "mp.Pipe":
        return PipePeer()
    if contender == "pyzmq":
        return ZmqPeer()
    raise ValueError(f"unknown contender {contender!r}")
