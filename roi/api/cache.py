"""Per-process caches, keyed by the store's data version so a new batch invalidates them at once.

Valued months live in the services (services.valued); a request then only filters,
sums and serializes. Rendered answers are kept here, so a repeated query costs one
cheap version query and a dictionary lookup.
"""

from __future__ import annotations

import gzip
import hashlib
from collections.abc import Hashable
from dataclasses import dataclass, field

from ..services.caching import LruCache


@dataclass(slots=True)
class RenderedBody:
    """A JSON answer rendered once: its bytes, a strong ETag, and gzip made on first demand."""

    body: bytes
    etag: str
    headers: dict[str, str] = field(default_factory=dict)
    _gzipped: bytes | None = None

    @classmethod
    def of(cls, body: bytes, headers: dict[str, str] | None = None) -> RenderedBody:
        digest = hashlib.sha256(body).hexdigest()[:32]  # SHA-256 runs on the CPU's SHA instructions
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
    """The rendered answers of one process (the valued months are the services' ValuedMonths)."""

    def __init__(self, *, answers: int = 512, answer_bytes: int = 256 * 2**20):
        self.answers: LruCache[RenderedBody] = LruCache(
            answers, weigh=lambda body: body.weight, max_weight=answer_bytes
        )
        # (path, raw query string) -> how the full Flask path answered it; see cached_replies.py
        self.routes: dict[tuple[str, str], tuple] = {}

    def peek(self, key: Hashable) -> RenderedBody | None:
        return self.answers.peek(key)

    def remember_route(self, raw: tuple[str, str], route: tuple) -> None:
        if raw not in self.routes:
            if len(self.routes) >= 4096:  # bounded: forget them all, the next requests re-learn
                self.routes.clear()
            self.routes[raw] = route

    def clear(self) -> None:
        self.answers.clear()
        self.routes.clear()
