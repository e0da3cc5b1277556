"""Gateway benchmarks, each beside its baseline in the same run:
1. the load generator's own ceiling: wrk against nginx serving a home-page-sized JSON file;
2. the home page through the gateway as load grows (requests/s, p50/p90/p99), many members
   round-robin so caches behave as in real use. Measured on four platforms: as shipped, where
   a busy profile's whole page may be reused for up to a second (the share of pages reused is
   reported per level); with every page built for members returning to it (no page reuse:
   each page is put together from what history, profiles and the recommender answered,
   kept until a notice says it changed, and the share of answers kept is reported); with
   every page built as on a first visit (nothing kept anywhere: each page asks history,
   profiles and the recommender, which read their databases); and first visits with two
   gateway instances sharing the public port. Each level also reports the share of built
   pages missing rows (a dependency past its deadline: `degraded`), which must stay under 1%
   for the level to count, and the CPU time every service process spent per page, and from
   it the most built pages/s the machine's cores could give if they did nothing else;
3. pass-through: a proxied title lookup through the gateway as a ratio to calling the catalog
   directly. Everything runs on 127.0.0.1 and stops by itself. Prints JSON."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from cinemesh.benchsuite.loadgen import Nginx, WrkResult, run_wrk
from cinemesh.benchsuite.rows import row
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


BENCH_ENV = {
    "CINEMESH_SEED_DEMO": "off",  # run alone too, no demo videos encode during the measurement
    "CINEMESH_GATEWAY_RATE_PER_IP": "0",
    "CINEMESH_GATEWAY_RATE_PER_ACCOUNT": "0",
    "CINEMESH_LOG_LEVEL": "warning",
}
EVERY_PAGE_BUILT = {"CINEMESH_GATEWAY_HOME_PAGE_FRESH_S": "0"}
FIRST_VISITS = {
    **EVERY_PAGE_BUILT,
    **{
        f"CINEMESH_{service}_KEPT_READS_S": "0"
        for service in ("GATEWAY", "PROFILES", "HISTORY", "RECOMMENDER")
    },
}
CORES = psutil.cpu_count() or 1
MOST_DEGRADED = 0.01  # share of built pages missing rows that a level may have and count


@dataclass
class HomeLevel:
    """One load level of the home page, the share of pages the gateway reused in it, the share
    of built pages missing some rows (a dependency too slow or failing: `degraded`), and the
    CPU time each service spent per page (ms, summed over its instances)."""

    wrk: WrkResult
    reused: float
    degraded: float
    cpu_ms_by_service: dict[str, float]
    answers_kept: float  # of what pages needed from history, profiles and the recommender

    @property
    def cpu_ms_per_page(self) -> float:
        return round(sum(self.cpu_ms_by_service.values()), 3)

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.wrk.as_dict(),
            "pages_reused": self.reused,
            "answers_kept": self.answers_kept,
            "built_pages_degraded": self.degraded,
            "cpu_ms_per_page": self.cpu_ms_per_page,
            "cpu_ms_per_page_by_service": self.cpu_ms_by_service,
        }


@contextmanager
def seeded_platform(
    members: int, env: dict[str, str], scale: dict[str, int] | None = None
) -> Iterator[tuple[LocalPlatform, list[tuple[str, str]], str, bytes]]:
    """A platform with a catalog and `members` viewers, and the first viewer's home page."""
    data_dir = Path(tempfile.mkdtemp(prefix="cm-bench-gw-"))
    platform = LocalPlatform(data_dir, env={**BENCH_ENV, **env}, scale=scale)
    platform.start()
    try:
        viewers, title_id = seed(platform, titles=60, members=members)
        page = first_home_page(platform, *viewers[0])
        yield platform, viewers, title_id, page
    finally:
        platform.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


def first_home_page(platform: LocalPlatform, profile_id: str, token: str) -> bytes:
    """The first whole page (services learn the new titles from events, which takes a moment)."""
    deadline, page = time.monotonic() + 60, None
    while time.monotonic() < deadline:
        page = httpx.get(
            f"{platform.gateway}/api/v1/home",
            params={"profile_id": profile_id},
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
        if page.status_code == 200 and page.json()["rows"] and not page.json()["degraded"]:
            return page.content
        time.sleep(0.5)
    raise AssertionError(
        f"no whole home page within 60 s: {page and page.status_code} {page and page.text[:300]}"
    )


def gateway_samples(platform: LocalPlatform) -> list[Sample]:
    """Every gateway instance's metric samples, read once."""
    samples: list[Sample] = []
    for instance in platform.instances("gateway"):
        text = httpx.get(f"http://127.0.0.1:{instance['port']}/metrics", timeout=10).text
        samples += [s for family in text_string_to_metric_families(text) for s in family.samples]
    return samples


def summed(samples: list[Sample], sample_name: str, label: str) -> dict[str, float]:
    """A counter's samples summed by one label (over every gateway instance)."""
    counts: dict[str, float] = {}
    for sample in samples:
        if sample.name == sample_name:
            key = sample.labels.get(label, "")
            counts[key] = counts.get(key, 0.0) + sample.value
    return counts


def home_pages_counted(platform: LocalPlatform) -> dict[str, float]:
    """Pages answered (built or reused), page builds (also those refreshing a reused page in
    the background), builds degraded, and where the answers of history, profiles and the
    recommender came from (kept in memory or asked)."""
    samples = gateway_samples(platform)
    pages = summed(samples, "cinemesh_gateway_home_pages_total", "page")
    answers = summed(samples, "cinemesh_kept_reads_total", "source")
    return {
        "built": pages.get("built", 0.0),
        "reused": pages.get("reused", 0.0),
        "builds": sum(summed(samples, "cinemesh_gateway_home_builds_total", "").values()),
        "degraded": sum(summed(samples, "cinemesh_gateway_home_pages_degraded_total", "").values()),
        "answers_kept": answers.get("memory", 0.0),
        "answers_asked": answers.get("database", 0.0),
    }


def statuses_during(
    platform: LocalPlatform, run: Callable[[], WrkResult]
) -> tuple[WrkResult, dict[str, int]]:
    """`run()`'s result and the statuses the gateway answered meanwhile (wrk counts only
    how many were not 2xx, or failed on the socket)."""
    name = "cinemesh_http_requests_total"
    before = summed(gateway_samples(platform), name, "status")
    result = run()
    after = summed(gateway_samples(platform), name, "status")
    changed = {k: int(v - before.get(k, 0.0)) for k, v in after.items()}
    return result, {k: v for k, v in sorted(changed.items()) if v}


def service_processes(platform: LocalPlatform) -> dict[str, list[psutil.Process]]:
    found: dict[str, list[psutil.Process]] = {}
    for instance in platform.instances():
        found.setdefault(instance["service"], []).append(psutil.Process(instance["pid"]))
    return found


def cpu_seconds(processes: dict[str, list[psutil.Process]]) -> dict[str, float]:
    """User and system CPU seconds so far, per service (a service's own children included:
    the recommender's trainer)."""
    used = {}
    for service, group in processes.items():
        total = 0.0
        for process in group:
            times = process.cpu_times()
            total += times.user + times.system + times.children_user + times.children_system
        used[service] = total
    return used


def home_levels(
    platform: LocalPlatform, viewers: list[tuple[str, str]], levels: list[int], seconds: float
) -> list[HomeLevel]:
    script = rotating_home_script(viewers)
    processes = service_processes(platform)
    measured = []
    for connections in levels:
        before, cpu_before = home_pages_counted(platform), cpu_seconds(processes)
        result = run_wrk(
            f"{platform.gateway}/api/v1/home",
            connections=connections,
            seconds=seconds,
            script=script,
        )
        after, cpu_after = home_pages_counted(platform), cpu_seconds(processes)
        counted = {key: after[key] - before[key] for key in after}
        built, reused = counted["built"], counted["reused"]
        pages = max(1.0, built + reused)
        per_page = {
            service: round((cpu_after[service] - cpu_before[service]) * 1000 / pages, 3)
            for service in cpu_after
        }
        measured.append(
            HomeLevel(
                result,
                round(reused / pages, 3),
                round(counted["degraded"] / max(1.0, counted["builds"]), 3),
                per_page,
                round(
                    counted["answers_kept"]
                    / max(1.0, counted["answers_kept"] + counted["answers_asked"]),
                    3,
                ),
            )
        )
    return measured


def generator_ceiling(page: bytes, levels: list[int], seconds: float) -> WrkResult:
    static_root = Path(tempfile.mkdtemp(prefix="cm-bench-gw-static-"))
    (static_root / "home.json").write_bytes(page)
    nginx = Nginx(static_root).start()
    try:
        return max(
            (
                run_wrk(f"{nginx.url}/home.json", connections=c, seconds=seconds)
                for c in (max(levels), 64)
            ),
            key=lambda r: r.requests_per_s,
        )
    finally:
        nginx.stop()
        shutil.rmtree(static_root, ignore_errors=True)


def run(mode: str) -> dict[str, Any]:
    seconds = {"tiny": 2, "quick": 5, "full": 15}[mode]
    levels = {"tiny": [8], "quick": [4, 16, 64], "full": [2, 4, 8, 16, 32, 64, 128]}[mode]
    members = {"tiny": 5, "quick": 50, "full": 200}[mode]
    progress(f"gateway: home page with page reuse, {members} members, levels {levels}")
    with seeded_platform(members, {}) as (platform, viewers, title_id, page):
        ceiling = generator_ceiling(page, levels, seconds)
        home = home_levels(platform, viewers, levels, seconds)
        _pid, token = viewers[0]
        direct = run_wrk(
            f"{platform.url_of('catalog')}/v1/titles/{title_id}",
            connections=16,
            seconds=seconds,
            headers=platform.headers,
        )
        proxied, proxied_statuses = statuses_during(
            platform,
            lambda: run_wrk(
                f"{platform.gateway}/api/v1/titles/{title_id}",
                connections=16,
                seconds=seconds,
                headers={"Authorization": f"Bearer {token}"},
            ),
        )
    progress("gateway: home page with every page built, members returning to it")
    with seeded_platform(members, EVERY_PAGE_BUILT) as (platform, viewers, _title, _page):
        built = home_levels(platform, viewers, levels, seconds)
    progress("gateway: home page with every page built as on a first visit (nothing kept)")
    with seeded_platform(members, FIRST_VISITS) as (platform, viewers, _title, _page):
        first = home_levels(platform, viewers, levels, seconds)
    variants = [
        ("every page built, members returning", "home_every_page_built", built),
        ("every page built, first visits", "home_first_visits", first),
    ]
    if mode != "tiny":  # the smoke run in `make test` needs one platform per code path
        progress("gateway: first visits, two gateway instances")
        with seeded_platform(members, FIRST_VISITS, {"gateway": 2}) as (
            platform,
            viewers,
            _title,
            _page,
        ):
            first_by_two = home_levels(platform, viewers, levels, seconds)
        variants.append(
            (
                "every page built, first visits, 2 gateways",
                "home_first_visits_two_gateways",
                first_by_two,
            )
        )
    result = report(ceiling, home, variants, direct, proxied, len(page))
    result["pass_through"]["gateway_statuses"] = proxied_statuses
    return result


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def best_within_goal(levels: list[HomeLevel]) -> HomeLevel | None:
    """The busiest level with p99 < 50 ms, no failed request and whole pages: a page missing
    rows because a dependency could not keep up is not the page the goal asks for."""
    within = [
        lv
        for lv in levels
        if lv.wrk.p99_ms < 50 and not lv.wrk.errors and lv.degraded <= MOST_DEGRADED
    ]
    return max(within, key=lambda lv: lv.wrk.requests_per_s) if within else None


def busiest_whole(levels: list[HomeLevel]) -> HomeLevel:
    """The busiest level whose pages were whole (any level's if none was): pages left
    incomplete by a dependency that could not keep up are cheaper and would flatter it."""
    whole = [lv for lv in levels if lv.degraded <= MOST_DEGRADED] or levels
    return max(whole, key=lambda lv: lv.wrk.requests_per_s)


def home_rows(levels: list[HomeLevel], label: str, ceiling: WrkResult) -> list[dict[str, Any]]:
    best = busiest_whole(levels)
    within = best_within_goal(levels)
    return [
        row(
            f"home page{label}, best requests/s with whole pages",
            best.wrk.requests_per_s,
            baseline="generator ceiling",
            baseline_value=ceiling.requests_per_s,
        ),
        row(
            f"home page{label}, most built pages degraded at any load",
            max(lv.degraded for lv in levels),
            better="lower",
        ),
        row(
            f"home page{label}, requests/s with p99 < 50 ms",
            within.wrk.requests_per_s if within else 0.0,
            goal=GOAL,
        ),
        row(
            f"home page{label}, p99 ms at that load",
            within.wrk.p99_ms if within else None,
            better="lower",
        ),
        row(
            f"home page{label}, share of pages reused at that load",
            within.reused if within else None,
            better="none",
        ),
    ]


def kept_rows(levels: list[HomeLevel], label: str) -> list[dict[str, Any]]:
    within = best_within_goal(levels)
    return [
        row(
            f"home page{label}, share of answers from history, profiles and the recommender "
            "kept, at that load",
            within.answers_kept if within else None,
            better="none",
        )
    ]


def cpu_rows(levels: list[HomeLevel], label: str) -> list[dict[str, Any]]:
    """CPU per page at the busiest level with whole pages, and the pages/s it leaves room for
    on this machine."""
    best = busiest_whole(levels)
    shares = sorted(best.cpu_ms_by_service.items(), key=lambda kv: -kv[1])
    return [
        row(
            f"home page{label}, CPU ms per page, all services ("
            + ", ".join(f"{name} {ms:.2f}" for name, ms in shares if ms >= 0.05)
            + ")",
            best.cpu_ms_per_page,
            better="lower",
        ),
        row(
            f"home page{label}, most pages/s {CORES} cores could give (no load generator)",
            round(CORES * 1000 / best.cpu_ms_per_page) if best.cpu_ms_per_page else None,
            goal=GOAL,
        ),
    ]


def report(
    ceiling: WrkResult,
    home: list[HomeLevel],
    variants: list[tuple[str, str, list[HomeLevel]]],
    direct: WrkResult,
    proxied: WrkResult,
    page_bytes: int,
) -> dict[str, Any]:
    """`variants`: (label, key in the result, levels) of each platform that builds every page."""
    configs = [("as shipped", home), *((label, levels) for label, _key, levels in variants)]
    return {
        "benchmark": "gateway",
        "home_page_bytes": page_bytes,
        "generator_ceiling": ceiling.as_dict(),
        "home": [lv.as_dict() for lv in home],
        **{key: [lv.as_dict() for lv in levels] for _label, key, levels in variants},
        "pass_through": {"direct": direct.as_dict(), "through_gateway": proxied.as_dict()},
        "summary": [
            row(
                "load generator ceiling, requests/s",
                ceiling.requests_per_s,
                baseline="nginx, same-size JSON",
            ),
            *home_rows(home, "", ceiling),
            *(
                summary_row
                for label, _key, levels in variants
                for summary_row in [
                    *home_rows(levels, f" ({label})", ceiling)[:4],
                    *kept_rows(levels, f" ({label})"),
                    *cpu_rows(levels, f" ({label})"),
                ]
            ),
            row(
                "title lookup through the gateway, requests/s",
                proxied.requests_per_s,
                baseline="catalog called directly",
                baseline_value=direct.requests_per_s,
            ),
        ],
        "plots": [
            {
                "title": "Home page latency under increasing load",
                "x_label": "concurrent connections",
                "y_label": "ms",
                "series": [
                    {
                        "name": f"{pct} {name}",
                        "x": [lv.wrk.connections for lv in levels],
                        "y": [getattr(lv.wrk, f"{pct}_ms") for lv in levels],
                    }
                    for name, levels in configs
                    for pct in ("p50", "p99")
                ],
            },
            {
                "title": "Home page throughput vs concurrency",
                "x_label": "concurrent connections",
                "y_label": "requests/s",
                "series": [
                    {
                        "name": f"gateway /home, {name}",
                        "x": [lv.wrk.connections for lv in levels],
                        "y": [lv.wrk.requests_per_s for lv in levels],
                    }
                    for name, levels in configs
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
