"""recommend: viewer interest profiles, the recommendations of each analysed request, indexes on a viewer's clicks and purchases

Revision ID: 0008_recommend
Revises: 0007_creator_corrections
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0008_recommend'
down_revision = '0007_creator_corrections'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('viewer_profiles',
    sa.Column('viewer_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('vector', sa.LargeBinary(), nullable=False),
    sa.Column('weight', sa.Float(), nullable=False),
    sa.Column('topics', sa.JSON(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['viewer_id'], ['viewers.id'], ),
    sa.PrimaryKeyConstraint('viewer_id')
    )
    with op.batch_alter_table('understandings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('recommendations', sa.JSON(), nullable=False, server_default='[]'))
    op.create_index('ix_link_clicks_viewer_id', 'link_clicks', ['viewer_id'], unique=False)
    op.create_index('ix_conversions_viewer_id', 'conversions', ['viewer_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_conversions_viewer_id', table_name='conversions')
    op.drop_index('ix_link_clicks_viewer_id', table_name='link_clicks')
    with op.batch_alter_table('understandings', schema=None) as batch_op:
        batch_op.drop_column('recommendations')
    op.drop_table('viewer_profiles')
