"""Run Alembic migrations programmatically (on `engram up`, `engram db upgrade` and in test fixtures)."""

from __future__ import annotations

from pathlib import Path

import psycopg
from alembic import command
from alembic.config import Config

from engram.errors import VectorExtensionMissing
from engram.store.db import normalize_url

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", normalize_url(url).replace("%", "%%"))
    return cfg


def ensure_vector_extension(url: str) -> None:
    """Create pgvector if missing; if this role may not, say exactly what an admin must run."""
    libpq_url = normalize_url(url).replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(libpq_url, autocommit=True) as conn:
        has_it = conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'vector'").fetchone()
        if has_it:
            return
        try:
            conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        except psycopg.Error as exc:
            dbname = conn.info.dbname
            raise VectorExtensionMissing(
                f"database {dbname!r} has no pgvector extension and this role cannot create it "
                f"({exc.diag.message_primary or exc}). Ask an administrator to run, as a superuser:\n"
                f'    psql -d {dbname} -c "CREATE EXTENSION IF NOT EXISTS vector;"\n'
                "(pgvector must be installed on the server; on RDS/Cloud SQL the rds_superuser / "
                "cloudsqlsuperuser role can do it.)"
            ) from exc


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the database at `url` to `revision`; safe to run on an already-migrated database."""
    ensure_vector_extension(url)
    command.upgrade(alembic_config(url), revision)


def current_revision(url: str) -> str | None:
    libpq_url = normalize_url(url).replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(libpq_url) as conn:
        try:
            row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        except psycopg.errors.UndefinedTable:
            return None
    return row[0] if row else None
