"""Whether the scheduler of `roi serve` runs, as its API workers can tell (/healthz).

The scheduler process writes its state and the time into a small file every few seconds; the
server's main process writes `starting` when it starts one and `stopped` when one exits. A
reader sees `running` only while the beats are fresh, so a hung or killed scheduler reads as
`stopped` within STALE_SECONDS.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import time
from pathlib import Path

ENV = "ROI_SCHEDULER_HEARTBEAT"  # the file's path, set by `roi serve` for its scheduler and workers
BEAT_SECONDS = 2.0
STALE_SECONDS = 15.0
STARTING_SECONDS = 120.0  # a scheduler that has not beaten this long after its start is stopped

RUNNING, STARTING, STOPPED = "running", "starting", "stopped"


class Heartbeat:
    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)

    def write(self, state: str) -> None:
        """Replace the file whole (a reader never sees half of it)."""
        with contextlib.suppress(OSError):  # a beat lost is a beat late, not a failure
            handle, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=".heartbeat-")
            with os.fdopen(handle, "w") as file:
                json.dump({"state": state, "at": time.time(), "pid": os.getpid()}, file)
            os.replace(temporary, self.path)

    def state(self) -> str:
        """running, starting or stopped, as of now."""
        try:
            beat = json.loads(self.path.read_text())
            state, age = beat["state"], time.time() - float(beat["at"])
        except (OSError, ValueError, KeyError, TypeError):
            return STOPPED
        if state == RUNNING and age <= STALE_SECONDS:
            return RUNNING
        if state == STARTING and age <= STARTING_SECONDS:
            return STARTING
        return STOPPED
