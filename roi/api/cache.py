"""Per-process caches, keyed by the store's data version so a new batch invalidates them at once.

Valuing a month is the expensive step (read its cells, assign models, allocate
fixed costs); a request then only filters, groups and serializes. Rendered
answers are kept too, so a repeated query costs one cheap version query and a
dictionary lookup.
"""

from __future__ import annotations

import gzip
import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

V = TypeVar("V")


class LruCache(Generic[V]):
    """A thread-safe LRU map that computes a missing value once, even under concurrent requests."""

    def __init__(self, max_entries: int, *, weigh: Callable[[V], int] | None = None, max_weight: int = 0):
        self._entries: OrderedDict[Hashable, V] = OrderedDict()
        self._lock = threading.Lock()
        self._pending: dict[Hashable, threading.Lock] = {}
        self._max_entries = max_entries
        self._weigh = weigh
        self._max_weight = max_weight
        self._weight = 0
        self.hits = 0
        self.misses = 0

    def get_or_make(self, key: Hashable, make: Callable[[], V]) -> V:
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                self.hits += 1
                return self._entries[key]
            pending = self._pending.setdefault(key, threading.Lock())
        with pending:
            with self._lock:
                if key in self._entries:
                    self.hits += 1
                    return self._entries[key]
            try:
                value = make()
            except BaseException:
                with self._lock:
                    self._pending.pop(key, None)
                raise
            with self._lock:
                self.misses += 1
                self._entries[key] = value
                self._weight += self._weigh(value) if self._weigh else 0
                self._pending.pop(key, None)
                self._evict()
            return value

    def _evict(self) -> None:
        while len(self._entries) > self._max_entries or (
            self._weigh and self._max_weight and self._weight > self._max_weight and len(self._entries) > 1
        ):
            _, value = self._entries.popitem(last=False)
            self._weight -= self._weigh(value) if self._weigh else 0

    def peek(self, key: Hashable) -> V | None:
        with self._lock:
            value = self._entries.get(key)
            if value is not None:
                self._entries.move_to_end(key)
                self.hits += 1
            return value

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._weight = 0

    def __len__(self) -> int:
        return len(self._entries)


@dataclass(slots=True)
class RenderedBody:
    """A JSON answer rendered once: its bytes, a strong ETag, and gzip made on first demand."""

    body: bytes
    etag: str
    headers: dict[str, str] = field(default_factory=dict)
    _gzipped: bytes | None = None

    @classmethod
    def of(cls, body: bytes, headers: dict[str, str] | None = None) -> RenderedBody:
        digest = hashlib.blake2b(body, digest_size=16).hexdigest()
        return cls(body, f'"{digest}"', dict(headers or {}))

    def gzipped(self) -> bytes:
        if self._gzipped is None:
            self._gzipped = gzip.compress(self.body, compresslevel=5, mtime=0)
        return self._gzipped

    @property
    def weight(self) -> int:
        return len(self.body) * 2

    def reply(self, if_none_match: str, accept_encoding: str) -> tuple[int, list[tuple[str, str]], bytes]:
        """Status, headers and body: 304 when If-None-Match names this answer, gzip when the client takes it."""
        headers = [("ETag", self.etag), ("Vary", "Accept-Encoding, Authorization"), *self.headers.items()]
        if if_none_match and self.etag in _etags(if_none_match):
            return 304, headers, b""
        if "gzip" in accept_encoding and len(self.body) > 1024:
            body = self.gzipped()
            headers.append(("Content-Encoding", "gzip"))
        else:
            body = self.body
        headers.append(("Content-Length", str(len(body))))
        return 200, headers, body


def _etags(header: str) -> set[str]:
    if header.strip() == "*":
        return {"*"}
    tags = {part.strip() for part in header.split(",") if part.strip()}
    return tags | {tag[2:] for tag in tags if tag.startswith("W/")}


class ApiCache:
    """The caches of one process: valued months and rendered answers."""

    def __init__(self, *, months: int = 24, answers: int = 512, answer_bytes: int = 256 * 2**20):
        self.months: LruCache = LruCache(months)
        self.answers: LruCache[RenderedBody] = LruCache(
            answers, weigh=lambda body: body.weight, max_weight=answer_bytes
        )
        self.lookups: LruCache = LruCache(64)
        # (path, raw query string) -> how the full Flask path answered it; see fastpath.py
        self.routes: dict[tuple[str, str], tuple] = {}

    def peek(self, key: Hashable) -> RenderedBody | None:
        return self.answers.peek(key)

    def remember_route(self, raw: tuple[str, str], route: tuple) -> None:
        if raw not in self.routes:
            if len(self.routes) >= 4096:  # bounded: forget them all, the next requests re-learn
                self.routes.clear()
            self.routes[raw] = route

    def clear(self) -> None:
        self.months.clear()
        self.answers.clear()
        self.lookups.clear()
        self.routes.clear()
