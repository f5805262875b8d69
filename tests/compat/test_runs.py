"""`client.runs` and cancellation through the real letta-client, on the offline model and a slow fake LLM."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from letta_client import Letta
from letta_client.types.agents import AssistantMessage, UserMessage
from letta_client.types.agents.letta_streaming_response import LettaPing, LettaStopReason
from pydantic import SecretStr

from engram.config import Settings
from tests.fake_llm import FakeLlmServer, FakeReply

pytestmark = pytest.mark.usefixtures("worker_running")


@pytest.fixture(scope="module")
def fake_llm() -> Iterator[FakeLlmServer]:
    with FakeLlmServer() as server:
        yield server


@pytest.fixture(scope="module")
def settings(settings: Settings, fake_llm: FakeLlmServer) -> Settings:
    """The module's settings, with `openai/...` models served by the fake LLM."""
    return settings.model_copy(update={"openai_base_url": fake_llm.url, "openai_api_key": SecretStr("x")})


def _agent(letta: Letta, model: str = "engram/offline") -> str:
    return letta.agents.create(
        name=f"runs-{uuid.uuid4().hex[:6]}", model=model, agent_type="memgpt_v2_agent",
        memory_blocks=[{"label": "human", "value": "Sam"}, {"label": "persona", "value": "Helpful."}],
    ).id  # fmt: skip


def _wait_status(letta: Letta, run_id: str, statuses: set[str], timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = letta.runs.retrieve(run_id)
        if run.status in statuses:
            return run
        time.sleep(0.1)
    raise AssertionError(f"run {run_id} never reached {statuses}: {run.status}")


def test_run_retrieve_list_messages_steps_and_usage(letta: Letta) -> None:
    agent_id = _agent(letta)
    response = letta.agents.messages.create(agent_id, input="Hi, how are you?")
    run_id = response.usage.run_ids[0]  # type: ignore[index]

    run = letta.runs.retrieve(run_id)
    assert (
        run.agent_id == agent_id
        and run.status == "completed"
        and run.stop_reason == response.stop_reason.stop_reason
    )
    assert (
        run.created_at
        and run.completed_at
        and run.request_config
        and run.request_config.use_assistant_message
    )
    assert [r.id for r in letta.runs.list(agent_id=agent_id)] == [run_id]
    assert run_id in {r.id for r in letta.runs.list(limit=1)}  # auto-pagination walks every run and stops
    assert list(letta.runs.list(agent_id=agent_id, active=True)) == []

    messages = list(letta.runs.messages.list(run_id))
    assert isinstance(messages[0], UserMessage) and messages[0].content == "Hi, how are you?"
    assert any(isinstance(m, AssistantMessage) for m in messages)
    assert all(m.run_id == run_id for m in messages)

    steps = list(letta.runs.steps.list(run_id))
    assert steps and all(s.run_id == run_id and s.status == "success" for s in steps)
    usage = letta.runs.usage.retrieve(run_id)
    assert usage.total_tokens == sum(s.total_tokens or 0 for s in steps) > 0


def test_resume_a_real_turns_stream_mid_way(letta: Letta) -> None:
    agent_id = _agent(letta)
    stream = letta.agents.messages.create(
        agent_id, input="Tell me about yourself", streaming=True, stream_tokens=True
    )
    head: list[Any] = []
    for chunk in stream:
        if not isinstance(chunk, LettaPing):
            head.append(chunk)
        if len(head) == 2:
            break
    stream.close()
    run_id = head[0].run_id
    tail = [
        c
        for c in letta.runs.messages.stream(run_id, starting_after=head[-1].seq_id)
        if not isinstance(c, LettaPing)
    ]
    full = [c for c in letta.runs.messages.stream(run_id) if not isinstance(c, LettaPing)]
    assert [c.seq_id for c in head + tail] == [c.seq_id for c in full]
    assert [c.model_dump() for c in head + tail] == [c.model_dump() for c in full]
    assert isinstance(tail[-2], LettaStopReason)


def test_cancel_a_running_run(letta: Letta, fake_llm: FakeLlmServer) -> None:
    model = f"slow-{uuid.uuid4().hex[:8]}"
    # A model that keeps searching forever, a bit slowly: the run is mid-loop when cancelled.
    fake_llm.script(model, [FakeReply.tool("conversation_search", {"query": "x", "request_heartbeat": True},
                                           delay_s=0.2, repeat=True)])  # fmt: skip
    agent_id = _agent(letta, f"openai/{model}")
    run = letta.agents.messages.create_async(agent_id, input="Search forever", max_steps=200)
    _wait_status(letta, run.id, {"running"})
    assert letta.agents.messages.cancel(agent_id) == {run.id: "cancelled"}
    done = _wait_status(letta, run.id, {"cancelled", "completed", "failed"})
    assert done.status == "cancelled" and done.stop_reason == "cancelled"
    chunks = [c for c in letta.runs.messages.stream(run.id) if not isinstance(c, LettaPing)]
    assert isinstance(chunks[-2], LettaStopReason) and chunks[-2].stop_reason == "cancelled"
