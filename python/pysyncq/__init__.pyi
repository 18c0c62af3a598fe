"""Type stubs of the pysyncq package: the original pysyncq's PySyncQ API, plus extras.

Extras beyond the guide are keyword-only (PySyncQ(..., max_members=, mode=, wait=)) or
new names (stats(), set_wait_policy(), reap(), apop(), aappend(), aiter(), is_open, closed,
QueueFull, Deadlock, list_queues, unlink).
"""

import dataclasses
import os
from collections.abc import AsyncIterator, Iterable, Iterator, MutableSet
from typing import Any, List, Literal, Optional, Tuple, Union, overload

from ._pysyncq import Deadlock as Deadlock
from ._pysyncq import QueueFull as QueueFull
from ._pysyncq import list_queues as list_queues
from ._pysyncq import unlink as unlink

__version__: str
PAGE_SIZE: int
START_METHODS: tuple[str, ...]

_Bytesish = Union[str, bytes, object]
_StrMessage = tuple[str, str, str]
_BytesMessage = tuple[bytes, bytes, bytes]
_WaitPolicy = Union[float, Literal["adaptive", "sleep", "spin"]]
_Path = Union[str, "os.PathLike[str]"]

class ScreenSet(MutableSet[bytes]):
    """A screen set (scrnsend/scrntype): elements stored as bytes (str as UTF-8, any
    other object as str(obj)); lives in the C++ core; local to the instance."""

    def __contains__(self, element: object) -> bool: ...
    def __iter__(self) -> Iterator[bytes]: ...
    def __len__(self) -> int: ...
    def add(self, element: _Bytesish) -> None: ...
    def discard(self, element: _Bytesish) -> None: ...
    def remove(self, element: _Bytesish) -> None: ...
    def clear(self) -> None: ...
    def update(self, *iterables: Iterable[_Bytesish]) -> None: ...
    def difference_update(self, *iterables: Iterable[_Bytesish]) -> None: ...
    def copy(self) -> set[bytes]: ...

@dataclasses.dataclass(frozen=True)
class MemberStats:
    """One registration as seen by PySyncQ.stats()."""

    slot: int
    pid: int
    sender: str
    alive: bool
    unread_messages: int
    unread_bytes: int
    backlog_messages: int
    backlog_bytes: int
    waiting: Literal["no", "message", "space"]
    waiting_seconds: float
    def _asdict(self) -> dict[str, Any]: ...

@dataclasses.dataclass(frozen=True)
class QueueStats:
    """A snapshot of a queue (PySyncQ.stats())."""

    name: str
    capacity_bytes: int
    used_bytes: int
    free_bytes: int
    queued_messages: int
    max_members: int
    members: int
    dead_members: int
    reaped_total: int
    lock_recoveries: int
    segment_bytes: int
    unlinked: bool
    member_list: tuple[MemberStats, ...]
    def _asdict(self) -> dict[str, Any]: ...

class PySyncQ:
    """PySyncQ(name=None, create=True, size=<page size>, start=None): a broadcast
    synchronisation queue in shared memory (see the package docstring and the guide)."""

    def __init__(self, name: Optional[str] = None, create: bool = True, size: int = ...,
                 start: Optional[Literal["fork", "spawn", "forkserver"]] = None, *,
                 max_members: int = 256, mode: int = 0o600,
                 wait: Optional[_WaitPolicy] = None, replicas: int = 1,
                 storage: Literal["memory", "file"] = "memory", liveness: float = 5.0,
                 token: Optional[str] = None, creds: Optional[_Path] = None,
                 tls: bool = False, tls_ca: Optional[_Path] = None,
                 tls_cert: Optional[_Path] = None, tls_key: Optional[_Path] = None,
                 allow_foreign_owner: bool = False) -> None:
        """``name`` may be "nats://[USER:PASSWORD@]host[:port]/NAME" or "tls://...": the
        queue on a NATS JetStream server (docs/nats.md). ``replicas``, ``storage`` and
        ``liveness`` apply when such a queue is created; ``token``, ``creds`` (a
        credentials file), ``tls``, ``tls_ca``, ``tls_cert`` and ``tls_key`` say how to log
        in and use TLS. Shared-memory queues ignore them all."""
    @property
    def name(self) -> str: ...
    @property
    def size(self) -> int: ...
    @property
    def start(self) -> str: ...
    @property
    def create(self) -> bool: ...
    @property
    def sender(self) -> Optional[str]:
        """The name given to open() in this process (str), or None."""
    @property
    def is_open(self) -> bool: ...
    @property
    def closed(self) -> bool: ...
    scrnsend: ScreenSet
    scrntype: ScreenSet
    def open(self, sender: Optional[_Bytesish] = None, filtself: bool = True) -> None: ...
    def close(self) -> None: ...
    def append(self, msgtype: _Bytesish = "", msg: _Bytesish = "", block: bool = False,
               timer: Optional[float] = 0.5) -> None: ...
    @overload
    def pop(self, block: bool = ..., timer: Optional[float] = ...,
            decode: Literal[True] = ...) -> Optional[_StrMessage]: ...
    @overload
    def pop(self, block: bool, timer: Optional[float], decode: Literal[False]
            ) -> Optional[_BytesMessage]: ...
    @overload
    def pop(self, *, block: bool = ..., timer: Optional[float] = ...,
            decode: Literal[False]) -> Optional[_BytesMessage]: ...
    def append_many(self, messages: Iterable[Tuple[_Bytesish, _Bytesish]], block: bool = False,
                    timer: Optional[float] = 0.5) -> None: ...
    def pop_many(self, max_messages: int = 1024, block: bool = False,
                 timer: Optional[float] = 0.5, decode: bool = True) -> List[Any]: ...
    def __call__(self, block: bool = False, timer: Optional[float] = 0.5,
                 decode: bool = True) -> Iterator[Any]: ...
    def __iter__(self) -> Iterator[_StrMessage]: ...
    def __enter__(self) -> "PySyncQ": ...
    def __exit__(self, *exc_info: object) -> None: ...
    def stats(self) -> QueueStats: ...
    # asyncio (pysyncq/aio.py): awaitable pop and append on the handle's event-loop fd.
    async def apop(self, timer: Optional[float] = None,
                   decode: bool = True) -> Optional[Any]:
        """Awaits the next unread, unscreened message; None when timer (seconds) expires."""
    async def aappend(self, msgtype: _Bytesish = "", msg: _Bytesish = "",
                      timer: Optional[float] = 0.5) -> None:
        """Appends, awaiting space; MemoryError when timer expires or it can never fit."""
    def aiter(self, decode: bool = True) -> AsyncIterator[Any]:
        """Yields messages as they arrive, until the task is cancelled."""
    def set_wait_policy(self, wait: _WaitPolicy) -> None: ...
    def reap(self) -> int: ...
