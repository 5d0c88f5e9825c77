"""provider-async stages: a `waiting` stage status, provider job ids and callback tokens

Revision ID: 0009_provider_async
Revises: 0006_webhooks
Create Date: 2026-11-23 14:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0009_provider_async"
down_revision = "0006_webhooks"
branch_labels = None
depends_on = None

OLD_STATUSES = "status IN ('pending', 'running', 'completed', 'failed', 'canceled')"
NEW_STATUSES = "status IN ('pending', 'running', 'waiting', 'completed', 'failed', 'canceled')"


def upgrade():
    with op.batch_alter_table("job_stages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("provider_job_id", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("callback_token", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("waiting_since", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("poll_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index("ix_job_stages_callback_token", ["callback_token"], unique=True)
        batch_op.create_index("ix_job_stages_provider_job_id", ["provider_job_id"], unique=False)
        batch_op.create_index(
            "ix_job_stages_waiting", ["poll_at"], unique=False, postgresql_where="status = 'waiting'"
        )
        batch_op.drop_constraint("status", type_="check")
        batch_op.create_check_constraint("status", NEW_STATUSES)


def downgrade():
    op.execute("UPDATE job_stages SET status = 'pending' WHERE status = 'waiting'")
    with op.batch_alter_table("job_stages", schema=None) as batch_op:
        batch_op.drop_constraint("status", type_="check")
        batch_op.create_check_constraint("status", OLD_STATUSES)
        batch_op.drop_index("ix_job_stages_waiting", postgresql_where="status = 'waiting'")
        batch_op.drop_index("ix_job_stages_provider_job_id")
        batch_op.drop_index("ix_job_stages_callback_token")
        batch_op.drop_column("poll_at")
        batch_op.drop_column("waiting_since")
        batch_op.drop_column("callback_token")
        batch_op.drop_column("provider_job_id")
