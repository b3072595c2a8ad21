"""Counters shared by every server process, in the cache: requests per window, and work in
flight per person.

Each count is one atomic cache operation (`add` then `incr`): Redis's INCR in production, the
local-memory cache's locked increment in the embedded default (whose single web process serves
every request). Set CACHE_URL to Redis whenever several server processes run, or each counts on
its own.
"""

import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress

from django.core.cache import cache


def _incr(key: str, ttl: int) -> int:
    """One more on `key` (created with `ttl` seconds to live); the count, this one included."""
    if cache.add(key, 1, ttl):
        return 1
    try:
        return cache.incr(key)
    except ValueError:  # expired between the two calls
        cache.add(key, 1, ttl)
        return 1


def window_hit(key: str, window_seconds: int) -> tuple[int, int]:
    """Count one request on `key` in the current fixed window of `window_seconds`.

    Returns (requests in this window so far, seconds until the window ends).
    """
    now = time.time()
    window = int(now // window_seconds)
    count = _incr(f"rate:{key}:{window}", window_seconds + 1)
    left = max(1, int((window + 1) * window_seconds - now + 0.999))
    return count, left


def window_count(key: str, window_seconds: int) -> int:
    """Requests counted on `key` in the current window, without counting one."""
    window = int(time.time() // window_seconds)
    return int(cache.get(f"rate:{key}:{window}") or 0)


class SlotsTakenError(Exception):
    """Every slot of this kind is in use."""


@contextmanager
def slot(key: str, limit: int, ttl: int) -> Iterator[None]:
    """Hold one of `limit` slots on `key` while the block runs, or raise `SlotsTakenError`.

    The count lives `ttl` seconds from its first use, so slots a killed process never gave back
    are free again after that.
    """
    full_key = f"slots:{key}"
    if _incr(full_key, ttl) > limit:
        _release(full_key)
        raise SlotsTakenError(key)
    try:
        yield
    finally:
        _release(full_key)


def _release(key: str) -> None:
    with suppress(ValueError):  # expired meanwhile: nothing to give back
        cache.decr(key)
