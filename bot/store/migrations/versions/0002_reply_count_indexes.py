"""partial indexes over counted replies (rate-limit counts); the platform/time index they replace

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None

_REPLY_INDEXES = {
    'ix_decisions_replies_thread': ['platform', 'thread_id', 'decided_at'],
    'ix_decisions_replies_viewer': ['viewer_id', 'decided_at'],
    'ix_decisions_replies_platform': ['platform', 'decided_at'],
}


def upgrade() -> None:
    with op.batch_alter_table('decisions', schema=None) as batch_op:
        batch_op.drop_index('ix_decisions_platform_time')
        for name, columns in _REPLY_INDEXES.items():
            batch_op.create_index(name, columns, unique=False, postgresql_where=sa.text('counts_as_reply'),
                                  sqlite_where=sa.text('counts_as_reply = 1'))


def downgrade() -> None:
    with op.batch_alter_table('decisions', schema=None) as batch_op:
        for name in _REPLY_INDEXES:
            batch_op.drop_index(name)
        batch_op.create_index('ix_decisions_platform_time', ['platform', 'decided_at'], unique=False)
