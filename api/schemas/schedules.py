"""Wire models of `/v1/agents/{agent_id}/schedule` (letta-client's `agents.schedule`), plus Engram's extras.

Extras beyond Letta's fields, all optional: `schedule.timezone` (IANA zone for a cron expression,
default UTC) on create and in answers, and `paused`, `source`, `created_at`, `last_run_id`,
`fire_count` on a scheduled message.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag

from api.schemas.messages import MessageCreate, MessageType
from engram.schedules import (
    ONE_TIME,
    RECURRING,
    NewScheduledMessage,
    check_cron,
    check_timezone,
    moment_from_unix_ms,
    unix_ms,
)
from engram.store.models import ScheduledMessage


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore")


class OneTimeSchedule(_Lenient):
    type: Literal["one-time"] = "one-time"
    scheduled_at: float = Field(description="When to send, in unix milliseconds; must be in the future")


class RecurringSchedule(_Lenient):
    type: Literal["recurring"]
    cron_expression: str = Field(description="5-field cron: minute hour day-of-month month day-of-week")
    timezone: str | None = Field(default=None, description="Engram extra: IANA zone the cron is read in (UTC)")


def _schedule_kind(raw: Any) -> str:
    kind = raw.get("type") if isinstance(raw, dict) else getattr(raw, "type", None)
    return str(kind or ONE_TIME)  # Letta's one-time member has `type` optional


ScheduleIn = Annotated[
    Annotated[OneTimeSchedule, Tag(ONE_TIME)] | Annotated[RecurringSchedule, Tag(RECURRING)],
    Discriminator(_schedule_kind),
]


class CreateScheduledMessage(_Lenient):
    """Body of `POST /v1/agents/{agent_id}/schedule`."""

    messages: list[MessageCreate] = Field(min_length=1)
    schedule: ScheduleIn
    callback_url: str | None = None
    include_return_message_types: list[MessageType] | None = None
    max_steps: float | None = Field(default=None, ge=1, le=10_000)

    def to_domain(self) -> NewScheduledMessage:
        """Validated domain request; InvalidInput (422) for a past moment, bad cron or unknown zone."""
        common: dict[str, Any] = {
            "messages": [m.model_dump(exclude_none=True) for m in self.messages],
            "callback_url": self.callback_url, "include_return_message_types": self.include_return_message_types,
            "max_steps": int(self.max_steps) if self.max_steps is not None else None,
        }  # fmt: skip
        if isinstance(self.schedule, OneTimeSchedule):
            return NewScheduledMessage(kind=ONE_TIME, scheduled_at=moment_from_unix_ms(self.schedule.scheduled_at),
                                       **common)  # fmt: skip
        return NewScheduledMessage(
            kind=RECURRING, cron_expression=check_cron(self.schedule.cron_expression),
            timezone=check_timezone(self.schedule.timezone), **common,
        )  # fmt: skip


class ScheduleCreateResponse(BaseModel):
    id: str
    next_scheduled_at: str | None = None


class ScheduledMessageBody(BaseModel):
    messages: list[dict[str, Any]]
    callback_url: str | None = None
    include_return_message_types: list[str] | None = None
    max_steps: float | None = None


class ScheduledMessageOut(BaseModel):
    """Letta's ScheduledMessage (`next_scheduled_time` is an ISO 8601 UTC time) plus Engram's extras."""

    id: str
    agent_id: str
    message: ScheduledMessageBody
    next_scheduled_time: str | None = None
    schedule: dict[str, Any]
    paused: bool = False
    source: str = "api"
    created_at: datetime | None = None
    last_run_id: str | None = None
    fire_count: int = 0
    conversation_id: str | None = None

    @classmethod
    def from_domain(cls, row: ScheduledMessage, next_time: datetime | None) -> ScheduledMessageOut:
        if row.kind == ONE_TIME and row.scheduled_at is not None:
            schedule: dict[str, Any] = {"type": ONE_TIME, "scheduled_at": unix_ms(row.scheduled_at)}
        else:
            schedule = {"type": RECURRING, "cron_expression": row.cron_expression, "timezone": row.timezone}
        body = ScheduledMessageBody(
            messages=row.messages, callback_url=row.callback_url,
            include_return_message_types=row.include_return_message_types,
            max_steps=float(row.max_steps) if row.max_steps is not None else None,
        )  # fmt: skip
        return cls(
            id=row.id, agent_id=row.agent_id, message=body, next_scheduled_time=iso_time(next_time), schedule=schedule,
            paused=row.is_paused, source=row.source, created_at=row.created_at, last_run_id=row.last_run_id,
            fire_count=row.fire_count, conversation_id=row.conversation_id,
        )  # fmt: skip


class ScheduleListResponse(BaseModel):
    scheduled_messages: list[ScheduledMessageOut]
    has_next_page: bool


class ScheduleDeleteResponse(BaseModel):
    success: Literal[True] = True


def iso_time(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None
