"""The partitioned job of a conflict run: one task per spatial tile.

A task reads the two sides' features whose boxes meet its tile, intersects every pair of
features (vectorised shapely/GEOS), explodes the result to single polygons, classifies,
filters slivers, enriches and COPYs its pieces into the run's stage table. It returns only
the per-pair areas the run needs for its data-quality accounting, so memory stays bounded by
one tile and tasks run anywhere: in the calling process, a local process pool or a Dask cluster.

A pair of features belongs to exactly one tile: the one holding the lower-left corner of the
intersection of their boxes. Pieces are never cut at tile edges, so the result does not
depend on the tiling (nor on which engine ran it).
"""

from __future__ import annotations

import gc
import math
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import psycopg
import shapely

from gis_platform.core import pgcopy

from . import queries

# Category / subtype codes are data (conflict_profiles.yaml); these are the keys the job emits.
CONSTRUCTION_CATS = ("01", "02", "03", "04")


@dataclass(frozen=True)
class SideSpec:
    """One side as a task reads it: version, per-code flag/group/name, and the features that
    overlap another feature of the side (sorted feature numbers from the version's internal
    overlap check, layers.overlaps; None when the version is unchecked)."""

    version_id: int
    flags: dict[str | None, int]
    groups: dict[str | None, str | None]
    names: dict[str | None, str | None]
    reasons: dict[str | None, str]
    overlapping: np.ndarray | None = field(default=None, compare=False)  # arrays do not compare as one value

    def clean(self, fids: np.ndarray) -> np.ndarray | None:
        """Which of these features are known to share interior with no other feature of the
        side (None when the version is unchecked: nothing is known)."""
        if self.overlapping is None:
            return None
        ov = self.overlapping  # sorted
        at = np.minimum(np.searchsorted(ov, fids), max(len(ov) - 1, 0))
        return ~(ov[at] == fids) if len(ov) else np.ones(len(fids), dtype=bool)


@dataclass(frozen=True)
class TileJob:
    """Everything a task needs (picklable: it travels to worker processes)."""

    dsn: str
    run_id: int
    stage: str
    srid: int
    mode: str
    a: SideSpec
    b: SideSpec
    compat: frozenset[tuple[str, str]]
    clip_wkb: bytes | None
    min_area: float
    tol: float
    admin: dict[str, tuple[tuple[int, ...], str, str]]
    flag_versions: dict[str, tuple[int, ...]]
    priorities: tuple[dict[str, Any], ...]


@dataclass(frozen=True)
class Tile:
    """A tile of the run's grid: half-open box [x0, x1) x [y0, y1)."""

    no: int
    x0: float
    y0: float
    x1: float
    y1: float


@dataclass
class TileResult:
    """What a task sends back: the pieces' pair keys and areas, and counts."""

    tile: int
    a_fid: np.ndarray
    b_fid: np.ndarray
    area: np.ndarray
    kept: int
    filtered: int
    seconds: float
    # Accounting of pieces that stand for several features of a side (overlap faces): each
    # covered feature is credited with the piece's area. None: credit a_fid / b_fid.
    a_credit: tuple[np.ndarray, np.ndarray] | None = None
    b_credit: tuple[np.ndarray, np.ndarray] | None = None


@dataclass
class Pieces:
    """Single-part polygons of a set of feature pairs with their sides' attributes."""

    geoms: np.ndarray
    a_fid: np.ndarray
    b_fid: np.ndarray
    a_code: np.ndarray
    a_raw: np.ndarray
    b_code: np.ndarray
    b_raw: np.ndarray
    part: np.ndarray
    a_fids: list[list[int] | None] = field(default_factory=list)
    b_fids: list[list[int] | None] = field(default_factory=list)
    overlap: np.ndarray | None = None  # True where a side is ambiguous (internal overlap)


def grid(extent: tuple[float, float, float, float], features: int, per_tile: int = 6000) -> list[Tile]:
    """A regular grid over ``extent`` with about ``per_tile`` features per tile."""
    x0, y0, x1, y1 = extent
    x1, y1 = x1 + 1.0, y1 + 1.0  # half-open tiles must hold the maximum corner too
    n = max(1, math.ceil(features / per_tile))
    w, h = x1 - x0, y1 - y0
    cols = max(1, round(math.sqrt(n * w / h))) if h > 0 else n
    rows = max(1, math.ceil(n / cols))
    dx, dy = w / cols, h / rows
    tiles = []
    for r in range(rows):
        for c in range(cols):
            tiles.append(Tile(len(tiles), x0 + c * dx, y0 + r * dy,
                              x1 if c == cols - 1 else x0 + (c + 1) * dx,
                              y1 if r == rows - 1 else y0 + (r + 1) * dy))
    return tiles


def read_features(conn: psycopg.Connection, version_id: int, box: tuple[float, float, float, float],
                  srid: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Feature numbers, codes, raw codes and geometries of a version whose boxes meet ``box``."""
    rows = conn.execute(queries.TILE_FEATURES, {"vid": version_id, "x0": box[0], "y0": box[1],
                                                "x1": box[2], "y1": box[3], "srid": srid},
                        binary=True).fetchall()
    if not rows:
        empty = np.empty(0, dtype=object)
        return np.empty(0, dtype=np.int64), empty, empty, empty
    fid, code, raw, wkb = zip(*rows, strict=True)
    return (np.asarray(fid, dtype=np.int64), np.asarray(code, dtype=object),
            np.asarray(raw, dtype=object), shapely.from_wkb(list(wkb)))


def _explode(inter: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Polygon parts of each input geometry, the input index of each, and its part number."""
    single = shapely.get_type_id(inter) == 3
    if single.all():
        parts, idx = inter, np.arange(len(inter))
    else:
        multi = np.flatnonzero(~single)
        mparts, midx = shapely.get_parts(inter[multi], return_index=True)
        parts = np.concatenate([inter[single], mparts])
        idx = np.concatenate([np.flatnonzero(single), multi[midx]])
        order = np.argsort(idx, kind="stable")
        parts, idx = parts[order], idx[order]
    keep = shapely.get_type_id(parts) == 3
    parts, idx = parts[keep], idx[keep]
    keep = shapely.area(parts) > 0
    parts, idx = parts[keep], idx[keep]
    if len(idx) == 0:
        return parts, idx, np.empty(0, dtype=np.int64)
    first = np.r_[True, idx[1:] != idx[:-1]]
    start = np.maximum.accumulate(np.where(first, np.arange(len(idx)), 0))
    return parts, idx, np.arange(len(idx)) - start + 1


def intersect_pairs(ga: np.ndarray, gb: np.ndarray, ia: np.ndarray, ib: np.ndarray,
                    clip: shapely.Geometry | None, skip_touching: bool = True
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Polygon pieces of A[ia] ∩ B[ib] (∩ clip), exploded: (parts, pair index, part number).

    Disjoint pairs are skipped before the costly overlay, and with ``skip_touching`` also pairs
    that only touch (edge or vertex: no area in common), which pays where many pairs touch
    (prepared predicates; the callers prepare both sides). Either way a pair without common
    area gives no piece.
    """
    hit = shapely.intersects(ga[ia], gb[ib])
    if skip_touching:
        hit[hit] = ~shapely.touches(ga[ia[hit]], gb[ib[hit]])
    ia, ib = ia[hit], ib[hit]
    a, b = ga[ia], gb[ib]
    inter = np.empty(len(ia), dtype=object)
    # Whole features need no overlay: a feature identical to the other (same vertices in the
    # same order: plans drawn on a shared base map) or inside it is the piece itself.
    twin = shapely.equals_exact(a, b, 0.0)
    a_in = twin.copy()
    a_in[~twin] = shapely.contains_properly(b[~twin], a[~twin])
    b_in = np.zeros(len(ia), dtype=bool)
    b_in[~a_in] = shapely.contains_properly(a[~a_in], b[~a_in])
    rest = ~(a_in | b_in)
    inter[a_in] = a[a_in]
    inter[b_in] = b[b_in]
    if rest.any():
        inter[rest] = shapely.intersection(a[rest], b[rest])
    if clip is not None and len(inter):
        out = ~shapely.covers(clip, inter)
        if out.any():
            inter[out] = shapely.intersection(inter[out], clip)
    parts, idx, part = _explode(inter)
    return parts, np.flatnonzero(hit)[idx], part


def lone_twins(ga: np.ndarray, gb: np.ndarray, ia: np.ndarray, ib: np.ndarray, ba: np.ndarray, bb: np.ndarray,
               a_clean: np.ndarray | None, b_clean: np.ndarray | None) -> np.ndarray:
    """Which candidate pairs (A[ia], B[ib]) cannot share interior because one of the two is an
    exact copy (same vertices in the same order) of a feature of the other side that overlaps
    no other feature of its own side: B[j] identical to a clean A[k] meets the interior of no
    A feature but A[k] (and the same the other way round). ``a_clean``/``b_clean``: per feature,
    known to overlap nothing on its side (None: unknown, no pair is dropped for that side)."""
    drop = np.zeros(len(ia), dtype=bool)
    if (a_clean is None and b_clean is None) or len(ia) == 0:
        return drop
    same = np.flatnonzero((ba[ia] == bb[ib]).all(axis=1))  # copies have the same box
    twin = np.zeros(len(ia), dtype=bool)
    twin[same] = shapely.equals_exact(ga[ia[same]], gb[ib[same]], 0.0)
    if a_clean is not None:
        lone_b = np.zeros(len(gb), dtype=bool)
        lone_b[ib[twin & a_clean[ia]]] = True
        drop |= lone_b[ib]
    if b_clean is not None:
        lone_a = np.zeros(len(ga), dtype=bool)
        lone_a[ia[twin & b_clean[ib]]] = True
        drop |= lone_a[ia]
    return drop & ~twin


def overlay_tile(ga: np.ndarray, gb: np.ndarray, tile: Tile, clip: shapely.Geometry | None,
                 a_clean: np.ndarray | None = None, b_clean: np.ndarray | None = None,
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Pieces of the pairs this tile owns: (parts, index into A, index into B, part number).

    ``a_clean``/``b_clean`` say which features are known to overlap no other feature of their
    side (see :func:`lone_twins`); pairs that cannot share interior then skip every test.
    """
    if len(ga) == 0 or len(gb) == 0:
        e = np.empty(0, dtype=np.int64)
        return np.empty(0, dtype=object), e, e, e
    tree = shapely.STRtree(gb)
    ia, ib = tree.query(ga)
    ba, bb = shapely.bounds(ga), shapely.bounds(gb)
    # Twins are found among all candidates: a feature's copy may pair with it in another tile.
    keep = ~lone_twins(ga, gb, ia, ib, ba, bb, a_clean, b_clean)
    ia, ib = ia[keep], ib[keep]
    ox = np.maximum(ba[ia, 0], bb[ib, 0])
    oy = np.maximum(ba[ia, 1], bb[ib, 1])
    own = (ox >= tile.x0) & (ox < tile.x1) & (oy >= tile.y0) & (oy < tile.y1)
    ia, ib = ia[own], ib[own]
    shapely.prepare(ga)
    shapely.prepare(gb)
    # Neighbours drawn on a shared base map touch; with their copies known to be lone (above),
    # few touching pairs are left, and testing every pair for touching costs more than their overlay.
    parts, pair, part = intersect_pairs(ga, gb, ia, ib, clip, skip_touching=a_clean is None and b_clean is None)
    return parts, ia[pair], ib[pair], part


def _lookup(table: dict[Any, Any], keys: np.ndarray, default: Any) -> np.ndarray:
    """Map an object array through a dict, looking each distinct key up once."""
    codes, uniques = pd.factorize(keys, use_na_sentinel=True)
    values = np.empty(len(uniques) + 1, dtype=object)
    for i, k in enumerate(uniques):
        values[i] = table.get(k, default)
    values[-1] = table.get(None, default)  # missing keys (None) are sentinel -1: the last slot
    return values[codes]


def classify(job: TileJob, p: Pieces) -> tuple[np.ndarray, np.ndarray]:
    """Category and subtype of every piece (object arrays of codes from the profile data)."""
    n = len(p.geoms)
    fa = _lookup(job.a.flags, p.a_code, -1).astype(np.int8)
    fb = _lookup(job.b.flags, p.b_code, -1).astype(np.int8) if job.mode == "construction" else np.zeros(n, np.int8)
    cat = np.empty(n, dtype=object)
    sub = np.full(n, None, dtype=object)
    if job.mode == "construction":
        cat[(fa == 1) & (fb == 1)] = "01"
        cat[(fa == 0) & (fb == 0)] = "02"
        cat[(fa == 1) & (fb == 0)] = "03"
        cat[(fa == 0) & (fb == 1)] = "04"
        unknown = (fa < 0) | (fb < 0)
    else:
        cat[fa == 1] = "C1"
        cat[fa == 0] = "C0"
        unknown = fa < 0
    if unknown.any():
        cat[unknown] = "unmapped"
        ra = _lookup(job.a.reasons, p.a_code, None)
        rb = _lookup(job.b.reasons, p.b_code, None) if job.mode == "construction" else np.full(n, None, object)
        sub[unknown] = np.where(fa[unknown] < 0, ra[unknown], rb[unknown])
    both = cat == "01"
    if both.any():
        ga = _lookup(job.a.groups, p.a_code, None)
        gb = _lookup(job.b.groups, p.b_code, None)
        for i in np.flatnonzero(both):
            x, y = ga[i], gb[i]
            if x is None or y is None:
                sub[i] = "use_uncompared"
            elif not (x == y or (x, y) in job.compat or (y, x) in job.compat):
                sub[i] = "use_inconsistent"
    if p.overlap is not None and p.overlap.any():
        cat[p.overlap] = "overlap"
        sub[p.overlap] = None
    return cat, sub


def sliver_reasons(geoms: np.ndarray, area: np.ndarray, min_area: float, tol: float) -> np.ndarray:
    """Why each piece is a sliver (None when it is kept): below ``min_area``, or gone under an
    inward buffer of ``tol``.

    The buffer is computed only where it could vanish: eroding a polygon by ``tol`` removes at
    most perimeter·tol plus π·tol² per vertex of its area, so a piece larger than that survives.
    """
    reason = np.full(len(geoms), None, dtype=object)
    small = area < min_area
    reason[small] = "min_area"
    if tol > 0:
        bound = shapely.length(geoms) * tol + shapely.get_num_coordinates(geoms) * math.pi * tol * tol
        maybe = np.flatnonzero(~small & (area <= bound))
        if len(maybe):
            gone = shapely.is_empty(shapely.buffer(geoms[maybe], -tol))
            reason[maybe[gone]] = "buffer"
    return reason


def _admin(conn: psycopg.Connection, job: TileJob, geoms: np.ndarray) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """County/township code and name of each piece (at a point on its surface)."""
    out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    n = len(geoms)
    if n == 0:
        return out
    box = tuple(shapely.total_bounds(geoms))
    for level, (vids, code_field, name_field) in job.admin.items():
        codes = np.full(n, None, dtype=object)
        names = np.full(n, None, dtype=object)
        rows = conn.execute(queries.TILE_ADMIN, {"vids": list(vids), "code_field": code_field, "name_field": name_field,
                                                 "x0": box[0], "y0": box[1], "x1": box[2], "y1": box[3],
                                                 "srid": job.srid}, binary=True).fetchall()
        if rows:
            adm = shapely.from_wkb([r[2] for r in rows])
            whole = shapely.covers(adm, shapely.box(*box))
            if whole.any():
                k = int(np.flatnonzero(whole)[0])
                codes[:], names[:] = rows[k][0], rows[k][1]
            else:
                pts = shapely.point_on_surface(geoms)
                ip, ia = shapely.STRtree(adm).query(pts, predicate="intersects")
                first = np.r_[True, ip[1:] != ip[:-1]] if len(ip) else np.empty(0, bool)
                for i, j in zip(ip[first], ia[first], strict=True):
                    codes[i], names[i] = rows[j][0], rows[j][1]
        out[level] = (codes, names)
    return out


def _flags(conn: psycopg.Connection, job: TileJob, geoms: np.ndarray) -> dict[str, np.ndarray]:
    """Per control-line flag: whether each piece overlaps it (interiors meet; None = no layer)."""
    out: dict[str, np.ndarray] = {}
    n = len(geoms)
    box = tuple(shapely.total_bounds(geoms)) if n else (0.0, 0.0, 0.0, 0.0)
    tree: shapely.STRtree | None = None
    for flag, vids in job.flag_versions.items():
        if not vids:
            out[flag] = np.full(n, None, dtype=object)
            continue
        hit = np.zeros(n, dtype=bool)
        if n:
            rows = conn.execute(queries.TILE_CONTROL, {"vids": list(vids), "x0": box[0], "y0": box[1],
                                                       "x1": box[2], "y1": box[3], "srid": job.srid},
                                binary=True).fetchall()
            if rows:
                ctrl = shapely.from_wkb([r[0] for r in rows])
                shapely.prepare(ctrl)  # few, large polygons, each tested against many pieces
                if tree is None:
                    tree = shapely.STRtree(geoms)
                ic, ip = tree.query(ctrl)
                # A piece (area > 0) inside a control polygon shares its interior; of those that
                # meet its boundary, all but the ones that only touch it from outside do.
                inside = shapely.contains_properly(ctrl[ic], geoms[ip])
                hit[ip[inside]] = True
                ic, ip = ic[~inside], ip[~inside]
                meet = shapely.intersects(ctrl[ic], geoms[ip])
                ic, ip = ic[meet], ip[meet]
                if len(ip):
                    # not touching = interiors meet, for geometries that intersect (a prepared
                    # touches is about 2.5 times faster than relate_pattern "T********")
                    inner = ~shapely.touches(ctrl[ic], geoms[ip])
                    hit[ip[inner]] = True
        out[flag] = hit.astype(object)
    return out


def priorities(job: TileJob, cat: np.ndarray, sub: np.ndarray, flags: dict[str, np.ndarray]) -> np.ndarray:
    """Priority of each piece: the first rule of the profile data that matches."""
    n = len(cat)
    prio = np.zeros(n, dtype=np.int16)
    todo = np.ones(n, dtype=bool)
    for rule in job.priorities:
        m = todo.copy()
        if rule.get("categories"):
            m &= np.isin(cat, rule["categories"])
        if rule.get("subtypes"):
            m &= np.isin(sub.astype(str), rule["subtypes"])
        if rule.get("any_flags"):
            any_ = np.zeros(n, dtype=bool)
            for f in rule["any_flags"]:
                any_ |= flags.get(f, np.full(n, None, object)) == True  # noqa: E712 (None is not True)
            m &= any_
        for f in rule.get("not_flags") or []:
            # Only a known False counts: with no such layer nothing is claimed.
            m &= flags.get(f, np.full(n, None, object)) == False  # noqa: E712
        prio[m] = int(rule["priority"])
        todo &= ~m
    prio[todo] = max(int(r["priority"]) for r in job.priorities)
    return prio


PATCHES_PER_TILE = 1_000_000  # patch_no = tile × this + the piece's place in its tile


def finish(conn: psycopg.Connection, job: TileJob, tile_no: int, p: Pieces) -> tuple[np.ndarray, int, int]:
    """Classify, filter, enrich, number and COPY pieces into the run's table; returns the areas
    (in the caller's order) and counts. Pieces are numbered in (A feature, B feature, part)
    order within the tile."""
    n = len(p.geoms)
    if n == 0:
        return np.empty(0), 0, 0
    order = np.lexsort((p.part, p.b_fid, p.a_fid))
    if not (order == np.arange(n)).all():
        p = Pieces(p.geoms[order], p.a_fid[order], p.b_fid[order], p.a_code[order], p.a_raw[order],
                   p.b_code[order], p.b_raw[order], p.part[order],
                   [p.a_fids[i] for i in order] if p.a_fids else [],
                   [p.b_fids[i] for i in order] if p.b_fids else [],
                   p.overlap[order] if p.overlap is not None else None)
    area = shapely.area(p.geoms)
    cat, sub = classify(job, p)
    reason = sliver_reasons(p.geoms, area, job.min_area, job.tol)
    admin = _admin(conn, job, p.geoms)
    flags = _flags(conn, job, p.geoms)
    prio = priorities(job, cat, sub, flags)
    none = np.full(n, None, dtype=object)
    cc, cn = admin.get("county", (none, none))
    tc, tn = admin.get("township", (none, none))
    wkb = shapely.to_wkb(p.geoms, byte_order=1, include_srid=False)  # the column's typmod sets the SRID
    kept = reason == None  # noqa: E711 (object array)
    fixed = pgcopy.fixed(len(queries.STAGE_FIXED) + len(queries.STAGE_TEXT) + len(queries.STAGE_FLAGS)
                         + len(queries.STAGE_ARRAYS) + 1, [
        ("int4", np.full(n, job.run_id)), ("int4", tile_no * PATCHES_PER_TILE + np.arange(1, n + 1)),
        ("bool", kept.astype(bool)), ("int4", p.a_fid), ("int4", p.b_fid), ("float8", area),
        ("int2", prio), ("int4", np.full(n, tile_no)), ("int4", p.part)])
    texts = [reason, cat, sub, p.a_code, p.a_raw, _lookup(job.a.names, p.a_code, None),
             p.b_code, p.b_raw, _lookup(job.b.names, p.b_code, None), cc, cn, tc, tn]
    flag_cols = [flags.get(f, none) for f in queries.STAGE_FLAGS]
    data = pgcopy.rows(
        fixed, *(pgcopy.text(t) for t in texts), *(pgcopy.booleans(f) for f in flag_cols),
        pgcopy.int4_arrays(p.a_fids or [None] * n), pgcopy.int4_arrays(p.b_fids or [None] * n),
        pgcopy.lengths(wkb), wkb)
    with conn.cursor() as cur, cur.copy(queries.stage_copy(job.stage)) as cp:
        cp.write(pgcopy.SIGNATURE + data + pgcopy.TRAILER)
    filtered = int(n - kept.sum())
    in_caller_order = np.empty(n)
    in_caller_order[order] = area
    return in_caller_order, n - filtered, filtered


_CLIP_CACHE = threading.local()


def clip_geometry(job: TileJob) -> shapely.Geometry | None:
    """The run's clip region, prepared once per thread (GEOS builds a prepared geometry's
    indexes on first use, so threads never share one)."""
    if job.clip_wkb is None:
        return None
    cached = getattr(_CLIP_CACHE, "entry", None)
    if cached is None or cached[0] != job.clip_wkb:
        g = shapely.from_wkb(job.clip_wkb)
        shapely.prepare(g)
        cached = _CLIP_CACHE.entry = (job.clip_wkb, g)
    return cached[1]


_HELD = threading.local()


TILE_APPLICATION = "gisplat-conflict-tiles"  # application_name of the tiles' connections


def _connection(dsn: str) -> tuple[psycopg.Connection, bool]:
    """This thread's connection to the store, kept from one tile to the next (a new one costs
    about 13 ms: a server process and the SCRAM exchange), and whether it was kept. Autocommit,
    never prepared: each statement is planned for its own version and box, as on a new one."""
    held = getattr(_HELD, "conn", None)
    if held is not None:
        pid, key, conn = held
        if pid == os.getpid() and key == dsn and not conn.closed and not conn.broken:
            return conn, True
        release_connection()
    conn = psycopg.connect(dsn, autocommit=True, prepare_threshold=None, application_name=TILE_APPLICATION)
    _HELD.conn = (os.getpid(), dsn, conn)
    return conn, False


def release_connection() -> None:
    """Close this thread's kept connection, if any (a command's own thread when its run ends;
    after a failed tile, whatever state the connection was left in)."""
    held = getattr(_HELD, "conn", None)
    _HELD.conn = None
    if held is not None and held[0] == os.getpid():
        try:
            held[2].close()
        except psycopg.Error:
            pass


_GC_LOCK = threading.Lock()
_GC_PAUSES = [0, False]  # tiles running in this process, whether collection was on before the first


@contextmanager
def collection_paused() -> Iterator[None]:
    """Python's automatic garbage collection paused while tiles run in this process.

    Shapely geometries are objects the cyclic collector tracks, and a tile makes tens of
    thousands of them: the collector's full passes, which walk every tracked object of the
    process, then cost about 5 % of a tile although geometries never form cycles (they are
    freed by reference counting as soon as the tile drops them). Threads running tiles side by
    side (a Dask worker) share one count; the last one out turns collection back on, if it was
    on when the first came in.
    """
    with _GC_LOCK:
        if _GC_PAUSES[0] == 0:
            _GC_PAUSES[1] = gc.isenabled()
            gc.disable()
        _GC_PAUSES[0] += 1
    try:
        yield
    finally:
        with _GC_LOCK:
            _GC_PAUSES[0] -= 1
            if _GC_PAUSES[0] == 0 and _GC_PAUSES[1]:
                gc.enable()


def run_tile(job: TileJob, tile: Tile) -> TileResult:
    """The task: overlay one tile and store its pieces. Safe to run in any process (garbage
    collection is paused meanwhile: :func:`collection_paused`)."""
    with collection_paused():
        return _run_tile(job, tile)


def _run_tile(job: TileJob, tile: Tile) -> TileResult:
    """Overlay one tile and store its pieces.

    A kept connection may have been closed by the server since the last tile (a restart, an
    idle timeout): the tile then runs once more on a new one. That is safe because its only
    write, the COPY, is its last statement and stores all of its pieces or none (were a COPY
    stored whose answer was lost, the run's unique patch numbers would refuse the second).
    """
    t0 = time.perf_counter()
    box = (tile.x0, tile.y0, tile.x1, tile.y1)
    while True:
        conn, kept_conn = _connection(job.dsn)
        try:
            fa, ca, ra, ga = read_features(conn, job.a.version_id, box, job.srid)
            fb, cb, rb, gb = read_features(conn, job.b.version_id, box, job.srid)
            parts, ia, ib, part = overlay_tile(ga, gb, tile, clip_geometry(job), job.a.clean(fa), job.b.clean(fb))
            p = Pieces(parts, fa[ia], fb[ib], ca[ia], ra[ia], cb[ib], rb[ib], part)
            area, kept, filtered = finish(conn, job, tile.no, p)
            break
        except psycopg.OperationalError:
            release_connection()
            if not kept_conn:
                raise
        except BaseException:
            release_connection()
            raise
    return TileResult(tile.no, p.a_fid.astype(np.int32), p.b_fid.astype(np.int32), area, kept, filtered,
                      time.perf_counter() - t0)
