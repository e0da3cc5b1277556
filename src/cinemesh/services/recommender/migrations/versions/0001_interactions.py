"""interactions, titles, profiles and platform event tables"""

import sqlalchemy as sa
from alembic import op

from cinemesh.platform.migrations import create_platform_tables

revision = "0001"
down_revision = None


def upgrade() -> None:
    op.create_table(
        "interactions",
        sa.Column("profile_id", sa.String(64), primary_key=True),
        sa.Column("title_id", sa.String(64), primary_key=True),
        sa.Column("plays", sa.Integer, nullable=False, server_default="0"),
        sa.Column("progress", sa.Float, nullable=False, server_default="0"),
        sa.Column("rating", sa.Integer, nullable=False, server_default="0"),
        sa.Column("in_list", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("last_at", sa.DateTime(timezone=True), nullable=False, index=True),
    )
    op.create_table(
        "titles",
        sa.Column("title_id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("genres", sa.JSON, nullable=False),
        sa.Column("maturity_rating", sa.String(16), nullable=False),
        sa.Column("popularity", sa.Float, nullable=False, server_default="0"),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "profiles",
        sa.Column("profile_id", sa.String(64), primary_key=True),
        sa.Column("maturity", sa.String(16), nullable=False),
    )
    create_platform_tables(op)


def downgrade() -> None:
    op.drop_table("profiles")
    op.drop_table("titles")
    op.drop_table("interactions")
