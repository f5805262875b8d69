"""Sleep-time memory consolidation through letta-client and `/v1/agents/{id}/sleeptime` (offline model).

The primary agent (enable_sleeptime) has no memory tools; its `<name>-sleeptime` agent reviews finished
turns and writes what the user said into the shared `human` block.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import httpx
import pytest
from letta_client import Letta, NotFoundError

from engram.config import Settings

pytestmark = pytest.mark.usefixtures("worker_running")


def _agent(letta: Letta, **extra: Any) -> Any:
    return letta.agents.create(
        name=f"st-{uuid.uuid4().hex[:6]}", model="engram/offline", agent_type="memgpt_v2_agent", enable_sleeptime=True,
        memory_blocks=[{"label": "human", "value": ""}, {"label": "persona", "value": "A friendly assistant."}],
        **extra,
    )  # fmt: skip


def _human(letta: Letta, agent_id: str) -> str:
    return letta.agents.blocks.retrieve("human", agent_id=agent_id).value


def _wait(predicate: Any, timeout_s: float = 45.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError("condition not reached in time")


def test_enable_sleeptime_creates_a_sleeptime_agent_sharing_the_blocks(letta: Letta) -> None:
    agent = _agent(letta)
    group = agent.managed_group
    assert group is not None and group.manager_type == "sleeptime" and group.sleeptime_agent_frequency == 5
    assert agent.multi_agent_group is not None and agent.multi_agent_group.id == group.id
    helper = letta.agents.retrieve(group.agent_ids[0])
    assert helper.name == f"{agent.name}-sleeptime" and helper.agent_type == "sleeptime_agent"
    assert {t.name for t in helper.tools} == {"memory_replace", "memory_insert", "memory_rethink", "memory_finish_edits"}
    assert {b.id for b in agent.memory.blocks} < {b.id for b in helper.memory.blocks}
    assert "memory_persona" in {b.label for b in helper.memory.blocks}
    assert "memory_insert" not in {t.name for t in agent.tools}  # memory editing moved to the background agent

    plain = letta.agents.create(name="plain", model="engram/offline", memory_blocks=[{"label": "human", "value": ""}])
    assert plain.managed_group is None
    updated = letta.agents.update(plain.id, enable_sleeptime=True)
    assert updated.enable_sleeptime and updated.managed_group is not None


def test_every_fifth_completed_turn_starts_a_sleeptime_pass_on_the_finished_transcript(letta: Letta, live_url: str) -> None:
    agent = _agent(letta)
    said = ["My name is Ada.", "I like chess.", "hello", "thanks", "I live in Paris."]
    responses = [letta.agents.messages.create(agent.id, messages=[{"role": "user", "content": text}]) for text in said]
    for response in responses[:4]:
        assert len(response.usage.run_ids) == 1  # turns 1-4: no sleep-time pass
    fifth = responses[4].usage.run_ids
    assert len(fifth) == 2
    primary_run, sleeptime_run = fifth
    assert _human(letta, agent.id) == ""  # the primary itself cannot edit memory

    done = _wait(lambda: (r := letta.runs.retrieve(sleeptime_run)).status == "completed" and r)
    assert done.agent_id == agent.managed_group.agent_ids[0]
    assert done.metadata["run_type"] == "sleeptime_agent_send_message_async" and done.metadata["trigger"] == "turns"
    assert done.metadata["temporal"]["workflow_id"] == f"agent:{done.agent_id}"  # linked in the Temporal UI
    assert done.created_at >= letta.runs.retrieve(primary_run).completed_at  # only after the turn completed
    human = _human(letta, agent.id)
    assert "Name: Ada" in human and "Likes: chess" in human and "Lives in: Paris" in human

    helper_msgs = letta.agents.messages.list(agent.managed_group.agent_ids[0], order="asc").items
    review = next(m for m in helper_msgs if m.message_type == "user_message").content
    assert "<system-reminder>" in review and "user: I live in Paris." in review
    last_reply = [m for m in letta.agents.messages.list(agent.id, order="asc").items if m.message_type == "assistant_message"][-1]
    assert f"assistant: {last_reply.content}" in review  # the fifth turn was complete when reviewed
    state = httpx.get(f"{live_url}/v1/agents/{agent.id}/sleeptime").json()
    assert state["turns_counter"] == 0 and state["last_processed_message_id"] is not None

    # The next pass reviews only what came after: nothing is processed twice.
    for text in ["I am 36 years old.", "ok", "ok", "ok", "ok"]:
        last = letta.agents.messages.create(agent.id, messages=[{"role": "user", "content": text}])
    second = last.usage.run_ids[1]
    _wait(lambda: letta.runs.retrieve(second).status == "completed")
    helper_msgs = letta.agents.messages.list(agent.managed_group.agent_ids[0], order="asc", limit=100).items
    reviews = [m.content for m in helper_msgs if m.message_type == "user_message" and m.content.startswith("<system-")]
    assert len(reviews) == 2 and "Paris" not in reviews[1] and "36 years old" in reviews[1]
    assert "Age: 36" in _human(letta, agent.id)


def test_schedule_fires_updates_the_shared_block_pauses_and_deletes(letta: Letta, live_url: str, settings: Settings) -> None:
    agent = _agent(letta)
    base = f"{live_url}/v1/agents/{agent.id}/sleeptime"
    assert httpx.patch(base, json={"sleeptime_agent_frequency": 100}).status_code == 200
    letta.agents.messages.create(agent.id, messages=[{"role": "user", "content": "My favorite color is green."}])
    for bad in ({"interval_seconds": 5, "cron": "0 3 * * *"}, {"cron": "99 * * * *"}, {"interval_seconds": 1e300}):
        response = httpx.put(base, json={"schedule": bad})
        assert response.status_code in (400, 422), (bad, response.text)
    assert httpx.get(base).json()["schedule"] is None  # a rejected schedule leaves nothing behind

    body = httpx.put(base, json={"schedule": {"interval_seconds": 1, "jitter_seconds": 0, "catchup_window_seconds": 60}})
    assert body.status_code == 200, body.text
    schedule = body.json()["schedule"]
    assert schedule["schedule_id"] == f"sleeptime:{agent.id}" and schedule["temporal"]["paused"] is False
    _wait(lambda: "Favorite color: green" in _human(letta, agent.id))

    paused = httpx.patch(base, json={"schedule": {"paused": True}}).json()["schedule"]
    assert paused["paused"] is True and paused["temporal"]["paused"] is True
    fired = httpx.get(base).json()["schedule"]["temporal"]["num_actions"]
    resumed = httpx.patch(base, json={"schedule": {"paused": False, "cron": "0 3 * * *"}}).json()["schedule"]
    assert resumed["cron"] == "0 3 * * *" and resumed["interval_seconds"] is None and resumed["temporal"]["paused"] is False
    assert resumed["temporal"]["num_actions"] >= fired

    letta.agents.update(agent.id, enable_sleeptime=False)  # off: the schedule pauses, the settings stay
    off = httpx.get(base).json()
    assert off["enabled"] is False and off["schedule"]["temporal"]["paused"] is True
    letta.agents.update(agent.id, enable_sleeptime=True)
    assert httpx.get(base).json()["schedule"]["temporal"]["paused"] is False

    assert httpx.delete(f"{base}/schedule").json()["schedule"] is None
    assert httpx.delete(f"{base}/schedule").status_code == 404
    assert asyncio.run(_schedule_exists(settings, agent.id)) is False

    httpx.put(base, json={"schedule": {"cron": "0 4 * * *"}}).raise_for_status()
    helper = agent.managed_group.agent_ids[0]
    letta.agents.delete(agent.id)  # the schedule and the sleep-time agent go with the agent
    assert asyncio.run(_schedule_exists(settings, agent.id)) is False
    with pytest.raises(NotFoundError):
        letta.agents.retrieve(helper)


def test_reconciler_recreates_a_missing_schedule(letta: Letta, live_url: str, settings: Settings) -> None:
    agent = _agent(letta)
    httpx.put(f"{live_url}/v1/agents/{agent.id}/sleeptime", json={"schedule": {"cron": "0 5 * * *"}}).raise_for_status()
    assert asyncio.run(_drop_and_reconcile(settings, agent.id)) == (False, True)


async def _client(settings: Settings):  # noqa: ANN202
    from temporalio.client import Client
    from temporalio.contrib.pydantic import pydantic_data_converter

    return await Client.connect(settings.temporal_target, data_converter=pydantic_data_converter)


async def _schedule_exists(settings: Settings, agent_id: str) -> bool:
    from api.sleeptime_schedules import describe_schedule

    return await describe_schedule(await _client(settings), agent_id) is not None


async def _drop_and_reconcile(settings: Settings, agent_id: str) -> tuple[bool, bool]:
    from api.sleeptime_schedules import delete_schedule, describe_schedule, reconcile_schedules
    from engram.store.db import create_engine, session_factory

    client = await _client(settings)
    await delete_schedule(client, agent_id)
    gone = await describe_schedule(client, agent_id) is not None
    engine = create_engine(settings.database_url or "", pool_size=1)
    try:
        await reconcile_schedules(client, settings, session_factory(engine))
    finally:
        await engine.dispose()
    return gone, await describe_schedule(client, agent_id) is not None


def test_conversations_count_and_are_reviewed_each_on_their_own(letta: Letta, live_url: str) -> None:
    """Issue #11: sleep-time counts turns per conversation and a pass sees only that thread's transcript."""
    agent = _agent(letta)
    assert httpx.patch(f"{live_url}/v1/agents/{agent.id}/sleeptime", json={"sleeptime_agent_frequency": 2}).status_code == 200
    helper = agent.managed_group.agent_ids[0]
    alice, bob = (letta.conversations.create(agent_id=agent.id, summary=who) for who in ("alice", "bob"))

    def say(conversation_id: str, text: str) -> None:
        for _ in letta.conversations.messages.create(conversation_id, messages=[{"role": "user", "content": text}]):
            pass

    def reviews() -> list[str]:
        items = letta.agents.messages.list(helper, order="asc", limit=200).items
        return [m.content for m in items if m.message_type == "user_message" and m.content.startswith("<system-")]

    say(alice.id, "Alice here: I like tennis.")
    say(bob.id, "Bob here: I like golf.")
    say(alice.id, "Alice again: I live in Oslo.")  # alice's 2nd turn: her thread's pass
    _wait(lambda: len(reviews()) == 1 and all(r.status == "completed" for r in letta.runs.list(agent_id=helper)))
    [review] = reviews()
    assert "Alice here" in review and "Oslo" in review and "Bob" not in review  # bob's turn 1 stays his
    say(bob.id, "Bob again: I live in Lima.")
    _wait(lambda: len(reviews()) == 2)
    second = reviews()[1]
    assert "Bob here" in second and "Lima" in second and "Alice" not in second
