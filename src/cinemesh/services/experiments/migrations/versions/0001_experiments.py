"""experiments, exposures, observations, platform event tables"""

import sqlalchemy as sa
from alembic import op

from cinemesh.platform.migrations import create_platform_tables

revision = "0001"
down_revision = None


def upgrade() -> None:
    op.create_table(
        "experiments",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(120), nullable=False, unique=True),
        sa.Column("description", sa.String(2000), nullable=False, server_default=""),
        sa.Column("layer", sa.String(64), nullable=False),
        sa.Column("salt", sa.String(64), nullable=False),
        sa.Column("traffic", sa.Float, nullable=False),
        sa.Column("cells", sa.JSON, nullable=False),
        sa.Column("control", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False, index=True),
        sa.Column("first_bucket", sa.Integer, nullable=False, server_default="0"),
        sa.Column("end_bucket", sa.Integer, nullable=False, server_default="0"),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
        sa.Column("started_ms", sa.BigInteger, nullable=True),
        sa.Column("stopped_ms", sa.BigInteger, nullable=True),
    )
    op.create_table(
        "exposures",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("experiment_id", sa.String(64), nullable=False),
        sa.Column("profile_id", sa.String(64), nullable=False, index=True),
        sa.Column("cell", sa.String(64), nullable=False),
        sa.Column("first_ms", sa.BigInteger, nullable=False),
        sa.Column("last_ms", sa.BigInteger, nullable=False),
        sa.Column("times", sa.Integer, nullable=False, server_default="1"),
        sa.Column("shown", sa.JSON, nullable=False),
        sa.UniqueConstraint("experiment_id", "profile_id"),
    )
    op.create_table(
        "observations",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("profile_id", sa.String(64), nullable=False),
        sa.Column("metric", sa.String(32), nullable=False),
        sa.Column("value", sa.Float, nullable=False),
        sa.Column("at_ms", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_observations_profile_at", "observations", ["profile_id", "at_ms"])
    create_platform_tables(op)


def downgrade() -> None:
    op.drop_table("observations")
    op.drop_table("exposures")
    op.drop_table("experiments")
