"""sleeptime_threads: per-conversation sleep-time turn counter and reviewed window

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-25 10:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sleeptime_threads",
        sa.Column("group_id", sa.String(length=64), nullable=False),
        sa.Column("conversation_id", sa.String(length=64), nullable=False),
        sa.Column("organization_id", sa.String(length=64), nullable=False),
        sa.Column("turns_counter", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_counted_run_id", sa.String(length=64), nullable=True),
        sa.Column("last_processed_message_id", sa.String(length=64), nullable=True),
        sa.Column("last_processed_position", sa.BigInteger(), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(["group_id"], ["sleeptime_groups.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["conversation_id"], ["conversations.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("group_id", "conversation_id"),
    )
    op.create_index("ix_sleeptime_threads_organization_id", "sleeptime_threads", ["organization_id"])


def downgrade() -> None:
    op.drop_index("ix_sleeptime_threads_organization_id", table_name="sleeptime_threads")
    op.drop_table("sleeptime_threads")
