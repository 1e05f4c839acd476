"""Writing the files roi makes (reports, closed workbooks): whole or not at all."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from ..errors import RoiError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_atomically(path: Path, content: bytes, *, durable: bool = True) -> None:
    """Readers see the old file or the new one, never half of one: a temporary file in the same
    folder, flushed to disk, then renamed over `path`. Its mode follows the umask like any file
    the user makes; `durable=False` skips the flush to disk (a cache). A failure (a full disk, a
    folder that cannot be written) leaves any old file as it was and names the path."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise RoiError(f"{path}: cannot write: {exc.strerror or exc}") from None
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(content)
            out.flush()
            if durable:  # on disk before the rename: after a crash, the old file or the whole new one
                os.fsync(out.fileno())
        os.chmod(temporary, 0o666 & ~_umask())
        os.replace(temporary, path)
    except BaseException as exc:
        Path(temporary).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise RoiError(f"{path}: cannot write: {exc.strerror or exc}") from None
        raise
