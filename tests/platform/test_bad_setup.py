"""Bad settings, taken ports and broken database files fail fast with a sentence, not a
traceback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

from tests.platform.ledger_process import REPO, LedgerProcess


def run_cli(
    *args: str, env: dict[str, str] | None = None, timeout_s: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cinemesh", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=timeout_s,
        cwd=REPO,
    )


def test_malformed_setting_is_named(data_dir: Path) -> None:
    result = run_cli(
        "serve", "registry", env={"CINEMESH_PORT": "eighty", "CINEMESH_DATA_DIR": str(data_dir)}
    )
    assert result.returncode == 2
    assert "CINEMESH_PORT='eighty'" in result.stderr
    assert "Traceback" not in result.stderr


def test_up_refuses_a_malformed_setting_before_starting_anything(data_dir: Path) -> None:
    result = run_cli("up", "--data-dir", str(data_dir), env={"CINEMESH_LOG_LEVEL": "loud"})
    assert result.returncode == 2
    assert "CINEMESH_LOG_LEVEL" in result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr


def test_taken_port_is_named() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        served = run_cli("serve", "registry", env={"CINEMESH_PORT": str(port)})
        assert served.returncode == 2
        assert f"port {port}" in served.stderr and "already in use" in served.stderr
        up = run_cli("up", "--port", str(port), "--data-dir", f"/tmp/cm-port-{port}")
        assert up.returncode == 2
        assert f"port {port} is already in use" in up.stdout + up.stderr


def test_unknown_service_is_a_clear_error() -> None:
    result = run_cli("serve", "no-such-service", env={"CINEMESH_PORT": "0"})
    assert result.returncode == 2
    assert "no service called 'no-such-service'" in result.stderr


def test_corrupt_database_file_is_a_clear_error(data_dir: Path) -> None:
    (data_dir / "ledger").mkdir()
    (data_dir / "ledger" / "ledger.db").write_bytes(b"this is not a database at all" * 100)
    proc = LedgerProcess("ledger", data_dir, {"CINEMESH_NATS_URL": "nats://127.0.0.1:1"})
    proc.data_dir.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        [sys.executable, "-m", "tests.platform.apps.ledger", "ledger"],
        cwd=REPO,
        env=proc.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "cannot open the database" in result.stderr and "ledger.db" in result.stderr
    assert "Traceback" not in result.stderr


def test_unusable_database_path_is_a_clear_error(data_dir: Path) -> None:
    (data_dir / "ledger" / "ledger.db").mkdir(parents=True)  # a folder where the file should be
    proc = LedgerProcess("ledger", data_dir, {"CINEMESH_NATS_URL": "nats://127.0.0.1:1"})
    result = subprocess.run(
        [sys.executable, "-m", "tests.platform.apps.ledger", "ledger"],
        cwd=REPO,
        env=proc.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "cannot open the database" in result.stderr
