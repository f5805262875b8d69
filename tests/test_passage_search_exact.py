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
