"""asyncio support: awaitable pop and append, without a thread per waiter.

Each PySyncQ instance has one file descriptor (an eventfd, owned by the C++ handle) that
becomes readable when the member may have a message or may have space. It is registered
with the running loop (``loop.add_reader``) while at least one coroutine awaits, and one
helper thread per handle, inside the C++ core, sleeps in the queue's futex wait while it
is armed. So any number of coroutines can await at once, nothing polls, and an idle
awaiting process uses no CPU. See docs/design.md, "Event loops".
"""

from __future__ import annotations

import asyncio
from typing import Any, AsyncIterator, Optional

__all__ = ["AsyncQueueMixin"]


def _as_bytes(value: Any) -> bytes:
    """How append writes a field: bytes as they are, anything else as UTF-8 of str()."""
    return value if isinstance(value, bytes) else str(value).encode()


class _Watch:
    """The coroutines of one loop awaiting one queue's fd."""

    __slots__ = ("loop", "fd", "futures")

    def __init__(self, loop: asyncio.AbstractEventLoop, fd: int) -> None:
        self.loop = loop
        self.fd = fd
        self.futures: set[asyncio.Future] = set()

    def readable(self) -> None:
        # Wake every waiter: each one retries its pop or append and re-arms if it lost.
        for future in self.futures:
            if not future.done():
                future.set_result(None)


class AsyncQueueMixin:
    """apop, aappend and aiter for PySyncQ (mixed into the class)."""

    def _watch(self) -> _Watch:
        loop = asyncio.get_running_loop()
        watch = getattr(self, "_aio_watch", None)
        if watch is None or watch.loop is not loop:
            watch = _Watch(loop, self._notify_fd())
            self._aio_watch = watch
        return watch

    async def _await_fd(self, arm: Any, deadline: Optional[float]) -> bool:
        """Arms the fd, then waits until it is readable; False once the deadline passed."""
        watch = self._watch()
        future = watch.loop.create_future()
        if not watch.futures:
            watch.loop.add_reader(watch.fd, watch.readable)
        watch.futures.add(future)
        try:
            arm()
            if deadline is None:
                await future
                return True
            remaining = deadline - watch.loop.time()
            if remaining <= 0:
                return False
            try:
                await asyncio.wait_for(future, remaining)
            except asyncio.TimeoutError:
                return False
            return True
        finally:
            watch.futures.discard(future)
            if not watch.futures:
                watch.loop.remove_reader(watch.fd)
                self._disarm()

    async def apop(self, timer: Optional[float] = None, decode: bool = True) -> Optional[tuple]:
        """Awaits the next unread, unscreened message, as pop(block=True) does.

        timer is seconds (None waits for ever); returns None when it expires. Cancelling
        the awaiting task raises CancelledError and leaves the queue as it was: no message
        is consumed by a cancelled apop.
        """
        loop = asyncio.get_running_loop()
        deadline = None if timer is None else loop.time() + max(float(timer), 0.0)
        while True:
            message = self.pop(block=False, decode=decode)
            if message is not None:
                return message
            if not await self._await_fd(self._arm_for_message, deadline):
                return self.pop(block=False, decode=decode)

    async def aappend(self, msgtype: Any = "", msg: Any = "", timer: Optional[float] = 0.5) -> None:
        """Appends a message, awaiting space as append(block=True) does.

        timer is seconds (None waits for ever); MemoryError when it expires, at once when
        the message can never fit, and when waiting could never succeed (deadlock).
        """
        loop = asyncio.get_running_loop()
        deadline = None if timer is None else loop.time() + max(float(timer), 0.0)
        needed = self._footprint(len(_as_bytes(self.sender or "")), len(_as_bytes(msgtype)),
                                 len(_as_bytes(msg)))
        while True:
            try:
                self.append(msgtype, msg, block=False)
                return
            except MemoryError as full:
                # As the queue's backend counts it (a nats:// queue counts more than
                # _footprint, which is the shared-memory count).
                needed = getattr(full, "needed_bytes", needed)
                if needed > self._capacity_bytes or (
                        deadline is not None and loop.time() >= deadline):
                    raise
            if not await self._await_fd(lambda: self._arm_for_space(needed), deadline):
                self.append(msgtype, msg, block=False)  # last try: MemoryError if still full
                return

    async def aiter(self, decode: bool = True) -> AsyncIterator[tuple]:
        """Yields messages as they arrive, until the task is cancelled."""
        while True:
            message = await self.apop(timer=None, decode=decode)
            if message is not None:
                yield message
