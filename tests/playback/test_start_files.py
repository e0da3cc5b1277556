"""The files playback sends with a session (start_files.py), without a platform: which
rendition the start guesses, what is read once and kept, and a start that never waits long or
fails for them."""

from __future__ import annotations

import asyncio
import base64

from cinemesh.services.playback.start_files import StartFiles, start_variant

MASTER = """#EXTM3U
#EXT-X-STREAM-INF:BANDWIDTH=1500000,AVERAGE-BANDWIDTH=900000,RESOLUTION=854x480
480p/index.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=480000,AVERAGE-BANDWIDTH=300000,RESOLUTION=426x240
240p/index.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=900000,AVERAGE-BANDWIDTH=600000,RESOLUTION=640x360
360p/index.m3u8
"""
PLAYLIST = '#EXTM3U\n#EXT-X-MAP:URI="init.mp4"\n#EXTINF:1.0,\nseg_00000.m4s\n#EXT-X-ENDLIST\n'
FOLDER = "/e/1900000000/tok/asset~1080"


def test_the_start_is_the_highest_rendition_whose_first_second_loads_in_half_a_second() -> None:
    assert start_variant(MASTER, 500_000) == "240p/index.m3u8"  # nothing fits: the lowest
    assert start_variant(MASTER, 1_800_000) == "360p/index.m3u8"  # AVERAGE-BANDWIDTH ignored
    assert start_variant(MASTER, 3_000_000) == "480p/index.m3u8"
    assert start_variant("#EXTM3U\n", 3_000_000) is None


def test_the_files_are_read_once_per_asset_and_cap_and_sent_by_uri() -> None:
    asked: list[str] = []
    files = {"master.m3u8": MASTER.encode(), "360p/index.m3u8": PLAYLIST.encode()}
    files["360p/init.mp4"] = b"\x00\x01init"

    async def fetch(path: str) -> bytes | None:
        asked.append(path)
        return files.get(path.removeprefix(FOLDER + "/"))

    async def two_sessions() -> tuple[dict, dict]:
        start = StartFiles(fetch, deadline_s=1)
        first = await start.for_session(f"{FOLDER}/master.m3u8", 1_800_000)
        other = "/e/1900000999/other-token/asset~1080/master.m3u8"  # another session's path
        return first, await start.for_session(other, 1_800_000)

    first, second = asyncio.run(two_sessions())
    assert first == second
    assert first["master.m3u8"] == {"text": MASTER}
    assert first["360p/index.m3u8"] == {"text": PLAYLIST}
    assert base64.b64decode(first["360p/init.mp4"]["base64"]) == b"\x00\x01init"
    assert len(asked) == 3  # the second session's files were kept


def test_a_start_goes_without_them_when_the_edge_is_slow_or_failing() -> None:
    async def slow(path: str) -> bytes | None:
        await asyncio.sleep(0.3)
        return MASTER.encode() if path.endswith("master.m3u8") else None

    async def failing(path: str) -> bytes | None:
        raise RuntimeError("registry away")

    async def plays() -> tuple[dict, dict, dict]:
        start = StartFiles(slow, deadline_s=0.05)
        missed = await start.for_session(f"{FOLDER}/master.m3u8", None)
        await asyncio.sleep(0.5)  # the read went on
        later = await start.for_session(f"{FOLDER}/master.m3u8", None)
        broken = await StartFiles(failing).for_session(f"{FOLDER}/master.m3u8", None)
        return missed, later, broken

    missed, later, broken = asyncio.run(plays())
    assert missed == {} and broken == {}
    assert later == {"master.m3u8": {"text": MASTER}}  # kept; the slow playlist left out
