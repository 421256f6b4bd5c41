"""Plan-vs-plan conflict runs (差异图斑, DOMAIN.md §4): set-up, the partitioned job, the
data-quality pass and the final transaction.

The run reads the newest version of each side, builds each side's crosswalk from the code
tables and the profile, cuts the common extent into tiles and hands the tiles to an engine
(a local process pool, or a Dask cluster). Tasks write pieces into the run's own stage
table. Then the run checks the areas: where the pieces of a feature add up to more than the
feature, the other side has overlapping features there (a data-quality finding; those pieces
are recomputed from the overlap-free faces so nothing is counted twice); where they add up to
less, the other side has no data there. Finally one transaction numbers the patches into the
run's partition, stores the run with its parameters and the exact versions, and carries over
the resolutions of the previous run of the same pair whose patches still exist.
"""

from __future__ import annotations

import datetime as dt
import json
import multiprocessing
import multiprocessing.util
import os
import select
import threading
import time
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any

import numpy as np
import psycopg
import shapely
from psycopg.rows import namedtuple_row
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from gis_platform.core import audit
from gis_platform.core.db import session_scope
from gis_platform.core.errors import ComputeError, InputError, NotFoundError
from gis_platform.core.settings import Settings
from layers.overlaps import overlapping_features
from plans import queries as plan_queries
from plans.service import resolve_layer

from . import queries
from .conflict_profiles import Profile, ProfileBook, build_crosswalk, check_side_scheme, profile_book
from .conflict_tiles import (Pieces, SideSpec, Tile, TileJob, TileResult, finish, grid, intersect_pairs,
                             release_connection, run_tile)

ENGINES = ("local", "dask")
DEFAULT_MIN_AREA_M2 = 400.0   # DOMAIN.md §4: order of the 三调 minimum mapping unit
DEFAULT_TOLERANCE_M = 1.0     # DOMAIN.md §4: survey-grade data; 5 m for 1:10 000 digitising
UNCOVERED_GEOMETRY_LIMIT = 5000
CARRY_IOU = 0.9             # a patch is the same place when IoU >= 0.9
WALL_TO_WALL_COVERAGE = "features"


@dataclass
class SideInfo:
    """One side of a run as the set-up found it."""

    ref: str
    layer_id: int
    version_id: int
    version: int
    sha256: str
    scheme: str | None
    coverage: str
    declared_coverage: bool  # coverage given apart from the features (extent or a layer)
    feature_count: int
    extent: tuple[float, float, float, float]


def _side(session: Session, ref: str) -> SideInfo:
    layer = resolve_layer(session, ref)
    if layer.data_kind != "vector":
        raise InputError(f"图层 {ref} 不是矢量图层", f"layer {ref} is not a vector layer")
    v = session.execute(plan_queries.version_of(layer.id, None)).scalar_one_or_none()
    if v is None or not v.feature_count:
        raise NotFoundError(f"图层 {ref} 尚无数据", f"layer {ref} has no data yet")
    ext = session.execute(queries.VERSION_EXTENT, {"vid": v.id}).one()
    plan_code = session.execute(queries.PLAN_CODE_OF_LAYER, {"id": layer.id}).scalar_one()
    return SideInfo(f"{plan_code}/{layer.name}", layer.id, v.id, v.version, v.source_sha256,
                    layer.class_scheme, layer.coverage, layer.coverage != WALL_TO_WALL_COVERAGE,
                    v.feature_count, tuple(ext))


def _coverage_clip(session: Session, side: SideInfo) -> shapely.Geometry | None:
    """Where a side has data, when its features do not say it themselves."""
    if side.coverage == WALL_TO_WALL_COVERAGE:
        return None
    if side.coverage == "extent":
        return shapely.box(*side.extent)
    ref = _side(session, side.coverage)
    wkb = session.execute(queries.REF_COVERAGE, {"vid": ref.version_id}).scalar_one()
    return shapely.from_wkb(bytes(wkb)) if wkb is not None else None


def _crosswalk_spec(session: Session, book: ProfileBook, profile: Profile, side: SideInfo,
                    switches: dict[str, bool]) -> SideSpec:
    codes = [r[0] for r in session.execute(queries.DISTINCT_CODES, {"vid": side.version_id})]
    table = {}
    if side.scheme:
        table = {r.code: (r.name_zh, r.is_construction)
                 for r in session.execute(queries.SCHEME_TABLE, {"scheme": side.scheme})}
    cw = build_crosswalk(book, profile, side.scheme, codes, table, switches)
    return SideSpec(side.version_id, cw.flags, cw.groups, cw.names, cw.reasons,
                    overlapping_features(session, side.version_id))


def _theme_versions(session: Session, theme: str) -> list[tuple[int, int, str]]:
    return [(r.layer_id, r.version_id, r.source_sha256)
            for r in session.execute(queries.NEWEST_VERSIONS_OF_THEME, {"theme": theme})]


def _dsn(engine: Engine) -> str:
    url = engine.url.render_as_string(hide_password=False)
    return "postgresql://" + url.split("://", 1)[1]


# --- engines -------------------------------------------------------------------------------

_POOLS: dict[int, ProcessPoolExecutor] = {}
_POOLS_LOCK = threading.Lock()


def _shutdown_pools() -> None:
    """Stop the pools' workers and wait for them (idle at exit: a few milliseconds). Waiting
    matters: multiprocessing's next exit finalizers stop the queues' feeder threads, and a
    worker whose stop message was still queued then would never get it."""
    for pool in _POOLS.values():
        pool.shutdown(wait=True, cancel_futures=True)
    _POOLS.clear()


def _local_pool(workers: int) -> ProcessPoolExecutor:
    """A process pool kept for the life of the process; shut down at exit so a process that ran
    a conflict analysis still exits promptly.

    Its workers are forked from this process when it has a single thread (a command, before its
    run starts any): they start at once with what it has imported, and no other thread can hold
    a lock they would inherit; all of them are forked there and then (the executor forks every
    worker before it starts its own thread). A process with threads (a server) has its workers
    forked from a clean forkserver instead, which first imports the tile module (about a second).
    """
    with _POOLS_LOCK:
        pool = _POOLS.get(workers)
        if pool is None:
            if not _POOLS:
                # Run by multiprocessing's exit function before it joins a multiprocessing
                # child's own children: without it such a child would wait for its pool's
                # workers forever (a plain process runs the same function at exit).
                multiprocessing.util.Finalize(None, _shutdown_pools, exitpriority=100)
            if threading.active_count() == 1:
                ctx = multiprocessing.get_context("fork")
            else:
                ctx = multiprocessing.get_context("forkserver")
                ctx.set_forkserver_preload(["conflict_checks.conflict_tiles"])
            pool = _POOLS[workers] = ProcessPoolExecutor(max_workers=workers, mp_context=ctx,
                                                         initializer=_end_with, initargs=(os.getpid(),))
            if ctx.get_start_method() == "fork":
                pool.submit(os.getpid)  # forks every worker now, while this is the only thread
    return pool


def _discard_pool(workers: int, pool: ProcessPoolExecutor) -> None:
    """Forget a broken pool (one of its workers died: the OOM killer, kill -9, a crash), so the
    next submission starts a new one; a long-running server would otherwise fail every run
    until restarted. Its other workers were already ended by the executor."""
    with _POOLS_LOCK:
        if _POOLS.get(workers) is pool:
            del _POOLS[workers]
    pool.shutdown(wait=False, cancel_futures=True)


def _submit(workers: int, fn: Any, *args: Any) -> tuple[ProcessPoolExecutor, Future]:
    """Submit to the kept pool of ``workers`` processes; one found broken (a worker died while
    it waited, between runs) is replaced first, since nothing it held is lost."""
    pool = _local_pool(workers)
    try:
        return pool, pool.submit(fn, *args)
    except BrokenProcessPool:
        _discard_pool(workers, pool)
        pool = _local_pool(workers)
        return pool, pool.submit(fn, *args)


def _end_with(pid: int) -> None:
    """In a pool worker: end as soon as process ``pid`` (the one whose pool it is) ends. A worker
    waits for its next tile on a pipe it holds both ends of, so a process killed outright (the
    OOM killer, kill -9) would otherwise leave its workers (and a forkserver, which they keep
    alive) waiting for ever, each holding its memory and a store connection. Watched through a
    pidfd (Linux 5.3+) by a thread that only waits; elsewhere workers end with their pool."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        os._exit(1)
    except (AttributeError, OSError):
        return
    threading.Thread(target=_exit_when_ended, args=(fd,), name="gisplat-parent-watch", daemon=True).start()


def _exit_when_ended(pidfd: int) -> None:
    select.select([pidfd], [], [])
    os._exit(1)  # a tile in flight is rolled back by the store: its COPY never committed


def _warm_pool(workers: int, in_process: bool) -> None:
    """Have the pool's processes start while the run sets itself up: from a forkserver, a new
    pool's first process takes over a second before it can take a tile (and starting it waits
    for the forkserver: so from a thread of its own); forked from this process, at once."""
    remote = workers - 1 if in_process else workers
    if workers <= 1 or remote <= 0:
        return
    if threading.active_count() == 1:
        _start_pool(remote)
    else:
        threading.Thread(target=_start_pool, args=(remote,), name="gisplat-pool-start", daemon=True).start()


def _start_pool(remote: int) -> None:
    try:
        for _ in range(remote):
            _submit(remote, os.getpid)
    except Exception:  # noqa: BLE001 - the run's own submissions report a pool that cannot start
        pass


class _TileQueue:
    """Tiles handed out one at a time to whoever is free (tile costs are not known in advance,
    so one at a time keeps every worker busy to the end); emptied at the first failure."""

    def __init__(self, tiles: list[Tile]) -> None:
        self._tiles = tiles
        self._next = 0
        self._lock = threading.Lock()
        self.results: list[TileResult | None] = [None] * len(tiles)

    def take(self) -> int | None:
        with self._lock:
            if self._next >= len(self._tiles):
                return None
            self._next += 1
            return self._next - 1

    def stop(self) -> None:
        with self._lock:
            self._next = len(self._tiles)


def _run_local(job: TileJob, tiles: list[Tile], workers: int, in_process: bool = True) -> list[TileResult]:
    """The tiles on ``workers`` workers: this process and ``workers - 1`` pool processes, or
    (``in_process`` False) ``workers`` pool processes. Working here pays for a one-shot command:
    this process works from the start, while the pool's processes are still starting (about a
    second: the forkserver imports the tile module first). A server keeps its pool warm and its
    own threads free for requests. Each pool process is fed by a thread here that only waits."""
    if workers <= 1 or len(tiles) == 1:
        try:
            return [run_tile(job, t) for t in tiles]
        finally:
            release_connection()
    queue = _TileQueue(tiles)
    remote = workers - 1 if in_process else workers

    def feed() -> None:
        try:
            while (k := queue.take()) is not None:
                pool, fut = _submit(remote, run_tile, job, tiles[k])
                try:
                    queue.results[k] = fut.result()
                except BrokenProcessPool:
                    _discard_pool(remote, pool)
                    raise ComputeError(
                        "差异分析的计算进程意外退出（可能内存不足或被终止），本次分析未保存；"
                        "请重试，或以更小的 --per-tile 减少每个分块的内存",
                        "a worker process of the conflict analysis ended unexpectedly (out of memory or "
                        "killed); nothing was stored: run it again, or with a smaller --per-tile") from None
        except BaseException:
            queue.stop()
            raise

    with ThreadPoolExecutor(remote, thread_name_prefix="gisplat-feed") as feeders:
        fed = [feeders.submit(feed) for _ in range(remote)]
        try:
            while in_process and (k := queue.take()) is not None:
                queue.results[k] = run_tile(job, tiles[k])
        except BaseException:
            queue.stop()
            raise
        finally:
            release_connection()
        for f in fed:
            f.result()
    done = [r for r in queue.results if r is not None]
    if len(done) != len(tiles):  # every worker ended without an error, so every tile has its result
        raise RuntimeError(f"{len(tiles) - len(done)} tiles of the run were not cut")
    return done


def _run_dask(job: TileJob, tiles: list[Tile], workers: int, address: str | None) -> list[TileResult]:
    from distributed import Client, LocalCluster

    if address:
        with Client(address) as client:
            return client.gather(client.map(run_tile, [job] * len(tiles), tiles, pure=False))
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        return client.gather(client.map(run_tile, [job] * len(tiles), tiles, pure=False))


# --- data-quality pass -----------------------------------------------------------------------

def _execute(dsn: str, sql: str) -> None:
    """One statement on its own autocommit connection (index builds run side by side)."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql)


def _fetch(dsn: str, sql: str) -> list[Any]:
    """The rows (named tuples) of one query on its own autocommit connection."""
    with psycopg.connect(dsn, autocommit=True, row_factory=namedtuple_row) as conn:
        return conn.execute(sql).fetchall()


def _feature_areas(dsn: str, vids: tuple[int, int], clip: bytes | None, srid: int) -> list[np.ndarray]:
    """Each feature's area inside the clip, indexed by feature number, for each version."""
    out = []
    with psycopg.connect(dsn, autocommit=True) as conn:
        for vid in vids:
            rows = conn.execute(queries.FEATURE_AREAS, {"vid": vid, "clip": clip, "srid": srid},
                                binary=True).fetchall()
            fid = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
            area = np.fromiter((r[1] or 0.0 for r in rows), dtype=np.float64, count=len(rows))
            arr = np.zeros(int(fid.max()) + 1 if len(fid) else 1)
            arr[fid] = area
            out.append(arr)
    return out


def _sums(fids: np.ndarray, area: np.ndarray, n: int) -> np.ndarray:
    return np.bincount(fids, weights=area, minlength=n)[:n] if len(fids) else np.zeros(n)


def _load(conn: psycopg.Connection, sql: str, params: dict[str, Any]) -> tuple[np.ndarray, list, list, np.ndarray]:
    rows = conn.execute(sql, params, binary=True).fetchall()
    if not rows:
        return np.empty(0, np.int64), [], [], np.empty(0, object)
    return (np.array([r[0] for r in rows], np.int64), [r[1] for r in rows], [r[2] for r in rows],
            shapely.from_wkb([r[3] for r in rows]))


def _overlapping(geoms: np.ndarray) -> list[tuple[int, int]]:
    """Index pairs of polygons whose interiors meet (area overlap, not touching)."""
    if len(geoms) < 2:
        return []
    i, j = shapely.STRtree(geoms).query(geoms, predicate="intersects")
    m = i < j
    i, j = i[m], j[m]
    inner = shapely.relate_pattern(geoms[i], geoms[j], "T********")
    return list(zip(i[inner].tolist(), j[inner].tolist(), strict=True))


@dataclass
class Faces:
    """Overlap-free faces of a set of features: each face with the features covering it."""

    geoms: np.ndarray
    fids: list[list[int]]
    codes: list[str | None]
    raws: list[str | None]
    ambiguous: np.ndarray


def _faces(fids: np.ndarray, codes: list, raws: list, geoms: np.ndarray) -> Faces:
    """Split features into faces where they overlap (polygonize their noded boundaries)."""
    edges = shapely.union_all(shapely.boundary(geoms))
    faces = np.asarray(shapely.get_parts(shapely.polygonize(shapely.get_parts(edges))), dtype=object)
    pts = shapely.point_on_surface(faces)
    ip, ig = shapely.STRtree(geoms).query(pts, predicate="within")
    cover: dict[int, list[int]] = {}
    for p, g in zip(ip.tolist(), ig.tolist(), strict=True):
        cover.setdefault(p, []).append(g)
    keep = sorted(cover)
    out_f, out_c, out_r, amb = [], [], [], []
    for p in keep:
        gs = sorted(cover[p], key=lambda g: fids[g])
        cs = {codes[g] for g in gs}
        out_f.append([int(fids[g]) for g in gs])
        amb.append(len(cs) > 1)
        out_c.append(None if len(cs) > 1 else codes[gs[0]])
        out_r.append("|".join(sorted(str(raws[g] if raws[g] is not None else codes[g]) for g in gs))
                     if len(cs) > 1 else raws[gs[0]])
    return Faces(faces[keep], out_f, out_c, out_r, np.array(amb, dtype=bool))


def _correct_overlaps(conn: psycopg.Connection, job: TileJob, clip: shapely.Geometry | None,
                      pairs: tuple[np.ndarray, np.ndarray], over_a: set[int], over_b: set[int],
                      correction_tile: int) -> tuple[list[dict[str, Any]], TileResult]:
    """Recompute the pieces of overlapping features from overlap-free faces; report overlaps."""
    pa, pb = pairs
    sa = set(over_a) | set(pa[np.isin(pb, list(over_b))].tolist())
    sb = set(over_b) | set(pb[np.isin(pa, list(over_a))].tolist())
    fa = _faces(*_load(conn, queries.FEATURES_BY_FID, {"vid": job.a.version_id, "fids": sorted(sa)}))
    fb = _faces(*_load(conn, queries.FEATURES_BY_FID, {"vid": job.b.version_id, "fids": sorted(sb)}))
    dq = []
    for side, f in (("A", fa), ("B", fb)):
        for k in np.flatnonzero([len(x) > 1 for x in f.fids]):
            dq.append({"side": side, "kind": "overlap", "fids": f.fids[k],
                       "codes": sorted({str(c) for c in f.raws[k].split("|")}) if f.ambiguous[k]
                       else [str(f.codes[k])],
                       "area_m2": float(shapely.area(f.geoms[k])), "geom": f.geoms[k]})
    conn.execute(queries.stage_delete_pairs(job.run_id), {"a_fids": sorted(over_a), "b_fids": sorted(over_b)})
    ia, ib = shapely.STRtree(fb.geoms).query(fa.geoms) if len(fa.geoms) and len(fb.geoms) else (np.empty(0, int),) * 2
    redo = np.array([any(x in over_a for x in fa.fids[i]) or any(y in over_b for y in fb.fids[j])
                     for i, j in zip(ia.tolist(), ib.tolist(), strict=True)], dtype=bool)
    ia, ib = ia[redo], ib[redo]
    shapely.prepare(fa.geoms)
    shapely.prepare(fb.geoms)
    parts, pair, _ = intersect_pairs(fa.geoms, fb.geoms, ia, ib, clip)
    ia, ib = ia[pair], ib[pair]
    a_fid = np.array([fa.fids[i][0] for i in ia], np.int64)
    b_fid = np.array([fb.fids[j][0] for j in ib], np.int64)
    part = np.zeros(len(parts), np.int64)
    seen: dict[tuple[int, int], int] = {}
    for k, key in enumerate(zip(a_fid.tolist(), b_fid.tolist(), strict=True)):
        seen[key] = seen.get(key, 0) + 1
        part[k] = seen[key]
    obj = lambda xs: np.array(xs, dtype=object)  # noqa: E731
    p = Pieces(parts, a_fid, b_fid, obj([fa.codes[i] for i in ia]), obj([fa.raws[i] for i in ia]),
               obj([fb.codes[j] for j in ib]), obj([fb.raws[j] for j in ib]), part,
               [fa.fids[i] if len(fa.fids[i]) > 1 else None for i in ia],
               [fb.fids[j] if len(fb.fids[j]) > 1 else None for j in ib],
               fa.ambiguous[ia] | fb.ambiguous[ib])
    area, kept, filtered = finish(conn, job, correction_tile, p)

    def credit(fids: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
        f = [x for xs in fids for x in xs]
        w = [float(area[k]) for k, xs in enumerate(fids) for _ in xs]
        return np.array(f, np.int64), np.array(w)

    return dq, TileResult(-1, a_fid, b_fid, area, kept, filtered, 0.0,
                          credit([fa.fids[i] for i in ia]), credit([fb.fids[j] for j in ib]))


def _gaps(conn: psycopg.Connection, side: str, own_vid: int, other_vid: int, deficit: np.ndarray,
          covered: np.ndarray, clip: shapely.Geometry | None) -> list[dict[str, Any]]:
    """Gaps of ``side`` inside its declared coverage, found under the other side's features:
    one finding per such feature, with the part of it ``side`` does not cover."""
    fids = np.flatnonzero(deficit)
    order = fids[np.argsort(-deficit[fids], kind="stable")][:UNCOVERED_GEOMETRY_LIMIT]
    order = np.sort(order)
    if not len(order):
        return []
    of, oc, orw, og = _load(conn, queries.FEATURES_BY_FID, {"vid": other_vid, "fids": order.tolist()})
    sf, _, _, sg = _load(conn, queries.FEATURES_MEETING, {"vid": own_vid, "other": other_vid,
                                                          "fids": order.tolist()})
    tree = shapely.STRtree(sg) if len(sg) else None
    out = []
    for k, fid in enumerate(of.tolist()):
        g = og[k]
        if clip is not None:
            g = shapely.intersection(g, clip)
        if covered[fid] > 0 and tree is not None:
            near = tree.query(g, predicate="intersects")
            if len(near):
                g = shapely.difference(g, shapely.union_all(sg[near]))
        out.append({"side": side, "kind": "gap", "fids": [fid],
                    "codes": [str(oc[k] if oc[k] is not None else orw[k])],
                    "area_m2": float(deficit[fid]), "geom": g})
    return out


# --- the run -------------------------------------------------------------------------------

def _profile(profile_name: str, switches: dict[str, bool] | None) -> Profile:
    """The named profile, once every switch asked for is one of its own."""
    profile = profile_book().profile(profile_name)
    for key in switches or {}:
        if key not in profile.switches:
            raise InputError(f"比对方案“{profile.zh}”没有开关 {key}", f"profile '{profile.en}' has no switch '{key}'")
    return profile


def _sides(s: Session, profile: Profile, a_ref: str, b_ref: str) -> tuple[SideInfo, SideInfo]:
    """Both sides, refused when they are one layer or a scheme the profile does not read."""
    a, b = _side(s, a_ref), _side(s, b_ref)
    if a.layer_id == b.layer_id:
        raise InputError("两侧是同一图层", "both sides are the same layer")
    check_side_scheme(profile, "A", a.scheme, a.ref)
    check_side_scheme(profile, "B", b.scheme, b.ref)
    return a, b


def check_request(engine: Engine, a_ref: str, b_ref: str, profile_name: str,
                  switches: dict[str, bool] | None = None) -> None:
    """Refuse a run that cannot start (unknown profile, switch or layer, wrong scheme) before it
    is queued, so a background run fails at once with the same message."""
    profile = _profile(profile_name, switches)
    with session_scope(engine) as s:
        _sides(s, profile, a_ref, b_ref)


def run_conflicts(engine: Engine, settings: Settings, a_ref: str, b_ref: str, profile_name: str = "landuse_vs_urban",
                  *, min_area: float | None = None, tolerance: float | None = None,
                  switches: dict[str, bool] | None = None, engine_name: str = "local",
                  workers: int | None = None, dask_address: str | None = None,
                  actor: str | None = None, per_tile: int = 6000, in_process: bool = True) -> int:
    """Run the conflict analysis of ``a_ref`` against ``b_ref``; returns the new run id.

    ``in_process``: with the local engine, this process is one of the ``workers`` (right for a
    command run once); a long-running server passes False and leaves all tiles to its pool.
    """
    if engine_name not in ENGINES:
        raise InputError(f"未知的计算引擎“{engine_name}”（local 或 dask）",
                         f"unknown engine '{engine_name}' (local or dask)")
    book = profile_book()
    switches = dict(switches or {})
    profile = _profile(profile_name, switches)
    params = {"min_area_m2": DEFAULT_MIN_AREA_M2 if min_area is None else float(min_area),
              "tolerance_m": DEFAULT_TOLERANCE_M if tolerance is None else float(tolerance),
              "switches": {k: switches.get(k, bool(sw.get("default", True))) for k, sw in profile.switches.items()}}
    if params["min_area_m2"] < 0 or params["tolerance_m"] < 0:
        raise InputError("最小面积和容差不能为负", "minimum area and tolerance cannot be negative")
    if per_tile < 1 or (workers is not None and workers < 1):
        raise InputError("分块要素数与并行进程数须为正整数", "features per tile and workers must be positive")
    workers = workers or min(os.cpu_count() or 1, 8)
    started = dt.datetime.now(dt.timezone.utc)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    srid = settings.store_srid

    with session_scope(engine) as s:
        a, b = _sides(s, profile, a_ref, b_ref)
        if engine_name == "local" and a.feature_count + b.feature_count > per_tile:  # more than one tile
            _warm_pool(workers, in_process)
        spec_a = _crosswalk_spec(s, book, profile, a, params["switches"])
        spec_b = _crosswalk_spec(s, book, profile, b, params["switches"])
        clips = [c for c in (_coverage_clip(s, a), _coverage_clip(s, b)) if c is not None]
        clip = None
        if clips:
            clip = clips[0] if len(clips) == 1 else shapely.intersection(clips[0], clips[1])
        ext = shapely.intersection(shapely.box(*a.extent), shapely.box(*b.extent))
        if clip is not None:
            ext = shapely.intersection(ext, shapely.envelope(clip))
        if ext.is_empty or ext.area == 0:
            raise InputError(f"{a.ref} 与 {b.ref} 没有共同范围，无法比对",
                             f"{a.ref} and {b.ref} have no common extent to compare")
        enrich = book.enrichment
        admin, versions = {}, {"a": [a.version_id, a.sha256], "b": [b.version_id, b.sha256]}
        for level, cfg in enrich["admin"].items():
            found = _theme_versions(s, cfg["theme"])
            if found:
                admin[level] = (tuple(f[1] for f in found), cfg["code_field"], cfg["name_field"])
                versions[level] = [[f[1], f[2]] for f in found]
        flag_versions = {}
        for flag, theme in enrich["flags"].items():
            found = [f for f in _theme_versions(s, theme) if f[0] not in (a.layer_id, b.layer_id)]
            flag_versions[flag] = tuple(f[1] for f in found)
            versions[flag] = [[f[1], f[2]] for f in found]
        run_id = int(s.execute(queries.RESERVE_RUN_ID).scalar_one())
        clip_wkb = shapely.to_wkb(clip) if clip is not None else None
    job = TileJob(_dsn(engine), run_id, queries.stage_name(run_id), srid, profile.mode, spec_a, spec_b,
                  book.compat, clip_wkb, params["min_area_m2"], params["tolerance_m"], admin, flag_versions,
                  tuple(book.priorities))
    tiles = grid(tuple(ext.bounds), a.feature_count + b.feature_count, per_tile)
    timings["setup_s"] = time.perf_counter() - t0

    _drop_orphans(engine)
    # This run's advisory lock, held on its own connection for the whole run, tells a later run
    # that the run's table is in use (not an orphan of a killed process).
    lock = engine.connect()
    lock.execute(queries.TRY_RUN_LOCK, {"ns": queries.RUN_LOCK_KEY, "id": run_id})
    with engine.connect() as c:
        for stmt in queries.stage_ddl(run_id).split(";"):
            c.exec_driver_sql(stmt)
        c.commit()
    try:
        t1 = time.perf_counter()
        # Each feature's area (for the data-quality pass) is read while the tiles run.
        with ThreadPoolExecutor(1, thread_name_prefix="gisplat-areas") as side_pool:
            areas = side_pool.submit(_feature_areas, job.dsn, (a.version_id, b.version_id), clip_wkb, srid)
            if engine_name == "dask":
                results = _run_dask(job, tiles, workers, dask_address)
            else:
                results = _run_local(job, tiles, workers, in_process)
            area_a, area_b = areas.result()
        timings["tiles_s"] = time.perf_counter() - t1
        t2 = time.perf_counter()
        dq, results, no_data = _quality_pass(job, a, b, clip, results, area_a, area_b, len(tiles))
        timings["quality_s"] = time.perf_counter() - t2
        t3 = time.perf_counter()
        # The indexes are built and the summary read side by side, each on its own connection
        # (the stage table is complete: no statement of the run writes to it any more).
        with ThreadPoolExecutor(3, thread_name_prefix="gisplat-index") as index_pool:
            summary_rows = index_pool.submit(_fetch, job.dsn, queries.stage_summary(run_id))
            list(index_pool.map(_execute, [job.dsn] * 2, queries.partition_index_ddl(run_id)))
            summary_rows = summary_rows.result()
        with session_scope(engine) as s:
            summary = _summary(summary_rows, results, dq, a, b, area_a, area_b)
            summary["no_data"] = no_data
            for stmt in queries.partition_ddl(run_id):
                s.connection().exec_driver_sql(stmt)
            prev = s.execute(queries.PREVIOUS_RUN, {"a": a.layer_id, "b": b.layer_id, "profile": profile.name,
                                                    "id": run_id}).scalar_one_or_none()
            matches = s.execute(queries.CARRY_MATCH, {"prev": prev, "run": run_id, "iou": CARRY_IOU}).all() \
                if prev is not None else []
            carried = {"from_run": prev, "kept": sum(1 for m in matches if m.new_no is not None),
                       "disappeared": [{"patch_no": m.old_no, "status": m.status, "department": m.department}
                                       for m in matches if m.new_no is None]} if prev is not None else {}
            timings["store_s"] = time.perf_counter() - t3
            summary["timings"] = {k: round(v, 3) for k, v in timings.items()}
            s.execute(queries.INSERT_RUN, {
                "id": run_id, "profile": profile.name, "params": json.dumps(params),
                "a_layer_id": a.layer_id, "b_layer_id": b.layer_id, "a_version_id": a.version_id,
                "b_version_id": b.version_id, "versions": json.dumps(versions), "engine": engine_name,
                "tiles": len(tiles), "summary": json.dumps(summary, ensure_ascii=False), "previous_run_id": prev,
                "carried": json.dumps(carried), "created_by": actor, "started_at": started})
            who = actor or audit.current_actor()
            for m in matches:
                if m.new_no is not None:
                    s.execute(queries.INSERT_CARRIED, {"run": run_id, "new_no": m.new_no, "status": m.status,
                                                       "department": m.department, "comment": m.comment,
                                                       "actor": who, "prev": prev, "old_no": m.old_no})
            for d in dq:
                s.execute(queries.INSERT_DQ, {"run_id": run_id, "side": d["side"], "kind": d["kind"],
                                              "fids": d["fids"], "codes": d["codes"], "area_m2": d["area_m2"],
                                              "wkb": shapely.to_wkb(d["geom"]) if d["geom"] is not None else None,
                                              "srid": srid})
            audit.record(s, "conflict_run", f"conflict_run:{run_id}", actor, profile=profile.name,
                         a=a.ref, b=b.ref, a_version_id=a.version_id, b_version_id=b.version_id, params=params)
    except BaseException:
        with engine.connect() as c:
            c.exec_driver_sql(queries.stage_drop(run_id))
            c.commit()
        raise
    finally:
        lock.execute(queries.RUN_UNLOCK, {"ns": queries.RUN_LOCK_KEY, "id": run_id})
        lock.close()
    return run_id


def _drop_orphans(engine: Engine) -> list[int]:
    """Drop the tables of runs whose process died before finishing (SIGKILL, power loss)."""
    dropped = []
    with engine.connect() as c:
        for (rid,) in c.execute(queries.ORPHAN_RUN_TABLES).all():
            if c.execute(queries.TRY_RUN_LOCK, {"ns": queries.RUN_LOCK_KEY, "id": rid}).scalar_one():
                try:
                    c.exec_driver_sql(queries.stage_drop(rid))
                    c.commit()
                    dropped.append(rid)
                finally:
                    c.execute(queries.RUN_UNLOCK, {"ns": queries.RUN_LOCK_KEY, "id": rid})
                    c.commit()
    return dropped


def _quality_pass(job: TileJob, a: SideInfo, b: SideInfo, clip: shapely.Geometry | None,
                  results: list[TileResult], area_a: np.ndarray, area_b: np.ndarray, n_tiles: int
                  ) -> tuple[list[dict[str, Any]], list[TileResult], dict[str, float]]:
    """Overlaps inside a side (pieces add up to more than a feature of the other side) are
    recomputed from overlap-free faces. Where pieces add up to less, the side has no data
    there: a gap when the side declares its coverage apart from its features (the run is
    clipped to it), else simply outside the side's coverage (its features are its coverage),
    which the summary reports as an area."""
    def sums() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        cat = (lambda xs, dt: np.concatenate(xs).astype(dt) if xs else np.empty(0, dt))
        pa = cat([r.a_fid for r in results], np.int64)
        pb = cat([r.b_fid for r in results], np.int64)
        ca = [r.a_credit or (r.a_fid, r.area) for r in results]
        cb = [r.b_credit or (r.b_fid, r.area) for r in results]
        sa = _sums(cat([c[0] for c in ca], np.int64), cat([c[1] for c in ca], float), len(area_a))
        sb = _sums(cat([c[0] for c in cb], np.int64), cat([c[1] for c in cb], float), len(area_b))
        return pa, pb, sa, sb

    pa, pb, sa, sb = sums()
    eps_a = np.maximum(0.01, 1e-7 * area_a)
    eps_b = np.maximum(0.01, 1e-7 * area_b)
    dq: list[dict[str, Any]] = []
    with psycopg.connect(job.dsn, autocommit=True) as conn:
        # B features holding more A area than they have: A overlaps there (and vice versa).
        heavy_b = np.flatnonzero(sb - area_b > eps_b)
        heavy_a = np.flatnonzero(sa - area_a > eps_a)
        over_a: set[int] = set()
        over_b: set[int] = set()
        if len(heavy_b):
            cand = np.unique(pa[np.isin(pb, heavy_b)])
            f, _, _, g = _load(conn, queries.FEATURES_BY_FID, {"vid": a.version_id, "fids": cand.tolist()})
            over_a = {int(f[i]) for pair in _overlapping(g) for i in pair}
        if len(heavy_a):
            cand = np.unique(pb[np.isin(pa, heavy_a)])
            f, _, _, g = _load(conn, queries.FEATURES_BY_FID, {"vid": b.version_id, "fids": cand.tolist()})
            over_b = {int(f[i]) for pair in _overlapping(g) for i in pair}
        if over_a or over_b:
            # Drop the old pieces of the affected pairs from the accounting, add the new ones.
            fixed, extra = _correct_overlaps(conn, job, clip, (pa, pb), over_a, over_b, n_tiles)
            dq += fixed
            kept = []
            for r in results:
                m = ~(np.isin(r.a_fid, list(over_a)) | np.isin(r.b_fid, list(over_b)))
                kept.append(TileResult(r.tile, r.a_fid[m], r.b_fid[m], r.area[m], r.kept, r.filtered, r.seconds))
            results = kept + [extra]
            pa, pb, sa, sb = sums()
        deficit_b = np.where(area_b - sb > eps_b, area_b - sb, 0.0)
        deficit_a = np.where(area_a - sa > eps_a, area_a - sa, 0.0)
        if a.declared_coverage:
            dq += _gaps(conn, "A", a.version_id, b.version_id, deficit_b, sb, clip)
        if b.declared_coverage:
            dq += _gaps(conn, "B", b.version_id, a.version_id, deficit_a, sa, clip)
    outside = {"a_no_data_m2": float(deficit_b.sum()), "b_no_data_m2": float(deficit_a.sum())}
    return dq, results, outside


def _summary(rows: list[Any], results: list[TileResult], dq: list[dict[str, Any]],
             a: SideInfo, b: SideInfo, area_a: np.ndarray, area_b: np.ndarray) -> dict[str, Any]:
    """Counts and areas by category, county and sliver reason (``rows``: the stage table's
    :func:`queries.stage_summary`)."""
    total = sum(r.area for r in rows)
    by_cat: dict[tuple[str, str | None], list[float]] = {}
    by_county: dict[tuple[str | None, str | None, str], list[float]] = {}
    slivers: dict[str, list[float]] = {}
    for r in rows:
        if r.kept:
            c = by_cat.setdefault((r.category, r.subtype), [0, 0.0])
            c[0] += r.n
            c[1] += r.area
            k = by_county.setdefault((r.county_code, r.county_name, r.category), [0, 0.0])
            k[0] += r.n
            k[1] += r.area
        else:
            sl = slivers.setdefault(r.filter_reason, [0, 0.0])
            sl[0] += r.n
            sl[1] += r.area
    share = (lambda x: round(x / total, 6) if total else 0.0)
    dq_sum: dict[str, dict[str, float]] = {}
    for d in dq:
        key = f"{d['side']}_{d['kind']}"
        e = dq_sum.setdefault(key, {"count": 0, "area_m2": 0.0})
        e["count"] += 1
        e["area_m2"] += d["area_m2"]
    return {
        "a": {"ref": a.ref, "version_id": a.version_id, "version": a.version, "sha256": a.sha256,
              "scheme": a.scheme, "area_m2": float(area_a.sum())},
        "b": {"ref": b.ref, "version_id": b.version_id, "version": b.version, "sha256": b.sha256,
              "scheme": b.scheme, "area_m2": float(area_b.sum())},
        "compared_area_m2": total,
        "by_category": [{"category": k[0], "subtype": k[1], "count": v[0], "area_m2": v[1],
                         "area_ha": round(v[1] / 10_000, 4), "share": share(v[1])}
                        for k, v in sorted(by_cat.items(), key=lambda kv: (kv[0][0], kv[0][1] or ""))],
        "by_county": [{"county_code": k[0], "county_name": k[1], "category": k[2], "count": v[0],
                       "area_m2": v[1], "area_ha": round(v[1] / 10_000, 4), "share": share(v[1])}
                      for k, v in sorted(by_county.items(), key=lambda kv: (kv[0][0] or "", kv[0][2]))],
        "slivers": [{"reason": k, "count": v[0], "area_m2": v[1]} for k, v in sorted(slivers.items())],
        "data_quality": dq_sum,
        "tiles": [{"tile": r.tile, "kept": r.kept, "filtered": r.filtered, "seconds": round(r.seconds, 3)}
                  for r in results if r.tile >= 0 and (r.kept or r.filtered)],
    }
