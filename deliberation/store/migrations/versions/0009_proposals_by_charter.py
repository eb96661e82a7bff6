"""proposals by charter: an alliance's open proposals without a scan of all proposals

``/status`` in a group lists its alliances' open proposals too, found by their charter
("alliance:<n>"); without this index each such ``/status`` read every proposal row.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-25
"""

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_proposals_charter_phase", "proposals", ["charter_id", "phase"])


def downgrade() -> None:
    op.drop_index("ix_proposals_charter_phase", table_name="proposals")
