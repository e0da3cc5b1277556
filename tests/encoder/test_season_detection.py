"""Which episodes the encoder compares for a season's markers (season.py), without a platform:
the catalog's season order, only episodes this encoder packaged, and only those with sound."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from cinemesh.contracts.media import MarkersDetected
from cinemesh.demo.season import make_season
from cinemesh.platform.http import Response
from cinemesh.services.encoder.models import Job
from cinemesh.services.encoder.season import SeasonMarkers

SOUND = {"width": 160, "height": 90, "fps": 8.0, "duration_s": 60.0, "video_codec": "h264",
         "container": "mp4", "has_audio": True}  # fmt: skip


@dataclass
class Catalog:
    title: dict[str, Any]

    async def request(self, method: str, path: str, **_: Any) -> Response:
        assert (method, path) == ("GET", f"/v1/titles/{self.title['id']}")
        return Response(200, {}, orjson.dumps(self.title))


@dataclass
class Runtime:
    catalog: Catalog

    def clients(self, name: str) -> Catalog:
        assert name == "catalog"
        return self.catalog


@dataclass
class Jobs:
    ready: dict[str, Job]
    announced: list[MarkersDetected] = field(default_factory=list)

    async def latest_ready(self, *, title_id: str, episode_id: str | None) -> Job | None:
        return self.ready.get(str(episode_id))

    async def announce_markers(self, detected: list[MarkersDetected]) -> None:
        self.announced += detected


@dataclass
class Sources:
    folder: Path

    async def local(self, name: str) -> Path:
        return self.folder / name

    def release(self, name: str) -> None:
        """The generated files are this test's own: nothing to let go of."""


def job(episode_id: str, source: str, *, sound: bool = True) -> Job:
    return Job(id=f"job-{episode_id}", title_id="show", episode_id=episode_id,
               asset_id=f"asset-{episode_id}", source=source,
               source_info={**SOUND, "has_audio": sound})  # fmt: skip


def test_a_season_is_compared_in_catalog_order_skipping_what_has_no_video_or_no_sound(
    tmp_path: Path,
) -> None:
    season = make_season(tmp_path, offsets=(3.0, 12.53, 7.0), durations=(60.0, 60.0, 60.0),
                         aac=False)  # fmt: skip
    names = [e.path.name for e in season]
    episodes = [{"id": f"show-s01e0{n}"} for n in range(1, 6)]
    title = {"id": "show", "seasons": [{"number": 1, "episodes": episodes},
                                       {"number": 2, "episodes": [{"id": "show-s02e01"}]}]}  # fmt: skip
    ready = {
        "show-s01e01": job("show-s01e01", names[0]),
        "show-s01e02": job("show-s01e02", names[1], sound=False),  # a silent cut: left out
        "show-s01e04": job("show-s01e04", names[1]),
        "show-s01e05": job("show-s01e05", names[2]),
        "show-s02e01": job("show-s02e01", names[2]),  # another season: not compared
    }
    jobs = Jobs(ready)
    finder = SeasonMarkers(Runtime(Catalog(title)), jobs, Sources(tmp_path), min_s=8.0)
    published = asyncio.run(finder.detect_after(ready["show-s01e05"]))
    assert published == jobs.announced
    compared = ["show-s01e01", "show-s01e04", "show-s01e05"]
    assert [m.episode_id for m in published] == compared
    assert all(m.season_episode_ids == compared for m in published)
    for marks, truth in zip(published, (season[0], season[1], season[2]), strict=True):
        assert truth.intro is not None and marks.intro_start_s is not None
        assert abs(marks.intro_start_s - truth.intro[0]) <= 1.0, (marks, truth)
        assert marks.asset_id == f"asset-{marks.episode_id}"


def test_a_season_with_one_packaged_episode_or_a_movie_publishes_nothing(tmp_path: Path) -> None:
    title = {"id": "show", "seasons": [{"number": 1, "episodes": [{"id": "e1"}, {"id": "e2"}]}]}
    jobs = Jobs({"e1": job("e1", "one.wav")})
    finder = SeasonMarkers(Runtime(Catalog(title)), jobs, Sources(tmp_path), min_s=8.0)
    assert asyncio.run(finder.detect_after(jobs.ready["e1"])) == []
    movie = job("e1", "one.wav")
    movie.episode_id = None
    assert asyncio.run(finder.detect_after(movie)) == []
    assert jobs.announced == []
