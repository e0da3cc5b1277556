"""subtitle tracks, and the tracks each job publishes"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    op.create_table(
        "subtitle_tracks",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("title_id", sa.String(64), nullable=False, index=True),
        sa.Column("episode_id", sa.String(64), nullable=True),
        sa.Column("language", sa.String(35), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("webvtt", sa.Text, nullable=False),
        sa.Column("cues", sa.Integer, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.add_column("jobs", sa.Column("subtitles", sa.JSON, nullable=True))


def downgrade() -> None:
    op.drop_column("jobs", "subtitles")
    op.drop_table("subtitle_tracks")
