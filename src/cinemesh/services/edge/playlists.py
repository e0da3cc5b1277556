"""A capped view of an asset's master playlist: only the renditions a plan may play."""

from __future__ import annotations

import re
from dataclasses import dataclass

RESOLUTION = re.compile(r"RESOLUTION=(\d+)x(\d+)")


@dataclass(frozen=True)
class Ladder:
    """An asset's master playlist and the height of each rendition folder it names."""

    master: str
    folder_heights: dict[str, int]

    @classmethod
    def parse(cls, master: str) -> Ladder:
        heights: dict[str, int] = {}
        pending: int | None = None
        for line in master.splitlines():
            line = line.strip()
            if line.startswith("#EXT-X-STREAM-INF:"):
                pending = _height(line)
            elif line and not line.startswith("#") and pending is not None:
                folder = line.split("/", 1)[0] if "/" in line else ""
                if folder:
                    heights[folder] = max(heights.get(folder, 0), pending)
                pending = None
        return cls(master, heights)

    def capped(self, max_height: int) -> str:
        """The master playlist without variants taller than `max_height` (the smallest one
        stays when every variant is taller, so a player always has something to play)."""
        lines = self.master.splitlines()
        kept: list[str] = []
        dropped: list[list[str]] = []
        i = 0
        while i < len(lines):
            line = lines[i]
            if line.startswith("#EXT-X-STREAM-INF:") and i + 1 < len(lines):
                pair = [line, lines[i + 1]]
                if _height(line) <= max_height:
                    kept.extend(pair)
                else:
                    dropped.append(pair)
                i += 2
                continue
            kept.append(line)
            i += 1
        if not any(k.startswith("#EXT-X-STREAM-INF:") for k in kept) and dropped:
            smallest: list[str] = min(dropped, key=lambda pair: _height(pair[0]))
            kept.extend(smallest)
        return "\n".join(kept) + "\n"

    def allows(self, folder: str, max_height: int) -> bool:
        """May a view capped at `max_height` open a file in `folder`?"""
        height = self.folder_heights.get(folder)
        if height is None or height <= max_height:
            return True
        return height == self.smallest_height()

    def smallest_height(self) -> int:
        return min(self.folder_heights.values(), default=0)


def _height(stream_inf: str) -> int:
    found = RESOLUTION.search(stream_inf)
    return int(found.group(2)) if found else 0
