"""the throughput each profile's player measured per device, and the device of a session"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    op.add_column("sessions", sa.Column("device", sa.String(64), nullable=False, server_default=""))
    op.create_table(
        "throughput",
        sa.Column("profile_id", sa.String(64), primary_key=True),
        sa.Column("device", sa.String(64), primary_key=True),
        sa.Column("bandwidth_bps", sa.Float, nullable=False),
        sa.Column("samples", sa.Integer, nullable=False),
        sa.Column("measured_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("throughput")
    op.drop_column("sessions", "device")
