"""Continue watching knows series: history keeps a series whose latest viewing is a finished
episode (`up_next`), and here it becomes the episode after that one, from the start, as the
catalog orders them (`next_episode_id`, the next that plays); a series watched to its end, or
one the catalog cannot answer for now, leaves the row."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

FetchTitle = Callable[[str], Awaitable[dict[str, Any] | None]]


async def resolve_up_next(
    items: list[dict[str, Any]], fetch_title: FetchTitle
) -> list[dict[str, Any]]:
    """The row with each `up_next` item replaced by the next episode, or dropped."""
    pending = [item for item in items if item.get("up_next")]
    if not pending:
        return items
    titles = await asyncio.gather(
        *(_quietly(fetch_title(str(item["title_id"]))) for item in pending)
    )
    following = {
        id(item): next_episode(title, str(item["episode_id"]))
        for item, title in zip(pending, titles, strict=True)
    }
    row = []
    for item in items:
        if not item.get("up_next"):
            row.append(item)
        elif episode_id := following[id(item)]:
            row.append(
                {
                    **item,
                    "episode_id": episode_id,
                    "after_episode_id": item["episode_id"],
                    "position_s": 0.0,
                    "duration_s": None,
                    "finished": False,
                }
            )
    return row


def next_episode(title: dict[str, Any] | None, episode_id: str) -> str | None:
    """The episode the catalog plays after `episode_id`; None after the last or if unknown."""
    for season in (title or {}).get("seasons") or []:
        for episode in season.get("episodes") or []:
            if episode.get("id") == episode_id:
                following = episode.get("next_episode_id")
                return str(following) if following else None
    return None


async def _quietly(fetching: Awaitable[dict[str, Any] | None]) -> dict[str, Any] | None:
    try:
        return await fetching
    except Exception:  # the row goes on without that series; the page is not degraded for it
        return None
