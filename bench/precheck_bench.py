"""Site pre-check benchmark: ``run_check`` on a city-scale store against two peers.

Usage::

    .venv/bin/python -m bench.precheck_bench [--polygons 1000000] [--sites 1000] [--home DIR]
                                             [--seed 20261128] [--keep-running]

Builds once (cached in the store by plan codes that encode N, seed and generator version) a
synthetic ~60 km x 60 km city around E 35465600 / N 3939000 (EPSG:4523): four wall-to-wall
partitions (三调 current land use, the superseded land-use master plan and urban master plan,
the territorial plan), the three control lines as sparse layers whose coverage is a
coverage-area layer, and a 10 m DEM; every layer goes through ``plans.ingest.ingest``. Then
times ``site_from_geojson`` + ``run_check`` (commit included) on random 1-50 ha sites against
peer A (geopandas.read_postgis + overlay per layer) and peer B (one raw SQL per layer), splits
where one check's time goes and writes ``bench/out/precheck.json``.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import io
import json
import math
import os
import platform
import pstats
import statistics
import sys
import threading
import time
import warnings
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import psycopg
import pyogrio
import pyogrio.raw
import rasterio
import shapely
from rasterio.transform import from_origin
from rasterio.windows import Window
from sqlalchemy import Engine, Integer, bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

import conflict_checks.precheck as precheck
from bench.common import ensure_home, finish, socket_conninfo
from conflict_checks import overlay
from conflict_checks import queries as check_queries
from conflict_checks.bootstrap import prepare_store
from conflict_checks.precheck import active_layers, run_check
from conflict_checks.rules import RuleBook
from conflict_checks.schemas import ProjectMeta
from conflict_checks.site import site_from_geojson
from layers.overlaps import check_version_overlaps
from gis_platform.core.db import embedded_cluster, session_scope
from gis_platform.core.settings import Settings
from plans.ingest import IngestRequest, ingest
from plans.service import create_plan

GENERATOR_VERSION = 2  # 2: DEM kept as ZSTD 256 COG tiles
DEFAULT_SEED = 20261128
SRID = 4523
CENTRE = (35_465_600.0, 3_939_000.0)  # easting, northing (EPSG:4523, Gauss-Krüger zone 35)
SIZE = 60_000.0  # metres, square
X0, Y0 = CENTRE[0] - SIZE / 2, CENTRE[1] - SIZE / 2
DEM_RES = 10.0  # metres
TILE = 100  # grid cells per tile side for the tile-wise Voronoi generation
MARGIN = 3  # neighbour grid cells around a tile (a jittered-grid cell's neighbours are within 2)
SITE_AREA_HA = (1.0, 50.0)
SITE_VERTICES = (6, 12)
WARMUP = 20
OUT_DIR = Path(__file__).resolve().parent / "out"
TARGETS = {"ours_p50_ms": 25.0, "ours_p95_ms": 100.0, "peer_a_over_ours_p50": 20.0,
           "ours_over_peer_b_p50": 2.0}

SANDIAO = {"0101": "水田", "0102": "水浇地", "0103": "旱地", "0201": "果园", "0301": "乔木林地",
           "0305": "灌木林地", "0404": "其他草地", "0601": "工业用地", "0701": "城镇住宅用地",
           "0702": "农村宅基地", "1004": "城镇村道路用地", "1006": "农村道路", "1101": "河流水面",
           "1206": "裸土地"}
SANDIAO_W = [3, 4, 14, 3, 10, 5, 18, 2, 3, 8, 2, 4, 1, 3]
TDYT = ["010", "020", "030", "040", "050", "060", "070", "080"]
TDYT_W = [20, 25, 6, 6, 3, 12, 18, 10]
GB50137 = ["R1", "R2", "A1", "A3", "B1", "M1", "W1", "S1", "U1", "G1", "G2", "E1", "E2", "H14"]
GB50137_W = [3, 8, 2, 2, 3, 4, 2, 4, 1, 3, 2, 2, 50, 14]
GB2023 = ["0101", "0102", "0103", "0301", "0303", "0403", "0601", "070101", "0703", "0801",
          "0901", "1001", "1101", "1207", "1401", "1701"]
GB2023_W = [3, 4, 16, 12, 5, 18, 4, 4, 8, 1, 2, 3, 1, 2, 2, 1]
PROPOSED_USES = ["1001", "070101", "0901", "0801", "1101"]


# -- what is built ----------------------------------------------------------------------------
@dataclass(frozen=True)
class PlanSpec:
    suffix: str
    kind: str
    status: str
    name: str


@dataclass(frozen=True)
class LayerSpec:
    plan: str  # PlanSpec.suffix
    name: str
    title: str
    theme: str
    kind: str  # partition | sparse | udb | coverage | dem
    share: float = 0.0  # polygons kept, as a share of N
    keep: float = 1.0  # sparse: share of the grid's cells kept
    class_field: str | None = None
    scheme: str | None = None
    codes: tuple[str, ...] = ()
    weights: tuple[float, ...] = ()
    sparse_coverage: bool = False  # coverage = the coverage-area layer


PLANS = [
    PlanSpec("base", "base", "active", "基准测试基础数据（范围、高程）"),
    PlanSpec("sandiao", "current_use", "active", "基准测试 国土变更调查（三调）"),
    PlanSpec("tdlygh", "land_use_master", "superseded", "基准测试 土地利用总体规划（2006—2020年）"),
    PlanSpec("csztgh", "urban_master", "superseded", "基准测试 城市总体规划（2011—2030年）"),
    PlanSpec("gtkjgh", "territorial", "active", "基准测试 国土空间总体规划（2021—2035年）"),
    PlanSpec("sxkzx", "control_line", "active", "基准测试 三条控制线"),
]
LAYERS = [
    LayerSpec("base", "area", "基准测试范围", "coverage_area", "coverage"),
    LayerSpec("base", "dem", "数字高程模型（10米）", "dem", "dem"),
    LayerSpec("sandiao", "dltb", "地类图斑", "current_land_use", "partition", 0.40,
              class_field="DLBM", scheme="sandiao", codes=tuple(SANDIAO), weights=tuple(SANDIAO_W)),
    LayerSpec("tdlygh", "tdytq", "土地用途分区", "land_use_zone", "partition", 0.10,
              class_field="TDYTQLXDM", scheme="tdyt", codes=tuple(TDYT), weights=tuple(TDYT_W)),
    LayerSpec("csztgh", "landuse", "城市用地规划", "urban_land_use", "partition", 0.10,
              class_field="YDDM", scheme="gb50137", codes=tuple(GB50137), weights=tuple(GB50137_W)),
    LayerSpec("gtkjgh", "planned_land_use", "规划用地用海", "planned_land_use", "partition", 0.30,
              class_field="YDYHFLDM", scheme="gb2023", codes=tuple(GB2023), weights=tuple(GB2023_W)),
    LayerSpec("sxkzx", "eco_redline", "生态保护红线", "ecological_red_line", "sparse", 0.02, keep=0.25,
              sparse_coverage=True),
    LayerSpec("sxkzx", "pbf", "永久基本农田", "permanent_basic_farmland", "sparse", 0.10, keep=0.40,
              sparse_coverage=True),
    LayerSpec("sxkzx", "udb", "城镇开发边界", "urban_development_boundary", "udb", sparse_coverage=True),
]


def build_tag(n: int, seed: int) -> str:
    return f"pbench-n{n}-s{seed}-g{GENERATOR_VERSION}"


def plan_code(tag: str, suffix: str) -> str:
    return f"{tag}-{suffix}"


# -- smooth random fields ---------------------------------------------------------------------
class Waves:
    """A sum of plane sine waves in local coordinates (metres from the area's SW corner)."""

    def __init__(self, rng: np.random.Generator, n: int, lmin: float, lmax: float,
                 amp: np.ndarray | None = None) -> None:
        self.L = np.exp(rng.uniform(math.log(lmin), math.log(lmax), n))
        th = rng.uniform(0, 2 * np.pi, n)
        self.kx = 2 * np.pi * np.cos(th) / self.L
        self.ky = 2 * np.pi * np.sin(th) / self.L
        self.ph = rng.uniform(0, 2 * np.pi, n)
        self.a = np.full(n, math.sqrt(2.0 / n)) if amp is None else amp

    def __call__(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        out = np.zeros(np.broadcast(x, y).shape)
        for a, kx, ky, ph in zip(self.a, self.kx, self.ky, self.ph):
            out += a * np.sin(kx * x + ky * y + ph)
        return out

    def grad(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        gx = np.zeros(np.broadcast(x, y).shape)
        gy = np.zeros_like(gx)
        for a, kx, ky, ph in zip(self.a, self.kx, self.ky, self.ph):
            c = a * np.cos(kx * x + ky * y + ph)
            gx += c * kx
            gy += c * ky
        return gx, gy


def pick_classes(rng: np.random.Generator, x: np.ndarray, y: np.ndarray, codes: tuple[str, ...],
                 weights: tuple[float, ...]) -> np.ndarray:
    """Spatially correlated classes: per class a smooth field plus noise; argmax of the scores."""
    w = np.asarray(weights, dtype=float)
    w /= w.sum()
    best = np.full(x.shape, -np.inf)
    out = np.zeros(x.shape, dtype=np.int64)
    for k in range(len(codes)):
        field = Waves(rng, 4, 1_500, 12_000)
        score = math.log(w[k]) + 1.3 * field(x, y) + rng.gumbel(0, 0.6, x.shape)
        better = score > best
        out[better] = k
        best[better] = score[better]
    return np.asarray(codes, dtype=object)[out]


class Warp:
    """A smooth displacement with ||Jacobian|| < 1 (so polygons stay simple and a partition stays
    a partition), fading out over the 500 m next to the area's edge (the box stays the box)."""

    def __init__(self, rng: np.random.Generator, step: float) -> None:
        self.comps = []
        for _ in range(2):
            L = step * rng.uniform(1.5, 3.0)
            A = 0.22 * L / (2 * np.pi)  # |gradient| <= 0.22 per component
            th, psi, ph = rng.uniform(0, 2 * np.pi, 3)
            k = 2 * np.pi / L
            self.comps.append((A, k * math.cos(th), k * math.sin(th), ph, math.cos(psi), math.sin(psi)))

    def __call__(self, coords: np.ndarray) -> np.ndarray:
        c = np.round(coords, 3)
        x, y = c[:, 0] - X0, c[:, 1] - Y0
        taper = np.clip(np.minimum.reduce([x, SIZE - x, y, SIZE - y]) / 500.0, 0.0, 1.0)
        dx = np.zeros(len(c))
        dy = np.zeros(len(c))
        for A, kx, ky, ph, ux, uy in self.comps:
            s = A * np.sin(kx * x + ky * y + ph)
            dx += s * ux
            dy += s * uy
        return np.round(c + np.column_stack([dx * taper, dy * taper]), 3)


def _round_mm(coords: np.ndarray) -> np.ndarray:
    return np.round(coords, 3)


def _fix(geoms: np.ndarray) -> tuple[np.ndarray, int]:
    """Replace the (rare) invalid polygon by the largest polygon of its valid form."""
    bad = np.flatnonzero(~shapely.is_valid(geoms))
    for i in bad:
        parts = [p for p in shapely.get_parts(shapely.make_valid(geoms[i])) if p.geom_type == "Polygon"]
        geoms[i] = max(parts, key=lambda p: p.area) if parts else shapely.Polygon()
    keep = ~shapely.is_empty(geoms) & (shapely.area(geoms) > 0)
    return geoms[keep], int(bad.size)


# -- vector generation ------------------------------------------------------------------------
def voronoi_tiles(rng: np.random.Generator, n_cells: int, keep_share: float = 1.0
                  ) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray, int]]:
    """Cells of a jittered-grid Voronoi partition of the area, tile by tile (memory-bounded):
    segmentized (about 32 vertices a cell), smoothly warped, on a mm grid.

    ``keep_share`` < 1 keeps the cells where a smooth field is highest (sparse layers of
    contiguous blobs). Yields (geometries, seed x, seed y, invalid cells fixed).
    """
    m = max(2, round(math.sqrt(n_cells)))
    step = SIZE / m
    seeds = (np.stack(np.meshgrid(np.arange(m) + 0.5, np.arange(m) + 0.5, indexing="ij"), axis=-1)
             + rng.uniform(-0.42, 0.42, (m, m, 2))) * step  # local coordinates, [i=x, j=y]
    keep = np.ones((m, m), dtype=bool)
    if keep_share < 1.0:
        field = Waves(rng, 6, 3_000, 20_000)(seeds[..., 0], seeds[..., 1])
        keep = field >= np.quantile(field, 1.0 - keep_share)
    warp = Warp(rng, step)
    area = shapely.box(X0, Y0, X0 + SIZE, Y0 + SIZE)
    seg = step / 8.0
    for i0 in range(0, m, TILE):
        for j0 in range(0, m, TILE):
            i1, j1 = min(i0 + TILE, m), min(j0 + TILE, m)
            if not keep[i0:i1, j0:j1].any():
                continue
            a0, a1 = max(0, i0 - MARGIN), min(m, i1 + MARGIN)
            b0, b1 = max(0, j0 - MARGIN), min(m, j1 + MARGIN)
            pts = seeds[a0:a1, b0:b1].reshape(-1, 2)
            env = shapely.box(X0 + (a0 - 2) * step, Y0 + (b0 - 2) * step,
                              X0 + (a1 + 2) * step, Y0 + (b1 + 2) * step)
            cells = shapely.get_parts(shapely.voronoi_polygons(
                shapely.MultiPoint(pts + [X0, Y0]), extend_to=env, ordered=True))
            ii, jj = np.meshgrid(np.arange(a0, a1), np.arange(b0, b1), indexing="ij")
            ii, jj = ii.ravel(), jj.ravel()
            inner = (ii >= i0) & (ii < i1) & (jj >= j0) & (jj < j1) & keep[ii, jj]
            geoms = cells[inner]
            if i0 == 0 or j0 == 0 or i1 == m or j1 == m:
                geoms = shapely.intersection(geoms, area)
            geoms = shapely.transform(geoms, _round_mm)
            geoms = shapely.segmentize(geoms, seg)
            geoms = shapely.transform(geoms, warp)
            sx, sy = pts[inner, 0], pts[inner, 1]
            geoms, fixed = _fix(np.asarray(geoms, dtype=object))
            if len(geoms) != len(sx):  # a cell vanished (never seen; keep attributes aligned)
                c = shapely.get_coordinates(shapely.centroid(geoms))
                sx, sy = c[:, 0] - X0, c[:, 1] - Y0
            yield np.asarray(geoms, dtype=object), sx, sy, fixed


def udb_polygons(rng: np.random.Generator) -> np.ndarray:
    """A few large irregular town blobs (the urban development boundary)."""
    towns = [(0.5, 0.5, 5_500), (0.22, 0.7, 2_500), (0.75, 0.28, 2_800), (0.3, 0.25, 1_800),
             (0.72, 0.75, 2_000), (0.85, 0.55, 1_500)]
    out = []
    for fx, fy, r in towns:
        cx = X0 + fx * SIZE + rng.uniform(-2_000, 2_000)
        cy = Y0 + fy * SIZE + rng.uniform(-2_000, 2_000)
        th = np.linspace(0, 2 * np.pi, 720, endpoint=False)
        rr = np.ones_like(th)
        for k in range(2, 9):
            rr += rng.uniform(0.02, 0.12) / math.sqrt(k) * np.sin(k * th + rng.uniform(0, 2 * np.pi))
        pts = np.round(np.column_stack([cx + r * rr * np.cos(th), cy + r * rr * np.sin(th)]), 3)
        out.append(shapely.Polygon(pts))
    geoms, _ = _fix(np.asarray(out, dtype=object))
    return geoms


def _write(path: Path, layer: str, geoms: np.ndarray, fields: dict[str, np.ndarray], append: bool) -> None:
    pyogrio.raw.write(
        path, shapely.to_wkb(geoms), list(fields.values()), list(fields), geometry_type="Polygon",
        crs=f"EPSG:{SRID}", layer=layer, driver="GPKG", append=append,
        dataset_options=None if append else {"VERSION": "1.2"},
    )


def make_vector(spec: LayerSpec, n: int, rng: np.random.Generator, path: Path) -> dict[str, Any]:
    """Write one layer's GeoPackage tile by tile; return its size figures."""
    path.unlink(missing_ok=True)
    t0 = time.perf_counter()
    count = vertices = fixed = 0
    if spec.kind == "coverage":
        tiles: Iterator[tuple[np.ndarray, np.ndarray, np.ndarray, int]] = iter(
            [(np.array([shapely.box(X0, Y0, X0 + SIZE, Y0 + SIZE)], dtype=object),
              np.zeros(1), np.zeros(1), 0)])
    elif spec.kind == "udb":
        g = udb_polygons(rng)
        tiles = iter([(g, np.zeros(len(g)), np.zeros(len(g)), 0)])
    else:
        cells = max(4, round(spec.share * n / spec.keep))
        tiles = voronoi_tiles(rng, cells, spec.keep)
    for geoms, sx, sy, nfix in tiles:
        k = len(geoms)
        fields: dict[str, np.ndarray] = {"BSM": np.arange(count + 1, count + k + 1, dtype=np.int64)}
        if spec.class_field:
            codes = pick_classes(rng, sx, sy, spec.codes, spec.weights)
            fields[spec.class_field] = codes
            if spec.scheme == "sandiao":
                fields["DLMC"] = np.array([SANDIAO[c] for c in codes], dtype=object)
                fields["TBMJ"] = np.round(shapely.area(geoms), 2)
        else:
            fields["MC"] = np.array([spec.title] * k, dtype=object)
        _write(path, spec.name, geoms, fields, append=count > 0)
        count += k
        vertices += int(shapely.get_num_coordinates(geoms).sum())
        fixed += nfix
    return {"features": count, "vertices": vertices, "mean_vertices": vertices / max(count, 1),
            "fixed_invalid": fixed, "generate_s": time.perf_counter() - t0,
            "file_mb": path.stat().st_size / 1e6}


def make_dem(rng: np.random.Generator, path: Path) -> dict[str, Any]:
    """Loess-like hills: a few plane waves (300 m – 6 km), relief scaled so slopes reach ~35°."""
    t0 = time.perf_counter()
    ncomp = 9
    waves = Waves(rng, ncomp, 300, 6_000)
    waves.a = waves.L * rng.uniform(0.5, 1.0, ncomp)  # similar slope per component
    sx, sy = rng.uniform(0, SIZE, 400_000), rng.uniform(0, SIZE, 400_000)
    gx, gy = waves.grad(sx, sy)
    waves.a = waves.a * (math.tan(math.radians(35.0)) / float(np.hypot(gx, gy).max()))
    gx, gy = waves.grad(sx, sy)
    slope = np.degrees(np.arctan(np.hypot(gx, gy)))
    n = int(SIZE / DEM_RES)
    profile = {"driver": "GTiff", "dtype": "float32", "width": n, "height": n, "count": 1,
               "crs": f"EPSG:{SRID}", "transform": from_origin(X0, Y0 + SIZE, DEM_RES, DEM_RES),
               "tiled": True, "blockxsize": 512, "blockysize": 512, "compress": "deflate",
               "predictor": 3, "BIGTIFF": "IF_SAFER"}
    x = (np.arange(n) + 0.5) * DEM_RES
    path.unlink(missing_ok=True)
    with rasterio.open(path, "w", **profile) as dst:
        for r0 in range(0, n, 512):
            r1 = min(r0 + 512, n)
            y = SIZE - (np.arange(r0, r1) + 0.5) * DEM_RES
            z = 1_950.0 + 0.002 * x[None, :] + waves(x[None, :], y[:, None])
            dst.write(z.astype(np.float32)[None], window=Window(0, r0, n, r1 - r0))
    return {"pixels": n * n, "res_m": DEM_RES, "generate_s": time.perf_counter() - t0,
            "file_mb": path.stat().st_size / 1e6,
            "slope_deg_sampled": {"p50": float(np.percentile(slope, 50)),
                                  "p90": float(np.percentile(slope, 90)),
                                  "share_above_25": float((slope > 25).mean()),
                                  "max": float(slope.max())}}


# -- the store --------------------------------------------------------------------------------
def loaded_layers(engine: Engine, tag: str) -> dict[str, int]:
    """layer name -> newest version id, for this build's plans."""
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT p.code, l.name, max(v.id) FROM plans p JOIN layers l ON l.plan_id = p.id "
            "JOIN layer_versions v ON v.layer_id = l.id WHERE p.code LIKE :pat GROUP BY 1, 2"),
            {"pat": f"{tag}-%"}).all()
    return {f"{c[len(tag) + 1:]}/{name}": int(vid) for c, name, vid in rows}


def isolate_build(engine: Engine, tag: str) -> list[str]:
    """Only this build's layers may take part in checks: other benchmark builds' plans in this
    store are set to draft (checks skip drafts), this build's get their intended status. Any
    other non-draft plan with layers makes the benchmark refuse to run."""
    notes = []
    with session_scope(engine) as s:
        foreign = s.execute(text(
            "SELECT DISTINCT p.code FROM plans p JOIN layers l ON l.plan_id = p.id "
            "WHERE p.status <> 'draft' AND p.code NOT LIKE 'pbench-%'")).scalars().all()
        if foreign:
            raise SystemExit(f"the store holds other non-draft plans with layers ({', '.join(foreign)}); "
                             "checks would include them. Use a dedicated --home.")
        others = s.execute(text(
            "UPDATE plans SET status = 'draft' WHERE code LIKE 'pbench-%' AND code NOT LIKE :pat "
            "AND status <> 'draft' RETURNING code"), {"pat": f"{tag}-%"}).scalars().all()
        if others:
            notes.append(f"set {len(others)} plans of other benchmark builds to draft")
        for p in PLANS:
            s.execute(text("UPDATE plans SET status = :st WHERE code = :c"),
                      {"st": p.status, "c": plan_code(tag, p.suffix)})
    return notes


def build_store(engine: Engine, settings: Settings, n: int, seed: int, workdir: Path) -> dict[str, Any]:
    """Generate and ingest every layer not loaded yet; one session_scope per layer."""
    tag = build_tag(n, seed)
    have = loaded_layers(engine, tag)
    report: dict[str, Any] = {"tag": tag, "reused": [], "built": {}}
    record = workdir / f"{tag}-build.json"  # load figures of the run that built the store
    if all(f"{spec.plan}/{spec.name}" in have for spec in LAYERS):
        report["reused"] = sorted(have)
        if record.exists():
            report["load"] = json.loads(record.read_text())
        print(f"store: reusing build {tag} ({len(have)} layers)")
        return report
    workdir.mkdir(parents=True, exist_ok=True)
    with session_scope(engine) as s:
        existing = set(s.execute(text("SELECT code FROM plans WHERE code LIKE :pat"),
                                 {"pat": f"{tag}-%"}).scalars())
        for p in PLANS:
            code = plan_code(tag, p.suffix)
            if code not in existing:
                create_plan(s, code=code, name=f"{p.name} [{tag}]", kind=p.kind, status=p.status,
                            authority="基准测试（合成数据）")
    coverage_ref = f"{plan_code(tag, 'base')}/area"
    for li, spec in enumerate(LAYERS):
        key = f"{spec.plan}/{spec.name}"
        if key in have:
            report["reused"].append(key)
            continue
        rng = np.random.default_rng([seed, GENERATOR_VERSION, li])
        if spec.kind == "dem":
            path = workdir / f"{tag}-dem.tif"
            info = make_dem(rng, path)
        else:
            path = workdir / f"{tag}-{spec.name}.gpkg"
            info = make_vector(spec, n, rng, path)
        print(f"  {key:<24} generated {info.get('features', info.get('pixels')):>9,} "
              f"{'polygons' if spec.kind != 'dem' else 'pixels'} in {info['generate_s']:6.1f} s "
              f"({info['file_mb']:.0f} MB)", flush=True)
        req = IngestRequest(
            path=path, plan=plan_code(tag, spec.plan), layer=spec.name, class_field=spec.class_field,
            scheme=spec.scheme, theme=spec.theme, title=spec.title,
            coverage=coverage_ref if spec.sparse_coverage else None)
        t0 = time.perf_counter()
        with session_scope(engine) as s:
            version = ingest(s, settings, req)
            vid = version.id
        info["ingest_s"] = time.perf_counter() - t0
        info["version_id"] = vid
        if "features" in info:
            info["ingest_rows_per_s"] = info["features"] / info["ingest_s"]
        print(f"  {key:<24} ingested in {info['ingest_s']:6.1f} s", flush=True)
        report["built"][key] = info
        path.unlink(missing_ok=True)
    earlier = json.loads(record.read_text()) if record.exists() else {}
    report["load"] = {**earlier, **report["built"]}
    record.write_text(json.dumps(report["load"], indent=2) + "\n")
    return report


# -- sites ------------------------------------------------------------------------------------
def make_sites(count: int, seed: int) -> list[dict[str, Any]]:
    """Irregular, convex-ish (star-shaped, stretched) polygons of 1-50 ha inside the area, as
    GeoJSON geometry dicts in EPSG:4523."""
    rng = np.random.default_rng([seed, 4523])
    out = []
    margin = 1_500.0
    for _ in range(count):
        k = int(rng.integers(SITE_VERTICES[0], SITE_VERTICES[1] + 1))
        ang = (np.arange(k) + 0.3 * rng.uniform(-1, 1, k)) * 2 * np.pi / k
        r = 1 + 0.2 * rng.uniform(-1, 1, k)
        x, y = r * np.cos(ang), r * np.sin(ang)
        stretch, rot = rng.uniform(1.0, 2.0), rng.uniform(0, np.pi)
        x = x * stretch
        x, y = x * math.cos(rot) - y * math.sin(rot), x * math.sin(rot) + y * math.cos(rot)
        unit = 0.5 * abs(np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y))
        area = rng.uniform(*SITE_AREA_HA) * 10_000
        s = math.sqrt(area / unit)
        cx = X0 + rng.uniform(margin, SIZE - margin)
        cy = Y0 + rng.uniform(margin, SIZE - margin)
        ring = np.round(np.column_stack([cx + s * x, cy + s * y]), 3).tolist()
        ring.append(ring[0])
        out.append({"type": "Polygon", "coordinates": [ring]})
    return out


def site_geom(gj: dict[str, Any]) -> shapely.Polygon:
    return shapely.geometry.shape(gj)


# -- the three sides --------------------------------------------------------------------------
def ours_check(engine: Engine, settings: Settings, gj: dict[str, Any], meta: ProjectMeta
               ) -> tuple[float, Any]:
    t0 = time.perf_counter()
    with session_scope(engine) as session:
        site = site_from_geojson(gj, settings, crs=f"EPSG:{SRID}")
        result = run_check(session, settings, site, meta)
    return time.perf_counter() - t0, result


PEER_A_SQL = text(
    "SELECT class_code, geom FROM features WHERE version_id = :vid "
    "AND geom && ST_MakeEnvelope(:x0, :y0, :x1, :y1, :srid)")


def peer_a_check(engine: Engine, gj: dict[str, Any], vids: list[int]) -> tuple[float, dict[int, dict]]:
    t0 = time.perf_counter()
    geom = site_geom(gj)
    site_gdf = gpd.GeoDataFrame({"site": [1]}, geometry=[geom], crs=SRID)
    x0, y0, x1, y1 = geom.bounds
    out: dict[int, dict] = {}
    with engine.connect() as conn:
        for vid in vids:
            lyr = gpd.read_postgis(PEER_A_SQL, conn, geom_col="geom", crs=SRID, params={
                "vid": vid, "x0": x0, "y0": y0, "x1": x1, "y1": y1, "srid": SRID})
            out[vid] = overlay_areas(site_gdf, lyr)
    return time.perf_counter() - t0, out


def overlay_areas(site_gdf: gpd.GeoDataFrame, layer: gpd.GeoDataFrame) -> dict[Any, float]:
    """geopandas.overlay of the site with a layer, dissolved by class: area per class."""
    if len(layer) == 0:
        return {}
    ov = gpd.overlay(site_gdf, layer, how="intersection", keep_geom_type=True)
    if len(ov) == 0:
        return {}
    return {k: float(a) for k, a in ov.dissolve(by="class_code", dropna=False).geometry.area.items()}


def load_layers_in_memory(engine: Engine, vids: list[int]) -> dict[int, gpd.GeoDataFrame]:
    """Every vector layer as a GeoDataFrame with its spatial index (what an analyst has open in
    QGIS); loading is not timed."""
    out = {}
    with engine.connect() as conn:
        for vid in vids:
            gdf = gpd.read_postgis(text("SELECT class_code, geom FROM features WHERE version_id = :vid"),
                                   conn, geom_col="geom", crs=SRID, params={"vid": vid})
            gdf.sindex  # noqa: B018 - built once, outside the timing
            out[vid] = gdf
    return out


def peer_a_memory_check(layers: dict[int, gpd.GeoDataFrame], gj: dict[str, Any]
                        ) -> tuple[float, dict[int, dict]]:
    """The literal analyst path: geopandas.overlay(site, layer) per in-memory layer."""
    t0 = time.perf_counter()
    site_gdf = gpd.GeoDataFrame({"site": [1]}, geometry=[site_geom(gj)], crs=SRID)
    out: dict[int, dict] = {}
    for vid, lyr in layers.items():
        out[vid] = overlay_areas(site_gdf, lyr)
    return time.perf_counter() - t0, out


PEER_B_SQL = (
    "SELECT f.class_code, sum(ST_Area(ST_Intersection(f.geom, s.g))) "
    "FROM features f, (SELECT ST_GeomFromWKB(%(site)s, %(srid)s) AS g) s "
    "WHERE f.version_id = %(vid)s AND ST_Intersects(f.geom, s.g) GROUP BY f.class_code")


def peer_b_check(conn: psycopg.Connection, gj: dict[str, Any], vids: list[int]
                 ) -> tuple[float, dict[int, dict]]:
    t0 = time.perf_counter()
    wkb = shapely.to_wkb(site_geom(gj))
    out: dict[int, dict] = {}
    with conn.cursor() as cur:
        for vid in vids:
            cur.execute(PEER_B_SQL, {"site": wkb, "srid": SRID, "vid": vid})
            out[vid] = {c: float(a) for c, a in cur.fetchall()}
    return time.perf_counter() - t0, out


# -- where one check's time goes --------------------------------------------------------------
class Split:
    """Exclusive wall time per category (nested wrapped calls are subtracted from their parent;
    each thread nests on its own)."""

    def __init__(self) -> None:
        self.totals: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self._local = threading.local()
        self._lock = threading.Lock()

    def wrap(self, fn: Callable[..., Any], category: Callable[..., str] | str) -> Callable[..., Any]:
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            cat = category(*args, **kwargs) if callable(category) else category
            stack = getattr(self._local, "stack", None)
            if stack is None:
                stack = self._local.stack = []
            stack.append(0.0)
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                el = time.perf_counter() - t0
                child = stack.pop()
                with self._lock:
                    self.totals[cat] += el - child
                    self.calls[cat] += 1
                if stack:
                    stack[-1] += el
        return wrapped


def _sql_category(_self: Session, statement: Any, *a: Any, **k: Any) -> str:
    s = str(statement)
    if "FROM rules" in s or "FROM use_compatibility" in s:
        return "sql rules + compatibility"
    if "class_codes" in s:
        return "sql class names"
    return "sql other"


def _psycopg_category(_self: Any, query: Any, *a: Any, **k: Any) -> str:
    if query is check_queries.STORE_RUN_SQL:
        return "sql store (submission, run, findings, audit; psycopg)"
    if query is check_queries.CHECK_START_LAYERS_SQL:
        return "sql start + active layers (psycopg; the first statement: BEGIN)"
    if query is check_queries.SITE_FEATURES_SQL:
        return _beside("sql SITE_FEATURES, half of the layers")()
    return "sql other (psycopg)"


BESIDE = "beside: "  # parts that run in a pool thread while the check's own thread works


def _beside(name: str) -> Callable[..., str]:
    def category(*_a: Any, **_k: Any) -> str:
        own = threading.current_thread() is threading.main_thread()
        return f"{'' if own else BESIDE}{name}{' (own connection)' if own else ' (spare connection)'}"
    return category


SLOPE_PART = "slope from the DEM (rasterio)"


def measure_split(engine: Engine, settings: Settings, sites: list[dict], metas: list[ProjectMeta]
                  ) -> dict[str, Any]:
    split = Split()
    patches: list[tuple[Any, str, Any]] = [
        (Session, "execute", split.wrap(Session.execute, _sql_category)),
        (psycopg.Cursor, "execute", split.wrap(psycopg.Cursor.execute, _psycopg_category)),
        (Session, "commit", split.wrap(Session.commit, "commit")),
        (overlay.PendingHits, "result", split.wrap(overlay.PendingHits.result, "waiting for the spare connection")),
        (overlay, "cut_to_site", split.wrap(overlay.cut_to_site, _beside("python: features cut to the site (GEOS)"))),
        (overlay, "find_overlaps", split.wrap(overlay.find_overlaps, _beside("python: overlap tests (unchecked layers)"))),
        (overlay, "known_overlaps", split.wrap(overlay.known_overlaps, _beside("python: known overlaps measured"))),
        (precheck, "slope_stats", split.wrap(precheck.slope_stats, SLOPE_PART)),
        (precheck, "_area", split.wrap(precheck._area, "ellipsoidal area (pyproj)")),
        (precheck, "_layer_finding", split.wrap(precheck._layer_finding, "python: per-layer findings")),
        (precheck, "_use", split.wrap(precheck._use, "python: planned-use compatibility")),
        (precheck, "_verdict", split.wrap(precheck._verdict, "python: verdict")),
        (precheck, "_finding_rows", split.wrap(precheck._finding_rows, "python: finding rows")),
    ]
    saved = [(obj, name, getattr(obj, name)) for obj, name, _ in patches]
    global_site = split.wrap(site_from_geojson, "site_from_geojson (parse, validate, extent)")
    totals = []
    try:
        for obj, name, fn in patches:
            setattr(obj, name, fn)
        for gj, meta in zip(sites, metas):
            t0 = time.perf_counter()
            with session_scope(engine) as session:
                site = global_site(gj, settings, crs=f"EPSG:{SRID}")
                run_check(session, settings, site, meta)
            totals.append(time.perf_counter() - t0)
    finally:
        for obj, name, fn in saved:
            setattr(obj, name, fn)
    n = len(totals)
    total_ms = 1000 * sum(totals) / n
    parts = {k: 1000 * v / n for k, v in sorted(split.totals.items(), key=lambda kv: -kv[1])}
    beside = {k: parts.pop(k) for k in list(parts) if k.startswith(BESIDE)}  # not in the sum
    parts["python: rest of run_check (result model, JSON, ORM)"] = total_ms - sum(parts.values())
    parts.update(beside)
    return {"checks": n, "mean_total_ms": total_ms, "mean_ms": parts,
            "calls_per_check": {k: v / n for k, v in split.calls.items()}}


def profile_checks(engine: Engine, settings: Settings, sites: list[dict], metas: list[ProjectMeta],
                   top: int = 25) -> list[str]:
    prof = cProfile.Profile()
    prof.enable()
    for gj, meta in zip(sites, metas):
        ours_check(engine, settings, gj, meta)
    prof.disable()
    buf = io.StringIO()
    pstats.Stats(prof, stream=buf).sort_stats("tottime").print_stats(top)
    buf2 = io.StringIO()
    pstats.Stats(prof, stream=buf2).sort_stats("cumulative").print_stats(top)
    return [ln for ln in (buf.getvalue() + "\n" + buf2.getvalue()).splitlines() if ln.strip()]


def explain_site_hits(engine: Engine, gj: dict[str, Any], vids: list[int], by_vid: dict[int, str]
                      ) -> dict[str, Any]:
    """EXPLAIN ANALYZE of SITE_FEATURES for one site; SITE_FEATURES timed per layer (median of 5)."""
    wkb = shapely.to_wkb(site_geom(gj))
    stmt = text("EXPLAIN (ANALYZE, BUFFERS) " + check_queries.SITE_FEATURES.text).bindparams(
        bindparam("vids", type_=ARRAY(Integer)))
    with engine.connect() as conn:
        # unprepared: each execution planned for its own parameters (a pooled connection that
        # has run SITE_FEATURES 5 times keeps it prepared and may be on the generic plan)
        conn.connection.driver_connection.prepare_threshold = None
        for _ in range(2):
            conn.execute(check_queries.SITE_FEATURES, {"site": wkb, "srid": SRID, "vids": vids}).all()
        plan = [r[0] for r in conn.execute(stmt, {"site": wkb, "srid": SRID, "vids": vids})]
        per_layer = {}
        for vid in vids:
            ts, rows = [], 0
            for _ in range(5):
                t0 = time.perf_counter()
                res = conn.execute(check_queries.SITE_FEATURES, {"site": wkb, "srid": SRID, "vids": [vid]}).all()
                ts.append(time.perf_counter() - t0)
                rows = len(res)
            feats = conn.execute(text(
                "SELECT count(*), coalesce(sum(ST_NPoints(geom)), 0) FROM features WHERE version_id = :v "
                "AND ST_Intersects(geom, ST_GeomFromWKB(:s, :srid))"), {"v": vid, "s": wkb, "srid": SRID}).one()
            per_layer[by_vid[vid]] = {"ms": 1000 * statistics.median(ts), "class_rows": rows,
                                      "features_hit": int(feats[0]), "vertices_hit": int(feats[1])}
        ts = []
        for _ in range(5):
            t0 = time.perf_counter()
            conn.execute(check_queries.SITE_FEATURES, {"site": wkb, "srid": SRID, "vids": vids}).all()
            ts.append(time.perf_counter() - t0)
    return {"site_area_ha": site_geom(gj).area / 10_000, "plan": plan,
            "site_pieces_all_ms": 1000 * statistics.median(ts), "per_layer": per_layer}


def parallel_effect(engine: Engine, sites: list[dict], vids: list[int]) -> dict[str, Any]:
    """Diagnosis: SITE_FEATURES and peer B's SQL with the server's default parallel settings and with
    ``max_parallel_workers_per_gather = 0`` (session setting of the benchmark's own connection;
    statements unprepared so each site gets its own plan), and how often SITE_FEATURES plans workers."""
    wkbs = [shapely.to_wkb(site_geom(g)) for g in sites]
    plan_stmt = text("EXPLAIN (FORMAT JSON) " + check_queries.SITE_FEATURES.text).bindparams(
        bindparam("vids", type_=ARRAY(Integer)))
    out: dict[str, Any] = {"sites": len(sites)}
    with engine.connect() as conn:
        conn.connection.driver_connection.prepare_threshold = None
        raw = conn.connection.driver_connection
        parallel = 0
        for w in wkbs:
            plan = conn.execute(plan_stmt, {"site": w, "srid": SRID, "vids": vids}).scalar_one()
            parallel += '"Workers Planned"' in json.dumps(plan)
        out["site_hits_parallel_plans"] = parallel
        for label, setting in (("default", None), ("no_parallel", "0")):
            if setting is not None:
                conn.execute(text(f"SET max_parallel_workers_per_gather = {setting}"))
            hits, peer = [], []
            for w in wkbs:
                t0 = time.perf_counter()
                conn.execute(check_queries.SITE_FEATURES, {"site": w, "srid": SRID, "vids": vids}).all()
                hits.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                with raw.cursor() as cur:
                    for vid in vids:
                        cur.execute(PEER_B_SQL, {"site": w, "srid": SRID, "vid": vid}, prepare=False)
                        cur.fetchall()
                peer.append(time.perf_counter() - t0)
            out[label] = {"site_hits": pct(hits), "peer_b_sql": pct(peer)}
        conn.execute(text("RESET max_parallel_workers_per_gather"))
        conn.rollback()
    return out


# -- reporting --------------------------------------------------------------------------------
def pct(values: list[float]) -> dict[str, float]:
    ms = np.asarray(values) * 1000
    return {"n": int(ms.size), "p50_ms": float(np.percentile(ms, 50)), "p95_ms": float(np.percentile(ms, 95)),
            "p99_ms": float(np.percentile(ms, 99)), "mean_ms": float(ms.mean()),
            "min_ms": float(ms.min()), "max_ms": float(ms.max())}


def store_facts(engine: Engine, tag: str) -> dict[str, Any]:
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT p.code, p.status, l.name, l.theme, l.coverage, v.id, v.feature_count, "
            "pg_total_relation_size(('features_v' || v.id)::regclass) "
            "FROM plans p JOIN layers l ON l.plan_id = p.id JOIN layer_versions v ON v.layer_id = l.id "
            "WHERE p.code LIKE :pat AND l.data_kind = 'vector' ORDER BY v.id"), {"pat": f"{tag}-%"}).all()
        db_bytes = conn.execute(text("SELECT pg_database_size(current_database())")).scalar_one()
        analyzed = conn.execute(text(
            "SELECT count(*) FILTER (WHERE coalesce(last_analyze, last_autoanalyze) IS NOT NULL), count(*) "
            "FROM pg_stat_user_tables WHERE relname LIKE 'features_v%'")).one()
        versions = {"postgresql": conn.execute(text("SHOW server_version")).scalar_one(),
                    "postgis": conn.execute(text("SELECT postgis_lib_version()")).scalar_one(),
                    "geos": conn.execute(text("SELECT postgis_geos_version()")).scalar_one()}
    layers = [{"plan": r[0], "status": r[1], "layer": r[2], "theme": r[3], "coverage": r[4],
               "version_id": r[5], "features": r[6], "bytes": r[7]} for r in rows]
    return {"layers": layers, "polygons": sum(lyr["features"] for lyr in layers),
            "vector_layers": len(layers), "database_bytes": db_bytes,
            "partitions_analyzed": f"{analyzed[0]}/{analyzed[1]}", "versions": versions}


def compare(ours: dict[int, float], other: dict[int, dict], site_area: float) -> float:
    """Largest difference between per-layer covered areas, as a share of the site area."""
    worst = 0.0
    for vid, a in ours.items():
        b = sum(other.get(vid, {}).values())
        worst = max(worst, abs(a - b) / site_area)
    return worst


# -- main -------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.precheck_bench", description=__doc__.split("\n")[0])
    ap.add_argument("--polygons", type=int, default=1_000_000, help="polygons in the store (default 1000000)")
    ap.add_argument("--sites", type=int, default=1_000, help="timed sites (default 1000)")
    ap.add_argument("--home", type=Path, default=Path(".gisplat-bench/precheck"),
                    help="GISPLAT_HOME of the dedicated benchmark store (default ./.gisplat-bench/precheck)")
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED)
    ap.add_argument("--workdir", type=Path, default=None,
                    help="where generated files wait for ingest (default <home>/bench; deleted after load)")
    ap.add_argument("--peer-a-memory-sites", type=int, default=50,
                    help="sites for peer A on in-memory layers (about 2-3 s each; default 50)")
    ap.add_argument("--peer-a-budget", type=float, default=600.0,
                    help="seconds peer A may take; over it, 100 sites are used (default 600)")
    ap.add_argument("--split-checks", type=int, default=50, help="checks for the time split (default 50)")
    ap.add_argument("--out", type=Path, default=OUT_DIR / "precheck.json")
    ap.add_argument("--keep-running", action="store_true",
                    help="leave the benchmark store's embedded cluster running afterwards")
    args = ap.parse_args(argv)
    if args.polygons < 1000 or args.sites < 1:
        ap.error("--polygons must be >= 1000 and --sites >= 1")
    warnings.filterwarnings("ignore", category=UserWarning, module="geopandas")

    t_start = time.perf_counter()
    home = ensure_home(args.home)
    workdir = (args.workdir or home / "bench").expanduser().resolve()
    settings = Settings(home=home, database_url=None)
    engine = prepare_store(settings)
    info = embedded_cluster(settings).info()
    if info is None:
        raise SystemExit("embedded cluster has no state after prepare_store")
    tag = build_tag(args.polygons, args.seed)
    isolate_build(engine, tag)  # before the build too: a half-built earlier run stays out
    t0 = time.perf_counter()
    build = build_store(engine, settings, args.polygons, args.seed, workdir)
    build["seconds"] = time.perf_counter() - t0
    notes = isolate_build(engine, tag)
    facts = store_facts(engine, tag)
    print(f"store: {facts['polygons']:,} polygons in {facts['vector_layers']} vector layers + DEM, "
          f"database {facts['database_bytes'] / 1e9:.2f} GB, build/reuse {build['seconds']:.0f} s"
          + (f" ({'; '.join(notes)})" if notes else ""), flush=True)

    with session_scope(engine) as s:
        layers = active_layers(s, dt.datetime.now(dt.timezone.utc), None)
        rules = len(RuleBook.load(s).rules)
    vector = [lyr for lyr in layers if lyr.data_kind == "vector"]
    vids = [lyr.version_id for lyr in vector]
    by_vid = {lyr.version_id: lyr.ref for lyr in vector}
    # Each version's internal overlaps are checked once after loading (as `gisplat ingest` and the
    # manifest loader do); here for versions of a build loaded before that step existed. Timed
    # apart, never during the checks.
    overlap_checks = {}
    for lyr in vector:
        if lyr.overlap_pairs is None:
            rep = check_version_overlaps(engine, lyr.version_id, SRID)
            overlap_checks[lyr.ref] = {"pairs": rep.pairs, "area_m2": rep.area_m2, "seconds": rep.seconds}
            print(f"internal overlaps of {lyr.ref}: {rep.pairs:,} pairs, {rep.area_m2:.2f} m², "
                  f"{rep.seconds:.1f} s", flush=True)
    if any(not lyr.plan_code.startswith(tag) for lyr in layers):
        raise SystemExit("active layers from outside this build take part in checks")

    sites_all = make_sites(WARMUP + args.sites, args.seed)
    warm, sites = sites_all[:WARMUP], sites_all[WARMUP:]
    areas_ha = [site_geom(g).area / 10_000 for g in sites]
    rng = np.random.default_rng([args.seed, 1])
    metas = [ProjectMeta(project_code=f"BENCH-{i:05d}", name=f"基准测试用地 {i}",
                         proposed_use=PROPOSED_USES[int(rng.integers(len(PROPOSED_USES)))])
             for i in range(len(sites_all))]
    warm_metas, metas = metas[:WARMUP], metas[WARMUP:]

    # the floor talks to the server the way the platform does: over the Unix socket
    pg_info, password = socket_conninfo(info)
    raw = psycopg.connect(pg_info, password=password, autocommit=True)
    # The floor runs under the same interactive settings as our check (serial, custom plans).
    for name, value in check_queries.CHECK_SETTINGS.items():
        raw.execute("SELECT set_config(%s, %s, false)", (name, value))

    # warm-up (not counted); also sizes peer A's run
    for gj, meta in zip(warm, warm_metas):
        ours_check(engine, settings, gj, meta)
        peer_b_check(raw, gj, vids)
    a_warm = [peer_a_check(engine, gj, vids)[0] for gj in warm]
    a_est = statistics.mean(a_warm[WARMUP // 2:]) * len(sites)
    a_count = len(sites) if a_est <= args.peer_a_budget else min(100, len(sites))
    a_every = max(1, len(sites) // a_count)
    a_idx = set(range(0, len(sites), a_every)[:a_count])
    print(f"sites: {len(sites)} timed (+{WARMUP} warm-up), {SITE_AREA_HA[0]:g}-{SITE_AREA_HA[1]:g} ha, "
          f"median {statistics.median(areas_ha):.1f} ha; peer A estimate {a_est:.0f} s for all -> "
          f"{len(a_idx)} sites", flush=True)

    # interleaved per site (ours, peer B, peer A), the order rotating from site to site so that
    # no side always finds the site's pages just read by another
    t_ours, t_a, t_b = [], [], []
    diff_b = diff_a = 0.0
    verdicts: dict[str, int] = defaultdict(int)
    t0 = time.perf_counter()
    for i, (gj, meta) in enumerate(zip(sites, metas)):
        res: dict[str, Any] = {}
        sides = ["ours", "b", "a"] if i in a_idx else ["ours", "b"]
        shift = i % len(sides)
        for side in sides[shift:] + sides[:shift]:
            if side == "ours":
                sec, res[side] = ours_check(engine, settings, gj, meta)
                t_ours.append(sec)
            elif side == "b":
                sec, res[side] = peer_b_check(raw, gj, vids)
                t_b.append(sec)
            else:
                sec, res[side] = peer_a_check(engine, gj, vids)
                t_a.append(sec)
        result = res["ours"]
        verdicts[result.verdict] += 1
        ours_area = {f.version_id: sum(c.area_m2 for c in f.classes if c.part != "outside")
                     for f in result.layers if f.version_id is not None}
        diff_b = max(diff_b, compare(ours_area, res["b"], result.area.plane_area_m2))
        if "a" in res:
            diff_a = max(diff_a, compare(ours_area, res["a"], result.area.plane_area_m2))
        if (i + 1) % 100 == 0:
            print(f"  {i + 1:>5}/{len(sites)}  ours p50 {1000 * statistics.median(t_ours):6.1f} ms  "
                  f"B p50 {1000 * statistics.median(t_b):6.1f} ms"
                  + (f"  A p50 {1000 * statistics.median(t_a):7.1f} ms" if t_a else ""), flush=True)
    run_seconds = time.perf_counter() - t0
    raw.close()

    t_am: list[float] = []
    if args.peer_a_memory_sites > 0:
        print("peer A on in-memory layers: loading every layer ...", flush=True)
        mem = load_layers_in_memory(engine, vids)
        step = max(1, len(sites) // args.peer_a_memory_sites)
        for gj in sites[::step][:args.peer_a_memory_sites]:
            sec, _ = peer_a_memory_check(mem, gj)
            t_am.append(sec)
        del mem
    summary = {"ours": pct(t_ours), "peer_a": pct(t_a), "peer_b": pct(t_b)}
    if t_am:
        summary["peer_a_memory"] = pct(t_am)
    ratio_a = summary["peer_a"]["p50_ms"] / summary["ours"]["p50_ms"]
    ratio_am = (summary["peer_a_memory"]["p50_ms"] / summary["ours"]["p50_ms"]) if t_am else None
    ratio_b = summary["ours"]["p50_ms"] / summary["peer_b"]["p50_ms"]
    targets = {
        "ours_p50_ms": summary["ours"]["p50_ms"] <= TARGETS["ours_p50_ms"],
        "ours_p95_ms": summary["ours"]["p95_ms"] <= TARGETS["ours_p95_ms"],
        "peer_a_over_ours_p50": ratio_a >= TARGETS["peer_a_over_ours_p50"],
        "peer_a_memory_over_ours_p50": ratio_am is not None and ratio_am >= TARGETS["peer_a_over_ours_p50"],
        "ours_over_peer_b_p50": ratio_b <= TARGETS["ours_over_peer_b_p50"],
    }

    print("\nwhere one check's time goes ...", flush=True)
    k = min(args.split_checks, len(sites))
    split = measure_split(engine, settings, sites[:k], metas[:k])
    profile = profile_checks(engine, settings, sites[:k], metas[:k])
    typical = int(np.argsort(areas_ha)[len(areas_ha) // 2])
    explain = explain_site_hits(engine, sites[typical], vids, by_vid)
    big = int(np.argmax(areas_ha))
    explain_big = explain_site_hits(engine, sites[big], vids, by_vid)
    par = parallel_effect(engine, sites[:min(200, len(sites))], vids)

    # -- print --
    print(f"\nstore: {facts['polygons']:,} polygons, {facts['vector_layers']} vector layers + DEM "
          f"({DEM_RES:g} m), {facts['database_bytes'] / 1e9:.2f} GB; {rules} rules")
    for lyr in facts["layers"]:
        ref = f"{lyr['plan'].removeprefix(tag + '-')}/{lyr['layer']}"
        print(f"  {ref:<26} {lyr['theme']:<27} "
              f"{lyr['status']:<10} {lyr['features']:>9,}")
    for key, b in build.get("load", {}).items():
        print(f"  load {key:<24} gen {b['generate_s']:6.1f} s  ingest {b['ingest_s']:6.1f} s"
              + (f"  ({b['ingest_rows_per_s']:,.0f} rows/s, {b['mean_vertices']:.0f} vertices/polygon)"
                 if "features" in b else ""))
    print(f"\n{'side':<44} {'n':>5} {'p50':>8} {'p95':>8} {'p99':>8} {'mean':>8}  (ms)")
    labels = {"ours": "ours: parse + run_check + store + commit",
              "peer_a_memory": "peer A': overlay on in-memory layers",
              "peer_a": "peer A: read_postgis + overlay + dissolve",
              "peer_b": "peer B: raw SQL per layer (areas only)"}
    for key, s in summary.items():
        print(f"{labels[key]:<44} {s['n']:>5} {s['p50_ms']:>8.1f} {s['p95_ms']:>8.1f} "
              f"{s['p99_ms']:>8.1f} {s['mean_ms']:>8.1f}")
    print(f"\nratio p50(peer A)/p50(ours) = {ratio_a:.1f}x (target >= {TARGETS['peer_a_over_ours_p50']:g}x)")
    if ratio_am is not None:
        print(f"ratio p50(peer A', in-memory overlay)/p50(ours) = {ratio_am:.1f}x")
    print(f"ratio p50(ours)/p50(peer B) = {ratio_b:.2f}x (target <= {TARGETS['ours_over_peer_b_p50']:g}x)")
    print(f"ours p50 {summary['ours']['p50_ms']:.1f} ms (target <= {TARGETS['ours_p50_ms']:g}), "
          f"p95 {summary['ours']['p95_ms']:.1f} ms (target <= {TARGETS['ours_p95_ms']:g}); "
          f"targets met: {targets}")
    print(f"largest per-layer area difference vs peer B {diff_b:.2e}, vs peer A {diff_a:.2e} of the site area; "
          f"verdicts {dict(verdicts)}")
    print(f"\nsplit of one check (mean of {split['checks']}, instrumented: {split['mean_total_ms']:.1f} ms):")
    for name, ms in split["mean_ms"].items():
        print(f"  {ms:7.2f} ms  {name}")
    for label, ex in (("typical", explain), ("largest", explain_big)):
        print(f"\nSITE_FEATURES, {label} site ({ex['site_area_ha']:.1f} ha): {ex['site_pieces_all_ms']:.1f} ms all layers; "
              "per layer: " + ", ".join(f"{k.split('/')[-1]} {v['ms']:.1f} ms/{v['features_hit']} f/"
                                        f"{v['vertices_hit']} v" for k, v in ex["per_layer"].items()))
    print(f"\nparallel query, {par['sites']} sites: SITE_FEATURES plans workers for {par['site_hits_parallel_plans']}; "
          "p50/p95 ms default -> max_parallel_workers_per_gather=0: "
          f"SITE_FEATURES {par['default']['site_hits']['p50_ms']:.1f}/{par['default']['site_hits']['p95_ms']:.1f} -> "
          f"{par['no_parallel']['site_hits']['p50_ms']:.1f}/{par['no_parallel']['site_hits']['p95_ms']:.1f}, "
          f"peer B SQL {par['default']['peer_b_sql']['p50_ms']:.1f}/{par['default']['peer_b_sql']['p95_ms']:.1f} -> "
          f"{par['no_parallel']['peer_b_sql']['p50_ms']:.1f}/{par['no_parallel']['peer_b_sql']['p95_ms']:.1f}")
    print("EXPLAIN ANALYZE (typical site), last lines:")
    for line in explain["plan"][-4:]:
        print("  " + line)

    result = {
        "benchmark": "precheck",
        "when": dt.datetime.now().isoformat(timespec="seconds"),
        "args": {"polygons": args.polygons, "sites": args.sites, "seed": args.seed, "home": str(home)},
        "store": facts, "build": build, "overlap_checks": overlap_checks,
        "sites": {"timed": len(sites), "warmup": WARMUP, "area_ha": SITE_AREA_HA, "vertices": SITE_VERTICES,
                  "median_area_ha": statistics.median(areas_ha), "peer_a_sites": len(t_a),
                  "peer_a_estimate_all_s": a_est},
        "summary": summary, "ratio_peer_a_over_ours_p50": ratio_a,
        "ratio_peer_a_memory_over_ours_p50": ratio_am, "ratio_ours_over_peer_b_p50": ratio_b,
        "targets": TARGETS, "targets_met": targets,
        "agreement": {"max_layer_area_diff_vs_peer_b": diff_b, "max_layer_area_diff_vs_peer_a": diff_a},
        "verdicts": dict(verdicts), "run_seconds": run_seconds,
        "split": split, "profile_top": profile,
        "explain_typical": explain, "explain_largest": explain_big, "parallel_effect": par,
        "versions": {**facts["versions"], "python": platform.python_version(),
                     "shapely": shapely.__version__, "geos": shapely.geos_version_string,
                     "geopandas": gpd.__version__, "psycopg": psycopg.__version__},
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "total_seconds": time.perf_counter() - t_start,
    }
    print(f"\ntotal {result['total_seconds']:.0f} s")
    finish(result, args.out, engine, settings, keep_running=args.keep_running)
    return 0


if __name__ == "__main__":
    sys.exit(main())
