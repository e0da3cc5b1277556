"""What of the encoder code runs outside the service, and nothing more: the demo videos
(`cinemesh.demo` runs ffmpeg through `run_ffmpeg`) and `bench/encoder_bench.py` (the ladder pass
against a bare ffmpeg, and whole packages). Code outside `cinemesh.services.encoder` imports
the encoder through this module only (`make contracts` checks it)."""

from __future__ import annotations

from cinemesh.services.encoder.ffmpeg import ffmpeg_exe, run_ffmpeg
from cinemesh.services.encoder.ladder import (
    THUMBS_DIR,
    EncodeOptions,
    ladder_args,
    plan_ladder,
    plan_sprite,
)
from cinemesh.services.encoder.package import MediaFolders, QualityOptions, build_package
from cinemesh.services.encoder.probe import probe

__all__ = [
    "THUMBS_DIR",
    "EncodeOptions",
    "MediaFolders",
    "QualityOptions",
    "build_package",
    "ffmpeg_exe",
    "ladder_args",
    "plan_ladder",
    "plan_sprite",
    "probe",
    "run_ffmpeg",
]
