"""Letta's own quickstart (docs.letta.com), unchanged but for base_url, runs against Engram.

`openai/...` handles are served by the local fake OpenAI-compatible server, so the real OpenAI SDK path
is exercised; Letta's server-side built-ins (web_search, run_code) attach and answer with a clear error.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from letta_client import Letta
from letta_client.types.agents import AssistantMessage
from pydantic import SecretStr

from engram.config import Settings
from tests.fake_llm import FakeLlmServer, FakeReply

pytestmark = pytest.mark.usefixtures("worker_running")


@pytest.fixture(scope="module")
def fake_llm() -> Iterator[FakeLlmServer]:
    yield FakeLlmServer.shared()


@pytest.fixture(scope="module")
def settings(settings: Settings, fake_llm: FakeLlmServer) -> Settings:
    return settings.model_copy(update={"openai_base_url": fake_llm.url, "openai_api_key": SecretStr("x")})


def test_letta_quickstart_script_runs_unchanged(live_url: str) -> None:
    client = Letta(base_url=live_url)
    agent_state = client.agents.create(
        model="openai/gpt-4o-mini",
        embedding="openai/text-embedding-3-small",
        memory_blocks=[
            {"label": "human", "value": "The human's name is Chad. They like vibe coding."},
            {"label": "persona", "value": "My name is Sam, the all-knowing sentient AI."},
        ],
        tools=["web_search", "run_code"],
    )
    response = client.agents.messages.create(
        agent_id=agent_state.id, messages=[{"role": "user", "content": "What is my name?"}]
    )
    replies = [m for m in response.messages if isinstance(m, AssistantMessage)]
    assert replies and "Chad" in str(replies[-1].content)
    assert response.stop_reason.stop_reason == "end_turn"
    assert {t.name for t in agent_state.tools} >= {"web_search", "run_code"}


def test_unavailable_builtin_is_an_error_tool_return_and_the_run_continues(live_url: str, fake_llm: FakeLlmServer) -> None:
    client = Letta(base_url=live_url)
    agent = client.agents.create(model="openai/quickstart-web", tools=["web_search"], include_base_tools=False)
    fake_llm.script("quickstart-web", [FakeReply.tool("web_search", {"query": "weather"}), FakeReply.text("done")])
    response = client.agents.messages.create(agent_id=agent.id, input="search the weather")
    returns = [m for m in response.messages if m.message_type == "tool_return_message"]
    assert returns and returns[0].status == "error" and "not available" in returns[0].tool_return
    assert response.stop_reason.stop_reason == "end_turn"
