"""Runs: one user request each. Created by the API, driven to a terminal status by the agent loop."""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    String,
    and_,
    bindparam,
    cast,
    exists,
    false,
    func,
    insert,
    literal,
    literal_column,
    not_,
    select,
    tuple_,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from engram.errors import InvalidInput, NotFound
from engram.ids import new_id
from engram.store.models import Agent, Message, Run
from engram.store.models.base import utcnow

TERMINAL_STATUSES = ("completed", "failed", "cancelled")


async def create_run(
    session: AsyncSession, org_id: str, agent_id: str, *, input_messages: list[dict], request_config: dict,
    background: bool = False, conversation_id: str | None = None, run_type: str = "send_message",
    request_hash: str | None = None, callback_url: str | None = None, run_id: str | None = None,
) -> Run:  # fmt: skip
    """A run in status "created"; `input_messages` carry pre-minted "id"s so the loop stores them once."""
    run = Run(
        id=run_id or new_id("run"), organization_id=org_id, agent_id=agent_id, conversation_id=conversation_id,
        status="created", background=background, run_type=run_type, request_hash=request_hash,
        input_messages=input_messages, request_config=request_config, callback_url=callback_url,
    )  # fmt: skip
    session.add(run)
    await session.flush()
    return run


APPROVAL_MARKER_PATH = "$[*].requires_approval"  # engram/tools/approvals.py MARKER on a stored tool call
_FRESH_RUN_COLUMNS = ("id", "organization_id", "agent_id", "conversation_id", "status", "background", "run_type",
                      "request_hash", "input_messages", "request_config", "callback_url", "created_at", "updated_at")  # fmt: skip


@functools.cache
def _insert_unless_blocked(in_conversation: bool) -> Any:
    """The statement of `create_run_unless_blocked`, built once per thread kind (values are bound at execute)."""
    columns = Run.__table__.c
    org, agent = bindparam("organization_id", type_=String), bindparam("agent_id", type_=String)
    thread = (
        Message.conversation_id == bindparam("conversation_id", type_=String)
        if in_conversation else Message.conversation_id.is_(None)
    )  # fmt: skip
    newest_calls = (
        select(Message.tool_calls)
        .where(Message.organization_id == org, Message.agent_id == agent, thread, Message.role == "assistant")
        # The thread column first, though fixed by the filter: then ix_messages_agent_conv_position's order is the
        # wanted order and the newest row is one backward step away. Postgres does not treat `IS NULL` as
        # fixing a column, so ordering by position alone sorted every message of the agent on each send.
        .order_by(Message.conversation_id.desc(), Message.position.desc())
        .limit(1)
        .scalar_subquery()
    )
    marker = literal_column(f"'{APPROVAL_MARKER_PATH}'::jsonpath")  # a constant, not user input
    may_wait = func.coalesce(newest_calls.op("@?", return_type=Boolean)(marker), false())
    source = select(*(bindparam(name, type_=columns[name].type) for name in _FRESH_RUN_COLUMNS)).where(
        and_(exists().where(Agent.id == agent, Agent.organization_id == org), not_(may_wait))
    )
    # Core INSERT (one parameter set, not an ORM bulk insert), its RETURNING row loaded as a Run entity.
    core = insert(Run.__table__).from_select(list(_FRESH_RUN_COLUMNS), source).returning(*Run.__table__.c)
    return select(Run).from_statement(core)


async def create_run_unless_blocked(
    session: AsyncSession, org_id: str, agent_id: str, *, input_messages: list[dict], request_config: dict,
    background: bool = False, conversation_id: str | None = None, request_hash: str | None = None,
    callback_url: str | None = None,
) -> Run | None:  # fmt: skip
    """`create_run` in one statement for the hot send path: INSERT ... SELECT that inserts only when the agent
    exists and the thread's newest assistant row carries no approval marker (engram/tools/approvals.py).

    None = nothing inserted: the agent is missing, or a tool call may be waiting for approval. The caller then
    runs the full checks (404, `approvals.gate_input`), which decide; this only skips them when they would pass.
    """
    now = utcnow()
    values: dict[str, Any] = {
        "id": new_id("run"), "organization_id": org_id, "agent_id": agent_id, "conversation_id": conversation_id,
        "status": "created", "background": background, "run_type": "send_message", "request_hash": request_hash,
        "input_messages": input_messages, "request_config": request_config, "callback_url": callback_url,
        "created_at": now, "updated_at": now,
    }  # fmt: skip
    statement = _insert_unless_blocked(conversation_id is not None)
    return (await session.scalars(statement, values)).one_or_none()


_RUN_STATUS = select(Run.status, Run.stop_reason).where(
    Run.id == bindparam("run_id", type_=String), Run.organization_id == bindparam("org_id", type_=String)
)


async def get_run(session: AsyncSession, org_id: str, run_id: str) -> Run:
    run = await session.get(Run, run_id)  # no round trip when this transaction already loaded it
    if run is None or run.organization_id != org_id:
        raise NotFound("run", run_id)
    return run


async def find_run(session: AsyncSession, org_id: str, run_id: str) -> Run | None:
    return await session.scalar(select(Run).where(Run.id == run_id, Run.organization_id == org_id))


async def run_status(session: AsyncSession, org_id: str, run_id: str) -> tuple[str, str | None] | None:
    """(status, stop_reason) of a run, None when there is none (a stream reader polls this)."""
    row = (await session.execute(_RUN_STATUS, {"run_id": run_id, "org_id": org_id})).first()
    return (row[0], row[1]) if row is not None else None


async def find_run_by_request_hash(session: AsyncSession, org_id: str, agent_id: str, request_hash: str) -> Run | None:
    return await session.scalar(
        select(Run)
        .where(Run.organization_id == org_id, Run.agent_id == agent_id, Run.request_hash == request_hash)
        .order_by(Run.created_at.desc())
        .limit(1)
    )


async def list_runs(
    session: AsyncSession, org_id: str, *, agent_id: str | None = None, statuses: list[str] | None = None,
    after: str | None = None, before: str | None = None, limit: int = 100, order: str = "desc",
) -> list[Run]:  # fmt: skip
    """Runs by creation time; cursors are run ids relative to `order` (after under desc = older)."""
    if order not in ("asc", "desc"):
        raise InvalidInput(f"order must be 'asc' or 'desc', got {order!r}")
    query = select(Run).where(Run.organization_id == org_id)
    if agent_id is not None:
        query = query.where(Run.agent_id == agent_id)
    if statuses:
        query = query.where(Run.status.in_(statuses))
    newer_first = order == "desc"
    for cursor, goes_further in ((after, True), (before, False)):
        if cursor is None:
            continue
        pivot = await get_run(session, org_id, cursor)
        left, right = tuple_(Run.created_at, Run.id), tuple_(pivot.created_at, pivot.id)
        query = query.where(left < right if goes_further == newer_first else left > right)
    if newer_first:
        query = query.order_by(Run.created_at.desc(), Run.id.desc())
    else:
        query = query.order_by(Run.created_at.asc(), Run.id.asc())
    return list(await session.scalars(query.limit(max(0, limit))))


async def set_workflow_ids(session: AsyncSession, org_id: str, run_id: str, workflow_id: str, temporal_run_id: str | None) -> None:
    await session.execute(
        update(Run)
        .where(Run.id == run_id, Run.organization_id == org_id)
        .values(workflow_id=workflow_id, temporal_run_id=temporal_run_id)
    )


async def mark_running(
    session: AsyncSession, org_id: str, run_id: str, *, workflow_id: str | None = None, temporal_run_id: str | None = None
) -> None:  # fmt: skip
    """created -> running (a no-op for a run already running or finished), noting the workflow that runs it."""
    ids = {"workflow_id": workflow_id, "temporal_run_id": temporal_run_id} if workflow_id else {}
    await session.execute(
        update(Run).where(Run.id == run_id, Run.organization_id == org_id, Run.status == "created")
        .values(status="running", **ids)
        .execution_options(synchronize_session=False)  # a loaded Run keeps its fields: no reload in this transaction
    )  # fmt: skip


async def mark_terminal(
    session: AsyncSession, org_id: str, run_id: str, *, status: str, stop_reason: str,
    usage: dict[str, Any], error: dict[str, Any] | None = None,
) -> Run | None:  # fmt: skip
    """Set the final status once; returns the run, or None if it had already finished (a retried finish)."""
    if status not in TERMINAL_STATUSES:
        raise InvalidInput(f"not a terminal status: {status}")
    now = utcnow()
    elapsed_ns = cast(func.extract("epoch", literal(now) - Run.created_at) * 1e9, BigInteger)
    return await session.scalar(
        update(Run)
        .where(Run.id == run_id, Run.organization_id == org_id, Run.status.not_in(TERMINAL_STATUSES))
        .values(status=status, stop_reason=stop_reason, usage=usage, error=error, completed_at=now,
                total_duration_ns=elapsed_ns)
        .returning(Run)
        .execution_options(populate_existing=True)
    )  # fmt: skip


async def record_callback(
    session: AsyncSession, org_id: str, run_id: str, *, status_code: int | None, error: str | None
) -> None:
    await session.execute(
        update(Run)
        .where(Run.id == run_id, Run.organization_id == org_id)
        .values(callback_sent_at=utcnow(), callback_status_code=status_code, callback_error=error)
    )
