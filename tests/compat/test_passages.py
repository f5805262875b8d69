"""Archival memory (`client.agents.passages`): insert, list, semantic search with tags, delete."""

from __future__ import annotations

import pytest
from letta_client import AsyncLetta, Letta, NotFoundError

FACTS = [
    ("The user's cat is named Miso and loves tuna.", ["pets"]),
    ("The user works as a marine biologist in Lisbon.", ["work"]),
    ("The user's favourite band is Radiohead.", ["music"]),
    ("Miso the cat was adopted in 2021.", ["pets", "history"]),
]


@pytest.fixture(scope="module")
def archival_agent(letta: Letta) -> str:
    agent = letta.agents.create(name="archivist")
    for text, tags in FACTS:
        [passage] = letta.agents.passages.create(agent.id, text=text, tags=tags)
        assert passage.text == text and passage.id.startswith("passage-") and passage.embedding is None
    return agent.id


def test_list_is_oldest_first_with_cursors(letta: Letta, archival_agent: str) -> None:
    listed = letta.agents.passages.list(archival_agent)
    assert [p.text for p in listed] == [t for t, _ in FACTS]
    newest_first = letta.agents.passages.list(archival_agent, ascending=False, limit=2)
    assert [p.text for p in newest_first] == [FACTS[3][0], FACTS[2][0]]
    after = letta.agents.passages.list(archival_agent, after=listed[1].id)
    assert [p.text for p in after] == [FACTS[2][0], FACTS[3][0]]
    assert [p.text for p in letta.agents.passages.list(archival_agent, search="Radiohead")] == [FACTS[2][0]]


def test_search_ranks_by_similarity_and_filters_tags(letta: Letta, archival_agent: str) -> None:
    found = letta.agents.passages.search(archival_agent, query="what is the name of the cat", top_k=2)
    assert found.count == 2 and all("Miso" in r.content for r in found.results)
    assert found.results[0].timestamp
    work = letta.agents.passages.search(archival_agent, query="cat", tags=["work"])
    assert [r.content for r in work.results] == [FACTS[1][0]]
    both = letta.agents.passages.search(
        archival_agent, query="cat", tags=["pets", "history"], tag_match_mode="all"
    )
    assert [r.content for r in both.results] == [FACTS[3][0]]


def test_top_level_passage_search(letta: Letta, archival_agent: str) -> None:
    scored = letta.passages.search(query="marine biology job", agent_id=archival_agent, limit=1)
    assert [s.passage.text for s in scored] == [FACTS[1][0]] and 0 < scored[0].score <= 1


def test_other_agents_do_not_see_these_passages(letta: Letta, archival_agent: str) -> None:  # noqa: ARG001
    other = letta.agents.create(name="stranger")
    assert letta.agents.passages.list(other.id) == []
    assert letta.agents.passages.search(other.id, query="cat").count == 0


async def test_delete_async(aletta: AsyncLetta) -> None:
    agent = await aletta.agents.create(name="forgetful")
    [passage] = await aletta.agents.passages.create(agent.id, text="temporary fact")
    await aletta.agents.passages.delete(passage.id, agent_id=agent.id)
    assert await aletta.agents.passages.list(agent.id) == []
    with pytest.raises(NotFoundError):
        await aletta.agents.passages.delete(passage.id, agent_id=agent.id)
