"""The signed URL contract and the capped ladder, without processes."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from cinemesh.contracts.signed_urls import InvalidMediaUrl, sign, verify
from cinemesh.services.edge.playlists import Ladder

KEY = b"k" * 32
MASTER = (
    "#EXTM3U\n#EXT-X-VERSION:7\n"
    "#EXT-X-STREAM-INF:BANDWIDTH=800000,RESOLUTION=1280x720\n720p/index.m3u8\n"
    "#EXT-X-STREAM-INF:BANDWIDTH=300000,RESOLUTION=640x360\n360p/index.m3u8\n"
    "#EXT-X-STREAM-INF:BANDWIDTH=2000000,RESOLUTION=1920x1080\n1080p/index.m3u8\n"
)


def test_the_token_is_the_hmac_design_md_describes() -> None:
    path = sign(KEY, "abc", 1_900_000_000, "720p/seg_001.m4s")
    digest = hmac.new(KEY, b"1900000000:/abc/", hashlib.sha256).digest()
    token = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    assert path == f"/e/1900000000/{token}/abc/720p/seg_001.m4s"
    media = verify(KEY, path, now=1_800_000_000)
    assert (media.asset_id, media.file_parts, media.max_height) == (
        "abc",
        ("720p", "seg_001.m4s"),
        None,
    )


def test_a_capped_scope_signs_the_cap() -> None:
    path = sign(KEY, "abc", 1_900_000_000, max_height=720)
    assert "/abc~720/master.m3u8" in path
    assert verify(KEY, path, now=0).max_height == 720
    with pytest.raises(InvalidMediaUrl):
        verify(KEY, path.replace("~720", "~2160"), now=0)
    with pytest.raises(InvalidMediaUrl):
        verify(KEY, path.replace("abc~720", "abc"), now=0)


@pytest.mark.parametrize(
    "tail",
    ["../x", "a/../../b", ".hidden", "a//b", "%2e%2e/x", "a%2Fb", "a\\b", "", "a/b/c/d/e"],
)
def test_paths_leaving_the_folder_are_refused(tail: str) -> None:
    prefix = sign(KEY, "abc", 1_900_000_000, "x").rsplit("/", 1)[0]
    with pytest.raises(InvalidMediaUrl):
        verify(KEY, f"{prefix}/{tail}", now=0)


def test_expired_and_foreign_tokens_are_refused() -> None:
    path = sign(KEY, "abc", 1000)
    with pytest.raises(InvalidMediaUrl):
        verify(KEY, path, now=1001)
    with pytest.raises(InvalidMediaUrl):
        verify(b"other", path, now=0)
    with pytest.raises(InvalidMediaUrl):
        verify(KEY, path.replace("/abc/", "/abd/"), now=0)


def test_the_ladder_keeps_variants_within_the_cap() -> None:
    ladder = Ladder.parse(MASTER)
    assert ladder.folder_heights == {"720p": 720, "360p": 360, "1080p": 1080}
    capped = ladder.capped(720)
    assert "1080p/index.m3u8" not in capped and "720p/index.m3u8" in capped
    assert capped.startswith("#EXTM3U\n#EXT-X-VERSION:7\n")
    assert ladder.allows("720p", 720) and not ladder.allows("1080p", 720)
    assert ladder.allows("thumbs", 720)  # not a rendition folder
    tiny = ladder.capped(100)  # nothing fits: the smallest rendition stays playable
    assert "360p/index.m3u8" in tiny and "720p" not in tiny
    assert ladder.allows("360p", 100) and not ladder.allows("720p", 100)
