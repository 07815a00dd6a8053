"""outbox.attempt_started_at: when the current attempt's request began, so a crash leaves one message in doubt

Revision ID: 0006_outbox_attempts
Revises: 0005_input_boundary
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0006_outbox_attempts'
down_revision = '0005_input_boundary'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('attempt_started_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_column('attempt_started_at')
