"""initial schema

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('platform_cursors',
    sa.Column('platform', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('value', sa.String(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('platform', 'name')
    )
    op.create_table('runtime_switches',
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('value', sa.JSON(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_by', sa.String(length=200), nullable=True),
    sa.PrimaryKeyConstraint('key')
    )
    op.create_table('scheduled_jobs',
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('next_run_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_run_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_status', sa.String(), nullable=True),
    sa.Column('running_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('name')
    )
    op.create_table('threads',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('platform', sa.String(length=32), nullable=False),
    sa.Column('thread_id', sa.String(length=200), nullable=False),
    sa.Column('title', sa.String(), nullable=False),
    sa.Column('description', sa.String(), nullable=False),
    sa.Column('course_id', sa.String(length=64), nullable=True),
    sa.Column('taken_over', sa.Boolean(), nullable=False),
    sa.Column('human_owner', sa.String(length=200), nullable=True),
    sa.Column('taken_over_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('first_seen', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('platform', 'thread_id', name='uq_threads_platform_thread')
    )
    op.create_table('viewers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('platform', sa.String(length=32), nullable=False),
    sa.Column('pseudonym', sa.String(length=64), nullable=False),
    sa.Column('author_id', sa.String(length=128), nullable=True),
    sa.Column('display_name', sa.String(length=200), nullable=True),
    sa.Column('first_seen', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_seen', sa.DateTime(timezone=True), nullable=False),
    sa.Column('interests', sa.JSON(), nullable=False),
    sa.Column('dm_reachable', sa.Boolean(), nullable=True),
    sa.Column('attribution', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('platform', 'pseudonym', name='uq_viewers_platform_pseudonym')
    )
    with op.batch_alter_table('viewers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_viewers_pseudonym'), ['pseudonym'], unique=False)

    op.create_table('ab_assignments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('viewer_id', sa.Integer(), nullable=False),
    sa.Column('experiment', sa.String(length=64), nullable=False),
    sa.Column('variant', sa.String(length=64), nullable=False),
    sa.Column('assigned_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['viewer_id'], ['viewers.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('viewer_id', 'experiment', name='uq_ab_viewer_experiment')
    )
    op.create_table('events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('platform', sa.String(length=32), nullable=False),
    sa.Column('event_id', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('thread_id', sa.String(length=200), nullable=True),
    sa.Column('parent_id', sa.String(length=200), nullable=True),
    sa.Column('viewer_id', sa.Integer(), nullable=True),
    sa.Column('text', sa.String(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('raw', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['viewer_id'], ['viewers.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('platform', 'event_id', name='uq_events_platform_event')
    )
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_events_created_at'), ['created_at'], unique=False)
        batch_op.create_index('ix_events_platform_created', ['platform', 'created_at'], unique=False)
        batch_op.create_index('ix_events_platform_thread', ['platform', 'thread_id'], unique=False)
        batch_op.create_index('ix_events_status', ['status', 'received_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_events_viewer_id'), ['viewer_id'], unique=False)

    op.create_table('decisions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('event_pk', sa.Integer(), nullable=False),
    sa.Column('platform', sa.String(length=32), nullable=False),
    sa.Column('thread_id', sa.String(length=200), nullable=True),
    sa.Column('viewer_id', sa.Integer(), nullable=True),
    sa.Column('action', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.String(), nullable=False),
    sa.Column('text', sa.String(), nullable=True),
    sa.Column('dm_text', sa.String(), nullable=True),
    sa.Column('template_id', sa.String(length=64), nullable=True),
    sa.Column('variant_id', sa.String(length=64), nullable=True),
    sa.Column('course_id', sa.String(length=64), nullable=True),
    sa.Column('answer_id', sa.String(length=64), nullable=True),
    sa.Column('intent', sa.String(length=32), nullable=True),
    sa.Column('confidence', sa.Float(), nullable=False),
    sa.Column('dry_run', sa.Boolean(), nullable=False),
    sa.Column('counts_as_reply', sa.Boolean(), nullable=False),
    sa.Column('send_after', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['event_pk'], ['events.id'], ),
    sa.ForeignKeyConstraint(['viewer_id'], ['viewers.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('event_pk')
    )
    with op.batch_alter_table('decisions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_decisions_action'), ['action'], unique=False)
        batch_op.create_index(batch_op.f('ix_decisions_decided_at'), ['decided_at'], unique=False)
        batch_op.create_index('ix_decisions_platform_time', ['platform', 'decided_at'], unique=False)
        batch_op.create_index('ix_decisions_thread_time', ['platform', 'thread_id', 'decided_at'], unique=False)
        batch_op.create_index('ix_decisions_viewer_time', ['viewer_id', 'decided_at'], unique=False)

    op.create_table('understandings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('event_pk', sa.Integer(), nullable=False),
    sa.Column('intent', sa.String(length=32), nullable=False),
    sa.Column('intent_confidence', sa.Float(), nullable=False),
    sa.Column('intent_source', sa.String(length=32), nullable=False),
    sa.Column('sentiment', sa.String(length=16), nullable=False),
    sa.Column('sentiment_confidence', sa.Float(), nullable=False),
    sa.Column('topics', sa.JSON(), nullable=False),
    sa.Column('is_spam', sa.Boolean(), nullable=False),
    sa.Column('course_id', sa.String(length=64), nullable=True),
    sa.Column('course_source', sa.String(length=16), nullable=True),
    sa.Column('answer_kind', sa.String(length=32), nullable=True),
    sa.Column('answer_id', sa.String(length=64), nullable=True),
    sa.Column('match_confidence', sa.Float(), nullable=False),
    sa.Column('match_reason', sa.String(), nullable=False),
    sa.Column('hits', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['event_pk'], ['events.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('event_pk')
    )
    with op.batch_alter_table('understandings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_understandings_intent'), ['intent'], unique=False)

    op.create_table('handoffs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('event_pk', sa.Integer(), nullable=False),
    sa.Column('decision_id', sa.Integer(), nullable=True),
    sa.Column('platform', sa.String(length=32), nullable=False),
    sa.Column('thread_id', sa.String(length=200), nullable=True),
    sa.Column('viewer_id', sa.Integer(), nullable=True),
    sa.Column('reason', sa.String(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('resolved_by', sa.String(length=200), nullable=True),
    sa.Column('reply_text', sa.String(), nullable=True),
    sa.ForeignKeyConstraint(['decision_id'], ['decisions.id'], ),
    sa.ForeignKeyConstraint(['event_pk'], ['events.id'], ),
    sa.ForeignKeyConstraint(['viewer_id'], ['viewers.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('event_pk')
    )
    with op.batch_alter_table('handoffs', schema=None) as batch_op:
        batch_op.create_index('ix_handoffs_state_time', ['state', 'created_at'], unique=False)

    op.create_table('links',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('url', sa.String(), nullable=False),
    sa.Column('course_id', sa.String(length=64), nullable=True),
    sa.Column('decision_id', sa.Integer(), nullable=True),
    sa.Column('platform', sa.String(length=32), nullable=False),
    sa.Column('viewer_id', sa.Integer(), nullable=True),
    sa.Column('template_id', sa.String(length=64), nullable=True),
    sa.Column('variant_id', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['decision_id'], ['decisions.id'], ),
    sa.ForeignKeyConstraint(['viewer_id'], ['viewers.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('links', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_links_course_id'), ['course_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_links_decision_id'), ['decision_id'], unique=False)

    op.create_table('conversions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('platform', sa.String(length=32), nullable=False),
    sa.Column('external_id', sa.String(length=200), nullable=False),
    sa.Column('viewer_id', sa.Integer(), nullable=True),
    sa.Column('link_id', sa.String(length=32), nullable=True),
    sa.Column('course_id', sa.String(length=64), nullable=True),
    sa.Column('amount', sa.Float(), nullable=False),
    sa.Column('currency', sa.String(length=8), nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['link_id'], ['links.id'], ),
    sa.ForeignKeyConstraint(['viewer_id'], ['viewers.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('platform', 'external_id', name='uq_conversions_platform_external')
    )
    with op.batch_alter_table('conversions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_conversions_course_id'), ['course_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_conversions_occurred_at'), ['occurred_at'], unique=False)

    op.create_table('link_clicks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('link_id', sa.String(length=32), nullable=False),
    sa.Column('clicked_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('viewer_id', sa.Integer(), nullable=True),
    sa.Column('user_agent', sa.String(length=400), nullable=True),
    sa.Column('referrer', sa.String(length=400), nullable=True),
    sa.ForeignKeyConstraint(['link_id'], ['links.id'], ),
    sa.ForeignKeyConstraint(['viewer_id'], ['viewers.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('link_clicks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_link_clicks_clicked_at'), ['clicked_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_link_clicks_link_id'), ['link_id'], unique=False)

    op.create_table('outbox',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('idempotency_key', sa.String(length=300), nullable=False),
    sa.Column('decision_id', sa.Integer(), nullable=True),
    sa.Column('handoff_id', sa.Integer(), nullable=True),
    sa.Column('platform', sa.String(length=32), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('text', sa.String(), nullable=False),
    sa.Column('thread_id', sa.String(length=200), nullable=True),
    sa.Column('reply_to', sa.String(length=200), nullable=True),
    sa.Column('recipient_id', sa.String(length=128), nullable=True),
    sa.Column('viewer_id', sa.Integer(), nullable=True),
    sa.Column('extra', sa.JSON(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.String(), nullable=True),
    sa.Column('platform_message_id', sa.String(length=200), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['decision_id'], ['decisions.id'], ),
    sa.ForeignKeyConstraint(['handoff_id'], ['handoffs.id'], ),
    sa.ForeignKeyConstraint(['viewer_id'], ['viewers.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('idempotency_key')
    )
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_outbox_decision_id'), ['decision_id'], unique=False)
        batch_op.create_index('ix_outbox_due', ['state', 'next_attempt_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_outbox_platform'), ['platform'], unique=False)
        batch_op.create_index(batch_op.f('ix_outbox_sent_at'), ['sent_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outbox_sent_at'))
        batch_op.drop_index(batch_op.f('ix_outbox_platform'))
        batch_op.drop_index('ix_outbox_due')
        batch_op.drop_index(batch_op.f('ix_outbox_decision_id'))

    op.drop_table('outbox')
    with op.batch_alter_table('link_clicks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_link_clicks_link_id'))
        batch_op.drop_index(batch_op.f('ix_link_clicks_clicked_at'))

    op.drop_table('link_clicks')
    with op.batch_alter_table('conversions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_conversions_occurred_at'))
        batch_op.drop_index(batch_op.f('ix_conversions_course_id'))

    op.drop_table('conversions')
    with op.batch_alter_table('links', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_links_decision_id'))
        batch_op.drop_index(batch_op.f('ix_links_course_id'))

    op.drop_table('links')
    with op.batch_alter_table('handoffs', schema=None) as batch_op:
        batch_op.drop_index('ix_handoffs_state_time')

    op.drop_table('handoffs')
    with op.batch_alter_table('understandings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_understandings_intent'))

    op.drop_table('understandings')
    with op.batch_alter_table('decisions', schema=None) as batch_op:
        batch_op.drop_index('ix_decisions_viewer_time')
        batch_op.drop_index('ix_decisions_thread_time')
        batch_op.drop_index('ix_decisions_platform_time')
        batch_op.drop_index(batch_op.f('ix_decisions_decided_at'))
        batch_op.drop_index(batch_op.f('ix_decisions_action'))

    op.drop_table('decisions')
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_events_viewer_id'))
        batch_op.drop_index('ix_events_status')
        batch_op.drop_index('ix_events_platform_thread')
        batch_op.drop_index('ix_events_platform_created')
        batch_op.drop_index(batch_op.f('ix_events_created_at'))

    op.drop_table('events')
    op.drop_table('ab_assignments')
    with op.batch_alter_table('viewers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_viewers_pseudonym'))

    op.drop_table('viewers')
    op.drop_table('threads')
    op.drop_table('scheduled_jobs')
    op.drop_table('runtime_switches')
    op.drop_table('platform_cursors')
