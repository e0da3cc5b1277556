"""profiles learnt from profiles.profile.* events"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    op.create_table(
        "profiles",
        sa.Column("profile_id", sa.String(64), primary_key=True),
        sa.Column("account_id", sa.String(64), nullable=False),
        sa.Column("maturity", sa.String(8), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("profiles")
