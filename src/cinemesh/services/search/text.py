"""Text as the index sees it: normalized terms, deletion neighbourhoods, bounded edit
distance, and highlighted titles."""

from __future__ import annotations

import functools
import html
import re
import unicodedata

_WORD = re.compile(r"[a-z0-9]+")
_SPLIT = re.compile(r"(\w+)")
MAX_TERM_LEN = 40


@functools.lru_cache(maxsize=65536)
def normalize(text: str) -> str:
    """Lower case without accents: "Amélie" and "amelie" are the same word."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


def terms(text: str) -> list[str]:
    return [t[:MAX_TERM_LEN] for t in _WORD.findall(normalize(text))]


def max_edits(term: str) -> int:
    """Typos allowed in a word of this length: none below 4 letters, 2 from 8."""
    return 0 if len(term) < 4 else 1 if len(term) < 8 else 2


def deletions(term: str, edits: int) -> set[str]:
    """`term` and every string made from it by deleting up to `edits` characters."""
    found = {term}
    frontier = {term}
    for _ in range(edits):
        frontier = {w[:i] + w[i + 1 :] for w in frontier for i in range(len(w))} - found
        found |= frontier
    return found


def edit_distance(a: str, b: str, limit: int) -> int:
    """Damerau-Levenshtein (an adjacent swap counts once), giving up past `limit`."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    before: list[int] = []
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cost = 0 if ca == cb else 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                current[j] = min(current[j], before[j - 2] + 1)
        if min(current) > limit:
            return limit + 1
        before, previous = previous, current
    return previous[-1]


def highlight(text: str, words: set[str]) -> str:
    """`text` HTML-escaped, with the words in `words` wrapped in <em>."""
    return "".join(
        f"<em>{html.escape(part)}</em>" if normalize(part) in words else html.escape(part)
        for part in _SPLIT.split(text)
    )
