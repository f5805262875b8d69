"""`GET /v1/agents/{id}/context` through letta-client 1.12.1 (which has no method for it: `client.get(...)`).

Checks Letta's own invariants for the overview (its tests' validate_context_window_overview): the sum rule,
current <= max, `len(messages) == num_messages`, a null summary has 0 tokens; and that the sections follow
what a user does: a block edit grows core memory at once, a turn grows the message section and recall.
"""

from __future__ import annotations

from typing import Any

import pytest
from letta_client import Letta, NotFoundError, UnprocessableEntityError

from engram.ids import new_id

SECTIONS = (
    "num_tokens_system", "num_tokens_core_memory", "num_tokens_external_memory_summary", "num_tokens_summary_memory",
    "num_tokens_functions_definitions", "num_tokens_messages", "num_tokens_memory_filesystem",
    "num_tokens_tool_usage_rules", "num_tokens_directories",
)  # fmt: skip


def overview(letta: Letta, agent_id: str, **params: Any) -> dict[str, Any]:
    return letta.get(f"/v1/agents/{agent_id}/context", cast_to=object, options={"params": params})  # type: ignore[return-value]


def check_invariants(view: dict[str, Any]) -> None:
    assert view["context_window_size_current"] == sum(view[k] for k in SECTIONS)
    assert 0 < view["context_window_size_current"] <= view["context_window_size_max"]
    assert all(view[k] >= 0 for k in SECTIONS)
    assert len(view["messages"]) == view["num_messages"]
    assert view["messages"][0]["role"] == "system"
    if view["summary_memory"] is None:
        assert view["num_tokens_summary_memory"] == 0


def test_fresh_agent_overview_has_every_section(letta: Letta) -> None:
    agent = letta.agents.create(
        name="ctx",
        memory_blocks=[{"label": "human", "value": "Name: Ada"}, {"label": "persona", "value": "Kind"}],
    )
    view = overview(letta, agent.id)
    check_invariants(view)
    assert view["context_window_size_max"] == agent.llm_config.context_window
    assert view["num_messages"] == 1 and view["num_tokens_messages"] == 0
    assert "Name: Ada" in view["core_memory"] and view["core_memory"].startswith("<memory_blocks>")
    assert "Name: Ada" not in view["system_prompt"]
    assert "Name: Ada" in view["messages"][0]["content"][0]["text"]  # the compiled system message
    assert view["external_memory_summary"].startswith("<memory_metadata>")
    names = sorted(f["function"]["name"] for f in view["functions_definitions"])
    assert names == sorted(t.name for t in agent.tools) and view["num_tokens_functions_definitions"] > 0
    assert view["num_archival_memory"] == 0 and view["num_recall_memory"] == 1


def test_block_edit_shows_at_once_and_archival_is_counted(letta: Letta) -> None:
    agent = letta.agents.create(name="ctx-edit", memory_blocks=[{"label": "human", "value": "Ada"}])
    before = overview(letta, agent.id)
    letta.agents.blocks.update(
        "human", agent_id=agent.id, value="Ada. " + "Likes long walks by the sea. " * 40
    )
    letta.agents.passages.create(agent.id, text="Ada was born in London")
    after = overview(letta, agent.id)
    check_invariants(after)
    assert after["num_tokens_core_memory"] > before["num_tokens_core_memory"] + 100
    assert "long walks" in after["core_memory"] and "long walks" in after["messages"][0]["content"][0]["text"]
    assert after["num_archival_memory"] == 1


@pytest.mark.usefixtures("worker_running")
def test_a_turn_fills_the_message_section_and_recall(letta: Letta) -> None:
    agent = letta.agents.create(name="ctx-turn", memory_blocks=[{"label": "human", "value": ""}])
    letta.agents.messages.create(agent.id, input="Hello, my name is Grace")
    view = overview(letta, agent.id)
    check_invariants(view)
    roles = [m["role"] for m in view["messages"]]
    assert "user" in roles and "assistant" in roles
    assert view["num_tokens_messages"] > 0 and view["num_recall_memory"] == view["num_messages"]


def test_unknown_or_malformed_agent_is_a_clear_4xx(letta: Letta) -> None:
    with pytest.raises(NotFoundError):
        overview(letta, new_id("agent"))
    with pytest.raises(UnprocessableEntityError):
        overview(letta, "agent-nope")
    agent = letta.agents.create(name="ctx-conv")
    with pytest.raises(UnprocessableEntityError):
        overview(letta, agent.id, conversation_id="not-a-conversation")
