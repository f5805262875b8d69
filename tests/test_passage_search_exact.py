"""Per-agent archival search returns the true top-k even when most rows belong to other agents.

Letta's trap: `WHERE agent_id = X ORDER BY embedding <=> q LIMIT k` lets an HNSW index pick an approximate
top-k over all agents and filter afterwards, returning fewer than k rows. Our search is an exact scan of
the agent's rows; this test compares it with a brute-force ranking.
"""

from __future__ import annotations

import random

from engram.ids import new_id
from engram.store import passages
from engram.store.passages import NewPassage

AGENTS, PER_AGENT, DIM, K = 100, 20, 384, 10
MODEL = "test/random-384"


def _unit(rng: random.Random) -> list[float]:
    vec = [rng.gauss(0.0, 1.0) for _ in range(DIM)]
    norm = sum(x * x for x in vec) ** 0.5
    return [x / norm for x in vec]


def _cosine_distance(a: list[float], b: list[float]) -> float:
    return 1.0 - sum(x * y for x, y in zip(a, b, strict=True))


async def test_per_agent_search_is_exact_among_many_agents(sessions) -> None:
    from engram.schemas.agent import AgentSpec
    from engram.store import agents

    rng = random.Random(42)
    org = new_id("org")
    vectors: dict[str, dict[str, list[float]]] = {}
    async with sessions.begin() as s:
        for a in range(AGENTS):
            agent = await agents.create_agent(s, org, AgentSpec(name=f"a{a}", model="engram/offline", include_base_tools=False),
                                              llm_config={})  # fmt: skip
            rows = await passages.insert_passages(
                s, org, agent.id, [NewPassage(text=f"p{a}-{i}", embedding=_unit(rng), tags=[]) for i in range(PER_AGENT)],
                embedding_model=MODEL,
            )  # fmt: skip
            vectors[agent.id] = {row.id: row.embedding for row in rows}
    for agent_id in rng.sample(sorted(vectors), 5):
        query = _unit(rng)
        async with sessions() as s:
            found = await passages.search_passages(s, org, agent_id, query, embedding_model=MODEL, top_k=K)
        expected = sorted(vectors[agent_id], key=lambda pid: _cosine_distance(vectors[agent_id][pid], query))[:K]
        assert [p.id for p, _ in found] == expected


CROWD, CROWD_DIM = 50_000, 8  # no HNSW index exists for 8 dimensions, so the crowd loads in seconds


async def test_per_agent_search_ignores_a_crowd_of_50k_other_agents_passages(sessions) -> None:
    """50,000 passages of other agents (same model, same dimension) are in the table; the agent's search
    returns exactly its own brute-force top-k, never a crowd row."""
    from sqlalchemy import text

    from engram.schemas.agent import AgentSpec
    from engram.store import agents

    rng = random.Random(7)
    org = new_id("org")
    model = "test/random-8"

    def unit() -> list[float]:
        vec = [rng.gauss(0.0, 1.0) for _ in range(CROWD_DIM)]
        norm = sum(x * x for x in vec) ** 0.5
        return [x / norm for x in vec]

    async with sessions.begin() as s:
        spec = AgentSpec(name="crowd", model="engram/offline", include_base_tools=False)
        crowd = [(await agents.create_agent(s, org, spec, llm_config={})).id for _ in range(10)]
        me = (await agents.create_agent(s, org, spec.model_copy(update={"name": "me"}), llm_config={})).id
        await s.execute(text(f"""
            INSERT INTO passages (id, organization_id, agent_id, text, tags, embedding, embedding_model,
                                  embedding_dim, created_at, updated_at)
            SELECT 'passage-crowd-' || g, :org, (CAST(:crowd AS varchar[]))[1 + g % 10], 'crowd ' || g, '{{}}',
                   (SELECT array_agg(random() - 0.5) FROM generate_series(1, {CROWD_DIM}) AS d
                    WHERE d > 0 * g.g)::vector, :model, {CROWD_DIM}, now(), now()
            FROM generate_series(1, {CROWD}) AS g"""), {"org": org, "crowd": crowd, "model": model})  # fmt: skip
        rows = await passages.insert_passages(
            s, org, me, [NewPassage(text=f"mine-{i}", embedding=unit(), tags=[]) for i in range(30)], embedding_model=model
        )  # fmt: skip
        mine = {row.id: row.embedding for row in rows}
        count = await s.scalar(text("SELECT count(*) FROM passages WHERE organization_id = :org"), {"org": org})
    assert count == CROWD + 30
    for _ in range(5):
        query = unit()
        async with sessions() as s:
            found = await passages.search_passages(s, org, me, query, embedding_model=model, top_k=K)
        expected = sorted(mine, key=lambda pid: 1.0 - sum(x * y for x, y in zip(mine[pid], query, strict=True)))[:K]
        assert [p.id for p, _ in found] == expected


async def test_filters_and_shared_archives_narrow_the_exact_search(sessions) -> None:
    """Tag (any / all) and date filters, an attached archive's passages, and another model's vectors: each
    search returns exactly the passages that qualify, nearest first (the statement is reused across calls)."""
    from datetime import UTC, datetime

    from engram.schemas.agent import AgentSpec
    from engram.store import agents, archives

    org, model = new_id("org"), "test/filters-4"
    day = [datetime(2026, 1, d, tzinfo=UTC) for d in (1, 2, 3)]
    async with sessions.begin() as s:
        me = (await agents.create_agent(s, org, AgentSpec(name="me", model="engram/offline", include_base_tools=False),
                                        llm_config={})).id  # fmt: skip
        kb = await archives.create_archive(s, org, name="kb", description=None, embedding=None)
        await archives.attach_archive(s, org, me, kb.id)
        own = [
            NewPassage(text="near", embedding=[1.0, 0.0, 0.0, 0.0], tags=["a", "b"], created_at=day[0]),
            NewPassage(text="mid", embedding=[0.8, 0.6, 0.0, 0.0], tags=["a"], created_at=day[1]),
            NewPassage(text="far", embedding=[0.0, 1.0, 0.0, 0.0], tags=["b"], created_at=day[2]),
        ]
        await passages.insert_passages(s, org, me, own, embedding_model=model)
        await passages.insert_passages(s, org, None, [NewPassage(text="shared", embedding=[0.6, 0.8, 0.0, 0.0],
                                       tags=["b"], created_at=day[1])], embedding_model=model, archive_id=kb.id)  # fmt: skip
        await passages.insert_passages(s, org, me, [NewPassage(text="other model", embedding=[1.0, 0.0, 0.0, 0.0],
                                       tags=["a"])], embedding_model="test/other-4")  # fmt: skip

    async def texts(top_k: int = 10, **filters) -> list[str]:
        async with sessions() as s:
            found = await passages.search_passages(s, org, me, [1.0, 0.0, 0.0, 0.0], embedding_model=model, top_k=top_k,
                                                   **filters)  # fmt: skip
        assert [d for _, d in found] == sorted(d for _, d in found)
        return [p.text for p, _ in found]

    assert await texts() == ["near", "mid", "shared", "far"]
    assert await texts(tags=["b"]) == ["near", "shared", "far"]
    assert await texts(tags=["a", "b"], tag_match_mode="all") == ["near"]
    assert await texts(start=day[1]) == ["mid", "shared", "far"]
    assert await texts(start=day[1], end=day[1], tags=["a", "b"]) == ["mid", "shared"]
    assert await texts(top_k=1) == ["near"]
