"""Who gets which cell: pure functions of ids, no state, so every instance and every restart
allocates a profile the same way.

- A *layer* (say "recommender") holds experiments that must not overlap: a profile's bucket in
  the layer is a hash of (layer, profile), one of `BUCKETS`; each running experiment owns a
  range of the layer's buckets, disjoint from the others' (its traffic share), so a profile
  is in at most one experiment of a layer.
- Inside an experiment the cell is a second hash, of (experiment, salt, profile), mapped onto
  the cells' weights: independent of the layer's hash and of every other experiment's.

Hashes are SHA-256 of the ids (not Python's `hash`, which changes with every process)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

BUCKETS = 10_000


def unit_hash(*parts: str) -> float:
    """A number in [0, 1) that depends only on the parts."""
    digest = hashlib.sha256("\x1f".join(parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def layer_bucket(layer: str, profile_id: str) -> int:
    return int(unit_hash("layer", layer, profile_id) * BUCKETS)


@dataclass(frozen=True)
class Cell:
    name: str
    weight: float


@dataclass(frozen=True)
class Design:
    """What allocation needs of an experiment."""

    experiment_id: str
    salt: str
    layer: str
    first_bucket: int  # the layer's buckets [first_bucket, end_bucket) are this experiment's
    end_bucket: int
    cells: Sequence[Cell]

    def includes(self, profile_id: str) -> bool:
        return self.first_bucket <= layer_bucket(self.layer, profile_id) < self.end_bucket

    def cell_of(self, profile_id: str) -> str | None:
        """The profile's cell, or None when the profile is outside the experiment."""
        if not self.includes(profile_id):
            return None
        point = unit_hash("cell", self.experiment_id, self.salt, profile_id)
        total = sum(c.weight for c in self.cells)
        edge = 0.0
        for cell in self.cells:
            edge += cell.weight / total
            if point < edge:
                return cell.name
        return self.cells[-1].name  # rounding at the top end


def free_range(taken: Sequence[tuple[int, int]], *, size: int) -> tuple[int, int] | None:
    """The first gap of `size` buckets not taken by the layer's running experiments."""
    start = 0
    for first, end in sorted(taken):
        if first - start >= size:
            return start, start + size
        start = max(start, end)
    return (start, start + size) if BUCKETS - start >= size else None
