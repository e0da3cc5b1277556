"""Secrets generated on first run into the data dir, readable by the owner only."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from pathlib import Path


def secrets_dir(data_dir: Path) -> Path:
    folder = data_dir / "secrets"
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    return folder


def read_or_create_secret(path: Path, *, nbytes: int = 32) -> bytes:
    """Return the secret at `path`, creating it with mode 0600 if absent."""
    return read_or_create_file(path, lambda: secrets.token_urlsafe(nbytes).encode()).strip()


def read_or_create_file(path: Path, make: Callable[[], bytes]) -> bytes:
    """The file at `path`; the first process to get here writes `make()` there (0600),
    whole or not at all, and every racing process reads the winner's bytes."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        pass
    tmp = _private_temporary(path, make())
    try:
        # Linking a whole file is atomic and exclusive; creating the target and then writing
        # it let a racing instance read it empty and sign with an empty key.
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)
    return path.read_bytes()


def write_private_file(path: Path, content: bytes) -> None:
    """Write `content` to `path` with mode 0600, replacing it atomically."""
    os.replace(_private_temporary(path, content), path)


def _private_temporary(path: Path, content: bytes) -> Path:
    """`content` written whole (mode 0600) to a temporary file beside `path`."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(content)
        handle.flush()
        os.fsync(handle.fileno())
    return tmp
