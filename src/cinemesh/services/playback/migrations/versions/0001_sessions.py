"""sessions, leases, playable titles and assets, platform event tables"""

import sqlalchemy as sa
from alembic import op

from cinemesh.platform.migrations import create_platform_tables

revision = "0001"
down_revision = None


def upgrade() -> None:
    op.create_table(
        "sessions",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("account_id", sa.String(64), nullable=False, index=True),
        sa.Column("profile_id", sa.String(64), nullable=False),
        sa.Column("title_id", sa.String(64), nullable=False),
        sa.Column("episode_id", sa.String(80), nullable=False),
        sa.Column("asset_id", sa.String(64), nullable=False),
        sa.Column("duration_s", sa.Float, nullable=False),
        sa.Column("position_s", sa.Float, nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=False, index=True),
        sa.Column("stopped_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_table(
        "account_streams",
        sa.Column("account_id", sa.String(64), primary_key=True),
        sa.Column("touched_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "titles",
        sa.Column("title_id", sa.String(64), primary_key=True),
        sa.Column("maturity_rating", sa.String(8), nullable=False),
    )
    op.create_table(
        "assets",
        sa.Column("title_id", sa.String(64), primary_key=True),
        sa.Column("episode_id", sa.String(80), primary_key=True),
        sa.Column("asset_id", sa.String(64), nullable=False),
        sa.Column("duration_s", sa.Float, nullable=False),
        sa.Column("renditions", sa.JSON, nullable=False),
    )
    create_platform_tables(op)


def downgrade() -> None:
    for table in ("assets", "titles", "account_streams", "sessions"):
        op.drop_table(table)
