"""whether the player counts down to the next episode at an episode's credits and starts it
(off for a kids profile whose grown-ups say so): expand only, with a server default, so a
release without the column keeps running on the same database during a deploy"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    op.add_column(
        "profiles",
        sa.Column("autoplay_next_episode", sa.Boolean, nullable=False, server_default=sa.true()),
    )


def downgrade() -> None:
    with op.batch_alter_table("profiles") as batch:
        batch.drop_column("autoplay_next_episode")
