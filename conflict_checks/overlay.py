"""The site against the layers: the pieces of features inside the site, measured without double
counting.

PostGIS finds the features that intersect the site (GiST, partition pruning per version) and
cuts them to the site. Here the pieces are grouped per layer and class. When no two pieces of a
layer share interior — the normal case for a clean layer — areas are plain sums and no union is
needed; when some overlap, areas come from unions, so an overlap is never counted twice.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import shapely
from sqlalchemy.orm import Session

from . import queries

EPS = 1e-6  # m²


@dataclass
class ClassHits:
    """The pieces of one class of one layer inside the site."""

    code: str | None
    raw: str | None
    pieces: np.ndarray
    features: int
    overlapping: bool = False

    @cached_property
    def union(self) -> shapely.Geometry:
        """The pieces merged into one geometry."""
        return shapely.union_all(self.pieces) if len(self.pieces) > 1 else self.pieces[0]

    @cached_property
    def area(self) -> float:
        """Area inside the site, overlaps counted once."""
        if self.overlapping:
            return float(self.union.area)
        return float(shapely.area(self.pieces).sum())

    @cached_property
    def perimeter_bound(self) -> float:
        """An upper bound of the perimeter of the union (the sum of the pieces' perimeters)."""
        return float(shapely.length(self.pieces).sum())


@dataclass
class LayerHits:
    """All classes of one layer version inside the site."""

    classes: list[ClassHits] = field(default_factory=list)
    overlapping: bool = False

    def area_of(self, classes: list[ClassHits]) -> float:
        """Area of the union of some classes (exact, overlaps counted once)."""
        if not classes:
            return 0.0
        if not self.overlapping:
            return float(sum(c.area for c in classes))
        return float(shapely.union_all([c.union for c in classes]).area)

    @cached_property
    def area(self) -> float:
        """Area of the site covered by any feature of the layer."""
        return self.area_of(self.classes)


def _overlapping(pieces: np.ndarray) -> bool:
    """True when two pieces share interior of more than 1 cm² (touching along edges or at
    points does not count, nor do the floating-point slivers of shared edges)."""
    if len(pieces) < 2:
        return False
    if shapely.coverage_is_valid(pieces):  # GEOS coverage check: no overlaps, edges match (fast)
        return False
    tree = shapely.STRtree(pieces)
    pairs = tree.query(pieces)
    pairs = pairs[:, pairs[0] < pairs[1]]
    if pairs.shape[1] == 0:
        return False
    a, b = pieces[pairs[0]], pieces[pairs[1]]
    inner = shapely.relate_pattern(a, b, "T********")
    if not inner.any():
        return False
    return bool((shapely.area(shapely.intersection(a[inner], b[inner])) > 1e-4).any())


def site_hits(session: Session, site: shapely.Geometry, version_ids: list[int], srid: int) -> dict[int, LayerHits]:
    """Pieces of every given layer version inside ``site`` (store CRS), grouped by class."""
    out: dict[int, LayerHits] = {}
    if not version_ids:
        return out
    rows = session.execute(queries.SITE_PIECES, {"site": shapely.to_wkb(site), "srid": srid,
                                                 "vids": version_ids}).all()
    if not rows:
        return out
    geoms = shapely.from_wkb([bytes(r[3]) for r in rows])
    keep = shapely.area(geoms) > EPS  # pieces that only touch the site have no area
    grouped: dict[int, dict[tuple[str | None, str | None], list[int]]] = defaultdict(lambda: defaultdict(list))
    for i, r in enumerate(rows):
        if keep[i]:
            grouped[r[0]][(r[1], r[2])].append(i)
    for vid, classes in grouped.items():
        idx = np.concatenate([np.asarray(v) for v in classes.values()])
        overlapping = _overlapping(geoms[idx])
        layer = LayerHits(overlapping=overlapping)
        for (code, raw), members in classes.items():
            layer.classes.append(ClassHits(code, raw, geoms[np.asarray(members)], len(members), overlapping))
        out[vid] = layer
    return out
