"""pending timers by due time: a partial index for the deadline sweep

The sweep asks two questions of the timers table each time it wakes: the oldest pending
timer that is due (``run_due_timers``' claim, ``ORDER BY due_at, id``) and when the next
one falls due (``next_due``, ``min(due_at)``). ``ix_timers_due`` (done_at, due_at) answers
the first, but PostgreSQL cannot read ``min(due_at)`` from it (``done_at IS NULL`` is not an
equality it orders by) and scanned the whole table instead: 16 ms with 100,000 pending
timers (bench/timers.py). This index holds only the pending timers, in the order the
sweep takes them, so both are read from its first entry; done timers leave it.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

PENDING = sa.text("done_at IS NULL")


def upgrade() -> None:
    op.create_index(
        "ix_timers_pending",
        "timers",
        ["due_at", "id"],
        unique=False,
        sqlite_where=PENDING,
        postgresql_where=PENDING,
    )


def downgrade() -> None:
    op.drop_index("ix_timers_pending", table_name="timers")
