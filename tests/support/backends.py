"""The two configurations every database and event-bus test runs on: SQLite with an embedded
NATS, and PostgreSQL with the NATS server already running on this machine."""

from __future__ import annotations

import os
import socket
import subprocess
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from cinemesh.runner.layout import free_port
from cinemesh.runner.natsd import nats_server_binary

POSTGRES_HOST, POSTGRES_PORT = "127.0.0.1", 5432
SHARED_NATS = "nats://127.0.0.1:4222"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


def require_server(name: str, host: str, port: int) -> None:
    """Skip locally when a server is missing; in CI that is a failure, never a silent skip."""
    if reachable(host, port):
        return
    message = f"{name} is not reachable on {host}:{port}"
    if IN_CI:
        pytest.fail(f"{message}; CI must test the scale configuration (see README: services)")
    pytest.skip(message)


@dataclass
class Backend:
    name: str
    env: dict[str, str] = field(default_factory=dict)
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:8])

    @property
    def nats_url(self) -> str:
        return self.env["CINEMESH_NATS_URL"]

    def database_url(self, service: str, data_dir: Path) -> str:
        template = self.env.get("CINEMESH_DATABASE_URL_TEMPLATE")
        if template:
            return template.format(service=service)
        return f"sqlite+aiosqlite:///{data_dir / service / f'{service}.db'}"


class EmbeddedNats:
    def __init__(self, store: Path) -> None:
        self.port = free_port()
        store.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [
                nats_server_binary(),
                "-a",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-js",
                "-sd",
                str(store),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(100):
            if reachable("127.0.0.1", self.port):
                break
            subprocess.run(["sleep", "0.05"], check=False)

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


def make_backend(name: str, *, embedded_nats_url: str) -> Backend:
    backend = Backend(name)
    backend.env["CINEMESH_BUS_NAMESPACE"] = f"t{backend.run_id}"
    if name == "sqlite":
        backend.env["CINEMESH_NATS_URL"] = embedded_nats_url
    else:
        require_server("PostgreSQL", POSTGRES_HOST, POSTGRES_PORT)
        require_server("NATS", "127.0.0.1", 4222)
        require_server("Redis", "127.0.0.1", 6379)
        backend.env["CINEMESH_NATS_URL"] = SHARED_NATS
        backend.env["CINEMESH_REDIS_URL"] = "redis://127.0.0.1:6379/0"
        backend.env["CINEMESH_DATABASE_URL_TEMPLATE"] = (
            f"postgresql+asyncpg://postgres@{POSTGRES_HOST}:{POSTGRES_PORT}/cmt_{backend.run_id}_{{service}}"
        )
    return backend


def drop_test_databases(run_id: str) -> None:
    """Remove the PostgreSQL databases a test run created."""
    import asyncio

    import asyncpg

    async def drop() -> None:
        conn = await asyncpg.connect(
            host=POSTGRES_HOST, port=POSTGRES_PORT, user="postgres", database="postgres"
        )
        try:
            names = await conn.fetch(
                "SELECT datname FROM pg_database WHERE datname LIKE $1", f"cmt_{run_id}_%"
            )
            for row in names:
                await conn.execute(f'DROP DATABASE IF EXISTS "{row["datname"]}" WITH (FORCE)')
        finally:
            await conn.close()

    try:
        asyncio.run(drop())
    except Exception:
        pass


def unthrottled_sqlite_env(embedded_nats_url: str) -> dict[str, str]:
    """SQLite with a NATS the test can publish to, and the gateway's rate limits off, for
    tests that drive many requests through it."""
    backend = make_backend("sqlite", embedded_nats_url=embedded_nats_url)
    return {
        **backend.env,
        "CINEMESH_GATEWAY_RATE_PER_IP": "0",
        "CINEMESH_GATEWAY_RATE_PER_ACCOUNT": "0",
    }
