"""nginx + njs serving a media folder with deploy/nginx/edge.conf, the way the edge runs at
scale; used by the nginx edge test and bench/edge_bench.py."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

from cinemesh.runner.layout import free_port

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "nginx"
NJS_MODULE = Path("/usr/lib/nginx/modules/ngx_http_js_module.so")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


class NginxUnavailable(RuntimeError):
    pass


def apt_install(*packages: str) -> None:
    """Install Debian packages (apt-get update once first); NginxUnavailable if we cannot."""
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise NginxUnavailable(f"{' '.join(packages)} missing and no root apt-get to install it")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update"], env=env, check=True, capture_output=True, timeout=600)
    subprocess.run(
        ["apt-get", "install", "-y", *packages],
        env=env,
        check=True,
        capture_output=True,
        timeout=900,
    )


def ensure_nginx() -> str:
    """The nginx binary, with its njs module installed."""
    if shutil.which("nginx") is None or not NJS_MODULE.exists():
        apt_install("nginx", "libnginx-mod-http-js")
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(binary).exists() or not NJS_MODULE.exists():
        raise NginxUnavailable("nginx or its njs module is still missing after apt-get")
    return binary


class NginxEdge:
    """One nginx on a free 127.0.0.1 port serving `media_root` with the edge configuration
    (or another of deploy/nginx, `conf`, with its own template `values`)."""

    def __init__(
        self,
        *,
        media_root: Path,
        key: bytes,
        run_dir: Path,
        workers: int = 1,
        conf: str = "edge.conf",
        values: dict[str, str] | None = None,
    ) -> None:
        self.binary = ensure_nginx()
        self.port = free_port()
        self.run_dir = run_dir
        self.run_dir.mkdir(parents=True, exist_ok=True)
        text = (DEPLOY / conf).read_text()
        for name, value in {
            "EDGE_PORT": str(self.port),
            "EDGE_MEDIA_ROOT": str(media_root.resolve()),
            "EDGE_NJS_DIR": str(DEPLOY),
            "EDGE_RUN_DIR": str(self.run_dir),
            **(values or {}),
        }.items():
            text = text.replace("${" + name + "}", value)
        text = text.replace("worker_processes auto;", f"worker_processes {workers};")
        if os.geteuid() == 0:  # workers would drop to `nobody`, who cannot read a test's tmp dir
            text = text.replace("pid ", "user root root;\npid ", 1)
        self.conf = self.run_dir / "nginx.conf"
        self.conf.write_text(text)
        self.env = {**os.environ, "CINEMESH_EDGE_KEY": key.decode()}
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> NginxEdge:
        args = [self.binary, "-p", str(self.run_dir), "-c", str(self.conf)]
        checked = subprocess.run(
            [*args, "-t", "-e", str(self.run_dir / "error.log")],
            env=self.env,
            capture_output=True,
            text=True,
        )
        if checked.returncode != 0:
            raise AssertionError(f"nginx -t failed: {checked.stderr}")
        self.proc = subprocess.Popen(
            [*args, "-e", str(self.run_dir / "error.log"), "-g", "daemon off;"],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return self
            except OSError:
                if self.proc.poll() is not None:
                    break
                time.sleep(0.05)
        raise AssertionError(f"nginx did not start: {self.errors()}")

    def errors(self) -> str:
        try:
            return (self.run_dir / "error.log").read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
            self.proc = None
