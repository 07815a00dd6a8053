"""proactive_dms: proactive DMs per viewer, so platform DM limits survive restarts and hold across workers

Revision ID: 0004_platform_pacing
Revises: 0003_creator_view
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0004_platform_pacing'
down_revision = '0003_creator_view'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('proactive_dms',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('platform', sa.String(length=32), nullable=False),
    sa.Column('pseudonym', sa.String(length=64), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('proactive_dms', schema=None) as batch_op:
        batch_op.create_index('ix_proactive_dms_viewer_time', ['platform', 'pseudonym', 'sent_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('proactive_dms', schema=None) as batch_op:
        batch_op.drop_index('ix_proactive_dms_viewer_time')
    op.drop_table('proactive_dms')
