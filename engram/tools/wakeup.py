"""`schedule_wakeup`: the agent asks to be woken later ("remind me tomorrow at 9").

A wake-up is a one-time scheduled message (source "wakeup") on the same mechanism as the API's
scheduled messages, so it is listed, retrieved and cancelled through `/v1/agents/{id}/schedule`. The
tool only writes the row, under an id derived from the tool call's op id (a retried call adds
nothing); the tool activity then creates its Temporal Schedule once the row is committed. When it
fires, the agent gets a turn whose user-role message is a JSON `wake_up` event carrying the reason,
in the style of Letta's heartbeat and system-alert messages.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from engram.errors import Conflict, NotFound
from engram.ids import derived_id
from engram.schedules import ONE_TIME, SOURCE_WAKEUP, NewScheduledMessage
from engram.store import agents as agent_store
from engram.store import scheduled_messages as schedule_store
from engram.tools.memory_tools import ToolError

WAKEUP_TOOL = "schedule_wakeup"
WAKEUP_EVENT = "wake_up"
MAX_DELAY = timedelta(days=366)
DEFAULT_MAX_SCHEDULES = 100


def wakeup_id(op_id: str) -> str:
    """The scheduled message id of the wake-up a tool call (op id) asked for."""
    return derived_id("schedule", "wakeup", op_id)


def wakeup_message(reason: str, requested_at: datetime) -> dict[str, str]:
    event = {
        "type": WAKEUP_EVENT, "reason": reason, "requested_at": requested_at.isoformat(),
        "message": f"[Wake-up you scheduled with {WAKEUP_TOOL}] It is time: {reason}",
    }  # fmt: skip
    return {"role": "user", "content": json.dumps(event)}


async def schedule_wakeup(ctx, reason: str, after_seconds: float | None = None, at: str | None = None) -> str:  # noqa: ANN001 - ToolContext (engram.tools.executor imports this module)
    """Schedule a turn for later; exactly one of `after_seconds` or `at` (ISO 8601, agent's zone if naive)."""
    if not isinstance(reason, str) or not reason.strip():
        raise ToolError("Error: reason must say what to do when you wake up")
    agent = await agent_store.get_agent(ctx.session, ctx.org_id, ctx.agent_id)
    now = datetime.now(UTC)
    moment = _moment(after_seconds, at, now, agent.timezone or "UTC")
    new = NewScheduledMessage(kind=ONE_TIME, messages=[wakeup_message(reason.strip(), now)], scheduled_at=moment,
                              source=SOURCE_WAKEUP, conversation_id=ctx.conversation_id)  # fmt: skip
    limit = getattr(ctx.settings, "max_schedules_per_agent", DEFAULT_MAX_SCHEDULES)
    try:
        row = await schedule_store.create_scheduled_message(
            ctx.session, ctx.org_id, ctx.agent_id, new, max_per_agent=limit, scheduled_message_id=wakeup_id(ctx.op_id)
        )
    except (Conflict, NotFound) as exc:
        raise ToolError(f"Error: could not schedule the wake-up: {exc}") from None
    return f"Wake-up {row.id} scheduled for {moment.isoformat()} (UTC): {reason.strip()}"


def _moment(after_seconds: float | None, at: str | None, now: datetime, zone: str) -> datetime:
    if (after_seconds is None) == (at is None):
        raise ToolError("Error: give exactly one of after_seconds or at")
    if after_seconds is not None:
        try:
            delay = timedelta(seconds=float(after_seconds))
        except (TypeError, ValueError, OverflowError):
            raise ToolError(f"Error: after_seconds must be a number, got {after_seconds!r}") from None
        moment = now + delay
    else:
        try:
            parsed = datetime.fromisoformat(str(at))
        except ValueError:
            raise ToolError(f"Error: at must be an ISO 8601 time like 2026-01-31T09:00:00, got {at!r}") from None
        moment = (parsed if parsed.tzinfo else parsed.replace(tzinfo=ZoneInfo(zone))).astimezone(UTC)
    if moment <= now:
        raise ToolError(f"Error: the wake-up time {moment.isoformat()} is not in the future (now {now.isoformat()})")
    if moment - now > MAX_DELAY:
        raise ToolError(f"Error: a wake-up may be at most {MAX_DELAY.days} days ahead")
    return moment
