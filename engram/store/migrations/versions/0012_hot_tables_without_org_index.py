"""messages, runs: no single-column organization_id index (the planner picked it over the primary key)

Every query on these two tables also names something selective that has its own index (the id, the agent,
the run, the position), and filters on the organization only for tenancy. On young tables (no statistics
yet: every fresh install, every benchmark) the planner costed the tiny organization index the same as the
primary key and cached that plan; with one organization, a lookup by id then read every row of the
organization: a turn's cost grew with the conversation (issue #9, found with auto_explain). Without the
index the only candidates are the selective ones. Listing all runs of an organization walks runs by
creation time instead (ix_runs_created).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04 16:40:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_messages_organization_id", table_name="messages")
    op.drop_index("ix_runs_organization_id", table_name="runs")
    op.create_index("ix_runs_created", "runs", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_runs_created", table_name="runs")
    op.create_index("ix_runs_organization_id", "runs", ["organization_id"])
    op.create_index("ix_messages_organization_id", "messages", ["organization_id"])
