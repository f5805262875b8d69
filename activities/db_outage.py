"""Ride out a short PostgreSQL outage inside an activity instead of spending its retry budget.

Every activity is idempotent (rows have derived ids, events have keys, finishing is guarded), so running
it again after the database comes back is what a Temporal retry would do. But retry policies count
attempts: a 5-second restart of Postgres would burn LLM_RETRY's four attempts (or DB_RETRY's five) in
seconds and fail the user's run with `llm_api_error` although nothing was wrong with the model. This
worker interceptor re-runs an activity whose failure is "the database is unreachable" with a short
backoff, heartbeating meanwhile, for up to OUTAGE_BUDGET_S (and never past 80 % of the activity's own
start-to-close timeout: local activities have 30 s); after that the error goes to the retry policy as before.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from temporalio import activity
from temporalio.worker import (
    ActivityInboundInterceptor,
    ExecuteActivityInput,
    Interceptor,
)

from engram.store.outage import is_database_unavailable

OUTAGE_BUDGET_S = 120.0
FIRST_BACKOFF_S = 0.25
MAX_BACKOFF_S = 2.0


def _budget_s(info: activity.Info) -> float:
    limit = info.start_to_close_timeout.total_seconds() if info.start_to_close_timeout else OUTAGE_BUDGET_S
    return min(OUTAGE_BUDGET_S, 0.8 * limit)


class _RideOutOutage(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> Any:  # noqa: A002 - SDK signature
        started = time.monotonic()
        backoff = FIRST_BACKOFF_S
        while True:
            try:
                return await self.next.execute_activity(input)
            except Exception as exc:
                info = activity.info()
                if not is_database_unavailable(exc) or time.monotonic() - started + backoff > _budget_s(info):
                    raise
                activity.logger.warning("database unavailable (%s); running the activity again", type(exc).__name__)
            deadline = time.monotonic() + backoff
            while (left := deadline - time.monotonic()) > 0:
                if not activity.info().is_local:
                    activity.heartbeat()
                await asyncio.sleep(min(left, 0.5))
            backoff = min(backoff * 2, MAX_BACKOFF_S)


class DatabaseOutageInterceptor(Interceptor):
    """Worker interceptor: `Worker(..., interceptors=[DatabaseOutageInterceptor()])`."""

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:  # noqa: A002
        return _RideOutOutage(next)
