"""each profile's preferred audio and subtitle language, nullable: expand only, so a release
without them keeps running on the same database during a deploy"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"

PREFERENCES = ("audio_language", "subtitle_language")


def upgrade() -> None:
    for name in PREFERENCES:
        op.add_column("profiles", sa.Column(name, sa.String(16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("profiles") as batch:
        for name in PREFERENCES:
            batch.drop_column(name)
