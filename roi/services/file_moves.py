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

import logging
import os
from collections import defaultdict
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
from ..store.batch_moves import Move, StoredFile, move_batches, stored_files

log = logging.getLogger("roi")


@dataclass(frozen=True, slots=True)
class Hashed:
    """A file's content fingerprint, and which file in what state it was taken of (its identity):
    a read of the file later is of the same content only if the file's identity is still this."""

    content: str
    identity: tuple[int, int, int, int]


def follow_moves(store: Store, source: str, listed: Mapping[str, str], hashes: dict[str, Hashed]) -> list[str]:
    """Hand stored batches on to the files (`listed`: batch key -> path, as listed now) that hold
    their content now. Returns a note "old label -> new label" for each move.

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
    # a batch whose file is gone first: of two batches with the same content, a listed file's may be its own
    gone = [batch for batch in stored if batch.key not in listed and batch.content is not None]
    changed = [batch for batch in stored if batch.key in hashes and batch.content is not None
               and hashes[batch.key].content != batch.content]
    if not gone and not changed:
        return []
    for key, path in listed.items():
        if key not in by_key:
            _hash(path, key, hashes)
    needing = [key for key in listed if key in hashes and not hashes[key].content.startswith("unsettled:")
               and (key not in by_key or by_key[key].content not in (None, hashes[key].content))]
    available: dict[str, list[StoredFile]] = defaultdict(list)
    for batch in gone + changed:
        available[batch.content].append(batch)  # type: ignore[index]  (each has a content)
    moves = []
    for key in needing:
        if available.get(hashes[key].content):
            moves.append(Move(available[hashes[key].content].pop(0), key=key, label=escaped(listed[key])))
    taken = {move.key for move in moves}
    for key in needing:  # no batch holds it whole: one may hold its start (appended to, then moved)
        if key not in taken and (found := _grown_from(listed[key], key, available)) is not None:
            moves.append(Move(found, key=key, label=escaped(listed[key])))
    moving = {move.batch.id for move in moves}
    superseded = frozenset(  # a file's own earlier state, which it grew from (no removed file's)
        by_key[move.key].id for move in moves
        if move.key in by_key and by_key[move.key].id not in moving and by_key[move.key].length is not None
        and prefix_fingerprint(listed[move.key], by_key[move.key].length) == by_key[move.key].content)
    if not moves or not move_batches(store.engine, source, moves, superseded):
        return []
    for move in moves:
        log.info("source %s: %s was %s (renamed or moved): its stored batch follows it", source, move.label,
                 move.batch.label)
    return [f"{move.batch.label} -> {move.label}" for move in moves]


def _hash(path: str, key: str, hashes: dict[str, Hashed]) -> None:
    # one that cannot be read matches nothing (its read says why); one changing while it is
    # hashed is unsettled: it matches nothing either
    try:
        listed = os.stat(path)
        hashes[key] = Hashed(file_fingerprint(path, listed), file_identity(listed))
    except (OSError, ConnectorError):
        pass


def _grown_from(path: str, key: str, available: dict[str, list[StoredFile]]) -> StoredFile | None:
    """A batch, not this file's own, whose content is the start of the file's. The file's first
    64 KiB are read once: a shorter batch is compared with their start, a longer one hashed against
    the file's start only if the hashes of their first 64 KiB agree. So a folder of many removed
    files costs one read of 64 KiB a file that needs a batch, not a pass a removed file."""
    try:
        size = os.stat(path).st_size
        with open(path, "rb") as handle:
            start = handle.read(HEAD_BYTES)
    except OSError:
        return None
    head = bytes_fingerprint(start).rpartition(":")[2]
    by_length: dict[int, list[StoredFile]] = defaultdict(list)
    for batches in available.values():
        for batch in batches:
            if batch.key != key and batch.length is not None and 0 < batch.length < size \
                    and (batch.length < HEAD_BYTES or batch.head == head):
                by_length[batch.length].append(batch)
    for length in sorted(by_length):
        begins = bytes_fingerprint(start[:length]) if length < HEAD_BYTES else prefix_fingerprint(path, length)
        for batch in by_length[length]:
            if batch.content == begins:
                available[begins].remove(batch)
                return batch
    return None
