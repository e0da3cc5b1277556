"""The per-slot fields filters, facets and ranking read, as numpy columns that grow by
doubling. Genres are bitsets, one packed row per genre (genre x slot bits): a genre filter
unpacks one row, and all genre counts are one AND with the packed match mask and a popcount
(no BLAS: its threads stall on a busy machine)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from cinemesh.services.search.index import Doc

FACET_GENRES = 30
_BITS_SET = np.array([bin(n).count("1") for n in range(256)], dtype=np.uint8)


def popcount(bytes_: np.ndarray) -> np.ndarray:
    counter = getattr(np, "bitwise_count", None)  # numpy 2
    counted: np.ndarray = counter(bytes_) if counter is not None else _BITS_SET[bytes_]
    return counted


class Columns:
    def __init__(self, capacity: int = 1024) -> None:
        self.size = 0
        self.alive = np.zeros(capacity, dtype=bool)
        self.year = np.zeros(capacity, dtype=np.int16)  # 0: unknown
        self.maturity = np.zeros(capacity, dtype=np.int8)
        self.popularity = np.zeros(capacity, dtype=np.float64)
        self.genre_bits = np.zeros((8, capacity // 8), dtype=np.uint8)
        self.genre_names: list[str] = []
        self.genre_row: dict[str, int] = {}

    def append(self, doc: Doc) -> None:
        if self.size == self.alive.size:
            self._grow_rows()
        slot = self.size
        self.alive[slot] = True
        self.year[slot] = doc.year or 0
        self.maturity[slot] = doc.maturity_level
        self.popularity[slot] = doc.popularity
        for genre in doc.genres:
            row = self._row(genre)  # may grow the bitsets: index them only after
            self.genre_bits[row, slot >> 3] |= 0x80 >> (slot & 7)
        self.size += 1

    def _row(self, genre: str) -> int:
        key = genre.lower()
        row = self.genre_row.get(key)
        if row is None:
            row = self.genre_row[key] = len(self.genre_names)
            self.genre_names.append(genre)
            if row == self.genre_bits.shape[0]:
                self.genre_bits = _resized(self.genre_bits, row * 2)
        return row

    def _grow_rows(self) -> None:
        grown = self.alive.size * 2
        self.alive = _resized(self.alive, grown)
        self.year = _resized(self.year, grown)
        self.maturity = _resized(self.maturity, grown)
        self.popularity = _resized(self.popularity, grown)
        wider = np.zeros((self.genre_bits.shape[0], grown // 8), dtype=np.uint8)
        wider[:, : self.genre_bits.shape[1]] = self.genre_bits
        self.genre_bits = wider

    def filter_mask(
        self,
        size: int,
        *,
        genre: str | None,
        year_from: int | None,
        year_to: int | None,
        max_maturity: int | None,
    ) -> np.ndarray:
        """Slots that pass every given filter (a title of unknown year fails a year filter)."""
        mask = np.ones(size, dtype=bool)
        if genre is not None:
            row = self.genre_row.get(genre.lower())
            if row is None:
                return np.zeros(size, dtype=bool)
            mask &= np.unpackbits(self.genre_bits[row], count=size).view(bool)
        if year_from is not None:
            mask &= self.year[:size] >= year_from
        if year_to is not None:
            mask &= (self.year[:size] <= year_to) & (self.year[:size] > 0)
        if max_maturity is not None:
            mask &= self.maturity[:size] <= max_maturity
        return mask

    def facets(self, mask: np.ndarray, matched: np.ndarray) -> dict[str, dict[str, int]]:
        """Counts of the matched titles by genre, decade and year."""
        width = len(self.genre_names)
        counts = self._genre_counts(mask, matched, width)
        genres = sorted(
            ((self.genre_names[c], int(n)) for c, n in enumerate(counts) if n > 0),
            key=lambda pair: (-pair[1], pair[0]),
        )[:FACET_GENRES]
        years = self.year[matched]
        years = years[years > 0].astype(np.int64)
        return {
            "genre": dict(genres),
            "decade": _bins(years // 10 * 10, suffix="s"),
            "year": _bins(years, suffix=""),
        }

    def _genre_counts(self, mask: np.ndarray, matched: np.ndarray, width: int) -> list[int]:
        if matched.size == 0 or width == 0:
            return []
        packed = np.packbits(mask)
        both = self.genre_bits[:width, : packed.size] & packed
        return list(popcount(both).sum(axis=1, dtype=np.int64).tolist())


def _bins(values: np.ndarray, *, suffix: str) -> dict[str, int]:
    """How many of each value, by counting (no sort)."""
    if values.size == 0:
        return {}
    low = int(values.min())
    counts = np.bincount(values - low)
    present = np.flatnonzero(counts)
    return {f"{low + int(v)}{suffix}": int(counts[v]) for v in present}


def _resized(array: Any, rows: int) -> Any:
    grown = np.zeros((rows, *array.shape[1:]), dtype=array.dtype)
    grown[: array.shape[0]] = array
    return grown
