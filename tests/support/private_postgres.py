"""A PostgreSQL server of the test's own, from Debian's binaries, that the test may stop and
start again: the machine's shared server (127.0.0.1:5432) serves other tests meanwhile and must
never be stopped. Run as root, the binaries run as the `postgres` user (initdb refuses root),
in a folder that user owns."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from cinemesh.runner.layout import free_port
from tests.support.backends import IN_CI

POSTGRES_BINARIES = sorted(Path("/usr/lib/postgresql").glob("*/bin"))
OWNER = "postgres"


def postgres_bin() -> Path:
    """The newest installed server's binaries; skip (fail in CI) when there are none."""
    found = [folder for folder in POSTGRES_BINARIES if (folder / "pg_ctl").exists()]
    if not found:
        message = "no PostgreSQL server binaries under /usr/lib/postgresql/*/bin"
        if IN_CI:
            pytest.fail(f"{message}; CI must test the database outage")
        pytest.skip(message)
    return max(found, key=lambda folder: int(folder.parent.name))


class PrivatePostgres:
    """initdb, then start and stop at will (`pg_ctl stop -m fast`, as an outage looks: every
    connection cut, new ones refused) on a free port of 127.0.0.1, trust authentication."""

    def __init__(self) -> None:
        self.bin = postgres_bin()
        self.root = Path(tempfile.mkdtemp(prefix="cinemesh-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self.as_root = os.geteuid() == 0
        if self.as_root:
            shutil.chown(self.root, user=OWNER, group=OWNER)

    def url_template(self, prefix: str = "cinemesh") -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{prefix}_{{service}}"

    def init(self) -> PrivatePostgres:
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-sync",
        )
        return self.start()

    def start(self) -> PrivatePostgres:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        log = str(self.root / "server.log")
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", log, "-w", "start")
        return self

    def stop(self) -> None:
        """A fast shutdown: sessions are ended at once, as a crash or a failover ends them."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def running(self) -> bool:
        status = self._run("pg_ctl", "-D", str(self.data), "status", check=False)
        return status.returncode == 0

    def remove(self) -> None:
        if self.data.exists() and self.running():
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop", check=False)
        shutil.rmtree(self.root, ignore_errors=True)

    def log(self) -> str:
        path = self.root / "server.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def _run(self, tool: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        command = [str(self.bin / tool), *args]
        if self.as_root:
            command = ["runuser", "-u", OWNER, "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
        if check and done.returncode != 0:
            raise AssertionError(f"{tool} failed: {done.stdout}\n{done.stderr}\n{self.log()}")
        return done
