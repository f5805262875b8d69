"""Shared archives (`client.archives`, `client.agents.archives`): one knowledge base, several agents."""

from __future__ import annotations

import pytest
from letta_client import BadRequestError, Letta, NotFoundError, UnprocessableEntityError


def _texts(found) -> list[str]:  # noqa: ANN001 - the SDK's search response
    return [r.content for r in found.results]


def test_archive_crud_and_listing_filters(letta: Letta) -> None:
    archive = letta.archives.create(name="handbook-crud", description="company handbook")
    assert archive.id.startswith("archive-") and archive.vector_db_provider == "native"
    assert archive.embedding_config is not None and archive.embedding_config.embedding_dim
    assert letta.archives.retrieve(archive.id).name == "handbook-crud"
    updated = letta.archives.update(archive.id, name="handbook-crud-2", description="v2")
    assert (updated.name, updated.description) == ("handbook-crud-2", "v2")
    assert [a.id for a in letta.archives.list(name="handbook-crud-2")] == [archive.id]
    letta.archives.delete(archive.id)
    with pytest.raises(NotFoundError):
        letta.archives.retrieve(archive.id)


def test_an_archive_is_shared_by_attached_agents_only(letta: Letta) -> None:
    archive = letta.archives.create(name="shared-kb")
    passage = letta.archives.passages.create(
        archive.id, text="The office wifi password is tangerine-42.", tags=["it"]
    )
    assert passage.archive_id == archive.id and passage.agent_id is None
    batch = letta.archives.passages.create_many(archive.id, passages=[
        {"text": "Expense reports are due on the 5th of each month.", "tags": ["finance"]},
        {"text": "The cafeteria closes at 3pm on Fridays."},
    ])  # fmt: skip
    assert len(batch) == 2

    alice, bob, carol = (letta.agents.create(name=n) for n in ("kb-alice", "kb-bob", "kb-carol"))
    letta.agents.archives.attach(archive.id, agent_id=alice.id)
    letta.agents.archives.attach(archive.id, agent_id=bob.id)
    letta.agents.archives.attach(archive.id, agent_id=bob.id)  # idempotent
    assert {a.id for a in letta.archives.list(agent_id=bob.id)} == {archive.id}
    letta.agents.passages.create(alice.id, text="Alice's own note: the wifi router is in room 4.")

    for agent in (alice, bob):
        found = letta.agents.passages.search(agent.id, query="wifi password", top_k=3)
        assert "The office wifi password is tangerine-42." in _texts(found)
    assert "Alice's own note: the wifi router is in room 4." not in _texts(
        letta.agents.passages.search(bob.id, query="wifi router room", top_k=5)
    )  # an agent's own passages stay its own
    assert _texts(letta.agents.passages.search(carol.id, query="wifi password", top_k=5)) == []
    tagged = letta.agents.passages.search(bob.id, query="due dates", tags=["finance"])
    assert _texts(tagged) == ["Expense reports are due on the 5th of each month."]

    letta.agents.archives.detach(archive.id, agent_id=bob.id)
    assert _texts(letta.agents.passages.search(bob.id, query="wifi password", top_k=5)) == []
    assert letta.archives.retrieve(archive.id).id == archive.id  # detaching keeps the archive

    letta.archives.passages.delete(passage.id, archive_id=archive.id)
    assert "The office wifi password is tangerine-42." not in _texts(
        letta.agents.passages.search(alice.id, query="wifi password", top_k=5)
    )


def test_bad_archive_input_is_a_clear_client_error(letta: Letta) -> None:
    with pytest.raises(UnprocessableEntityError):
        letta.archives.create(name="x", embedding="nobody/no-such-embedder")
    with pytest.raises((UnprocessableEntityError, BadRequestError)):
        letta.archives.retrieve("not-an-archive-id")
    agent = letta.agents.create(name="kb-missing")
    with pytest.raises(NotFoundError):
        letta.agents.archives.attach("archive-00000000-0000-4000-8000-000000000000", agent_id=agent.id)
    archive = letta.archives.create(name="kb-empty-batch")
    with pytest.raises(UnprocessableEntityError):
        letta.archives.passages.create_many(archive.id, passages=[])
