"""Writing the files roi makes (reports, closed workbooks, the valued-month cache): whole or not at all.

A file is first written in full to a temporary file beside its target (same folder, so
the rename cannot cross file systems) and flushed to disk; only then is it renamed over
the target. A full disk or an unwritable folder fails at the first step, which leaves
the old file as it was. `staged` lets a caller do something between the two steps (a
close stores its revision only once every file of it could be written).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from ..errors import RoiError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _error(path: Path, exc: OSError) -> RoiError:
    return RoiError(f"{path}: cannot write: {exc.strerror or exc}")


class StagedFile:
    """A file's full content on disk beside its target, waiting to be renamed over it."""

    def __init__(self, path: Path, content: bytes, *, durable: bool = True):
        self.path = Path(path)
        self.temporary: str | None = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            handle, self.temporary = tempfile.mkstemp(
                prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent
            )
        except OSError as exc:
            raise _error(self.path, exc) from None
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(content)
                out.flush()
                if durable:  # on disk before the rename: after a crash, the old file or the whole new one
                    os.fsync(out.fileno())
            # the mode any file the user makes gets (mkstemp's is 0600)
            os.chmod(self.temporary, 0o666 & ~_umask())
        except BaseException as exc:
            self.discard()
            if isinstance(exc, OSError):
                raise _error(self.path, exc) from None
            raise

    def commit(self) -> None:
        """Rename the staged content over the target: readers see the old file or the new one."""
        if self.temporary is None:
            raise RuntimeError(f"{self.path}: nothing staged")
        try:
            os.replace(self.temporary, self.path)
        except OSError as exc:
            self.discard()
            raise _error(self.path, exc) from None
        self.temporary = None

    def discard(self) -> None:
        if self.temporary is not None:
            Path(self.temporary).unlink(missing_ok=True)
            self.temporary = None


def stage(files: dict[Path, bytes]) -> list[StagedFile]:
    """Every file staged, or none (the ones staged before a failure are removed)."""
    staged: list[StagedFile] = []
    try:
        for path, content in files.items():
            staged.append(StagedFile(path, content))
    except BaseException:
        for item in staged:
            item.discard()
        raise
    return staged


def write_atomically(path: Path, content: bytes, *, durable: bool = True) -> None:
    """Readers see the old file or the new one, never half of one: a temporary file in the same
    folder, flushed to disk, then renamed over `path`. Its mode follows the umask like any file
    the user makes; `durable=False` skips the flush to disk (a cache). A failure (a full disk, a
    folder that cannot be written) leaves any old file as it was and names the path."""
    StagedFile(path, content, durable=durable).commit()
