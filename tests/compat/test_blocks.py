"""Core memory blocks: per-agent by label (list / retrieve / update / attach / detach) and standalone CRUD."""

from __future__ import annotations

import pytest
from letta_client import AsyncLetta, ConflictError, Letta, NotFoundError


def test_agent_blocks_by_label(letta: Letta) -> None:
    agent = letta.agents.create(
        name="labels",
        memory_blocks=[{"label": "human", "value": "Sam"}, {"label": "persona", "value": "Calm"}],
    )
    assert {b.label for b in letta.agents.blocks.list(agent.id)} == {"human", "persona"}
    assert letta.agents.blocks.retrieve("human", agent_id=agent.id).value == "Sam"
    updated = letta.agents.blocks.update("human", agent_id=agent.id, value="Sam, likes tea", limit=500)
    assert (updated.value, updated.limit) == ("Sam, likes tea", 500)
    assert letta.agents.retrieve(agent.id).memory.blocks[0].value == "Sam, likes tea"
    with pytest.raises(NotFoundError):
        letta.agents.blocks.retrieve("nope", agent_id=agent.id)


def test_attach_detach_and_shared_block_edits_are_seen_by_every_agent(letta: Letta) -> None:
    shared = letta.blocks.create(label="project", value="Deadline Friday", description="team facts")
    first = letta.agents.create(name="share-1")
    second = letta.agents.create(name="share-2")
    for agent in (first, second):
        state = letta.agents.blocks.attach(shared.id, agent_id=agent.id)
        assert "project" in [b.label for b in state.blocks]
    assert {a.id for a in letta.blocks.agents.list(shared.id)} == {first.id, second.id}

    letta.agents.blocks.update("project", agent_id=first.id, value="Deadline Monday")
    assert letta.agents.blocks.retrieve("project", agent_id=second.id).value == "Deadline Monday"
    letta.blocks.update(shared.id, value="Deadline Tuesday")
    assert letta.agents.retrieve(first.id).memory.blocks[-1].value == "Deadline Tuesday"

    other = letta.blocks.create(label="project", value="clash")
    with pytest.raises(ConflictError):
        letta.agents.blocks.attach(other.id, agent_id=first.id)

    state = letta.agents.blocks.detach(shared.id, agent_id=first.id)
    assert "project" not in [b.label for b in state.blocks]
    assert [a.id for a in letta.blocks.agents.list(shared.id)] == [second.id]


def test_standalone_block_crud_and_listing(letta: Letta) -> None:
    created = [letta.blocks.create(label=f"note-{i}", value=f"v{i}", tags=["notes"]) for i in range(3)]
    assert created[0].limit == 100_000 and created[0].tags == ["notes"]
    assert [b.id for b in letta.blocks.list(tags=["notes"], limit=1)] == [
        b.id for b in created
    ]  # oldest first
    assert [b.label for b in letta.blocks.list(label="note-1")] == ["note-1"]
    assert [b.label for b in letta.blocks.list(value_search="v2")] == ["note-2"]
    updated = letta.blocks.update(created[0].id, value="changed", metadata={"k": 1}, read_only=True)
    assert (updated.value, updated.metadata, updated.read_only) == ("changed", {"k": 1}, True)
    assert letta.blocks.retrieve(created[0].id).value == "changed"
    letta.blocks.delete(created[0].id)
    with pytest.raises(NotFoundError):
        letta.blocks.retrieve(created[0].id)


async def test_async_blocks(aletta: AsyncLetta) -> None:
    block = await aletta.blocks.create(label="async-block", value="a")
    agent = await aletta.agents.create(name="async-blocks")
    state = await aletta.agents.blocks.attach(block.id, agent_id=agent.id)
    assert "async-block" in [b.label for b in state.blocks]
    assert [b.label async for b in aletta.agents.blocks.list(agent.id) if b.label == "async-block"] == [
        "async-block"
    ]
