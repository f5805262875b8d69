"""Durability end to end: 5 agents x 20 turns over HTTP (some streaming) while the worker is SIGKILLed, the
API process is SIGKILLed and restarted, PostgreSQL is stopped for a few seconds and started again, and the
Temporal dev server is stopped and restarted on its SQLite file (workflows resume from it).

The stack is the test's own (bench/chaos.py ChaosStack: its own embedded Postgres in a temp dir, its own
Temporal dev server, a worker and a uvicorn API as subprocesses), not the session's shared services, which
it would otherwise take down. Clients retry a send with the same message otid and resume a broken stream
from its last seq_id, as letta-client does. Faults are paced by completed turns, never by the clock.
"""

from __future__ import annotations

import pytest

from bench.chaos import FAULTS, run_chaos

pytestmark = pytest.mark.slow
AGENTS, TURNS = 5, 20


async def test_every_turn_completes_once_while_worker_api_postgres_and_temporal_fail() -> None:
    # Four faults, each after 8-14 more completed turns (at most 56 of the 100, plus the turns that finish
    # while one recovers), so the last (Temporal) always lands with turns still to run.
    counts = await run_chaos(AGENTS, TURNS, every=(8, 14), outage_s=5.0)
    print(f"chaos stack: {counts}")  # noqa: T201
    assert all(counts.faults.get(f, 0) >= 1 for f in FAULTS), f"not every fault was injected: {counts.faults}"
    assert counts.problems() == {}, counts
    assert counts.completed == counts.runs == counts.user_messages == AGENTS * TURNS
    assert counts.streams > 0 and counts.streams_without_done == 0
    assert "500" not in counts.retried_statuses, f"an outage answered 500 instead of a retryable 503: {counts}"
