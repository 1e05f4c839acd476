"""Stored file batches handed on to the names their files have now (renamed, moved, rotated).

A batch's fingerprint is "<hash of its content and shaping>/<its content's hash>" (services.batches):
the part after the slash finds the batch a file's content was stored in, under whatever name.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import delete, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from ..errors import escaped
from .tables import BatchRecord, CellRecord, QuarantineRecord


@dataclass(frozen=True, slots=True)
class StoredFile:
    """A stored file batch, as a plan of moves sees it."""

    id: int
    key: str
    label: str
    fingerprint: str

    @property
    def content(self) -> str | None:
        """Its content's hash, or None where none can be matched: stored by an earlier version (the
        hash alone), or taken while the file changed (unsettled)."""
        _, slash, content = self.fingerprint.partition("/")
        return content if slash and not content.startswith("unsettled:") else None

    @property
    def length(self) -> int | None:
        """Its content's length in bytes (None: not recorded, as before fingerprints kept it)."""
        parts = (self.content or "").split(":")
        return int(parts[1]) if len(parts) == 3 and parts[1].isdigit() else None

    @property
    def head(self) -> str | None:
        """The hash of its content's first 64 KiB (connectors.base.file_fingerprint), if recorded."""
        parts = (self.content or "").split(":")
        return parts[2] if len(parts) == 3 else None


@dataclass(frozen=True, slots=True)
class Move:
    """`batch` takes the file `key` (labelled `label`) as its own."""

    batch: StoredFile
    key: str
    label: str


REMOVED = "removed:"  # the key prefix of a batch whose file was replaced by a moved one (removed for good)


def stored_files(engine: Engine, source: str) -> list[StoredFile]:
    """The source's stored file batches (keys "file:...", and "removed:..."), oldest first."""
    query = (select(BatchRecord.id, BatchRecord.batch_key, BatchRecord.label, BatchRecord.fingerprint)
             .where(BatchRecord.source == source,
                    BatchRecord.batch_key.startswith("file:", autoescape=True)
                    | BatchRecord.batch_key.startswith(REMOVED, autoescape=True))
             .order_by(BatchRecord.id))
    with engine.connect() as connection:
        return [StoredFile(*row) for row in connection.execute(query)]


def move_batches(engine: Engine, source: str, moves: list[Move], superseded: frozenset[int] = frozenset(),
                 removed: Sequence[StoredFile] = ()) -> bool:
    """Give each moved batch its new key and label in one transaction; its quarantined rows name
    the new file. A batch stored under a new key before, that no move takes (its file's content
    is gone from every listed name: `mv a.csv b.csv` over a stored b.csv), stays stored as a
    removed file's does, keyed "removed:<id>:<its old key>" (no file has such a key); unless it is
    `superseded`: its content is the start of what its file holds now (a copy seen half-written,
    then complete), and it is deleted, as reading the file again would replace it. The `removed`
    batches (their files are gone, no move takes them) are keyed so too: a new file of the same
    name is then a file of its own, and the removed one's rows stay.

    A batch keeps its id and finish time: its cells are the same, so closed months' signatures
    and cached figures stay valid. False, with nothing changed, when another ingest changed one
    of the batches since they were listed (this one then reads its files as it finds them)."""
    try:
        with engine.begin() as connection:
            for batch in removed:
                taken = connection.execute(
                    update(BatchRecord)
                    .where(BatchRecord.id == batch.id, BatchRecord.source == source,
                           BatchRecord.batch_key == batch.key, BatchRecord.fingerprint == batch.fingerprint)
                    .values(batch_key=f"{REMOVED}{batch.id}:{batch.key}")).rowcount
                if taken != 1:
                    raise _Changed
            for move in moves:  # out of each other's way first (two files may have swapped names), each
                # only as listed: the first update takes the write lock, so no other ingest comes between
                taken = connection.execute(
                    update(BatchRecord)
                    .where(BatchRecord.id == move.batch.id, BatchRecord.source == source,
                           BatchRecord.batch_key == move.batch.key, BatchRecord.fingerprint == move.batch.fingerprint)
                    .values(batch_key=f"moving:{move.batch.id}")).rowcount
                if taken != 1:
                    raise _Changed
            displaced = connection.execute(
                select(BatchRecord.id, BatchRecord.batch_key).where(
                    BatchRecord.source == source, BatchRecord.batch_key.in_([move.key for move in moves]))).all()
            for batch_id, key in displaced:
                if batch_id in superseded:
                    connection.execute(delete(CellRecord).where(CellRecord.batch_id == batch_id))
                    connection.execute(delete(QuarantineRecord).where(QuarantineRecord.batch_id == batch_id))
                    connection.execute(delete(BatchRecord).where(BatchRecord.id == batch_id))
                else:
                    connection.execute(update(BatchRecord).where(BatchRecord.id == batch_id)
                                       .values(batch_key=f"{REMOVED}{batch_id}:{key}"))
            for move in moves:
                connection.execute(update(BatchRecord).where(BatchRecord.id == move.batch.id)
                                   .values(batch_key=move.key, label=move.label))
                connection.execute(update(QuarantineRecord)
                                   .where(QuarantineRecord.batch_id == move.batch.id,
                                          QuarantineRecord.file == escaped(move.batch.label))
                                   .values(file=escaped(move.label)))
    except (_Changed, IntegrityError):  # (IntegrityError: PostgreSQL, where another ingest stored a new key meanwhile)
        return False
    return True


class _Changed(Exception):
    """A batch to move was changed by another ingest since it was listed: the transaction rolls back."""
