"""titles, genres, episodes, platform event tables"""

import sqlalchemy as sa
from alembic import op

from cinemesh.platform.migrations import create_platform_tables

revision = "0001"
down_revision = None


def upgrade() -> None:
    op.create_table(
        "titles",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("title", sa.String(300), nullable=False, index=True),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("year", sa.Integer, nullable=True),
        sa.Column("runtime_min", sa.Integer, nullable=True),
        sa.Column("maturity_rating", sa.String(8), nullable=False),
        sa.Column("maturity_level", sa.Integer, nullable=False, index=True),
        sa.Column("synopsis", sa.Text, nullable=False, server_default=""),
        sa.Column("genres", sa.JSON, nullable=False),
        sa.Column("cast", sa.JSON, nullable=False),
        sa.Column("crew", sa.JSON, nullable=False),
        sa.Column("popularity", sa.Float, nullable=False, server_default="0", index=True),
        sa.Column("available", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("asset", sa.JSON, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "title_genres",
        sa.Column(
            "title_id",
            sa.String(64),
            sa.ForeignKey("titles.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("genre", sa.String(40), primary_key=True, index=True),
    )
    op.create_table(
        "episodes",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column(
            "title_id",
            sa.String(64),
            sa.ForeignKey("titles.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("season", sa.Integer, nullable=False),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("runtime_min", sa.Integer, nullable=True),
        sa.Column("synopsis", sa.Text, nullable=False, server_default=""),
        sa.Column("asset", sa.JSON, nullable=True),
        sa.UniqueConstraint("title_id", "season", "number"),
    )
    create_platform_tables(op)


def downgrade() -> None:
    op.drop_table("episodes")
    op.drop_table("title_genres")
    op.drop_table("titles")
