"""viewer takeover: a human answers one viewer everywhere on their platform (viewers.taken_over_at / taken_over_by)

Revision ID: 0011_viewer_takeover
Revises: 0010_recommend
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0011_viewer_takeover'
down_revision = '0010_recommend'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('viewers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('taken_over_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('taken_over_by', sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('viewers', schema=None) as batch_op:
        batch_op.drop_column('taken_over_by')
        batch_op.drop_column('taken_over_at')
