"""Conflict-analysis benchmark (issue #4): ``run_conflicts`` against ``geopandas.overlay``.

Usage::

    .venv/bin/python -m bench.conflict_bench [--sizes 100000,500000] [--home DIR] [--seed N]
                                             [--repeat 1] [--split-tiles 3] [--keep-running]

For each size N, a land-use plan (A, 土地用途区, ``tdyt`` codes) and an urban plan (B, 城市用地,
``gb50137`` codes) are generated once (fixed seed) over a 50 km x 45 km city extent inside
Dingxi (EPSG:4523, E 35480000-35530000, N 3930000-3975000), written as GeoPackages and loaded
through ``plans.ingest.ingest`` into a dedicated store (default ``./.gisplat-bench/conflict``),
together with counties, permanent basic farmland, ecological red line and urban development
boundary layers (shared by all sizes), so enrichment has real work. A is a wall-to-wall
Voronoi partition of N cells; B is A re-digitised: every vertex moved by a smooth digitising
noise of up to ~2 m over about half of the extent (exact copies elsewhere), some cells split
in two and some pairs merged, class codes drawn from A's so that all of 01-04, use-inconsistent
01 patches and a few unknown codes occur. Loading is not timed.

Then, in the same run on the same data and each in its own spawned process (so that peak
memories do not mix):

- **ours**: ``run_conflicts(engine, settings, A, B, "landuse_vs_urban", engine_name="local")``
  end to end (set-up, tiles on the default workers: that process and a pool beside it,
  data-quality pass, storing the patches); wall time. Both versions' internal overlaps are
  checked once after loading, as every loader of the platform does (not timed; printed).
- **geopandas**: both GeoPackages read into GeoDataFrames (timed separately, not counted), then
  ``geopandas.overlay(a, b, how="intersection", keep_geom_type=True)`` plus the same
  classification (construction flags of both codes from the same code tables, categories
  01-04/unmapped, use-group subtype of 01) in vectorised pandas, timed.

The timed runs (``--repeat`` of each side, alternating, medians compared) run with nothing
watching them. Memory is measured in one more run of each side: the peak of the summed RSS of
the side's process and its children (ours: forkserver, pool workers) sampled every 50 ms, and
once a second their PSS and the PostgreSQL cluster's processes' RSS and PSS (reported
separately, the PSS split into the cluster's shared memory, its buffer pool, and the rest). The sampler costs CPU and, reading PSS, stalls the processes it reads; on a
2-core machine that slows ours, which keeps both cores busy (at 100k, medians of ten runs each
way, alternating: 9.9 s unwatched, 10.6 s watched), and hardly the geopandas path, which leaves
a core free: so memory runs are not timed runs (their wall times are printed, not compared).

Both results are compared (pieces of area > 0 and their total area, which must agree to 0.1 %,
and the area per category); the benchmark fails loudly when they do not. Prints a table per
size and the 500k/100k time ratio of ours, our run's ``summary["timings"]`` and tile figures,
and an instrumented split of a few tiles (``conflict_tiles.run_tile`` in one process). Writes
``bench/out/conflict.json``.
"""

from __future__ import annotations

import argparse
import cProfile
import csv
import datetime as dt
import importlib
import io
import json
import math
import multiprocessing as mp
import os
import platform
import pstats
import resource
import statistics
import sys
import threading
import time
import warnings
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import psutil
import pyogrio
import pyogrio.raw
import shapely
import shapely.ops
from sqlalchemy import Engine, text

from bench.common import ensure_home, finish
from gis_platform.core.db import embedded_cluster, session_scope
from gis_platform.core.settings import Settings

GENERATOR_VERSION = 1
DEFAULT_SEED = 20261204
SRID = 4523
X0, X1 = 35_480_000.0, 35_530_000.0
Y0, Y1 = 3_930_000.0, 3_975_000.0
W, H = X1 - X0, Y1 - Y0
PROFILE = "landuse_vs_urban"
A_FIELD, B_FIELD = "TDYTQLXDM", "YDDM"
SAMPLE_S = 0.05
FULL_EVERY = 20  # ticks between PSS samples (1 s)
AREA_TOLERANCE = 1e-3  # total areas must agree to 0.1 %
OUT_DIR = Path(__file__).resolve().parent / "out"
ROOT = Path(__file__).resolve().parent.parent
CODE_TABLES = ROOT / "plans" / "code_tables"
CROSSWALKS = ROOT / "conflict_checks" / "crosswalks"
TARGETS = {"geopandas_over_ours": 2.0, "ours_peak_below_geopandas": True, "ours_500k_over_100k": 6.0}

# Land-use plan zones (tdyt): 030/040/050 are construction (plans/code_tables/tdyt.csv).
TDYT = ["010", "020", "030", "040", "050", "060", "070", "080", "090", "100", "990"]
TDYT_W = [22, 20, 14, 9, 4, 3, 6, 2, 12, 6, 2]
A_UNKNOWN = "999"  # not in the table: unmapped
A_UNKNOWN_SHARE = 0.001
# Urban plan codes (gb50137) drawn given A's zone: mostly agreeing on construction, not always.
B_GIVEN_A = {
    "030": ({"R2": 35, "A1": 8, "B1": 12, "M1": 10, "W1": 4, "S1": 15, "U1": 4, "G1": 9, "H14": 3}, 0.90),
    "040": ({"H14": 60, "R2": 18, "M1": 12, "B1": 10}, 0.85),
    "050": ({"M1": 55, "W1": 20, "R2": 10, "H14": 15}, 0.90),
}
B_CONSTRUCTION_ELSE = {"H14": 50, "R2": 15, "M1": 15, "S1": 10, "U1": 10}  # on non-construction A
B_NON = {"E2": 75, "E1": 25}
B_CONSTRUCTION_ON_NON = 0.12
B_UNKNOWN = "X9"  # not in the table: unmapped
B_UNKNOWN_SHARE = 0.003
SPLIT_SHARE, MERGE_SHARE = 0.05, 0.05
COUNTIES = [("621102", "安定区"), ("621121", "通渭县"), ("621122", "陇西县"), ("621123", "渭源县"),
            ("621124", "临洮县")]


# -- smooth fields ------------------------------------------------------------------------------
class Waves:
    """A sum of plane sine waves (local coordinates, metres), unit variance."""

    def __init__(self, rng: np.random.Generator, n: int, lmin: float, lmax: float) -> None:
        L = np.exp(rng.uniform(math.log(lmin), math.log(lmax), n))
        th = rng.uniform(0, 2 * np.pi, n)
        self.kx, self.ky = 2 * np.pi * np.cos(th) / L, 2 * np.pi * np.sin(th) / L
        self.ph = rng.uniform(0, 2 * np.pi, n)
        self.a = math.sqrt(2.0 / n)

    def __call__(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        out = np.zeros(np.broadcast(x, y).shape)
        for kx, ky, ph in zip(self.kx, self.ky, self.ph):
            out += self.a * np.sin(kx * x + ky * y + ph)
        return out


def _taper(x: np.ndarray, y: np.ndarray, width: float) -> np.ndarray:
    """0 on the extent's edge, 1 from ``width`` inside it (the outer boundary stays the box)."""
    return np.clip(np.minimum.reduce([x, W - x, y, H - y]) / width, 0.0, 1.0)


class Displace:
    """A smooth displacement field: ``amp`` metres times unit waves, tapered at the extent's edge,
    optionally modulated by a mask field in [0, 1]."""

    def __init__(self, rng: np.random.Generator, amp: float, lmin: float, lmax: float,
                 mask: Any = None, taper: float = 300.0) -> None:
        self.fx, self.fy = Waves(rng, 4, lmin, lmax), Waves(rng, 4, lmin, lmax)
        self.amp, self.mask, self.taper = amp, mask, taper

    def __call__(self, coords: np.ndarray) -> np.ndarray:
        x, y = coords[:, 0] - X0, coords[:, 1] - Y0
        s = self.amp * _taper(x, y, self.taper)
        if self.mask is not None:
            s = s * self.mask(x, y)
        return coords + np.column_stack([s * self.fx(x, y), s * self.fy(x, y)])


def noise_mask(rng: np.random.Generator) -> Any:
    """Where B was re-digitised (1) rather than copied (0): smooth blobs over about half the area."""
    f = Waves(rng, 6, 3_000, 15_000)
    return lambda x, y: np.clip((f(x, y) + 0.1) / 0.5, 0.0, 1.0)


def _valid(geoms: np.ndarray) -> np.ndarray:
    bad = np.flatnonzero(~shapely.is_valid(geoms))
    for i in bad:  # rare: the largest polygon of its valid form
        parts = [p for p in shapely.get_parts(shapely.make_valid(geoms[i])) if p.geom_type == "Polygon"]
        geoms[i] = max(parts, key=lambda p: p.area)
    return geoms


def _draw(rng: np.random.Generator, table: dict[str, float], n: int) -> np.ndarray:
    codes = list(table)
    w = np.asarray([table[c] for c in codes], dtype=float)
    return np.asarray(codes, dtype=object)[rng.choice(len(codes), size=n, p=w / w.sum())]


# -- data ---------------------------------------------------------------------------------------
def voronoi_partition(rng: np.random.Generator, n: int) -> tuple[np.ndarray, float]:
    """Exactly n cells of a jittered-grid Voronoi partition of the extent; the grid step."""
    mx = max(2, round(math.sqrt(n * W / H)))
    my = math.ceil(n / mx)
    step_x, step_y = W / mx, H / my
    gx, gy = np.meshgrid(np.arange(mx) + 0.5, np.arange(my) + 0.5, indexing="ij")
    pts = np.column_stack([(gx.ravel() + rng.uniform(-0.42, 0.42, gx.size)) * step_x + X0,
                           (gy.ravel() + rng.uniform(-0.42, 0.42, gy.size)) * step_y + Y0])
    drop = rng.choice(len(pts), size=len(pts) - n, replace=False)
    pts = np.delete(pts, drop, axis=0)
    env = shapely.box(X0 - 5 * step_x, Y0 - 5 * step_y, X1 + 5 * step_x, Y1 + 5 * step_y)
    cells = shapely.get_parts(shapely.voronoi_polygons(shapely.MultiPoint(pts), extend_to=env, ordered=True))
    cells = shapely.intersection(cells, shapely.box(X0, Y0, X1, Y1))
    return np.asarray(cells, dtype=object), math.sqrt(step_x * step_y)


def make_ab(n: int, seed: int) -> dict[str, Any]:
    """Layer A (tdyt zones) and B (gb50137 parcels, A re-digitised) with their codes."""
    t0 = time.perf_counter()
    rng = np.random.default_rng([seed, GENERATOR_VERSION, n])
    cells, step = voronoi_partition(rng, n)
    # A: irregular zones: edges segmentized (~16 vertices a cell) and smoothly warped.
    a = shapely.segmentize(cells, step / 3.0)
    shape = Displace(rng, 0.035 * step, 1.5 * step, 3.0 * step, taper=2 * step)
    a = _valid(np.asarray(shapely.transform(a, shape), dtype=object))
    # A's codes: spatially correlated (argmax of smooth per-class scores plus noise).
    c = shapely.get_coordinates(shapely.centroid(a))
    x, y = c[:, 0] - X0, c[:, 1] - Y0
    w = np.asarray(TDYT_W, float) / sum(TDYT_W)
    best = np.full(len(a), -np.inf)
    k_best = np.zeros(len(a), np.int64)
    for k in range(len(TDYT)):
        score = math.log(w[k]) + 1.3 * Waves(rng, 4, 1_500, 12_000)(x, y) + rng.gumbel(0, 0.6, len(a))
        better = score > best
        k_best[better], best[better] = k, score[better]
    a_code = np.asarray(TDYT, dtype=object)[k_best]
    a_code[rng.random(len(a)) < A_UNKNOWN_SHARE] = A_UNKNOWN

    # B: every vertex moved by the same smooth digitising noise (so B stays a partition),
    # wavelengths 150-500 m, up to ~2 m where the mask is on; identical to A elsewhere.
    noise = Displace(rng, 1.3, 150, 500, mask=noise_mask(rng), taper=200.0)
    b = _valid(np.asarray(shapely.transform(a, noise), dtype=object))
    origin = np.arange(len(b))
    # Some pairs of neighbours merged into one parcel.
    tree = shapely.STRtree(b)
    used = np.zeros(len(b), dtype=bool)
    gone = np.zeros(len(b), dtype=bool)
    merged: dict[int, shapely.Geometry] = {}
    for i in rng.choice(len(b), size=int(MERGE_SHARE * len(b)), replace=False):
        if used[i]:
            continue
        for j in tree.query(b[i], predicate="intersects"):
            if j == i or used[j]:
                continue
            u = shapely.union(b[i], b[j])
            if u.geom_type == "Polygon" and not list(u.interiors):
                merged[int(i)] = u
                used[i] = used[j] = True
                gone[j] = True
                break
    for i, u in merged.items():
        b[i] = u
    # Some parcels split in two by a line through their centre.
    split_geoms, split_origin = [], []
    splits = 0
    for i in rng.choice(np.flatnonzero(~used), size=int(SPLIT_SHARE * len(b)), replace=False):
        g = b[i]
        cx, cy = g.centroid.x, g.centroid.y
        th = rng.uniform(0, np.pi)
        r = 4 * step
        line = shapely.LineString([(cx - r * math.cos(th), cy - r * math.sin(th)),
                                   (cx + r * math.cos(th), cy + r * math.sin(th))])
        parts = [p for p in shapely.get_parts(shapely.ops.split(g, line)) if p.geom_type == "Polygon"]
        if len(parts) == 2 and all(p.is_valid for p in parts):
            b[i] = parts[0]
            split_geoms.append(parts[1])
            split_origin.append(i)
            splits += 1
    keep = ~gone
    b = np.concatenate([b[keep], np.asarray(split_geoms, dtype=object)])
    origin = np.concatenate([origin[keep], np.asarray(split_origin, dtype=np.int64)])
    b = _valid(b)
    # B's codes, given A's zone at the parcel's origin.
    b_code = np.empty(len(b), dtype=object)
    oa = a_code[origin]
    u = rng.random(len(b))
    for zone, (table, p_con) in B_GIVEN_A.items():
        m = oa == zone
        con = m & (u < p_con)
        b_code[con] = _draw(rng, table, int(con.sum()))
        b_code[m & ~con] = _draw(rng, B_NON, int((m & ~con).sum()))
    rest = ~np.isin(oa, list(B_GIVEN_A))
    con = rest & (u < B_CONSTRUCTION_ON_NON)
    b_code[con] = _draw(rng, B_CONSTRUCTION_ELSE, int(con.sum()))
    b_code[rest & ~con] = _draw(rng, B_NON, int((rest & ~con).sum()))
    b_code[rng.random(len(b)) < B_UNKNOWN_SHARE] = B_UNKNOWN
    return {"a": a, "a_code": a_code, "b": b, "b_code": b_code, "step_m": step,
            "b_merged": len(merged), "b_split": splits, "generate_s": time.perf_counter() - t0}


def make_controls(seed: int) -> dict[str, tuple[np.ndarray, dict[str, np.ndarray]]]:
    """Counties (5 polygons), permanent basic farmland, red line, UDB (a few hundred each)."""
    rng = np.random.default_rng([seed, GENERATOR_VERSION, 7])
    cells, step = voronoi_partition(rng, 2_000)
    cells = np.asarray(shapely.transform(shapely.segmentize(cells, step / 6.0),
                                         Displace(rng, 0.04 * step, 1.5 * step, 3 * step, taper=2 * step)),
                       dtype=object)
    cells = _valid(cells)
    c = shapely.get_coordinates(shapely.centroid(cells))
    x, y = c[:, 0] - X0, c[:, 1] - Y0
    out: dict[str, tuple[np.ndarray, dict[str, np.ndarray]]] = {}
    for name, count in (("pbf", 400), ("eco_redline", 250), ("udb", 300)):
        score = Waves(rng, 6, 4_000, 20_000)(x, y) + rng.normal(0, 0.15, len(cells))
        sel = np.sort(np.argsort(-score)[:count])
        out[name] = (cells[sel], {"MC": np.asarray([name] * count, dtype=object)})
    seeds = shapely.MultiPoint(np.column_stack([rng.uniform(X0, X1, len(COUNTIES)),
                                                rng.uniform(Y0, Y1, len(COUNTIES))]))
    big = shapely.box(X0 - 2_000, Y0 - 2_000, X1 + 2_000, Y1 + 2_000)
    counties = shapely.intersection(shapely.get_parts(shapely.voronoi_polygons(seeds, extend_to=big, ordered=True)),
                                    big)
    out["counties"] = (np.asarray(counties, dtype=object),
                       {"XZQDM": np.asarray([c[0] for c in COUNTIES], dtype=object),
                        "XZQMC": np.asarray([c[1] for c in COUNTIES], dtype=object)})
    return out


def write_gpkg(path: Path, layer: str, geoms: np.ndarray, fields: dict[str, np.ndarray]) -> None:
    path.unlink(missing_ok=True)
    tmp = path.with_suffix(".tmp.gpkg")
    tmp.unlink(missing_ok=True)
    fields = {"BSM": np.arange(1, len(geoms) + 1, dtype=np.int64), **fields}
    pyogrio.raw.write(tmp, shapely.to_wkb(geoms), list(fields.values()), list(fields), geometry_type="Polygon",
                      crs=f"EPSG:{SRID}", layer=layer, driver="GPKG", dataset_options={"VERSION": "1.2"})
    tmp.rename(path)


# -- the store ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class LayerSpec:
    plan: str
    kind: str
    name: str
    theme: str
    class_field: str | None = None
    scheme: str | None = None


def build_tag(n: int, seed: int) -> str:
    return f"cbench-n{n}-s{seed}-g{GENERATOR_VERSION}"


def ctrl_plan(seed: int) -> str:
    return f"cbench-ctrl-s{seed}-g{GENERATOR_VERSION}"


def ab_specs(n: int, seed: int) -> list[LayerSpec]:
    tag = build_tag(n, seed)
    return [LayerSpec(f"{tag}-tg", "land_use_master", "tdytq", "land_use_zone", A_FIELD, "tdyt"),
            LayerSpec(f"{tag}-cg", "urban_master", "ydgh", "urban_land_use", B_FIELD, "gb50137")]


def ctrl_specs(seed: int) -> list[LayerSpec]:
    p = ctrl_plan(seed)
    return [LayerSpec(p, "control_line", "counties", "admin_county"),
            LayerSpec(p, "control_line", "pbf", "permanent_basic_farmland"),
            LayerSpec(p, "control_line", "eco_redline", "ecological_red_line"),
            LayerSpec(p, "control_line", "udb", "urban_development_boundary")]


def newest(engine: Engine, plan: str, layer: str) -> tuple[int, int] | None:
    """(version id, feature count) of the newest version of plan/layer, or None."""
    with engine.connect() as conn:
        row = conn.execute(text(
            "SELECT v.id, v.feature_count FROM plans p JOIN layers l ON l.plan_id = p.id "
            "JOIN layer_versions v ON v.layer_id = l.id WHERE p.code = :p AND l.name = :l "
            "ORDER BY v.version DESC LIMIT 1"), {"p": plan, "l": layer}).first()
    return (int(row[0]), int(row[1])) if row else None


def load(engine: Engine, settings: Settings, spec: LayerSpec, path: Path) -> dict[str, Any]:
    from plans.ingest import IngestRequest, ingest
    from plans.service import create_plan

    with session_scope(engine) as s:
        if s.execute(text("SELECT 1 FROM plans WHERE code = :c"), {"c": spec.plan}).first() is None:
            create_plan(s, code=spec.plan, name=f"冲突分析基准测试 {spec.plan}", kind=spec.kind,
                        authority="基准测试（合成数据）")
    t0 = time.perf_counter()
    with session_scope(engine) as s:
        v = ingest(s, settings, IngestRequest(path=path, plan=spec.plan, layer=spec.name,
                                              class_field=spec.class_field, scheme=spec.scheme,
                                              theme=spec.theme))
        vid, count = v.id, v.feature_count
    return {"version_id": vid, "features": count, "ingest_s": time.perf_counter() - t0}


def ensure_checked(engine: Engine, version_id: int) -> dict[str, Any] | None:
    """The version's internal overlap check (layers.overlaps), as every loader of the platform
    runs it after a load (gisplat ingest, manifests, the server in the background); run here
    when missing, not timed with the conflict run. None when it was there already."""
    from layers import queries as layer_queries
    from layers.overlaps import check_version_overlaps

    with engine.connect() as conn:
        if conn.execute(layer_queries.OVERLAPS_CHECKED, {"vid": version_id}).first():
            return None
    rep = check_version_overlaps(engine, version_id, SRID)
    return {"pairs": rep.pairs, "area_m2": rep.area_m2, "seconds": rep.seconds} if rep else None


def ensure_controls(engine: Engine, settings: Settings, seed: int, workdir: Path) -> dict[str, Any]:
    specs = ctrl_specs(seed)
    have = {s.name: newest(engine, s.plan, s.name) for s in specs}
    report: dict[str, Any] = {}
    if all(have.values()):
        return {s.name: {"version_id": have[s.name][0], "features": have[s.name][1], "reused": True}
                for s in specs}
    data = make_controls(seed)
    for spec in specs:
        if have[spec.name]:
            report[spec.name] = {"version_id": have[spec.name][0], "features": have[spec.name][1], "reused": True}
            continue
        geoms, fields = data[spec.name]
        path = workdir / f"{spec.plan}-{spec.name}.gpkg"
        write_gpkg(path, spec.name, geoms, fields)
        report[spec.name] = load(engine, settings, spec, path)
        path.unlink(missing_ok=True)
    return report


def isolate(engine: Engine, seed: int) -> list[str]:
    """Enrichment reads every non-draft layer of its themes: other control plans are set to draft;
    any other non-draft plan holding such a theme makes the benchmark refuse to run."""
    themes = [s.theme for s in ctrl_specs(seed)] + ["admin_township"]
    mine = ctrl_plan(seed)
    with session_scope(engine) as s:
        foreign = s.execute(text(
            "SELECT DISTINCT p.code FROM plans p JOIN layers l ON l.plan_id = p.id "
            "WHERE p.status <> 'draft' AND l.theme = ANY(:t) AND p.code NOT LIKE 'cbench-ctrl-%'"),
            {"t": themes}).scalars().all()
        if foreign:
            raise SystemExit(f"the store holds other non-draft plans with enrichment layers ({', '.join(foreign)}); "
                             "use a dedicated --home")
        others = s.execute(text(
            "UPDATE plans SET status = 'draft' WHERE code LIKE 'cbench-ctrl-%' AND code <> :c "
            "AND status <> 'draft' RETURNING code"), {"c": mine}).scalars().all()
        s.execute(text("UPDATE plans SET status = 'active' WHERE code = :c"), {"c": mine})
    return [f"set {len(others)} other control plans to draft"] if others else []


def _print_qa(ref: str, qa: dict[str, Any]) -> None:
    print(f"  internal overlap check of {ref} (once per version, not timed): {qa['pairs']:,} pairs, "
          f"{qa['area_m2']:.6f} m², {qa['seconds']:.1f} s", flush=True)


def ensure_ab(engine: Engine, settings: Settings, n: int, seed: int, workdir: Path) -> dict[str, Any]:
    """GeoPackages of A and B (kept: the geopandas side reads them) and their store versions."""
    specs = ab_specs(n, seed)
    paths = [workdir / f"{s.plan}-{s.name}.gpkg" for s in specs]
    record = workdir / f"{build_tag(n, seed)}.json"
    have = [newest(engine, s.plan, s.name) for s in specs]
    if record.exists() and all(p.exists() for p in paths) and all(have):
        rec = json.loads(record.read_text())
        if [h[0] for h in have] == [rec["a"]["version_id"], rec["b"]["version_id"]]:
            rec["reused"] = True
            for key in ("a", "b"):
                qa = ensure_checked(engine, rec[key]["version_id"])
                if qa is not None:
                    rec[key]["overlap_check"] = qa
                    _print_qa(rec[key]["ref"], qa)
            return rec
    data = make_ab(n, seed)
    print(f"  generated A {len(data['a']):,} / B {len(data['b']):,} polygons in {data['generate_s']:.1f} s "
          f"(B: {data['b_merged']:,} merges, {data['b_split']:,} splits)", flush=True)
    rec: dict[str, Any] = {"tag": build_tag(n, seed), "generate_s": data["generate_s"], "step_m": data["step_m"],
                           "b_merged": data["b_merged"], "b_split": data["b_split"]}
    for key, spec, path in zip(("a", "b"), specs, paths):
        geoms = data[key]
        write_gpkg(path, spec.name, geoms, {spec.class_field: data[f"{key}_code"]})
        info = load(engine, settings, spec, path)
        info.update(path=str(path), file_mb=path.stat().st_size / 1e6,
                    vertices=int(shapely.get_num_coordinates(geoms).sum()),
                    ref=f"{spec.plan}/{spec.name}", codes=dict(sorted(
                        zip(*np.unique(data[f"{key}_code"].astype(str), return_counts=True)))))
        info["codes"] = {k: int(v) for k, v in info["codes"].items()}
        print(f"  loaded {info['ref']}: {info['features']:,} features in {info['ingest_s']:.1f} s", flush=True)
        qa = ensure_checked(engine, info["version_id"])
        if qa is not None:
            info["overlap_check"] = qa
            _print_qa(info["ref"], qa)
        rec[key] = info
    rec["reused"] = False
    record.write_text(json.dumps(rec, indent=2) + "\n")
    return rec


# -- memory sampling ----------------------------------------------------------------------------
class Sampler(threading.Thread):
    """Peak summed RSS of a process tree every ``SAMPLE_S``, and once a second its PSS and the
    PostgreSQL cluster's processes' RSS and PSS, until stopped. PSS is read rarely: the kernel
    walks every mapped page of a process for it, holding the process's memory map lock, which
    slows a busy process (and the more, the more processes and memory a side has)."""

    def __init__(self, root: int, postmaster: int | None) -> None:
        super().__init__(daemon=True)
        self.root, self.postmaster = root, postmaster
        self.stop_ev = threading.Event()
        self.peak_rss = self.peak_pss = 0
        self.pg_peak_rss = self.pg_peak_pss = 0
        self.pg_peak_shmem = self.pg_peak_own = 0
        self.max_procs = 0
        self.samples = 0

    @staticmethod
    def _tree(pid: int) -> list[psutil.Process]:
        try:
            p = psutil.Process(pid)
            return [p, *p.children(recursive=True)]
        except psutil.Error:
            return []

    @staticmethod
    def _rollup(pid: int) -> dict[str, int]:
        """``/proc/PID/smaps_rollup`` in bytes (Rss, Pss, Pss_Shmem...): one kernel walk."""
        out = {}
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                key, _, rest = line.partition(":")
                if rest.strip().endswith("kB"):
                    out[key] = int(rest.split()[0]) * 1024
        return out

    @classmethod
    def _sum(cls, procs: list[psutil.Process], full: bool) -> tuple[int, int, int]:
        """Summed RSS, PSS and PSS of shared memory (for PostgreSQL: its shared buffer pool)."""
        rss = pss = shmem = 0
        for p in procs:
            try:
                if full:
                    m = cls._rollup(p.pid)
                    rss += m.get("Rss", 0)
                    pss += m.get("Pss", 0)
                    shmem += m.get("Pss_Shmem", 0)
                else:
                    rss += p.memory_info().rss
            except (psutil.Error, OSError):
                pass
        return rss, pss, shmem

    def run(self) -> None:
        tick = 0
        while not self.stop_ev.is_set():
            full = tick % FULL_EVERY == 0
            procs = self._tree(self.root)
            self.max_procs = max(self.max_procs, len(procs))
            rss, pss, _ = self._sum(procs, full)
            self.peak_rss = max(self.peak_rss, rss)
            self.peak_pss = max(self.peak_pss, pss)
            if self.postmaster is not None and full:
                rss, pss, shmem = self._sum(self._tree(self.postmaster), True)
                self.pg_peak_rss = max(self.pg_peak_rss, rss)
                self.pg_peak_pss = max(self.pg_peak_pss, pss)
                self.pg_peak_shmem = max(self.pg_peak_shmem, shmem)
                self.pg_peak_own = max(self.pg_peak_own, pss - shmem)
            self.samples += 1
            tick += 1
            self.stop_ev.wait(SAMPLE_S)

    def stop(self) -> dict[str, float]:
        self.stop_ev.set()
        self.join()
        mb = 1024 * 1024
        return {"peak_rss_mb": self.peak_rss / mb, "peak_pss_mb": self.peak_pss / mb,
                "pg_peak_rss_mb": self.pg_peak_rss / mb, "pg_peak_pss_mb": self.pg_peak_pss / mb,
                "pg_peak_shmem_mb": self.pg_peak_shmem / mb, "pg_peak_own_mb": self.pg_peak_own / mb,
                "max_processes": self.max_procs, "samples": self.samples}


def postmaster_pid(settings: Settings) -> int | None:
    try:
        return int((embedded_cluster(settings).data_dir / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def quiesce(engine: Engine, limit_s: float = 300.0) -> float:
    """Wait (up to ``limit_s``) until no autovacuum worker runs: freshly loaded layers are
    vacuumed/analysed by the server right after ingest, which would compete with a timed run."""
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < limit_s:
        with engine.connect() as conn:
            busy = conn.execute(text("SELECT count(*) FROM pg_stat_activity "
                                     "WHERE backend_type = 'autovacuum worker'")).scalar_one()
        if not busy:
            break
        time.sleep(1.0)
    return time.perf_counter() - t0


def pg_memory(pid: int | None) -> dict[str, float]:
    if pid is None:
        return {}
    rss, pss, shmem = Sampler._sum(Sampler._tree(pid), True)
    return {"rss_mb": rss / 2**20, "pss_mb": pss / 2**20, "shmem_pss_mb": shmem / 2**20}


def in_child(target: Any, args: tuple, postmaster: int | None, timeout: float = 7200.0,
             sample: bool = True) -> tuple[dict, dict]:
    """Run ``target(*args, conn)`` in a spawned process; with ``sample``, sample its tree's (and
    the cluster's) memory meanwhile; return (result, memory: empty without ``sample``)."""
    ctx = mp.get_context("spawn")
    rx, tx = ctx.Pipe(duplex=False)
    # by the importable module's name (not __main__), so the spawned process imports it cleanly
    target = getattr(importlib.import_module("bench.conflict_bench"), target.__name__)
    proc = ctx.Process(target=target, args=(*args, tx))
    proc.start()
    tx.close()
    sampler = Sampler(proc.pid, postmaster) if sample else None
    if sampler is not None:
        sampler.start()
    result: dict[str, Any] = {}
    try:
        if rx.poll(timeout):
            result = rx.recv()
    except EOFError:
        pass
    proc.join()
    mem = sampler.stop() if sampler is not None else {}
    if proc.exitcode != 0 or "error" in result or not result:
        raise SystemExit(f"{target.__name__} failed (exit {proc.exitcode}): {result.get('error', 'no result')}")
    return result, mem


# -- ours ---------------------------------------------------------------------------------------
def ours_child(home: str, a_ref: str, b_ref: str, conn: Any) -> None:
    """Spawned: ``run_conflicts`` end to end, timed (engine creation before the timing)."""
    try:
        from conflict_checks.bootstrap import prepare_store
        from conflict_checks.conflict_run import run_conflicts

        settings = Settings(home=Path(home), database_url=None)
        engine = prepare_store(settings)
        base = psutil.Process().memory_info().rss
        t0 = time.perf_counter()
        run_id = run_conflicts(engine, settings, a_ref, b_ref, PROFILE, engine_name="local")
        sec = time.perf_counter() - t0
        conn.send({"seconds": sec, "run_id": run_id, "workers": min(os.cpu_count() or 1, 8),
                   "base_rss_mb": base / 2**20,
                   "ru_maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024})
    except BaseException as e:
        import traceback

        conn.send({"error": f"{e!r}\n{traceback.format_exc()}"})
        raise


def ours_result(engine: Engine, run_id: int) -> dict[str, Any]:
    with engine.connect() as conn:
        run = conn.execute(text("SELECT tiles, summary FROM conflict_runs WHERE id = :id"), {"id": run_id}).one()
        rows = conn.execute(text(
            "SELECT category, subtype, kept, filter_reason, count(*), sum(area_m2), "
            "count(*) FILTER (WHERE county_code IS NOT NULL), count(*) FILTER (WHERE in_farmland), "
            "count(*) FILTER (WHERE in_redline), count(*) FILTER (WHERE in_udb) "
            "FROM conflict_patches WHERE run_id = :id GROUP BY 1, 2, 3, 4"), {"id": run_id}).all()
        pairs = conn.execute(text(
            "SELECT count(DISTINCT (a_fid, b_fid)) FROM conflict_patches WHERE run_id = :id"),
            {"id": run_id}).scalar_one()
        size = conn.execute(text("SELECT pg_total_relation_size(:t)"),
                            {"t": f"conflict_patches_r{int(run_id)}"}).scalar_one()
    summary = run.summary if isinstance(run.summary, dict) else json.loads(run.summary)
    by_cat: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])
    by_sub: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])
    kept = filtered = 0
    enriched = {"county": 0, "in_farmland": 0, "in_redline": 0, "in_udb": 0}
    reasons: dict[str, int] = defaultdict(int)
    for cat, sub, k, reason, n, area, cty, fl, rl, ud in rows:
        by_cat[cat][0] += n
        by_cat[cat][1] += float(area)
        if cat == "01":
            by_sub[sub or "-"][0] += n
            by_sub[sub or "-"][1] += float(area)
        if k:
            kept += n
        else:
            filtered += n
            reasons[reason] += n
        for key, v in zip(enriched, (cty, fl, rl, ud)):
            enriched[key] += v
    tiles = [t["seconds"] for t in summary.get("tiles", [])]
    return {"tiles": int(run.tiles), "timings": summary.get("timings"), "pieces": kept + filtered, "kept": kept,
            "filtered": filtered, "filter_reasons": dict(reasons), "pairs": int(pairs),
            "area_m2": sum(v[1] for v in by_cat.values()),
            "by_category": {k: {"count": v[0], "area_m2": v[1]} for k, v in sorted(by_cat.items())},
            "subtypes_01": {k: {"count": v[0], "area_m2": v[1]} for k, v in sorted(by_sub.items())},
            "enriched": enriched, "data_quality": summary.get("data_quality"),
            "tile_seconds": {"n": len(tiles), "sum": sum(tiles), "median": statistics.median(tiles) if tiles else 0,
                             "max": max(tiles, default=0)},
            "partition_mb": size / 1e6}


# -- the geopandas path ---------------------------------------------------------------------------
def _flag_tables() -> tuple[dict[str, dict[str, int]], dict[str, dict[str, str]], set[str]]:
    """Construction flags per code of tdyt and gb50137 (parent prefix when a code has none), use
    groups per scheme and compatible group pairs, from the same code tables and crosswalks."""
    flags: dict[str, dict[str, int]] = {}
    for scheme in ("tdyt", "gb50137"):
        with (CODE_TABLES / f"{scheme}.csv").open(encoding="utf-8") as fh:
            rows = {r["code"]: r["is_construction"].strip().lower() for r in csv.DictReader(fh)}
        out = {}
        for code, value in rows.items():
            flag, k = value, len(code)
            while flag not in ("true", "false") and k > 1:
                k -= 1
                flag = rows.get(code[:k], "")
            if flag in ("true", "false"):
                out[code] = int(flag == "true")
        flags[scheme] = out
    groups: dict[str, dict[str, str]] = defaultdict(dict)
    with (CROSSWALKS / "use_groups.csv").open(encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            groups[r["scheme"]][r["code"]] = r["group"]
    with (CROSSWALKS / "use_group_compat.csv").open(encoding="utf-8") as fh:
        compat = {f"{r['broad']}|{r['narrow']}" for r in csv.DictReader(fh)}
    compat |= {"|".join(reversed(p.split("|"))) for p in compat}
    return flags, dict(groups), compat


def _group_of(table: dict[str, str], code: Any) -> str | None:
    if not isinstance(code, str):
        return None
    for k in range(len(code), 0, -1):
        if code[:k] in table:
            return table[code[:k]]
    return None


def classify_frame(ov: Any, flags: dict, groups: dict, compat: set[str]) -> tuple[np.ndarray, np.ndarray]:
    """Categories 01-04/unmapped and the 01 subtype of every overlay row, vectorised."""
    ca, cb = ov[A_FIELD], ov[B_FIELD]
    fa = ca.map(flags["tdyt"]).fillna(-1).to_numpy(dtype=np.int8)
    fb = cb.map(flags["gb50137"]).fillna(-1).to_numpy(dtype=np.int8)
    cat = np.select([(fa == 1) & (fb == 1), (fa == 0) & (fb == 0), (fa == 1) & (fb == 0), (fa == 0) & (fb == 1)],
                    ["01", "02", "03", "04"], "unmapped").astype(object)
    ga = ca.map({c: _group_of(groups.get("tdyt", {}), c) for c in ca.unique()})
    gb = cb.map({c: _group_of(groups.get("gb50137", {}), c) for c in cb.unique()})
    both = cat == "01"
    missing = (ga.isna() | gb.isna()).to_numpy()
    same = (ga == gb).to_numpy() | (ga.astype(str) + "|" + gb.astype(str)).isin(compat).to_numpy()
    sub = np.full(len(cat), None, dtype=object)
    sub[both & missing] = "use_uncompared"
    sub[both & ~missing & ~same] = "use_inconsistent"
    return cat, sub


def geopandas_child(a_path: str, b_path: str, conn: Any) -> None:
    """Spawned: read both files (timed apart), then overlay + classification (timed); then count."""
    try:
        import geopandas as gpd

        warnings.filterwarnings("ignore", category=UserWarning)
        t0 = time.perf_counter()
        a = gpd.read_file(a_path, engine="pyogrio", use_arrow=True)
        b = gpd.read_file(b_path, engine="pyogrio", use_arrow=True)
        read_s = time.perf_counter() - t0
        flags, groups, compat = _flag_tables()
        t0 = time.perf_counter()
        ov = gpd.overlay(a, b, how="intersection", keep_geom_type=True)
        overlay_s = time.perf_counter() - t0
        cat, sub = classify_frame(ov, flags, groups, compat)
        ov["category"], ov["subtype"] = cat, sub
        seconds = time.perf_counter() - t0
        # not timed: single-part pieces of area > 0, as ours stores them
        parts, idx = shapely.get_parts(ov.geometry.values, return_index=True)
        area = shapely.area(parts)
        poly = (shapely.get_type_id(parts) == 3) & (area > 0)
        idx, area = idx[poly], area[poly]
        by_cat: dict[str, dict[str, float]] = {}
        pc = cat[idx]
        for k in np.unique(pc):
            m = pc == k
            by_cat[str(k)] = {"count": int(m.sum()), "area_m2": float(area[m].sum())}
        subs: dict[str, dict[str, float]] = {}
        ps = sub[idx]
        for k in ("-", "use_inconsistent", "use_uncompared"):
            m = (pc == "01") & ((ps == k) if k != "-" else np.array([s is None for s in ps], bool))
            if m.any():
                subs[k] = {"count": int(m.sum()), "area_m2": float(area[m].sum())}
        conn.send({"read_s": read_s, "overlay_s": overlay_s, "classify_s": seconds - overlay_s, "seconds": seconds,
                   "rows": len(ov), "pieces": len(area), "area_m2": float(area.sum()),
                   "a_rows": len(a), "b_rows": len(b), "by_category": by_cat, "subtypes_01": subs,
                   "pieces_below_1e6": int((area < 1e-6).sum()),
                   "ru_maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024})
    except BaseException as e:
        import traceback

        conn.send({"error": f"{e!r}\n{traceback.format_exc()}"})
        raise


# -- where a tile's time goes ---------------------------------------------------------------------
class _Abort(Exception):
    pass


def split_child(home: str, a_ref: str, b_ref: str, count: int, conn: Any) -> None:
    """Spawned: the run's own set-up, then ``count`` tiles (largest pair load first by feature
    density, taken from the middle of the grid) run serially in this process with each step of
    ``conflict_tiles`` timed, plus a cProfile of one tile; the run is then aborted (its stage
    table is dropped by run_conflicts)."""
    try:
        from conflict_checks import conflict_run
        from conflict_checks import conflict_tiles as ct
        from conflict_checks.bootstrap import prepare_store

        settings = Settings(home=Path(home), database_url=None)
        engine = prepare_store(settings)
        steps: dict[str, float] = defaultdict(float)

        def wrap(name: str, label: str) -> None:
            fn = getattr(ct, name)

            def w(*a: Any, **k: Any) -> Any:
                t0 = time.perf_counter()
                try:
                    return fn(*a, **k)
                finally:
                    steps[label] += time.perf_counter() - t0
            setattr(ct, name, w)

        def wrap_shapely(name: str) -> None:  # nested inside the steps above: "of which"
            fn = getattr(shapely, name)

            def w(*a: Any, **k: Any) -> Any:
                t0 = time.perf_counter()
                try:
                    return fn(*a, **k)
                finally:
                    steps[f"  of which shapely.{name}"] += time.perf_counter() - t0
            setattr(shapely, name, w)

        captured: dict[str, Any] = {}

        def fake_run_local(job: Any, tiles: list, workers: int, in_process: bool = True) -> list:
            mid = len(tiles) // 2
            chosen = tiles[max(0, mid - count // 2):][:count]
            # the finish() step minus its timed parts = COPY text + COPY
            for name, label in (("read_features", "read features (SQL + WKB parse)"),
                                ("overlay_tile", "overlay (STRtree, intersects, intersection, explode)"),
                                ("classify", "classify"), ("sliver_reasons", "slivers"),
                                ("_admin", "enrich: county (SQL + point on surface)"),
                                ("_flags", "enrich: control flags (SQL + relate)"),
                                ("priorities", "priorities"), ("finish", "finish (total)")):
                wrap(name, label)
            for name in ("intersects", "contains_properly", "intersection", "prepare", "get_parts", "to_wkb",
                         "point_on_surface", "relate_pattern"):
                wrap_shapely(name)
            res = []
            t0 = time.perf_counter()
            for t in chosen:
                res.append(ct.run_tile(job, t))
            captured["wall"] = time.perf_counter() - t0
            captured["steps"] = dict(steps)
            prof = cProfile.Profile()
            prof.enable()
            ct.run_tile(job, chosen[0])  # pieces stored twice into a stage table that is dropped
            prof.disable()
            buf = io.StringIO()
            pstats.Stats(prof, stream=buf).sort_stats("tottime").print_stats(18)
            captured["profile"] = [ln for ln in buf.getvalue().splitlines() if ln.strip()][:40]
            captured["tiles"] = len(tiles)
            captured["pieces"] = [len(r.area) for r in res]
            raise _Abort

        conflict_run._run_local = fake_run_local
        try:
            conflict_run.run_conflicts(engine, settings, a_ref, b_ref, PROFILE, engine_name="local")
        except _Abort:
            pass
        steps = captured["steps"]
        parts = {k: v for k, v in steps.items() if k != "finish (total)"}
        fin = steps["finish (total)"] - sum(v for k, v in parts.items()
                                            if not k.startswith("  ") and
                                            k not in ("read features (SQL + WKB parse)",
                                                      "overlay (STRtree, intersects, intersection, explode)"))
        parts["finish: area, names, COPY text rows + COPY"] = fin
        conn.send({"tiles_timed": count, "grid_tiles": captured["tiles"], "pieces": captured["pieces"],
                   "wall_s": captured["wall"], "steps_s": dict(sorted(parts.items(), key=lambda kv: (kv[0].startswith("  "), -kv[1]))),
                   "profile": captured["profile"]})
    except BaseException as e:
        import traceback

        conn.send({"error": f"{e!r}\n{traceback.format_exc()}"})
        raise


# -- main -----------------------------------------------------------------------------------------
def compare(ours: dict[str, Any], gp: dict[str, Any]) -> dict[str, Any]:
    total = gp["area_m2"]
    diff = abs(ours["area_m2"] - total) / total
    cats = sorted(set(ours["by_category"]) | set(gp["by_category"]))
    per_cat = {c: {"ours_count": ours["by_category"].get(c, {}).get("count", 0),
                   "gpd_count": gp["by_category"].get(c, {}).get("count", 0),
                   "ours_area_m2": ours["by_category"].get(c, {}).get("area_m2", 0.0),
                   "gpd_area_m2": gp["by_category"].get(c, {}).get("area_m2", 0.0)} for c in cats}
    worst_cat = max((abs(v["ours_area_m2"] - v["gpd_area_m2"]) / total for v in per_cat.values()), default=0.0)
    return {"area_rel_diff": diff, "pieces_ours": ours["pieces"], "pieces_gpd": gp["pieces"],
            "pieces_diff": ours["pieces"] - gp["pieces"], "per_category": per_cat,
            "worst_category_area_diff_of_total": worst_cat}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.conflict_bench", description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="100000,500000", help="polygons per layer, comma separated")
    ap.add_argument("--home", type=Path, default=Path(".gisplat-bench/conflict"),
                    help="GISPLAT_HOME of the dedicated store (default ./.gisplat-bench/conflict)")
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED)
    ap.add_argument("--workdir", type=Path, default=None, help="where the GeoPackages are kept (default <home>/bench)")
    ap.add_argument("--repeat", type=int, default=1, help="timed runs of each side per size (median reported)")
    ap.add_argument("--split-tiles", type=int, default=3, help="tiles timed step by step (0: skip)")
    ap.add_argument("--out", type=Path, default=OUT_DIR / "conflict.json")
    ap.add_argument("--keep-running", action="store_true", help="leave the store's cluster running")
    args = ap.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    if not sizes or min(sizes) < 100 or args.repeat < 1:
        ap.error("--sizes must list sizes >= 100 and --repeat must be >= 1")
    warnings.filterwarnings("ignore", category=UserWarning)
    from conflict_checks.bootstrap import prepare_store

    t_start = time.perf_counter()
    home = ensure_home(args.home)
    workdir = (args.workdir or home / "bench").expanduser().resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    settings = Settings(home=home, database_url=None)
    engine = prepare_store(settings)
    controls = ensure_controls(engine, settings, args.seed, workdir)
    notes = isolate(engine, args.seed)
    pm = postmaster_pid(settings)
    print("controls: " + ", ".join(f"{k} {v['features']}" for k, v in controls.items())
          + (f" ({'; '.join(notes)})" if notes else ""), flush=True)

    results: dict[str, Any] = {}
    for n in sizes:
        print(f"\n== N = {n:,} ==", flush=True)
        data = ensure_ab(engine, settings, n, args.seed, workdir)
        print(f"  A {data['a']['ref']} {data['a']['features']:,} features ({data['a']['vertices'] / data['a']['features']:.1f}"
              f" vertices each), B {data['b']['ref']} {data['b']['features']:,}" + (" (reused)" if data["reused"] else ""),
              flush=True)
        data["quiesce_s"] = quiesce(engine)
        print(f"  waited {data['quiesce_s']:.0f} s for autovacuum to finish", flush=True)
        runs_ours, runs_gpd = [], []
        for r in range(args.repeat):
            quiesce(engine)  # the previous run's new partition is vacuumed/analysed by the server
            res, _ = in_child(ours_child, (str(home), data["a"]["ref"], data["b"]["ref"]), pm, sample=False)
            res.update(ours_result(engine, res["run_id"]))
            runs_ours.append(res)
            print(f"  ours      run {r + 1}: {res['seconds']:7.1f} s; {res['pieces']:,} pieces, {res['tiles']} tiles, "
                  f"timings {res['timings']}", flush=True)
            quiesce(engine)
            res_g, _ = in_child(geopandas_child, (data["a"]["path"], data["b"]["path"]), None, sample=False)
            runs_gpd.append(res_g)
            print(f"  geopandas run {r + 1}: {res_g['seconds']:7.1f} s (overlay {res_g['overlay_s']:.1f} s, "
                  f"read {res_g['read_s']:.1f} s not counted); {res_g['rows']:,} rows, {res_g['pieces']:,} pieces",
                  flush=True)
        # memory: one more run of each side, sampled (not timed: the sampler slows what it watches)
        quiesce(engine)
        pg_before = pg_memory(pm)
        mem_run, mem = in_child(ours_child, (str(home), data["a"]["ref"], data["b"]["ref"]), pm)
        mem_run.update(ours_result(engine, mem_run["run_id"]))
        mem.update(pg_before=pg_before, sampled_run_s=mem_run["seconds"], sampled_run_pieces=mem_run["pieces"],
                   ru_maxrss_mb=mem_run["ru_maxrss_mb"])
        print(f"  ours      memory run: peak RSS {mem['peak_rss_mb']:7.0f} MB (PSS {mem['peak_pss_mb']:.0f}), "
              f"server peak PSS {mem['pg_peak_pss_mb']:.0f} MB (shared memory {mem['pg_peak_shmem_mb']:.0f}, "
              f"the rest {mem['pg_peak_own_mb']:.0f}) ({mem_run['seconds']:.1f} s sampled, not compared; "
              f"{mem_run['pieces']:,} pieces)", flush=True)
        quiesce(engine)
        mem_gpd_run, mem_g = in_child(geopandas_child, (data["a"]["path"], data["b"]["path"]), None)
        mem_g.update(sampled_run_s=mem_gpd_run["seconds"], sampled_run_pieces=mem_gpd_run["pieces"],
                     ru_maxrss_mb=mem_gpd_run["ru_maxrss_mb"])
        print(f"  geopandas memory run: peak RSS {mem_g['peak_rss_mb']:7.0f} MB (ru_maxrss "
              f"{mem_gpd_run['ru_maxrss_mb']:.0f}) ({mem_gpd_run['seconds']:.1f} s sampled, not compared)", flush=True)
        ours = dict(min(runs_ours, key=lambda x: x["seconds"]) if args.repeat == 1 else
                    sorted(runs_ours, key=lambda x: x["seconds"])[len(runs_ours) // 2])
        gp = dict(sorted(runs_gpd, key=lambda x: x["seconds"])[len(runs_gpd) // 2])
        ours.update({k: v for k, v in mem.items() if k != "ru_maxrss_mb"}, memory_run=mem)
        gp.update({k: v for k, v in mem_g.items() if k != "ru_maxrss_mb"}, memory_run=mem_g)
        if (mem_run["pieces"], mem_gpd_run["pieces"]) != (ours["pieces"], gp["pieces"]):
            raise SystemExit(f"N={n}: the memory runs gave other pieces ({mem_run['pieces']:,} ours, "
                             f"{mem_gpd_run['pieces']:,} geopandas) than the timed runs")
        cmp_ = compare(ours, gp)
        split = None
        if args.split_tiles > 0:
            split, _ = in_child(split_child, (str(home), data["a"]["ref"], data["b"]["ref"], args.split_tiles), None)
        results[str(n)] = {"data": data, "ours": ours, "geopandas": gp, "ours_runs": runs_ours,
                           "geopandas_runs": runs_gpd, "agreement": cmp_, "tile_split": split,
                           "ratio_gpd_over_ours": gp["seconds"] / ours["seconds"]}
        if cmp_["area_rel_diff"] > AREA_TOLERANCE or cmp_["worst_category_area_diff_of_total"] > AREA_TOLERANCE:
            print(json.dumps(cmp_, indent=2))
            raise SystemExit(f"N={n}: the two paths disagree: total area differs by {cmp_['area_rel_diff']:.2e}, "
                             f"a category by {cmp_['worst_category_area_diff_of_total']:.2e} of the total "
                             f"(tolerance {AREA_TOLERANCE:g})")

    # -- print --
    for n in sizes:
        r = results[str(n)]
        o, g, c, d = r["ours"], r["geopandas"], r["agreement"], r["data"]
        print(f"\n### N = {n:,}  (A {d['a']['features']:,} / B {d['b']['features']:,} polygons, "
              f"{os.cpu_count()} CPUs, {o['workers']} workers)")
        print(f"{'':<34}{'ours (run_conflicts)':>24}{'geopandas.overlay':>22}")
        print(f"{'overlay rows (pairs)':<34}{o['pairs']:>24,}{g['rows']:>22,}")
        print(f"{'pieces of area > 0':<34}{o['pieces']:>24,}{g['pieces']:>22,}")
        kf = f"{o['kept']:,} / {o['filtered']:,}"
        print(f"{'  of which kept / slivers':<34}{kf:>24}{'(no filter)':>22}")
        print(f"{'total area (km²)':<34}{o['area_m2'] / 1e6:>24.4f}{g['area_m2'] / 1e6:>22.4f}")
        print(f"{'wall time (s)':<34}{o['seconds']:>24.1f}{g['seconds']:>22.1f}")
        print(f"{'  reading the files (not counted)':<34}{'-':>24}{g['read_s']:>22.1f}")
        print(f"{'peak RSS, client tree (MB)':<34}{o['peak_rss_mb']:>24.0f}{g['peak_rss_mb']:>22.0f}")
        print(f"{'  PSS of the same (MB)':<34}{o['peak_pss_mb']:>24.0f}{g['peak_pss_mb']:>22.0f}")
        pg = f"{o['pg_peak_rss_mb']:.0f} / {o['pg_peak_pss_mb']:.0f}"
        print(f"{'PostgreSQL server peak RSS/PSS (MB)':<34}{pg:>24}{'-':>22}")
        pg = f"{o['pg_peak_shmem_mb']:.0f} / {o['pg_peak_own_mb']:.0f}"
        print(f"{'  PSS: shared memory / the rest':<34}{pg:>24}{'-':>22}")
        print(f"ratio geopandas/ours time = {r['ratio_gpd_over_ours']:.2f}x (target >= {TARGETS['geopandas_over_ours']:g}); "
              f"peak client RSS ours/geopandas = {o['peak_rss_mb'] / g['peak_rss_mb']:.2f}; with the server's PSS "
              f"{(o['peak_rss_mb'] + o['pg_peak_pss_mb']) / g['peak_rss_mb']:.2f}, with the server's PSS "
              f"outside its shared memory {(o['peak_rss_mb'] + o['pg_peak_own_mb']) / g['peak_rss_mb']:.2f}")
        print(f"agreement: area differs by {c['area_rel_diff']:.2e}, pieces ours - geopandas = {c['pieces_diff']:+,}; "
              "per category (count ours/gpd, km² ours/gpd):")
        for cat, v in c["per_category"].items():
            print(f"    {cat:<9} {v['ours_count']:>10,} / {v['gpd_count']:<10,} "
                  f"{v['ours_area_m2'] / 1e6:10.4f} / {v['gpd_area_m2'] / 1e6:.4f}")
        print(f"  01 subtypes ours {o['subtypes_01']}\n  01 subtypes gpd  {g['subtypes_01']}")
        print(f"ours: timings {o['timings']}, {o['tiles']} tiles (per-tile s: median {o['tile_seconds']['median']:.2f}, "
              f"max {o['tile_seconds']['max']:.2f}, sum {o['tile_seconds']['sum']:.1f}); slivers {o['filter_reasons']}; "
              f"enriched {o['enriched']}; data quality {o['data_quality']}; partition {o['partition_mb']:.0f} MB")
        if r["tile_split"]:
            s = r["tile_split"]
            print(f"split of {s['tiles_timed']} middle tiles run serially ({s['pieces']} pieces, {s['wall_s']:.2f} s):")
            for k, v in s["steps_s"].items():
                print(f"    {v:7.2f} s  {k}")
            print("  cProfile of one tile (own time):")
            for ln in s["profile"][:24]:
                print("    " + ln)
    ratio_sizes = None
    if len(sizes) >= 2:
        lo, hi = results[str(sizes[0])]["ours"]["seconds"], results[str(sizes[-1])]["ours"]["seconds"]
        ratio_sizes = hi / lo
        print(f"\nours {sizes[-1]:,}/{sizes[0]:,} time ratio = {ratio_sizes:.2f} "
              f"(target <= {TARGETS['ours_500k_over_100k']:g} for 500k/100k); geopandas "
              f"{results[str(sizes[-1])]['geopandas']['seconds'] / results[str(sizes[0])]['geopandas']['seconds']:.2f}")
    met = {str(n): {"speed": results[str(n)]["ratio_gpd_over_ours"] >= TARGETS["geopandas_over_ours"],
                    "memory": results[str(n)]["ours"]["peak_rss_mb"] < results[str(n)]["geopandas"]["peak_rss_mb"]}
           for n in sizes}
    print(f"targets met: {met}" + (f", scaling {ratio_sizes <= TARGETS['ours_500k_over_100k']}" if ratio_sizes else ""))

    import geopandas as gpd
    with engine.connect() as conn:
        versions = {"postgresql": conn.execute(text("SHOW server_version")).scalar_one(),
                    "postgis": conn.execute(text("SELECT postgis_lib_version()")).scalar_one()}
    result = {
        "benchmark": "conflict", "when": dt.datetime.now().isoformat(timespec="seconds"),
        "args": {"sizes": sizes, "seed": args.seed, "repeat": args.repeat, "home": str(home)},
        "compared_memory": "peak summed RSS of the client process tree (ours: process + forkserver + pool "
                           "workers; geopandas: its process, reading included), in one sampled run per side "
                           "apart from the timed runs; PostgreSQL reported apart",
        "controls": controls, "sizes": results, "ratio_ours_largest_over_smallest": ratio_sizes,
        "targets": TARGETS, "targets_met": met,
        "versions": {**versions, "python": platform.python_version(), "shapely": shapely.__version__,
                     "geos": shapely.geos_version_string, "geopandas": gpd.__version__,
                     "pyogrio": pyogrio.__version__},
        "machine": {"cpus": os.cpu_count(), "memory_gb": psutil.virtual_memory().total / 1e9,
                    "platform": platform.platform()},
        "total_seconds": time.perf_counter() - t_start,
    }
    finish(result, args.out, engine, settings, keep_running=args.keep_running)
    return 0


if __name__ == "__main__":
    sys.exit(main())
