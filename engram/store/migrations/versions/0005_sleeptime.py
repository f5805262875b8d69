"""sleeptime_groups: sleep-time agents of primary agents, turn counter, processed window, schedule

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('sleeptime_groups',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('manager_agent_id', sa.String(length=64), nullable=False),
    sa.Column('sleeptime_agent_id', sa.String(length=64), nullable=False),
    sa.Column('frequency', sa.Integer(), nullable=True),
    sa.Column('turns_counter', sa.Integer(), server_default='0', nullable=False),
    sa.Column('last_counted_run_id', sa.String(length=64), nullable=True),
    sa.Column('last_processed_message_id', sa.String(length=64), nullable=True),
    sa.Column('last_processed_position', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('schedule_interval_s', sa.Float(), nullable=True),
    sa.Column('schedule_cron', sa.String(length=200), nullable=True),
    sa.Column('schedule_jitter_s', sa.Float(), server_default='0', nullable=False),
    sa.Column('schedule_catchup_window_s', sa.Float(), server_default='300', nullable=False),
    sa.Column('schedule_paused', sa.Boolean(), server_default='false', nullable=False),
    sa.Column('organization_id', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['manager_agent_id'], ['agents.id'], name=op.f('fk_sleeptime_groups_manager_agent_id_agents'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['sleeptime_agent_id'], ['agents.id'], name=op.f('fk_sleeptime_groups_sleeptime_agent_id_agents'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sleeptime_groups')),
    sa.UniqueConstraint('manager_agent_id', name=op.f('uq_sleeptime_groups_manager_agent_id'))
    )
    op.create_index(op.f('ix_sleeptime_groups_organization_id'), 'sleeptime_groups', ['organization_id'], unique=False)
    op.create_index(op.f('ix_sleeptime_groups_sleeptime_agent_id'), 'sleeptime_groups', ['sleeptime_agent_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_sleeptime_groups_sleeptime_agent_id'), table_name='sleeptime_groups')
    op.drop_index(op.f('ix_sleeptime_groups_organization_id'), table_name='sleeptime_groups')
    op.drop_table('sleeptime_groups')
