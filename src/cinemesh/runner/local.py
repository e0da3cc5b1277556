"""A whole cinemesh started the way a user starts it (`cinemesh up`) in a subprocess, with
helpers to look at it and break it: used by the system tests and the benchmarks."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from cinemesh.platform.auth import SERVICE_TOKEN_HEADER, load_service_key, service_token
from cinemesh.runner.layout import Layout, free_port

PROBLEM_WORDS = re.compile(r"error|warning|exception|traceback|critical", re.IGNORECASE)


class LocalPlatform:
    """`cinemesh up` in a subprocess, with helpers to look at it and break it."""

    def __init__(
        self,
        data_dir: Path,
        *,
        env: dict[str, str] | None = None,
        services: list[str] | None = None,
        scale: dict[str, int] | None = None,
        up_args: list[str] | None = None,
    ) -> None:
        self.data_dir = data_dir
        self.layout = Layout(data_dir)
        self.port = free_port()
        self.env = {**os.environ, "CINEMESH_DATA_DIR": str(data_dir), **(env or {})}
        self.scale_run = ""
        if (
            os.environ.get("CINEMESH_TEST_CONFIG") == "scale"
            and "CINEMESH_DATABASE_URL_TEMPLATE" not in self.env
        ):
            self.scale_run = uuid.uuid4().hex[:8]
            self.env.update(scale_configuration(self.scale_run))
        self.services = services or []
        self.scale = scale or {}
        self.up_args = up_args or []  # more `cinemesh up` options: --nats-cluster 3, --prometheus
        self.proc: subprocess.Popen[bytes] | None = None
        self.gateway = f"http://127.0.0.1:{self.port}"

    def start(self, *, timeout_s: float = 90) -> LocalPlatform:
        args = [
            sys.executable,
            "-m",
            "cinemesh",
            "up",
            "--data-dir",
            str(self.data_dir),
            "--port",
            str(self.port),
        ]
        for name in self.services:
            args += ["--only", name]
        for name, count in self.scale.items():
            args += ["--scale", f"{name}={count}"]
        args += self.up_args
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._out = open(self.data_dir / "up.out", "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(args, env=self.env, stdout=self._out, stderr=self._out)
        try:
            self.wait_healthy(timeout_s=timeout_s)
        except BaseException:  # a platform that never became healthy must not outlive the test
            self.stop()
            raise
        return self

    @property
    def headers(self) -> dict[str, str]:
        key = load_service_key(
            data_dir=self.data_dir, configured=self.env.get("CINEMESH_SERVICE_KEY", "")
        )
        return {SERVICE_TOKEN_HEADER: service_token(key)}

    def control(self, method: str, path: str, **kwargs: Any) -> Any:
        state = self.layout.read_state()
        assert state, "the supervisor wrote no state file"
        response = httpx.request(
            method, state["control_url"] + path, headers=self.headers, timeout=30, **kwargs
        )
        response.raise_for_status()
        return response.json()

    def instances(self, service: str | None = None) -> list[dict[str, Any]]:
        found = self.control("GET", "/status")["instances"]
        return [i for i in found if service is None or i["service"] == service]

    def wait_healthy(
        self, *, timeout_s: float = 60, service: str | None = None, count: int | None = None
    ) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout_s
        last: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError(f"cinemesh up exited: {self.output()}")
            if self.layout.read_state():
                try:
                    last = self.instances(service)
                except httpx.HTTPError:
                    last = []
                enough = count is None or len([i for i in last if i["healthy"]]) >= count
                if last and all(i["healthy"] for i in last) and enough:
                    return last
            time.sleep(0.3)
        raise AssertionError(f"not healthy within {timeout_s}s: {last}\n{self.output()[-3000:]}")

    def url_of(self, service: str, index: int = 0) -> str:
        inst = next(i for i in self.instances(service) if i["instance"] == index)
        return f"http://127.0.0.1:{inst['port']}"

    def registry(self, path: str) -> Any:
        response = httpx.get(self.url_of("registry") + path, headers=self.headers, timeout=5)
        response.raise_for_status()
        return response.json()

    def kill(self, service: str, index: int = 0) -> int:
        pid = next(i for i in self.instances(service) if i["instance"] == index)["pid"]
        os.kill(pid, signal.SIGKILL)
        return int(pid)

    def cli(self, *args: str, timeout_s: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "cinemesh", *args, "--data-dir", str(self.data_dir)],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout_s,
        )

    def output(self) -> str:
        try:
            return (self.data_dir / "up.out").read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log(self, service: str, index: int = 0) -> str:
        try:
            return self.layout.log_file(service, index).read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def problems(self, *, per_log: int = 20) -> str:
        """The last error and warning lines of every service's log, for a failed test's report."""
        found: list[str] = []
        for path in sorted(self.layout.logs_dir.glob("*.log")):
            lines = path.read_text(errors="replace").splitlines()
            bad = [line for line in lines if PROBLEM_WORDS.search(line)]
            if bad:
                found.append(f"--- {path.name}")
                found.extend(line[:500] for line in bad[-per_log:])
        return "\n".join(found)

    def stop(self) -> None:
        if self.proc is None:
            return
        try:
            self.cli("down", timeout_s=60)
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:  # `down` slow or without a state file: SIGTERM it
            self.proc.terminate()  # SIGTERM: it stops its children before it exits
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self._out.close()
        self.proc = None
        if self.scale_run:
            drop_databases(f"cms_{self.scale_run}_")


def scale_configuration(run: str) -> dict[str, str]:
    """The Kubernetes configuration on this machine: PostgreSQL, the running NATS, Redis."""
    return {
        "CINEMESH_DATABASE_URL_TEMPLATE": f"postgresql+asyncpg://postgres@127.0.0.1:5432/cms_{run}_{{service}}",
        "CINEMESH_NATS_URL": "nats://127.0.0.1:4222",
        "CINEMESH_REDIS_URL": "redis://127.0.0.1:6379/0",
        "CINEMESH_BUS_NAMESPACE": f"s{run}",
    }


def drop_databases(prefix: str) -> None:
    """Remove the PostgreSQL databases whose names start with `prefix`."""
    import asyncio

    import asyncpg

    async def drop() -> None:
        conn = await asyncpg.connect(
            host="127.0.0.1", port=5432, user="postgres", database="postgres"
        )
        try:
            rows = await conn.fetch(
                "SELECT datname FROM pg_database WHERE datname LIKE $1", f"{prefix}%"
            )
            for row in rows:
                await conn.execute(f'DROP DATABASE IF EXISTS "{row["datname"]}" WITH (FORCE)')
        finally:
            await conn.close()

    try:
        asyncio.run(drop())
    except (OSError, asyncpg.PostgresError):
        pass
