"""/v1/agents: create, list (filters + order-relative cursors), retrieve, update, delete, recompile."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import PlainTextResponse
from sqlalchemy.ext.asyncio import AsyncSession

from api.deps import ActorDep, AgentDep, SessionDep, SettingsDep, TemporalDep
from api.routes import sleeptime as sleeptime_routes
from api.routes._paths import clamp_limit, collection
from api.schemas.agents import AgentStateOut, CreateAgent, UpdateAgent
from api.schemas.common import DeleteResponse, Order, is_descending
from api.schemas.folders import FolderOut, file_blocks
from api.schemas.models import llm_config
from api.workflow_client import disable_agent
from engram import sleeptime
from engram.context import compiler
from engram.embed.registry import embedding_config
from engram.files import attachment
from engram.store import agents as agent_store
from engram.store import messages as message_store
from engram.store.file_agents import rows_of_agents as file_agent_rows
from engram.store.folders import folders_of_agents
from engram.store.models import Agent, SleeptimeGroup

router = APIRouter(tags=["agents"])


async def render_agent(session: AsyncSession, org_id: str, agent: Agent) -> AgentStateOut:
    """The fully hydrated `AgentState` (blocks, tools) the SDK expects from create/update/attach."""
    blocks, tools = await agent_store.load_relations(session, org_id, [agent.id])
    state = AgentStateOut.from_domain(agent, blocks[agent.id], tools[agent.id])
    state.message_ids = await in_context_message_ids(session, agent)
    await _with_folders(session, org_id, [agent], [state])
    _with_group(state, (await sleeptime.groups_of(session, org_id, [agent.id])).get(agent.id))
    return state


def _with_group(state: AgentStateOut, group: SleeptimeGroup | None) -> AgentStateOut:
    if group is not None:
        state.managed_group = sleeptime.managed_group(group, [b.id for b in state.blocks])
        state.multi_agent_group = state.managed_group
    return state


async def _with_folders(session: AsyncSession, org_id: str, agents: list[Agent], states: list[AgentStateOut]) -> None:
    """`sources` (attached folders, Letta's Source shape) and `memory.file_blocks` (what each agent sees of
    their files), in two queries for any number of agents."""
    ids = [a.id for a in agents]
    folders, rows = await folders_of_agents(session, org_id, ids), await file_agent_rows(session, org_id, ids)
    for agent, state in zip(agents, states, strict=True):
        state.sources = [FolderOut.from_domain(f).model_dump(mode="json") for f in folders[agent.id]]
        state.memory.file_blocks = file_blocks(agent, rows[agent.id])


async def in_context_message_ids(session: AsyncSession, agent: Agent) -> list[str]:
    """The ids of the agent's context window in order: system message first (Letta's `message_ids`)."""
    rows = await message_store.in_context_messages(session, agent)
    return [i for i in [agent.system_message_id, *(m.id for m in rows)] if i]


async def render_agents(session: AsyncSession, org_id: str, agents: list[Agent]) -> list[AgentStateOut]:
    blocks, tools = await agent_store.load_relations(session, org_id, [a.id for a in agents])
    groups = await sleeptime.groups_of(session, org_id, [a.id for a in agents])
    states = [_with_group(AgentStateOut.from_domain(a, blocks[a.id], tools[a.id]), groups.get(a.id)) for a in agents]
    await _with_folders(session, org_id, agents, states)
    return states


async def refresh_system_message(session: AsyncSession, org_id: str, agent_id: str) -> None:
    """Recompile the agent's system message so it is the first message of its history."""
    await compiler.refresh_system_message(session, org_id, agent_id)


@collection(router, "post", "/agents", response_model=AgentStateOut)
async def create_agent(
    body: CreateAgent, session: SessionDep, actor: ActorDep, settings: SettingsDep, temporal: TemporalDep
) -> AgentStateOut:
    model = body.model_handle(settings.default_model)
    embedding = body.embedding_handle(settings.default_embedding)
    spec = body.to_domain(model=model, embedding=embedding)
    agent = await agent_store.create_agent(
        session, actor.org_id, spec, llm_config=llm_config(model, body.context_window_limit),
        embedding_config=embedding_config(embedding),
    )  # fmt: skip
    if body.sent_folder_ids():
        await attachment.set_agent_folders(session, actor.org_id, agent, body.sent_folder_ids() or [])
    await refresh_system_message(session, actor.org_id, agent.id)
    if agent.enable_sleeptime:
        await sleeptime_routes.enable(session, temporal, settings, agent)
    return await render_agent(session, actor.org_id, agent)


@collection(router, "get", "/agents", response_model=list[AgentStateOut])
async def list_agents(
    session: SessionDep, actor: ActorDep,
    after: str | None = None, before: str | None = None, limit: int | None = None,
    order: Order | None = None, order_by: Literal["created_at", "updated_at", "last_run_completion"] = "created_at",
    ascending: bool | None = None, name: str | None = None, query_text: str | None = None,
    tags: Annotated[list[str] | None, Query()] = None, match_all_tags: bool = False,
    include: Annotated[list[str] | None, Query()] = None,  # noqa: ARG001 - relations are always hydrated
) -> list[AgentStateOut]:  # fmt: skip
    agents = await agent_store.list_agents(
        session, actor.org_id, name=name, tags=tags, match_all_tags=match_all_tags, query_text=query_text,
        after=after, before=before, limit=clamp_limit(limit, 50), order_by=order_by,
        descending=is_descending(order, ascending, default_descending=True),
    )  # fmt: skip
    return await render_agents(session, actor.org_id, agents)


@router.get("/agents/{agent_id}", response_model=AgentStateOut)
async def retrieve_agent(
    agent: AgentDep, session: SessionDep, actor: ActorDep, include: Annotated[list[str] | None, Query()] = None
) -> AgentStateOut:
    state = await render_agent(session, actor.org_id, agent)
    if include and "agent.pending_approval" in include:
        from engram.tools.approvals import pending_request_message

        state.pending_approval = await pending_request_message(session, actor.org_id, agent.id)
    return state


@router.patch("/agents/{agent_id}", response_model=AgentStateOut)
async def update_agent(
    agent: AgentDep, body: UpdateAgent, session: SessionDep, actor: ActorDep, temporal: TemporalDep,
    settings: SettingsDep,
) -> AgentStateOut:  # fmt: skip
    changes = body.to_changes()
    handle = body.new_model_handle()
    if handle is not None or "context_window_limit" in changes:
        handle = handle or agent.model
        changes["model"] = handle
        changes["llm_config"] = llm_config(
            handle, changes.get("context_window_limit", agent.context_window_limit)
        )
    embedding = body.new_embedding_handle()
    if embedding is not None:
        changes["embedding"] = embedding
        changes["embedding_config"] = embedding_config(embedding)
    updated = await agent_store.update_agent(session, actor.org_id, agent.id, changes)
    if (folder_ids := body.sent_folder_ids()) is not None:
        await attachment.set_agent_folders(session, actor.org_id, updated, folder_ids)
    if {"system", "block_ids"} & changes.keys() or folder_ids is not None:
        await refresh_system_message(session, actor.org_id, agent.id)
    if changes.get("enable_sleeptime") is True:
        await sleeptime_routes.enable(session, temporal, settings, updated)
    elif changes.get("enable_sleeptime") is False:
        await sleeptime_routes.disable(session, temporal, updated)
    elif "block_ids" in changes and (group := await sleeptime.find_group(session, actor.org_id, agent.id)):
        await sleeptime.sync_shared_blocks(session, actor.org_id, group)
    return await render_agent(session, actor.org_id, updated)


@router.delete("/agents/{agent_id}", response_model=DeleteResponse)
async def delete_agent(
    agent: AgentDep, session: SessionDep, actor: ActorDep, temporal: TemporalDep, settings: SettingsDep
) -> DeleteResponse:
    from api.routes.schedules import delete_agent_schedules
    from engram.store.conversations import conversation_ids

    threads = [None, *await conversation_ids(session, actor.org_id, agent.id)]  # its conversations end with it
    await delete_agent_schedules(session, temporal, settings, actor.org_id, agent.id)  # rows go by cascade
    await sleeptime_routes.remove(session, temporal, actor.org_id, agent.id)  # its schedule and sleep-time agent
    await agent_store.delete_agent(session, actor.org_id, agent.id)
    for conversation_id in threads:
        await disable_agent(temporal, agent_id=agent.id, conversation_id=conversation_id)
    return DeleteResponse(message=f"Agent id={agent.id} successfully deleted")


@router.post("/agents/{agent_id}/recompile", response_class=PlainTextResponse)
async def recompile_agent(
    agent: AgentDep,
    session: SessionDep,
    actor: ActorDep,
    dry_run: bool = False,
    update_timestamp: bool = False,
) -> PlainTextResponse:
    """The freshly compiled system prompt; `dry_run` shows it without saving it.

    Answered as plain text: the SDK returns this body verbatim (`cast_to=str`).
    """
    del update_timestamp  # the compiler always stamps a real recompile
    savepoint = await session.begin_nested()
    message = await compiler.refresh_system_message(session, actor.org_id, agent.id, force=True)
    text = message.text
    if dry_run:
        await savepoint.rollback()
    else:
        await savepoint.commit()
    return PlainTextResponse(text)
