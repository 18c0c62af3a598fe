"""The asyncio contenders of the pingpong workload (issue 9), beside the blocking ones of
bench/python/peers.py.

Both processes run one asyncio event loop each: the parent ("hub") does
``await send(body)`` then ``await wait_echo()``; the child awaits each message and
echoes it. Only the parts that wait differ from the blocking peers, so each peer here
shares its setup (names, sockets, screening) with its blocking sibling through
contenders.py; this module does not import peers.py.

pysyncq-asyncio
    ``await q.aappend(...)`` and ``await q.apop(timer=None)`` on one queue.
pyzmq-asyncio
    ``zmq.asyncio`` PAIR sockets over ``ipc://``: the natural pyzmq choice for two
    asyncio processes that answer each other (PUB/SUB would need a second channel back).

A hub here says ``asynchronous = True``; workloads.py then drives it inside one loop.
Its ``drain`` does nothing: with one child and every echo awaited, nothing is in flight.
"""

import asyncio
import os

from contenders import PySyncQContender, unique_name, zmq_socket


class PySyncQAioPeer(PySyncQContender):
    def __init__(self):
        super().__init__("pysyncq")

    def hub(self):
        return _PySyncQAioHub(self.open_hub())

    def child(self, index):
        return _PySyncQAioChild(self.open_child(index))


class _PySyncQAioHub:
    asynchronous = True

    def __init__(self, q):
        self.q = q

    async def send(self, body):
        await self.q.aappend("origin", body, timer=None)

    async def wait_echo(self):
        await self.q.apop(timer=None)

    async def stop(self):
        await self.q.aappend("kill", "", timer=None)

    def drain(self):
        pass

    def close(self):
        self.q.close()


class _PySyncQAioChild:
    def __init__(self, q):
        self.q = q

    def serve(self):
        asyncio.run(self._serve())
        self.q.close()

    async def _serve(self):
        q = self.q
        while True:
            _, typ, msg = await q.apop(timer=None)
            if typ == "kill":
                break
            await q.aappend("echo", msg, timer=None)


class ZmqAioPeer:
    label = "pyzmq-asyncio"

    def __init__(self):
        import zmq.asyncio  # noqa: F401  (fail early when python3-zmq is missing)

    def make(self, nchildren, capacity):
        if nchildren != 1:
            raise ValueError("pyzmq-asyncio pairs two processes: pingpong only")
        self.path = "/tmp/" + unique_name("pyzmq-asyncio")

    def _pair(self, bind):
        import zmq
        import zmq.asyncio
        return zmq_socket(zmq.asyncio.Context(), zmq.PAIR, self.path, bind)

    def hub(self):
        return _ZmqAioHub(self._pair(bind=True))

    def child(self, index):
        return _ZmqAioChild(self._pair(bind=False))

    def cleanup(self):
        try:
            os.unlink(self.path)
        except OSError:
            pass


class _ZmqAioHub:
    asynchronous = True

    def __init__(self, sock):
        self.sock = sock

    async def send(self, body):
        await self.sock.send(body)

    async def wait_echo(self):
        await self.sock.recv()

    async def stop(self):
        await self.sock.send(b"")  # bodies are never empty

    def drain(self):
        pass

    def close(self):
        self.sock.close()


class _ZmqAioChild:
    def __init__(self, sock):
        self.sock = sock

    def serve(self):
        asyncio.run(self._serve())
        self.sock.close()

    async def _serve(self):
        recv, send = self.sock.recv, self.sock.send
        while True:
            body = await recv()
            if not body:
                break
            await send(body)


def make_peer(contender):
    if contender == "pysyncq-asyncio":
        return PySyncQAioPeer()
    if contender == "pyzmq-asyncio":
        return ZmqAioPeer()
    raise ValueError(f"unknown asyncio contender {contender!r}")
