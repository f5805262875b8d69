"""`client.agents` (create / list + auto-pagination / retrieve / update / delete) through the real letta-client."""

from __future__ import annotations

import pytest
from letta_client import AsyncLetta, Letta, NotFoundError, UnprocessableEntityError


def test_create_returns_a_hydrated_agent_state(letta: Letta) -> None:
    agent = letta.agents.create(
        name="hydrated", memory_blocks=[{"label": "human", "value": "Name: Sam"}, {"label": "persona", "value": "Kind"}],
        tags=["t1"], metadata={"team": "x"},
    )  # fmt: skip
    assert agent.id.startswith("agent-")
    assert agent.agent_type == "letta_v1_agent"
    assert agent.llm_config.model_endpoint_type and agent.llm_config.context_window > 0
    assert agent.llm_config.handle == agent.model == "engram/offline"
    assert agent.embedding_config is not None and agent.embedding_config.embedding_dim == 384
    assert {b.label: b.value for b in agent.memory.blocks} == {"human": "Name: Sam", "persona": "Kind"}
    assert [b.label for b in agent.blocks] == ["human", "persona"]
    assert {t.name for t in agent.tools} >= {"conversation_search", "memory_replace", "memory_insert"}
    assert agent.sources == [] and agent.tags == ["t1"] and agent.metadata == {"team": "x"}
    assert agent.system
    history = list(letta.agents.messages.list(agent.id, order="asc"))
    assert agent.message_ids and history and history[0].message_type == "system_message"
    assert agent.message_ids[0] == history[0].id


def test_list_iterates_every_agent_across_pages(letta: Letta) -> None:
    ids = {letta.agents.create(name=f"page-{i}", tags=["paging"]).id for i in range(5)}
    seen = [a.id for a in letta.agents.list(tags=["paging"], limit=2)]  # auto-pagination: must terminate
    assert len(seen) == len(set(seen)) == 5 and set(seen) == ids
    newest_first = [a.name for a in letta.agents.list(tags=["paging"], limit=50)]
    assert newest_first == [f"page-{i}" for i in reversed(range(5))]
    oldest_first = [a.name for a in letta.agents.list(tags=["paging"], order="asc")]
    assert oldest_first == [f"page-{i}" for i in range(5)]
    before = [a.name for a in letta.agents.list(tags=["paging"], order="asc", before=letta.agents.list(
        tags=["paging"], order="asc").items[3].id, limit=2).items]  # fmt: skip
    assert before == ["page-1", "page-2"]
    oldest = letta.agents.list(tags=["paging"], order="asc", limit=1).items[0].id
    backwards = [
        a.name for a in letta.agents.list(tags=["paging"], before=oldest, limit=1)
    ]  # walks with `before`
    assert backwards == ["page-1", "page-2", "page-3", "page-4"]


def test_list_filters(letta: Letta) -> None:
    letta.agents.create(name="filter-alpha", tags=["f", "red"])
    letta.agents.create(name="filter-beta", tags=["f", "blue"])
    assert [a.name for a in letta.agents.list(name="filter-alpha")] == ["filter-alpha"]
    assert {a.name for a in letta.agents.list(tags=["red", "blue"])} == {"filter-alpha", "filter-beta"}
    assert [a.name for a in letta.agents.list(tags=["f", "red"], match_all_tags=True)] == ["filter-alpha"]
    assert [a.name for a in letta.agents.list(query_text="lter-bet")] == ["filter-beta"]


def test_retrieve_update_delete(letta: Letta) -> None:
    agent = letta.agents.create(name="crud", memory_blocks=[{"label": "human", "value": "x"}])
    assert letta.agents.retrieve(agent.id).name == "crud"
    updated = letta.agents.update(agent.id, name="crud-2", description="d", tags=["u"], system="Be brief.")
    assert (updated.name, updated.description, updated.tags, updated.system) == (
        "crud-2",
        "d",
        ["u"],
        "Be brief.",
    )
    assert [b.label for b in updated.blocks] == ["human"]
    assert letta.agents.retrieve(agent.id).name == "crud-2"
    prompt = letta.agents.recompile(agent.id, dry_run=True)
    assert prompt.startswith("Be brief.") or "Be brief." in prompt
    assert "<memory_blocks>" in prompt or "human" in prompt
    resized = letta.agents.update(agent.id, model="engram/offline", context_window_limit=4096)
    assert resized.llm_config.context_window == 4096 and resized.context_window_limit == 4096
    assert letta.agents.delete(agent.id) == {"message": f"Agent id={agent.id} successfully deleted"}
    with pytest.raises(NotFoundError):
        letta.agents.retrieve(agent.id)


def test_create_rejects_bad_input_with_422(letta: Letta) -> None:
    with pytest.raises(UnprocessableEntityError, match="agent_type"):
        letta.agents.create(name="bad", agent_type="nonsense_agent")  # type: ignore[arg-type]
    with pytest.raises(UnprocessableEntityError, match="provider"):
        letta.agents.create(name="bad", model="nosuchprovider/model")


async def test_async_client_create_list_delete(aletta: AsyncLetta) -> None:
    agent = await aletta.agents.create(name="async-agent", tags=["async"])
    assert [a.id async for a in aletta.agents.list(tags=["async"], limit=1)] == [agent.id]
    assert (await aletta.agents.retrieve(agent.id)).name == "async-agent"
    await aletta.agents.delete(agent.id)
    assert [a.id async for a in aletta.agents.list(tags=["async"])] == []
