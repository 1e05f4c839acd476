"""Files renamed, moved or rotated since they were stored keep their batches: never counted twice.

Before a file source's batches are read, the files listed now are matched by content with the
stored batches their content may be in: a batch whose file is no longer listed, or whose file
now holds other content. A file that needs a batch (new, or changed) takes over such a batch
(store.batch_moves) when its content is the batch's (`mv a.csv b.csv`, a move into an archive
folder, `app.log` rotated to `app.log.1` and `.1` to `.2`, a copy to another filesystem that an
earlier ingest saw half-written), or begins with it (a file appended to since it was stored,
then moved or rotated): then the file is read again and replaces the batch's cells.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass

from ..connectors.base import (
    HEAD_BYTES,
    bytes_fingerprint,
    file_fingerprint,
    file_identity,
    prefix_fingerprint,
)
from ..errors import ConnectorError, escaped
from ..store import Store
from ..store.batch_moves import REMOVED, Move, StoredFile, move_batches, stored_files

log = logging.getLogger("roi")


@dataclass(frozen=True, slots=True)
class Hashed:
    """A file's content fingerprint, and which file in what state it was taken of (its identity):
    a read of the file later is of the same content only if the file's identity is still this."""

    content: str
    identity: tuple[int, int, int, int]


def follow_moves(store: Store, source: str, listed: Mapping[str, str], hashes: dict[str, Hashed]) -> list[str]:
    """Hand stored batches on to the files (`listed`: batch key -> path, as listed now) that hold
    their content now, and keep a gone file's batch as removed (so a new file of its name is a
    file of its own). Returns a note "old label -> new label" for each move.

    `hashes` gets what this hashed (by batch key), for the ingest to use instead of hashing again:
    every listed file that has a batch (the ingest compares them anyway), and the new files too
    when some stored batch's file is gone or changed (they are otherwise hashed beside their read)."""
    stored = stored_files(store.engine, source)
    if not stored:
        return []
    by_key = {batch.key: batch for batch in stored}
    for key, path in listed.items():
        if key in by_key:
            _hash(path, key, hashes)
    gone = [batch for batch in stored if batch.key not in listed]
    changed = [batch for batch in stored if batch.key in hashes and batch.content is not None
               and _digest(hashes[batch.key].content) != _digest(batch.content)]
    if not gone and not changed:
        return []
    for key, path in listed.items():
        if key not in by_key:
            _hash(path, key, hashes)
    needing = [key for key in listed if key in hashes and not hashes[key].content.startswith("unsettled:")
               and (key not in by_key or (by_key[key].content is not None
                                          and _digest(by_key[key].content) != _digest(hashes[key].content)))]
    # of two batches with the same content, one whose file is gone first: a listed file's may be its own
    donors: dict[str, list[StoredFile]] = {}  # by content digest
    for batch in gone + changed:
        if batch.content is not None:
            donors.setdefault(_digest(batch.content), []).append(batch)
    moves: list[Move] = []
    taken: set[int] = set()
    for key in needing:
        found = next((batch for batch in donors.get(_digest(hashes[key].content), ()) if batch.id not in taken), None)
        if found is not None:
            moves.append(Move(found, key=key, label=escaped(listed[key])))
            taken.add(found.id)
    moved_to = {move.key for move in moves}
    starts = [batch for batch in gone if batch.content is not None]  # a gone file's may be a grown file's start
    for key in needing:  # no batch holds it whole: one may hold its start (appended to, then moved)
        if key not in moved_to:
            candidates = [batch for batch in starts if batch.id not in taken]
            if (found := _grown_from(listed[key], candidates)) is not None:
                moves.append(Move(found, key=key, label=escaped(listed[key])))
                taken.add(found.id)
    removed = [batch for batch in gone if batch.id not in taken and not batch.key.startswith(REMOVED)]
    superseded = frozenset(  # a file's own earlier state, which it grew from (no removed file's)
        by_key[move.key].id for move in moves
        if move.key in by_key and by_key[move.key].id not in taken and by_key[move.key].length is not None
        and prefix_fingerprint(listed[move.key], by_key[move.key].length) == by_key[move.key].content)
    if not (moves or removed) or not move_batches(store.engine, source, moves, superseded, removed):
        return []
    for move in moves:
        log.info("source %s: %s was %s (renamed or moved): its stored batch follows it", source, move.label,
                 move.batch.label)
    return [f"{move.batch.label} -> {move.label}" for move in moves]


def _digest(content: str) -> str:
    """The content's SHA-256 alone (a fingerprint stored before the length and start were kept has no more)."""
    return content.partition(":")[0]


def _hash(path: str, key: str, hashes: dict[str, Hashed]) -> None:
    # one that cannot be read matches nothing (its read says why); one changing while it is
    # hashed is unsettled: it matches nothing either
    try:
        listed = os.stat(path)
        hashes[key] = Hashed(file_fingerprint(path, listed), file_identity(listed))
    except (OSError, ConnectorError):
        pass


def _grown_from(path: str, candidates: list[StoredFile]) -> StoredFile | None:
    """Of these batches, the longest whose content is the start of the file's. Its first 64 KiB are
    read once: a batch of 64 KiB or more is a candidate only if the hashes of their first 64 KiB
    agree; then one pass over the file, as far as the longest candidate, hashes its start at each
    candidate's length. So many removed files cost one pass over a file, not one each."""
    try:
        size = os.stat(path).st_size
        with open(path, "rb") as handle:
            start = handle.read(HEAD_BYTES)
            head = bytes_fingerprint(start).rpartition(":")[2]
            fits = [batch for batch in candidates if batch.length is not None and 0 < batch.length < size
                    and (batch.length < HEAD_BYTES or batch.head == head)]
            if not fits:
                return None
            handle.seek(0)
            whole, done, starts = hashlib.sha256(), 0, {}
            for length in sorted({batch.length for batch in fits}):  # type: ignore[type-var]
                while done < length and (block := handle.read(min(1 << 20, length - done))):
                    whole.update(block)
                    done += len(block)
                if done < length:
                    break
                digest = whole.copy().hexdigest()
                starts[length] = f"{digest}:{length}:{digest[:16] if length < HEAD_BYTES else head}"
    except OSError:
        return None
    matching = [batch for batch in fits if starts.get(batch.length) == batch.content]  # type: ignore[arg-type]
    return max(matching, key=lambda batch: batch.length or 0, default=None)
