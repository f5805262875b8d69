"""scheduled_messages: messages sent to an agent later (one-time or cron), one Temporal Schedule each

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('scheduled_messages',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('agent_id', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('scheduled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('cron_expression', sa.String(length=200), nullable=True),
    sa.Column('timezone', sa.String(length=64), nullable=False),
    sa.Column('messages', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('callback_url', sa.Text(), nullable=True),
    sa.Column('include_return_message_types', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('max_steps', sa.Integer(), nullable=True),
    sa.Column('is_paused', sa.Boolean(), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('last_run_id', sa.String(length=64), nullable=True),
    sa.Column('fire_count', sa.Integer(), server_default='0', nullable=False),
    sa.Column('organization_id', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['agent_id'], ['agents.id'], name=op.f('fk_scheduled_messages_agent_id_agents'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_scheduled_messages'))
    )
    op.create_index('ix_scheduled_messages_agent_created', 'scheduled_messages', ['agent_id', 'created_at'], unique=False)
    op.create_index(op.f('ix_scheduled_messages_organization_id'), 'scheduled_messages', ['organization_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_scheduled_messages_organization_id'), table_name='scheduled_messages')
    op.drop_index('ix_scheduled_messages_agent_created', table_name='scheduled_messages')
    op.drop_table('scheduled_messages')
