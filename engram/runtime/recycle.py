"""A worker that grew while busy starts afresh once it has been idle, in place (same pid, same log).

After a burst (1,000 agents each running a turn) the worker's Python objects are back to their idle count,
yet glibc keeps ~50 MB of heap that is free but too fragmented to return, and `malloc_trim` cannot help
(issue #9, bench/README.md). The only way to hand it back is a new process. Celery recycles a child past
`worker_max_memory_per_child`; here the worker shuts down cleanly once it has had nothing to do for
`idle_s` and its RSS is more than `grown_mb` above what it was when it started polling, then `exec`s
itself: the process image is replaced, so `engram up`, docker and systemd see the same pid and restart
nothing. It is safe because Temporal keeps every task: cached workflows are replayed from history on
their next message, and a task that arrives while the new image starts waits in its task queue.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import NoReturn

import psutil

log = logging.getLogger(__name__)

CHECK_EVERY_MAX_S = 15.0


def rss_mb() -> float:
    return float(psutil.Process().memory_info().rss) / 2**20


@dataclass(frozen=True)
class RecyclePolicy:
    grown_mb: float  # 0: never recycle
    idle_s: float

    @property
    def enabled(self) -> bool:
        return self.grown_mb > 0

    def due(self, *, start_mb: float, now_mb: float, quiet_s: float) -> bool:
        return self.enabled and quiet_s >= self.idle_s and now_mb - start_mb > self.grown_mb

    @property
    def check_every_s(self) -> float:
        return min(CHECK_EVERY_MAX_S, max(0.25, self.idle_s / 4))


async def wait_until_recycle_due(quiet_for: Callable[[], float], policy: RecyclePolicy, *, start_mb: float) -> str:
    """Return (with the reason, for the log) once the policy says this process should start afresh;
    never returns while the policy is disabled (cancel it). `quiet_for`: seconds the process has had
    nothing to do."""
    if not policy.enabled:
        await asyncio.Event().wait()
    while True:
        await asyncio.sleep(policy.check_every_s)
        quiet_s = quiet_for()
        if quiet_s < policy.idle_s:  # busy: not worth reading /proc
            continue
        try:
            now_mb = rss_mb()
        except psutil.Error as exc:  # never take the worker down over a figure
            log.warning("worker recycle check failed: %s", exc)
            continue
        if policy.due(start_mb=start_mb, now_mb=now_mb, quiet_s=quiet_s):
            return (
                f"idle for {quiet_s:.0f} s and RSS grew {start_mb:.0f} -> {now_mb:.0f} MB "
                f"(more than ENGRAM_WORKER_RECYCLE_MB={policy.grown_mb:g})"
            )


def reexec() -> NoReturn:
    """Replace this process with a fresh run of the same command line (environment and cwd kept)."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os.execv(sys.executable, sys.orig_argv)
