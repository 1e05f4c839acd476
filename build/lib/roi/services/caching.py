"""A thread-safe LRU map that computes a missing value once, even under concurrent callers.

The valued months (services.valued) and the API's rendered answers are kept in it.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
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
