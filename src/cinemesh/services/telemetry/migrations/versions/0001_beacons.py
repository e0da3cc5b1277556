"""known sessions, beacons, platform event tables"""

import sqlalchemy as sa
from alembic import op

from cinemesh.platform.migrations import create_platform_tables

revision = "0001"
down_revision = None


def upgrade() -> None:
    op.create_table(
        "sessions",
        sa.Column("session_id", sa.String(64), primary_key=True),
        sa.Column("account_id", sa.String(64), nullable=False),
        sa.Column("profile_id", sa.String(64), nullable=False),
        sa.Column("title_id", sa.String(64), nullable=False),
        sa.Column("episode_id", sa.String(80), nullable=False, server_default=""),
        sa.Column("seen_ms", sa.BigInteger, nullable=False, index=True),
    )
    op.create_table(
        "beacons",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("session_id", sa.String(64), nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("received_ms", sa.BigInteger, nullable=False, index=True),
        sa.Column("title_id", sa.String(64), nullable=False),
        sa.Column("plan", sa.String(16), nullable=False),
        sa.Column("edge", sa.String(200), nullable=False, server_default=""),
        sa.Column("ttff_ms", sa.Integer, nullable=True),
        sa.Column("played_ms", sa.Integer, nullable=False),
        sa.Column("stalls", sa.Integer, nullable=False),
        sa.Column("rebuffer_ms", sa.Integer, nullable=False),
        sa.Column("bitrate_kbps", sa.Float, nullable=True),
        sa.Column("height", sa.Integer, nullable=True),
        sa.Column("switches", sa.Integer, nullable=False),
        sa.Column("dropped_frames", sa.Integer, nullable=False),
        sa.Column("decoded_frames", sa.Integer, nullable=False),
        sa.Column("errors", sa.JSON, nullable=False),
        sa.Column("error_count", sa.Integer, nullable=False),
        sa.Column("fatal", sa.Boolean, nullable=False),
        sa.UniqueConstraint("session_id", "seq"),
    )
    create_platform_tables(op)


def downgrade() -> None:
    op.drop_table("beacons")
    op.drop_table("sessions")
