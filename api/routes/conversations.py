"""`/v1/conversations`: private threads over one agent, each served by its own AgentWorkflow.

A conversation id is `conv-<uuid4>`; the special id `default` (with `agent_id`) and, deprecated, an
`agent-<uuid4>` id both mean the agent's own thread (workflow `agent:{id}`). Sending reuses the agent
messaging path (api/routes/messages.py) with the thread's `conversation_id`, so runs, idempotency,
streaming and resume behave exactly as for agents.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from api.deps import ActorDep, SessionDep, SessionsDep, SettingsDep, TemporalDep, require_id
from api.routes._paths import clamp_limit, collection
from api.routes.messages import _include_types, _send, expand_rows
from api.schemas.conversations import (
    ConversationAgentBody,
    ConversationCreate,
    ConversationMessageRequest,
    ConversationOut,
    ConversationStreamRequest,
    ConversationUpdate,
)
from api.schemas.messages import CompactionResponse, MessageType
from api.sse import StreamOptions, run_stream_response
from engram.errors import Conflict, NotFound
from engram.ids import is_valid_id, new_id
from engram.store import agents as agent_store
from engram.store import conversations as conv_store
from engram.store import messages as message_store

router = APIRouter(prefix="/conversations", tags=["conversations"])

DEFAULT = "default"


@dataclass(frozen=True)
class Thread:
    """A resolved path id: the agent, and the conversation (None = the agent's own thread)."""

    agent_id: str
    conversation_id: str | None


async def resolve_thread(
    session: AsyncSession, org_id: str, conversation_id: str, agent_id: str | None
) -> Thread:
    """`conv-…` -> that conversation; `default` + agent_id, or an `agent-…` id -> the agent's own thread."""
    if conversation_id == DEFAULT or is_valid_id(conversation_id, "agent"):
        agent_id = conversation_id if conversation_id != DEFAULT else agent_id
        if not agent_id:
            raise NotFound("conversation", f"{DEFAULT} (pass agent_id to address the agent's own thread)")
        await agent_store.get_agent(session, org_id, require_id(agent_id, "agent", "agent_id"))
        return Thread(agent_id, None)
    conv = await conv_store.get_conversation(session, org_id, _conv_id(conversation_id))
    if agent_id is not None and agent_id != conv.agent_id:
        raise NotFound("conversation", f"{conversation_id} of agent {agent_id}")
    return Thread(conv.agent_id, conv.id)


def _conv_id(conversation_id: str) -> str:
    return require_id(conversation_id, "conv", "conversation_id")


async def _render(session: AsyncSession, org_id: str, conv: Any, *, hydrate: bool = True) -> ConversationOut:
    ids: list[str] | None = None
    if hydrate:
        agent = await agent_store.get_agent(session, org_id, conv.agent_id)
        rows = await message_store.in_context_messages(session, agent, conv.id)
        ids = [i for i in [conv.system_message_id, *(r.id for r in rows)] if i]
    return ConversationOut.from_domain(conv, ids)


# --- the conversation resource ------------------------------------------------------------------


@collection(router, "post", "", response_model=ConversationOut, summary="Create a conversation on an agent")
async def create_conversation(
    session: SessionDep, actor: ActorDep, agent_id: Annotated[str, Query()],
    body: Annotated[ConversationCreate | None, Body()] = None,
) -> ConversationOut:  # fmt: skip
    from engram.context.compiler import refresh_system_message

    body = body or ConversationCreate()
    await agent_store.get_agent(session, actor.org_id, require_id(agent_id, "agent", "agent_id"))
    conv = await conv_store.create_conversation(session, actor.org_id, agent_id, **body.model_dump())
    await refresh_system_message(
        session, actor.org_id, agent_id, conversation_id=conv.id
    )  # its own system row
    return await _render(session, actor.org_id, conv)


@collection(
    router, "get", "", response_model=list[ConversationOut], summary="List conversations (newest first)"
)
async def list_conversations(
    session: SessionDep, actor: ActorDep, agent_id: str | None = None, after: str | None = None,
    limit: Annotated[int | None, Query(ge=1, le=1000)] = 50, order: Literal["asc", "desc"] = "desc",
    order_by: Literal["created_at", "last_run_completion", "last_message_at"] = "created_at",
    archive_status: Literal["unarchived", "archived", "all"] = "unarchived", summary_search: str | None = None,
) -> list[ConversationOut]:  # fmt: skip
    if agent_id is not None:
        require_id(agent_id, "agent", "agent_id")
    convs = await conv_store.list_conversations(
        session, actor.org_id, agent_id=agent_id, after=after, limit=clamp_limit(limit, 50), order=order,
        order_by=order_by, archive_status=archive_status, summary_search=summary_search,
    )  # fmt: skip
    # Like Letta's list, in-context ids are not hydrated here (retrieve does): listings stay one query.
    return [ConversationOut.from_domain(c, []) for c in convs]


@router.get("/{conversation_id}", response_model=ConversationOut, summary="Retrieve a conversation")
async def retrieve_conversation(
    conversation_id: str, session: SessionDep, actor: ActorDep
) -> ConversationOut:
    conv = await conv_store.get_conversation(session, actor.org_id, _conv_id(conversation_id))
    return await _render(session, actor.org_id, conv)


@router.patch(
    "/{conversation_id}", response_model=ConversationOut, summary="Update (archive, summary, model...)"
)
async def update_conversation(
    conversation_id: str, body: ConversationUpdate, session: SessionDep, actor: ActorDep
) -> ConversationOut:
    changes = body.model_dump(exclude_unset=True)
    conv = await conv_store.update_conversation(session, actor.org_id, _conv_id(conversation_id), changes)
    return await _render(session, actor.org_id, conv)


@router.delete("/{conversation_id}", summary="Delete a conversation and its messages (the agent stays)")
async def delete_conversation(
    conversation_id: str, session: SessionDep, actor: ActorDep, temporal: TemporalDep
) -> JSONResponse:
    from api import workflow_client

    conv = await conv_store.get_conversation(session, actor.org_id, _conv_id(conversation_id))
    for run in await conv_store.active_runs(session, actor.org_id, conv.agent_id, conv.id):
        await workflow_client.cancel_run(
            temporal, agent_id=conv.agent_id, run_id=run.id, conversation_id=conv.id
        )
    await conv_store.delete_conversation(session, actor.org_id, conv.id)
    return JSONResponse({"message": f"Conversation id={conv.id} successfully deleted"})


@router.post(
    "/{conversation_id}/cancel", summary="Cancel this conversation's active runs (only this thread's)"
)
async def cancel_conversation(
    conversation_id: str,
    session: SessionDep,
    sessions: SessionsDep,
    actor: ActorDep,
    temporal: TemporalDep,
    agent_id: str | None = None,
) -> JSONResponse:
    from api import workflow_client
    from api.approvals import cancel_pending_approval

    thread = await resolve_thread(session, actor.org_id, conversation_id, agent_id)
    active = await conv_store.active_runs(session, actor.org_id, thread.agent_id, thread.conversation_id)
    # A tool call waiting for approval in this thread is denied too (api/approvals.py).
    waited = await cancel_pending_approval(sessions, temporal, actor.org_id, thread.agent_id, thread.conversation_id)
    if not active and waited is None:
        raise Conflict(f"CONFLICT: No active runs to cancel for conversation {conversation_id}")
    for run in active:
        await workflow_client.cancel_run(temporal, agent_id=thread.agent_id, run_id=run.id,
                                         conversation_id=thread.conversation_id)  # fmt: skip
    return JSONResponse({**{run.id: "cancelled" for run in active}, **({waited: "cancelled"} if waited else {})})


@router.post(
    "/{conversation_id}/fork", response_model=ConversationOut, summary="Fork the thread at a message"
)
async def fork_conversation(
    conversation_id: str, session: SessionDep, actor: ActorDep, agent_id: str | None = None,
    message_id: str | None = None, hidden: bool = False,
) -> ConversationOut:  # fmt: skip
    """A new conversation holding a copy of this thread's in-context messages up to and including
    `message_id` (all of them when absent); the two threads then diverge."""
    from engram.context.compiler import refresh_system_message

    thread = await resolve_thread(session, actor.org_id, conversation_id, agent_id)
    if message_id is not None:
        require_id(message_id, "message", "message_id")
    agent = await agent_store.get_agent(session, actor.org_id, thread.agent_id)
    conv = await conv_store.fork_conversation(session, agent, thread.conversation_id, message_id=message_id,
                                              hidden=hidden)  # fmt: skip
    await refresh_system_message(session, actor.org_id, agent.id, conversation_id=conv.id)
    return await _render(session, actor.org_id, conv)


@router.post("/{conversation_id}/recompile", response_class=PlainTextResponse,
             summary="Recompile the thread's system prompt (returns it)")  # fmt: skip
async def recompile_conversation(
    conversation_id: str, session: SessionDep, actor: ActorDep, dry_run: bool = False,
    body: Annotated[ConversationAgentBody | None, Body()] = None,
) -> PlainTextResponse:  # fmt: skip
    from engram.context.compiler import refresh_system_message

    thread = await resolve_thread(session, actor.org_id, conversation_id, body.agent_id if body else None)
    savepoint = await session.begin_nested()
    message = await refresh_system_message(session, actor.org_id, thread.agent_id,
                                           conversation_id=thread.conversation_id, force=True)  # fmt: skip
    text = message.text
    if dry_run:
        await savepoint.rollback()
    else:
        await savepoint.commit()
    return PlainTextResponse(text)


# --- messages -----------------------------------------------------------------------------------


@router.post(
    "/{conversation_id}/messages", summary="Send messages to the thread (SSE unless streaming=false)"
)
async def send_conversation_message(
    request: Request, conversation_id: str, body: ConversationMessageRequest, sessions: SessionsDep,
    settings: SettingsDep, temporal: TemporalDep, actor: ActorDep,
) -> Response:  # fmt: skip
    thread = await _touch_thread(request, actor.org_id, conversation_id, body)
    return await _send(request, thread.agent_id, sessions, settings, temporal, actor.org_id, body,
                       "conversation_messages", conversation_id=thread.conversation_id)  # fmt: skip


async def _touch_thread(request: Request, org_id: str, conversation_id: str, body: ConversationMessageRequest) -> Thread:
    """The thread a send goes to, with one statement on the common paths: a `conv-` id is touched (UPDATE ...
    RETURNING its agent and model); the agent's own thread is not read here, since the send itself 404s an
    unknown agent. Anything else (no such conversation, `default` without agent_id) takes `resolve_thread`,
    which raises the same errors as before."""
    from api.deps import autocommit_sessions

    if conversation_id == DEFAULT and body.agent_id or is_valid_id(conversation_id, "agent"):
        agent_id = body.agent_id if conversation_id == DEFAULT else conversation_id
        return Thread(require_id(agent_id or "", "agent", "agent_id"), None)
    if conversation_id != DEFAULT:
        async with autocommit_sessions(request.app)() as session:
            touched = await conv_store.touch_returning(session, org_id, _conv_id(conversation_id), body.agent_id)
        if touched is not None:
            agent_id, model = touched
            if model and not body.override_model:
                body.override_model = model  # the thread's model overrides the agent's
            return Thread(agent_id, conversation_id)
    async with autocommit_sessions(request.app)() as session:
        return await resolve_thread(session, org_id, conversation_id, body.agent_id)  # raises NotFound


@router.get("/{conversation_id}/messages", summary="List the thread's messages (newest first by default)")
async def list_conversation_messages(
    conversation_id: str, session: SessionDep, actor: ActorDep, agent_id: str | None = None,
    after: str | None = None, before: str | None = None,
    limit: Annotated[int | None, Query(ge=1, le=1000)] = 100, order: Literal["asc", "desc"] = "desc",
    order_by: Literal["created_at"] = "created_at",  # noqa: ARG001 - accepted for Letta parity
    group_id: str | None = None, include_err: bool | None = None,
    include_return_message_types: Annotated[list[MessageType] | None, Query()] = None,
) -> list[dict[str, Any]]:  # fmt: skip
    if conversation_id == DEFAULT and not agent_id:
        return []  # Letta's quirk: `default` without an agent lists nothing
    thread = await resolve_thread(session, actor.org_id, conversation_id, agent_id)
    for cursor in (after, before):
        if cursor is not None and await message_store.find_message(session, actor.org_id, cursor) is None:
            return []  # an unknown cursor ends the SDK's auto-pagination instead of failing it
    rows = await message_store.list_messages(
        session, actor.org_id, thread.agent_id, conversation_id=thread.conversation_id,
        default_thread=thread.conversation_id is None, after=after, before=before, limit=limit or 100, order=order,
    )  # fmt: skip
    if group_id is not None:
        rows = [r for r in rows if r.group_id == group_id]
    return expand_rows(rows, {}, include_types=_include_types(include_return_message_types),
                       reverse=order == "desc", include_err=bool(include_err))  # fmt: skip


@router.post("/{conversation_id}/stream", summary="Resume the stream of the thread's latest run (or run_id)")
async def resume_conversation_stream(
    request: Request, conversation_id: str, session: SessionDep, actor: ActorDep,
    body: Annotated[ConversationStreamRequest | None, Body()] = None,
) -> Response:  # fmt: skip
    from engram.store import runs as runs_repo

    body = body or ConversationStreamRequest()
    thread = await resolve_thread(session, actor.org_id, conversation_id, body.agent_id)
    if body.run_id is not None:
        run = await runs_repo.get_run(session, actor.org_id, require_id(body.run_id, "run", "run_id"))
        if run.agent_id != thread.agent_id or run.conversation_id != thread.conversation_id:
            raise NotFound("run", f"{body.run_id} in conversation {conversation_id}")
    else:
        run = await conv_store.latest_run(session, actor.org_id, thread.agent_id, thread.conversation_id)
        if run is None:
            raise NotFound("run", f"for conversation {conversation_id} (nothing was sent yet)")
    config = run.request_config or {}
    types = config.get("include_return_message_types")
    opts = StreamOptions(
        stream_tokens=bool(config.get("stream_tokens")) if body.stream_tokens is None else body.stream_tokens,
        include_pings=body.include_pings, include_types=frozenset(types) if types else None,
        poll_interval_s=min(max(body.poll_interval or 0.5, 0.05), 2.0), batch_size=body.batch_size or 500,
    )  # fmt: skip
    return run_stream_response(request, actor.org_id, run.id, opts, starting_after=body.starting_after)


@router.post(
    "/{conversation_id}/compact", response_model=CompactionResponse, summary="Compact the thread's context"
)
async def compact_conversation(
    conversation_id: str, session: SessionDep, actor: ActorDep, settings: SettingsDep,
    body: Annotated[ConversationAgentBody | None, Body()] = None,
) -> CompactionResponse:  # fmt: skip
    """Summarize and evict the thread's oldest in-context messages (as POST /v1/agents/{id}/summarize)."""
    from engram.context.compaction import compact

    thread = await resolve_thread(session, actor.org_id, conversation_id, body.agent_id if body else None)
    result = await compact(session, settings, actor.org_id, thread.agent_id, op_id=f"compact:manual:{new_id('job')}",
                           conversation_id=thread.conversation_id)  # fmt: skip
    return CompactionResponse(
        num_messages_before=result.num_messages_before,
        num_messages_after=result.num_messages_after,
        summary=result.summary,
    )


__all__ = ["router", "resolve_thread", "Thread"]
