"""The edge trusts nothing but the URL: signature, expiry, scope, cap, no way out of the asset
folder; and it serves bytes the way players and browsers expect (types, Range, caching, CORS)."""

from __future__ import annotations

import http.client
import os
import time
from pathlib import Path

import httpx
import pytest

from cinemesh.contracts.signed_urls import load_edge_key, sign
from cinemesh.runner.local import LocalPlatform
from tests.playback.media import Title, add_title, parse_master
from tests.support.media_stores import uses_s3


@pytest.fixture(scope="module")
def title(media_platform: LocalPlatform, hls_package: Path) -> Title:
    return add_title(env=media_platform.env, data_dir=media_platform.data_dir, package=hls_package)


@pytest.fixture(scope="module")
def key(media_platform: LocalPlatform) -> bytes:
    return load_edge_key(media_platform.data_dir, "")


def edge(platform: LocalPlatform, index: int = 0) -> str:
    return platform.url_of("edge", index)


def raw_get(base: str, path: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    """Send the path byte for byte (httpx would normalise `..`)."""
    host, port = base.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def later() -> int:
    return int(time.time()) + 600


def test_signed_url_serves_playlists_segments_with_types_caching_and_cors(
    media_platform: LocalPlatform, title: Title, key: bytes, hls_package: Path
) -> None:
    exp = later()
    for index in (0, 1):  # every instance accepts the same token
        base = edge(media_platform, index)
        master = httpx.get(base + sign(key, title.asset_id, exp), timeout=10)
        assert master.status_code == 200, master.text
        assert master.headers["content-type"].startswith("application/vnd.apple.mpegurl")
        assert "max-age=60" in master.headers["cache-control"]
        assert master.headers["access-control-allow-origin"] == "*"
        assert master.content == (hls_package / "master.m3u8").read_bytes()
    segment = httpx.get(base + sign(key, title.asset_id, exp, "360p/seg_001.m4s"), timeout=10)
    assert segment.status_code == 200
    assert segment.content == (hls_package / "360p" / "seg_001.m4s").read_bytes()
    assert segment.headers["content-type"] in ("video/iso.segment", "video/mp4")
    assert "immutable" in segment.headers["cache-control"]
    init = httpx.get(base + sign(key, title.asset_id, exp, "180p/init_0.mp4"), timeout=10)
    assert init.status_code == 200 and init.headers["content-type"] == "video/mp4"
    poster = httpx.get(base + sign(key, title.asset_id, exp, "poster.jpg"), timeout=10)
    assert poster.status_code == 200 and poster.headers["content-type"] == "image/jpeg"
    vtt = httpx.get(base + sign(key, title.asset_id, exp, "thumbs.vtt"), timeout=10)
    assert vtt.status_code == 200 and vtt.headers["content-type"].startswith("text/vtt")
    preflight = httpx.options(
        base + sign(key, title.asset_id, exp, "360p/seg_001.m4s"),
        headers={"Origin": "https://app.example", "Access-Control-Request-Headers": "range"},
        timeout=10,
    )
    assert preflight.status_code == 204
    assert "Range" in preflight.headers["access-control-allow-headers"]
    head = httpx.head(base + sign(key, title.asset_id, exp, "360p/seg_001.m4s"), timeout=10)
    assert head.status_code == 200 and int(head.headers["content-length"]) == len(segment.content)
    if uses_s3(media_platform.env):  # served from the origin through the cache, not the data dir
        assert not (media_platform.data_dir / "media" / "assets" / title.asset_id).exists()


def test_range_requests(
    media_platform: LocalPlatform, title: Title, key: bytes, hls_package: Path
) -> None:
    url = edge(media_platform) + sign(key, title.asset_id, later(), "360p/seg_002.m4s")
    whole = (hls_package / "360p" / "seg_002.m4s").read_bytes()
    part = httpx.get(url, headers={"Range": "bytes=100-1099"}, timeout=10)
    assert part.status_code == 206
    assert part.content == whole[100:1100]
    assert part.headers["content-range"] == f"bytes 100-1099/{len(whole)}"
    tail = httpx.get(url, headers={"Range": "bytes=-500"}, timeout=10)
    assert tail.status_code == 206 and tail.content == whole[-500:]
    opened = httpx.get(url, headers={"Range": f"bytes={len(whole) - 10}-"}, timeout=10)
    assert opened.status_code == 206 and opened.content == whole[-10:]
    beyond = httpx.get(url, headers={"Range": f"bytes={len(whole) + 10}-"}, timeout=10)
    assert beyond.status_code == 416
    assert beyond.headers["content-range"] == f"bytes */{len(whole)}"


def test_expired_forged_and_other_asset_urls_are_refused(
    media_platform: LocalPlatform, title: Title, key: bytes, hls_package: Path
) -> None:
    other = add_title(env=media_platform.env, data_dir=media_platform.data_dir, package=hls_package)
    base = edge(media_platform)
    exp = later()
    good = sign(key, title.asset_id, exp, "180p/seg_000.m4s")
    assert httpx.get(base + good, timeout=10).status_code == 200
    expired = sign(key, title.asset_id, int(time.time()) - 1, "180p/seg_000.m4s")
    forged_key = sign(b"not-the-edge-key", title.asset_id, exp, "180p/seg_000.m4s")
    parts = good.split("/")
    flipped = parts[3][:-1] + ("A" if parts[3][-1] != "A" else "B")
    forged_token = "/".join([*parts[:3], flipped, *parts[4:]])
    later_exp = "/".join([parts[0], parts[1], str(exp + 3600), *parts[3:]])
    other_asset = good.replace(f"/{title.asset_id}/", f"/{other.asset_id}/")
    for path in (expired, forged_key, forged_token, later_exp, other_asset):
        response = httpx.get(base + path, timeout=10)
        assert response.status_code == 403, (path, response.text)
        assert response.json()["error"]["code"] == "FORBIDDEN"
        assert b"ftyp" not in response.content and b"moof" not in response.content


def test_no_way_out_of_the_asset_folder(
    media_platform: LocalPlatform, title: Title, key: bytes
) -> None:
    base = edge(media_platform)
    exp = later()
    prefix = sign(key, title.asset_id, exp, "x").rsplit("/", 1)[0]
    secret = media_platform.data_dir / "secrets" / "edge.key"
    assert secret.exists()
    folder = media_platform.data_dir / "media" / "assets" / title.asset_id
    if not uses_s3(media_platform.env):  # an S3 origin has no links; the cache makes none
        os.symlink(secret, folder / "link.m4s")
    for tail in (
        "../../../secrets/edge.key",
        "180p/../../other/master.m3u8",
        "%2e%2e/%2e%2e/secrets/edge.key",
        "180p%2F..%2F..%2Fmaster.m3u8",
        "180p%2fseg_000.m4s",
        "..%5c..%5csecrets",
        "./master.m3u8",
        ".hidden",
        "180p//seg_000.m4s",
    ):
        status, body = raw_get(base, f"{prefix}/{tail}")
        assert status in (403, 404), (tail, status)
        assert b"ftyp" not in body and b"EXTM3U" not in body
    status, _ = raw_get(base, f"{prefix}/link.m4s")
    assert status == 404  # a link out of the folder is as good as missing
    status, _ = raw_get(base, f"{prefix}/180p/nothing.m4s")
    assert status == 404
    status, _ = raw_get(base, "/e/../../etc/passwd")
    assert status in (403, 404)


def test_a_capped_scope_lists_and_opens_only_renditions_within_the_cap(
    media_platform: LocalPlatform, title: Title, key: bytes
) -> None:
    base = edge(media_platform)
    exp = later()
    capped = httpx.get(base + sign(key, title.asset_id, exp, max_height=180), timeout=10)
    assert capped.status_code == 200
    assert [uri for _a, uri in parse_master(capped.text)] == ["180p/index.m3u8"]
    low = httpx.get(
        base + sign(key, title.asset_id, exp, "180p/seg_000.m4s", max_height=180), timeout=10
    )
    assert low.status_code == 200
    high = httpx.get(
        base + sign(key, title.asset_id, exp, "360p/seg_000.m4s", max_height=180), timeout=10
    )
    assert high.status_code == 403
    assert high.json()["error"]["code"] == "ABOVE_PLAN"
    lifted = sign(key, title.asset_id, exp, "360p/seg_000.m4s", max_height=180).replace(
        f"{title.asset_id}~180", title.asset_id
    )
    assert httpx.get(base + lifted, timeout=10).status_code == 403
    raised = sign(key, title.asset_id, exp, "360p/seg_000.m4s", max_height=180).replace(
        "~180", "~2160"
    )
    assert httpx.get(base + raised, timeout=10).status_code == 403
    full = httpx.get(base + sign(key, title.asset_id, exp, max_height=720), timeout=10)
    assert len(parse_master(full.text)) == 2


def test_edge_is_public_but_its_controls_are_not(media_platform: LocalPlatform) -> None:
    base = edge(media_platform)
    assert httpx.get(base + "/health/live", timeout=10).status_code == 200
    assert httpx.get(base + "/health/ready", timeout=10).json()["status"] == "ok"
    metrics = httpx.get(base + "/metrics", timeout=10)
    assert metrics.status_code == 200 and "cinemesh" in metrics.text
    assert (
        httpx.put(base + "/internal/faults", json={"error_rate": 1}, timeout=10).status_code == 403
    )
    assert httpx.get(base + "/nowhere", timeout=10).status_code == 404
    assert httpx.post(base + "/e/1/x/y/z", timeout=10).status_code in (403, 405)
