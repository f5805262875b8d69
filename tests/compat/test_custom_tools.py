"""Custom Python tools end to end through letta-client: created from source, called by an agent, sandboxed."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from letta_client import Letta

pytestmark = pytest.mark.usefixtures("worker_running")

ROLL = '''
import os

def roll_dice(sides: int, count: int = 1) -> str:
    """Roll dice and report the total.

    Args:
        sides: Number of sides on each die.
        count: How many dice to roll.
    """
    print("rolling", count)
    return f"{sides * count} ({os.environ.get('TABLE', 'no table')})"
'''


def _agent(letta: Letta, *tools: str, **extra: Any) -> str:
    agent = letta.agents.create(
        name="dice", model="engram/offline", tools=list(tools), include_base_tools=False, **extra
    )
    return agent.id


def _returns(response: Any) -> list[Any]:
    return [m for m in response.messages if m.message_type == "tool_return_message"]


def _reply(response: Any) -> str:
    return " ".join(m.content for m in response.messages if m.message_type == "assistant_message")


def test_agent_calls_a_tool_created_from_source(letta: Letta) -> None:
    letta.tools.upsert(source_code=ROLL)
    agent_id = _agent(letta, "roll_dice", secrets={"TABLE": "green felt"})
    response = letta.agents.messages.create(agent_id, input='call roll_dice {"sides": 6, "count": 2}')
    [ret] = _returns(response)
    assert ret.status == "success" and ret.tool_return == "12 (green felt)"
    assert ret.stdout == ["rolling 2\n"]
    assert "roll_dice returned: 12 (green felt)" in _reply(response)
    assert response.stop_reason.stop_reason == "end_turn"


def test_failing_tools_return_errors_and_the_run_continues(letta: Letta) -> None:
    letta.tools.upsert(
        source_code='def explode(reason: str) -> str:\n    """Fail."""\n    raise RuntimeError(reason)\n'
    )
    letta.tools.upsert(
        source_code='def stall() -> str:\n    """Never ends."""\n    while True:\n        pass\n',
        extra_body={"timeout_s": 1},
    )
    agent_id = _agent(letta, "explode", "stall")
    response = letta.agents.messages.create(agent_id, input='call explode {"reason": "disk on fire"}')
    [ret] = _returns(response)
    assert ret.status == "error" and "RuntimeError: disk on fire" in ret.tool_return
    assert "explode call failed" in _reply(response) and response.stop_reason.stop_reason == "end_turn"
    response = letta.agents.messages.create(agent_id, input="call stall")
    [ret] = _returns(response)
    assert ret.status == "error" and "timed out after 1 s" in ret.tool_return
    assert response.stop_reason.stop_reason == "end_turn"


def test_long_return_is_truncated_for_the_model_and_kept_in_full(letta: Letta, live_url: str) -> None:
    letta.tools.upsert(
        source_code='def shout(n: int) -> str:\n    """Loud."""\n    return "A" * n\n', return_char_limit=100
    )
    agent_id = _agent(letta, "shout")
    response = letta.agents.messages.create(agent_id, input='call shout {"n": 5000}')
    [ret] = _returns(response)
    assert ret.tool_return.startswith("A" * 100 + "... [NOTE: function output was truncated")
    assert "5000 > 100" in ret.tool_return and ret.id in ret.tool_return
    full = httpx.get(f"{live_url}/v1/agents/{agent_id}/messages/{ret.id}/tool-output").json()
    assert full["tool_return"] == "A" * 5000 and full["is_truncated_for_model"] is True
