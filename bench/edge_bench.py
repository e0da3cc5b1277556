"""The edge's hot path, measured against nginx on the same files in the same run:
- segment throughput (wrk, 127.0.0.1 only, bounded duration) of one edge process, of nginx with
  one worker and the njs HMAC check (deploy/nginx), and of plain nginx (static, no check, the
  baseline); the three take turns for a few rounds (each round in another order), so a busy
  machine's spells fall on all of them, and the medians are reported with each one's ratio to
  plain nginx, in requests/s and in server CPU per request (which a shared machine disturbs
  far less than requests/s), with the load average before and after;
- concurrent viewers one edge process sustains at real pace (each viewer fetches its next
  signed segment when the previous one has played), raised until a segment arrives late.
Prints JSON. `--quick` for a short run. wrk comes from Debian's `wrk` (apt-get when missing)."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.edge.nginx import NginxEdge, apt_install

from cinemesh.benchsuite.rows import row
from cinemesh.contracts.signed_urls import sign
from cinemesh.runner.layout import free_port

ASSET = "benchasset0001"
SEGMENT_BYTES = 480 * 1024  # about 2 s of 1080p at ~2 Mbit/s, as in DESIGN.md
SEGMENT_S = 2.0


def make_media(root: Path, *, segments: int) -> None:
    """One asset: a master, a rendition playlist and `segments` files of SEGMENT_BYTES."""
    folder = root / ASSET / "1080p"
    folder.mkdir(parents=True)
    lines = ["#EXTM3U", "#EXT-X-VERSION:7", "#EXT-X-TARGETDURATION:2", "#EXT-X-PLAYLIST-TYPE:VOD"]
    for i in range(segments):
        (folder / f"seg_{i:03d}.m4s").write_bytes(os.urandom(SEGMENT_BYTES))
        lines += [f"#EXTINF:{SEGMENT_S:.1f},", f"seg_{i:03d}.m4s"]
    (folder / "index.m3u8").write_text("\n".join([*lines, "#EXT-X-ENDLIST"]) + "\n")
    (root / ASSET / "master.m3u8").write_text(
        "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=2000000,RESOLUTION=1920x1080\n1080p/index.m3u8\n"
    )


def wait_port(port: int, *, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on {port}")


def start_edge(data_dir: Path, key: bytes) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {
        **os.environ,
        "CINEMESH_DATA_DIR": str(data_dir),
        "CINEMESH_PORT": str(port),
        "CINEMESH_EDGE_KEY": key.decode(),
        "CINEMESH_REGISTRY_URLS": "[]",
        "CINEMESH_LOG_LEVEL": "warning",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "cinemesh", "serve", "edge"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_port(port, timeout_s=120)  # a busy shared machine can take a minute to start it
    return proc, f"http://127.0.0.1:{port}"


def start_plain_nginx(media: Path, run_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    """nginx serving the same files with no check at all: the ceiling."""
    port = free_port()
    run_dir.mkdir(parents=True)
    user = "user root root;\n" if os.geteuid() == 0 else ""
    conf = run_dir / "nginx.conf"
    conf.write_text(
        f"{user}worker_processes 1;\npid {run_dir}/nginx.pid;\nerror_log {run_dir}/error.log;\n"
        "events { worker_connections 4096; }\n"
        f"http {{ access_log off; sendfile on; tcp_nopush on; keepalive_requests 100000;\n"
        f"client_body_temp_path {run_dir}/cb; proxy_temp_path {run_dir}/p; "
        f"fastcgi_temp_path {run_dir}/f; uwsgi_temp_path {run_dir}/u; scgi_temp_path {run_dir}/s;\n"
        f"server {{ listen 127.0.0.1:{port}; location /plain/ {{ alias {media}/; }} }} }}\n"
    )
    proc = subprocess.Popen(
        ["nginx", "-p", str(run_dir), "-c", str(conf), "-e", str(run_dir / "error.log"),
         "-g", "daemon off;"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    wait_port(port, timeout_s=120)  # a busy shared machine can take a minute to start it
    return proc, f"http://127.0.0.1:{port}"


def ensure_wrk() -> str:
    if shutil.which("wrk") is None:
        apt_install("wrk")
    found = shutil.which("wrk")
    if found is None:
        raise RuntimeError("wrk is not installed")
    return found


UNITS = {"B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3}


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its children (nginx's workers)."""
    root = psutil.Process(pid)
    total = 0.0
    for proc in [root, *root.children(recursive=True)]:
        times = proc.cpu_times()
        total += times.user + times.system
    return total


def wrk(
    base: str, paths: list[str], *, seconds: int, connections: int, folder: Path, pid: int
) -> dict[str, Any]:
    """Requests/s and MB/s over the given paths (round robin), from 127.0.0.1 only; and the
    server's CPU per request, which a busy shared machine disturbs far less than requests/s."""
    assert base.startswith("http://127.0.0.1:"), "benchmarks stay on this machine"
    script = folder / f"paths-{abs(hash(base))}.lua"
    listed = ", ".join(json.dumps(p) for p in paths)
    script.write_text(
        f"local paths = {{{listed}}}\nlocal i = 0\n"
        "request = function()\n  i = i % #paths + 1\n"
        "  return wrk.format('GET', paths[i])\nend\n"
        "done = function(summary, latency, requests)\n"
        "  io.write(string.format('NON2XX %d\\n', summary.errors.status))\nend\n"
    )
    cpu_before = cpu_seconds(pid)
    out = subprocess.run(
        [
            ensure_wrk(),
            "-t1",
            f"-c{connections}",
            f"-d{seconds}s",
            "--latency",
            "-s",
            str(script),
            base,
        ],
        capture_output=True,
        text=True,
        timeout=seconds + 60,
    ).stdout
    cpu_used = cpu_seconds(pid) - cpu_before
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    rate = re.search(r"Transfer/sec:\s+([\d.]+)(\w+)", out)
    assert rate is not None, out
    p99 = re.search(r"99%\s+([\d.]+)(\w+)", out)
    non2xx = int(re.search(r"NON2XX (\d+)", out).group(1))  # type: ignore[union-attr]
    return {
        "requests_per_s": round(rps, 1),
        "mb_per_s": round(float(rate.group(1)) * UNITS[rate.group(2)] / 1024**2, 1),
        "p99_latency": f"{p99.group(1)}{p99.group(2)}" if p99 else None,
        "non_2xx": non2xx,
        "server_cpu_ms_per_request": round(cpu_used * 1000 / max(1.0, rps * seconds), 3),
        "requests_per_cpu_s": round(rps * seconds / cpu_used, 1) if cpu_used else None,
    }


async def viewers_at_real_pace(
    base: str, key: bytes, *, viewers: int, seconds: float, segments: int, speed: float
) -> dict[str, Any]:
    """`viewers` players, each fetching the next segment when it is due (every SEGMENT_S /
    speed seconds, starting at random offsets); a segment is late when it arrives after the
    moment the one before it has finished playing."""
    exp = int(time.time()) + 3600
    late = failed = fetched = 0
    worst = 0.0
    connector = aiohttp.TCPConnector(limit=0)
    interval = SEGMENT_S / speed

    async def viewer(index: int, session: aiohttp.ClientSession) -> None:
        nonlocal late, failed, fetched, worst
        await asyncio.sleep(interval * index / viewers)
        started = time.monotonic()
        n = 0
        while time.monotonic() - started < seconds:
            due = started + n * interval
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            path = sign(key, ASSET, exp, f"1080p/seg_{(index + n) % segments:03d}.m4s")
            t0 = time.monotonic()
            try:
                async with session.get(base + path) as resp:
                    body = await resp.read()
                    if resp.status != 200 or len(body) != SEGMENT_BYTES:
                        failed += 1
            except (aiohttp.ClientError, TimeoutError):
                failed += 1
            took = time.monotonic() - t0
            worst = max(worst, took)
            fetched += 1
            if time.monotonic() > due + interval:
                late += 1
            n += 1

    timeout = aiohttp.ClientTimeout(total=interval * 4)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        await asyncio.gather(*(viewer(i, session) for i in range(viewers)))
    return {
        "viewers": viewers,
        "segments": fetched,
        "late": late,
        "failed": failed,
        "worst_fetch_ms": round(worst * 1000, 1),
        "mbit_per_s": round(fetched * SEGMENT_BYTES * 8 / seconds / 1e6, 1),
    }


def mode(args: argparse.Namespace) -> str:
    return "tiny" if args.tiny else "quick" if args.quick else "full"


def max_viewers(base: str, key: bytes, *, mode: str, segments: int) -> dict[str, Any]:
    """Double the audience until a segment is late or fails; report the last clean step."""
    seconds = {"tiny": 4.0, "quick": 6.0, "full": 20.0}[mode]
    speed = 1.0  # real pace: a 2 s segment every 2 s per viewer
    steps: list[dict[str, Any]] = []
    viewers = 25
    limit = {"tiny": 50, "quick": 400, "full": 3200}[mode]
    while viewers <= limit:
        step = asyncio.run(
            viewers_at_real_pace(
                base, key, viewers=viewers, seconds=seconds, segments=segments, speed=speed
            )
        )
        steps.append(step)
        if step["late"] or step["failed"]:
            break
        viewers *= 2
    clean = [s["viewers"] for s in steps if not s["late"] and not s["failed"]]
    return {
        "segment_s": SEGMENT_S,
        "segment_kb": SEGMENT_BYTES // 1024,
        "seconds_per_step": seconds,
        "sustained_viewers": max(clean, default=0),
        # clean up to the last step: the run's ceiling, not the edge's (a full run goes higher)
        "limited_by": "edge" if steps and (steps[-1]["late"] or steps[-1]["failed"]) else "ceiling",
        "steps": steps,
    }


def _ratio(mine: dict[str, Any], theirs: dict[str, Any], field: str) -> float | None:
    if not mine.get(field) or not theirs.get(field):
        return None
    return round(float(mine[field]) / float(theirs[field]), 3)


def medians(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """One target's rounds: the median of each number, and every round's requests/s."""
    merged: dict[str, Any] = {}
    for field in ("requests_per_s", "mb_per_s", "server_cpu_ms_per_request", "requests_per_cpu_s"):
        values = [r[field] for r in runs if r[field] is not None]
        merged[field] = round(statistics.median(values), 3) if values else None
    merged["non_2xx"] = sum(r["non_2xx"] for r in runs)
    merged["p99_latency"] = [r["p99_latency"] for r in runs]
    merged["rounds_requests_per_s"] = [r["requests_per_s"] for r in runs]
    return merged


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="short runs")
    parser.add_argument("--tiny", action="store_true", help="seconds-long smoke run for tests")
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    seconds = 1 if args.tiny else 2 if args.quick else 6
    rounds = 1 if args.tiny else 3 if args.quick else 5
    segments = 10 if args.tiny else 20 if args.quick else 60
    key = os.urandom(24).hex().encode()
    load_before = load_average()
    with tempfile.TemporaryDirectory(prefix="edge-bench-") as tmp:
        folder = Path(tmp)
        media = folder / "data" / "media" / "assets"
        make_media(media, segments=segments)
        exp = int(time.time()) + 3600
        signed = [sign(key, ASSET, exp, f"1080p/seg_{i:03d}.m4s") for i in range(segments)]
        plain = [f"/plain/{ASSET}/1080p/seg_{i:03d}.m4s" for i in range(segments)]
        edge_proc, edge_url = start_edge(folder / "data", key)
        nginx = NginxEdge(media_root=media, key=key, run_dir=folder / "nginx-njs").start()
        plain_proc, plain_url = start_plain_nginx(media, folder / "nginx-plain")
        try:
            assert nginx.proc is not None
            run: dict[str, Any] = {
                "seconds": seconds,
                "connections": args.connections,
                "folder": folder,
            }
            targets = {
                "nginx_plain": (plain_url, plain, plain_proc.pid),
                "nginx_njs": (nginx.url, signed, nginx.proc.pid),
                "edge": (edge_url, signed, edge_proc.pid),
            }
            runs: dict[str, list[dict[str, Any]]] = {name: [] for name in targets}
            names = list(targets)
            if not args.tiny:  # warm every server (page cache, lazy imports) before timing
                for name in names:
                    url, paths, pid = targets[name]
                    wrk(url, paths, pid=pid, **{**run, "seconds": 1})
            for turn in range(rounds):
                for name in names[turn % 3 :] + names[: turn % 3]:
                    url, paths, pid = targets[name]
                    runs[name].append(wrk(url, paths, pid=pid, **run))
            results = {name: medians(done) for name, done in runs.items()}
            viewers = max_viewers(edge_url, key, mode=mode(args), segments=segments)
        finally:
            edge_proc.terminate()
            nginx.stop()
            plain_proc.terminate()
            edge_proc.wait(timeout=10)
            plain_proc.wait(timeout=10)
    edge, njs, base = results["edge"], results["nginx_njs"], results["nginx_plain"]
    report = {
        "benchmark": "edge",
        "segment_kb": SEGMENT_BYTES // 1024,
        "cores": os.cpu_count(),
        "rounds": rounds,
        "seconds_per_round": seconds,
        "load_average_before": load_before,
        "load_average_after": load_average(),
        "throughput": results,
        "edge_to_nginx_plain": _ratio(edge, base, "requests_per_s"),
        "nginx_njs_to_nginx_plain": _ratio(njs, base, "requests_per_s"),
        "edge_to_nginx_njs": _ratio(edge, njs, "requests_per_s"),
        "edge_to_nginx_plain_per_cpu": _ratio(edge, base, "requests_per_cpu_s"),
        "nginx_njs_to_nginx_plain_per_cpu": _ratio(njs, base, "requests_per_cpu_s"),
        "edge_to_nginx_njs_per_cpu": _ratio(edge, njs, "requests_per_cpu_s"),
        "real_pace_viewers_one_edge_process": viewers,
    }
    report["summary"] = summarize(results, viewers)
    print(json.dumps(report, indent=2))


def summarize(results: dict[str, Any], viewers: dict[str, Any]) -> list[dict[str, Any]]:
    edge, njs, plain = results["edge"], results["nginx_njs"], results["nginx_plain"]
    kb = SEGMENT_BYTES // 1024
    rows = []
    for who, measured in (("one edge process", edge), ("nginx + njs HMAC check", njs)):
        rows += [
            row(
                f"{kb} KB segments/s, {who}",
                measured["requests_per_s"],
                baseline="plain nginx static, one worker, same run",
                baseline_value=plain["requests_per_s"],
            ),
            row(
                f"server CPU ms a segment, {who}",
                measured["server_cpu_ms_per_request"],
                baseline="plain nginx static",
                baseline_value=plain["server_cpu_ms_per_request"],
                better="lower",
            ),
        ]
    rows.append(
        row(
            "viewers at real pace with no late segment, one edge process",
            viewers["sustained_viewers"],
            baseline="late segment at the next step"
            if viewers["limited_by"] == "edge"
            else "none late up to this run's ceiling",
        )
    )
    return rows


if __name__ == "__main__":
    main()
