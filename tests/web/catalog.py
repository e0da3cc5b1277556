"""What the browser tests watch: a small catalog made through the public admin API, with one
series ("Stranger Things") whose first episode has a real, tiny, encoded video."""

from __future__ import annotations

import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx
import imageio_ffmpeg

from tests.support.platform import LocalPlatform
from tests.support.users import Member, admin

GENRES = ["Drama", "Comedy", "Sci-Fi", "Horror", "Documentary", "Action"]
SERIES_NAME = "Stranger Things"


@dataclass
class SeededCatalog:
    admin: Member
    series_id: str
    episode_ids: list[str]
    title_ids: list[str]


def make_video(path: Path, *, seconds: int = 40, width: int = 640, height: int = 360) -> Path:
    """A busy test pattern with a tone: detailed enough that the ladder keeps two rungs."""
    ffmpeg = imageio_ffmpeg.get_ffmpeg_exe()
    subprocess.run(
        [ffmpeg, "-v", "error", "-y",
         "-f", "lavfi", "-i", f"testsrc2=size={width}x{height}:rate=24:duration={seconds}",
         "-f", "lavfi", "-i", f"sine=frequency=330:duration={seconds}",
         "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac",
         str(path)],
        check=True,
        timeout=180,
    )  # fmt: skip
    return path


def post(platform: LocalPlatform, who: Member, path: str, body: dict[str, object]) -> dict:
    answer = httpx.post(
        f"{platform.gateway}/api/v1{path}", json=body, headers=who.headers, timeout=30
    )
    assert answer.status_code in (200, 201), answer.text
    return dict(answer.json())


def seed(platform: LocalPlatform, work_dir: Path, *, timeout_s: float = 420) -> SeededCatalog:
    boss = admin(platform)
    title_ids = []
    for n in range(18):
        genre = GENRES[n % len(GENRES)]
        made = post(
            platform,
            boss,
            "/admin/titles",
            {
                "title": f"{['The Long', 'Night', 'Silent', 'Lost', 'Red', 'Open'][n % 6]} {genre} {n + 1}",
                "kind": "movie",
                "genres": [genre],
                "year": 1995 + n,
                "maturity_rating": ["G", "PG", "PG-13", "R"][n % 4],
                "synopsis": f"A {genre.lower()} story, number {n + 1}, made for the browser tests.",
                "runtime_min": 90 + n,
                "cast": ["Ada Park", "Ben Ortiz"],
                "popularity": float(100 - n),
            },
        )
        title_ids.append(str(made["id"]))
    series = post(
        platform,
        boss,
        "/admin/titles",
        {
            "title": SERIES_NAME,
            "kind": "series",
            "genres": ["Sci-Fi", "Horror", "Drama"],
            "year": 2016,
            "maturity_rating": "PG-13",
            "synopsis": "When a young boy vanishes, a small town uncovers a mystery involving "
            "secret experiments, terrifying supernatural forces and one strange little girl.",
            "cast": ["Winona Ryder", "David Harbour", "Millie Bobby Brown"],
            "crew": ["The Duffer Brothers"],
            "popularity": 1000.0,
        },
    )
    series_id = str(series["id"])
    episode_ids = []
    for number, name in ((1, "The Vanishing"), (2, "The Weirdo on Maple Street")):
        episode = post(
            platform,
            boss,
            f"/admin/titles/{series_id}/episodes",
            {"season": 1, "number": number, "name": name, "runtime_min": 1},
        )
        episode_ids.append(str(episode["id"]))
    video = make_video(work_dir / f"pilot-{uuid.uuid4().hex[:6]}.mp4")
    with video.open("rb") as source:
        uploaded = httpx.post(
            f"{platform.gateway}/api/v1/admin/titles/{series_id}/media",
            params={"episode_id": episode_ids[0]},
            files={"file": ("pilot.mp4", source, "video/mp4")},
            headers=boss.headers,
            timeout=120,
        )
    assert uploaded.status_code in (200, 201, 202), uploaded.text
    wait_ready(platform, boss, str(uploaded.json()["job_id"]), timeout_s=timeout_s)
    wait_playable(platform, boss, series_id, timeout_s=60)
    return SeededCatalog(boss, series_id, episode_ids, title_ids)


def wait_ready(platform: LocalPlatform, who: Member, job_id: str, *, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    job: dict = {}
    while time.monotonic() < deadline:
        job = httpx.get(
            f"{platform.gateway}/api/v1/admin/jobs/{job_id}", headers=who.headers, timeout=10
        ).json()
        if job.get("state") in ("ready", "failed", "error"):
            break
        time.sleep(1)
    assert job.get("state") == "ready", job


def wait_playable(platform: LocalPlatform, who: Member, title_id: str, *, timeout_s: float) -> None:
    """Catalog and playback learn of the asset from events; search from catalog's."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        title = httpx.get(
            f"{platform.gateway}/api/v1/titles/{title_id}", headers=who.headers, timeout=10
        )
        hits = httpx.get(
            f"{platform.gateway}/api/v1/search",
            params={"q": "strangr"},
            headers=who.headers,
            timeout=10,
        )
        if (
            title.status_code == 200
            and title.json().get("playable")
            and hits.status_code == 200
            and any(h["id"] == title_id for h in hits.json().get("hits", []))
        ):
            return
        time.sleep(0.5)
    raise AssertionError(f"{title_id} never became playable and searchable")
