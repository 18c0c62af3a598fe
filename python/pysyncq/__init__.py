"""pysyncq: a broadcast synchronisation queue between processes, in shared memory.

A drop-in replacement for the original pure-Python pysyncq, on a C++20 core::

    from pysyncq import PySyncQ          # or: from pysyncq import pysyncq as pq
    q = PySyncQ('jobs')                  # the parent creates the queue
    # ... start children with q as an argument; every process then calls:
    q.open()
    q.append('greeting', 'hello')        # MemoryError (QueueFull) when full
    m = q.pop(block=True, timer=1.0)     # (sender, type, body) or None
    q.close()                            # the last close unlinks

See ``python3 -m pysyncq.demo`` for the guide's demonstration.
"""

from ._pysyncq import Deadlock, QueueFull, list_queues, unlink
from .pysyncq import (PAGE_SIZE, START_METHODS, MemberStats, PySyncQ, QueueStats,
                      ScreenSet)

__all__ = ["PySyncQ", "ScreenSet", "QueueStats", "MemberStats", "QueueFull", "Deadlock",
           "list_queues", "unlink", "PAGE_SIZE", "START_METHODS", "__version__"]

#: The package version (the project's).
__version__ = "0.1.0"
