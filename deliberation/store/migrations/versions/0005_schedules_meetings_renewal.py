"""time: scheduled rounds, meetings, private reminders, per-group reminder lead times,
timers about clauses and meetings

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "meetings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.String(length=255), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("topic", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("cancelled_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["group_id"], ["groups.id"], name=op.f("fk_meetings_group_id_groups")
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["people.id"], name=op.f("fk_meetings_created_by_people")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meetings")),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_meetings_group_at", "meetings", ["group_id", "at"], unique=False)
    with op.batch_alter_table("groups") as batch:
        batch.add_column(
            sa.Column(
                "reminders_before_close",
                sa.String(length=64),
                nullable=False,
                server_default="24h 1h",
            )
        )
        batch.add_column(
            sa.Column(
                "renewal_reminders", sa.String(length=64), nullable=False, server_default="30d 7d 1d"
            )
        )
    with op.batch_alter_table("people") as batch:
        batch.add_column(sa.Column("remind_chat", sa.String(length=255), nullable=True))
    with op.batch_alter_table("proposals") as batch:
        batch.add_column(sa.Column("scheduled_phase", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("scheduled_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("scheduled_hours", sa.Float(), nullable=True))
    with op.batch_alter_table("timers") as batch:
        batch.add_column(sa.Column("clause_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("meeting_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("payload", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("timers") as batch:
        batch.drop_column("payload")
        batch.drop_column("meeting_id")
        batch.drop_column("clause_id")
    with op.batch_alter_table("proposals") as batch:
        batch.drop_column("scheduled_hours")
        batch.drop_column("scheduled_at")
        batch.drop_column("scheduled_phase")
    with op.batch_alter_table("people") as batch:
        batch.drop_column("remind_chat")
    with op.batch_alter_table("groups") as batch:
        batch.drop_column("renewal_reminders")
        batch.drop_column("reminders_before_close")
    op.drop_index("ix_meetings_group_at", table_name="meetings")
    op.drop_table("meetings")
