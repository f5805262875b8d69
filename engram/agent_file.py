"""Agent File (`.af`, v2 multi-entity) export and import; no web framework here.

Ids inside a file are file-local (`agent-0`, `block-3`, `tool-5`, `message-12`); import mints fresh
ids and remaps every reference. Built-in tools are matched by name and never overwritten; custom tools
are created from their source (or overwrite a same-named tool when `override_existing_tools`).
Tools this build cannot run (unknown built-ins, MCP tools) are skipped rather than attached broken.

Sleep-time groups travel faithfully: exporting a primary agent that has a sleep-time agent writes both
agents (blocks shared by file-local id) and a `manager_type: sleeptime` group; importing such a group links
the imported pair with `engram.sleeptime.link_sleeptime_agent` (the sleep-time feature owns that boundary).
A file that only says `enable_sleeptime: true` gets a fresh sleep-time agent, as agent creation does.
Other group kinds (round robin, supervisor, dynamic), files, folders, MCP servers and skills are not imported.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from engram.errors import EngramError, InvalidInput
from engram.ids import new_id
from engram.schemas.agent import AGENT_TYPES, AgentSpec, BlockSpec
from engram.store import agents as agent_store
from engram.store import blocks as block_store
from engram.store import messages as message_store
from engram.store import tools as tool_store
from engram.store.models import Agent, Message, Tool
from engram.store.models.block import DEFAULT_BLOCK_LIMIT

SCHEMA_REVISION = "engram-0001"
MESSAGE_ROLES = ("system", "user", "assistant", "tool", "approval", "summary")
TOOL_FIELDS = ("description", "source_type", "source_code", "json_schema", "args_json_schema", "return_char_limit",
               "pip_requirements", "npm_requirements", "default_requires_approval", "enable_parallel_execution")  # fmt: skip


class AgentFileError(EngramError):
    """A document that is not a v2 Agent File (bad JSON, legacy v1, wrong shapes): HTTP 400."""


@dataclass
class ImportOptions:
    override_name: str | None = None
    append_copy_suffix: bool = False
    model: str | None = None  # handle applied to every imported agent
    embedding: str | None = None
    override_existing_tools: bool = True
    strip_messages: bool = False
    secrets: dict[str, str] = field(default_factory=dict)


# Callables the API layer passes in: (handle, context_window_limit) -> llm_config, handle -> embedding_config.
LlmConfigFor = Callable[[str, int | None], dict[str, Any]]
EmbeddingConfigFor = Callable[[str], dict[str, Any]]


# --- export ---------------------------------------------------------------------------------------


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


@dataclass
class _Member:
    """One agent of the exported document with what it references."""

    agent: Agent
    blocks: list[Any]
    tools: list[Tool]
    messages: list[Message]


async def export_agent(
    session: AsyncSession, org_id: str, agent_id: str, *, include_messages: bool = True
) -> dict[str, Any]:
    """The agent, its blocks, tools and (unless scrubbed) message history as one v2 Agent File document;
    with its sleep-time agent and their group when it has one."""
    from engram import sleeptime

    primary = await agent_store.get_agent(session, org_id, agent_id)
    group = await sleeptime.find_group(session, org_id, primary.id)
    agents = [primary]
    if group is not None:
        agents.append(await agent_store.get_agent(session, org_id, group.sleeptime_agent_id))
    members = []
    for agent in agents:
        history = select(Message).where(Message.agent_id == agent.id).order_by(Message.position)
        members.append(_Member(
            agent, await block_store.list_agent_blocks(session, org_id, agent.id),
            await tool_store.list_agent_tools(session, org_id, agent.id),
            list(await session.scalars(history)) if include_messages else [],
        ))  # fmt: skip
    blocks = list({b.id: b for m in members for b in m.blocks}.values())  # shared blocks once, first use order
    tools = list({t.id: t for m in members for t in m.tools}.values())
    block_ids = {b.id: f"block-{i}" for i, b in enumerate(blocks)}
    tool_ids = {t.id: f"tool-{i}" for i, t in enumerate(tools)}
    message_ids = {msg.id: f"message-{i}" for i, msg in enumerate(x for m in members for x in m.messages)}
    agent_docs = [
        _export_agent_doc(m, f"agent-{i}", block_ids, tool_ids, message_ids, ["group-0"] if group and i == 0 else [])
        for i, m in enumerate(members)
    ]  # fmt: skip
    groups = []
    if group is not None:
        groups.append({
            "id": "group-0", "agent_ids": ["agent-1"], "description": "", "project_id": None, "hidden": None,
            "shared_block_ids": [],
            "manager_config": {"manager_type": "sleeptime", "manager_agent_id": "agent-0",
                               "sleeptime_agent_frequency": group.frequency},
        })  # fmt: skip
    return {
        "agents": agent_docs, "groups": groups, "files": [], "sources": [], "mcp_servers": [], "skills": [],
        "blocks": [
            {"id": block_ids[b.id], "label": b.label, "value": b.value, "limit": b.limit,
             "description": b.description, "read_only": b.read_only, "hidden": b.hidden,
             "is_template": b.is_template, "template_name": b.template_name, "metadata": b.metadata_ or {},
             "tags": list(b.tags or [])}
            for b in blocks
        ],
        "tools": [
            {"id": tool_ids[t.id], "name": t.name, "tool_type": t.tool_type, "tags": list(t.tags or []),
             "metadata_": t.metadata_, **{f: getattr(t, f) for f in TOOL_FIELDS}}
            for t in tools
        ],
        "metadata": {"revision_id": SCHEMA_REVISION},
        "created_at": datetime.now(UTC).isoformat(),
    }  # fmt: skip


def _export_agent_doc(
    member: _Member, file_id: str, block_ids: dict[str, str], tool_ids: dict[str, str], message_ids: dict[str, str],
    group_ids: list[str],
) -> dict[str, Any]:  # fmt: skip
    agent, messages = member.agent, member.messages
    in_context = [
        message_ids[m.id] for m in messages
        if m.id in (agent.system_message_id, agent.summary_message_id) or m.position >= agent.context_start_position
    ]  # fmt: skip
    env = [{"key": k, "value": ""} for k in (agent.secrets or {})]
    return {
        "id": file_id, "name": agent.name, "agent_type": agent.agent_type, "system": agent.system,
        "description": agent.description, "metadata": agent.metadata_, "tags": list(agent.tags or []),
        "timezone": agent.timezone, "model": agent.model, "embedding": agent.embedding,
        "llm_config": agent.llm_config, "embedding_config": agent.embedding_config,
        "model_settings": agent.model_settings, "compaction_settings": agent.compaction_settings,
        "context_window_limit": agent.context_window_limit, "memory_blocks": [], "tools": [],
        "block_ids": [block_ids[b.id] for b in member.blocks], "tool_ids": [tool_ids[t.id] for t in member.tools],
        "tool_rules": list(agent.tool_rules or []), "include_base_tools": False, "include_base_tool_rules": False,
        "message_buffer_autoclear": agent.message_buffer_autoclear, "enable_sleeptime": agent.enable_sleeptime,
        "tool_exec_environment_variables": env, "secrets": env, "max_files_open": agent.max_files_open,
        "per_file_view_window_char_limit": agent.per_file_view_window_char_limit, "hidden": agent.hidden,
        "in_context_message_ids": in_context, "messages": [_export_message(m, message_ids, file_id) for m in messages],
        "files_agents": [], "group_ids": group_ids, "source_ids": [], "identity_ids": [],
    }  # fmt: skip


def _export_message(m: Message, ids: dict[str, str], agent_file_id: str) -> dict[str, Any]:
    return {
        "type": "message", "id": ids[m.id], "agent_id": agent_file_id, "role": m.role, "content": message_store.row_content(m),
        "name": m.name, "otid": m.otid, "sender_id": m.sender_id, "group_id": m.group_id, "batch_item_id": None,
        "model": m.model, "tool_calls": m.tool_calls, "tool_call_id": m.tool_call_id,
        "tool_returns": m.tool_returns, "approvals": m.approvals, "approve": None, "approval_request_id": None,
        "denial_reason": None, "created_at": _iso(m.created_at),
    }  # fmt: skip


# --- import ---------------------------------------------------------------------------------------


def parse_agent_file(raw: bytes | str) -> dict[str, Any]:
    """Decode a document; some published files are JSON-encoded twice (a JSON string holding JSON)."""
    try:
        doc: Any = json.loads(raw)
        if isinstance(doc, str):
            doc = json.loads(doc)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise AgentFileError(f"agent file is not valid JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise AgentFileError("agent file must be a JSON object")
    if "agents" not in doc:
        raise AgentFileError(
            "agent file has no 'agents' list: this looks like a legacy (v1) agent file; only the v2 multi-entity "
            "format is supported (re-export it from a current Letta or Engram)"
        )
    for key in ("agents", "blocks", "tools", "groups"):
        if not isinstance(doc.get(key) or [], list) or not all(isinstance(x, dict) for x in doc.get(key) or []):
            raise AgentFileError(f"agent file field {key!r} must be a list of objects")
    if not doc["agents"]:
        raise AgentFileError("agent file contains no agents")
    return doc


async def import_agent_file(
    session: AsyncSession, org_id: str, doc: dict[str, Any], options: ImportOptions, *,
    llm_config_for: LlmConfigFor, embedding_config_for: EmbeddingConfigFor, default_embedding: str,
) -> list[str]:  # fmt: skip
    """Create every agent in `doc` (with blocks, tools, messages); returns the new agent ids in file order."""
    block_map = {}
    for b in doc.get("blocks", []):
        spec = _block_spec(b)
        block_map[b.get("id")] = (await block_store.create_block(session, org_id, spec)).id
    tool_map = await _import_tools(session, org_id, doc.get("tools", []), options.override_existing_tools)

    agent_map: dict[Any, str] = {}
    agents: list[Agent] = []
    for index, a in enumerate(doc["agents"]):
        agent = await _import_agent(
            session, org_id, a, index, options, block_map, tool_map, llm_config_for, embedding_config_for,
            default_embedding,
        )  # fmt: skip
        if not options.strip_messages:
            await _import_messages(session, org_id, agent, a)
        agent_map[a.get("id")] = agent.id
        agents.append(agent)
    await _import_groups(session, org_id, doc.get("groups") or [], agent_map, agents)
    return [a.id for a in agents]


async def _import_groups(
    session: AsyncSession, org_id: str, groups: list[Any], agent_map: dict[Any, str], agents: list[Agent]
) -> None:
    """Link each sleep-time group's imported pair; agents asking for sleep-time without a group get one."""
    from engram import sleeptime

    linked: set[str] = set()
    for g in groups:
        if not isinstance(g, dict):
            raise AgentFileError("agent file field 'groups' must be a list of objects")
        config = g.get("manager_config") if isinstance(g.get("manager_config"), dict) else g
        if config.get("manager_type") != "sleeptime":
            continue  # round robin / supervisor / dynamic / voice groups: not supported, agents import alone
        manager = agent_map.get(config.get("manager_agent_id"))
        helpers = [agent_map[i] for i in g.get("agent_ids") or [] if i in agent_map and agent_map[i] != manager]
        if manager is None or not helpers or manager in linked:
            raise AgentFileError(f"sleep-time group {g.get('id')!r} does not name a manager agent and a sleep-time agent in this file")
        frequency = config.get("sleeptime_agent_frequency")
        frequency = frequency if isinstance(frequency, int) and frequency >= 1 else sleeptime.DEFAULT_FREQUENCY
        await sleeptime.link_sleeptime_agent(session, org_id, manager, helpers[0], frequency=frequency)
        linked.add(manager)
    for agent in agents:
        if agent.enable_sleeptime and agent.id not in linked and agent.agent_type != "sleeptime_agent":
            await sleeptime.create_sleeptime_agent(session, org_id, agent)


def _block_spec(b: dict[str, Any]) -> BlockSpec:
    if not isinstance(b.get("label"), str) or not b["label"]:
        raise InvalidInput(f"block {b.get('id')!r} in agent file has no label")
    limit = b.get("limit")
    return BlockSpec(
        label=b["label"], value=str(b.get("value") or ""),
        limit=limit if isinstance(limit, int) and limit > 0 else DEFAULT_BLOCK_LIMIT,
        description=b.get("description"), read_only=bool(b.get("read_only")), hidden=b.get("hidden"),
        is_template=bool(b.get("is_template")), template_name=b.get("template_name"),
        metadata=b.get("metadata") if isinstance(b.get("metadata"), dict) else None, tags=list(b.get("tags") or []),
    )  # fmt: skip


async def _import_tools(
    session: AsyncSession, org_id: str, tools: list[dict[str, Any]], override_existing: bool
) -> dict[str, str]:
    """file-local tool id -> real tool id, for the tools this build can run."""
    builtins = await tool_store.ensure_builtin_tools(session, org_id)
    mapping: dict[str, str] = {}
    for t in tools:
        name = t.get("name")
        if not isinstance(name, str) or not name:
            raise InvalidInput(f"tool {t.get('id')!r} in agent file has no name")
        if name in builtins:
            mapping[t["id"]] = builtins[name].id
            continue
        if t.get("tool_type", "custom") != "custom" or not t.get("source_code"):
            continue  # a Letta built-in we do not provide, or an MCP tool: not runnable here
        fields = {f: t.get(f) for f in TOOL_FIELDS if t.get(f) is not None}
        fields.update(
            name=name, tool_type="custom", tags=list(t.get("tags") or []), metadata_=t.get("metadata_")
        )
        existing = await tool_store.find_tool_by_name(session, org_id, name)
        if existing is not None and not override_existing:
            tool: Tool = existing
        else:
            tool = await tool_store.upsert_tool(session, org_id, fields)
        mapping[t["id"]] = tool.id
    return mapping


async def _import_agent(
    session: AsyncSession, org_id: str, a: dict[str, Any], index: int, options: ImportOptions,
    block_map: dict[str, str], tool_map: dict[str, str], llm_config_for: LlmConfigFor,
    embedding_config_for: EmbeddingConfigFor, default_embedding: str,
) -> Agent:  # fmt: skip
    file_llm = a.get("llm_config") if isinstance(a.get("llm_config"), dict) else {}
    handle = options.model or a.get("model") or file_llm.get("handle")
    if not isinstance(handle, str) or not handle:
        raise InvalidInput(f"agent {a.get('id')!r} in agent file names no model")
    try:
        llm = llm_config_for(handle, a.get("context_window_limit"))
    except InvalidInput:
        if options.model or not file_llm.get("model_endpoint_type"):
            raise
        llm = file_llm  # a model this server does not know: keep the file's config; PATCH the model to run it
    embedding = options.embedding or a.get("embedding") or (a.get("embedding_config") or {}).get("handle")
    try:
        embedding_config = embedding_config_for(embedding or default_embedding)
    except InvalidInput:
        if options.embedding:
            raise
        embedding, embedding_config = default_embedding, embedding_config_for(default_embedding)

    name = a.get("name") or f"imported-agent-{index}"
    if index == 0 and options.override_name:
        name = options.override_name
    if options.append_copy_suffix:
        name = f"{name}_copy"
    agent_type = a.get("agent_type") or "letta_v1_agent"
    if agent_type not in AGENT_TYPES:
        raise InvalidInput(f"agent {name!r} has unknown agent_type {agent_type!r}")
    secrets = _file_secrets(a)
    secrets.update(options.secrets)
    spec = AgentSpec(
        name=name, agent_type=agent_type, system=a.get("system"), description=a.get("description"),
        model=handle, embedding=embedding, context_window_limit=a.get("context_window_limit"),
        model_settings=a.get("model_settings"), compaction_settings=a.get("compaction_settings"),
        tags=list(a.get("tags") or []), metadata=a.get("metadata") if isinstance(a.get("metadata"), dict) else None,
        timezone=a.get("timezone") or "UTC", block_ids=[block_map[b] for b in a.get("block_ids") or [] if b in block_map],
        tool_ids=list(dict.fromkeys(tool_map[t] for t in a.get("tool_ids") or [] if t in tool_map)),
        include_base_tools=False, include_base_tool_rules=False,
        tool_rules=[r for r in a.get("tool_rules") or [] if isinstance(r, dict)], secrets=secrets,
        message_buffer_autoclear=bool(a.get("message_buffer_autoclear")),
        enable_sleeptime=bool(a.get("enable_sleeptime")), max_files_open=a.get("max_files_open"),
        per_file_view_window_char_limit=a.get("per_file_view_window_char_limit"), hidden=a.get("hidden"),
    )  # fmt: skip
    return await agent_store.create_agent(
        session, org_id, spec, llm_config=llm, embedding_config=embedding_config
    )


def _file_secrets(a: dict[str, Any]) -> dict[str, str]:
    raw = a.get("secrets") or a.get("tool_exec_environment_variables") or []
    if isinstance(raw, dict):
        return {str(k): str(v or "") for k, v in raw.items()}
    return {str(s["key"]): str(s.get("value") or "") for s in raw if isinstance(s, dict) and "key" in s}


def _content_parts(content: Any) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    return [p for p in content or [] if isinstance(p, dict)]


async def _import_messages(session: AsyncSession, org_id: str, agent: Agent, a: dict[str, Any]) -> None:
    """Insert the history in file order; the in-context ids decide the agent's context window."""
    rows: dict[str, Message] = {}
    for m in a.get("messages") or []:
        role = m.get("role")
        if role not in MESSAGE_ROLES:
            raise InvalidInput(f"message {m.get('id')!r} in agent file has unknown role {role!r}")
        parts = _content_parts(m.get("content"))
        created = m.get("created_at")
        try:
            created_at = datetime.fromisoformat(created) if isinstance(created, str) else datetime.now(UTC)
        except ValueError:
            created_at = datetime.now(UTC)
        if created_at.tzinfo is None:
            created_at = created_at.replace(tzinfo=UTC)
        reasoning = "\n".join(p.get("reasoning") or "" for p in parts if p.get("type") == "reasoning") or None
        row = Message(
            id=new_id("message"), organization_id=org_id, agent_id=agent.id, role=role, content=parts,
            text="\n".join(p.get("text") or "" for p in parts if p.get("type") == "text"), reasoning=reasoning,
            name=m.get("name"), tool_calls=m.get("tool_calls") or None, tool_call_id=m.get("tool_call_id"),
            tool_returns=m.get("tool_returns") or None, approvals=m.get("approvals") or None, otid=m.get("otid"),
            sender_id=m.get("sender_id"), group_id=None, model=m.get("model"), created_at=created_at,
        )  # fmt: skip
        session.add(row)
        await session.flush()  # one at a time, so `position` follows file order
        rows[m.get("id")] = row
    if not rows:
        return
    result = await session.execute(select(Message.id, Message.position).where(Message.agent_id == agent.id))
    positions: dict[str, int] = {row[0]: row[1] for row in result.all()}
    in_context = [rows[i] for i in a.get("in_context_message_ids") or [] if i in rows]
    if in_context and in_context[0].role == "system":
        agent.system_message_id = in_context[0].id
        in_context = in_context[1:]
    if in_context:
        agent.context_start_position = min(positions[r.id] for r in in_context)
    else:
        agent.context_start_position = max(positions.values()) + 1
    await session.flush()
