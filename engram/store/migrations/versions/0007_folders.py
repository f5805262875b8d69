"""folders, files, file_passages, agent_folders, file_agents: documents agents can open, grep and search

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25 10:00:00.000000
"""

from collections.abc import Sequence

import pgvector.sqlalchemy
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _timestamps() -> list[sa.Column]:
    return [
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    ]


def upgrade() -> None:
    op.create_table('folders',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=500), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('instructions', sa.Text(), nullable=True),
    sa.Column('metadata', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('embedding', sa.String(length=200), nullable=False),
    sa.Column('embedding_config', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('embedding_chunk_size', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.String(length=64), nullable=False),
    *_timestamps(),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_folders')),
    sa.UniqueConstraint('organization_id', 'name', name=op.f('uq_folders_organization_id_name'))
    )
    op.create_index(op.f('ix_folders_organization_id'), 'folders', ['organization_id'], unique=False)

    op.create_table('files',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('folder_id', sa.String(length=64), nullable=False),
    sa.Column('file_name', sa.String(length=1000), nullable=False),
    sa.Column('original_file_name', sa.String(length=1000), nullable=False),
    sa.Column('file_path', sa.Text(), nullable=True),
    sa.Column('file_type', sa.String(length=200), nullable=True),
    sa.Column('file_size', sa.BigInteger(), nullable=False),
    sa.Column('processing_status', sa.String(length=16), nullable=False),
    sa.Column('error_message', sa.Text(), nullable=True),
    sa.Column('total_chunks', sa.Integer(), nullable=True),
    sa.Column('chunks_embedded', sa.Integer(), nullable=True),
    sa.Column('content', sa.Text(), nullable=True),
    sa.Column('raw', sa.LargeBinary(), nullable=True),
    sa.Column('organization_id', sa.String(length=64), nullable=False),
    *_timestamps(),
    sa.ForeignKeyConstraint(['folder_id'], ['folders.id'], name=op.f('fk_files_folder_id_folders'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_files'))
    )
    op.create_index('ix_files_folder_created', 'files', ['folder_id', 'created_at'], unique=False)
    op.create_index(op.f('ix_files_organization_id'), 'files', ['organization_id'], unique=False)

    op.create_table('file_passages',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('file_id', sa.String(length=64), nullable=False),
    sa.Column('folder_id', sa.String(length=64), nullable=False),
    sa.Column('chunk_index', sa.Integer(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('embedding', pgvector.sqlalchemy.vector.VECTOR(), nullable=True),
    sa.Column('embedding_model', sa.String(length=200), nullable=True),
    sa.Column('embedding_dim', sa.Integer(), nullable=True),
    sa.Column('search_tsv', postgresql.TSVECTOR(), sa.Computed("to_tsvector('english', coalesce(text, ''))", persisted=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('organization_id', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['file_id'], ['files.id'], name=op.f('fk_file_passages_file_id_files'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_file_passages')),
    sa.UniqueConstraint('file_id', 'chunk_index', name=op.f('uq_file_passages_file_id_chunk_index'))
    )
    op.create_index('ix_file_passages_folder', 'file_passages', ['folder_id'], unique=False)
    op.create_index('ix_file_passages_search_tsv', 'file_passages', ['search_tsv'], unique=False, postgresql_using='gin')
    op.create_index(op.f('ix_file_passages_organization_id'), 'file_passages', ['organization_id'], unique=False)

    op.create_table('agent_folders',
    sa.Column('agent_id', sa.String(length=64), nullable=False),
    sa.Column('folder_id', sa.String(length=64), nullable=False),
    sa.Column('organization_id', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['agent_id'], ['agents.id'], name=op.f('fk_agent_folders_agent_id_agents'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['folder_id'], ['folders.id'], name=op.f('fk_agent_folders_folder_id_folders'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('agent_id', 'folder_id', name=op.f('pk_agent_folders'))
    )
    op.create_index(op.f('ix_agent_folders_folder_id'), 'agent_folders', ['folder_id'], unique=False)
    op.create_index(op.f('ix_agent_folders_organization_id'), 'agent_folders', ['organization_id'], unique=False)

    op.create_table('file_agents',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('agent_id', sa.String(length=64), nullable=False),
    sa.Column('file_id', sa.String(length=64), nullable=False),
    sa.Column('folder_id', sa.String(length=64), nullable=False),
    sa.Column('file_name', sa.String(length=1000), nullable=False),
    sa.Column('is_open', sa.Boolean(), nullable=False),
    sa.Column('visible_content', sa.Text(), nullable=True),
    sa.Column('start_line', sa.Integer(), nullable=True),
    sa.Column('end_line', sa.Integer(), nullable=True),
    sa.Column('last_accessed_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('organization_id', sa.String(length=64), nullable=False),
    *_timestamps(),
    sa.ForeignKeyConstraint(['agent_id'], ['agents.id'], name=op.f('fk_file_agents_agent_id_agents'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['file_id'], ['files.id'], name=op.f('fk_file_agents_file_id_files'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['folder_id'], ['folders.id'], name=op.f('fk_file_agents_folder_id_folders'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_file_agents')),
    sa.UniqueConstraint('agent_id', 'file_id', name=op.f('uq_file_agents_agent_id_file_id'))
    )
    op.create_index('ix_file_agents_agent_open', 'file_agents', ['agent_id', 'is_open'], unique=False)
    op.create_index(op.f('ix_file_agents_file_id'), 'file_agents', ['file_id'], unique=False)
    op.create_index(op.f('ix_file_agents_organization_id'), 'file_agents', ['organization_id'], unique=False)


def downgrade() -> None:
    op.drop_table('file_agents')
    op.drop_table('agent_folders')
    op.drop_table('file_passages')
    op.drop_table('files')
    op.drop_table('folders')
