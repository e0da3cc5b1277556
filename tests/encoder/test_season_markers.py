"""The encoder finds a season's intro and credits by itself once its episodes are packaged
(media.markers.detected), and the catalog marks the episodes with them, except an episode whose
markers an admin set: the whole way through the real processes."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.encoder.conftest import wait_for_job
from tests.support.platform import LocalPlatform
from tests.support.season import season_videos
from tests.support.users import Member

pytestmark = [pytest.mark.timeout(600)]
TOLERANCE_S = 1.0


def api(platform: LocalPlatform, who: Member, method: str, path: str, **kw: Any) -> Any:
    answer = httpx.request(
        method, f"{platform.gateway}/api/v1{path}", headers=who.headers, timeout=60, **kw
    )
    assert answer.status_code in (200, 201, 202), answer.text
    return answer.json()


def episodes_of(platform: LocalPlatform, who: Member, series_id: str) -> list[dict[str, Any]]:
    title = api(platform, who, "GET", f"/titles/{series_id}")
    return [e for season in title["seasons"] for e in season["episodes"]]


def test_a_packaged_season_gets_its_intro_and_credits_but_an_admins_markers_stay(
    media_platform: LocalPlatform, operator: Member, tmp_path: Path
) -> None:
    season = season_videos(
        tmp_path, offsets=(2.0, 8.03, 4.51), durations=(36.0, 40.0, 38.0), credits_s=10.0
    )
    series = api(media_platform, operator, "POST", "/admin/titles",
                 json={"title": "Detected Harbour", "kind": "series", "genres": ["Drama"]})  # fmt: skip
    ids = [
        api(media_platform, operator, "POST", f"/admin/titles/{series['id']}/episodes",
            json={"season": 1, "number": n, "name": f"Episode {n}"})["id"]
        for n in (1, 2, 3)
    ]  # fmt: skip
    admin_marks = {"intro_start_s": 1.0, "intro_end_s": 3.0}
    api(media_platform, operator, "PATCH", f"/admin/titles/{series['id']}/episodes/{ids[2]}",
        json=admin_marks)  # fmt: skip
    for episode_id, episode in zip(ids, season, strict=True):
        with episode.path.open("rb") as video:
            sent = api(media_platform, operator, "POST", f"/admin/titles/{series['id']}/media",
                       params={"episode_id": episode_id},
                       files={"file": (episode.path.name, video, "video/mp4")})  # fmt: skip
        job, _ = wait_for_job(media_platform, operator, sent["job_id"])
        assert job["state"] == "ready", job

    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        found = episodes_of(media_platform, operator, series["id"])
        if all(e["markers_source"] == "detected" for e in found[:2]):
            break
        time.sleep(0.5)
    first, second, third = found
    for seen, truth in ((first, season[0]), (second, season[1])):
        assert seen["markers_source"] == "detected", found
        assert truth.intro is not None and truth.credits is not None
        assert abs(seen["intro_start_s"] - truth.intro[0]) <= TOLERANCE_S, (seen, truth)
        assert abs(seen["intro_end_s"] - truth.intro[1]) <= TOLERANCE_S, (seen, truth)
        assert abs(seen["credits_start_s"] - truth.credits[0]) <= TOLERANCE_S, (seen, truth)
    kept = (third["intro_start_s"], third["intro_end_s"], third["credits_start_s"])
    assert (*kept, third["markers_source"]) == (1.0, 3.0, None, "admin"), third
