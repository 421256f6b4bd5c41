"""Internal overlaps of a layer version (图层内部重叠质检): the pairs of its polygons whose
interiors meet, and the area each pair shares. Touching along edges or at points is not an
overlap.

A version never changes, so this is computed once, after the version is loaded, and kept
beside it (``version_overlaps``; a row in ``version_overlap_checks`` says it was done). Checks use it to
measure overlapping features without testing every site's pieces for overlaps.

The version is read tile by tile (each feature whose box meets the tile), so memory stays
bounded. Within a tile, GEOS's coverage validator marks every polygon whose edges do not match
its neighbours' (a superset of the polygons in an overlap: of two that overlap, at least the one
inside or both are marked, exact duplicates included); only pairs with a marked polygon are then
related exactly. Two polygons sharing interior share some spot, which lies in some tile where
both are read, so no pair is missed; pairs found in several tiles are kept once.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from sqlalchemy import Engine

from gis_platform.core.db import url_key
from gis_platform.core.errors import NotFoundError

from . import queries

log = logging.getLogger(__name__)
TILE_FEATURES = 20_000  # features read per tile (about; the tiles split the extent evenly)


@dataclass
class OverlapReport:
    """What an overlap check of one version found."""

    version_id: int
    pairs: int
    area_m2: float  # the pairs' shared areas added up (a spot under three features counts thrice)
    tiles: int
    seconds: float
    checked_at: Any = None


def overlapping_pairs(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Index pairs (i < j) of polygons whose interiors meet, and the area each pair shares."""
    none = (np.empty(0, dtype=np.intp), np.empty(0, dtype=np.intp), np.empty(0))
    if len(geoms) < 2:
        return none
    marked = np.flatnonzero(~shapely.is_empty(shapely.coverage_invalid_edges(geoms)))
    if marked.size == 0:
        return none
    q = shapely.STRtree(geoms).query(geoms[marked])
    i, j = marked[q[0]], q[1]
    keep = i != j
    pairs = np.unique(np.stack([np.minimum(i[keep], j[keep]), np.maximum(i[keep], j[keep])], axis=1), axis=0)
    if pairs.size == 0:
        return none
    a, b = pairs[:, 0], pairs[:, 1]
    inner = shapely.relate_pattern(geoms[a], geoms[b], "2********")
    a, b = a[inner], b[inner]
    return a, b, shapely.area(shapely.intersection(geoms[a], geoms[b]))


def _tiles(x0: float, y0: float, x1: float, y1: float, features: int) -> list[tuple[float, float, float, float]]:
    n = max(1, math.ceil(features / TILE_FEATURES))
    w, h = max(x1 - x0, 1e-9), max(y1 - y0, 1e-9)
    nx = max(1, min(n, round(math.sqrt(n * w / h))))
    ny = max(1, math.ceil(n / nx))
    xs, ys = np.linspace(x0, x1, nx + 1), np.linspace(y0, y1, ny + 1)
    return [(xs[c], ys[r], xs[c + 1], ys[r + 1]) for r in range(ny) for c in range(nx)]


def check_version_overlaps(engine: Engine, version_id: int, srid: int) -> OverlapReport | None:
    """Find and keep the internal overlaps of one vector version (one transaction); None for a
    raster version. Checking again replaces what was kept."""
    t0 = time.perf_counter()
    with engine.begin() as sa_conn:
        conn = sa_conn.connection.driver_connection
        row = conn.execute(queries.OVERLAPS_VERSION, {"vid": version_id}).fetchone()
        if row is None:
            raise NotFoundError(f"没有图层版本 {version_id}", f"no layer version {version_id}")
        _, count, kind, x0, y0, x1, y1 = row
        if kind != "vector":
            return None
        found: dict[tuple[int, int], float] = {}
        tiles = _tiles(x0, y0, x1, y1, count) if count and x0 is not None else []
        for tx0, ty0, tx1, ty1 in tiles:
            with conn.cursor(binary=True) as cur:
                rows = cur.execute(queries.OVERLAPS_TILE_FEATURES, {
                    "vid": version_id, "x0": tx0, "y0": ty0, "x1": tx1, "y1": ty1, "srid": srid}).fetchall()
            if len(rows) < 2:
                continue
            fno = np.array([r[0] for r in rows])
            geoms = shapely.from_wkb([r[1] for r in rows])
            polygonal = np.isin(shapely.get_type_id(geoms), (3, 6))
            fno, geoms = fno[polygonal], geoms[polygonal]
            a, b, area = overlapping_pairs(geoms)
            for fa, fb, ar in zip(fno[a].tolist(), fno[b].tolist(), area.tolist()):
                found.setdefault((min(fa, fb), max(fa, fb)), ar)
        conn.execute(queries.OVERLAPS_CLEAR, {"vid": version_id})
        if found:
            with conn.cursor().copy(queries.OVERLAPS_COPY) as copy:
                for (fa, fb), ar in sorted(found.items()):
                    copy.write_row((version_id, fa, fb, ar))
        total = float(sum(found.values()))
        checked_at = conn.execute(queries.OVERLAPS_MARK, {"vid": version_id, "pairs": len(found),
                                                          "area": total}).fetchone()[0]
    _PAIRS.pop((url_key(engine), version_id), None)
    return OverlapReport(version_id, len(found), total, len(tiles), time.perf_counter() - t0, checked_at)


def check_after_load(engine: Engine, version_id: int, srid: int) -> OverlapReport | None:
    """:func:`check_version_overlaps` for a version just loaded: a failure is logged and leaves
    the version unchecked (checks then test its pieces themselves); the load stands."""
    try:
        return check_version_overlaps(engine, version_id, srid)
    except Exception:  # noqa: BLE001 - the load is committed; this check can be run again later
        log.warning("internal overlap check of version %s failed", version_id, exc_info=True)
        return None


def check_unchecked(engine: Engine, srid: int) -> list[OverlapReport]:
    """Check every vector version not checked yet (oldest first)."""
    with engine.connect() as conn:
        ids = [r[0] for r in conn.execute(queries.OVERLAPS_UNCHECKED)]
    return [r for vid in ids if (r := check_version_overlaps(engine, vid, srid)) is not None]


_BACKGROUND: dict[int, ThreadPoolExecutor] = {}  # by process id: threads do not survive a fork
_SCHEDULED: set[tuple[str, int]] = set()
_BACKGROUND_LOCK = threading.Lock()


_ENABLED = False


def enable_background_checks() -> None:
    """Let :func:`check_in_background` work in this process: for a long-running server only
    (a one-shot command would wait for the thread at exit)."""
    global _ENABLED
    _ENABLED = True


def check_in_background(engine: Engine, version_id: int, srid: int) -> None:
    """Check a version's internal overlaps in this process's background thread, once (for
    versions a long-running process meets unchecked, e.g. loaded through the web); nothing
    unless :func:`enable_background_checks` was called."""
    if not _ENABLED:
        return
    key = (url_key(engine), version_id)
    pid = os.getpid()
    with _BACKGROUND_LOCK:
        if key in _SCHEDULED:
            return
        _SCHEDULED.add(key)
        pool = _BACKGROUND.get(pid)
        if pool is None:
            _BACKGROUND.clear()
            pool = _BACKGROUND[pid] = ThreadPoolExecutor(1, thread_name_prefix="gisplat-overlaps")
    pool.submit(_background, engine, version_id, srid)


def _background(engine: Engine, version_id: int, srid: int) -> None:
    try:
        check_version_overlaps(engine, version_id, srid)
    except Exception:  # noqa: BLE001 - a background job has no caller to tell; checks go on without it
        log.warning("internal overlap check of version %s failed", version_id, exc_info=True)
        with _BACKGROUND_LOCK:
            _SCHEDULED.discard((url_key(engine), version_id))


_PAIRS: dict[tuple[str, int], dict[int, np.ndarray]] = {}
_PAIRS_LOCK = threading.Lock()


def overlap_partners(conn: Any, url: str, version_id: int) -> dict[int, np.ndarray]:
    """For a checked version: each feature in an overlap -> the features it overlaps (read once
    per process on the given psycopg connection; versions never change)."""
    key = (url, version_id)
    with _PAIRS_LOCK:
        hit = _PAIRS.get(key)
    if hit is not None:
        return hit
    rows = conn.execute(queries.OVERLAPS_PAIRS, {"vid": version_id}).fetchall()
    partners: dict[int, list[int]] = {}
    for a, b in rows:
        partners.setdefault(a, []).append(b)
        partners.setdefault(b, []).append(a)
    out = {k: np.asarray(v) for k, v in partners.items()}
    with _PAIRS_LOCK:
        if len(_PAIRS) > 256:
            _PAIRS.clear()
        _PAIRS[key] = out
    return out


def overlapping_features(session: Any, version_id: int) -> np.ndarray | None:
    """The features of a checked version that share interior with another of its features
    (sorted feature numbers; empty for a clean layer); None when the version is unchecked."""
    if session.execute(queries.OVERLAPS_CHECKED, {"vid": version_id}).scalar_one_or_none() is None:
        return None
    return np.asarray(session.execute(queries.OVERLAPS_FEATURES, {"vid": version_id}).scalars().all(),
                      dtype=np.int64)
