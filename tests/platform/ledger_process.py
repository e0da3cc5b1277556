"""Runs the test-only ledger service in its own process, as the supervisor would."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from cinemesh.platform.auth import SERVICE_TOKEN_HEADER, load_service_key, service_token
from cinemesh.runner.layout import free_port

REPO = Path(__file__).resolve().parents[2]


class LedgerProcess:
    def __init__(self, role: str, data_dir: Path, env: dict[str, str], **extra_env: str) -> None:
        self.role = role
        self.data_dir = data_dir
        self.port = free_port()
        self.env = {
            **os.environ,
            **env,
            "CINEMESH_DATA_DIR": str(data_dir),
            "CINEMESH_PORT": str(self.port),
            "CINEMESH_REGISTRY_URLS": "[]",
            **extra_env,
        }
        self.log_path = data_dir / f"{role}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def headers(self) -> dict[str, str]:
        return {
            SERVICE_TOKEN_HEADER: service_token(
                load_service_key(data_dir=self.data_dir, configured="")
            )
        }

    def start(self) -> LedgerProcess:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "tests.platform.apps.ledger", self.role],
                cwd=REPO,
                env=self.env,
                stdout=log,
                stderr=log,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log()
            try:
                ready = httpx.get(self.url + "/health/ready", timeout=1)
                if ready.status_code == 200 and ready.json()["checks"].get("events") == "ok":
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"{self.role} did not become ready:\n{self.log()}")

    def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return httpx.request(
            method,
            self.url + path,
            headers={**self.headers, **kwargs.pop("headers", {})},
            timeout=10,
            **kwargs,
        )

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
