"""nginx + njs (deploy/nginx) accepts exactly the URLs the contract signs: segments and Range
served with sendfile, expired, forged, other-asset and out-of-folder URLs refused, caps kept.
Installs nginx and its njs module with apt-get when missing; with CI=true it never skips."""

from __future__ import annotations

import http.client
import secrets
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from cinemesh.contracts.signed_urls import sign
from tests.edge.nginx import IN_CI, NginxEdge, NginxUnavailable
from tests.playback.media import parse_master

ASSET, OTHER = "a1b2c3d4e5f60718", "ffeeddccbbaa0099"


@pytest.fixture(scope="module")
def key() -> bytes:
    return secrets.token_urlsafe(32).encode()


@pytest.fixture(scope="module")
def nginx(
    tmp_path_factory: pytest.TempPathFactory, hls_package: Path, key: bytes
) -> Iterator[NginxEdge]:
    root = tmp_path_factory.mktemp("nginx-media")
    for asset in (ASSET, OTHER):
        shutil.copytree(hls_package, root / "assets" / asset)
    (root / "secret.txt").write_text("not for players")
    (root / "assets" / ASSET / "link.m4s").symlink_to(root / "secret.txt")
    try:
        server = NginxEdge(
            media_root=root / "assets", key=key, run_dir=tmp_path_factory.mktemp("nginx-run")
        ).start()
    except NginxUnavailable as exc:
        if IN_CI:
            pytest.fail(f"CI must test the nginx edge: {exc}")
        pytest.skip(str(exc))
    yield server
    server.stop()


def later() -> int:
    return int(time.time()) + 600


def raw_get(nginx: NginxEdge, path: str) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", nginx.port, timeout=10)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def test_signed_urls_serve_playlists_and_segments(
    nginx: NginxEdge, key: bytes, hls_package: Path
) -> None:
    exp = later()
    master = httpx.get(nginx.url + sign(key, ASSET, exp), timeout=10)
    assert master.status_code == 200, master.text + nginx.errors()
    assert master.content == (hls_package / "master.m3u8").read_bytes()
    assert master.headers["content-type"] == "application/vnd.apple.mpegurl"
    assert "max-age=60" in master.headers["cache-control"]
    segment = httpx.get(nginx.url + sign(key, ASSET, exp, "360p/seg_001.m4s"), timeout=10)
    assert segment.status_code == 200
    assert segment.content == (hls_package / "360p" / "seg_001.m4s").read_bytes()
    assert segment.headers["content-type"] == "video/iso.segment"
    assert "immutable" in segment.headers["cache-control"]
    assert segment.headers["access-control-allow-origin"] == "*"
    init = httpx.get(nginx.url + sign(key, ASSET, exp, "180p/init_0.mp4"), timeout=10)
    assert init.status_code == 200 and init.headers["content-type"] == "video/mp4"
    poster = httpx.get(nginx.url + sign(key, ASSET, exp, "poster.jpg"), timeout=10)
    assert poster.status_code == 200 and poster.headers["content-type"] == "image/jpeg"
    preflight = httpx.options(nginx.url + sign(key, ASSET, exp, "360p/seg_001.m4s"), timeout=10)
    assert preflight.status_code == 204
    assert "Range" in preflight.headers["access-control-allow-headers"]


def test_range_requests(nginx: NginxEdge, key: bytes, hls_package: Path) -> None:
    url = nginx.url + sign(key, ASSET, later(), "360p/seg_002.m4s")
    whole = (hls_package / "360p" / "seg_002.m4s").read_bytes()
    part = httpx.get(url, headers={"Range": "bytes=100-1099"}, timeout=10)
    assert part.status_code == 206 and part.content == whole[100:1100]
    assert part.headers["content-range"] == f"bytes 100-1099/{len(whole)}"
    tail = httpx.get(url, headers={"Range": "bytes=-500"}, timeout=10)
    assert tail.status_code == 206 and tail.content == whole[-500:]
    beyond = httpx.get(url, headers={"Range": f"bytes={len(whole) + 10}-"}, timeout=10)
    assert beyond.status_code == 416


def test_expired_forged_and_other_asset_urls_are_refused(nginx: NginxEdge, key: bytes) -> None:
    exp = later()
    good = sign(key, ASSET, exp, "180p/seg_000.m4s")
    assert httpx.get(nginx.url + good, timeout=10).status_code == 200
    parts = good.split("/")
    refused = [
        sign(key, ASSET, int(time.time()) - 1, "180p/seg_000.m4s"),
        sign(b"another-key", ASSET, exp, "180p/seg_000.m4s"),
        "/".join(
            [*parts[:3], parts[3][:-2] + ("AA" if parts[3][-2:] != "AA" else "BB"), *parts[4:]]
        ),
        "/".join([parts[0], parts[1], str(exp + 60), *parts[3:]]),
        good.replace(f"/{ASSET}/", f"/{OTHER}/"),
        good.replace(f"/{ASSET}/", f"/{ASSET}~2160/"),
    ]
    for path in refused:
        response = httpx.get(nginx.url + path, timeout=10)
        assert response.status_code == 403, (path, response.text)
        assert response.json()["error"]["code"] == "FORBIDDEN"


def test_no_way_out_of_the_asset_folder(nginx: NginxEdge, key: bytes) -> None:
    prefix = sign(key, ASSET, later(), "x").rsplit("/", 1)[0]
    for tail in (
        "../../secret.txt",
        f"180p/../../{OTHER}/master.m3u8",
        "%2e%2e/%2e%2e/secret.txt",
        "180p%2Fseg_000.m4s",
        "./master.m3u8",
        "180p//seg_000.m4s",
        "link.m4s",
        "180p/none.m4s",
    ):
        status, body = raw_get(nginx, f"{prefix}/{tail}")
        assert status in (403, 404), (tail, status)
        assert b"not for players" not in body and b"EXTM3U" not in body


def test_a_capped_scope_lists_and_opens_only_renditions_within_the_cap(
    nginx: NginxEdge, key: bytes
) -> None:
    exp = later()
    capped = httpx.get(nginx.url + sign(key, ASSET, exp, max_height=180), timeout=10)
    assert capped.status_code == 200, capped.text + nginx.errors()
    assert [uri for _a, uri in parse_master(capped.text)] == ["180p/index.m3u8"]
    low = sign(key, ASSET, exp, "180p/seg_000.m4s", max_height=180)
    assert httpx.get(nginx.url + low, timeout=10).status_code == 200
    high = httpx.get(nginx.url + sign(key, ASSET, exp, "360p/seg_000.m4s", max_height=180))
    assert high.status_code == 403 and high.json()["error"]["code"] == "ABOVE_PLAN"
