"""The context-window overview (Letta's `ContextWindowOverview`): what the next LLM call would carry, by section.

Read-only: the system prompt is compiled in memory from the agent's current blocks and rules (never saved),
so the overview reflects an edit made a moment ago even though the stored system row is only recompiled at
the next turn. The sections are cut out of that compiled text by their tags, as Letta does, and counted with
the same estimator the agent loop uses for its own compaction decisions (`engram.llm.tokens`), so the bar a
person sees and the threshold the agent acts on agree. `context_window_size_current` is the sum of the
`num_tokens_*` fields (Letta's own tests assert that equality).
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from engram.context import compiler
from engram.context.compaction import context_window
from engram.context.directories import render_directories
from engram.llm.tokens import estimate_text_tokens
from engram.store import agents as agent_store
from engram.store import blocks as block_store
from engram.store import messages as message_store
from engram.store import tools as tool_store
from engram.store.conversations import context_holder
from engram.store.models import Message
from engram.store.models.base import utcnow

SUMMARY_MARKER = "The following is a summary of the previous "
_SECTION_TAGS = ("memory_blocks", "tool_usage_rules", "directories", "memory_metadata", "memory_filesystem")


@dataclass
class ContextOverview:
    """Field names and meanings are Letta's (reference: letta-files-conversations-context.md section 3.2)."""

    context_window_size_max: int
    context_window_size_current: int
    num_messages: int
    num_archival_memory: int
    num_recall_memory: int
    num_tokens_external_memory_summary: int
    external_memory_summary: str
    num_tokens_system: int
    system_prompt: str
    num_tokens_core_memory: int
    core_memory: str
    num_tokens_summary_memory: int
    summary_memory: str | None
    num_tokens_functions_definitions: int
    functions_definitions: list[dict[str, Any]] | None
    num_tokens_messages: int
    messages: list[dict[str, Any]]
    num_tokens_memory_filesystem: int = 0
    memory_filesystem: str | None = None
    num_tokens_tool_usage_rules: int = 0
    tool_usage_rules: str | None = None
    num_tokens_directories: int = 0
    directories: str | None = None
    sections: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("sections")
        return out


def _span(text: str, tag: str) -> str | None:
    match = re.search(rf"<{tag}>.*?</{tag}>", text, re.DOTALL)
    return match.group(0) if match else None


def _base_instructions(text: str, fallback: str) -> str:
    """`<base_instructions>` span, else the text before the first section tag, else the agent's `system`."""
    span = _span(text, "base_instructions")
    if span:
        return span
    starts = [text.find(f"<{tag}>") for tag in _SECTION_TAGS if f"<{tag}>" in text]
    head = text[: min(starts)].strip() if starts else ""
    return head or fallback


def _is_summary(row: Message) -> bool:
    return row.role == "summary" or (row.role == "user" and SUMMARY_MARKER in (row.text or ""))


def _wire_message(row: Message) -> dict[str, Any]:
    """The internal message as Letta's `Message` model shows it (only `role` is required there)."""
    return {
        "id": row.id, "role": row.role, "content": message_store.row_content(row) or None,
        "name": row.name, "tool_calls": row.tool_calls, "tool_call_id": row.tool_call_id,
        "tool_returns": row.tool_returns, "agent_id": row.agent_id, "conversation_id": row.conversation_id,
        "run_id": row.run_id, "step_id": row.step_id, "model": row.model, "otid": row.otid,
        "created_at": row.created_at.isoformat() if row.created_at else None,
    }  # fmt: skip


def _tokens(value: Any) -> int:
    if value is None:
        return 0
    return estimate_text_tokens(value if isinstance(value, str) else json.dumps(value))


async def context_overview(
    session: AsyncSession, org_id: str, agent_id: str, conversation_id: str | None = None
) -> ContextOverview:
    """The overview of one thread's window (the agent's own thread, or a conversation's); writes nothing."""
    agent = await agent_store.get_agent(session, org_id, agent_id)
    rows = await message_store.in_context_messages(session, agent, conversation_id)
    blocks = await block_store.list_agent_blocks(session, org_id, agent_id)
    tools = await tool_store.list_agent_tools(session, org_id, agent_id)
    total_messages = await message_store.count_messages(session, org_id, agent_id)
    archival = await compiler.archival_count(session, agent)
    recall_hidden = max(0, total_messages - len(rows) - 1)
    metadata = compiler.render_metadata(agent, conversation_id, recall_hidden, archival, utcnow())
    folders_section = await render_directories(session, org_id, agent)
    system_text = compiler.compile_system_prompt(agent, blocks, metadata, folders_section)

    summary_rows = [r for r in rows[:1] if _is_summary(r)]
    buffer = rows[len(summary_rows) :]
    summary = summary_rows[0].text if summary_rows else None
    chat = compiler.to_chat_messages("", buffer)[1:]  # the provider-format buffer, without the system message
    functions = [{"type": "function", "function": t.json_schema or {"name": t.name}} for t in tools] or None
    system_row = await _system_row(session, org_id, agent, conversation_id)
    wire = [_wire_message(r) for r in ([system_row] if system_row else []) + rows]
    if wire and system_row is not None:
        wire[0]["content"] = [{"type": "text", "text": system_text}]  # as compiled now, not as last stored

    external = _span(system_text, "memory_metadata") or ""
    core = _span(system_text, "memory_blocks") or ""
    rules = _span(system_text, "tool_usage_rules")
    directories = _span(system_text, "directories")
    filesystem = _span(system_text, "memory_filesystem")
    base = _base_instructions(system_text, agent.system)
    sections = {
        "system": _tokens(base),
        "functions_definitions": _tokens(functions),
        "core_memory": _tokens(core),
        "tool_usage_rules": _tokens(rules),
        "directories": _tokens(directories),
        "memory_filesystem": _tokens(filesystem),
        "external_memory_summary": _tokens(external),
        "summary_memory": _tokens(summary),
        "messages": _tokens([_chat_dict(m) for m in chat]) if chat else 0,
    }
    window = context_window(agent, (await context_holder(session, agent, conversation_id)).context_window_limit)
    return ContextOverview(
        context_window_size_max=window, context_window_size_current=sum(sections.values()),
        num_messages=len(wire), num_archival_memory=archival, num_recall_memory=total_messages,
        num_tokens_external_memory_summary=sections["external_memory_summary"], external_memory_summary=external,
        num_tokens_system=sections["system"], system_prompt=base,
        num_tokens_core_memory=sections["core_memory"], core_memory=core,
        num_tokens_summary_memory=sections["summary_memory"], summary_memory=summary,
        num_tokens_functions_definitions=sections["functions_definitions"], functions_definitions=functions,
        num_tokens_messages=sections["messages"], messages=wire,
        num_tokens_memory_filesystem=sections["memory_filesystem"], memory_filesystem=filesystem,
        num_tokens_tool_usage_rules=sections["tool_usage_rules"], tool_usage_rules=rules,
        num_tokens_directories=sections["directories"], directories=directories, sections=sections,
    )  # fmt: skip


async def _system_row(
    session: AsyncSession, org_id: str, agent: Any, conversation_id: str | None
) -> Message | None:
    holder = await context_holder(session, agent, conversation_id)
    if not holder.system_message_id:
        return None
    return await message_store.find_message(session, org_id, holder.system_message_id)


def _chat_dict(message: Any) -> dict[str, Any]:
    """OpenAI chat format, which is what Letta counts for `num_tokens_messages`."""
    out: dict[str, Any] = {"role": message.role, "content": message.content}
    if message.tool_calls:
        out["tool_calls"] = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for c in message.tool_calls
        ]
    if message.tool_call_id:
        out["tool_call_id"] = message.tool_call_id
    return out
