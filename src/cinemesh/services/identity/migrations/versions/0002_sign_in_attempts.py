"""sign-in attempts per email and per address, counted atomically before the password check

The columns `accounts.failed_logins` and `accounts.locked_until` stay (unused) because
dropping a column on SQLite rebuilds the table, which would cascade into refresh tokens."""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    op.create_table(
        "sign_in_attempts",
        sa.Column("key", sa.String(400), primary_key=True),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
    )
    op.drop_table("address_failures")


def downgrade() -> None:
    op.create_table(
        "address_failures",
        sa.Column("address", sa.String(64), primary_key=True),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("failures", sa.Integer, nullable=False, server_default="0"),
    )
    op.drop_table("sign_in_attempts")
