"""media.* events from the encoder."""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel


class Rendition(BaseModel):
    name: str  # e.g. "720p"
    width: int
    height: int
    bandwidth: int  # bits per second, as in the master playlist
    average_bandwidth: int | None = None  # AVERAGE-BANDWIDTH in the master playlist
    codecs: str
    vmaf: float | None = None
    playlist: str  # path relative to the asset folder, e.g. "720p/index.m3u8"


class AssetReady(BaseModel):
    """A package is complete under `<media dir>/assets/<asset_id>/` and never changes."""

    TYPE: ClassVar[str] = "media.asset.ready"
    VERSION: ClassVar[int] = 1
    asset_id: str
    title_id: str
    episode_id: str | None = None
    duration_s: float
    renditions: list[Rendition]
    master_playlist: str = "master.m3u8"
    poster: str = "poster.jpg"
    thumbnails_vtt: str = "thumbs.vtt"


class JobStateChanged(BaseModel):
    TYPE: ClassVar[str] = "media.job.state_changed"
    VERSION: ClassVar[int] = 1
    job_id: str
    title_id: str
    state: str  # queued, probing, encoding, measuring, packaging, ready, failed
    percent: float = 0.0
    error: str | None = None


class MarkersDetected(BaseModel):
    """The encoder found an episode's intro and credits in the audio its season shares; None
    where the season shares no such stretch. The catalog takes them unless an admin set the
    episode's markers. `season_episode_ids` names the episodes compared, in season order."""

    TYPE: ClassVar[str] = "media.markers.detected"
    VERSION: ClassVar[int] = 1
    title_id: str
    episode_id: str
    asset_id: str
    intro_start_s: float | None = None
    intro_end_s: float | None = None
    credits_start_s: float | None = None
    season_episode_ids: list[str] = []
