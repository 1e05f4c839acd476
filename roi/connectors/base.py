"""The connector contract and its registry.

A connector turns one upstream system into *batches*. A batch is the unit of
idempotent ingest (one file, one API window): ingesting it again replaces what
it stored before. Reading a batch yields chunks, each a canonical event frame
plus the rows that could not be read.

File connectors (events, otlp) make one batch per file and ignore the window.
Pulled connectors (HTTP APIs, sql) split the window they are given into one
batch per UTC day, keyed ``day:YYYY-MM-DD``: pulling a day again replaces that
day, so overlapping pulls never double count. A batch whose read raises
ConnectorError stores nothing (never half a batch).

A canonical event frame has the columns: ``event_id`` (optional, dedup within
the batch), either ``ts`` (UTC-aware datetimes) or ``day`` (local dates, for
pre-aggregated rows), the seven dimensions (strings, "" when missing), the
counts in FRAME_COUNTS (int), ``cost`` (float, NaN = price it from the tokens
with provider/model/ts) and ``human_review_minutes`` (float).
"""

from __future__ import annotations

import glob
import hashlib
import importlib
import logging
import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, ClassVar

import numpy as np
import pyarrow as pa
from pydantic import BaseModel

from ..config import STRICT
from ..domain import DIMENSIONS, EVENT_COUNTS, EVENT_FLOATS, Reject
from ..errors import ConnectorError, RoiError, escaped

if TYPE_CHECKING:  # pandas loads only where a function needs it
    import pandas as pd

log = logging.getLogger("roi")

# The columns of a canonical event frame: domain.EVENT_COUNTS and EVENT_FLOATS
FRAME_COUNTS = EVENT_COUNTS
FRAME_FLOATS = EVENT_FLOATS


class ConnectorOptions(BaseModel):
    """Base of every connector's own options: unknown keys are refused."""

    model_config = STRICT


@dataclass(slots=True)
class Chunk:
    """Rows of one batch as the canonical event frame (an Arrow table; domain.EVENT_COUNTS), the rows
    that could not be read, and how many physical rows were read."""

    frame: pa.Table
    rejects: list[Reject] = field(default_factory=list)
    rows_read: int = 0
    # hashes of the frame's event ids (roi.string_hashes.hash_strings), when the reader computed them already
    id_hashes: np.ndarray | None = None

    @classmethod
    def of_pandas(cls, frame: pd.DataFrame, rejects: list[Reject] | None = None, rows_read: int = 0) -> Chunk:
        """A chunk of an event frame a connector built with pandas (missing counts 0, cost NaN)."""
        import pandas as pd

        frame = frame.copy()
        if "ts" in frame:
            frame["ts"] = pd.to_datetime(frame["ts"], utc=True).astype("datetime64[ns, UTC]")
        for name in DIMENSIONS:
            frame[name] = frame[name].fillna("").astype(str) if name in frame else ""
        for name in EVENT_COUNTS:
            frame[name] = frame[name].fillna(0).astype(np.int64) if name in frame else 0
        frame["cost"] = frame["cost"].astype(np.float64) if "cost" in frame else np.nan
        frame["human_review_minutes"] = (
            frame["human_review_minutes"].fillna(0.0).astype(np.float64) if "human_review_minutes" in frame else 0.0
        )
        if "event_id" in frame:
            frame["event_id"] = frame["event_id"].astype(str)
        return cls(pa.Table.from_pandas(frame, preserve_index=False), list(rejects or []), rows_read)


@dataclass(slots=True)
class Window:
    """The time range a pull covers: start inclusive, end exclusive (UTC-aware)."""

    start: datetime | None = None
    end: datetime | None = None


@dataclass
class Batch:
    """One idempotent unit: the same key ingested again replaces the earlier result."""

    key: str
    label: str
    # what the batch's content was made from; a callable where it costs a pass over the content
    # (a file's hash), so that it is taken only when needed, or beside the read
    fingerprint: str | Callable[[], str]
    read: Callable[[], Iterator[Chunk]]
    files: int = 1
    # a pulled source's batches are UTC days (the window lands whole); a file's is None
    day: date | None = None
    # what else shapes its cells: a file's connector options as they apply to it (its format, ...)
    shape: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of_day(cls, day: date, label: str, fingerprint: str, read: Callable[[], Iterator[Chunk]]) -> Batch:
        """A pulled day: keyed ``day:YYYY-MM-DD`` in the store, so pulling it again replaces it."""
        return cls(key=f"day:{day.isoformat()}", label=label, fingerprint=fingerprint, read=read, day=day)

    def content_fingerprint(self) -> str:
        return self.fingerprint() if callable(self.fingerprint) else self.fingerprint


class Connector:
    """Base class: subclasses set Options and implement check() and batches()."""

    Options: ClassVar[type[ConnectorOptions]] = ConnectorOptions
    # The configured timezone (cells' days are local days); the service sets it after create().
    timezone: str = "UTC"
    # The config's folder; the registry sets it in create().
    base_dir: Path | None = None
    # True when the connector retries each request itself (HTTP): its batches are then not
    # retried again as a whole (connectors.retry: every error is retried at one level only)
    retries_requests: ClassVar[bool] = False

    def __init__(self, name: str, options: ConnectorOptions):
        self.name = name
        self.options = options

    def check(self) -> None:
        """Raise ConnectorError when the source cannot be read at all."""

    def batches(self, window: Window) -> Iterator[Batch]:
        raise NotImplementedError


class Registry:
    """Connector classes by their explicit key.

    Each connector module registers itself with @register when imported;
    `modules` says where each key lives, so a command loads only the
    connectors its config uses (an HTTP client is not imported to read files).
    """

    def __init__(self, modules: dict[str, str]) -> None:
        self._classes: dict[str, type[Connector]] = {}
        self._modules = modules

    def register(self, key: str) -> Callable[[type[Connector]], type[Connector]]:
        def decorate(cls: type[Connector]) -> type[Connector]:
            if key in self._classes:
                raise RuntimeError(f"connector {key!r} registered twice")
            self._classes[key] = cls
            return cls

        return decorate

    def available(self) -> list[str]:
        return sorted(set(self._classes) | set(self._modules))

    def connector_class(self, key: str) -> type[Connector]:
        """The class registered under `key`; KeyError for an unknown key."""
        if key not in self._classes and key in self._modules:
            importlib.import_module(self._modules[key])
        return self._classes[key]

    def validate_options(self, source: Any, base_dir: Path) -> ConnectorOptions:
        cls = self.connector_class(source.type)
        return cls.Options.model_validate(source.options, context={"base_dir": base_dir})

    def create(self, source: Any, base_dir: Path) -> Connector:
        options = self.validate_options(source, base_dir)
        connector = self.connector_class(source.type)(source.name, options)
        connector.base_dir = Path(base_dir)
        return connector


def matching_files(pattern: str) -> list[str]:
    """The files a file source's `path` (a glob, `**` recursive) matches, sorted."""
    return sorted(path for path in glob.glob(pattern, recursive=True) if os.path.isfile(path))


class FileConnector(Connector):
    """A connector of files matched by `options.path` (a glob): one batch per file.

    A file's batch key is its path relative to the config's folder (absolute
    only when it lies outside), so moving or mounting the project elsewhere
    keeps every key, and re-ingesting never counts a file twice.
    """

    def files(self) -> list[str]:
        return matching_files(self.options.path)  # type: ignore[attr-defined]

    def check(self) -> None:
        if not self.files():
            raise ConnectorError(f"source {self.name!r}: no file matches path {self.options.path!r}")  # type: ignore[attr-defined]

    def batch_key(self, path: str) -> str:
        """Text for any name: where a name is no text (bytes that are no UTF-8, which no store takes
        as they are) or holds control characters, those are escaped, and a backslash is written
        twice in every key, so no two names have one key."""
        absolute = Path(path).resolve()
        name = absolute.as_posix()
        if self.base_dir is not None:
            with suppress(ValueError):  # (outside the project's folder: its absolute path)
                name = absolute.relative_to(self.base_dir.resolve()).as_posix()
        return "file:" + escaped(name.replace("\\", "\\\\"))

    def shape(self, path: str) -> dict[str, Any]:  # noqa: ARG002 - a subclass's may depend on the file
        """The options that shape a file's cells, as they apply to it: where to find files
        (path) and how many rows a chunk holds are not among them."""
        return self.options.model_dump(mode="json", exclude={"path", "chunk_rows"})

    def batches(self, window: Window) -> Iterator[Batch]:  # noqa: ARG002 - a file is read whole
        self.check()
        return self.file_batches(self.listed())

    def listed(self) -> dict[str, str]:
        """The files matched now, by batch key."""
        return {self.batch_key(path): path for path in self.files()}

    def file_batches(self, listed: Mapping[str, str]) -> Iterator[Batch]:
        """One batch a file (`listed`: batch key -> path), made as it is reached: a file's size and
        time are taken then, so that its hash, taken later, can tell whether it changed meanwhile."""
        for key, path in listed.items():
            try:
                listed_stat = os.stat(path)
            except OSError:
                listed_stat = None  # gone already: hashing it will say why
            yield Batch(
                key=key,
                label=escaped(path),
                fingerprint=lambda path=path, listed=listed_stat: file_fingerprint(path, listed),
                read=lambda path=path: contained(escaped(path), lambda: self.read_file(path)),
                shape=self.shape(path),
            )

    def read_file(self, path: str) -> Iterator[Chunk]:
        raise NotImplementedError


def contained(path: str, read: Callable[[], Iterator[Chunk]]) -> Iterator[Chunk]:
    """A file's chunks, where any failure to read the file becomes a ConnectorError naming it: that
    file stores nothing and the others go on (the traceback is logged at debug level)."""
    try:
        yield from read()
    except RoiError:
        raise
    except Exception as exc:  # noqa: BLE001 - whatever it is, it is this file's, and said in one line
        log.debug("%s: cannot be read", path, exc_info=True)
        raise ConnectorError(f"{path}: cannot be read: {type(exc).__name__}: {exc}") from None


def arrow_input(path: str) -> str | BinaryIO:
    """A file as Arrow's readers take it: its path, unless the name is no UTF-8 (bytes the system
    gives as lone surrogates), which Arrow cannot encode: then the file opened (it closes with
    the reader that holds it)."""
    try:
        path.encode()
    except UnicodeEncodeError:
        return open(path, "rb")  # noqa: SIM115 - the reader's to close
    return path


def file_identity(stat: os.stat_result) -> tuple[int, int, int, int]:
    """Which file, in what state: another file renamed over the name, or a change, makes another."""
    return stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns


HEAD_BYTES = 1 << 16  # bytes of a file's start hashed on their own too: a cheap first look at "does it begin with"


def file_fingerprint(path: str, listed: os.stat_result | None = None) -> str:
    """SHA-256 of the content (0.6-1.5 GB/s, by machine), its length, and the SHA-256 of its first
    64 KiB (16 hex digits): "<hex digest>:<bytes>:<head>".

    `listed` is the file's stat when it was listed. The hash may be taken beside the read, so
    if the file changed since then (it is being written, or another file was renamed over it),
    what was read and what was hashed may differ: the fingerprint is then marked unsettled,
    which no later fingerprint equals, and the file is read again next time."""
    try:
        with open(path, "rb") as handle:
            found = _fingerprint(handle, None)
            after = os.fstat(handle.fileno())
    except OSError as exc:
        raise ConnectorError(f"{path}: cannot read the file: {exc}") from None
    if listed is not None and file_identity(after) != file_identity(listed):
        return f"unsettled:{found}"
    return found


def prefix_fingerprint(path: str, length: int) -> str | None:
    """The fingerprint the file's first `length` bytes would have as a file of their own (None: shorter)."""
    try:
        with open(path, "rb") as handle:
            return _fingerprint(handle, length)
    except OSError:
        return None


def bytes_fingerprint(data: bytes) -> str:
    """The fingerprint of a file holding `data`."""
    return f"{hashlib.sha256(data).hexdigest()}:{len(data)}:{hashlib.sha256(data[:HEAD_BYTES]).hexdigest()[:16]}"


def _fingerprint(handle, length: int | None) -> str | None:
    """The fingerprint of the next `length` bytes (None: to the end), or None if fewer are left."""
    whole, head = hashlib.sha256(), None
    done = 0
    while length is None or done < length:
        block = handle.read(HEAD_BYTES if done == 0 else 1 << 20 if length is None else min(1 << 20, length - done))
        if not block:
            break
        if done == 0:
            block = block[:length] if length is not None else block
            head = hashlib.sha256(block).hexdigest()[:16]
        whole.update(block)
        done += len(block)
    if length is not None and done < length:
        return None
    return f"{whole.hexdigest()}:{done}:{head or hashlib.sha256(b'').hexdigest()[:16]}"


registry = Registry(
    {
        key: f"roi.connectors.{module}"
        for key, module in {
            "events": "events",
            "intercom": "intercom",
            "langfuse": "langfuse",
            "litellm": "litellm",
            "openai_usage": "openai_usage",
            "otlp": "otlp",
            "sql": "sql",
            "zendesk": "zendesk",
        }.items()
    }
)
register = registry.register


def _lone_cr(data: bytes) -> bool:
    """Whether some CR in `data` is not followed by an LF (a line break of its own: old Mac files)."""
    return b"\r" in data and data.count(b"\r") != data.count(b"\r\n")


def line_blocks(handle, size: int) -> Iterator[tuple[int, bytes | None]]:
    """The rest of an open binary file as (offset, bytes of whole LF-ended lines), about `size` bytes
    each (a longer line whole). Where a line break is a lone CR, (its block's offset, None) and no
    more: lines split at LF would not be the file's lines there, so the caller reads on from that
    offset as text. Memory stays at about two blocks, also for a file of lone CRs only."""
    while True:
        offset = handle.tell()
        block = handle.read(size)
        if not block:
            return
        while not block.endswith(b"\n") and not _lone_cr(block[:-1] if block.endswith(b"\r") else block):
            more = handle.readline(size)  # the rest of the block's last line, a piece at a time
            if not more:
                break
            block += more
        if _lone_cr(block):
            yield offset, None
            return
        yield offset, block
