"""Numbers read from the archive kept for a minute per (flow, version, period): a page
reloaded, or the graph and metrics pages opened one after the other, do not count the
same calls again. Archived calls only ever arrive, so a kept number is at most
:data:`TTL` seconds behind; the pages say "numbers of the last …" and nothing more."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from flask import current_app

from ivr.flowlang.lru import LRU

KEY = "ivr.ops.recent"
TTL = 60.0
SIZE = 256
T = TypeVar("T")
_lock = threading.Lock()


def remember(key: Hashable, make: Callable[[], T]) -> T:
    """``make()``, or its value from less than :data:`TTL` seconds ago (per app)."""
    with _lock:
        cache: LRU[Hashable, tuple[float, Any]] = current_app.extensions.setdefault(
            KEY, LRU[Hashable, tuple[float, Any]](SIZE))
        hit = cache.get(key)
    now = time.monotonic()
    if hit is not None and now - hit[0] < TTL:
        value: T = hit[1]
        return value
    value = make()
    with _lock:
        cache.put(key, (now, value))
    return value
