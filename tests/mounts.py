"""Small real file systems for fault tests: a tiny tmpfs (a full disk) and a read-only one.

Mounting needs root (or CAP_SYS_ADMIN); where the sandbox refuses it, the tests that need
a mount are skipped with the reason, the others still run."""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest


@contextlib.contextmanager
def tmpfs(folder: Path, *, size_kib: int = 64, read_only: bool = False) -> Iterator[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    options = f"size={size_kib}k" + (",ro" if read_only else "")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)],
                          capture_output=True, text=True, check=False)
    if done.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def fill(folder: Path, leave: int = 0) -> None:
    """Fill a file system to within `leave` bytes of full."""
    import os

    handle = os.open(folder / "filler", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        with contextlib.suppress(OSError):
            while True:
                os.write(handle, b"\0" * 1024)
    finally:
        os.close(handle)
    if leave:
        size = os.path.getsize(folder / "filler")
        os.truncate(folder / "filler", max(0, size - leave))
