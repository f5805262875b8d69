"""Sleep-time memory consolidation: the background agent, its group, and the transcript windows it reviews.

A primary agent with `enable_sleeptime` gets a second agent `<name>-sleeptime` (agent_type
sleeptime_agent) that shares every block of the primary, has its own `memory_persona` block, and only
the memory-editing tools. The group row (Letta's `manager_type=sleeptime` group) counts completed turns
and remembers how far the agent's own thread has been reviewed; each conversation (a private thread)
has its own counter and reviewed mark (`SleeptimeThread`), so a pass never mixes two users' threads.

Two things wake the sleep-time agent (the Temporal side lives in workflows/sleeptime.py):
  * every `frequency` completed turns of the primary (`count_turn`, called after the turn finished);
  * the agent's Temporal Schedule (`claim_window` from the scheduled workflow; the agent's own thread).
Both hand it a window of *complete* turns: rows of runs still in flight are never included, and the
window is claimed in the transaction that creates the sleep-time run carrying it, so two runs never get
the same messages. A run that fails hands its window back (`release_window`).

Repositories here follow the house rule: they take `session` first and never commit.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from engram.context.compiler import refresh_system_message
from engram.errors import InvalidInput, NotFound
from engram.ids import derived_uuid, id_from_uuid, new_id
from engram.schemas.agent import AgentSpec, BlockSpec
from engram.store import agents as agent_store
from engram.store import blocks as block_store
from engram.store import runs as run_store
from engram.store.models import Agent, Block, Message, Run, SleeptimeGroup, SleeptimeThread

DEFAULT_FREQUENCY = 5
SLEEPTIME_RUN_TYPE = "sleeptime_agent_send_message_async"  # Letta's run metadata.run_type
SLEEPTIME_MAX_STEPS = 10
TRANSCRIPT_MAX_CHARS = 40_000
WINDOW_MAX_ROWS = 500  # a first pass over a long history reviews its newest rows only
PERSONA_LABEL = "memory_persona"
DEFAULT_PERSONA = (
    "I am a sleep-time memory agent. I review conversations my primary agent already had and keep its "
    "memory blocks accurate: I add durable facts about the user, fix outdated ones, remove duplicates, and "
    "keep every block short and well organised. I never invent facts."
)
REMINDER = (
    "<system-reminder>\n"
    "You are a sleep-time agent: a background agent reviewing a conversation that already happened. In it, "
    '"assistant" is the primary agent and "user" is the primary agent\'s user. You cannot talk to either. '
    "Your job is memory management: update the shared memory blocks with what is worth keeping from these "
    "messages, using memory_insert, memory_replace and memory_rethink. Check your memory_persona block for "
    "guidance. Call memory_finish_edits when you are done.\n"
    "</system-reminder>\n"
)


@dataclass
class ScheduleSpec:
    """When the agent's Temporal Schedule fires: every `interval_s` seconds or on `cron` (one of them)."""

    interval_s: float | None = None
    cron: str | None = None
    jitter_s: float = 0.0
    catchup_window_s: float = 300.0
    paused: bool = False

    def validate(self) -> None:
        if (self.interval_s is None) == (self.cron is None):
            raise InvalidInput("a sleep-time schedule needs exactly one of interval_seconds or cron")
        if self.interval_s is not None and self.interval_s < 1:
            raise InvalidInput(f"interval_seconds must be at least 1, got {self.interval_s}")
        if self.cron is not None and len(self.cron.split()) not in (5, 6, 7) and not self.cron.startswith("@"):
            raise InvalidInput(f"cron {self.cron!r} is not a cron expression (5 fields, e.g. '0 3 * * *')")
        if self.jitter_s < 0 or self.catchup_window_s < 0:
            raise InvalidInput("jitter_seconds and catchup_window_seconds must not be negative")


def schedule_of(group: SleeptimeGroup) -> ScheduleSpec | None:
    if group.schedule_interval_s is None and group.schedule_cron is None:
        return None
    return ScheduleSpec(group.schedule_interval_s, group.schedule_cron, group.schedule_jitter_s,
                        group.schedule_catchup_window_s, group.schedule_paused)  # fmt: skip


def set_schedule(group: SleeptimeGroup, spec: ScheduleSpec | None) -> None:
    if spec is not None:
        spec.validate()
    group.schedule_interval_s = spec.interval_s if spec else None
    group.schedule_cron = spec.cron if spec else None
    group.schedule_jitter_s = spec.jitter_s if spec else 0.0
    group.schedule_catchup_window_s = spec.catchup_window_s if spec else 300.0
    group.schedule_paused = spec.paused if spec else False


# --- the group and its agent ----------------------------------------------------------------------


async def find_group(session: AsyncSession, org_id: str, primary_agent_id: str) -> SleeptimeGroup | None:
    return await session.scalar(
        select(SleeptimeGroup).where(
            SleeptimeGroup.organization_id == org_id, SleeptimeGroup.manager_agent_id == primary_agent_id
        )
    )


async def groups_of(session: AsyncSession, org_id: str, agent_ids: list[str]) -> dict[str, SleeptimeGroup]:
    """Groups managed by any of `agent_ids`, keyed by manager (for hydrating AgentState lists)."""
    if not agent_ids:
        return {}
    rows = await session.scalars(
        select(SleeptimeGroup).where(
            SleeptimeGroup.organization_id == org_id, SleeptimeGroup.manager_agent_id.in_(agent_ids)
        )
    )
    return {g.manager_agent_id: g for g in rows}


async def create_sleeptime_agent(
    session: AsyncSession, org_id: str, primary: Agent, *, frequency: int | None = DEFAULT_FREQUENCY,
    persona: str = DEFAULT_PERSONA,
) -> SleeptimeGroup:  # fmt: skip
    """Create `<name>-sleeptime` sharing the primary's blocks, and the group linking them (idempotent).

    This is what `enable_sleeptime: true` does on create and update. Agent File import, which brings its
    own sleep-time agent, uses `link_sleeptime_agent` instead.
    """
    existing = await find_group(session, org_id, primary.id)
    if existing is not None:
        await sync_shared_blocks(session, org_id, existing)
        return existing
    if primary.agent_type == "sleeptime_agent":
        raise InvalidInput("a sleep-time agent cannot itself have a sleep-time agent")
    shared = await block_store.list_agent_blocks(session, org_id, primary.id)
    own = [] if any(b.label == PERSONA_LABEL for b in shared) else [BlockSpec(label=PERSONA_LABEL, value=persona)]
    spec = AgentSpec(
        name=f"{primary.name}-sleeptime", agent_type="sleeptime_agent", model=primary.model,
        embedding=primary.embedding, context_window_limit=primary.context_window_limit, timezone=primary.timezone,
        memory_blocks=own, block_ids=[b.id for b in shared], include_base_tools=True,
        description=f"Sleep-time memory agent of {primary.id}", tags=["sleeptime"],
    )  # fmt: skip
    helper = await agent_store.create_agent(
        session, org_id, spec, llm_config=dict(primary.llm_config or {}), embedding_config=primary.embedding_config
    )
    await refresh_system_message(session, org_id, helper.id)
    return await link_sleeptime_agent(session, org_id, primary.id, helper.id, frequency=frequency)


async def link_sleeptime_agent(
    session: AsyncSession, org_id: str, primary_agent_id: str, sleeptime_agent_id: str, *,
    frequency: int | None = DEFAULT_FREQUENCY, schedule: ScheduleSpec | None = None,
) -> SleeptimeGroup:  # fmt: skip
    """Record an existing agent as the primary's sleep-time agent (Agent File import uses this)."""
    if frequency is not None and frequency < 1:
        raise InvalidInput(f"sleeptime_agent_frequency must be at least 1, got {frequency}")
    primary = await agent_store.get_agent(session, org_id, primary_agent_id)
    await agent_store.get_agent(session, org_id, sleeptime_agent_id)
    group = SleeptimeGroup(
        id=new_id("group"), organization_id=org_id, manager_agent_id=primary_agent_id,
        sleeptime_agent_id=sleeptime_agent_id, frequency=frequency, turns_counter=0, last_processed_position=0,
    )  # fmt: skip
    set_schedule(group, schedule)
    session.add(group)
    primary.enable_sleeptime = True
    await session.flush()
    return group


async def sync_shared_blocks(session: AsyncSession, org_id: str, group: SleeptimeGroup) -> None:
    """Attach to the sleep-time agent any block the primary gained since (labels it lacks only)."""
    theirs = await block_store.list_agent_blocks(session, org_id, group.manager_agent_id)
    mine = {b.label for b in await block_store.list_agent_blocks(session, org_id, group.sleeptime_agent_id)}
    for block in theirs:
        if block.label not in mine:
            await block_store.attach_block(session, org_id, group.sleeptime_agent_id, block.id)


async def delete_sleeptime(session: AsyncSession, org_id: str, primary_agent_id: str) -> SleeptimeGroup | None:
    """Delete the group and its sleep-time agent (with the blocks only it uses); returns the old group."""
    group = await find_group(session, org_id, primary_agent_id)
    if group is None:
        return None
    helper_id = group.sleeptime_agent_id
    shared = {b.id for b in await block_store.list_agent_blocks(session, org_id, primary_agent_id)}
    own = [b for b in await block_store.list_agent_blocks(session, org_id, helper_id) if b.id not in shared]
    await session.delete(group)
    await session.flush()
    try:
        await agent_store.delete_agent(session, org_id, helper_id)
    except NotFound:
        pass
    for block in own:
        await session.delete(block)
    await session.flush()
    return group


def managed_group(group: SleeptimeGroup, shared_block_ids: list[str] | None = None) -> dict[str, Any]:
    """Letta's `ManagedGroup` / `multi_agent_group` object for AgentState."""
    return {
        "id": group.id, "agent_ids": [group.sleeptime_agent_id], "description": "sleep-time memory group",
        "manager_type": "sleeptime", "manager_agent_id": group.manager_agent_id,
        "sleeptime_agent_frequency": group.frequency, "turns_counter": group.turns_counter,
        "last_processed_message_id": group.last_processed_message_id, "shared_block_ids": shared_block_ids or [],
        "hidden": None,
    }  # fmt: skip


# --- triggers and windows -------------------------------------------------------------------------


def turn_run_id(primary_run_id: str, sleeptime_agent_id: str) -> str:
    """The sleep-time run a primary turn triggers: derived, so a retried trigger finds it again."""
    return id_from_uuid("run", derived_uuid("sleeptime", primary_run_id, sleeptime_agent_id))


async def count_turn(session: AsyncSession, org_id: str, agent_id: str, run_id: str) -> tuple[list[str], str | None]:
    """Count a completed turn of `agent_id`; on every `frequency`-th one claim a window.

    Turns are counted per thread: the agent's own thread on the group, each conversation on its own
    `SleeptimeThread`, so a pass reviews one conversation's transcript only (threads stay private).
    Returns (sleep-time run ids to start, the sleep-time agent's id).

    Idempotent per `run_id` (a retried activity counts once and returns the same runs).
    """
    agent = await session.scalar(select(Agent).where(Agent.id == agent_id, Agent.organization_id == org_id))
    group = await session.scalar(
        select(SleeptimeGroup)
        .where(SleeptimeGroup.organization_id == org_id, SleeptimeGroup.manager_agent_id == agent_id)
        .with_for_update()
    )
    if agent is None or group is None or not agent.enable_sleeptime:
        return [], None
    helper = group.sleeptime_agent_id
    sleeptime_run = turn_run_id(run_id, helper)
    primary = await run_store.find_run(session, org_id, run_id)
    conversation_id = primary.conversation_id if primary is not None else None
    cursor = group if conversation_id is None else await _thread(session, group, conversation_id)
    if cursor.last_counted_run_id == run_id:
        return ([sleeptime_run] if await run_store.find_run(session, org_id, sleeptime_run) else []), helper
    cursor.last_counted_run_id = run_id
    cursor.turns_counter = (cursor.turns_counter + 1) % group.frequency if group.frequency else 0
    await session.flush()
    if cursor.turns_counter != 0:
        return [], helper
    run = await claim_window(session, group, run_id=sleeptime_run, trigger="turns", primary_run_id=run_id,
                             conversation_id=conversation_id)  # fmt: skip
    return ([run.id] if run is not None else []), helper


async def _thread(session: AsyncSession, group: SleeptimeGroup, conversation_id: str) -> SleeptimeThread:
    """The conversation's cursor, created on its first counted turn, locked for this transaction."""
    await session.execute(
        pg_insert(SleeptimeThread).values(group_id=group.id, conversation_id=conversation_id,
                                          organization_id=group.organization_id).on_conflict_do_nothing()
    )  # fmt: skip
    thread = await session.scalar(
        select(SleeptimeThread).where(SleeptimeThread.group_id == group.id,
                                      SleeptimeThread.conversation_id == conversation_id).with_for_update()
    )  # fmt: skip
    assert thread is not None
    return thread


async def claim_window(
    session: AsyncSession, group: SleeptimeGroup, *, run_id: str, trigger: str, primary_run_id: str | None = None,
    conversation_id: str | None = None,
) -> Run | None:  # fmt: skip
    """Create the sleep-time run for the complete turns since the last claimed message of one thread (the
    agent's own, or `conversation_id`), and move that thread's mark.

    Returns the run (an existing one when retried), or None when there is nothing new to review.
    """
    org_id = group.organization_id
    existing = await run_store.find_run(session, org_id, run_id)
    if existing is not None:
        return existing
    cursor = group if conversation_id is None else await _thread(session, group, conversation_id)
    rows = await unreviewed_messages(
        session, org_id, group.manager_agent_id, cursor.last_processed_position, conversation_id=conversation_id
    )
    transcript = render_transcript(rows)
    if not rows or not transcript:
        return None
    await sync_shared_blocks(session, org_id, group)
    text = REMINDER + "Messages:\n" + transcript
    message_id = id_from_uuid("message", derived_uuid("sleeptime-input", run_id))
    metadata = {
        "run_type": SLEEPTIME_RUN_TYPE, "trigger": trigger, "primary_agent_id": group.manager_agent_id,
        "primary_run_id": primary_run_id, "group_id": group.id,
        "window": {"after_position": cursor.last_processed_position, "after_message_id": cursor.last_processed_message_id,
                   "through_position": rows[-1].position, "through_message_id": rows[-1].id,
                   "conversation_id": conversation_id},
    }  # fmt: skip
    run = await run_store.create_run(
        session, org_id, group.sleeptime_agent_id, run_id=run_id, run_type=SLEEPTIME_RUN_TYPE, background=True,
        input_messages=[{"id": message_id, "role": "user", "content": text}],
        request_config={"max_steps": SLEEPTIME_MAX_STEPS},
    )  # fmt: skip
    run.metadata_ = metadata
    cursor.last_processed_position = rows[-1].position
    cursor.last_processed_message_id = rows[-1].id
    await session.flush()
    return run


async def release_window(session: AsyncSession, org_id: str, run_id: str) -> bool:
    """A failed sleep-time run gives its window back, unless a later run already claimed past it."""
    run = await run_store.find_run(session, org_id, run_id)
    window = ((run.metadata_ or {}).get("window") if run else None) or {}
    group_id = (run.metadata_ or {}).get("group_id") if run else None
    if not window or group_id is None:
        return False
    group = await session.scalar(
        select(SleeptimeGroup).where(SleeptimeGroup.id == group_id, SleeptimeGroup.organization_id == org_id).with_for_update()
    )
    if group is None:
        return False
    conversation_id = window.get("conversation_id")
    cursor = group if conversation_id is None else await _thread(session, group, conversation_id)
    if cursor.last_processed_position != window.get("through_position"):
        return False
    cursor.last_processed_position = int(window.get("after_position") or 0)
    cursor.last_processed_message_id = window.get("after_message_id")
    await session.flush()
    return True


async def unreviewed_messages(
    session: AsyncSession, org_id: str, agent_id: str, after_position: int, *, conversation_id: str | None = None
) -> list[Message]:
    """One thread's rows after `after_position` that belong to finished turns (a turn in flight stops the
    window): the agent's own thread, or the conversation `conversation_id`.

    At most the newest `WINDOW_MAX_ROWS`: the window then ends at the same place, older rows are skipped.
    """
    thread = Message.conversation_id.is_(None) if conversation_id is None else Message.conversation_id == conversation_id
    in_flight = await session.scalar(
        select(func.min(Message.position))
        .join(Run, Run.id == Message.run_id)
        .where(Message.agent_id == agent_id, Message.organization_id == org_id, Message.position > after_position,
               thread, Run.status.not_in(run_store.TERMINAL_STATUSES))  # fmt: skip
    )
    query = select(Message).where(
        Message.agent_id == agent_id, Message.organization_id == org_id, Message.position > after_position,
        thread, Message.role.in_(("user", "assistant", "tool")),
    )  # fmt: skip
    if in_flight is not None:
        query = query.where(Message.position < in_flight)
    newest = await session.scalars(query.order_by(Message.position.desc()).limit(WINDOW_MAX_ROWS))
    return list(reversed(list(newest)))


def render_transcript(rows: list[Message]) -> str:
    """A plain-text transcript (`role: text`, tool calls and returns included); heartbeats left out."""
    lines: list[str] = []
    for row in rows:
        if row.role == "user":
            if _is_system_event(row.text):
                continue
            lines.append(f"user: {row.text}")
        elif row.role == "assistant":
            if row.text:
                lines.append(f"assistant: {row.text}")
            for call in row.tool_calls or []:
                name = call.get("function", {}).get("name", "")
                args = _loads(call.get("function", {}).get("arguments") or "")
                if name == "send_message" and isinstance(args.get("message"), str):
                    lines.append(f"assistant: {args['message']}")
                else:
                    args.pop("request_heartbeat", None)
                    lines.append(f"assistant called {name}({json.dumps(args)[:500]})")
        elif row.role == "tool" and row.name != "send_message":
            response = ((row.tool_returns or [{}])[0].get("func_response") or row.text or "")[:500]
            lines.append(f"tool {row.name}: {response}")
    text = "\n".join(lines)
    return text[-TRANSCRIPT_MAX_CHARS:]


def _is_system_event(text: str) -> bool:
    return _loads(text).get("type") in ("heartbeat", "system_alert", "login", "system_message")


def _loads(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except (TypeError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


async def sleeptime_agent_blocks(session: AsyncSession, org_id: str, group: SleeptimeGroup) -> list[Block]:
    return await block_store.list_agent_blocks(session, org_id, group.sleeptime_agent_id)


async def groups_with_schedules(session: AsyncSession) -> list[SleeptimeGroup]:
    """Every group that should have a Temporal Schedule (all organizations: the reconciler's view)."""
    rows = await session.scalars(
        select(SleeptimeGroup).where(
            (SleeptimeGroup.schedule_interval_s.is_not(None)) | (SleeptimeGroup.schedule_cron.is_not(None))
        )
    )
    return list(rows)
