"""The PySyncQ class: the original pysyncq's API on the C++ core.

``from pysyncq import pysyncq as pq; pq.PySyncQ(...)`` and ``from pysyncq import PySyncQ``
give the same class. Messages, membership and screening live in the C++ extension
(``pysyncq._pysyncq``); this module adds what is Python's business: start methods,
pickling for spawn/forkserver children, iteration, the screen sets as Python sets,
context management and statistics objects.
"""

from __future__ import annotations

import dataclasses
import mmap
import multiprocessing as mp
import operator
import os
import secrets
from collections.abc import Iterable, Iterator, MutableSet
from typing import Any, Optional, Tuple, Union

from . import _pysyncq
from .aio import AsyncQueueMixin

__all__ = ["PySyncQ", "ScreenSet", "QueueStats", "MemberStats", "PAGE_SIZE", "START_METHODS"]

#: The default queue size in bytes: the page size, as in the original (mmap.PAGESIZE is
#: the same on every OS; os.sysconf is POSIX only).
PAGE_SIZE: int = mmap.PAGESIZE

#: The start methods PySyncQ accepts (besides None, which asks multiprocessing): those of
#: 'fork', 'spawn' and 'forkserver' that this OS has (Windows has only 'spawn').
START_METHODS = tuple(method for method in ("fork", "spawn", "forkserver")
                      if method in mp.get_all_start_methods())

#: Where a NATS queue keeps its messages (the storage argument; nats:// names only).
_STORAGES = ("memory", "file")

_SENDERS, _TYPES = 0, 1  # which screen set, as the extension numbers them

Message = tuple  # (sender, type, body): all str, or all bytes with decode=False


def _fresh_name() -> str:
    """A queue name no other queue uses (64 random bits; create() refuses a clash)."""
    return f"pysyncq-{os.getpid()}-{secrets.token_hex(8)}"


def _check_start(start: Optional[str]) -> str:
    """The guide's start argument: a method name, or None for multiprocessing's default."""
    if start is None:
        return mp.get_start_method()
    if not isinstance(start, str) or start not in START_METHODS:
        raise ValueError(f"start must be one of {START_METHODS} or None, not {start!r}")
    return start


#: The most the adaptive wait spins (the C++ default, WaitPolicy::spin).
_ADAPTIVE_SPIN_SECONDS = 50e-6


def _wait_policy(wait: Union[float, str]) -> Tuple[float, bool]:
    """Converts the wait knob to (seconds of spinning, adaptive): 'adaptive' (the default),
    'sleep', 'spin' (never sleep) or seconds of spinning before every sleep."""
    if wait == "adaptive":
        return _ADAPTIVE_SPIN_SECONDS, True
    if wait == "sleep":
        return 0.0, False
    if wait == "spin":
        return float("inf"), False
    if isinstance(wait, str) or isinstance(wait, bool):
        raise ValueError(
            f"wait must be 'adaptive', 'sleep', 'spin' or seconds of spinning, not {wait!r}")
    return float(wait), False


class ScreenSet(MutableSet):
    """One of a queue's screen sets (``scrnsend`` or ``scrntype``), as a Python set.

    Elements are stored as bytes, the way messages lie in the queue: bytes are kept as
    they are, str is encoded as UTF-8 and any other object as str(obj). So ``'a' in s``
    and ``b'a' in s`` agree, and iteration yields bytes. The set itself lives in the C++
    core, which screens messages during pop without calling back into Python. It is
    local to this instance (each process has its own).
    """

    __slots__ = ("_queue", "_which")

    def __init__(self, queue: "PySyncQ", which: int) -> None:
        self._queue = queue
        self._which = which

    @classmethod
    def _from_iterable(cls, iterable: Iterable[Any]) -> set:
        # Set operators (|, &, -, ^) return plain sets of bytes, detached from the queue.
        return {_as_bytes(element) for element in iterable}

    def __contains__(self, element: object) -> bool:
        """True if ``element`` (converted to bytes) is screened."""
        return self._queue._screen_contains(self._which, element)

    def __iter__(self) -> Iterator[bytes]:
        """Iterates over a snapshot of the elements, as bytes."""
        return iter(self._queue._screen_items(self._which))

    def __len__(self) -> int:
        """How many elements are screened."""
        return self._queue._screen_size(self._which)

    def add(self, element: object) -> None:
        """Screens ``element`` (str, bytes, or any object as str)."""
        self._queue._screen_add(self._which, element)

    def discard(self, element: object) -> None:
        """Stops screening ``element`` if it is screened."""
        self._queue._screen_discard(self._which, element)

    def remove(self, element: object) -> None:
        """Stops screening ``element``; KeyError if it was not screened."""
        if not self._queue._screen_discard(self._which, element):
            raise KeyError(element)

    def clear(self) -> None:
        """Screens nothing any more."""
        self._queue._screen_clear(self._which)

    def update(self, *iterables: Iterable[object]) -> None:
        """Adds every element of every iterable."""
        for iterable in iterables:
            for element in iterable:
                self.add(element)

    def difference_update(self, *iterables: Iterable[object]) -> None:
        """Discards every element of every iterable."""
        for iterable in iterables:
            for element in iterable:
                self.discard(element)

    def copy(self) -> set:
        """A plain set of the elements (bytes), detached from the queue."""
        return set(self)

    def _replace(self, elements: Iterable[object]) -> None:
        elements = [_as_bytes(element) for element in elements]  # before clearing: may be us
        self.clear()
        self.update(elements)

    def __eq__(self, other: object) -> bool:
        """Equal to another set with the same elements (as bytes)."""
        if isinstance(other, ScreenSet):
            return set(self) == set(other)
        if isinstance(other, (set, frozenset)):
            return set(self) == {_as_bytes(element) for element in other}
        return NotImplemented

    __hash__ = None  # mutable, like set

    # The rest of set's named methods; operands convert as elements do.

    def union(self, *others: Iterable[object]) -> set:
        """A plain set of the elements of this set and all others (as bytes)."""
        return set(self).union(*(map(_as_bytes, other) for other in others))

    def intersection(self, *others: Iterable[object]) -> set:
        """A plain set of the elements common to this set and all others."""
        return set(self).intersection(*(map(_as_bytes, other) for other in others))

    def difference(self, *others: Iterable[object]) -> set:
        """A plain set of the elements of this set that are in no other."""
        return set(self).difference(*(map(_as_bytes, other) for other in others))

    def symmetric_difference(self, other: Iterable[object]) -> set:
        """A plain set of the elements in exactly one of this set and other."""
        return set(self).symmetric_difference(map(_as_bytes, other))

    def issubset(self, other: Iterable[object]) -> bool:
        """True if every element is in other."""
        return set(self).issubset(map(_as_bytes, other))

    def issuperset(self, other: Iterable[object]) -> bool:
        """True if every element of other is in this set."""
        return set(self).issuperset(map(_as_bytes, other))

    def intersection_update(self, *others: Iterable[object]) -> None:
        """Keeps only the elements found in all others."""
        self._replace(self.intersection(*others))

    def symmetric_difference_update(self, other: Iterable[object]) -> None:
        """Keeps the elements in exactly one of this set and other."""
        self._replace(self.symmetric_difference(other))

    def __repr__(self) -> str:
        """Like a set's repr, with the bytes elements in order."""
        items = sorted(self)
        return f"ScreenSet({{{', '.join(map(repr, items))}}})" if items else "ScreenSet()"


def _as_bytes(element: object) -> bytes:
    """The screen sets' and append's conversion rule, in Python."""
    if isinstance(element, bytes):
        return bytes(element)
    return str(element).encode()


@dataclasses.dataclass(frozen=True)
class MemberStats:
    """One registration (a process that opened the queue), as seen by ``stats()``."""

    slot: int  #: index of its slot in the segment
    pid: int  #: its process id
    sender: str  #: its sender name
    alive: bool  #: False once its process has died (until it is reaped)
    unread_messages: int  #: messages it has not read yet (its lag), its backlog included
    unread_bytes: int  #: bytes of those messages (queue footprint), its backlog included
    #: of those, the messages (and their bytes) it moved into its own memory: while blocked
    #: appending, so as not to hold back the space it waited for, or read ahead by an
    #: iteration (``for m in q``)
    backlog_messages: int
    backlog_bytes: int
    waiting: str  #: 'no', 'message' (blocked in pop) or 'space' (blocked in append)
    #: how long its current sleep has lasted (a Python main thread wakes every 0.2 s
    #: to run signal handlers, so for it this restarts then)
    waiting_seconds: float

    def _asdict(self) -> dict:
        """The fields as a dict (like a namedtuple's _asdict)."""
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class QueueStats:
    """A snapshot of a queue's geometry, usage and members (``PySyncQ.stats()``).

    Figures may be stale by the time they are read; other processes go on.
    """

    name: str  #: the queue's name (on Linux, its file is /dev/shm/NAME)
    capacity_bytes: int  #: bytes of message storage
    used_bytes: int  #: bytes held back by the slowest member
    free_bytes: int  #: capacity_bytes - used_bytes
    queued_messages: int  #: messages some member has not read yet
    max_members: int  #: registration limit, fixed at creation
    members: int  #: registrations, dead ones included
    dead_members: int  #: registrations whose process is gone, not yet reaped
    reaped_total: int  #: dead registrations reaped since creation
    lock_recoveries: int  #: times the lock was taken over from a dead holder
    segment_bytes: int  #: size of the whole shared-memory segment
    unlinked: bool  #: the name has been removed (the last close happened)
    member_list: tuple  #: one MemberStats per registration

    def _asdict(self) -> dict:
        """The fields as a dict, members as dicts too (ready for json.dumps)."""
        return dataclasses.asdict(self)


# Attributes kept in the instance __dict__ by PySyncQ itself (not pickled as extras).
_OWN_ATTRIBUTES = frozenset(
    {"_start", "_create", "_auto_screened", "_wait", "_login", "_allow_foreign_owner"})


class PySyncQ(_pysyncq.Queue, AsyncQueueMixin):
    """PySyncQ(name=None, create=True, size=<page size>, start=None)

    A broadcast synchronisation queue in shared memory. Every process that calls open()
    reads every message appended after that, in one order, at its own pace; a message's
    bytes are freed once every member has read it (or closed, or died).

    ``name`` names the shared memory (on Linux, /dev/shm/NAME); None picks a fresh unique name.
    ``create`` True makes a new queue (FileExistsError if the name is taken); False
    attaches to an existing one (FileNotFoundError if there is none; ``size`` is then
    ignored). ``size`` is the message storage in bytes. ``start`` is the start method
    children will use: 'fork', 'spawn', 'forkserver', or None for
    multiprocessing.get_start_method(); anything else raises ValueError. The instance
    may be passed to children under any start method (it pickles as its name and
    re-attaches); each process must then call open().

    ``name`` may also be "nats://host[:port]/NAME": the same queue on a NATS JetStream
    server, shared by processes on any machine that reaches it (docs/nats.md). Keyword
    arguments only such a queue uses (when created): ``replicas`` (copies kept in a
    cluster, 1 or 3), ``storage`` ('memory' or 'file': survives a server restart) and
    ``liveness`` (seconds after which a member whose connection is gone is dropped and
    what it had not read is freed; default 5.0). To log in, put the user and password in
    the URL ("nats://USER:PASSWORD@host:4222/NAME") or pass ``token`` or ``creds`` (a
    credentials file); for TLS use "tls://host/NAME" or ``tls=True``, with ``tls_ca`` (the
    CA file that signed the server's certificate) and, for servers that verify clients,
    ``tls_cert`` and ``tls_key``. ``name`` and every message show the password and token as
    "***". The instance pickles with them, so that children can log in too: a pickle of
    a queue with a password or token carries that secret in clear (the password in its
    URL, the token and file names among its settings); treat the pickle as a secret.

    Keyword-only extras, beyond the original: ``max_members`` (registration limit,
    default 256), ``mode`` (permission bits of the shared memory, default 0o600) and
    ``allow_foreign_owner`` (default False): with create=False, attach even to a queue
    that another user owns (by default PermissionError: its owner can read and rewrite
    every message; see docs/failures.md). ``wait``, how blocked calls wait: 'adaptive'
    (the default, as in C++: spin only while a core is spare and recent waits were short,
    at most 50 us, then sleep), 'sleep' (sleep in the kernel at once), seconds of
    spinning before every sleep (e.g. 50e-6), or 'spin' (never sleep: lowest latency, one
    core burnt per waiter).

    Thread safety: one instance may be used from several threads; calls are serialised
    where they touch this process's read position. Blocking calls release the GIL.
    """

    def __init__(self, name: Optional[str] = None, create: bool = True,
                 size: int = PAGE_SIZE, start: Optional[str] = None, *,
                 max_members: int = 256, mode: int = 0o600,
                 wait: Union[float, str, None] = None, replicas: int = 1,
                 storage: str = "memory", liveness: float = 5.0, token: Optional[str] = None,
                 creds: Optional[str] = None, tls: bool = False, tls_ca: Optional[str] = None,
                 tls_cert: Optional[str] = None, tls_key: Optional[str] = None,
                 allow_foreign_owner: bool = False) -> None:
        start = _check_start(start)
        create = bool(create)
        if name is None:
            if not create:
                raise ValueError("create=False attaches to an existing queue: give its name")
            name = _fresh_name()
        elif not isinstance(name, str):
            raise TypeError(f"name must be a str or None, not {type(name).__name__}")
        # size only matters when creating; an attacher takes the queue's own.
        size = _index(size, "size", minimum=1) if create else 0
        if storage not in _STORAGES:
            raise ValueError(f"storage must be one of {_STORAGES}, not {storage!r}")
        if isinstance(liveness, bool) or not isinstance(liveness, (int, float)):
            raise TypeError(f"liveness must be a number of seconds, not {type(liveness).__name__}")
        access = _nats_access(token=token, creds=creds, tls=tls, tls_ca=tls_ca,
                              tls_cert=tls_cert, tls_key=tls_key)
        super().__init__(name, create, size, _index(max_members, "max_members", minimum=1),
                         _index(mode, "mode"), _index(replicas, "replicas", minimum=1),
                         storage == "file", float(liveness), **access,
                         allow_foreign_owner=bool(allow_foreign_owner))
        self._init_python_side(start, create, (name, access), bool(allow_foreign_owner))
        if wait is not None:
            self.set_wait_policy(wait)

    def _init_python_side(self, start: str, create: bool, login: tuple,
                          allow_foreign_owner: bool) -> None:
        self._start = start
        self._allow_foreign_owner = allow_foreign_owner  # what a child attaches with
        self._create = create
        self._login = login  # (name as given, NATS access): what a child attaches with
        self._auto_screened: Optional[bytes] = None  # what open(filtself=True) added
        self._wait: Union[float, str, None] = None

    # -- the guide's attributes --

    @property
    def name(self) -> str:
        """The queue's name (on Linux, its file is /dev/shm/NAME)."""
        return self._shm_name

    @property
    def size(self) -> int:
        """Bytes of message storage (the size asked for, rounded up to a multiple of 8)."""
        return self._capacity_bytes

    @property
    def start(self) -> str:
        """The start method given (or multiprocessing's default when None was given)."""
        return self._start

    @property
    def create(self) -> bool:
        """True if this instance was made with create=True (in this or a parent process)."""
        return self._create

    # The screen sets are views made on access (the elements live in C++), so the
    # instance holds no reference cycle and closes as soon as its last reference goes.

    @property
    def scrnsend(self) -> ScreenSet:
        """Senders whose messages pop() skips (a set; see ScreenSet)."""
        return ScreenSet(self, _SENDERS)

    @scrnsend.setter
    def scrnsend(self, elements: Iterable[object]) -> None:
        ScreenSet(self, _SENDERS)._replace(elements)

    @property
    def scrntype(self) -> ScreenSet:
        """Message types that pop() skips (a set; see ScreenSet)."""
        return ScreenSet(self, _TYPES)

    @scrntype.setter
    def scrntype(self, elements: Iterable[object]) -> None:
        ScreenSet(self, _TYPES)._replace(elements)

    # -- registration --

    def open(self, sender: Optional[str] = None, filtself: bool = True) -> None:
        """Registers this process with the queue; it reads every message appended from now.

        ``sender`` names it in the messages it appends (default str(os.getpid())). With
        ``filtself`` the sender is added to ``scrnsend``, so the process does not read
        its own messages. Each process must open its own copy once (a copy inherited
        from a parent does not count). Raises ValueError if already open here or closed,
        RuntimeError if the queue's member limit is reached.
        """
        self._open(sender)
        inherited = self._auto_screened
        me = self.sender.encode(errors="surrogateescape")  # the bytes given, if bytes
        # An instance inherited from a parent carries the parent's own sender in scrnsend
        # (its filtself); screening the parent was never this process's choice.
        if inherited is not None and inherited != me:
            self.scrnsend.discard(inherited)
        self._auto_screened = None
        if filtself:
            if me not in self.scrnsend:
                self._auto_screened = me
            self.scrnsend.add(me)

    def __enter__(self) -> "PySyncQ":
        """Returns the queue itself; leaving the with block closes it."""
        return self

    def __exit__(self, *exc_info: object) -> None:
        """Closes the queue."""
        self.close()

    # -- reading --

    def __call__(self, block: bool = False, timer: Optional[float] = 0.5,
                 decode: bool = True) -> Iterator[Message]:
        """An iterator that pops messages, with pop()'s arguments, until pop returns None."""
        # One pop per step, as the generator `while (m := self.pop(block, timer, decode))
        # is not None: yield m` that this was: the first None or error ends it. It is a C
        # type (python/src/iterator.cpp): the generator's frame and pop's argument parsing
        # cost a fifth of each step. Its pops read ahead (issue 17): one that takes its
        # message from shared memory also moves up to 64 following ones (4 KiB at most,
        # none over 512 bytes) into this handle's backlog, freeing their space with the
        # same cursor store.
        # They are still this handle's unread messages: every read of it (pop, pop_many,
        # another iteration or thread, asyncio, after a break, a kept half-used iterator)
        # serves the backlog first, screens apply when a message is yielded (a screen
        # removed mid-loop still shows the messages after it), stats count them as unread,
        # and a forked child that opens anew never sees them (docs/design.md,
        # "Read-ahead"; tests/python/test_iterator.py holds these promises).
        if type(self).pop is not _CORE_POP:
            return _popping(self.pop, block, timer, decode)  # a subclass's pop, as before
        return _pysyncq.MessageIterator(self, block, timer, decode)

    def __iter__(self) -> Iterator[Message]:
        """``for m in q``: pops with the defaults (no waiting) until there is no message."""
        return self()

    # -- extras --

    def stats(self) -> QueueStats:
        """A snapshot of the queue: sizes, usage, members and their lag (QueueStats)."""
        figures = self._stats()
        members = tuple(MemberStats(**member) for member in figures.pop("member_list"))
        return QueueStats(member_list=members, **figures)

    def set_wait_policy(self, wait: Union[float, str]) -> None:
        """How blocked calls wait: 'adaptive', 'sleep', 'spin' or seconds of spinning."""
        self._set_wait_policy(*_wait_policy(wait))
        self._wait = wait

    def __repr__(self) -> str:
        """Name, size, start method, sender and state of this handle."""
        if self.closed:
            state = "closed"
        elif self.is_open:
            state = "open"
        else:
            state = "not open in this process"
        return (f"<PySyncQ name={self.name!r} size={self.size} start={self.start!r} "
                f"sender={self.sender!r} {state}>")

    __str__ = __repr__

    # -- pickling: spawn and forkserver children re-attach by name --

    def __reduce__(self) -> tuple:
        """Pickles as the queue's name plus this handle's settings; unpickling attaches.

        For a nats:// queue the name is the full URL, password included, and the settings
        include the token: such a pickle is a secret (spawn and forkserver children need
        it to log in).

        The child then calls open() itself. The screen sets travel along, as the
        original's did. Attributes added to the instance by its user travel too.
        """
        state = {
            "login": self._login,
            "start": self._start,
            "create": self._create,
            "scrnsend": list(self.scrnsend),
            "scrntype": list(self.scrntype),
            "auto_screened": self._auto_screened,
            "wait": self._wait,
            # A child attaches with the parent's consent to a foreign owner, not anew.
            "allow_foreign_owner": self._allow_foreign_owner,
        }
        extras = {key: value for key, value in self.__dict__.items()
                  if key not in _OWN_ATTRIBUTES}
        return (_reattach, (type(self), state), extras or None)


#: The core's pop; PySyncQ.__call__ iterates through a subclass's own pop instead.
_CORE_POP = _pysyncq.Queue.pop


def _popping(pop: Any, block: bool, timer: Optional[float], decode: bool) -> Iterator[Message]:
    """What MessageIterator does, through a pop written in Python."""
    while (message := pop(block, timer, decode)) is not None:
        yield message


def _reattach(cls: type, state: dict) -> PySyncQ:
    """Unpickles a PySyncQ: attaches to its queue by name (see PySyncQ.__reduce__)."""
    queue = cls.__new__(cls)
    name, access = state["login"]
    allow_foreign_owner = state.get("allow_foreign_owner", False)
    _pysyncq.Queue.__init__(queue, name, False, 0, **access,
                            allow_foreign_owner=allow_foreign_owner)
    queue._init_python_side(state["start"], state["create"], state["login"],
                            allow_foreign_owner)
    queue.scrnsend.update(state["scrnsend"])
    queue.scrntype.update(state["scrntype"])
    queue._auto_screened = state["auto_screened"]
    if state["wait"] is not None:
        queue.set_wait_policy(state["wait"])
    return queue


def _nats_access(**given: Any) -> dict:
    """The NATS login and TLS keywords, checked, as the extension takes them."""
    access = {}
    for key, value in given.items():
        if key == "tls":
            if not isinstance(value, bool):
                raise TypeError(f"tls must be True or False, not {type(value).__name__}")
            access[key] = value
        elif value is None:
            access[key] = ""
        elif isinstance(value, str) or (key != "token" and isinstance(value, os.PathLike)):
            access[key] = os.fspath(value)  # files may be paths
        else:
            raise TypeError(f"{key} must be a str, not {type(value).__name__}")
    return access


def _index(value: Any, what: str, minimum: int = 0) -> int:
    """An int argument: TypeError for floats, str and the like; ValueError below minimum."""
    try:
        number = operator.index(value)
    except TypeError:
        raise TypeError(f"{what} must be an int, not {type(value).__name__}") from None
    if number < minimum:
        raise ValueError(f"{what} must be at least {minimum}, not {number}")
    return number
