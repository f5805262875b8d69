"""`/v1/agents/{agent_id}/messages...`: send (sync JSON, SSE, async), list, cancel, reset, summarize.

Every send creates a Run (committed before the workflow sees it), then submits the turn to the agent's
workflow. Sync waits for the turn and answers a LettaResponse; streaming answers at once and tails the run's
event log; async answers the Run. A retried send attaches to the run its first attempt started (see
api/idempotency.py).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Query, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

from api import idempotency
from api.approvals import cancel_pending_approval
from api.deps import ActorDep, SessionDep, SessionsDep, SettingsDep, TemporalDep, autocommit_sessions
from api.limits import check_turn_input
from api.schemas.messages import (
    CancelRequest,
    CompactionResponse,
    CompactRequest,
    LettaAsyncRequest,
    LettaRequest,
    LettaResponse,
    LettaStreamingRequest,
    LettaStreamRequest,
    MessageType,
    ResetMessagesRequest,
    RunOut,
    StopReason,
    UsageStatistics,
)
from api.sse import TERMINAL_STATUSES, StreamOptions, run_stream_response, safe_stop_reason, stream_run_events
from engram.config import Settings
from engram.errors import Conflict, InvalidInput
from engram.ids import is_valid_id, new_id
from engram.store.models.run import Run
from engram.tools import approvals

router = APIRouter(prefix="/agents/{agent_id}", tags=["messages"])

ACTIVE_STATUSES = ["created", "running"]


def check_agent_id(agent_id: str) -> str:
    if not is_valid_id(agent_id, "agent"):
        raise InvalidInput(f"agent_id {agent_id!r} is not a valid id (expected 'agent-<uuid4>')")
    return agent_id


async def _raw_body(request: Request) -> dict[str, Any]:
    """The JSON as sent (FastAPI already validated it into the typed body): the dedupe hash is over this."""
    raw = await request.json()
    return raw if isinstance(raw, dict) else {}


async def _create_or_attach(
    request: Request, sessions: async_sessionmaker[AsyncSession], settings: Settings, temporal: Client,
    org_id: str, agent_id: str, body: LettaRequest, raw: dict[str, Any], route: str, *,
    background: bool = False, callback_url: str | None = None, wait: bool = False, conversation_id: str | None = None,
) -> tuple[Run, Any]:  # fmt: skip
    """(run, TurnResult | None): a fresh run submitted to the workflow, or the run a retry duplicates."""
    from engram.store import agents as agents_repo
    from engram.store import runs as runs_repo

    input_messages = body.input_messages()
    check_turn_input(input_messages, settings)
    key = idempotency.request_hash(agent_id, conversation_id, raw, route)
    retries = idempotency.retry_count(request.headers)
    if not idempotency.may_be_duplicate(key, retries) and not approvals.is_approval_input(input_messages):
        # The common send (a fresh user message): one INSERT ... SELECT that checks the agent and the thread's
        # pending approval in its WHERE clause. When it inserts nothing, the full checks below decide.
        async with autocommit_sessions(request.app)() as session:
            fresh = await runs_repo.create_run_unless_blocked(
                session, org_id, agent_id, input_messages=input_messages, request_config=body.request_config(),
                background=background, request_hash=key, callback_url=callback_url, conversation_id=conversation_id,
            )  # fmt: skip
        if fresh is not None:
            return fresh, await _submit(temporal, settings, sessions, org_id, fresh, wait=wait)
    async with sessions.begin() as session:
        await agents_repo.get_agent(session, org_id, agent_id)
        duplicate = await idempotency.find_duplicate(session, org_id, agent_id, key, retries=retries)
        if duplicate is None:
            await approvals.gate_input(session, org_id, agent_id, conversation_id, input_messages)
            run = await runs_repo.create_run(
                session, org_id, agent_id, input_messages=input_messages,
                request_config=body.request_config(), background=background, request_hash=key,
                callback_url=callback_url, conversation_id=conversation_id,
            )  # fmt: skip
    if duplicate is not None:
        if duplicate.status == "created":
            # The first attempt may have died between commit and submit; the update id (= run id) makes
            # re-submitting harmless when it did not.
            await _submit(temporal, settings, sessions, org_id, duplicate, wait=False)
        return duplicate, None
    result = await _submit(temporal, settings, sessions, org_id, run, wait=wait)
    return run, result


async def _submit(
    temporal: Client, settings: Settings, sessions: async_sessionmaker[AsyncSession], org_id: str, run: Run, *,
    wait: bool,
) -> Any:  # fmt: skip
    """Queue the run on the agent's workflow; a rejected turn (queue full) fails the run and answers 409."""
    from api import workflow_client
    from engram.store import runs as runs_repo

    max_steps = int((run.request_config or {}).get("max_steps") or 50)
    try:
        return await workflow_client.submit_turn(
            temporal, settings, org_id=org_id, agent_id=run.agent_id, run_id=run.id, max_steps=max_steps,
            conversation_id=run.conversation_id, wait=wait,
            is_approval=approvals.is_approval_input(run.input_messages or []),
        )  # fmt: skip
    except workflow_client.WorkflowUpdateFailedError as exc:
        cause = exc.cause
        reason = str(getattr(cause, "message", None) or cause or exc)
        async with sessions.begin() as session:
            await runs_repo.mark_terminal(
                session, org_id, run.id, status="failed", stop_reason="error", usage={},
                error={"error_type": getattr(cause, "type", None) or "rejected", "message": reason},
            )  # fmt: skip
        raise Conflict(
            f"The agent cannot take this message now ({reason}); run {run.id} was not started"
        ) from exc


async def _wait_for_run(request: Request, org_id: str, run_id: str) -> None:
    """Block until a run is terminal, by reading its event log to the end (a duplicate sync send)."""
    from api.sse import get_hub, log_readers

    read_events, read_status = log_readers(autocommit_sessions(request.app), org_id)
    opts = StreamOptions(include_pings=False)
    async for _ in stream_run_events(run_id, starting_after=0, opts=opts, read_events=read_events,
                                     read_status=read_status, hub=get_hub(request.app)):  # fmt: skip
        pass


def _include_types(types: list[str] | None) -> frozenset[str] | None:
    return frozenset(types) if types else None


def expand_rows(
    rows: list[Any], config: dict[str, Any], *, include_types: frozenset[str] | None = None,
    reverse: bool = False, include_err: bool = True,
) -> list[dict[str, Any]]:  # fmt: skip
    """Stored rows -> LettaMessages (one row may give several, sharing its id); desc order reverses both."""
    from engram.letta_messages import to_letta_messages

    out: list[dict[str, Any]] = []
    for row in rows:
        if not include_err and getattr(row, "is_err", False):
            continue
        messages = to_letta_messages(
            row, use_assistant_message=config.get("use_assistant_message", True) is not False,
            assistant_message_tool_name=config.get("assistant_message_tool_name") or "send_message",
            assistant_message_tool_kwarg=config.get("assistant_message_tool_kwarg") or "message",
        )  # fmt: skip
        if include_types is not None:
            messages = [m for m in messages if m.get("message_type") in include_types]
        out.extend(reversed(messages) if reverse else messages)
    return out


async def letta_response_for(
    sessions: async_sessionmaker[AsyncSession], org_id: str, run_id: str, result: Any = None, *,
    run: Run | None = None,
) -> LettaResponse:  # fmt: skip
    """The LettaResponse of a finished run: the messages it produced, its stop reason and usage.

    With the run as this request created it and a TurnResult carrying stop reason and usage, the run row is
    not read again (its request config and input ids are what this request wrote); `sessions` may then be an
    autocommit factory: the one read is a single statement.
    """
    from engram.store import messages as messages_repo
    from engram.store import runs as runs_repo

    async with sessions() as session:
        if run is None or not (getattr(result, "stop_reason", None) and getattr(result, "usage", None)):
            run = await runs_repo.get_run(session, org_id, run_id)
        rows = await messages_repo.run_output_messages(session, org_id, run_id)
    config = run.request_config or {}
    input_ids = {m.get("id") for m in run.input_messages or [] if isinstance(m, dict)}
    rows = [r for r in rows if r.id not in input_ids]
    messages = expand_rows(
        rows, config, include_types=_include_types(config.get("include_return_message_types"))
    )
    stop = getattr(result, "stop_reason", None) or run.stop_reason
    default = (
        "cancelled" if run.status == "cancelled" else ("error" if run.status == "failed" else "end_turn")
    )
    usage = getattr(result, "usage", None) or run.usage
    step_count = getattr(result, "step_count", None)
    return LettaResponse(
        messages=messages,
        stop_reason=StopReason(stop_reason=safe_stop_reason(stop, default)),  # type: ignore[arg-type]
        usage=UsageStatistics.from_usage(usage, run_id=run_id, step_count=step_count),
    )


def _stream_options(body: LettaStreamingRequest | LettaStreamRequest) -> StreamOptions:
    return StreamOptions(
        stream_tokens=body.stream_tokens, include_pings=body.include_pings,
        include_types=_include_types(body.include_return_message_types),
        include_compaction_messages=body.include_compaction_messages,
    )  # fmt: skip


async def _send(
    request: Request, agent_id: str, sessions: async_sessionmaker[AsyncSession], settings: Settings,
    temporal: Client, org_id: str, body: LettaStreamingRequest | LettaStreamRequest, route: str, *,
    force_stream: bool = False, conversation_id: str | None = None,
) -> Response:  # fmt: skip
    raw = await _raw_body(request)
    streaming = force_stream or bool(getattr(body, "streaming", False))
    if streaming:
        run, _ = await _create_or_attach(request, sessions, settings, temporal, org_id, agent_id, body, raw, route,
                                         background=bool(getattr(body, "background", False)),
                                         conversation_id=conversation_id)  # fmt: skip
        return run_stream_response(request, org_id, run.id, _stream_options(body))  # type: ignore[arg-type]
    run, result = await _create_or_attach(request, sessions, settings, temporal, org_id, agent_id, body, raw, route,
                                          wait=True, conversation_id=conversation_id)  # fmt: skip
    if result is None:
        if run.status not in TERMINAL_STATUSES:
            await _wait_for_run(request, org_id, run.id)
        response = await letta_response_for(sessions, org_id, run.id)
    else:
        response = await letta_response_for(autocommit_sessions(request.app), org_id, run.id, result, run=run)
    return JSONResponse(response.model_dump(mode="json", exclude_none=True))


@router.post("/messages", response_model=LettaResponse, summary="Send a message (sync JSON, or SSE with streaming=true)")  # fmt: skip
async def send_message(
    request: Request, agent_id: str, body: LettaStreamingRequest, sessions: SessionsDep, settings: SettingsDep,
    temporal: TemporalDep, actor: ActorDep,
) -> Response:  # fmt: skip
    check_agent_id(agent_id)
    return await _send(request, agent_id, sessions, settings, temporal, actor.org_id, body, "messages")


@router.post("/messages/stream", summary="Send a message and stream the reply (deprecated: use streaming=true)",
             deprecated=True)  # fmt: skip
async def send_message_stream(
    request: Request, agent_id: str, body: LettaStreamRequest, sessions: SessionsDep, settings: SettingsDep,
    temporal: TemporalDep, actor: ActorDep,
) -> Response:  # fmt: skip
    check_agent_id(agent_id)
    return await _send(request, agent_id, sessions, settings, temporal, actor.org_id, body, "messages",
                       force_stream=True)  # fmt: skip


@router.post(
    "/messages/async", response_model=RunOut, summary="Send a message in the background; returns the Run"
)
async def send_message_async(
    request: Request, agent_id: str, body: LettaAsyncRequest, sessions: SessionsDep, settings: SettingsDep,
    temporal: TemporalDep, actor: ActorDep,
) -> RunOut:  # fmt: skip
    check_agent_id(agent_id)
    raw = await _raw_body(request)
    run, _ = await _create_or_attach(request, sessions, settings, temporal, actor.org_id, agent_id, body, raw,
                                     "async", background=True, callback_url=body.callback_url)  # fmt: skip
    return RunOut.from_domain(run)


@router.get("/messages", summary="List the agent's messages (newest first by default; `after` pages older)")
async def list_messages(
    agent_id: str, session: SessionDep, actor: ActorDep,
    after: str | None = None, before: str | None = None,
    limit: Annotated[int | None, Query(ge=1, le=1000)] = 100,
    order: Literal["asc", "desc"] = "desc", order_by: Literal["created_at"] = "created_at",  # noqa: ARG001 - accepted for Letta parity
    conversation_id: str | None = None, group_id: str | None = None, include_err: bool | None = None,
    include_return_message_types: Annotated[list[MessageType] | None, Query()] = None,
    use_assistant_message: bool = True, assistant_message_tool_name: str = "send_message",
    assistant_message_tool_kwarg: str = "message",
) -> list[dict[str, Any]]:  # fmt: skip
    from engram.store import agents as agents_repo
    from engram.store import messages as messages_repo

    check_agent_id(agent_id)
    await agents_repo.get_agent(session, actor.org_id, agent_id)
    rows = await messages_repo.list_messages(
        session, actor.org_id, agent_id, conversation_id=conversation_id, after=after, before=before,
        limit=limit or 100, order=order,
    )  # fmt: skip
    if group_id is not None:
        rows = [r for r in rows if r.group_id == group_id]
    config = {"use_assistant_message": use_assistant_message, "assistant_message_tool_name": assistant_message_tool_name,
              "assistant_message_tool_kwarg": assistant_message_tool_kwarg}  # fmt: skip
    return expand_rows(rows, config, include_types=_include_types(include_return_message_types),
                       reverse=order == "desc", include_err=bool(include_err))  # fmt: skip


@router.post("/messages/cancel", summary="Cancel the agent's active runs (all, or those in run_ids)")
async def cancel_messages(
    agent_id: str, sessions: SessionsDep, temporal: TemporalDep, actor: ActorDep,
    body: Annotated[CancelRequest | None, Body()] = None,
) -> JSONResponse:  # fmt: skip
    from api import workflow_client
    from engram.store import agents as agents_repo
    from engram.store import runs as runs_repo

    check_agent_id(agent_id)
    async with sessions() as session:
        await agents_repo.get_agent(session, actor.org_id, agent_id)
        active = await runs_repo.list_runs(session, actor.org_id, agent_id=agent_id, statuses=ACTIVE_STATUSES,
                                           limit=1000)  # fmt: skip
    wanted = set(body.run_ids) if body and body.run_ids else None
    targets = [r for r in active if wanted is None or r.id in wanted]
    waited = await cancel_pending_approval(sessions, temporal, actor.org_id, agent_id, None, wanted)
    if not targets and waited is None:
        which = f"runs {sorted(wanted)} are" if wanted else "no run is"
        raise Conflict(f"Nothing to cancel: {which} not active for agent {agent_id}")
    for run in targets:
        await workflow_client.cancel_run(temporal, agent_id=agent_id, run_id=run.id,
                                         conversation_id=run.conversation_id)  # fmt: skip
    return JSONResponse({**{run.id: "cancelled" for run in targets}, **({waited: "cancelled"} if waited else {})})


@router.patch(
    "/reset-messages", summary="Start the agent's context afresh (history is kept in recall memory)"
)
async def reset_messages(
    agent_id: str, session: SessionDep, actor: ActorDep, body: Annotated[ResetMessagesRequest | None, Body()] = None,  # noqa: ARG001 - accepted for Letta parity
) -> Any:  # fmt: skip
    """Move the agent's context start past every message, so the next turn sees only the system prompt.

    Unlike Letta, nothing is deleted: the messages stay searchable through recall memory.
    """
    from engram.store import agents as agents_repo
    from engram.store import messages as messages_repo

    check_agent_id(agent_id)
    agent = await agents_repo.get_agent(session, actor.org_id, agent_id)
    newest = await messages_repo.list_messages(session, actor.org_id, agent_id, limit=1, order="desc")
    if newest:
        agent.context_start_position = max(agent.context_start_position or 0, newest[0].position + 1)
        agent.summary_message_id = None  # a reset context starts empty: no summary either
        await session.flush()
    return await _agent_state_or_none(session, actor.org_id, agent)


async def _agent_state_or_none(session: AsyncSession, org_id: str, agent: Any) -> Any:
    """The AgentState wire model when the agents router provides one (the SDK also accepts null)."""
    try:
        from api.schemas import agents as agent_schemas
    except ImportError:
        return None
    builder = getattr(agent_schemas, "agent_state", None) or getattr(agent_schemas, "AgentStateOut", None)
    if builder is None:
        return None
    try:
        if hasattr(builder, "from_domain"):
            from engram.store import agents as agents_repo

            blocks, tools = await agents_repo.load_relations(session, org_id, [agent.id])
            state = builder.from_domain(agent, blocks[agent.id], tools[agent.id])
        else:
            state = await builder(session, org_id, agent)
        return state.model_dump(mode="json") if hasattr(state, "model_dump") else state
    except Exception:  # noqa: BLE001 - the reset itself succeeded; null is a valid answer
        return None


@router.post("/summarize", response_model=CompactionResponse, summary="Compact the agent's context")
async def summarize(
    agent_id: str, session: SessionDep, actor: ActorDep, settings: SettingsDep,
    body: Annotated[CompactRequest | None, Body()] = None,  # noqa: ARG001 - accepted for Letta parity
) -> CompactionResponse:  # fmt: skip
    """Compact now: summarize and evict the oldest in-context messages (the same sliding window the loop
    uses on overflow). A context with a single turn has nothing to evict and is returned unchanged."""
    from engram.context.compaction import compact

    check_agent_id(agent_id)
    result = await compact(session, settings, actor.org_id, agent_id, op_id=f"compact:manual:{new_id('job')}")
    return CompactionResponse(
        num_messages_before=result.num_messages_before, num_messages_after=result.num_messages_after,
        summary=result.summary,
    )
