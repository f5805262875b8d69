"""messages.search_tsv: only rows recall search can return (not system prompts, not tool returns)

conversation_search never returns system or tool rows, yet every agent's compiled system prompt (the
largest row it has) was turned into a tsvector and indexed: ~1.4 KB of tsvector and ~3.3 KB of GIN index
per agent, a third of what creating an agent wrote (issue #9: 10,000 idle agents, measured with
pg_column_size / pg_relation_size). Those rows now store NULL there: no tsvector and no lexeme entries
in the GIN index.

Changing a generated column's expression means dropping and re-adding it; Postgres rewrites the table
once (on a large production table, run this migration in a maintenance window).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04 19:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SEARCHABLE = "CASE WHEN role IN ('system', 'tool') THEN NULL ELSE to_tsvector('english', coalesce(text, '')) END"
EVERY_ROW = "to_tsvector('english', coalesce(text, ''))"


def _replace(expression: str, nullable: bool) -> None:
    op.drop_index("ix_messages_search_tsv", table_name="messages", postgresql_using="gin")
    op.drop_column("messages", "search_tsv")
    op.add_column(
        "messages",
        sa.Column("search_tsv", postgresql.TSVECTOR(), sa.Computed(expression, persisted=True), nullable=nullable),
    )
    op.create_index("ix_messages_search_tsv", "messages", ["search_tsv"], postgresql_using="gin")


def upgrade() -> None:
    _replace(SEARCHABLE, nullable=True)


def downgrade() -> None:
    _replace(EVERY_ROW, nullable=False)
