"""How long this worker has run no activity: the idle test of the worker's in-place recycle.

The store's pool alone is not enough: an activity may go minutes without a query (a slow local model
streaming a reply, a sandboxed tool), and recycling under it would cancel it and run it again.
"""

from __future__ import annotations

import time
from typing import Any

from temporalio.worker import ActivityInboundInterceptor, ExecuteActivityInput, Interceptor


class ActivityClock(Interceptor):
    """Worker interceptor counting activities (local ones too) run and in flight, and when the last ended."""

    def __init__(self) -> None:
        self.ran = 0
        self.in_flight = 0
        self.last_end = time.monotonic()

    def quiet_for(self, now: float | None = None) -> float:
        """Seconds since the last activity ended; 0 while any runs."""
        if self.in_flight:
            return 0.0
        return max(0.0, (time.monotonic() if now is None else now) - self.last_end)

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:  # noqa: A002
        return _Clocked(next, self)


class _Clocked(ActivityInboundInterceptor):
    def __init__(self, next: ActivityInboundInterceptor, clock: ActivityClock) -> None:  # noqa: A002
        super().__init__(next)
        self._clock = clock

    async def execute_activity(self, input: ExecuteActivityInput) -> Any:  # noqa: A002 - SDK signature
        self._clock.in_flight += 1
        self._clock.ran += 1
        try:
            return await self.next.execute_activity(input)
        finally:
            self._clock.in_flight -= 1
            self._clock.last_end = time.monotonic()
