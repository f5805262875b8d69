"""Context window compilation (reference B.6): the system prompt with core memory, and the message buffer.

The stored system row is recompiled only when its memory part changes (blocks, tool rules), so the
prompt prefix stays stable for provider prompt caching; the counts in `<memory_metadata>` refresh
with those recompiles, as in Letta.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from engram.context.directories import render_directories
from engram.context.window_cache import WindowCache
from engram.ids import new_id
from engram.llm.base import ChatMessage, ToolCall
from engram.store import agents as agent_store
from engram.store import blocks as block_store
from engram.store import messages as message_store
from engram.store.archives import visible_to_agent
from engram.store.models import Agent, Block, Message, Passage
from engram.store.models.base import utcnow
from engram.tools.rules import rule_sentence

_METADATA = re.compile(r"<memory_metadata>.*?</memory_metadata>", re.DOTALL)
_METADATA_PLACEHOLDER = "<memory_metadata></memory_metadata>"
INTERRUPTED_TOOL_RESULT = "Error: the tool call was interrupted before it returned."


def render_block(block: Block) -> str:
    meta = ["- read_only=true"] if block.read_only else []
    meta += [f"- chars_current={len(block.value)}", f"- chars_limit={block.limit}"]
    return "\n".join([
        f"<{block.label}>", "<description>", block.description or "", "</description>",
        "<metadata>", *meta, "</metadata>", "<value>", block.value, "</value>", f"</{block.label}>",
    ])  # fmt: skip


def render_memory_blocks(blocks: list[Block]) -> str:
    head = "<memory_blocks>\nThe following memory blocks are currently engaged in your core memory unit:\n\n"
    return head + "\n\n".join(render_block(b) for b in blocks) + "\n</memory_blocks>"


def render_tool_rules(rules: list[dict[str, Any]]) -> str:
    sentences = [s for s in (r.get("prompt_template") or rule_sentence(r) for r in rules) if s]
    if not sentences:
        return ""
    body = "\n".join(f"<tool_rule>\n{s}\n</tool_rule>" for s in sentences)
    return f"<tool_usage_rules>\nThe following constraints define rules for tool usage and guide desired behavior.\n{body}\n</tool_usage_rules>"


def local_time(when: datetime, timezone: str) -> str:
    try:
        zone = ZoneInfo(timezone or "UTC")
    except (KeyError, ValueError):
        zone = ZoneInfo("UTC")
    return when.astimezone(zone).strftime("%Y-%m-%d %I:%M:%S %p %Z%z")


def render_metadata(agent: Agent, conversation_id: str | None, recall: int, archival: int, now: datetime) -> str:
    lines = [
        "<memory_metadata>",
        f"- AGENT_ID: {agent.id}",
        f"- CONVERSATION_ID: {conversation_id or 'default'}",
        f"- System prompt last recompiled: {local_time(now, agent.timezone)}",
        f"- {recall} previous messages between you and the user are stored in recall memory (use tools to access them)",
    ]
    if archival > 0:
        lines.append(f"- {archival} total memories you created are stored in archival memory (use tools to access them)")
    return "\n".join([*lines, "</memory_metadata>"])


def compile_system_prompt(agent: Agent, blocks: list[Block], metadata: str, directories: str = "") -> str:
    """Memory blocks, tool rules, then (only with folders attached) `<directories>`, then the metadata."""
    sections = (render_memory_blocks(blocks), render_tool_rules(agent.tool_rules or []), directories)
    memory = "\n\n".join(p for p in sections if p)
    memory = f"{memory}\n\n{metadata}"
    if "{CORE_MEMORY}" in agent.system:
        return agent.system.replace("{CORE_MEMORY}", memory)
    return f"{agent.system}\n\n{memory}"


async def archival_count(session: AsyncSession, agent: Agent) -> int:
    scope = visible_to_agent(agent.organization_id, agent.id)
    count = await session.scalar(select(func.count()).select_from(Passage).where(scope))
    return int(count or 0)


async def refresh_system_message(
    session: AsyncSession, org_id: str, agent_id: str, *, conversation_id: str | None = None, force: bool = False
) -> Message:
    """Create the agent's system row, or recompile it when memory or rules changed (or `force`).

    The API calls this right after creating an agent so its message list starts with the system message.
    """
    from engram.store.conversations import context_holder

    agent = await agent_store.get_agent(session, org_id, agent_id)
    holder = await context_holder(session, agent, conversation_id)  # the agent, or the conversation's own row
    blocks = await block_store.list_agent_blocks(session, org_id, agent_id)
    existing = await message_store.find_message(session, org_id, holder.system_message_id) if holder.system_message_id else None
    directories = await render_directories(session, org_id, agent)
    if existing is not None and not force:
        # The counts in <memory_metadata> only refresh with a recompile, so compare the memory part first:
        # on most steps nothing changed, and counting means loading the whole in-context buffer.
        unchanged = compile_system_prompt(agent, blocks, _METADATA_PLACEHOLDER, directories)
        if _METADATA.sub("", existing.text) == _METADATA.sub("", unchanged):
            return existing
    in_context = len(await message_store.in_context_messages(session, agent, conversation_id))
    recall = max(0, await message_store.count_messages(session, org_id, agent_id) - in_context - 1)
    now = utcnow()
    metadata = render_metadata(agent, conversation_id, recall, await archival_count(session, agent), now)
    text = compile_system_prompt(agent, blocks, metadata, directories)
    if existing is None:
        # A new agent's row already names the id (engram/store/agents.py create_agent): no UPDATE of it.
        message_id = holder.system_message_id or new_id("message")
        stored = await message_store.insert_message_returning(session, {
            "id": message_id, "organization_id": org_id, "agent_id": agent_id, "role": "system",
            "conversation_id": conversation_id, "content": [], "text": text, "created_at": now,  # see row_content
        })  # fmt: skip
        if holder.system_message_id != message_id:
            holder.system_message_id = message_id
            holder.system_compiled_at = now
            await session.flush()
        return stored
    if force or _METADATA.sub("", existing.text) != _METADATA.sub("", text):
        existing.content = []  # the prompt lives in `text` (message_store.row_content)
        existing.text = text
        holder.system_compiled_at = now
        await session.flush()
    return existing


def packaged_tool_result(status_ok: bool, message: str, when: datetime, timezone: str) -> str:
    """What the model reads for a tool result (reference B.4): {"status", "message", "time"}."""
    return json.dumps({"status": "OK" if status_ok else "Failed", "message": message, "time": local_time(when, timezone)})


def to_chat_messages(system_text: str, rows: list[Any]) -> list[ChatMessage]:
    """The provider-neutral buffer: system, then rows; tool calls without results get an error result.

    A call's result follows its assistant message even when rows were stored in between (a message sent
    with an approval is stored before the approved tools run): providers reject anything else.
    """
    return [ChatMessage(role="system", content=system_text), *_convert(rows)]


@dataclass
class Converted:
    """One window's conversion, kept by the worker's window cache for the agent's next step."""

    versions: list[str]  # the rows' "position:xmin", in prompt order
    messages: list[ChatMessage]  # what they converted to (no system message)
    call_ids: set[str]  # tool calls made in those rows
    result_ids: set[str]  # tool results stored in those rows


def convert_window(
    system_text: str, rows: list[Any], versions: list[str], previous: Converted | None
) -> tuple[list[ChatMessage], Converted]:
    """`to_chat_messages`, converting only the rows appended since `previous` when that gives the same list.

    A step's window is usually the last step's plus a few rows, and converting all of it again was the
    part of a step that grew with the conversation. Reuse is exact only if the new rows neither answer a
    call of the old ones (that call showed the interrupted-result placeholder) nor have their own calls
    answered among the old ones; otherwise, and after any edit, delete or compaction, all is converted.
    """
    start = len(previous.versions) if previous is not None else 0
    kept = None
    if previous is not None and versions[:start] == previous.versions:
        tail = rows[start:]
        calls, results = _call_and_result_ids(tail)
        if not (results & previous.call_ids or calls & previous.result_ids):
            body = previous.messages + _convert(tail)
            kept = Converted(list(versions), body, previous.call_ids | calls, previous.result_ids | results)
    if kept is None:
        kept = Converted(list(versions), _convert(rows), *_call_and_result_ids(rows))
    return [ChatMessage(role="system", content=system_text), *kept.messages], kept


def _call_and_result_ids(rows: list[Any]) -> tuple[set[str], set[str]]:
    calls = {c["id"] for r in rows if r.role == "assistant" for c in r.tool_calls or []}
    return calls, {r.tool_call_id for r in rows if r.role == "tool" and r.tool_call_id}


def _convert(rows: list[Any]) -> list[ChatMessage]:
    out: list[ChatMessage] = []
    results: dict[str, Any] = {}
    for r in rows:
        if r.role == "tool" and r.tool_call_id:
            results.setdefault(r.tool_call_id, r)
    for row in rows:
        if row.role == "assistant":
            calls = [
                ToolCall(id=c["id"], name=c["function"]["name"], arguments=c["function"].get("arguments") or "")
                for c in row.tool_calls or []
            ]
            out.append(ChatMessage(role="assistant", content=row.text or None, tool_calls=calls, reasoning=row.reasoning))
            for call in calls:
                result = results.pop(call.id, None)
                if result is not None:
                    packaged = message_store.text_of(result.content) or result.text
                    out.append(ChatMessage(role="tool", content=packaged, tool_call_id=call.id, name=result.name))
                else:
                    out.append(ChatMessage(role="tool", content=INTERRUPTED_TOOL_RESULT, tool_call_id=call.id, name=call.name))
        elif row.role in ("user", "summary"):
            out.append(ChatMessage(role="user", content=row.text))
        elif row.role == "system":
            out.append(ChatMessage(role="system", content=row.text))
    return out


async def compile_context(
    session: AsyncSession, org_id: str, agent_id: str, conversation_id: str | None = None,
    cache: WindowCache | None = None,
) -> list[ChatMessage]:  # fmt: skip
    """Refresh the system row if memory changed, then return [system] + in-context messages.

    `cache` (the worker's): rows already decoded by an earlier step are not read again.
    """
    system = await refresh_system_message(session, org_id, agent_id, conversation_id=conversation_id)
    agent = await agent_store.get_agent(session, org_id, agent_id)
    if cache is None:
        return to_chat_messages(system.text, await message_store.in_context_chat_rows(session, agent, conversation_id))
    window = await cache.read(session, agent, conversation_id)
    messages, converted = convert_window(system.text, window.rows, window.versions, window.converted)
    cache.keep_converted(agent, conversation_id, converted)
    return messages
