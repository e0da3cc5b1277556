"""wrk as the load generator and nginx as the baseline server, both on 127.0.0.1 only, both
bounded in time."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cinemesh.benchsuite.debian import ensure_packages
from cinemesh.runner.layout import free_port

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


@dataclass(frozen=True)
class WrkResult:
    connections: int
    requests_per_s: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    errors: int

    def as_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


def run_wrk(
    url: str,
    *,
    connections: int,
    seconds: float,
    threads: int = 1,
    headers: dict[str, str] | None = None,
    script: str | None = None,
) -> WrkResult:
    """Closed-loop load with `connections` keep-alive connections for `seconds`."""
    assert url.startswith(("http://127.", "http://localhost")), (
        "load only ever targets this machine"
    )
    ensure_packages({"wrk": "wrk"})
    args = [
        "wrk",
        "-t",
        str(max(1, min(threads, connections))),
        "-c",
        str(connections),
        "-d",
        f"{max(1, round(seconds))}s",
        "--latency",
        "--timeout",
        "5s",
    ]
    for name, value in (headers or {}).items():
        args += ["-H", f"{name}: {value}"]
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as lua:
        if script:
            lua.write(script)
            args += ["-s", lua.name]
    out = subprocess.run([*args, url], capture_output=True, text=True, timeout=seconds + 60).stdout
    return parse_wrk(out, connections)


def parse_wrk(out: str, connections: int) -> WrkResult:
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    percentiles = {
        int(p): float(v) * _UNITS[u]
        for p, v, u in re.findall(r"^\s+(50|90|99)%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
    }
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non2xx:
        errors += int(non2xx.group(1))
    if not rps or len(percentiles) < 3:
        raise RuntimeError(f"could not read wrk's output:\n{out[-800:]}")
    return WrkResult(
        connections, float(rps.group(1)), percentiles[50], percentiles[90], percentiles[99], errors
    )


class Nginx:
    """nginx serving a folder on a free loopback port, for baselines."""

    def __init__(
        self, root: Path, *, extra_http: str = "", extra_server: str = "", workers: int = 1
    ) -> None:
        ensure_packages({"nginx": "nginx"})
        self.root = root
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="cm-nginx-"))
        self.conf = self.dir / "nginx.conf"
        user = "user root root;" if os.geteuid() == 0 else ""  # workers read the caller's files
        self.conf.write_text(f"""
{user}
worker_processes {workers};
daemon off;
pid {self.dir}/nginx.pid;
error_log {self.dir}/error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  sendfile on; tcp_nopush on; keepalive_requests 1000000;
  types {{ application/json json; video/mp4 mp4 m4s; application/vnd.apple.mpegurl m3u8; }}
  client_body_temp_path {self.dir}/body; proxy_temp_path {self.dir}/proxy;
  fastcgi_temp_path {self.dir}/fastcgi; uwsgi_temp_path {self.dir}/uwsgi; scgi_temp_path {self.dir}/scgi;
  {extra_http}
  server {{
    listen 127.0.0.1:{self.port};
    root {root};
    {extra_server}
  }}
}}
""")
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Nginx:
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        self.proc = subprocess.Popen(
            [nginx, "-c", str(self.conf), "-p", str(self.dir)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        import socket

        for _ in range(100):
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"nginx failed: {self.proc.stderr.read().decode() if self.proc.stderr else ''}"
                )
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("nginx did not start listening")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        shutil.rmtree(self.dir, ignore_errors=True)
