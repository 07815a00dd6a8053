"""creator_corrections: what the creator taught (answers, relabels, wrong replies, FAQ phrasings and entries)

Revision ID: 0007_creator_corrections
Revises: 0006_outbox_attempts
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0007_creator_corrections'
down_revision = '0006_outbox_attempts'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('creator_corrections',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('event_pk', sa.Integer(), nullable=True),
    sa.Column('text', sa.String(), nullable=False),
    sa.Column('by', sa.String(length=200), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['event_pk'], ['events.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('creator_corrections', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_creator_corrections_event_pk'), ['event_pk'], unique=False)
        batch_op.create_index(batch_op.f('ix_creator_corrections_kind'), ['kind'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('creator_corrections', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_creator_corrections_kind'))
        batch_op.drop_index(batch_op.f('ix_creator_corrections_event_pk'))
    op.drop_table('creator_corrections')
