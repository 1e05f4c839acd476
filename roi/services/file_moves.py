"""Files renamed, moved or rotated since they were stored keep their batches: never counted twice.

Before a file source's batches are read, the files listed now are matched by content with the
stored batches their content may be in: a batch whose file is no longer listed, or whose file
now holds other content. A file that needs a batch (new, or changed) and whose content is such
a batch's takes it over (store.batch_moves): `mv a.csv b.csv`, a move into an archive folder,
`app.log` rotated to `app.log.1` (and `.1` to `.2`), a rename onto a stored file's name, or a
copy to another filesystem that an earlier ingest saw half-written, then completed.
"""

from __future__ import annotations

import logging
import os
from collections import defaultdict
from contextlib import suppress

from ..connectors.base import FileConnector, file_fingerprint
from ..errors import ConnectorError, escaped
from ..store import Store
from ..store.batch_moves import Move, StoredFile, move_batches, stored_files

log = logging.getLogger("roi")


def follow_moves(store: Store, source: str, connector: FileConnector, paths: list[str],
                 hashes: dict[str, str]) -> list[str]:
    """Hand stored batches on to the files (`paths`, as listed now) that hold their content now.

    Returns a note "old label -> new label" a move. `hashes` gets the content hash of each file
    this had to hash (batch key: hash), for the ingest to use instead of hashing it again. Only
    when a stored file is gone or new files are listed are files hashed here; new files only when
    some stored batch's file is gone or changed (they are otherwise hashed beside their read)."""
    stored = stored_files(store.engine, source)
    listed = {connector.batch_key(path): path for path in paths}
    by_key = {batch.key: batch for batch in stored}
    new = [key for key in listed if key not in by_key]
    gone = [batch for batch in stored if batch.key not in listed]
    if not stored or not (new or gone):
        return []
    for key, path in listed.items():
        if key in by_key:  # the ingest compares these with their batches anyway
            _hash(path, key, hashes)
    freed = [batch for batch in stored
             if batch.content is not None and hashes.get(batch.key, "") != batch.content]
    if not freed:
        return []
    for key in new:
        _hash(listed[key], key, hashes)
    available: dict[str, list[StoredFile]] = defaultdict(list)
    for batch in freed:
        available[batch.content].append(batch)  # type: ignore[index]  (freed ones have a content)
    moves = []
    for key, path in listed.items():
        content = hashes.get(key)
        if content is None or (key in by_key and by_key[key].content == content):
            continue  # unreadable (the ingest says why), or unchanged
        if available.get(content):
            moves.append(Move(available[content].pop(0), key=key, label=escaped(path)))
    if not moves or not move_batches(store.engine, source, moves):
        return []
    for move in moves:
        log.info("source %s: %s was %s (renamed or moved): its stored batch follows it", source, move.label,
                 move.batch.label)
    return [f"{move.batch.label} -> {move.label}" for move in moves]


def _hash(path: str, key: str, hashes: dict[str, str]) -> None:
    # one that cannot be read matches nothing (its read says why); one changing while it is
    # hashed is unsettled: it matches nothing either
    with suppress(OSError, ConnectorError):
        hashes[key] = file_fingerprint(path, os.stat(path))
