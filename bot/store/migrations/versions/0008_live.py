"""live rooms: the host's question board (groups, questions) and post-live summaries

Revision ID: 0008_live
Revises: 0007_creator_corrections
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0008_live'
down_revision = '0007_creator_corrections'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('live_question_groups',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('platform', sa.String(length=32), nullable=False),
    sa.Column('thread_id', sa.String(length=200), nullable=False),
    sa.Column('centroid', sa.JSON(), nullable=False),
    sa.Column('examples', sa.JSON(), nullable=False),
    sa.Column('questions', sa.Integer(), nullable=False),
    sa.Column('paid', sa.Integer(), nullable=False),
    sa.Column('answer_key', sa.String(length=200), nullable=True),
    sa.Column('bot_answer', sa.String(), nullable=True),
    sa.Column('bot_answered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('marked_answered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('marked_by', sa.String(length=200), nullable=True),
    sa.Column('first_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('live_question_groups', schema=None) as batch_op:
        batch_op.create_index('ix_live_groups_thread_last', ['platform', 'thread_id', 'last_at'], unique=False)
    op.create_table('live_questions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('event_pk', sa.Integer(), nullable=False),
    sa.Column('group_id', sa.Integer(), nullable=False),
    sa.Column('platform', sa.String(length=32), nullable=False),
    sa.Column('thread_id', sa.String(length=200), nullable=False),
    sa.Column('text', sa.String(), nullable=False),
    sa.Column('price', sa.Float(), nullable=True),
    sa.Column('answered_by_bot', sa.Boolean(), nullable=False),
    sa.Column('asked_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['event_pk'], ['events.id'], ),
    sa.ForeignKeyConstraint(['group_id'], ['live_question_groups.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('event_pk')
    )
    with op.batch_alter_table('live_questions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_live_questions_group_id'), ['group_id'], unique=False)
        batch_op.create_index('ix_live_questions_thread_time', ['platform', 'thread_id', 'asked_at'], unique=False)
    op.create_table('live_summaries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('platform', sa.String(length=32), nullable=False),
    sa.Column('thread_id', sa.String(length=200), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('platform', 'thread_id', name='uq_live_summaries_thread')
    )
    with op.batch_alter_table('live_summaries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_live_summaries_ended_at'), ['ended_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('live_summaries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_live_summaries_ended_at'))
    op.drop_table('live_summaries')
    with op.batch_alter_table('live_questions', schema=None) as batch_op:
        batch_op.drop_index('ix_live_questions_thread_time')
        batch_op.drop_index(batch_op.f('ix_live_questions_group_id'))
    op.drop_table('live_questions')
    with op.batch_alter_table('live_question_groups', schema=None) as batch_op:
        batch_op.drop_index('ix_live_groups_thread_last')
    op.drop_table('live_question_groups')
