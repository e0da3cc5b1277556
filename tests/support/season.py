"""A generated season as videos to upload: cinemesh.demo.season's episodes (a shared 15 s intro
at a known offset in each, and shared closing credits) with a tiny test picture, so that what
the encoder packages costs little and intro detection has real sound to work on; and the
series to upload them to."""

from __future__ import annotations

import dataclasses
import subprocess
from collections.abc import Sequence
from pathlib import Path

import httpx
import imageio_ffmpeg

from cinemesh.demo.season import Episode, make_season
from tests.support.platform import LocalPlatform
from tests.support.users import Member


def season_videos(
    folder: Path,
    *,
    offsets: Sequence[float | None],
    durations: Sequence[float],
    credits_s: float = 0.0,
    size: str = "160x90",
    fps: int = 8,
) -> list[Episode]:
    """One .mp4 per episode (H.264 at `size`, AAC), each `Episode` naming its intro and credits."""
    sounds = make_season(
        folder, offsets=offsets, durations=durations, credits_s=credits_s, aac=False
    )
    videos = []
    for episode in sounds:
        video = episode.path.with_suffix(".mp4")
        picture = f"testsrc2=size={size}:rate={fps}:duration={episode.duration_s}"
        subprocess.run(
            [imageio_ffmpeg.get_ffmpeg_exe(), "-nostdin", "-v", "error", "-y",
             "-f", "lavfi", "-i", picture, "-i", str(episode.path),
             "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
             "-c:a", "aac", "-b:a", "96k", "-shortest", str(video)],
            check=True,
            timeout=120,
        )  # fmt: skip
        episode.path.unlink()
        videos.append(dataclasses.replace(episode, path=video))
    return videos


def add_series(
    platform: LocalPlatform, who: Member, *, title: str, episodes: int, name: str = "Episode {}"
) -> tuple[str, list[str]]:
    """A series made through the admin API with one season of `episodes` episodes, each named
    `name` with its number: the series' id and the episodes' ids in order."""
    titles = f"{platform.gateway}/api/v1/admin/titles"
    made = httpx.post(
        titles,
        json={"title": title, "kind": "series", "genres": ["Drama"]},
        headers=who.headers,
        timeout=60,
    )
    assert made.status_code == 201, made.text
    series_id = str(made.json()["id"])
    episode_ids = []
    for number in range(1, episodes + 1):
        added = httpx.post(
            f"{titles}/{series_id}/episodes",
            json={"season": 1, "number": number, "name": name.format(number)},
            headers=who.headers,
            timeout=60,
        )
        assert added.status_code == 201, added.text
        episode_ids.append(str(added.json()["id"]))
    return series_id, episode_ids
