"""A source with several audio languages: probed with PyAV, each language encoded once as an
audio rendition of the HLS group `aud` that every video rendition names."""

from __future__ import annotations

import subprocess
from pathlib import Path

import imageio_ffmpeg

from cinemesh.services.encoder.probe import SourceInfo, probe
from tests.encoder.conftest import package_here
from tests.encoder.hls import parse_attributes


def two_language_video(path: Path, *, seconds: float = 2) -> Path:
    ffmpeg = imageio_ffmpeg.get_ffmpeg_exe()
    args = [ffmpeg, "-v", "error", "-y"]
    args += ["-f", "lavfi", "-i", f"testsrc2=size=320x180:rate=12:duration={seconds}"]
    for frequency in (440, 880):
        args += ["-f", "lavfi", "-i", f"sine=frequency={frequency}:duration={seconds}"]
    args += ["-map", "0:v", "-map", "1:a", "-map", "2:a", "-c:v", "libx264"]
    args += ["-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac"]
    args += ["-metadata:s:a:0", "language=eng", "-metadata:s:a:1", "language=fre"]
    subprocess.run([*args, str(path)], check=True, timeout=120)
    return path


def test_probe_lists_each_audio_streams_language(tmp_path: Path) -> None:
    info = probe(two_language_video(tmp_path / "two.mp4"))
    assert info.audio_languages == ("en", "fr") and info.audio_streams == 2
    old_record = {k: v for k, v in info.to_dict().items() if k != "audio_languages"}
    assert SourceInfo.from_dict(old_record).audio_streams == 1, "a job queued before"


def test_each_audio_language_becomes_a_rendition_of_the_audio_group(tmp_path: Path) -> None:
    manifest, asset = package_here(two_language_video(tmp_path / "two.mp4"), tmp_path)
    master = (asset / "master.m3u8").read_text().splitlines()
    media = [parse_attributes(m.split(":", 1)[1]) for m in master if m.startswith("#EXT-X-MEDIA:")]
    assert [(m["TYPE"], m["GROUP-ID"], m["LANGUAGE"], m["DEFAULT"]) for m in media] == [
        ("AUDIO", "aud", "en", "YES"),
        ("AUDIO", "aud", "fr", "NO"),
    ]
    assert [m["NAME"] for m in media] == ["English", "Français"]
    variants = [parse_attributes(v.split(":", 1)[1]) for v in master if "STREAM-INF" in v]
    assert variants and all(v["AUDIO"] == "aud" and "mp4a.40.2" in v["CODECS"] for v in variants)
    audio_peak = max(a["bandwidth"] for a in [_peak(asset, m["URI"]) for m in media])
    assert all(int(v["BANDWIDTH"]) > audio_peak for v in variants), "BANDWIDTH counts audio"
    assert [a["language"] for a in manifest["audio"]] == ["en", "fr"]

    # ffmpeg reading the published HLS finds both audio renditions beside the video
    probed = subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-i", str(asset / "master.m3u8")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    said = probed.stderr
    assert said.count("Audio: aac") >= 2, said[-2000:]
    video_init = next((asset / manifest["renditions"][0]["name"]).glob("init*.mp4"))
    assert b"mp4a" not in video_init.read_bytes(), "the video renditions carry no audio"


def _peak(asset: Path, uri: str) -> dict[str, int]:
    folder = asset / uri.rsplit("/", 1)[0]
    sizes = [p.stat().st_size for p in folder.glob("seg_*.m4s")]
    return {"bandwidth": max(sizes) * 8}
