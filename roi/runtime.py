"""Process-level tuning of the garbage collector for batch work.

Python's cyclic collector runs after every few hundred allocations and, in
its full passes, walks every live object: the ~80,000 that start-up imports
(SQLAlchemy, SQLModel, pydantic, pyarrow), ~25,000 more once pyarrow loads
pandas. Ingestion allocates millions of short-lived, acyclic objects (tuples
of cells, Arrow wrappers), so the collector spent 0.5 s per million rows
finding nothing, and as much again at exit.

- `freeze_imports()` moves what exists after start-up into the permanent
  generation, once per process: later collections skip it. At exit it does
  the same for everything, just before the interpreter's final passes.
- `paused_gc()` pauses collection around a batch (re-entrant and
  thread-safe: the scheduler may run several ingests at once); cycles made
  meanwhile are collected when the last pause ends. The pause is
  process-wide: in `roi serve`, a job run there pauses it for the request
  threads too, for as long as its batch lasts.
"""

from __future__ import annotations

import atexit
import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_pauses = 0
_was_enabled = True
_frozen = False


def freeze_imports() -> None:
    """Exempt every object alive now (modules, classes, config) from collection; once per process
    (so that a process that runs many commands, like a test run, does not freeze their garbage)."""
    global _frozen
    with _lock:
        if not _frozen:
            _frozen = True
            gc.freeze()
            atexit.register(gc.freeze)  # spare the interpreter's last passes: everything goes anyway


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
