"""Where a local platform keeps its files under the data dir."""

from __future__ import annotations

import os
import pkgutil
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

import cinemesh.services

FIRST_SERVICES = ("registry",)


def default_data_dir() -> Path:
    return Path(os.environ.get("CINEMESH_DATA_DIR", ".cinemesh")).resolve()


def available_services() -> list[str]:
    """Every service package that has an app module, the registry first."""
    names = sorted(
        info.name
        for info in pkgutil.iter_modules(cinemesh.services.__path__)
        if info.ispkg and _has_app(info.name)
    )
    return [
        *[n for n in FIRST_SERVICES if n in names],
        *[n for n in names if n not in FIRST_SERVICES],
    ]


def _has_app(name: str) -> bool:
    return any((Path(p) / name / "app.py").exists() for p in cinemesh.services.__path__)


# tries at starting a server on ports seen free: another process can take one before it binds
PORT_ATTEMPTS = 3


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


@dataclass(frozen=True)
class Layout:
    data_dir: Path

    @property
    def run_dir(self) -> Path:
        return self.data_dir / "run"

    @property
    def logs_dir(self) -> Path:
        return self.data_dir / "logs"

    @property
    def state_file(self) -> Path:
        return self.run_dir / "supervisor.json"

    @property
    def pids_file(self) -> Path:
        return self.run_dir / "pids.json"

    def log_file(self, service: str, index: int) -> Path:
        return self.logs_dir / f"{service}-{index}.log"

    def prepare(self) -> None:
        for folder in (self.data_dir, self.run_dir, self.logs_dir):
            folder.mkdir(parents=True, exist_ok=True)

    def read_state(self) -> dict[str, Any] | None:
        try:
            return dict(orjson.loads(self.state_file.read_bytes()))
        except (FileNotFoundError, orjson.JSONDecodeError):
            return None

    def write_json(self, path: Path, value: Any) -> None:
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(orjson.dumps(value, option=orjson.OPT_INDENT_2))
        os.replace(tmp, path)

    def read_pids(self) -> dict[str, Any]:
        try:
            return dict(orjson.loads(self.pids_file.read_bytes()))
        except (FileNotFoundError, orjson.JSONDecodeError):
            return {}
