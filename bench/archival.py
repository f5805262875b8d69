"""Archival memory at scale: ingest rate, HNSW build time, per-agent top-k latency and recall (prints figures).

    .venv/bin/python -m bench.archival                     # 100,000 passages, 384 dims, 100 agents
    .venv/bin/python -m bench.archival --passages 20000    # quicker

Starts an embedded PostgreSQL (pgvector) in a temp dir, migrates a fresh database and fills `passages`
with random unit vectors spread over `--agents` agents (COPY, index dropped), then builds the per-dimension
HNSW index and times it. Searches go through `engram.store.passages.search_passages`, the function the
`archival_memory_search` tool and the REST search use, for random agents; recall@k compares each answer
with a brute-force ranking of that agent's vectors in NumPy (Engram's per-agent search is exact, so 1.0
is expected). For contrast it also runs the naive filtered HNSW query (`WHERE agent_id = X ORDER BY
embedding <=> q LIMIT k` through the index) and reports how many rows it returns: the planner trap of
../shared/reference/storage-and-embeddings.md. Writes JSON to bench/results/archival-<timestamp>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import shutil
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import psycopg

from engram.ids import new_id
from engram.runtime.embedded_postgres import EmbeddedPostgres, start_embedded_postgres
from engram.schemas.agent import AgentSpec
from engram.store import agents as agent_store
from engram.store import passages as passage_store
from engram.store.db import create_engine, session_factory
from engram.store.migrate import upgrade

MODEL = "bench/random"
RESULTS = Path(__file__).parent / "results"


def _unit_rows(rng: np.random.Generator, n: int, dim: int) -> np.ndarray:
    rows = rng.standard_normal((n, dim)).astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def _copy_passages(url: str, org: str, agent_ids: list[str], vectors: np.ndarray, batch: int = 5000) -> None:
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        for start in range(0, len(vectors), batch):
            buf = io.StringIO()
            for i in range(start, min(start + batch, len(vectors))):
                vec = "[" + ",".join(f"{x:.6f}" for x in vectors[i]) + "]"
                buf.write(f"passage-bench-{i}\t{org}\t{agent_ids[i % len(agent_ids)]}\tpassage {i}\t{{}}\t{vec}\t"
                          f"{MODEL}\t{vectors.shape[1]}\n")  # fmt: skip
            buf.seek(0)
            with cur.copy(
                "COPY passages (id, organization_id, agent_id, text, tags, embedding, embedding_model, embedding_dim)"
                " FROM STDIN"
            ) as copy:
                copy.write(buf.read())
        conn.commit()


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def _create_agents(db_url: str, org: str, count: int) -> list[str]:
    engine = create_engine(db_url)
    try:
        async with session_factory(engine).begin() as s:
            return [
                (
                    await agent_store.create_agent(
                        s,
                        org,
                        AgentSpec(name=f"bench-{i}", model="engram/offline", include_base_tools=False),
                        llm_config={},
                    )
                ).id  # fmt: skip
                for i in range(count)
            ]
    finally:
        await engine.dispose()


async def _search(
    db_url: str, org: str, agent_ids: list[str], vectors: np.ndarray, queries: int, k: int, seed: int
) -> dict[str, float]:
    """Each query twice, timed two ways: in a fresh session (checkout with pre-ping, BEGIN, the search,
    ROLLBACK: a request that does nothing else) and inside one open session (how the tool and the REST
    routes call it: their session is already in use). The same agents and vectors both ways."""
    rng = np.random.default_rng(seed + 1)
    owner = np.arange(len(vectors)) % len(agent_ids)
    engine = create_engine(db_url)
    plan = [(int(rng.integers(len(agent_ids))), _unit_rows(rng, 1, vectors.shape[1])[0]) for _ in range(queries)]
    fresh, in_session, recalls = [], [], []
    try:
        sessions = session_factory(engine)
        for q, (a, query) in enumerate(plan):
            started = time.perf_counter()
            async with sessions() as s:
                found = await passage_store.search_passages(
                    s, org, agent_ids[a], query.tolist(), embedding_model=MODEL, top_k=k
                )
            if q >= 5:  # first few warm the connection pool and caches
                fresh.append((time.perf_counter() - started) * 1000)
            mine = np.flatnonzero(owner == a)
            best = mine[np.argsort(-(vectors[mine] @ query))[:k]]
            expected = {f"passage-bench-{i}" for i in best}
            recalls.append(len(expected & {p.id for p, _ in found}) / max(1, len(expected)))
        async with sessions() as s:
            await s.connection()
            for q, (a, query) in enumerate(plan):
                started = time.perf_counter()
                await passage_store.search_passages(s, org, agent_ids[a], query.tolist(), embedding_model=MODEL, top_k=k)
                if q >= 5:
                    in_session.append((time.perf_counter() - started) * 1000)
    finally:
        await engine.dispose()
    return {
        "search_p50_ms": statistics.median(fresh), "search_p99_ms": _percentile(fresh, 0.99),
        "search_in_session_p50_ms": statistics.median(in_session),
        "search_in_session_p99_ms": _percentile(in_session, 0.99), "recall_at_k": statistics.mean(recalls),
    }  # fmt: skip


def _naive_hnsw_rows(url: str, agent_id: str, dim: int, k: int, seed: int) -> int:
    query = _unit_rows(np.random.default_rng(seed + 2), 1, dim)[0]
    literal = "[" + ",".join(f"{x:.6f}" for x in query) + "]"
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            f"SELECT id FROM passages WHERE embedding_dim = {dim} AND agent_id = %s "
            f"ORDER BY embedding::vector({dim}) <=> %s::vector({dim}) LIMIT %s",
            (agent_id, literal, k),
        ).fetchall()  # fmt: skip
    return len(rows)


def _sql_only_ms(url: str, org: str, agent_ids: list[str], dim: int, k: int, seed: int, n: int = 50) -> float:
    """The search statement's server-side execution time (EXPLAIN ANALYZE of the very statement
    `search_passages` sends, same values), without Python, the driver or the round trip."""
    from sqlalchemy.dialects.postgresql.psycopg import dialect

    compiled = passage_store._search_statement(dim, False, False, False, False).compile(dialect=dialect())
    rng = np.random.default_rng(seed + 3)
    times = []
    with psycopg.connect(url) as conn:
        conn.adapters.register_dumper(passage_store._BinaryVector, passage_store._BinaryVectorDumper)
        for i in range(n):
            values = {"org_id": org, "agent_id": agent_ids[i % len(agent_ids)], "embedding_model": MODEL, "top_k": k,
                      "query": passage_store._BinaryVector(_unit_rows(rng, 1, dim)[0].tolist())}  # fmt: skip
            plan = conn.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + str(compiled), compiled.construct_params(values))
            times.append(plan.fetchone()[0][0]["Execution Time"])
    return statistics.median(times)


def _load(server: EmbeddedPostgres, vectors: np.ndarray, args: argparse.Namespace) -> tuple[str, list[str], float, float]:
    """A fresh migrated `bench` database filled with `vectors`: (org, agent ids, ingest s, index build s)."""
    server.drop_database("bench")
    server.create_database("bench")
    url = server.libpq_url("bench")
    upgrade(url.replace("postgresql://", "postgresql+psycopg://", 1))
    org = new_id("org")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("INSERT INTO organizations (id, name) VALUES (%s, 'bench')", (org,))
    agent_ids = asyncio.run(_create_agents(url.replace("postgresql://", "postgresql+psycopg://", 1), org, args.agents))
    index = f"ix_passages_embedding_hnsw_{args.dim}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"DROP INDEX IF EXISTS {index}")
    started = time.perf_counter()
    _copy_passages(url, org, agent_ids, vectors)
    ingest_s = time.perf_counter() - started
    started = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as conn:
        if not args.no_index:
            conn.execute(
                f"CREATE INDEX {index} ON passages USING hnsw ((embedding::vector({args.dim})) vector_cosine_ops) "
                f"WHERE embedding_dim = {args.dim}"
            )
        # What autovacuum does within a minute of a bulk load (1,000+ new rows): statistics, and the visibility
        # map that lets the per-agent search walk the covering index without visiting the heap (0011).
        conn.execute("VACUUM (ANALYZE) passages")
    return org, agent_ids, ingest_s, time.perf_counter() - started


def _reusable(root: Path, server: EmbeddedPostgres, sizes: dict) -> tuple[str, list[str], float, float] | None:
    """What an earlier `--db-dir` run loaded, if it loaded these sizes (else None: load again)."""
    marker = root / "loaded.json"
    if not marker.exists() or not server.database_exists("bench"):
        return None
    loaded = json.loads(marker.read_text())
    if loaded["sizes"] != sizes:
        return None
    return loaded["org"], loaded["agent_ids"], loaded["ingest_s"], loaded["build_s"]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--passages", type=int, default=100_000)
    parser.add_argument("--agents", type=int, default=100)
    parser.add_argument(
        "--dim", type=int, default=384, help="a dimension with an HNSW index (384, 768, 1024, 1536)"
    )
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--no-index", action="store_true", help="skip the HNSW build (per-agent search never uses it)")
    parser.add_argument(
        "--db-dir", help="keep the loaded database in this directory and reuse it on the next run with the same"
        " sizes (skips the minutes of loading while iterating; ingest/build figures are then the first run's)",
    )  # fmt: skip
    args = parser.parse_args()

    root = Path(args.db_dir).absolute() if args.db_dir else Path(tempfile.mkdtemp(prefix="engram-bench-archival-"))
    server = start_embedded_postgres(root / "pgdata")
    try:
        sizes = {"passages": args.passages, "agents": args.agents, "dim": args.dim, "seed": args.seed,
                 "index": not args.no_index}  # fmt: skip
        vectors = _unit_rows(np.random.default_rng(args.seed), args.passages, args.dim)
        loaded = _reusable(root, server, sizes)
        if loaded is None:
            org, agent_ids, ingest_s, build_s = _load(server, vectors, args)
            if args.db_dir:
                (root / "loaded.json").write_text(json.dumps(
                    {"sizes": sizes, "org": org, "agent_ids": agent_ids, "ingest_s": ingest_s, "build_s": build_s}
                ))  # fmt: skip
        else:
            org, agent_ids, ingest_s, build_s = loaded
        url = server.libpq_url("bench")
        db_url = url.replace("postgresql://", "postgresql+psycopg://", 1)
        figures = asyncio.run(_search(db_url, org, agent_ids, vectors, args.queries, args.k, args.seed))
        naive = _naive_hnsw_rows(url, agent_ids[0], args.dim, args.k, args.seed)
        sql_ms = _sql_only_ms(url, org, agent_ids, args.dim, args.k, args.seed)
    finally:
        server.stop()
        if not args.db_dir:
            shutil.rmtree(root, ignore_errors=True)

    result = {
        "passages": args.passages, "agents": args.agents, "dim": args.dim, "k": args.k, "queries": args.queries,
        "ingest_rows_per_s": args.passages / ingest_s, "index_build_s": build_s, **figures,
        "naive_filtered_hnsw_rows": naive, "sql_execution_p50_ms": sql_ms,
    }  # fmt: skip
    width = max(len(key) for key in result)
    for key, value in result.items():
        print(f"{key:<{width}}  {value:.2f}" if isinstance(value, float) else f"{key:<{width}}  {value}")  # noqa: T201
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"archival-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    out.write_text(json.dumps(result, indent=2))
    print(f"wrote {out}")  # noqa: T201


if __name__ == "__main__":
    main()
