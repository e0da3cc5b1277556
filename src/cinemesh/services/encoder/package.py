"""One job's work from source to published package: encode the ladder in one pass, measure it,
drop what adds nothing, write the playlists, poster and thumbnails, then publish the package to
the media store, which makes it visible only once complete (platform/media_store.py: one atomic
rename on files, the master playlist last on S3). A package finished by an attempt that died
while publishing is published again as it is, not encoded again."""

from __future__ import annotations

import os
import shutil
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from cinemesh.contracts.media import Rendition
from cinemesh.platform.media_store import MediaStore, published_manifest
from cinemesh.services.encoder.ffmpeg import run_ffmpeg
from cinemesh.services.encoder.ladder import (
    MAX_FPS,
    THUMBS_DIR,
    EncodeOptions,
    Rung,
    audio_folders,
    ladder_args,
    plan_ladder,
    plan_sprite,
    poster_args,
    separate_audio,
)
from cinemesh.services.encoder.playlists import (
    AAC_LC,
    AudioRendition,
    SubtitleRendition,
    Variant,
    avc_codec,
    master_playlist,
    measure_bitrates,
    read_media_playlist,
)
from cinemesh.services.encoder.probe import SourceInfo
from cinemesh.services.encoder.quality import Decision, Measured, decide_ladder, measure_vmaf
from cinemesh.services.encoder.subtitles import (
    SubtitleSource,
    parse_subtitles,
    segment_webvtt,
    subtitle_playlist,
)
from cinemesh.services.encoder.thumbnails import thumbnails_vtt, tile_sprite
from cinemesh.services.encoder.tracks import language_name

Report = Callable[[str, float], Awaitable[None]]
MANIFEST = "asset.json"
SUBS_DIR = "subs"
# share of the job's percent each phase ends at
ENCODED, MEASURED = 70.0, 95.0


@dataclass(frozen=True)
class MediaFolders:
    """`<data_dir>/media` on the encoder's disk: sources as uploaded, work folders."""

    root: Path

    @property
    def sources(self) -> Path:
        return self.root / "sources"

    @property
    def work(self) -> Path:
        return self.root / ".work"

    def prepare(self) -> None:
        for folder in (self.sources, self.work):
            folder.mkdir(parents=True, exist_ok=True)


@dataclass(frozen=True)
class QualityOptions:
    min_gain: float = 2.0
    subsample: int = 5


async def build_package(
    *,
    job_id: str,
    asset_id: str,
    source_path: Path,
    source: SourceInfo,
    folders: MediaFolders,
    store: MediaStore,
    encode: EncodeOptions,
    quality: QualityOptions,
    report: Report,
    subtitles: Sequence[SubtitleSource] = (),
) -> dict[str, Any]:
    """Make and publish the asset; answers its manifest (what `media.asset.ready` carries)."""
    done = await published_manifest(store, asset_id, MANIFEST)
    if done is not None:
        return dict(orjson.loads(done))
    work = folders.work / job_id
    package = work / "package"
    if (package / MANIFEST).exists():  # packaged by an attempt that died publishing it
        await report("packaging", MEASURED)
    else:
        await _make_package(
            work=work,
            asset_id=asset_id,
            source_path=source_path,
            source=source,
            encode=encode,
            quality=quality,
            report=report,
            subtitles=subtitles,
        )
    await store.publish(asset_id, package)
    shutil.rmtree(work, ignore_errors=True)
    published = await published_manifest(store, asset_id, MANIFEST)
    assert published is not None, "the store lost an asset it had just published"
    return dict(orjson.loads(published))


async def _make_package(
    *,
    work: Path,
    asset_id: str,
    source_path: Path,
    source: SourceInfo,
    encode: EncodeOptions,
    quality: QualityOptions,
    report: Report,
    subtitles: Sequence[SubtitleSource],
) -> None:
    """Encode, measure and package into `work/package`, its manifest written last."""
    shutil.rmtree(work, ignore_errors=True)
    package = work / "package"
    package.mkdir(parents=True)
    (work / THUMBS_DIR).mkdir()
    rungs = plan_ladder(source)
    sprite = plan_sprite(source)

    await report("encoding", 0.0)
    await run_ffmpeg(
        ladder_args(
            source_path=source_path,
            source=source,
            rungs=rungs,
            sprite=sprite,
            out_dir=package,
            options=encode,
        ),
        cwd=work,
        duration_s=source.duration_s,
        fps=min(source.fps, MAX_FPS),
        on_progress=lambda f: report("encoding", f * ENCODED),
    )

    await report("measuring", ENCODED)
    scores = await measure_vmaf(
        source_path=source_path,
        source=source,
        playlists=[package / r.name / "index.m3u8" for r in rungs],
        work_dir=work,
        subsample=quality.subsample,
        threads=encode.threads,
        on_progress=lambda f: report("measuring", ENCODED + f * (MEASURED - ENCODED)),
    )
    decisions = decide_ladder(
        [Measured(r.name, r.height, s) for r, s in zip(rungs, scores, strict=True)],
        min_gain=quality.min_gain,
    )

    await report("packaging", MEASURED)
    sprite = tile_sprite(work / THUMBS_DIR, sprite, package / "thumbs.jpg")
    await _package(
        package=package,
        asset_id=asset_id,
        source_path=source_path,
        source=source,
        rungs=rungs,
        decisions=decisions,
        quality=quality,
        vtt=thumbnails_vtt(sprite, source.duration_s),
        subtitles=write_subtitles(
            package, subtitles, segment_s=encode.segment_s, duration_s=source.duration_s
        ),
    )


async def _package(
    *,
    package: Path,
    asset_id: str,
    source_path: Path,
    source: SourceInfo,
    rungs: list[Rung],
    decisions: list[Decision],
    quality: QualityOptions,
    vtt: str,
    subtitles: list[SubtitleRendition],
) -> dict[str, Any]:
    kept = {d.name for d in decisions if d.kept}
    vmaf = {d.name: d.vmaf for d in decisions}
    audio = audio_renditions(package, source)
    audio_peak = max((a.bandwidth for a in audio), default=0)
    renditions: list[dict[str, Any]] = []
    variants: list[Variant] = []
    average: dict[str, int] = {}
    for rung in rungs:
        folder = package / rung.name
        playlist = read_media_playlist(folder / "index.m3u8")
        rates = measure_bitrates(folder, playlist)
        average[rung.name] = rates.average
        if rung.name not in kept:
            shutil.rmtree(folder)
            continue
        codecs = avc_codec(folder / playlist.init)
        if source.has_audio:
            codecs += f",{AAC_LC}"
        uri = f"{rung.name}/index.m3u8"
        peak, average_rate = rates.peak + audio_peak, rates.average + audio_peak
        variants.append(
            Variant(uri, peak, average_rate, rung.width, rung.height, codecs, source.fps)
        )
        rendition = Rendition(
            name=rung.name,
            width=rung.width,
            height=rung.height,
            bandwidth=peak,
            average_bandwidth=average_rate,
            codecs=codecs,
            vmaf=vmaf[rung.name],
            playlist=uri,
        )
        renditions.append(rendition.model_dump(mode="json"))
    (package / "master.m3u8").write_text(master_playlist(variants, subtitles, audio))
    (package / "thumbs.vtt").write_text(vtt)
    await run_ffmpeg(
        poster_args(source_path=source_path, source=source, out=package / "poster.jpg")
    )
    manifest = {
        "asset_id": asset_id,
        "duration_s": source.duration_s,
        "master_playlist": "master.m3u8",
        "poster": "poster.jpg",
        "thumbnails_vtt": "thumbs.vtt",
        "thumbnails": "thumbs.jpg",
        "renditions": renditions,
        "audio": [
            {"language": a.language, "name": a.name, "default": a.default, "playlist": a.uri}
            for a in audio
        ],
        "subtitles": [
            {"language": s.language, "kind": s.kind, "name": s.name, "playlist": s.uri}
            for s in subtitles
        ],
        "ladder": {
            "rule": f"keep the lowest rung, then each rung adding >= {quality.min_gain} VMAF",
            "min_vmaf_gain": quality.min_gain,
            "vmaf_subsample": quality.subsample,
            "source": source.to_dict(),
            "decisions": [{**d.to_dict(), "average_bandwidth": average[d.name]} for d in decisions],
        },
    }
    _write_durably(package / MANIFEST, orjson.dumps(manifest, option=orjson.OPT_INDENT_2))
    return manifest


def audio_renditions(package: Path, source: SourceInfo) -> list[AudioRendition]:
    """The audio rendition group ffmpeg wrote for a source of several audio streams (none for
    one stream, which is in every video rendition); the first stream is the default."""
    found = []
    for j, folder in enumerate(audio_folders(source) if separate_audio(source) else []):
        rates = measure_bitrates(
            package / folder, read_media_playlist(package / folder / "index.m3u8")
        )
        language = source.audio_languages[j]
        name = language_name(language) if language != "und" else f"Audio {j + 1}"
        found.append(AudioRendition(f"{folder}/index.m3u8", language, name, j == 0, rates.peak))
    return found


def write_subtitles(
    package: Path, tracks: Sequence[SubtitleSource], *, segment_s: int, duration_s: float
) -> list[SubtitleRendition]:
    """Each track as a subtitle rendition under `subs/`: WebVTT segments and their playlist."""
    renditions = []
    for i, track in enumerate(tracks):
        folder = f"{SUBS_DIR}/{i}_{track.language}"
        (package / folder).mkdir(parents=True)
        cues = parse_subtitles(track.webvtt.encode()).cues
        segments = segment_webvtt(cues, segment_s=segment_s, duration_s=duration_s)
        for n, document in enumerate(segments):
            (package / folder / f"{n:05d}.vtt").write_text(document)
        playlist = subtitle_playlist(segments, segment_s=segment_s, duration_s=duration_s)
        (package / folder / "index.m3u8").write_text(playlist)
        renditions.append(
            SubtitleRendition(f"{folder}/index.m3u8", track.language, track.name, track.kind)
        )
    return renditions


def _write_durably(path: Path, data: bytes) -> None:
    with open(path, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
