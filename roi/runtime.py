"""Process-level tuning of the garbage collector for batch work.

Python's cyclic collector runs after every few hundred allocations and, in
its full passes, walks every live object: the ~1 million objects that
SQLAlchemy, pydantic and pandas create at import time. Ingestion allocates
millions of short-lived, acyclic objects (tuples of cells, Arrow wrappers),
so the collector spends a second per million rows finding nothing.

- `freeze_imports()` moves what exists after start-up into the permanent
  generation: later collections, and the one at exit, skip it.
- `paused_gc()` pauses collection around a batch (re-entrant and
  thread-safe: the scheduler may run several ingests at once); cycles made
  meanwhile are collected when the last pause ends.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_pauses = 0
_was_enabled = True


def freeze_imports() -> None:
    """Exempt every object alive now (modules, classes, config) from collection."""
    gc.freeze()


@contextmanager
def paused_gc() -> Iterator[None]:
    global _pauses, _was_enabled
    with _lock:
        if _pauses == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _pauses += 1
    try:
        yield
    finally:
        with _lock:
            _pauses -= 1
            if _pauses == 0 and _was_enabled:
                gc.enable()
