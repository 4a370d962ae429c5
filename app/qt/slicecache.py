"""Atlas planes cut and coloured once, kept by (atlas, digit, plane, position).

Every map view of a model asks this cache for its plane instead of cutting and colouring
the atlas again, so moving back and forth over a cube costs one cut per plane and
position.  Entries belong to their atlas (held weakly: the slices of an atlas that is
gone are dropped) and each atlas keeps at most ``MAX_BYTES`` of them, least recently used
first out.
"""
from __future__ import annotations

import weakref
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np

from latent_explorer.models.maps import colour_map, regions

MAX_BYTES = 24 * 2**20  # per atlas


@dataclass
class Slice:
    """One plane of an atlas: labels, confidence, their colours, and the labelled regions
    (per minimum region size, computed when first asked for)."""

    labels: np.ndarray
    confidence: np.ndarray
    rgb: np.ndarray
    _regions: dict = field(default_factory=dict)

    @property
    def nbytes(self) -> int:
        return self.labels.nbytes + self.confidence.nbytes + self.rgb.nbytes

    def has_regions(self, min_fraction: float) -> bool:
        """True when the regions for this minimum size are already computed."""
        return min_fraction in self._regions

    def regions(self, min_fraction: float) -> list:
        found = self._regions.get(min_fraction)
        if found is None:
            found = self._regions[min_fraction] = regions(self.labels, min_fraction=min_fraction)
        return found


class SliceCache:
    """``get(atlas, axes, point, digit)`` -> :class:`Slice`, cut and coloured once."""

    def __init__(self, max_bytes: int = MAX_BYTES) -> None:
        self.max_bytes = max_bytes
        self._by_atlas: dict[int, tuple[weakref.ref, _Entries]] = {}  # id(atlas) -> (atlas, its slices)
        self.hits = self.misses = 0

    def get(self, atlas, axes: tuple[int, int], point, digit: int | None = None) -> Slice:
        idx = atlas.cell_index(point)
        a, b = axes
        key = (digit, (a, b), tuple(v for k, v in enumerate(idx) if k not in (a, b)))
        entries = self._entries(atlas)
        found = entries.get(key)
        if found is not None:
            self.hits += 1
            return found
        self.misses += 1
        labels, conf = atlas.slice2d((a, b), point, digit)
        labels = np.ascontiguousarray(labels)
        found = Slice(labels, conf, colour_map(labels, conf))
        entries.put(key, found, self.max_bytes)
        return found

    def _entries(self, atlas) -> "_Entries":
        held = self._by_atlas.get(id(atlas))
        if held is not None and held[0]() is atlas:
            return held[1]
        for k in [k for k, (ref, _) in self._by_atlas.items() if ref() is None]:
            del self._by_atlas[k]  # atlases that are gone
        entries = _Entries()
        self._by_atlas[id(atlas)] = (weakref.ref(atlas), entries)
        return entries

    def nbytes(self, atlas=None) -> int:
        """Bytes held for one atlas, or for all."""
        if atlas is not None:
            held = self._by_atlas.get(id(atlas))
            return held[1].bytes if held is not None and held[0]() is atlas else 0
        return sum(e.bytes for ref, e in self._by_atlas.values() if ref() is not None)


class _Entries(OrderedDict):
    """One atlas's slices, least recently used first."""

    def __init__(self) -> None:
        super().__init__()
        self.bytes = 0

    def get(self, key):  # type: ignore[override]
        found = super().get(key)
        if found is not None:
            self.move_to_end(key)
        return found

    def put(self, key, value: Slice, max_bytes: int) -> None:
        self[key] = value
        self.bytes += value.nbytes
        while self.bytes > max_bytes and len(self) > 1:
            _, old = self.popitem(last=False)
            self.bytes -= old.nbytes


slices = SliceCache()  # shared by every map view of the window
