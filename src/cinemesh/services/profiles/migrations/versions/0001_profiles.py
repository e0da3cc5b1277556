"""profiles, my list, ratings, platform event tables"""

import sqlalchemy as sa
from alembic import op

from cinemesh.platform.migrations import create_platform_tables

revision = "0001"
down_revision = None


def upgrade() -> None:
    op.create_table(
        "profiles",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("account_id", sa.String(32), nullable=False, index=True),
        sa.Column("slot", sa.Integer, nullable=False),
        sa.Column("name", sa.String(40), nullable=False),
        sa.Column("avatar", sa.String(40), nullable=False),
        sa.Column("language", sa.String(16), nullable=False),
        sa.Column("kids", sa.Boolean, nullable=False),
        sa.Column("maturity", sa.String(8), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("account_id", "slot"),
    )
    op.create_table(
        "my_list",
        sa.Column(
            "profile_id",
            sa.String(32),
            sa.ForeignKey("profiles.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("title_id", sa.String(64), primary_key=True),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False, index=True),
    )
    op.create_table(
        "ratings",
        sa.Column(
            "profile_id",
            sa.String(32),
            sa.ForeignKey("profiles.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("title_id", sa.String(64), primary_key=True),
        sa.Column("rating", sa.String(8), nullable=False),
        sa.Column("rated_at", sa.DateTime(timezone=True), nullable=False),
    )
    create_platform_tables(op)


def downgrade() -> None:
    op.drop_table("ratings")
    op.drop_table("my_list")
    op.drop_table("profiles")
