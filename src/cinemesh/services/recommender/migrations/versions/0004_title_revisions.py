"""each catalog title's revision, and a tombstone for a deleted one, so a catalog event
delivered late (older than what is held) cannot undo a newer change or bring a deleted title
back"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"


def upgrade() -> None:
    with op.batch_alter_table("titles") as table:
        table.add_column(sa.Column("revision", sa.BigInteger(), nullable=False, server_default="0"))
        table.add_column(
            sa.Column("deleted", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("titles") as table:
        table.drop_column("deleted")
        table.drop_column("revision")
