"""Anonymous temporary files for a batch that outgrows memory: deduplication's event ids
(roi.dedup) and the cells of a batch with very many of them (roi.ingestion).

They are made in the system's temporary folder ($TMPDIR when set) and deleted as they
are made, so nothing is left behind whatever ends the process. A full or unwritable disk
becomes an error that says what needed the file and where, so the operator can point
TMPDIR at a folder with room.
"""

from __future__ import annotations

import os
import tempfile
from typing import Any

from .errors import RoiError


def temporary_folder() -> str:
    """The folder for temporary files: $TMPDIR when set, else the system's (/tmp).

    Python's tempfile falls back to /tmp when $TMPDIR is missing, unwritable or full; the
    operator pointed TMPDIR somewhere on purpose (a disk with room), so that is an error here."""
    folder = os.environ.get("TMPDIR")
    if not folder:
        return tempfile.gettempdir()
    if not os.path.isdir(folder):
        reason = "does not exist" if not os.path.exists(folder) else "is not a folder"
        raise RoiError(f"temporary folder {folder} (TMPDIR) {reason}; point TMPDIR at a folder with room")
    try:
        with tempfile.TemporaryFile(prefix="roi-check-", dir=folder) as probe:
            probe.write(b"\0" * 4096)
            probe.flush()
            os.fsync(probe.fileno())
    except OSError as exc:
        raise RoiError(f"temporary folder {folder} (TMPDIR) cannot be written: {exc.strerror or exc}; "
                       "point TMPDIR at a folder with room") from None
    return folder


def where() -> str:
    """The temporary folder as an error names it."""
    folder = os.environ.get("TMPDIR")
    return f"{folder} (TMPDIR)" if folder else tempfile.gettempdir()


def on_temporary_file(purpose: str, need: str, operation, *args, **kwargs) -> Any:
    """A temporary file's operation; a full or unwritable disk becomes an error that says what
    the file was for (`purpose`), where, and how much room it needs (`need`)."""
    try:
        return operation(*args, **kwargs)
    except OSError as exc:
        raise RoiError(
            f"{purpose}: cannot use a temporary file in {where()} ({exc}); set TMPDIR to a folder with space ({need})"
        ) from None


def cut_short(purpose: str, got: int, wanted: int) -> RoiError:
    """The error for a temporary file that gave back fewer bytes than were written to it."""
    return RoiError(f"{purpose}: a temporary file in {where()} gave {got} of {wanted} bytes; was it cut short?")


def read_exactly(purpose: str, need: str, fd: int, view: memoryview, offset: int) -> None:
    """Fill `view` from the file at `offset`, reading until it is full (one read returns at most
    about 2 GiB); a file that ends first is an error (cut_short)."""
    got = 0
    while got < len(view):
        read = on_temporary_file(purpose, need, os.preadv, fd, [view[got:]], offset + got)
        if not read:
            raise cut_short(purpose, got, len(view))
        got += read
