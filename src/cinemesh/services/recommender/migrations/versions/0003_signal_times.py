"""when each interaction's rating and list membership were last set, so an older event
delivered late (after a crash, JetStream redelivers what a dead instance had fetched) cannot
undo a newer one"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    with op.batch_alter_table("interactions") as table:
        table.add_column(sa.Column("rated_at", sa.DateTime(timezone=True), nullable=True))
        table.add_column(sa.Column("listed_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("interactions") as table:
        table.drop_column("listed_at")
        table.drop_column("rated_at")
