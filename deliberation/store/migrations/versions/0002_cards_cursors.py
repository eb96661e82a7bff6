"""live cards, stream cursors, outbox message references

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cards",
        sa.Column("platform", sa.String(length=32), nullable=False),
        sa.Column("chat", sa.String(length=255), nullable=False),
        sa.Column("subject", sa.String(length=16), nullable=False),
        sa.Column("message_ref", sa.String(length=64), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("shown_version", sa.Integer(), nullable=False),
        sa.Column("edited_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("platform", "chat", "subject", name=op.f("pk_cards")),
    )
    with op.batch_alter_table("cards", schema=None) as batch_op:
        batch_op.create_index(
            "ix_cards_behind", ["platform", "shown_version", "version"], unique=False
        )
    op.create_table(
        "cursors",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.String(length=255), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_cursors")),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("purpose", sa.String(length=16), server_default="text", nullable=False)
        )
        batch_op.add_column(sa.Column("subject", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("addressee", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("message_ref", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("buttons", sa.Text(), nullable=True))
        batch_op.add_column(
            sa.Column("parts_sent", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(sa.Column("not_before", sa.DateTime(), nullable=True))
        batch_op.create_index("ix_outbox_message", ["platform", "chat", "message_ref"])


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_message")
        batch_op.drop_column("not_before")
        batch_op.drop_column("parts_sent")
        batch_op.drop_column("buttons")
        batch_op.drop_column("message_ref")
        batch_op.drop_column("addressee")
        batch_op.drop_column("subject")
        batch_op.drop_column("purpose")
    op.drop_table("cursors")
    with op.batch_alter_table("cards", schema=None) as batch_op:
        batch_op.drop_index("ix_cards_behind")
    op.drop_table("cards")
