"""Alembic migrations on an empty database and on one already at head."""

from __future__ import annotations

import uuid

import psycopg
from alembic.script import ScriptDirectory

from engram.store.migrate import MIGRATIONS_DIR, current_revision, upgrade
from engram.store.models import Base
from tests.conftest import _with_database


def _fresh_database(pg_admin_url: str) -> tuple[str, str]:
    name = f"t_mig_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return name, _with_database(pg_admin_url, name)


def _script_head() -> str:
    heads = ScriptDirectory(str(MIGRATIONS_DIR)).get_heads()
    assert len(heads) == 1, f"migrations must form one chain, found heads {heads}"
    return heads[0]


def _tables(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'").fetchall()
    return {r[0] for r in rows}


def test_upgrade_creates_every_table_on_an_empty_database(pg_admin_url: str) -> None:
    _, url = _fresh_database(pg_admin_url)
    assert current_revision(url) is None
    upgrade(url)
    assert set(Base.metadata.tables) <= _tables(url)
    assert current_revision(url) == _script_head()
    with psycopg.connect(url) as conn:
        indexes = {r[0] for r in conn.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'passages'")}
    assert "ix_passages_embedding_hnsw_384" in indexes
    assert {"ix_passages_agent_vectors_384", "ix_passages_archive_vectors_384"} <= indexes


def test_upgrade_on_a_migrated_database_keeps_data(pg_admin_url: str) -> None:
    _, url = _fresh_database(pg_admin_url)
    upgrade(url)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("INSERT INTO organizations (id, name) VALUES ('org-x', 'kept')")
    upgrade(url)
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT name FROM organizations WHERE id = 'org-x'").fetchone() == ("kept",)
    assert current_revision(url) == _script_head()
