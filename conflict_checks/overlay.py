"""The site against the layers: the pieces of features inside the site, measured without double
counting.

PostGIS finds the features that intersect the site (GiST, partition pruning per version); here
they are cut to the site (GEOS, in two threads) and the pieces grouped per layer and class.
When no two pieces of a layer share interior — the normal case for a clean layer — areas are
plain sums. When some do, the overlap of each such pair is measured once: an area is then the
pieces' sum less the overlaps of the pairs inside the group measured, which is exact as long as
no spot lies under three or more pieces; where some does, areas come from unions. Either way an
overlap is never counted twice. Which pairs overlap is known for versions whose internal
overlaps were checked (layers.overlaps); for the others the pieces are tested here.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import Executor, Future
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import psycopg
import shapely
from sqlalchemy.orm import Session

from gis_platform.core.db import side_connection

from . import queries

EPS = 1e-6  # m²
OVERLAP_MIN_M2 = 1e-4  # interiors shared by less (1 cm²) are floating-point slivers of shared edges


@dataclass
class Overlaps:
    """Pairs of a layer's pieces that share interior, and the area each pair shares.

    ``pairwise`` is True when no spot lies under three or more pieces: the area of any set of
    pieces is then their sum less the overlaps of the pairs inside the set.
    """

    first: np.ndarray  # piece numbers within the layer
    second: np.ndarray
    area: np.ndarray
    pairwise: bool
    pieces: int  # how many pieces the layer has

    def within(self, members: np.ndarray) -> float:
        """Area shared by pairs whose two pieces are both among ``members``."""
        if len(self.area) == 0:
            return 0.0
        chosen = np.zeros(self.pieces, dtype=bool)
        chosen[members] = True
        return float(self.area[chosen[self.first] & chosen[self.second]].sum())


@dataclass
class ClassHits:
    """The pieces of one class of one layer inside the site."""

    code: str | None
    raw: str | None
    pieces: np.ndarray
    features: int
    overlaps: Overlaps | None = None  # the layer's overlaps, None when it has none
    members: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.intp))  # piece numbers

    @property
    def overlapping(self) -> bool:
        return self.overlaps is not None

    @cached_property
    def union(self) -> shapely.Geometry:
        """The pieces merged into one geometry."""
        return shapely.union_all(self.pieces) if len(self.pieces) > 1 else self.pieces[0]

    @cached_property
    def pieces_area(self) -> float:
        """The pieces' areas added up (overlaps counted as often as they occur)."""
        return float(shapely.area(self.pieces).sum())

    @cached_property
    def area(self) -> float:
        """Area inside the site, overlaps counted once."""
        if self.overlaps is None:
            return self.pieces_area
        if self.overlaps.pairwise:
            return self.pieces_area - self.overlaps.within(self.members)
        return float(self.union.area)

    @cached_property
    def perimeter_bound(self) -> float:
        """An upper bound of the perimeter of the union (the sum of the pieces' perimeters)."""
        return float(shapely.length(self.pieces).sum())


@dataclass
class LayerHits:
    """All classes of one layer version inside the site."""

    classes: list[ClassHits] = field(default_factory=list)
    overlaps: Overlaps | None = None

    @property
    def overlapping(self) -> bool:
        return self.overlaps is not None

    def area_of(self, classes: list[ClassHits]) -> float:
        """Area of the union of some classes (exact, overlaps counted once)."""
        if not classes:
            return 0.0
        if self.overlaps is None:
            return float(sum(c.area for c in classes))
        if self.overlaps.pairwise:
            members = np.concatenate([c.members for c in classes])
            return sum(c.pieces_area for c in classes) - self.overlaps.within(members)
        return float(shapely.union_all([c.union for c in classes]).area)

    @cached_property
    def area(self) -> float:
        """Area of the site covered by any feature of the layer."""
        return self.area_of(self.classes)


def find_overlaps(pieces: np.ndarray) -> Overlaps | None:
    """The pairs of pieces that share interior, when one pair shares more than 1 cm² (touching
    along edges or at points does not count, nor do the floating-point slivers of shared edges);
    None otherwise."""
    if len(pieces) < 2:
        return None
    if shapely.coverage_is_valid(pieces):  # GEOS coverage check: no overlaps, edges match (fast)
        return None
    tree = shapely.STRtree(pieces)
    pairs = tree.query(pieces)
    pairs = pairs[:, pairs[0] < pairs[1]]
    if pairs.shape[1] == 0:
        return None
    inner = shapely.relate_pattern(pieces[pairs[0]], pieces[pairs[1]], "T********")
    return _measured(pieces, pairs[0][inner], pairs[1][inner])


def known_overlaps(pieces: np.ndarray, features: np.ndarray, partners: dict[int, np.ndarray]) -> Overlaps | None:
    """:func:`find_overlaps` for pieces of a version whose internal overlaps were checked
    (``partners``: feature -> the features it overlaps; see layers.overlaps): only the pieces of
    features known to overlap are measured."""
    if not partners or len(pieces) < 2:
        return None
    at = {int(f): i for i, f in enumerate(features)}
    first: list[int] = []
    second: list[int] = []
    for i, f in enumerate(features.tolist()):
        others = partners.get(f)
        if others is None:
            continue
        for g in others.tolist():
            j = at.get(g)
            if j is not None and i < j:
                first.append(i)
                second.append(j)
    if not first:
        return None
    a, b = np.asarray(first), np.asarray(second)
    # their overlap may lie outside the site, or only touch it: keep the pairs that share area
    shared = shapely.area(shapely.intersection(pieces[a], pieces[b])) > 0
    return _measured(pieces, a[shared], b[shared])


def _measured(pieces: np.ndarray, first: np.ndarray, second: np.ndarray) -> Overlaps | None:
    """The overlaps of the given pairs (which share interior), or None when none reaches 1 cm²."""
    if len(first) == 0:
        return None
    shared = shapely.intersection(pieces[first], pieces[second])
    area = shapely.area(shared)
    if not (area > OVERLAP_MIN_M2).any():
        return None
    # Three pieces over one spot: two of the shared parts then share interior themselves.
    pairwise = True
    if len(shared) > 1:
        st = shapely.STRtree(shared).query(shared)
        st = st[:, st[0] < st[1]]
        pairwise = not (st.shape[1] and shapely.relate_pattern(shared[st[0]], shared[st[1]], "T********").any())
    return Overlaps(first, second, area, pairwise, len(pieces))


def site_features(conn: Any, site_wkb: bytes, srid: int, version_ids: list[int]) -> list[tuple]:
    """The features of the versions that meet the site (store CRS), read in binary on a psycopg
    connection: (version_id, class_code, class_raw, wkb, feature_no) rows."""
    if not version_ids:
        return []
    with conn.cursor(binary=True) as cur:
        # Never prepared: each site gets its own plan, which prunes the partitions by version.
        return cur.execute(queries.SITE_FEATURES_SQL, {"site": site_wkb, "srid": srid, "vids": version_ids},
                           prepare=False).fetchall()


def cut_to_site(geoms: np.ndarray, site_wkb: bytes) -> np.ndarray:
    """The polygonal part of each geometry inside the site (a feature wholly inside stays as it
    is); empty where only lines or points are shared."""
    site = shapely.from_wkb(site_wkb)  # this thread's own, prepared copy
    shapely.prepare(site)
    out = geoms.copy()
    cut = ~shapely.covered_by(geoms, site)
    if cut.any():
        parts = shapely.intersection(geoms[cut], site)
        odd = ~np.isin(shapely.get_type_id(parts), (3, 6))  # collections, lines, points
        for i in np.flatnonzero(odd):
            polys = [g for g in shapely.get_parts(parts[i]) if g.geom_type in ("Polygon", "MultiPolygon")]
            parts[i] = shapely.union_all(polys) if polys else shapely.Polygon()
        out[cut] = parts
    return out


def layer_hits(rows: list[tuple], site_wkb: bytes,
               known: dict[int, dict[int, np.ndarray]] | None = None) -> dict[int, LayerHits]:
    """The features cut to the site, grouped per layer version and class, each layer's overlaps
    found (from ``known``: version -> its checked internal overlaps, where given)."""
    out: dict[int, LayerHits] = {}
    if not rows:
        return out
    known = known or {}
    geoms = cut_to_site(shapely.from_wkb([r[3] for r in rows]), site_wkb)
    features = np.array([r[4] for r in rows])
    keep = shapely.area(geoms) > EPS  # features that only touch the site have no area in it
    grouped: dict[int, dict[tuple[str | None, str | None], list[int]]] = defaultdict(lambda: defaultdict(list))
    for i, r in enumerate(rows):
        if keep[i]:
            grouped[r[0]][(r[1], r[2])].append(i)
    for vid, classes in grouped.items():
        idx = np.concatenate([np.asarray(v) for v in classes.values()])
        partners = known.get(vid)
        overlaps = find_overlaps(geoms[idx]) if partners is None else known_overlaps(geoms[idx], features[idx], partners)
        layer = LayerHits(overlaps=overlaps)
        start = 0
        for (code, raw), members in classes.items():
            numbers = np.arange(start, start + len(members))
            start += len(members)
            layer.classes.append(ClassHits(code, raw, geoms[np.asarray(members)], len(members), overlaps, numbers))
        out[vid] = layer
    return out


def split_in_two(weights: dict[int, float]) -> tuple[list[int], list[int]]:
    """The versions in two groups of about equal weight (greedy, heaviest first)."""
    groups: tuple[list[int], list[int]] = ([], [])
    load = [0.0, 0.0]
    for vid, w in sorted(weights.items(), key=lambda kv: (-kv[1], kv[0])):
        k = 0 if load[0] <= load[1] else 1
        groups[k].append(vid)
        load[k] += w
    return groups


@dataclass
class PendingHits:
    """The layers read on the session's connection, and those still being read beside it."""

    hits: dict[int, LayerHits]
    beside: Future | None
    rest: Callable[[], dict[int, LayerHits]]  # reads the other group here (no spare connection)

    def result(self) -> dict[int, LayerHits]:
        """All layers' hits (waits for the spare connection's group)."""
        if self.beside is not None:
            other = self.beside.result()
            self.hits.update(other if other is not None else self.rest())
            self.beside = None
        return self.hits


def start_site_hits(session: Session, site: shapely.Geometry, weights: dict[int, float], srid: int,
                    pool: Executor, known: dict[int, dict[int, np.ndarray]] | None = None) -> PendingHits:
    """Pieces of every given layer version inside ``site`` (store CRS), grouped by class.

    ``weights`` maps each version to its expected share of the work (e.g. its feature density);
    ``known`` maps versions whose internal overlaps were checked to them (layers.overlaps).
    The versions are split into two groups: one is read and measured on the session's
    connection before this returns, the other at the same time on a spare connection in
    ``pool`` (features are immutable, so reading them beside the transaction sees the same
    rows); with no spare connection free, :meth:`PendingHits.result` reads it here.
    """
    if not weights:
        return PendingHits({}, None, dict)
    wkb = shapely.to_wkb(site)
    mine, other = split_in_two(weights)
    main = session.connection().connection.driver_connection
    beside = pool.submit(_side_hits, session.get_bind(), wkb, srid, other, known) if other else None
    own = layer_hits(site_features(main, wkb, srid, mine), wkb, known)
    return PendingHits(own, beside, lambda: layer_hits(site_features(main, wkb, srid, other), wkb, known))


def _side_hits(engine: Any, wkb: bytes, srid: int, version_ids: list[int],
               known: dict[int, dict[int, np.ndarray]] | None) -> dict[int, LayerHits] | None:
    try:
        with side_connection(engine, queries.CHECK_SETTINGS) as conn:
            if conn is None:
                return None
            rows = site_features(conn, wkb, srid, version_ids)
    except psycopg.OperationalError:  # the spare connection broke (it is dropped): read on the main one
        return None
    return layer_hits(rows, wkb, known)
