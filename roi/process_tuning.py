"""Process-level tuning for batch work: the garbage collector, and the C allocator's arenas.

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
- `limit_malloc_arenas()` (the `roi` command calls it first, before numpy
  and Arrow start threads) caps glibc's malloc at two arenas. By default
  each thread that allocates gets an arena of its own (up to 8 per core),
  and each keeps the memory its thread freed: an ingest's reader, worker
  and fingerprint threads held 20-40 MB more at their peak, and more the
  longer the batch. `MALLOC_ARENA_MAX` in the environment (or `arena_max`
  in `GLIBC_TUNABLES`) wins; other C libraries (musl, macOS) are left as
  they are.
- `limit_blas_threads()` (the `roi` command calls it too, before numpy is
  imported) runs numpy's OpenBLAS on one thread. roi's matrix products are
  small (cohorts x a few dozen assumptions, the Monte Carlo bands' draws):
  a second BLAS thread saved no time there, and BLAS threads spin while
  they wait for the next product, so the bands of 1,000 cohorts took twice
  their CPU time (1.2 s instead of 0.6 s), taken from the other worker's
  requests in `roi serve`. `OPENBLAS_NUM_THREADS` (or `OMP_NUM_THREADS`)
  in the environment wins. Processes roi starts (the server's workers)
  inherit the setting.
"""

from __future__ import annotations

import atexit
import gc
import os
import sys
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


_M_ARENA_MAX = -8  # mallopt's parameter number in glibc's malloc.h
ARENAS = 2


def limit_malloc_arenas(arenas: int = ARENAS) -> bool:
    """Cap glibc's malloc arenas (see the module docstring); True when it took effect. Only
    arenas made after the call are capped, so call it before any other thread allocates."""
    if "MALLOC_ARENA_MAX" in os.environ or "arena_max" in os.environ.get("GLIBC_TUNABLES", ""):
        return False  # the environment decides (glibc read it at start-up)
    try:
        if not os.confstr("CS_GNU_LIBC_VERSION"):
            return False
    except (ValueError, OSError, AttributeError):
        return False  # not glibc (musl, macOS, Windows)
    try:
        import ctypes  # here, not at the top: a Python built without ctypes still runs roi, untuned

        return bool(ctypes.CDLL(None).mallopt(_M_ARENA_MAX, arenas))
    except (ImportError, OSError, AttributeError):
        return False


BLAS_THREADS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")


def limit_blas_threads() -> bool:
    """Run OpenBLAS on one thread (see the module docstring); True when it will take effect. OpenBLAS
    reads the environment when numpy loads it, so call this before numpy is imported."""
    if any(name in os.environ for name in BLAS_THREADS) or "numpy" in sys.modules:
        return False
    os.environ["OPENBLAS_NUM_THREADS"] = "1"
    return True


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
