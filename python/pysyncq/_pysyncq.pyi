"""Type stubs of the extension module pysyncq._pysyncq (the C++ core, bound)."""

from typing import Any, Optional, Union

class QueueFull(MemoryError):
    """The message does not fit (now, before the timer expired, or ever)."""

    needed_bytes: int
    free_bytes: int
    capacity_bytes: int

class Deadlock(QueueFull):
    """A blocking append can never succeed: the members holding space are all blocked."""

    blocked_pids: tuple[int, ...]

_Bytesish = Union[str, bytes, object]

class Queue:
    """A handle on a pysyncq queue in shared memory; pysyncq.PySyncQ subclasses it."""

    def __init__(self, name: str, create: bool, size: int, max_members: int = ...,
                 mode: int = ..., replicas: int = ..., file_storage: bool = ...,
                 liveness: float = ..., *, token: str = ..., creds: str = ...,
                 tls: bool = ..., tls_ca: str = ..., tls_cert: str = ...,
                 tls_key: str = ..., allow_foreign_owner: bool = ...) -> None: ...
    def append(self, msgtype: _Bytesish = "", msg: _Bytesish = "", block: bool = False,
               timer: Optional[float] = 0.5) -> None:
        """Appends a message; MemoryError (QueueFull) when it does not fit in time."""
    def pop(self, block: bool = False, timer: Optional[float] = 0.5,
            decode: bool = True) -> Optional[tuple[Any, Any, Any]]:
        """(sender, type, body) as str (bytes with decode=False), or None."""
    def close(self) -> None:
        """Unregisters this process; the last close unlinks. Idempotent."""
    def reap(self) -> int:
        """Unregisters dead members; returns how many."""
    @property
    def sender(self) -> Optional[str]:
        """This process's sender name, or None when not open here."""
    @property
    def is_open(self) -> bool:
        """True when this process opened the queue through this instance."""
    @property
    def closed(self) -> bool:
        """True after close()."""
    def _open(self, sender: Optional[_Bytesish]) -> None: ...
    def _screen_add(self, which: int, element: _Bytesish) -> None: ...
    def _screen_discard(self, which: int, element: _Bytesish) -> bool: ...
    def _screen_contains(self, which: int, element: _Bytesish) -> bool: ...
    def _screen_size(self, which: int) -> int: ...
    def _screen_items(self, which: int) -> list[bytes]: ...
    def _screen_clear(self, which: int) -> None: ...
    def _stats(self) -> dict[str, Any]: ...
    def _set_wait_policy(self, spin_seconds: float) -> None: ...
    @property
    def _shm_name(self) -> str: ...
    @property
    def _capacity_bytes(self) -> int: ...
    @property
    def _max_members(self) -> int: ...
    @staticmethod
    def _footprint(sender_bytes: int, type_bytes: int, body_bytes: int) -> int: ...

def list_queues(server: str | None = None, *, token: str = "", creds: str = "",
                tls: bool = False, tls_ca: str = "", tls_cert: str = "",
                tls_key: str = "") -> list[str]:
    """Names of every pysyncq queue in /dev/shm; given a NATS server
    ("nats://host[:port]"), the URL of each of its queues."""

def unlink(name: str, *, allow_foreign_owner: bool = False, token: str = "",
           creds: str = "", tls: bool = False, tls_ca: str = "", tls_cert: str = "",
           tls_key: str = "") -> None:
    """Removes a queue's name now (a nats:// URL: its stream); attached processes go on.
    PermissionError for a queue another user owns, unless allow_foreign_owner."""

def _raise_for_test(kind: str, errno: int = 0) -> None: ...

class MessageIterator:
    """What PySyncQ.__call__ returns: each step is queue.pop(block, timer, decode), reading
    up to 64 messages ahead into the handle's backlog; the first None or error ends it."""

    def __init__(self, queue: Queue, block: bool, timer: Optional[float],
                 decode: bool) -> None: ...
    def __iter__(self) -> "MessageIterator": ...
    def __next__(self) -> tuple[Any, Any, Any]: ...
