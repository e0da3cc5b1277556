"""progress and platform event tables"""

import sqlalchemy as sa
from alembic import op

from cinemesh.platform.migrations import create_platform_tables

revision = "0001"
down_revision = None


def upgrade() -> None:
    op.create_table(
        "progress",
        sa.Column("profile_id", sa.String(64), primary_key=True),
        sa.Column("title_id", sa.String(64), primary_key=True),
        sa.Column("episode_id", sa.String(80), primary_key=True),
        sa.Column("account_id", sa.String(64), nullable=False, index=True),
        sa.Column("position_s", sa.Float, nullable=False),
        sa.Column("duration_s", sa.Float, nullable=False),
        sa.Column("finished", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, index=True),
    )
    create_platform_tables(op)


def downgrade() -> None:
    op.drop_table("progress")
