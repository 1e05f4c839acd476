"""Child processes of `roi serve` end with their parent, even when it is killed with SIGKILL.

`tie_to_parent` asks Linux for a parent-death signal (prctl PR_SET_PDEATHSIG), and keeps a
watchdog thread that notices a changed parent pid (other systems, or a parent that died before
the prctl): either way the process gets `signum` (SIGTERM: it stops as it would on a plain
stop), and is ended outright if it has not stopped `grace` seconds later. Without this, the API
workers of a killed server went on holding its port under PID 1, and a restart failed with
"Address already in use".
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import logging
import os
import signal
import sys
import threading

log = logging.getLogger("roi.serve")

_PR_SET_PDEATHSIG = 1


def _parent_death_signal(signum: int) -> bool:
    """Linux only: the kernel sends `signum` when the thread that started this process ends."""
    if not sys.platform.startswith("linux"):
        return False
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        return libc.prctl(_PR_SET_PDEATHSIG, signum, 0, 0, 0) == 0
    return False


def tie_to_parent(parent_pid: int, signum: int = signal.SIGTERM, *, interval: float = 1.0,
                  grace: float = 5.0) -> None:
    """End this process with `parent_pid` (it must be this process's parent).

    `grace`: the seconds a stop may take before the process is ended outright. A worker whose
    server is gone can still finish a short request; a stop held up longer (a warm-up computing,
    a busy machine) must not keep the port from a restarted server."""
    _parent_death_signal(signum)

    def end_outright() -> None:
        threading.Event().wait(grace)
        os._exit(1)

    def watch() -> None:
        while os.getppid() == parent_pid:
            threading.Event().wait(interval)
        # the outright end is set going first, in a thread of its own: nothing after it (a log
        # handler's lock held by a stuck thread, a stop that hangs) can hold it up
        threading.Thread(target=end_outright, name="roi-lifeline-end", daemon=True).start()
        os.kill(os.getpid(), signum)
        log.warning("the server process (pid %d) is gone: stopping", parent_pid)

    # also when the parent is already gone (before the prctl took effect): the watch sees it at once
    threading.Thread(target=watch, name="roi-lifeline", daemon=True).start()
