"""A database that is down (restarting) is a retryable 503 with Retry-After, never a 500; the worker's
outage interceptor and the API agree on what "down" means (engram/store/outage.py)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import httpx
import psycopg
from sqlalchemy.exc import IntegrityError

from api.app import create_app
from engram.config import Settings
from engram.store.db import create_engine, session_factory
from engram.store.outage import is_database_unavailable


async def test_a_request_while_postgres_is_down_is_a_503_with_retry_after() -> None:
    with tempfile.TemporaryDirectory() as nowhere:  # a socket directory with no server in it
        url = f"postgresql+psycopg://postgres@/engram?host={nowhere}"
        settings = Settings(_env_file=None, database_url=url, data_dir=Path(nowhere))  # type: ignore[call-arg]
        app = create_app(settings)  # no lifespan: it would fail on the missing database before serving
        engine = create_engine(url)
        app.state.settings, app.state.engine, app.state.sessions = settings, engine, session_factory(engine)
        try:
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
                response = await http.get("/v1/agents/")
        finally:
            await engine.dispose()
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == "1"
    assert "unavailable" in response.json()["detail"]


def test_only_connection_failures_count_as_an_outage() -> None:
    assert is_database_unavailable(psycopg.OperationalError("connection refused"))
    wrapped = RuntimeError("step failed")
    wrapped.__cause__ = ConnectionRefusedError()
    assert is_database_unavailable(wrapped)
    assert not is_database_unavailable(IntegrityError("INSERT", {}, Exception("duplicate key")))
    assert not is_database_unavailable(ValueError("bad input"))
