"""Tools: create from Python source, upsert, retrieve/update/delete, list, attach/detach to agents."""

from __future__ import annotations

import pytest
from letta_client import AsyncLetta, ConflictError, Letta, NotFoundError, UnprocessableEntityError

ROLL = '''
def roll_dice(sides: int, count: int = 1) -> str:
    """Roll dice and report the total.

    Args:
        sides: Number of sides on each die.
        count: How many dice to roll.
    """
    return str(sides * count)
'''


def test_create_from_source_derives_the_schema(letta: Letta) -> None:
    tool = letta.tools.create(source_code=ROLL, tags=["dice"])
    assert tool.name == "roll_dice" and tool.tool_type == "custom" and tool.source_code == ROLL
    assert tool.description == "Roll dice and report the total."
    params = tool.json_schema["parameters"]
    assert params["required"] == ["sides"]
    assert params["properties"]["sides"] == {"type": "integer", "description": "Number of sides on each die."}
    assert letta.tools.retrieve(tool.id).name == "roll_dice"
    with pytest.raises(ConflictError):
        letta.tools.create(source_code=ROLL)


def test_upsert_update_delete(letta: Letta) -> None:
    first = letta.tools.upsert(
        source_code='def greet(name: str) -> str:\n    """Say hi."""\n    return name\n'
    )
    second = letta.tools.upsert(
        source_code='def greet(name: str, loud: bool = False) -> str:\n    """Say hi louder."""\n    return name\n'
    )
    assert second.id == first.id and second.description == "Say hi louder."
    assert set(second.json_schema["parameters"]["properties"]) == {"name", "loud"}
    updated = letta.tools.update(first.id, description="Greets people.", tags=["social"])
    assert (updated.description, updated.tags) == ("Greets people.", ["social"])
    letta.tools.delete(first.id)
    with pytest.raises(NotFoundError):
        letta.tools.retrieve(first.id)


def test_bad_source_is_a_422_with_the_parse_error(letta: Letta) -> None:
    with pytest.raises(UnprocessableEntityError, match="does not parse"):
        letta.tools.create(source_code="def broken(:\n    pass\n")
    with pytest.raises(UnprocessableEntityError, match="must define a function"):
        letta.tools.create(source_code="x = 1\n")


def test_list_includes_builtins_and_attach_detach(letta: Letta) -> None:
    names = {t.name for t in letta.tools.list(limit=5)}  # auto-pagination over built-ins and custom tools
    assert {"send_message", "conversation_search", "archival_memory_insert"} <= names
    assert [t.name for t in letta.tools.list(name="send_message")] == ["send_message"]
    tool = letta.tools.upsert(source_code='def ping_tool() -> str:\n    """Ping."""\n    return \'pong\'\n')
    agent = letta.agents.create(name="tooled", include_base_tools=False)
    assert agent.tools == []
    state = letta.agents.tools.attach(tool.id, agent_id=agent.id)
    assert [t.name for t in state.tools] == ["ping_tool"]
    assert [t.id for t in letta.agents.tools.list(agent.id)] == [tool.id]
    state = letta.agents.tools.update_approval("ping_tool", agent_id=agent.id, body_requires_approval=True)
    assert {"type": "requires_approval", "tool_name": "ping_tool"} in [
        r.model_dump(exclude_none=True) for r in state.tool_rules
    ]
    state = letta.agents.tools.update_approval("ping_tool", agent_id=agent.id, body_requires_approval=False)
    assert not [r for r in state.tool_rules if r.type == "requires_approval"]
    state = letta.agents.tools.detach(tool.id, agent_id=agent.id)
    assert state.tools == []
    with pytest.raises(NotFoundError):
        letta.agents.tools.detach(tool.id, agent_id=agent.id)


def test_search_finds_tools_by_words(letta: Letta) -> None:
    letta.tools.upsert(
        source_code='def convert_currency(amount: float) -> float:\n    """Convert money."""\n    return amount\n'
    )
    results = letta.tools.search(query="currency conversion", limit=3)
    assert results and results[0].tool.name == "convert_currency"


async def test_async_tools(aletta: AsyncLetta) -> None:
    tool = await aletta.tools.upsert(
        source_code='def echo(text: str) -> str:\n    """Echo."""\n    return text\n'
    )
    agent = await aletta.agents.create(name="async-tools", tools=["echo"], include_base_tools=False)
    assert [t.id async for t in aletta.agents.tools.list(agent.id)] == [tool.id]
