"""Compaction: when the context window fills up, older in-context messages are summarized and evicted.

Letta's sliding window, in our words: evict from the oldest end, starting at 30 % of the messages and
growing by 10 %, until the rest fits in ~70 % of the window; cut only where a user message starts, so a
tool call is never separated from its return. The evicted span (with any earlier summary) is summarized
by the agent's own model (the offline demo model cannot write summaries, so it gets an extractive one),
stored as a summary message rendered right after the system prompt, and the context start moves past the
span. Evicted messages stay in recall memory, searchable with conversation_search.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from engram.config import Settings
from engram.context.compiler import refresh_system_message, to_chat_messages
from engram.errors import EngramError
from engram.ids import derived_id
from engram.llm import registry
from engram.llm.base import ChatMessage, LlmRequest
from engram.llm.tokens import CHARS_PER_TOKEN, SAFETY_MARGIN, estimate_text_tokens, estimate_tokens
from engram.store import agents as agent_store
from engram.store import messages as message_store
from engram.store import tools as tool_store
from engram.store.models import Agent, MemoryOp, Message

TRIGGER_FRACTION = 0.9  # Letta's SUMMARIZATION_TRIGGER_MULTIPLIER
TARGET_FRACTION = 0.7  # what should remain after a sliding-window compaction
FIRST_EVICTION, EVICTION_STEP = 0.3, 0.1
SUMMARY_CLIP_CHARS = 50_000  # Letta's clip_chars
SUMMARY_WINDOW_SHARE = 0.15  # and never more than this share of the window (~4 chars per token)
MIN_SUMMARY_CHARS = 200  # even a crowded window keeps a short summary
NOTE_CHARS = 250  # the "N messages ... hidden from view" note around the summary
SUMMARIZER_INPUT_SHARE = 0.6  # a transcript chunk fills at most this share of the summarizer's window
DEFAULT_CONTEXT_WINDOW = 128_000
OFFLINE_HANDLE = "engram/offline"

SUMMARY_PROMPT = (
    "You are summarizing the earlier part of a conversation between an AI agent (assistant) and a user, so "
    "the agent can continue it after those messages leave its context window. Write in the first person as "
    "the agent, under 300 words, with sections: goals, what happened, important details (keep names, ids, "
    "numbers and dates verbatim), open questions. Reply with the summary only."
)


log = logging.getLogger(__name__)


class SystemPromptTooLarge(EngramError):
    """The system prompt alone does not fit the context window; compaction cannot help."""


@dataclass(frozen=True)
class CompactionResult:
    num_messages_before: int
    num_messages_after: int
    summary: str


def context_window(agent: Agent, thread_limit: int | None = None) -> int:
    """The model's window, capped by the agent's limit and by the conversation's own (`thread_limit`)."""
    window = (agent.llm_config or {}).get("context_window") or DEFAULT_CONTEXT_WINDOW
    for limit in (agent.context_window_limit, thread_limit):
        if limit:
            window = min(window, limit)
    return window


def needs_compaction(agent: Agent, messages: list[ChatMessage], tools: list, thread_limit: int | None = None) -> bool:
    return estimate_tokens(messages, tools) > TRIGGER_FRACTION * context_window(agent, thread_limit)


def _cut_points(rows: list[Message]) -> list[int]:
    """Indexes where eviction may stop: before a user message (never inside a tool call/return pair)."""
    return [i for i, row in enumerate(rows) if i > 0 and row.role == "user"]


def choose_cut(system_text: str, rows: list[Message], window: int, reserve: int = 0) -> int:
    """How many of the oldest rows to evict (0 = nothing can be evicted). `reserve` counts tokens that
    will sit beside the kept rows but are not in them: tool schemas and the summary about to be written."""
    cuts = _cut_points(rows)
    if not cuts:
        return 0
    goal, fraction = TARGET_FRACTION * window - reserve, FIRST_EVICTION
    while fraction < 1.0:
        wanted = round(fraction * len(rows))
        cut = max((c for c in cuts if c <= wanted), default=cuts[0])
        if estimate_tokens(to_chat_messages(system_text, rows[cut:]), []) <= goal:
            return cut
        fraction += EVICTION_STEP
    return cuts[-1]  # keep at least the turn being answered


def _transcript(rows: list[Message]) -> str:
    lines = []
    for row in rows:
        calls = ", ".join(c["function"]["name"] for c in row.tool_calls or [])
        text = _plain_text(row) or (f"[called {calls}]" if calls else "")
        if text:
            lines.append(f"{row.role}: {text}")
    return "\n".join(lines)


def _plain_text(row: Message) -> str:
    """A message's text, with an earlier summary unwrapped from its system_alert JSON."""
    if row.text.startswith('{"type": "system_alert"'):
        try:
            return str(json.loads(row.text)["message"]).split("previous messages:\n", 1)[-1].strip()
        except (ValueError, KeyError):
            return row.text
    return row.text


def extractive_summary(rows: list[Message], limit_lines: int = 30) -> str:
    lines = [f"- {row.role}: {_plain_text(row)[:100]}" for row in rows if row.role in ("user", "assistant") and row.text]
    return "Earlier messages (abridged):\n" + "\n".join(lines[-limit_lines:])


def _chunks(rows: list[Message], budget_chars: int) -> list[list[Message]]:
    """Consecutive runs of rows whose transcript fits the summarizer's own window."""
    chunks: list[list[Message]] = [[]]
    size = 0
    for row in rows:
        length = len(_transcript([row])) + 1
        if chunks[-1] and size + length > budget_chars:
            chunks.append([])
            size = 0
        chunks[-1].append(row)
        size += length
    return chunks


async def _summarize(agent: Agent, settings: Settings, rows: list[Message]) -> str:
    """The span's summary by the agent's model; a span larger than the model's window is summarized in
    chunks, each chunk's summary carried into the next. If the model fails, the summary is extractive
    (with a note), so a compaction never leaves the agent stuck on an overflowing context."""
    if agent.model == OFFLINE_HANDLE:
        return extractive_summary(rows)
    try:
        provider, model = registry.resolve(agent.model, settings)
        window = (agent.llm_config or {}).get("context_window") or DEFAULT_CONTEXT_WINDOW
        budget_chars = int(window * SUMMARIZER_INPUT_SHARE * 4 / 1.3)
        summary = ""
        for chunk in _chunks(rows, budget_chars):
            transcript = _transcript(chunk)
            if summary:
                transcript = f"Summary of the conversation before this part:\n{summary}\n\nContinuation:\n{transcript}"
            request = LlmRequest(model=model, messages=[
                ChatMessage(role="system", content=SUMMARY_PROMPT), ChatMessage(role="user", content=transcript),
            ])  # fmt: skip
            response = await provider.complete(request)
            summary = (response.content or "").strip() or summary
        return summary or extractive_summary(rows)
    except Exception as exc:  # noqa: BLE001 - any provider failure: fall back, never fail the turn
        log.warning("agent %s: summarizer failed (%s); using an extractive summary", agent.id, exc)
        return f"(The summarizer was unavailable, so this is an abridged transcript.)\n{extractive_summary(rows)}"


def _summary_clip(window: int) -> int:
    return min(SUMMARY_CLIP_CHARS, int(window * 4 * SUMMARY_WINDOW_SHARE))


def _summary_text(evicted: int, summary: str, now: datetime, clip: int) -> str:
    if len(summary) > clip:
        summary = summary[:clip] + "... [summary truncated to fit]"
    note = (
        f"Note: {evicted} messages from the beginning of the conversation have been hidden from view due to "
        f"memory constraints.\nThe following is a summary of the previous messages:\n {summary}"
    )
    return json.dumps({"type": "system_alert", "message": note, "time": now.isoformat()})


async def compact(
    session: AsyncSession, settings: Settings, org_id: str, agent_id: str, *, op_id: str,
    conversation_id: str | None = None,
) -> CompactionResult:  # fmt: skip
    """Summarize and evict the oldest in-context messages. The summary row id derives from `op_id`,
    so a retried call writes nothing twice."""
    done = await session.get(MemoryOp, op_id)
    if done is not None:
        return CompactionResult(**done.result)
    result = await _compact(session, settings, org_id, agent_id, op_id, conversation_id)
    await session.execute(pg_insert(MemoryOp).values(
        op_id=op_id, organization_id=org_id, result=result.__dict__).on_conflict_do_nothing())  # fmt: skip
    return result


async def _compact(
    session: AsyncSession, settings: Settings, org_id: str, agent_id: str, op_id: str, conversation_id: str | None
) -> CompactionResult:
    from engram.store.conversations import context_holder

    agent = await agent_store.get_agent(session, org_id, agent_id)
    holder = await context_holder(session, agent, conversation_id)  # the agent, or the conversation's own row
    system = await refresh_system_message(session, org_id, agent_id, conversation_id=conversation_id)
    window = context_window(agent, holder.context_window_limit)
    tools = sum(estimate_text_tokens(json.dumps(t.json_schema or {})) for t in
                await tool_store.list_agent_tools(session, org_id, agent_id))  # fmt: skip
    if estimate_tokens([ChatMessage(role="system", content=system.text)], []) + tools > TRIGGER_FRACTION * window:
        raise SystemPromptTooLarge(
            f"the system prompt and tool schemas alone exceed {TRIGGER_FRACTION} x the context window of {window} tokens"
        )
    rows = await message_store.in_context_messages(session, agent, conversation_id)
    before = len(rows) + 1
    clip = _summary_clip(window)
    cut = choose_cut(system.text, rows, window, reserve=tools + estimate_text_tokens("x" * (clip + NOTE_CHARS)))
    if cut == 0:
        return CompactionResult(before, before, "")
    evicted, kept = rows[:cut], rows[cut:]
    summary = await _summarize(agent, settings, evicted)
    # Shrink the summary if the kept turns leave less room than planned (one long last turn).
    room = TARGET_FRACTION * window - tools - estimate_tokens(to_chat_messages(system.text, kept), [])
    clip = max(MIN_SUMMARY_CHARS, min(clip, int(room / SAFETY_MARGIN * CHARS_PER_TOKEN) - NOTE_CHARS))
    now = datetime.now(UTC)
    text = _summary_text(len(evicted), summary, now, clip)
    summary_id = derived_id("message", op_id, "summary")
    await message_store.insert_messages(session, [{
        "id": summary_id, "organization_id": org_id, "agent_id": agent_id, "conversation_id": conversation_id,
        "role": "user", "content": [{"type": "text", "text": text}], "text": text, "created_at": now,
    }])  # fmt: skip
    holder.summary_message_id = summary_id
    holder.context_start_position = kept[0].position
    await session.flush()
    await refresh_system_message(session, org_id, agent_id, conversation_id=conversation_id, force=True)
    return CompactionResult(before, len(kept) + 2, summary)
