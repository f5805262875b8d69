"""Console agent list at scale: server time of the agent-list page with 10,000 agents (prints figures).

    .venv/bin/python -m bench.console                  # 10,000 agents, 30 requests per page kind
    .venv/bin/python -m bench.console --agents 50000

Starts an embedded PostgreSQL in a temp dir, migrates a fresh database, creates one agent through the
repository (blocks, tools, rules: a real row) and copies it in SQL to `--agents` agents with distinct ids,
names, creation times and tags. Then it drives the real FastAPI app in process (httpx ASGI transport, so the
figure is the server's own time: auth, session, queries, Jinja rendering; no socket) and times the HTML
fragment the console loads for `/console/agents` (what the browser waits for after the static shell):
the first page, a page deep in the list (after the 1,000th agent), a name search, a tag filter and the
"next page" link of a search.
Writes JSON to bench/results/console-<timestamp>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psycopg

from engram.config import Settings
from engram.ids import DEFAULT_ORG_ID
from engram.schemas.agent import AgentSpec
from engram.store import agents as agent_store
from engram.store.db import create_engine, session_factory
from engram.store.migrate import upgrade
from engram.store.organizations import ensure_organization

RESULTS = Path(__file__).parent / "results"


async def _template_agent(db_url: str) -> str:
    engine = create_engine(db_url)
    try:
        async with session_factory(engine).begin() as session:
            await ensure_organization(session, DEFAULT_ORG_ID)
            spec = AgentSpec(name="template", model="engram/offline")
            agent = await agent_store.create_agent(
                session, DEFAULT_ORG_ID, spec, llm_config={"context_window": 32000}
            )
            return agent.id
    finally:
        await engine.dispose()


def _copy_agents(url: str, template: str, n: int) -> None:
    """n copies of the template row: ids `agent-<uuid4>`, names bench-<i>, one second apart, every 10th tagged."""
    with psycopg.connect(url, autocommit=True) as conn:
        columns = [
            r[0] for r in conn.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = 'agents' ORDER BY ordinal_position"
            )
        ]  # fmt: skip
        override = {
            "id": "'agent-' || gen_random_uuid()",
            "name": "'bench-' || i",
            "created_at": f"now() - make_interval(secs => {n} - i)",
            "updated_at": f"now() - make_interval(secs => {n} - i)",
            "tags": "CASE WHEN i % 10 = 0 THEN ARRAY['tenth'] ELSE ARRAY['bench'] END",
            "system_message_id": "NULL",
        }
        select = ", ".join(override.get(c, f"a.{c}") for c in columns)
        conn.execute(
            f"INSERT INTO agents ({', '.join(columns)}) SELECT {select} "
            f"FROM agents a, generate_series(1, {n}) AS i WHERE a.id = '{template}'"
        )
        conn.execute("ANALYZE agents")


async def _measure(db_url: str, data_dir: Path, requests: int) -> dict[str, object]:
    from api.app import create_app

    settings = Settings(_env_file=None, database_url=db_url, data_dir=data_dir)  # type: ignore[call-arg]
    app = create_app(settings)
    figures: dict[str, object] = {}
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            first = await client.get("/console/_f/agents")
            assert first.status_code == 200, first.text[:300]
            ids = [a["id"] for a in (await client.get("/v1/agents", params={"limit": 1000})).json()]
            pages = {
                "first_page": "/console/_f/agents",
                "deep_page": f"/console/_f/agents?after={ids[-1]}",
                "name_search": "/console/_f/agents?q=bench-4242",
                "tag_filter": "/console/_f/agents?tag=tenth",
                "next_page_link": "/console/_f/agents?q=bench&after=" + ids[49],
            }
            for label, path in pages.items():
                await client.get(path)  # warm
                samples = []
                for _ in range(requests):
                    started = time.perf_counter()
                    response = await client.get(path)
                    samples.append((time.perf_counter() - started) * 1000)
                    assert response.status_code == 200, response.text[:300]
                samples.sort()
                figures[label] = {
                    "p50_ms": round(statistics.median(samples), 1),
                    "p95_ms": round(samples[max(0, int(len(samples) * 0.95) - 1)], 1),
                    "max_ms": round(samples[-1], 1), "rows": response.text.count("data-agent-id="),
                }  # fmt: skip
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--agents", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=30)
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="engram-bench-console-"))
    server = None
    try:
        from engram.runtime.embedded_postgres import start_embedded_postgres

        server = start_embedded_postgres(root / "pgdata")
        server.create_database("bench")
        url = server.libpq_url("bench")
        db_url = url.replace("postgresql://", "postgresql+psycopg://", 1)
        upgrade(db_url)
        template = asyncio.run(_template_agent(db_url))
        start = time.perf_counter()
        _copy_agents(url, template, args.agents - 1)
        fill_s = time.perf_counter() - start
        figures = asyncio.run(_measure(db_url, root / "data", args.requests))
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(root, ignore_errors=True)

    result = {
        "agents": args.agents,
        "requests_per_page": args.requests,
        "fill_s": round(fill_s, 2),
        **figures,
    }
    print(json.dumps(result, indent=2))  # noqa: T201
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"console-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    out.write_text(json.dumps(result, indent=2))
    print(f"wrote {out}")  # noqa: T201


if __name__ == "__main__":
    main()
