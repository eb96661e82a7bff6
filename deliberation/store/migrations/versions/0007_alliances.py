"""alliances: alliances, their groups and invites; one consent round per party

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alliances",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("min_parties", sa.Integer(), nullable=True),
        sa.Column("rule", sa.String(length=16), nullable=False),
        sa.Column("created_by", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by"], ["groups.id"], name=op.f("fk_alliances_created_by_groups")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alliances")),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "alliance_members",
        sa.Column("alliance_id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.String(length=255), nullable=False),
        sa.Column("joined_at", sa.DateTime(), nullable=False),
        sa.Column("left_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["alliance_id"],
            ["alliances.id"],
            name=op.f("fk_alliance_members_alliance_id_alliances"),
        ),
        sa.ForeignKeyConstraint(
            ["group_id"], ["groups.id"], name=op.f("fk_alliance_members_group_id_groups")
        ),
        sa.PrimaryKeyConstraint("alliance_id", "group_id", name=op.f("pk_alliance_members")),
    )
    op.create_index("ix_alliance_members_group", "alliance_members", ["group_id"])
    op.create_table(
        "alliance_invites",
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("alliance_id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.String(length=255), nullable=False),
        sa.Column("created_by", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("used_at", sa.DateTime(), nullable=True),
        sa.Column("used_by", sa.String(length=255), nullable=True),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["alliance_id"],
            ["alliances.id"],
            name=op.f("fk_alliance_invites_alliance_id_alliances"),
        ),
        sa.ForeignKeyConstraint(
            ["group_id"], ["groups.id"], name=op.f("fk_alliance_invites_group_id_groups")
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["people.id"], name=op.f("fk_alliance_invites_created_by_people")
        ),
        sa.PrimaryKeyConstraint("code_hash", name=op.f("pk_alliance_invites")),
    )
    with op.batch_alter_table("rounds") as batch:
        batch.add_column(
            sa.Column("party", sa.String(length=255), nullable=False, server_default="")
        )
        batch.drop_constraint("uq_rounds_proposal_id", type_="unique")
        batch.create_unique_constraint(
            "uq_rounds_proposal_id", ["proposal_id", "number", "phase", "party"]
        )


def downgrade() -> None:
    with op.batch_alter_table("rounds") as batch:
        batch.drop_constraint("uq_rounds_proposal_id", type_="unique")
        batch.create_unique_constraint("uq_rounds_proposal_id", ["proposal_id", "number", "phase"])
        batch.drop_column("party")
    op.drop_table("alliance_invites")
    op.drop_index("ix_alliance_members_group", table_name="alliance_members")
    op.drop_table("alliance_members")
    op.drop_table("alliances")
