"""link_clicks.visitor and .automated (unique clicks); viewers.first_seen recomputed as the earliest comment time

Revision ID: 0003_creator_view
Revises: 0002
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0003_creator_view'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('link_clicks', schema=None) as batch_op:
        batch_op.add_column(sa.Column('visitor', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('automated', sa.Boolean(), nullable=False, server_default=sa.false()))
    # Clicks so far: a known viewer is their own visitor; anonymous ones stay NULL (each counts on its own).
    op.execute("UPDATE link_clicks SET visitor = (SELECT pseudonym FROM viewers WHERE viewers.id = link_clicks.viewer_id) "
               "WHERE viewer_id IS NOT NULL")
    # first_seen was the processing time; it is now when the viewer first wrote (the platform's time).
    op.execute("UPDATE viewers SET first_seen = (SELECT min(created_at) FROM events WHERE events.viewer_id = viewers.id) "
               "WHERE (SELECT min(created_at) FROM events WHERE events.viewer_id = viewers.id) < first_seen")


def downgrade() -> None:
    # first_seen keeps its earlier values: they are still times the viewer was seen.
    with op.batch_alter_table('link_clicks', schema=None) as batch_op:
        batch_op.drop_column('automated')
        batch_op.drop_column('visitor')
