"""A bounded, thread-safe cache: at most ``size`` entries, least recently used out first.

Every per-process cache of ivr is one of these (compiled flow versions, the console's
drafts, checks and SVGs), so memory stays bounded however many versions or drafts pass
through a long-lived process. It is :class:`cachetools.LRUCache` under a lock: a lookup
reorders the cache, so even a read must not race another thread (gunicorn threads).
Values are built outside the lock; two threads that miss the same key both build, and
the first to :meth:`LRU.add` wins, so callers share one object.
"""

from __future__ import annotations

import threading
from collections.abc import Hashable
from typing import Generic, TypeVar

from cachetools import LRUCache

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class LRU(Generic[K, V]):
    """At most ``size`` (≥ 1) entries; the least recently used is evicted first."""

    def __init__(self, size: int) -> None:
        self._cache: LRUCache[K, V] = LRUCache(maxsize=max(1, size))
        self._lock = threading.Lock()

    @property
    def size(self) -> int:
        return int(self._cache.maxsize)

    def get(self, key: K) -> V | None:
        """The value of ``key`` (now the most recently used), or None."""
        with self._lock:
            return self._cache.get(key)

    def add(self, key: K, value: V) -> V:
        """Keep ``value`` unless another thread added ``key`` first; the kept value."""
        with self._lock:
            return self._cache.setdefault(key, value)

    def put(self, key: K, value: V) -> None:
        """Keep ``value`` under ``key``, replacing what was there."""
        with self._lock:
            self._cache[key] = value

    def resize(self, size: int) -> None:
        """Hold at most ``size`` entries from now on (the excess is evicted)."""
        with self._lock:
            old, self._cache = self._cache, LRUCache(maxsize=max(1, size))
            self._cache.update(old)

    def keys(self) -> list[K]:
        with self._lock:
            return list(self._cache)

    def clear(self) -> None:
        with self._lock:
            self._cache.clear()

    def __len__(self) -> int:
        return len(self._cache)

    def __contains__(self, key: object) -> bool:
        with self._lock:
            return key in self._cache
