"""passages: covering btree indexes for per-agent exact search of 384-dim vectors

Per-agent archival search is an exact scan of the agent's rows (the HNSW index would filter its approximate
top-k afterwards and return fewer than k). Through the heap that scan reads one page per passage, because
an agent's passages are spread over the table; these indexes keep each agent's (and each archive's)
vectors side by side, so the scan is an index-only walk of ~1/3 as many pages (100k passages, 100 agents:
337 pages instead of 1,002; a search that misses the cache took ~8 ms instead of ~26 ms).

Only 384 dimensions (the offline MiniLM embedder, OpenAI small at dimensions=384): a btree entry holds at
most ~2.7 kB, and a 768-dim vector alone is 3 kB. Other dimensions keep the heap scan (still exact).
Cost: the vectors are stored a second time (~2.7 kB per passage, 264 MB per 100k passages).

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-25 12:20:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COVERED_DIMENSION = 384


def upgrade() -> None:
    op.execute(
        f"CREATE INDEX ix_passages_agent_vectors_{COVERED_DIMENSION} ON passages (agent_id, embedding_model) "
        "INCLUDE (organization_id, created_at, id, embedding) "
        f"WHERE embedding_dim = {COVERED_DIMENSION} AND deleted_at IS NULL AND agent_id IS NOT NULL"
    )
    op.execute(
        f"CREATE INDEX ix_passages_archive_vectors_{COVERED_DIMENSION} ON passages (archive_id, embedding_model) "
        "INCLUDE (organization_id, agent_id, created_at, id, embedding) "
        f"WHERE embedding_dim = {COVERED_DIMENSION} AND deleted_at IS NULL AND archive_id IS NOT NULL"
    )


def downgrade() -> None:
    op.execute(f"DROP INDEX IF EXISTS ix_passages_archive_vectors_{COVERED_DIMENSION}")
    op.execute(f"DROP INDEX IF EXISTS ix_passages_agent_vectors_{COVERED_DIMENSION}")
