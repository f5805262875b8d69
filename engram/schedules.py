"""Scheduled messages, the domain side: when a message fires (one-time or cron) and input checks.

Temporal evaluates the schedule (activities/schedule_client.py turns a `ScheduleTiming` into a Temporal
Schedule); this module only rejects what Temporal would refuse, or silently misread, with a message a
user can act on: 5-field cron only, known IANA time zones, a one-time moment in the future.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from engram.errors import InvalidInput

ONE_TIME = "one-time"
RECURRING = "recurring"
SOURCE_API = "api"
SOURCE_WAKEUP = "wakeup"  # asked for by the agent itself through the schedule_wakeup tool

_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_DAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
# (name, lowest, highest, names mapped to lowest + index)
_CRON_FIELDS: tuple[tuple[str, int, int, tuple[str, ...]], ...] = (
    ("minute", 0, 59, ()),
    ("hour", 0, 23, ()),
    ("day of month", 1, 31, ()),
    ("month", 1, 12, _MONTHS),
    ("day of week", 0, 7, _DAYS),
)
_ITEM = re.compile(r"^(\*|[0-9A-Za-z]+(?:-[0-9A-Za-z]+)?)(?:/([0-9]+))?$")


@dataclass(frozen=True)
class ScheduleTiming:
    """Everything Temporal needs to keep one scheduled message's Schedule (no message content)."""

    id: str
    org_id: str
    agent_id: str
    kind: str  # ONE_TIME | RECURRING
    scheduled_at: datetime | None = None  # ONE_TIME: the moment, UTC
    cron_expression: str | None = None  # RECURRING
    timezone: str = "UTC"  # RECURRING: IANA zone the cron expression is read in
    is_paused: bool = False


def check_cron(expression: str) -> str:
    """The expression with single spaces; raises InvalidInput naming the bad field."""
    fields = expression.split()
    if len(fields) != len(_CRON_FIELDS):
        raise InvalidInput(
            f"cron_expression {expression!r} must have 5 fields (minute hour day-of-month month day-of-week), "
            f"got {len(fields)}"
        )
    for text, (name, low, high, names) in zip(fields, _CRON_FIELDS, strict=True):
        for item in text.split(","):
            _check_cron_item(expression, item, name, low, high, names)
    return " ".join(fields)


def _check_cron_item(expression: str, item: str, name: str, low: int, high: int, names: tuple[str, ...]) -> None:
    match = _ITEM.match(item)
    if match is None:
        raise InvalidInput(f"cron_expression {expression!r}: {name} field {item!r} is not valid cron syntax")
    span, step = match.group(1), match.group(2)
    if step is not None and int(step) == 0:
        raise InvalidInput(f"cron_expression {expression!r}: {name} step must be at least 1")
    if span == "*":
        return
    for bound in span.split("-"):
        value = _cron_value(bound, low, names)
        if value is None or not low <= value <= high:
            raise InvalidInput(
                f"cron_expression {expression!r}: {name} value {bound!r} is out of range {low}-{high}"
            )


def _cron_value(text: str, low: int, names: tuple[str, ...]) -> int | None:
    if text.isdigit():
        return int(text)
    upper = text.upper()
    return low + names.index(upper) if upper in names else None


def check_timezone(name: str | None) -> str:
    """An IANA zone name (default UTC); raises InvalidInput for an unknown one."""
    if not name:
        return "UTC"
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(f"timezone {name!r} is not a known IANA time zone (e.g. 'Europe/Berlin')") from None
    return name


def moment_from_unix_ms(value: float, *, now: datetime | None = None) -> datetime:
    """A one-time `scheduled_at` (unix milliseconds) as a UTC datetime; it must lie in the future."""
    try:
        moment = datetime.fromtimestamp(float(value) / 1000.0, tz=UTC)
    except (OverflowError, OSError, ValueError):
        raise InvalidInput(f"scheduled_at {value!r} is not a valid unix time in milliseconds") from None
    current = now or datetime.now(UTC)
    if moment <= current:
        raise InvalidInput(
            f"scheduled_at {value!r} ({moment.isoformat()}) is in the past; the server time is {current.isoformat()}"
        )
    return moment


def unix_ms(moment: datetime) -> float:
    return float(int(moment.timestamp() * 1000))


@dataclass(frozen=True)
class NewScheduledMessage:
    """A validated request for a scheduled message (the API's body, or the agent's own wake-up)."""

    kind: str
    messages: list[dict]
    scheduled_at: datetime | None = None
    cron_expression: str | None = None
    timezone: str = "UTC"
    callback_url: str | None = None
    include_return_message_types: list[str] | None = None
    max_steps: int | None = None
    source: str = SOURCE_API
    conversation_id: str | None = None  # fire in this conversation thread (wake-ups asked for inside one)
