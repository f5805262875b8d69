"""What a long-running process (worker, API) gives back once it goes quiet, so idle agents cost ~nothing.

An agent whose workflow exited on its idle timeout should hold no memory anywhere (issue #9: 10,000 idle
agents). Left alone, a process keeps what its busiest minute needed: a pool grown to `pool_size` Postgres
backends (each a process of its own), cached context windows of agents that went idle, and the heap pages
all of that used, which glibc keeps mapped after Python frees them. `keep_lean` runs beside the process's
real work and releases those on a timer; it never touches anything in use.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import functools
import logging
from collections.abc import Iterable
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncEngine

from engram.store.db import release_if_quiet

log = logging.getLogger(__name__)

SWEEP_EVERY_S = 15.0
QUIET_S = 60.0  # no connection used for this long: the process is idle


class IdleCache(Protocol):
    def drop_idle(self) -> int: ...


async def keep_lean(
    engine: AsyncEngine, caches: Iterable[IdleCache] = (), *, every_s: float = SWEEP_EVERY_S, quiet_s: float = QUIET_S
) -> None:
    """Run until cancelled: every `every_s`, drop idle caches and close a quiet pool, then trim the heap."""
    caches = tuple(caches)
    while True:
        await asyncio.sleep(every_s)
        try:
            freed = sum(cache.drop_idle() for cache in caches) > 0
            freed = await release_if_quiet(engine, quiet_s) or freed
        except Exception as exc:  # noqa: BLE001 - housekeeping must never take the process down
            log.warning("idle housekeeping failed: %s", exc)
            continue
        if freed:
            trim_heap()


def trim_heap() -> bool:
    """Hand free pages inside glibc's heaps back to the OS (`malloc_trim(0)`).

    CPython frees objects into glibc, which keeps the pages for reuse: after 1,000 agents each ran a turn,
    the worker's objects were back to their idle count but ~90 MB of heap stayed free and mapped; this
    returned ~40 MB of it (the rest is fragmented). A no-op (False) without glibc.
    """
    libc = _libc()
    return bool(libc.malloc_trim(0)) if libc is not None else False


@functools.cache
def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
    except OSError:
        return None
    return libc if libc is not None and hasattr(libc, "malloc_trim") else None
