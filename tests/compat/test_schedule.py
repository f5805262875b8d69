"""Scheduled messages through the real letta-client (`agents.schedule`) and Engram's extras, on a live server."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from zoneinfo import ZoneInfo

import httpx
import pytest
from letta_client import APIStatusError, Letta
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from engram.config import Settings

HOUR_MS = 3_600_000


@pytest.fixture(scope="module")
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"max_schedules_per_agent": 3})


def _agent(letta: Letta, **extra) -> str:
    return letta.agents.create(name=f"sched-{uuid.uuid4().hex[:6]}", model="engram/offline", **extra).id


def _in_ms(seconds: float) -> float:
    return (time.time() + seconds) * 1000


def _message(text: str) -> list[dict]:
    return [{"role": "user", "content": text}]


def _next_cron_time(hour: int, minute: int, zone: str) -> datetime:
    """The next local hour:minute in `zone`, as UTC (what a daily cron there fires at)."""
    tz = ZoneInfo(zone)
    now = datetime.now(tz)
    candidate = now.replace(hour=hour, minute=minute, second=0, microsecond=0)
    if candidate <= now:
        candidate = (now + timedelta(days=1)).replace(hour=hour, minute=minute, second=0, microsecond=0)
    return candidate.astimezone(UTC)


def test_one_time_and_recurring_schedules_round_trip(letta: Letta) -> None:
    agent_id = _agent(letta)
    at_ms = _in_ms(3600)
    once = letta.agents.schedule.create(
        agent_id, messages=_message("stand-up in an hour"), schedule={"type": "one-time", "scheduled_at": at_ms},
        max_steps=5, callback_url="http://127.0.0.1:9/hook",
    )  # fmt: skip
    daily = letta.agents.schedule.create(
        agent_id, messages=_message("daily summary please"),
        schedule={"type": "recurring", "cron_expression": "0 8 * * *"},
    )  # fmt: skip
    assert datetime.fromisoformat(once.next_scheduled_at).timestamp() == pytest.approx(at_ms / 1000, abs=1.0)

    listed = letta.agents.schedule.list(agent_id)
    assert [m.id for m in listed.scheduled_messages] == [once.id, daily.id]
    assert listed.has_next_page is False
    first_page = letta.agents.schedule.list(agent_id, limit="1")
    assert [m.id for m in first_page.scheduled_messages] == [once.id] and first_page.has_next_page
    assert [m.id for m in letta.agents.schedule.list(agent_id, after=once.id).scheduled_messages] == [daily.id]

    got = letta.agents.schedule.retrieve(once.id, agent_id=agent_id)
    assert got.agent_id == agent_id
    assert got.schedule.scheduled_at == pytest.approx(at_ms, abs=1.0)
    assert got.message.messages[0].content == "stand-up in an hour"
    assert (got.message.max_steps, got.message.callback_url) == (5, "http://127.0.0.1:9/hook")
    recurring = letta.agents.schedule.retrieve(daily.id, agent_id=agent_id)
    assert (recurring.schedule.type, recurring.schedule.cron_expression) == ("recurring", "0 8 * * *")
    assert recurring.next_scheduled_time == daily.next_scheduled_at

    assert letta.agents.schedule.delete(once.id, agent_id=agent_id).success is True
    assert [m.id for m in letta.agents.schedule.list(agent_id).scheduled_messages] == [daily.id]
    with pytest.raises(APIStatusError) as missing:
        letta.agents.schedule.retrieve(once.id, agent_id=agent_id)
    assert missing.value.status_code == 404


def test_next_scheduled_at_follows_cron_in_utc_and_in_a_time_zone(letta: Letta) -> None:
    agent_id = _agent(letta)
    utc = letta.agents.schedule.create(
        agent_id, messages=_message("x"), schedule={"type": "recurring", "cron_expression": "30 7 * * *"}
    )
    assert datetime.fromisoformat(utc.next_scheduled_at) == _next_cron_time(7, 30, "UTC")
    zoned = letta.agents.schedule.create(
        agent_id, messages=_message("y"),
        schedule={"type": "recurring", "cron_expression": "30 7 * * *", "timezone": "America/New_York"},  # type: ignore[typeddict-unknown-key]
    )  # fmt: skip
    assert datetime.fromisoformat(zoned.next_scheduled_at) == _next_cron_time(7, 30, "America/New_York")
    got = letta.agents.schedule.retrieve(zoned.id, agent_id=agent_id)
    assert got.schedule.model_extra.get("timezone") == "America/New_York"


@pytest.mark.parametrize(
    ("schedule", "status", "words"),
    [
        ({"type": "recurring", "cron_expression": "61 * * * *"}, 422, "out of range"),
        ({"type": "recurring", "cron_expression": "* * * *"}, 422, "5 fields"),
        ({"type": "recurring", "cron_expression": "0 8 * * *", "timezone": "Mars/Olympus"}, 422, "time zone"),
        ({"type": "one-time", "scheduled_at": 1_000_000.0}, 422, "in the past"),
    ],
)
def test_bad_schedules_are_rejected_and_nothing_is_created(letta: Letta, schedule: dict, status: int, words: str) -> None:
    agent_id = _agent(letta)
    with pytest.raises(APIStatusError) as err:
        letta.agents.schedule.create(agent_id, messages=_message("x"), schedule=schedule)  # type: ignore[arg-type]
    assert err.value.status_code == status and words in str(err.value.body)
    assert letta.agents.schedule.list(agent_id).scheduled_messages == []


def test_unknown_agent_and_too_many_schedules_are_rejected(letta: Letta) -> None:
    with pytest.raises(APIStatusError) as unknown:
        letta.agents.schedule.create(
            f"agent-{uuid.uuid4()}", messages=_message("x"), schedule={"type": "one-time", "scheduled_at": _in_ms(60)}
        )
    assert unknown.value.status_code == 404
    agent_id = _agent(letta)
    for _ in range(3):  # this module's limit
        letta.agents.schedule.create(agent_id, messages=_message("x"), schedule={"scheduled_at": _in_ms(3600)})
    with pytest.raises(APIStatusError) as full:
        letta.agents.schedule.create(agent_id, messages=_message("x"), schedule={"scheduled_at": _in_ms(3600)})
    assert full.value.status_code == 409 and "limit" in str(full.value.body)
    assert len(letta.agents.schedule.list(agent_id).scheduled_messages) == 3


def test_pause_resume_and_organization_listing(letta: Letta, live_url: str, settings: Settings) -> None:
    agent_id = _agent(letta)
    daily = letta.agents.schedule.create(
        agent_id, messages=_message("x"), schedule={"type": "recurring", "cron_expression": "0 9 * * MON-FRI"}
    )
    base = f"{live_url}/v1/agents/{agent_id}/schedule/{daily.id}"
    paused = httpx.post(f"{base}/pause").json()
    assert paused["paused"] is True and paused["next_scheduled_time"] is None
    resumed = httpx.post(f"{base}/resume").json()
    assert resumed["paused"] is False and resumed["next_scheduled_time"] is not None
    asyncio.run(_delete_temporal_schedule(settings, f"scheduled-message:{daily.id}"))  # Temporal lost it
    assert httpx.post(f"{base}/pause").json()["paused"] is True
    assert asyncio.run(_temporal_has_schedule(settings, f"scheduled-message:{daily.id}")) is True  # re-created
    everything = httpx.get(f"{live_url}/v1/schedules", params={"limit": 1000}).json()
    assert daily.id in {m["id"] for m in everything["scheduled_messages"]}


async def _delete_temporal_schedule(settings: Settings, schedule_id: str) -> None:
    client = await Client.connect(settings.temporal_target, namespace=settings.temporal_namespace)
    await client.get_schedule_handle(schedule_id).delete()


async def _temporal_has_schedule(settings: Settings, schedule_id: str) -> bool:
    client = await Client.connect(settings.temporal_target, namespace=settings.temporal_namespace)
    try:
        await client.get_schedule_handle(schedule_id).describe()
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            return False
        raise
    return True


def test_deleting_the_agent_deletes_its_schedules(letta: Letta, live_url: str, settings: Settings) -> None:
    agent_id = _agent(letta)
    daily = letta.agents.schedule.create(
        agent_id, messages=_message("x"), schedule={"type": "recurring", "cron_expression": "0 9 * * *"}
    )
    assert asyncio.run(_temporal_has_schedule(settings, f"scheduled-message:{daily.id}")) is True
    letta.agents.delete(agent_id)
    listed = httpx.get(f"{live_url}/v1/schedules", params={"agent_id": agent_id}).json()
    assert listed["scheduled_messages"] == []
    assert asyncio.run(_temporal_has_schedule(settings, f"scheduled-message:{daily.id}")) is False
    assert daily.id not in {m["id"] for m in httpx.get(f"{live_url}/v1/schedules").json()["scheduled_messages"]}


def _scheduled_runs(letta: Letta, agent_id: str, sm_id: str, count: int, timeout_s: float = 30.0) -> list:
    """Wait until `count` runs started by scheduled message `sm_id` are finished; return them."""
    deadline = time.monotonic() + timeout_s
    while True:
        runs = [r for r in letta.runs.list(agent_id=agent_id, limit=100)
                if (r.metadata or {}).get("schedule", {}).get("scheduled_message_id") == sm_id]  # fmt: skip
        if len(runs) >= count and all(r.status in ("completed", "failed", "cancelled") for r in runs):
            return runs
        assert time.monotonic() < deadline, f"{len(runs)} of {count} scheduled runs finished"
        time.sleep(0.2)


def test_triggering_a_recurring_schedule_produces_turns(letta: Letta, live_url: str, worker_running: None) -> None:  # noqa: ARG001
    agent_id = _agent(letta)
    yearly = letta.agents.schedule.create(
        agent_id, messages=_message("time for the yearly review"),
        schedule={"type": "recurring", "cron_expression": "0 0 1 1 *"},
    )  # fmt: skip
    trigger = f"{live_url}/v1/agents/{agent_id}/schedule/{yearly.id}/trigger"
    assert httpx.post(trigger).status_code == 200
    _scheduled_runs(letta, agent_id, yearly.id, 1)
    assert httpx.post(trigger).status_code == 200
    runs = _scheduled_runs(letta, agent_id, yearly.id, 2)
    assert {r.status for r in runs} == {"completed"}
    link = runs[0].metadata["schedule"]
    assert link["temporal_schedule_id"] == f"scheduled-message:{yearly.id}" and link["type"] == "recurring"
    texts = [m.content for m in letta.agents.messages.list(agent_id, order="asc") if m.message_type == "user_message"]
    assert texts == ["time for the yearly review"] * 2
    still = letta.agents.schedule.retrieve(yearly.id, agent_id=agent_id)
    assert still.model_extra.get("fire_count") == 2  # a recurring message stays after firing


@pytest.fixture
def callback_sink() -> Iterator[tuple[str, list[dict]]]:
    """A loopback HTTP endpoint recording the JSON bodies POSTed to it."""
    received: list[dict] = []

    class Sink(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            received.append(json.loads(self.rfile.read(int(self.headers["content-length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Sink)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/hook", received
    server.shutdown()


def test_one_time_message_fires_once_then_disappears(letta: Letta, worker_running: None, callback_sink) -> None:  # noqa: ARG001
    hook, received = callback_sink
    agent_id = _agent(letta)
    soon = letta.agents.schedule.create(
        agent_id, messages=_message("hello from the past"), schedule={"type": "one-time", "scheduled_at": _in_ms(1.5)},
        callback_url=hook,
    )  # fmt: skip
    (run,) = _scheduled_runs(letta, agent_id, soon.id, 1)
    assert run.status == "completed" and run.metadata["schedule"]["type"] == "one-time"
    for _ in range(100):
        if received:
            break
        time.sleep(0.1)
    assert [(body["id"], body["status"]) for body in received] == [(run.id, "completed")]
    assert received[0]["metadata"]["schedule"]["scheduled_message_id"] == soon.id
    assert letta.agents.schedule.list(agent_id).scheduled_messages == []
    with pytest.raises(APIStatusError):
        letta.agents.schedule.retrieve(soon.id, agent_id=agent_id)
    assert len([m for m in letta.agents.messages.list(agent_id) if m.message_type == "user_message"]) == 1


def test_agent_wakeup_tool_schedules_a_later_turn_that_carries_the_reason(letta: Letta, worker_running: None) -> None:  # noqa: ARG001
    agent_id = _agent(letta, tools=["schedule_wakeup"])
    reply = letta.agents.messages.create(agent_id, messages=_message("Please wake me in 1 second about stretching."))
    calls = [m for m in reply.messages if m.message_type == "tool_call_message"]
    assert calls and calls[0].tool_call.name == "schedule_wakeup"
    assert "wake up in 1 seconds about stretching" in reply.messages[-1].content
    wakeup_id = next(r.tool_return for r in reply.messages if r.message_type == "tool_return_message").split()[1]
    (run,) = _scheduled_runs(letta, agent_id, wakeup_id, 1)
    assert run.status == "completed" and run.metadata["schedule"]["source"] == "wakeup"
    said = [m.content for m in letta.agents.messages.list(agent_id, order="asc") if m.message_type == "assistant_message"]
    assert said[-1] == "Wake-up reminder: stretching"
    assert letta.agents.schedule.list(agent_id).scheduled_messages == []  # used up


def test_pending_wakeups_are_listed_triggered_and_cancelled(letta: Letta, live_url: str, worker_running: None) -> None:  # noqa: ARG001
    agent_id = _agent(letta, tools=["schedule_wakeup"])
    letta.agents.messages.create(agent_id, messages=_message("remind me in 1 day about the oven"))
    letta.agents.messages.create(agent_id, messages=_message("remind me in 2 hours about tea"))
    tomorrow, later = letta.agents.schedule.list(agent_id).scheduled_messages
    assert {tomorrow.model_extra.get("source"), later.model_extra.get("source")} == {"wakeup"}
    assert "the oven" in tomorrow.message.messages[0].content
    assert abs(tomorrow.schedule.scheduled_at / 1000 - (time.time() + 86400)) < 60
    letta.agents.schedule.delete(later.id, agent_id=agent_id)
    # a day is too long to wait: fire it now, as its time would
    assert httpx.post(f"{live_url}/v1/agents/{agent_id}/schedule/{tomorrow.id}/trigger").status_code == 200
    _scheduled_runs(letta, agent_id, tomorrow.id, 1)
    said = [m.content for m in letta.agents.messages.list(agent_id, order="asc") if m.message_type == "assistant_message"]
    assert said[-1] == "Wake-up reminder: the oven"
    assert letta.agents.schedule.list(agent_id).scheduled_messages == []


def test_cli_schedule_commands_mirror_the_api(letta: Letta, live_url: str, settings: Settings, capsys) -> None:
    from engram.cli import build_parser

    def engram(*argv: str) -> tuple[int, str]:
        args = build_parser().parse_args(["schedule", *argv, "--url", live_url])
        code = args.func(args, settings)
        captured = capsys.readouterr()
        return code, captured.out + captured.err

    agent_id = _agent(letta)
    code, out = engram("create", agent_id, "daily summary", "--cron", "0 8 * * *", "--timezone", "Europe/Berlin")
    assert code == 0
    sm_id = json.loads(out)["id"]
    code, out = engram("list", agent_id)
    assert code == 0 and [m["id"] for m in json.loads(out)["scheduled_messages"]] == [sm_id]
    assert json.loads(engram("pause", agent_id, sm_id)[1])["paused"] is True
    assert json.loads(engram("show", agent_id, sm_id)[1])["schedule"]["timezone"] == "Europe/Berlin"
    code, out = engram("create", agent_id, "too late", "--at", "2001-01-01T00:00:00")
    assert code == 1 and "in the past" in out
    assert engram("delete", agent_id, sm_id) == (0, '{\n  "success": true\n}\n')
    assert sm_id not in engram("list")[1]


def test_a_wakeup_asked_for_in_a_conversation_fires_in_that_conversation(letta: Letta, worker_running: None) -> None:  # noqa: ARG001
    agent_id = _agent(letta, tools=["schedule_wakeup"])
    conversation = letta.conversations.create(agent_id=agent_id)
    list(letta.conversations.messages.create(conversation.id, messages=_message("wake me in 1 second about tea")))
    (pending,) = letta.agents.schedule.list(agent_id).scheduled_messages
    assert pending.model_extra.get("conversation_id") == conversation.id
    (run,) = _scheduled_runs(letta, agent_id, pending.id, 1)
    assert run.conversation_id == conversation.id
    items = letta.conversations.messages.list(conversation.id, order="asc", limit=100).items
    assert [m.content for m in items if m.message_type == "assistant_message"][-1] == "Wake-up reminder: tea"
