"""an index on (profile_id, last_at), so a profile's newest signals are read without sorting
all of its rows"""

from alembic import op

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    op.create_index("ix_interactions_profile_recent", "interactions", ["profile_id", "last_at"])


def downgrade() -> None:
    op.drop_index("ix_interactions_profile_recent", table_name="interactions")
