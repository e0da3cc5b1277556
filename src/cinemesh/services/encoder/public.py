"""What of the encoder code runs outside the service, and nothing more: the demo videos
(`cinemesh.demo` runs ffmpeg through `run_ffmpeg`), `cinemesh ingest --subtitles` (which
checks a subtitle file before uploading anything), `bench/encoder_bench.py` (the ladder pass
against a bare ffmpeg, and whole packages) and `bench/tracks_bench.py` (what audio and
subtitle renditions add), `bench/intro_bench.py` (intro and credits detection on a
generated season), `bench/qoe_bench.py` (its ladder cut into segments as the encoder cuts
one). Code outside `cinemesh.services.encoder` imports the encoder through this module only
(`make contracts` checks it)."""

from __future__ import annotations

from cinemesh.services.encoder.ffmpeg import ffmpeg_exe, run_ffmpeg
from cinemesh.services.encoder.intro import (
    EpisodeMarkers,
    IntroError,
    Range,
    detect_intros,
    detect_markers,
)
from cinemesh.services.encoder.ladder import (
    THUMBS_DIR,
    EncodeOptions,
    keyframe_expression,
    ladder_args,
    plan_ladder,
    plan_sprite,
    segmenter_time_s,
)
from cinemesh.services.encoder.package import MediaFolders, QualityOptions, build_package
from cinemesh.services.encoder.probe import probe
from cinemesh.services.encoder.subtitles import (
    SubtitleError,
    SubtitleSource,
    parse_subtitles,
    segment_webvtt,
)
from cinemesh.services.encoder.tracks import LANGUAGE_PATTERN

__all__ = [
    "LANGUAGE_PATTERN",
    "THUMBS_DIR",
    "EncodeOptions",
    "EpisodeMarkers",
    "IntroError",
    "MediaFolders",
    "QualityOptions",
    "Range",
    "SubtitleError",
    "SubtitleSource",
    "build_package",
    "detect_intros",
    "detect_markers",
    "ffmpeg_exe",
    "keyframe_expression",
    "ladder_args",
    "parse_subtitles",
    "plan_ladder",
    "plan_sprite",
    "probe",
    "run_ffmpeg",
    "segment_webvtt",
    "segmenter_time_s",
]
