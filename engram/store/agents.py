"""Agents: creation with their blocks and tools, lookup, filtered listing, update, deletion."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from engram.errors import InvalidInput, NotFound
from engram.ids import new_id
from engram.prompts import default_system_prompt
from engram.schemas.agent import AGENT_TYPES, AgentSpec
from engram.store import blocks as block_store
from engram.store import tools as tool_store
from engram.store.models import Agent, AgentBlock, AgentTool, Block, Tool
from engram.store.models.base import utcnow
from engram.store.organizations import ensure_organization
from engram.store.pagination import paginate
from engram.tools.builtin_schemas import BUILTINS_BY_NAME, base_tool_names


def default_tool_rules(agent_type: str, tool_names: list[str]) -> list[dict[str, Any]]:
    """Letta's base tool rules: terminal send_message/memory_finish_edits, continue after other base tools."""
    rules: list[dict[str, Any]] = []
    for name in tool_names:
        builtin = BUILTINS_BY_NAME.get(name)
        if builtin is None:
            continue
        rule_type = "exit_loop" if builtin.is_terminal else "continue_loop"
        if agent_type == "letta_v1_agent" and rule_type == "continue_loop":
            continue  # letta_v1 continues after any tool call anyway
        rules.append({"type": rule_type, "tool_name": name})
    return rules


async def create_agent(
    session: AsyncSession, org_id: str, spec: AgentSpec, *, llm_config: dict[str, Any],
    embedding_config: dict[str, Any] | None = None,
) -> Agent:  # fmt: skip
    """Create the agent row, its inline blocks, and attach blocks/tools given by id or name."""
    if spec.agent_type not in AGENT_TYPES:
        raise InvalidInput(f"unknown agent_type {spec.agent_type!r}; expected one of {', '.join(AGENT_TYPES)}")
    labels = [b.label for b in spec.memory_blocks]
    if len(set(labels)) != len(labels):
        raise InvalidInput(f"memory_blocks labels must be unique, got {labels}")
    await ensure_organization(session, org_id)
    builtins = await tool_store.ensure_builtin_tools(session, org_id)
    tool_names: list[str] = []
    if spec.include_base_tools:
        tool_names.extend(base_tool_names(spec.agent_type, enable_sleeptime=spec.enable_sleeptime))
    tool_names.extend(n for n in spec.tools if n not in tool_names)
    include_rules = spec.include_base_tool_rules
    if include_rules is None:
        include_rules = spec.agent_type != "letta_v1_agent"
    explicit = {(r.get("type"), r.get("tool_name")) for r in spec.tool_rules}
    defaults = default_tool_rules(spec.agent_type, tool_names) if include_rules else []

    # The row is written once, complete: tool rules and the id its system message will get (the compiler
    # inserts that row under this id) are known now. Each later UPDATE in this transaction would leave a
    # dead ~1 KB copy of the row in the table (three versions per agent before: +1.4 KB per agent on disk
    # and in Postgres's buffer cache, issue #9).
    agent = Agent(
        id=new_id("agent"), organization_id=org_id, name=spec.name, agent_type=spec.agent_type,
        system=spec.system if spec.system is not None else default_system_prompt(spec.agent_type),
        description=spec.description, model=spec.model, embedding=spec.embedding,
        context_window_limit=spec.context_window_limit, llm_config=llm_config, embedding_config=embedding_config,
        model_settings=spec.model_settings, compaction_settings=spec.compaction_settings, tags=spec.tags,
        metadata_=spec.metadata, timezone=spec.timezone, secrets=spec.secrets,
        message_buffer_autoclear=spec.message_buffer_autoclear, enable_sleeptime=spec.enable_sleeptime,
        max_files_open=spec.max_files_open, per_file_view_window_char_limit=spec.per_file_view_window_char_limit,
        hidden=spec.hidden,
        tool_rules=[*spec.tool_rules, *[r for r in defaults if (r["type"], r["tool_name"]) not in explicit]],
        system_message_id=new_id("message"), system_compiled_at=utcnow(),
    )  # fmt: skip
    session.add(agent)
    await session.flush()

    for block_spec in spec.memory_blocks:
        block = await block_store.create_block(session, org_id, block_spec)
        await block_store.attach_block(session, org_id, agent.id, block.id)
    for block_id in spec.block_ids:
        await block_store.attach_block(session, org_id, agent.id, block_id)

    named = {**builtins, **await tool_store.get_tools_by_name(session, org_id, [n for n in tool_names if n not in builtins])}
    for name in tool_names:
        await tool_store.attach_tool(session, org_id, agent.id, named[name].id)
    for tool_id in spec.tool_ids:
        await tool_store.attach_tool(session, org_id, agent.id, tool_id)
    await session.flush()
    return agent


async def get_agent(session: AsyncSession, org_id: str, agent_id: str) -> Agent:
    agent = await session.get(Agent, agent_id)  # no round trip when this transaction already loaded it
    if agent is None or agent.organization_id != org_id:
        raise NotFound("agent", agent_id)
    return agent


async def record_last_run(
    session: AsyncSession, org_id: str, agent_id: str, stop_reason: str, completed_at: Any, duration_ms: int
) -> None:  # fmt: skip
    """The agent's last-run fields (Letta shows them on the agent); a deleted agent is no error."""
    await session.execute(
        update(Agent).where(Agent.id == agent_id, Agent.organization_id == org_id)
        .values(last_stop_reason=stop_reason, last_run_completion=completed_at, last_run_duration_ms=duration_ms)
    )  # fmt: skip


async def delete_agent(session: AsyncSession, org_id: str, agent_id: str) -> None:
    agent = await get_agent(session, org_id, agent_id)
    await session.delete(agent)
    await session.flush()


AGENT_ORDER_COLUMNS = ("created_at", "updated_at", "last_run_completion")


def _order_column(order_by: str) -> Any:
    if order_by not in AGENT_ORDER_COLUMNS:
        raise InvalidInput(f"order_by must be one of {', '.join(AGENT_ORDER_COLUMNS)}, got {order_by!r}")
    if order_by == "last_run_completion":
        # NULL never compares in a cursor tuple; agents that never ran sort as the oldest.
        return func.coalesce(Agent.last_run_completion, datetime(1970, 1, 1, tzinfo=UTC))
    return getattr(Agent, order_by)


async def list_agents(
    session: AsyncSession, org_id: str, *, name: str | None = None, tags: list[str] | None = None,
    match_all_tags: bool = False, query_text: str | None = None, after: str | None = None,
    before: str | None = None, limit: int | None = 50, descending: bool = True, order_by: str = "created_at",
    block_id: str | None = None,
) -> list[Agent]:  # fmt: skip
    """Agents matching every given filter, one page in the requested order (order-relative cursors)."""
    stmt = select(Agent).where(Agent.organization_id == org_id)
    if name is not None:
        stmt = stmt.where(Agent.name == name)
    if tags:
        stmt = stmt.where(Agent.tags.contains(tags) if match_all_tags else Agent.tags.overlap(tags))
    if query_text:
        stmt = stmt.where(Agent.name.ilike(f"%{query_text}%"))
    if block_id is not None:
        stmt = stmt.where(Agent.id.in_(select(AgentBlock.agent_id).where(AgentBlock.block_id == block_id)))
    return await paginate(
        session, stmt, id_column=Agent.id, order_columns=[_order_column(order_by), Agent.id],
        after=after, before=before, limit=limit, descending=descending,
    )  # fmt: skip


async def load_relations(
    session: AsyncSession, org_id: str, agent_ids: list[str]
) -> tuple[dict[str, list[Block]], dict[str, list[Tool]]]:
    """Blocks and tools of many agents in two queries (attach order), for hydrating AgentState lists."""
    blocks: dict[str, list[Block]] = {a: [] for a in agent_ids}
    tools: dict[str, list[Tool]] = {a: [] for a in agent_ids}
    if not agent_ids:
        return blocks, tools
    block_rows = await session.execute(
        select(AgentBlock.agent_id, Block)
        .join(Block, AgentBlock.block_id == Block.id)
        .where(AgentBlock.agent_id.in_(agent_ids), AgentBlock.organization_id == org_id)
        .order_by(AgentBlock.position, Block.created_at)
    )
    for agent_id, block in block_rows:
        blocks[agent_id].append(block)
    tool_rows = await session.execute(
        select(AgentTool.agent_id, Tool)
        .join(Tool, AgentTool.tool_id == Tool.id)
        .where(AgentTool.agent_id.in_(agent_ids), AgentTool.organization_id == org_id)
        .order_by(AgentTool.position, Tool.name)
    )
    for agent_id, tool in tool_rows:
        tools[agent_id].append(tool)
    return blocks, tools


async def update_agent(session: AsyncSession, org_id: str, agent_id: str, changes: dict[str, Any]) -> Agent:
    """Apply column changes (wire names already mapped); `block_ids`/`tool_ids` replace the attached sets."""
    agent = await get_agent(session, org_id, agent_id)
    changes = dict(changes)
    if "agent_type" in changes and changes["agent_type"] not in AGENT_TYPES:
        raise InvalidInput(f"unknown agent_type {changes['agent_type']!r}; expected one of {', '.join(AGENT_TYPES)}")
    block_ids = changes.pop("block_ids", None)
    tool_ids = changes.pop("tool_ids", None)
    for key, value in changes.items():
        setattr(agent, key, value)
    agent.updated_at = utcnow()
    if block_ids is not None:
        current = [b.id for b in await block_store.list_agent_blocks(session, org_id, agent_id)]
        for block_id in current:
            if block_id not in block_ids:
                await block_store.detach_block(session, org_id, agent_id, block_id)
        for block_id in block_ids:
            await block_store.attach_block(session, org_id, agent_id, block_id)
    if tool_ids is not None:
        current = [t.id for t in await tool_store.list_agent_tools(session, org_id, agent_id)]
        for tool_id in current:
            if tool_id not in tool_ids:
                await tool_store.detach_tool(session, org_id, agent_id, tool_id)
        for tool_id in tool_ids:
            await tool_store.attach_tool(session, org_id, agent_id, tool_id)
    await session.flush()
    return agent
