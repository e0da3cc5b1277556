"""Signed media URLs, shared by playback (signs) and the edge (verifies), and checked the same
way by nginx + njs at scale (deploy/nginx/edge_auth.js):

    /e/{exp}/{tok}/{scope}/{file...}
    tok = base64url(HMAC-SHA256(key, f"{exp}:/{scope}/")), no padding

The scope is the asset's folder, `{asset_id}`, or a capped view of it, `{asset_id}~{height}`:
the same folder, where the master playlist lists only renditions at most `height` tall and
the taller renditions' files are refused. The cap is inside the signed string, so a player
cannot lift its plan's resolution by editing the URL, and a token for one asset (or one cap)
opens nothing else. Relative URIs inside playlists inherit the token with no rewriting."""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import re
from dataclasses import dataclass
from pathlib import Path

from cinemesh.platform.secrets import read_or_create_secret, secrets_dir

ASSET_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
SCOPE = re.compile(r"^(?P<asset>[A-Za-z0-9_-]{1,64})(?:~(?P<cap>[1-9][0-9]{1,4}))?$")
FILE_PART = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
EXP = re.compile(r"^[0-9]{1,12}$")
TOKENS_KEPT = 4096


class InvalidMediaUrl(ValueError):
    """Why a media path is refused (the edge never tells the client which part was wrong)."""


def scope(asset_id: str, max_height: int | None = None) -> str:
    """The path segment a token covers: the asset, or the asset capped at `max_height`."""
    if not ASSET_ID.match(asset_id):
        raise InvalidMediaUrl("bad asset id")
    if max_height is None:
        return asset_id
    if not 10 <= max_height <= 99_999:
        raise InvalidMediaUrl("bad height cap")
    return f"{asset_id}~{max_height}"


@functools.lru_cache(maxsize=TOKENS_KEPT)
def token(key: bytes, scope_segment: str, exp: int) -> str:
    """The token for a scope until `exp`; kept, since every segment of a viewing presents the
    same one (an edge checks it once, not per segment)."""
    digest = hmac.new(key, f"{exp}:/{scope_segment}/".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def sign(
    key: bytes,
    asset_id: str,
    exp: int,
    file: str = "master.m3u8",
    *,
    max_height: int | None = None,
) -> str:
    """The signed path of `file` in the asset (capped at `max_height` when given)."""
    segment = scope(asset_id, max_height)
    return f"/e/{exp}/{token(key, segment, exp)}/{segment}/{file}"


@dataclass(frozen=True)
class MediaPath:
    asset_id: str
    file_parts: tuple[str, ...]
    exp: int
    max_height: int | None = None


def verify(key: bytes, path: str, *, now: float) -> MediaPath:
    """Check a raw request path (no query); raise InvalidMediaUrl unless it is signed, fresh
    and inside the token's folder."""
    if "%" in path or "\\" in path or "//" in path or "\x00" in path:
        raise InvalidMediaUrl("encoded or doubled separators are not allowed")
    parts = path.split("/")
    if len(parts) < 6 or parts[0] != "" or parts[1] != "e":
        raise InvalidMediaUrl("not a media path")
    exp_text, presented, segment, *file_parts = parts[2:]
    matched = SCOPE.match(segment)
    if not EXP.match(exp_text) or matched is None:
        raise InvalidMediaUrl("malformed media path")
    if not file_parts or len(file_parts) > 4 or not all(FILE_PART.match(p) for p in file_parts):
        raise InvalidMediaUrl("path outside the asset folder")
    expected = token(key, segment, int(exp_text))
    if not hmac.compare_digest(expected.encode(), presented.encode("utf-8", "replace")):
        raise InvalidMediaUrl("bad signature")
    if int(exp_text) < now:
        raise InvalidMediaUrl("expired")
    cap = matched.group("cap")
    return MediaPath(
        matched.group("asset"), tuple(file_parts), int(exp_text), int(cap) if cap else None
    )


def load_edge_key(data_dir: Path, configured: str) -> bytes:
    """The URL-signing key: from the setting (a Secret at scale) or the data dir (0600)."""
    if configured:
        return configured.encode()
    return read_or_create_secret(secrets_dir(data_dir) / "edge.key")
