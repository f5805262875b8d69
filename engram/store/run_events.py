"""The per-run event log the SSE endpoints replay and tail (reference A.7, design notes 3.5).

`seq` counts from 1 per run; `event_key` makes appends idempotent, so a retried activity that
re-emits the same keys adds nothing. After each append a `NOTIFY run_events, '<run_id>'` wakes
listeners; the payload is only the pointer (NOTIFY payloads are capped at 8 KB).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, Integer, String, bindparam, func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from engram.store.models import RunEvent
from engram.store.models.base import utcnow

RUN_EVENTS_CHANNEL = "run_events"
EVENT_KINDS = ("delta", "message", "message_final", "step_retry", "stop_reason", "usage", "error", "done")


_LOCK_AND_NOTIFY = text(
    f"SELECT pg_advisory_xact_lock(hashtext(:run_id)), pg_notify('{RUN_EVENTS_CHANNEL}', :run_id)"
).bindparams(bindparam("run_id", type_=String))


async def append_events(session: AsyncSession, org_id: str, run_id: str, events: list[tuple[str, str, dict]]) -> None:
    """Append (event_key, kind, payload) in order; keys already present are skipped without using a seq.

    Every turn appends one to four times, so this is kept to three statements whatever the batch size:
    lock (+ NOTIFY), one read (current seq and which keys exist), one INSERT of every new row.
    """
    if not events:
        return
    # Serialise writers of one run so seq stays gap-free (the lock ends with the transaction). It must be its
    # own statement: a statement's snapshot is taken before it runs, so a read in the same one could miss a
    # writer that committed while we waited for the lock.
    # NOTIFY is only delivered at commit, so it rides along here (one statement less); an append that turns out
    # to add nothing (a retry) wakes listeners for nothing, which costs them one empty read.
    await session.execute(_LOCK_AND_NOTIFY, {"run_id": run_id})
    keys = [key for key, _, _ in events]
    current = select(func.coalesce(func.max(RunEvent.seq), 0)).where(RunEvent.run_id == run_id).scalar_subquery()
    present = select(func.array_agg(RunEvent.event_key)).where(RunEvent.run_id == run_id, RunEvent.event_key.in_(keys))
    seq, existing_keys = (await session.execute(select(current, present.scalar_subquery()))).one()
    existing, seq = set(existing_keys or ()), int(seq or 0)
    rows = []
    now = utcnow()
    for key, kind, payload in events:
        if key in existing:
            continue
        existing.add(key)
        seq += 1
        rows.append({"run_id": run_id, "seq": seq, "organization_id": org_id, "event_key": key, "kind": kind,
                     "payload": payload, "created_at": now})  # fmt: skip
    if rows:
        await session.execute(insert(RunEvent), rows)


async def read_events(session: AsyncSession, run_id: str, after_seq: int, limit: int = 500) -> list[RunEvent]:
    rows = await session.scalars(
        select(RunEvent).where(RunEvent.run_id == run_id, RunEvent.seq > after_seq).order_by(RunEvent.seq).limit(limit)
    )
    return list(rows)


_EVENT_ROWS = (
    select(RunEvent.seq, RunEvent.kind, RunEvent.payload)
    .where(RunEvent.run_id == bindparam("run_id", type_=String), RunEvent.seq > bindparam("after_seq", type_=BigInteger))
    .order_by(RunEvent.seq)
    .limit(bindparam("limit", type_=Integer))
)


async def read_event_rows(session: AsyncSession, run_id: str, after_seq: int, limit: int = 500) -> list[Any]:
    """`read_events` for a stream reader: rows of (seq, kind, payload) only, no ORM objects to build, and a
    statement built once (a stream reads several times per turn)."""
    return list(await session.execute(_EVENT_ROWS, {"run_id": run_id, "after_seq": after_seq, "limit": limit}))


def event_payloads(rows: list[RunEvent]) -> list[dict[str, Any]]:
    return [row.payload for row in rows]
