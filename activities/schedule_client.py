"""Client side of scheduled messages: one Temporal Schedule per row, kept by id `scheduled-message:{id}`.

Used by the API (create, delete, pause, trigger, next times), by the wake-up tool's activity and by the
worker's start-up reconciler. It lives in activities/ (it does I/O and reads the clock, which workflows/
must not) where both the API and the activities can import it. Every call is idempotent: creating an existing schedule or deleting a missing
one is a no-op, so a caller may always retry, and the reconciler may always repair.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleCalendarSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleRange,
    ScheduleSpec,
    ScheduleState,
)
from temporalio.service import RPCError, RPCStatusCode

from engram.errors import InvalidInput
from engram.schedules import ONE_TIME, ScheduleTiming
from workflows.scheduled_message import (
    SCHEDULE_ID_PREFIX,
    ScheduledFire,
    ScheduledMessageWorkflow,
    schedule_id,
)

MIN_CATCHUP_WINDOW_S = 10.0  # Temporal's floor for a schedule's catch-up window


class ScheduleClient:
    """The Temporal Schedules of one deployment (its task queue); build one per client and settings."""

    def __init__(self, client: Client, task_queue: str, catchup_window_s: float = 3600.0) -> None:
        self.client = client
        self.task_queue = task_queue
        self.catchup_window = timedelta(seconds=max(MIN_CATCHUP_WINDOW_S, catchup_window_s))

    async def create(self, timing: ScheduleTiming, *, fire_now: bool = False) -> bool:
        """Create the schedule; False when it already existed. InvalidInput when Temporal refuses the spec.

        A one-time moment already past by now (a wake-up a second ahead, a slow request) fires at once,
        since a calendar in the past would never match.
        """
        if timing.kind == ONE_TIME and timing.scheduled_at is not None and not timing.is_paused:
            fire_now = fire_now or _exact_second(timing.scheduled_at) <= datetime.now(UTC)
        try:
            await self.client.create_schedule(
                schedule_id(timing.id), self._schedule(timing), trigger_immediately=fire_now,
                memo={"agent_id": timing.agent_id, "org_id": timing.org_id, "scheduled_message_id": timing.id,
                      "task_queue": self.task_queue},
            )  # fmt: skip
        except ScheduleAlreadyRunningError:
            return False
        except RPCError as exc:
            if exc.status == RPCStatusCode.INVALID_ARGUMENT:
                raise InvalidInput(f"Temporal rejected the schedule: {exc.message}") from exc
            raise
        return True

    async def delete(self, scheduled_message_id: str) -> None:
        await self._ignoring_missing(self.client.get_schedule_handle(schedule_id(scheduled_message_id)).delete())

    async def set_paused(self, timing: ScheduleTiming) -> None:
        """Pause or unpause as `timing.is_paused` says; a schedule Temporal lost is re-created in that state."""
        handle = self.client.get_schedule_handle(schedule_id(timing.id))
        try:
            await (handle.pause(note="paused through the Engram API") if timing.is_paused else handle.unpause())
        except RPCError as exc:
            if exc.status != RPCStatusCode.NOT_FOUND:
                raise
            await self.create(timing)

    async def trigger(self, timing: ScheduleTiming) -> None:
        """Fire now, outside the spec; queued behind a firing still running (BUFFER_ONE)."""
        try:
            await self.client.get_schedule_handle(schedule_id(timing.id)).trigger(overlap=ScheduleOverlapPolicy.BUFFER_ONE)
        except RPCError as exc:
            if exc.status != RPCStatusCode.NOT_FOUND:
                raise
            await self.create(timing, fire_now=True)

    async def next_time(self, timing: ScheduleTiming) -> datetime | None:
        """When Temporal will fire next (None when paused, used up or unknown to Temporal)."""
        if timing.is_paused:
            return None
        try:
            description = await self.client.get_schedule_handle(schedule_id(timing.id)).describe()
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                return timing.scheduled_at if timing.kind == ONE_TIME else None
            raise
        times = description.info.next_action_times
        return times[0].astimezone(UTC) if times else None

    async def existing_ids(self) -> set[str]:
        """Ids of the scheduled messages whose schedules run on this task queue (other deployments' are left alone)."""
        found: set[str] = set()
        async for entry in await self.client.list_schedules():
            if not entry.id.startswith(SCHEDULE_ID_PREFIX):
                continue
            memo = await entry.memo()
            if memo.get("task_queue") == self.task_queue:
                found.add(entry.id.removeprefix(SCHEDULE_ID_PREFIX))
        return found

    def _schedule(self, timing: ScheduleTiming) -> Schedule:
        action = ScheduleActionStartWorkflow(
            ScheduledMessageWorkflow.run, ScheduledFire(timing.org_id, timing.agent_id, timing.id),
            id=f"{schedule_id(timing.id)}:fire", task_queue=self.task_queue,
            static_summary=f"scheduled message for agent {timing.agent_id}",
        )  # fmt: skip
        policy = SchedulePolicy(overlap=ScheduleOverlapPolicy.BUFFER_ONE, catchup_window=self.catchup_window)
        if timing.kind == ONE_TIME:
            assert timing.scheduled_at is not None
            state = ScheduleState(paused=timing.is_paused, limited_actions=True, remaining_actions=1)
            return Schedule(action=action, spec=ScheduleSpec(calendars=[_exact_moment(timing.scheduled_at)]),
                            policy=policy, state=state)  # fmt: skip
        spec = ScheduleSpec(cron_expressions=[timing.cron_expression or ""], time_zone_name=timing.timezone)
        return Schedule(action=action, spec=spec, policy=policy, state=ScheduleState(paused=timing.is_paused))

    @staticmethod
    async def _ignoring_missing(call: Any) -> None:
        try:
            await call
        except RPCError as exc:
            if exc.status != RPCStatusCode.NOT_FOUND:
                raise


def _exact_second(moment: datetime) -> datetime:
    """Rounded up to a whole second (a calendar's resolution), so a message never fires before its time."""
    return datetime.fromtimestamp(math.ceil(moment.timestamp()), tz=UTC)


def _exact_moment(moment: datetime) -> ScheduleCalendarSpec:
    """A calendar matching exactly one second (UTC)."""
    at = _exact_second(moment)
    return ScheduleCalendarSpec(
        second=[ScheduleRange(at.second)], minute=[ScheduleRange(at.minute)], hour=[ScheduleRange(at.hour)],
        day_of_month=[ScheduleRange(at.day)], month=[ScheduleRange(at.month)], year=[ScheduleRange(at.year)],
        comment=f"once at {at.isoformat()}",
    )  # fmt: skip
