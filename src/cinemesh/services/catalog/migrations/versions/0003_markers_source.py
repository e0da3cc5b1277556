"""who set an episode's markers: "admin" (never overwritten by detection) or "detected" (the
encoder's); nullable, expand only"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    op.add_column("episodes", sa.Column("markers_source", sa.String(16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("episodes") as batch:
        batch.drop_column("markers_source")
