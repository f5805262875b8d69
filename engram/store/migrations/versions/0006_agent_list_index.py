"""agents: (organization_id, created_at, id) index, so listing agents newest first is an index walk

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25 09:10:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_agents_org_created", "agents", ["organization_id", "created_at", "id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_agents_org_created", table_name="agents")
