"""scheduled_messages.conversation_id: a wake-up asked for inside a conversation fires in that thread

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-25 09:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('scheduled_messages', sa.Column('conversation_id', sa.String(length=64), nullable=True))


def downgrade() -> None:
    op.drop_column('scheduled_messages', 'conversation_id')
