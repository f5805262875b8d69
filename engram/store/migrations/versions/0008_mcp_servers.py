"""mcp_servers: MCP servers per organization (stdio command or SSE / streamable HTTP URL)

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-25 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('mcp_servers',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('server_name', sa.String(length=200), nullable=False),
    sa.Column('server_type', sa.String(length=32), nullable=False),
    sa.Column('command', sa.Text(), nullable=True),
    sa.Column('args', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('env', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('server_url', sa.Text(), nullable=True),
    sa.Column('auth_header', sa.String(length=200), nullable=True),
    sa.Column('auth_token', sa.Text(), nullable=True),
    sa.Column('custom_headers', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('organization_id', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mcp_servers')),
    sa.UniqueConstraint('organization_id', 'server_name', name=op.f('uq_mcp_servers_organization_id_server_name'))
    )
    op.create_index(op.f('ix_mcp_servers_organization_id'), 'mcp_servers', ['organization_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_mcp_servers_organization_id'), table_name='mcp_servers')
    op.drop_table('mcp_servers')
