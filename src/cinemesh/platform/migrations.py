"""Alembic glue: each service's `migrations/env.py` calls `run_env()`."""

from __future__ import annotations

from alembic import context
from alembic.operations import Operations

from cinemesh.platform.outbox import PLATFORM_TABLES


def run_env() -> None:
    """Run the service's migrations on the connection the platform hands to Alembic."""
    connection = context.config.attributes["connection"]
    context.configure(connection=connection, target_metadata=None, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def create_platform_tables(op: Operations) -> None:
    """The outbox and processed-event tables every event-speaking service keeps."""
    PLATFORM_TABLES.create_all(op.get_bind())


def drop_platform_tables(op: Operations) -> None:
    PLATFORM_TABLES.drop_all(op.get_bind())
