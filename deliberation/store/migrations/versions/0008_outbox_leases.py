"""outbox leases: one bot process delivers each lane

Several processes may run the same platform on one database (two Telegram webhook
workers behind one URL). Without a claim, each would send every pending message. A lane
(a chat, or a platform's single lane) is delivered by the process holding its lease, which
it renews while it works; one that dies leaves the lane to the others when the lease ends.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "outbox_leases",
        sa.Column("platform", sa.String(length=32), nullable=False),
        sa.Column("lane", sa.String(length=255), nullable=False),
        sa.Column("holder", sa.String(length=96), nullable=False),
        sa.Column("until", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("platform", "lane"),
    )


def downgrade() -> None:
    op.drop_table("outbox_leases")
