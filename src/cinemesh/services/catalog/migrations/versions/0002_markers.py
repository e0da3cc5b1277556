"""intro and credits markers on titles (a movie's) and episodes, nullable: expand only, so a
release without them keeps running on the same database during a deploy"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"

TABLES = ("titles", "episodes")
MARKERS = ("intro_start_s", "intro_end_s", "credits_start_s")


def upgrade() -> None:
    for table in TABLES:
        for name in MARKERS:
            op.add_column(table, sa.Column(name, sa.Float, nullable=True))


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            for name in MARKERS:
                batch.drop_column(name)
