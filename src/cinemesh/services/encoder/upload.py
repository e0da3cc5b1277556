"""Receiving a source upload: the multipart body is parsed as it streams in and the `file`
part goes straight to disk under a generated name (the client's file name is never used),
with a size limit checked as the bytes arrive."""

from __future__ import annotations

import contextlib
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from python_multipart import MultipartParser
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import parse_options_header
from starlette.requests import ClientDisconnect, Request

from cinemesh.platform.errors import ApiError

FIELD = "file"
# after the limit is passed, read (and discard) this much more so the 413 reaches the client
# cleanly instead of a reset connection; a larger body is cut off
DRAIN_LIMIT = 64 * 1024**2


@dataclass(frozen=True)
class Received:
    path: Path
    size: int


class _FilePart:
    """multipart callbacks writing the `file` field into `target`, counting its bytes."""

    def __init__(self, target: IO[bytes], limit: int) -> None:
        self.target = target
        self.limit = limit
        self.size = 0
        self.seen = False
        self.finished = False
        self._header_field = b""
        self._header_value = b""
        self._headers: dict[bytes, bytes] = {}
        self._is_file = False

    def callbacks(self) -> dict[str, object]:
        return {
            "on_part_begin": self._part_begin,
            "on_header_field": self._header_field_data,
            "on_header_value": self._header_value_data,
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._part_data,
            "on_part_end": self._part_end,
        }

    @property
    def over_limit(self) -> bool:
        return self.size > self.limit

    def _part_begin(self) -> None:
        self._headers, self._is_file = {}, False

    def _header_field_data(self, data: bytes, start: int, end: int) -> None:
        self._header_field += data[start:end]

    def _header_value_data(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _header_end(self) -> None:
        self._headers[self._header_field.lower()] = self._header_value
        self._header_field = self._header_value = b""

    def _headers_finished(self) -> None:
        _, params = parse_options_header(self._headers.get(b"content-disposition", b""))
        self._is_file = params.get(b"name") == FIELD.encode() and not self.seen
        self.seen = self.seen or self._is_file

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if not self._is_file:
            return
        self.size += end - start
        if not self.over_limit:
            self.target.write(data[start:end])

    def _part_end(self) -> None:
        if self._is_file:
            self.finished = True
            self._is_file = False


def _boundary(request: Request) -> bytes:
    kind, params = parse_options_header(request.headers.get("content-type", ""))
    boundary = params.get(b"boundary", b"")
    if kind != b"multipart/form-data" or not boundary:
        raise ApiError(
            415,
            "MULTIPART_REQUIRED",
            "upload the video as multipart/form-data with the field `file`",
        )
    return boundary


async def receive_upload(request: Request, folder: Path, *, limit: int) -> Received:
    """Stream the `file` field into `folder` under a new name; 413 past `limit` bytes."""
    boundary = _boundary(request)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f".incoming-{uuid.uuid4().hex}"
    try:
        with open(path, "wb") as target:
            part = _FilePart(target, limit)
            parser = MultipartParser(boundary, part.callbacks())  # type: ignore[arg-type]
            await _feed(request, parser, part)
        if part.over_limit:
            raise ApiError(
                413,
                "FILE_TOO_LARGE",
                f"the upload is larger than the limit of {limit} bytes",
                details={"limit_bytes": limit},
            )
        if not part.seen:
            raise ApiError(422, "FILE_REQUIRED", "the multipart body has no `file` field")
        if not part.finished:
            raise ApiError(400, "UPLOAD_INCOMPLETE", "the upload ended before the file did")
        return Received(path, part.size)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        raise


async def _feed(request: Request, parser: MultipartParser, part: _FilePart) -> None:
    drained = 0
    try:
        async for chunk in request.stream():
            if part.over_limit:
                drained += len(chunk)
                if drained > DRAIN_LIMIT:
                    break
                continue
            parser.write(chunk)
        if not part.over_limit:
            parser.finalize()
    except ClientDisconnect:
        raise ApiError(400, "UPLOAD_INCOMPLETE", "the client went away mid-upload") from None
    except MultipartParseError:
        raise ApiError(422, "MALFORMED_MULTIPART", "the multipart body is malformed") from None
