"""The bounded cache every per-process cache uses: LRU order, resizing, threads."""

from __future__ import annotations

import threading

from ivr.flowlang.lru import LRU


def test_least_recently_used_goes_first() -> None:
    cache = LRU[str, int](2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1  # a is now the most recently used
    cache.put("c", 3)
    assert cache.keys() == ["a", "c"] and len(cache) == 2 and "b" not in cache
    assert cache.get("b") is None


def test_add_keeps_the_first_value_and_returns_it() -> None:
    cache = LRU[str, object](4)
    first, second = object(), object()
    assert cache.add("k", first) is first
    assert cache.add("k", second) is first


def test_resize_evicts_down_to_the_new_size_and_never_below_one() -> None:
    cache = LRU[int, int](10)
    for i in range(10):
        cache.put(i, i)
    cache.resize(3)
    assert len(cache) == 3 and cache.size == 3
    cache.resize(0)
    assert cache.size == 1 and len(cache) == 1


def test_threads_never_see_it_over_its_size_or_broken() -> None:
    cache = LRU[int, int](16)
    errors: list[BaseException] = []

    def hammer(offset: int) -> None:
        try:
            for i in range(3000):
                key = (i * 7 + offset) % 64
                if cache.get(key) is None:
                    cache.add(key, key)
                assert len(cache) <= 16
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=hammer, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(cache) == 16
