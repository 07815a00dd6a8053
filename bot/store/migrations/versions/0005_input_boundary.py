"""quarantine: input lines and deliveries that could not be read or stored, kept as they came

Revision ID: 0005_input_boundary
Revises: 0004_platform_pacing
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0005_input_boundary'
down_revision = '0004_platform_pacing'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('quarantine',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('origin', sa.String(length=400), nullable=False),
    sa.Column('reason', sa.String(), nullable=False),
    sa.Column('raw', sa.String(), nullable=False),
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('origin', 'digest', name='uq_quarantine_origin_digest')
    )
    with op.batch_alter_table('quarantine', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_quarantine_created_at'), ['created_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('quarantine', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_quarantine_created_at'))
    op.drop_table('quarantine')
