"""The edge's fast path (services/edge/fast_path.py) answers plain GET and HEAD requests for
media files from descriptors it keeps open, and hands everything else on a connection to the
aiohttp application: one real `cinemesh serve edge` process, kept-alive and pipelined
connections, and a file replaced on disk while its descriptor is kept."""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

import httpx

from cinemesh.services.edge.delivery import KEPT_CHECK_S
from tests.edge.test_edge_drain import SEGMENT, EdgeProcess, address, media, segment_url

__all__ = ["address", "media"]


def test_one_connection_mixes_plain_range_and_conditional_requests(
    media: Path, address: socket.socket
) -> None:
    edge = EdgeProcess(media, address, drain_s=0.5)
    whole = (media / "media/assets" / edge_asset(media) / SEGMENT).read_bytes()
    url = segment_url(media, edge.url)
    try:
        with httpx.Client(timeout=10) as client:
            plain = client.get(url)
            assert plain.status_code == 200 and plain.content == whole
            assert plain.headers["content-type"] == "video/iso.segment"
            assert plain.headers["access-control-allow-origin"] == "*"
            assert "immutable" in plain.headers["cache-control"] and plain.headers["date"]
            etag = plain.headers["etag"]
            head = client.head(url)
            assert head.status_code == 200 and int(head.headers["content-length"]) == len(whole)
            assert head.headers["etag"] == etag
            part = client.get(url, headers={"Range": "bytes=10-19"})  # the application's
            assert part.status_code == 206 and part.content == whole[10:20]
            same = client.get(url, headers={"If-None-Match": etag})
            assert same.status_code == 304
            again = client.get(url)
            assert again.status_code == 200 and again.content == whole
            refused = client.get(url.replace("/e/", "/e/1", 1))
            assert refused.status_code == 403 and refused.json()["error"]["code"] == "FORBIDDEN"
    finally:
        edge.stop()


def test_pipelined_requests_are_answered_in_order(media: Path, address: socket.socket) -> None:
    edge = EdgeProcess(media, address, drain_s=0.5)
    path = segment_url(media, "")
    size = (media / "media/assets" / edge_asset(media) / SEGMENT).stat().st_size
    try:
        with socket.create_connection(("127.0.0.1", edge.port), timeout=10) as sock:
            ask = f"GET {path} HTTP/1.1\r\nHost: edge\r\n\r\n"
            last = f"HEAD {path} HTTP/1.1\r\nHost: edge\r\nConnection: close\r\n\r\n"
            sock.sendall((ask + ask + last).encode())
            received = b""
            while chunk := sock.recv(1 << 16):
                received += chunk
        assert received.count(b"HTTP/1.1 200 OK\r\n") == 3
        assert received.count(f"Content-Length: {size}\r\n".encode()) == 3
        assert len(received) > 2 * size  # two bodies, and none for the HEAD
        assert received.rstrip().endswith(b"Connection: close")
    finally:
        edge.stop()


def test_a_file_replaced_or_removed_on_disk_is_seen_after_the_check(
    media: Path, address: socket.socket
) -> None:
    edge = EdgeProcess(media, address, drain_s=0.5)
    file = media / "media/assets" / edge_asset(media) / SEGMENT
    url = segment_url(media, edge.url)
    try:
        assert httpx.get(url, timeout=10).content == file.read_bytes()
        replacement = file.with_name("replacement.tmp")
        replacement.write_bytes(b"new bytes of the segment")
        os.replace(replacement, file)
        time.sleep(KEPT_CHECK_S + 0.5)
        assert httpx.get(url, timeout=10).content == b"new bytes of the segment"
        file.unlink()
        time.sleep(KEPT_CHECK_S + 0.5)
        assert httpx.get(url, timeout=10).status_code == 404
    finally:
        edge.stop()


def edge_asset(media: Path) -> str:
    (asset,) = os.listdir(media / "media" / "assets")
    return asset
