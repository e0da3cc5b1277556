"""entries, tallies and the platform's event tables"""

import sqlalchemy as sa
from alembic import op

from cinemesh.platform.migrations import create_platform_tables

revision = "0001"
down_revision = None


def upgrade() -> None:
    op.create_table(
        "entries",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("amount", sa.Integer, nullable=False),
    )
    op.create_table(
        "tallies",
        sa.Column("entry_id", sa.String(64), primary_key=True),
        sa.Column("times_seen", sa.Integer, nullable=False),
    )
    create_platform_tables(op)


def downgrade() -> None:
    op.drop_table("tallies")
    op.drop_table("entries")
