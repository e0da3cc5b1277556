"""Gateway benchmarks, each beside its baseline in the same run:
1. the load generator's own ceiling: wrk against nginx serving a home-page-sized JSON file;
2. the home page through the gateway as load grows (requests/s, p50/p90/p99), many members
   round-robin so caches behave as in real use;
3. pass-through: a proxied title lookup through the gateway as a ratio to calling the catalog
   directly. Everything runs on 127.0.0.1 and stops by itself. Prints JSON."""

from __future__ import annotations

import argparse
import json
import tempfile
import uuid
from pathlib import Path
from typing import Any

import httpx

from cinemesh.benchsuite.loadgen import Nginx, WrkResult, run_wrk
from cinemesh.runner.local import LocalPlatform

GOAL = "≥ 1,000 requests/s at p99 < 50 ms"


def seed(
    platform: LocalPlatform, *, titles: int, members: int
) -> tuple[list[tuple[str, str]], str]:
    """An admin's catalog of `titles`, and `members` signed-in members with one profile each."""
    email, password = f"bench-admin-{uuid.uuid4().hex[:6]}@example.com", f"Bench-{uuid.uuid4().hex}"
    made = platform.cli("users", "create-admin", "--email", email, "--password", password)
    assert made.returncode == 0, made.stdout + made.stderr
    client = httpx.Client(base_url=platform.gateway, timeout=30)
    admin = client.post("/api/v1/auth/login", json={"email": email, "password": password}).json()
    admin_headers = {"Authorization": f"Bearer {admin['access_token']}"}
    genres = ["Drama", "Comedy", "Horror", "Documentary", "Sci-Fi", "Animation"]
    title_ids = []
    for n in range(titles):
        created = client.post(
            "/api/v1/admin/titles",
            headers=admin_headers,
            json={
                "title": f"Bench Title {n}",
                "kind": "movie",
                "genres": [genres[n % len(genres)]],
                "year": 1990 + n % 35,
                "maturity_rating": ["G", "PG", "PG-13", "R"][n % 4],
            },
        )
        assert created.status_code in (200, 201), created.text
        title_ids.append(created.json()["id"])
    viewers = []
    for n in range(members):
        mail, pw = f"bench-{n}-{uuid.uuid4().hex[:6]}@example.com", f"Pw-{uuid.uuid4().hex}"
        assert (
            client.post(
                "/api/v1/auth/signup", json={"email": mail, "password": pw, "plan": "premium"}
            ).status_code
            == 201
        )
        token = client.post("/api/v1/auth/login", json={"email": mail, "password": pw}).json()[
            "access_token"
        ]
        profile = client.post(
            "/api/v1/profiles", json={"name": f"P{n}"}, headers={"Authorization": f"Bearer {token}"}
        ).json()
        viewers.append((str(profile["id"]), token))
    return viewers, str(title_ids[0])


def rotating_home_script(viewers: list[tuple[str, str]]) -> str:
    entries = ",\n".join(f'{{"{pid}", "{tok}"}}' for pid, tok in viewers)
    return f"""
local viewers = {{
{entries}
}}
local n = 0
request = function()
  n = n % #viewers + 1
  local v = viewers[n]
  return wrk.format("GET", "/api/v1/home?profile_id=" .. v[1], {{["Authorization"] = "Bearer " .. v[2]}})
end
"""


def run(mode: str) -> dict[str, Any]:
    seconds = {"tiny": 2, "quick": 5, "full": 15}[mode]
    levels = {"tiny": [8], "quick": [4, 16, 64], "full": [2, 4, 8, 16, 32, 64, 128]}[mode]
    members = {"tiny": 5, "quick": 50, "full": 200}[mode]
    data_dir = Path(tempfile.mkdtemp(prefix="cm-bench-gw-"))
    platform = LocalPlatform(
        data_dir,
        env={
            "CINEMESH_GATEWAY_RATE_PER_IP": "0",
            "CINEMESH_GATEWAY_RATE_PER_ACCOUNT": "0",
            "CINEMESH_LOG_LEVEL": "warning",
        },
    )
    platform.start()
    try:
        viewers, title_id = seed(platform, titles=60, members=members)
        pid, token = viewers[0]
        auth = {"Authorization": f"Bearer {token}"}
        page = httpx.get(
            f"{platform.gateway}/api/v1/home", params={"profile_id": pid}, headers=auth, timeout=30
        )
        assert page.status_code == 200 and page.json()["rows"], page.text[:500]

        static_root = data_dir / "static"
        static_root.mkdir()
        (static_root / "home.json").write_bytes(page.content)
        nginx = Nginx(static_root).start()
        try:
            ceiling = max(
                (
                    run_wrk(f"{nginx.url}/home.json", connections=c, seconds=seconds)
                    for c in (max(levels), 64)
                ),
                key=lambda r: r.requests_per_s,
            )
        finally:
            nginx.stop()

        script = rotating_home_script(viewers)
        home = [
            run_wrk(
                f"{platform.gateway}/api/v1/home", connections=c, seconds=seconds, script=script
            )
            for c in levels
        ]

        service_headers = platform.headers
        direct = run_wrk(
            f"{platform.url_of('catalog')}/v1/titles/{title_id}",
            connections=16,
            seconds=seconds,
            headers=service_headers,
        )
        proxied = run_wrk(
            f"{platform.gateway}/api/v1/titles/{title_id}",
            connections=16,
            seconds=seconds,
            headers=auth,
        )
    finally:
        platform.stop()
    return report(ceiling, home, direct, proxied, len(page.content))


def report(
    ceiling: WrkResult,
    home: list[WrkResult],
    direct: WrkResult,
    proxied: WrkResult,
    page_bytes: int,
) -> dict[str, Any]:
    best = max(home, key=lambda r: r.requests_per_s)
    within_goal = [r for r in home if r.p99_ms < 50 and not r.errors]
    best_within = max(within_goal, key=lambda r: r.requests_per_s) if within_goal else None
    return {
        "benchmark": "gateway",
        "home_page_bytes": page_bytes,
        "generator_ceiling": ceiling.as_dict(),
        "home": [r.as_dict() for r in home],
        "pass_through": {"direct": direct.as_dict(), "through_gateway": proxied.as_dict()},
        "summary": [
            {
                "measurement": "load generator ceiling, requests/s",
                "baseline": "nginx, same-size JSON",
                "value": ceiling.requests_per_s,
                "baseline_value": None,
                "ratio": None,
                "better": "higher",
            },
            {
                "measurement": "home page, best requests/s",
                "baseline": "generator ceiling",
                "value": best.requests_per_s,
                "baseline_value": ceiling.requests_per_s,
                "ratio": round(best.requests_per_s / ceiling.requests_per_s, 4),
                "better": "higher",
            },
            {
                "measurement": "home page, requests/s with p99 < 50 ms",
                "baseline": "-",
                "value": best_within.requests_per_s if best_within else 0.0,
                "baseline_value": None,
                "ratio": None,
                "better": "higher",
                "goal": GOAL,
            },
            {
                "measurement": "home page p99 ms at that load",
                "baseline": "-",
                "value": best_within.p99_ms if best_within else None,
                "baseline_value": None,
                "ratio": None,
                "better": "lower",
            },
            {
                "measurement": "title lookup through the gateway, requests/s",
                "baseline": "catalog called directly",
                "value": proxied.requests_per_s,
                "baseline_value": direct.requests_per_s,
                "ratio": round(proxied.requests_per_s / direct.requests_per_s, 3),
                "better": "higher",
            },
        ],
        "plots": [
            {
                "title": "Home page latency under increasing load",
                "x_label": "concurrent connections",
                "y_label": "ms",
                "series": [
                    {
                        "name": "p50",
                        "x": [r.connections for r in home],
                        "y": [r.p50_ms for r in home],
                    },
                    {
                        "name": "p90",
                        "x": [r.connections for r in home],
                        "y": [r.p90_ms for r in home],
                    },
                    {
                        "name": "p99",
                        "x": [r.connections for r in home],
                        "y": [r.p99_ms for r in home],
                    },
                ],
            },
            {
                "title": "Home page throughput vs concurrency",
                "x_label": "concurrent connections",
                "y_label": "requests/s",
                "series": [
                    {
                        "name": "gateway /home",
                        "x": [r.connections for r in home],
                        "y": [r.requests_per_s for r in home],
                    }
                ],
            },
        ],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--tiny", action="store_true")
    args = parser.parse_args()
    mode = "tiny" if args.tiny else "quick" if args.quick else "full"
    print(json.dumps(run(mode), indent=2))


if __name__ == "__main__":
    main()
