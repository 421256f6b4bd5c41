"""Ingest benchmark: ``plans.ingest.ingest`` against ``ogr2ogr -f PostgreSQL`` on the same file.

Usage::

    .venv/bin/python -m bench.ingest_bench [--features 100000] [--home DIR] [--repeat 1]
                                           [--seed 20230234] [--workdir DIR] [--profile]

A GeoPackage of N valid polygons in EPSG:4523 (fixed seed, cached by N and seed) is loaded into
a dedicated embedded store (``--home``, default ``./.gisplat-bench``) by both sides, alternating
(ours, ogr2ogr, ours, ogr2ogr, ...). Each side is timed wall-clock; both loads are checked to
hold N rows. Results are printed and written to ``bench/out/ingest.json``.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import io
import math
import os
import platform
import pstats
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyogrio
import pyogrio.raw
import shapely
from sqlalchemy import Engine, text

from bench.common import conninfo, ensure_home, finish
from gis_platform.core.db import embedded_cluster, session_scope
from gis_platform.core.settings import Settings
from plans.bootstrap import prepare_store
from plans.ingest import IngestRequest, ingest
from plans.service import create_plan

GENERATOR_VERSION = 2
DEFAULT_SEED = 20230234
SRID = 4523
CENTRE = (35_465_600.0, 3_939_000.0)  # easting, northing (EPSG:4523, Gauss-Krüger zone 35)
BOX_SIZE = 30_000.0  # metres, square
AREA_RANGE = (1_000.0, 5_000.0)  # m²
VERTEX_RANGE = (8, 12)
LAYER = "parcels"
CLASS_FIELD = "dlbm"
# GB 2023 (用地用海分类) level-2 codes; all present in plans/code_tables/gb2023.csv.
CODES = np.array(
    ["0101", "0103", "0201", "0301", "0303", "0401", "0701", "0702", "0801", "1001",
     "1101", "1202", "1207", "1301", "1701"],
    dtype=object,
)
COUNTIES = ["安定区", "通渭县", "陇西县", "渭源县", "临洮县", "漳县", "岷县"]
VILLAGES = ["新集村", "石峡湾村", "马河村", "李家堡村", "巉口村", "符川村", "团结村", "永定村"]
OUT_DIR = Path(__file__).resolve().parent / "out"


# -- data -------------------------------------------------------------------------------------
def _polygons(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """N star-shaped (hence simple, valid) polygons on a jittered grid; their areas."""
    m = math.ceil(math.sqrt(n))
    cell = BOX_SIZE / m
    cells = np.sort(rng.choice(m * m, size=n, replace=False))
    row, col = np.divmod(cells, m)
    x0 = CENTRE[0] - BOX_SIZE / 2
    y0 = CENTRE[1] - BOX_SIZE / 2
    cx = x0 + (col + 0.5) * cell
    cy = y0 + (row + 0.5) * cell
    target = rng.uniform(*AREA_RANGE, size=n)
    ks = rng.integers(VERTEX_RANGE[0], VERTEX_RANGE[1] + 1, size=n)
    geoms = np.empty(n, dtype=object)
    for k in range(VERTEX_RANGE[0], VERTEX_RANGE[1] + 1):
        idx = np.flatnonzero(ks == k)
        if idx.size == 0:
            continue
        step = 2 * np.pi / k
        ang = (np.arange(k) * step)[None, :] + rng.uniform(-0.3, 0.3, (idx.size, k)) * step
        ang += rng.uniform(0, 2 * np.pi, (idx.size, 1))
        rad = rng.uniform(0.75, 1.0, (idx.size, k))
        x, y = rad * np.cos(ang), rad * np.sin(ang)
        unit_area = 0.5 * np.abs(np.sum(x * np.roll(y, -1, axis=1) - np.roll(x, -1, axis=1) * y, axis=1))
        scale = np.sqrt(target[idx] / unit_area)
        x *= scale[:, None]
        y *= scale[:, None]
        rmax = np.max(np.hypot(x, y), axis=1)
        room = np.maximum(cell / 2 - rmax - 0.5, 0.0)  # keep each polygon inside its own cell
        jx = cx[idx] + rng.uniform(-1, 1, idx.size) * room
        jy = cy[idx] + rng.uniform(-1, 1, idx.size) * room
        coords = np.stack([np.round(x + jx[:, None], 3), np.round(y + jy[:, None], 3)], axis=-1)
        coords = np.concatenate([coords, coords[:, :1, :]], axis=1)  # close the rings
        geoms[idx] = shapely.polygons(coords)
    return geoms, shapely.area(geoms)


def make_gpkg(n: int, seed: int, workdir: Path) -> Path:
    """The cached benchmark GeoPackage for (n, seed), generated when absent."""
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / f"bench_polygons_n{n}_s{seed}_g{GENERATOR_VERSION}.gpkg"
    if path.exists():
        info = pyogrio.read_info(path, layer=LAYER)
        if int(info["features"]) == n:
            return path
        path.unlink()
    rng = np.random.default_rng(seed)
    geoms, areas = _polygons(n, rng)
    if not bool(np.all(shapely.is_valid(geoms))):
        raise SystemExit("generator bug: invalid polygon produced")
    codes = CODES[rng.integers(0, len(CODES), n)]
    bsm = np.arange(1, n + 1, dtype=np.int64) + 620_000_000_000
    tbmj = np.round(areas, 2)
    county = rng.integers(0, len(COUNTIES), n)
    village = rng.integers(0, len(VILLAGES), n)
    names = np.array(
        [f"{COUNTIES[c]}{VILLAGES[v]}第{i + 1}号地块" for i, (c, v) in enumerate(zip(county, village))],
        dtype=object,
    )
    days = rng.integers(0, 5 * 365, n)
    gxsj = (np.datetime64("2019-01-01") + days).astype("datetime64[D]")
    tmp = path.with_suffix(".tmp.gpkg")
    tmp.unlink(missing_ok=True)
    pyogrio.raw.write(
        tmp, shapely.to_wkb(geoms), [codes, bsm, tbmj, names, gxsj],
        [CLASS_FIELD, "bsm", "tbmj", "qsdwmc", "gxsj"],
        geometry_type="Polygon", crs=f"EPSG:{SRID}", layer=LAYER, driver="GPKG",
        dataset_options={"VERSION": "1.2"},  # readable without warnings by older GDAL (3.6)
    )
    tmp.rename(path)
    return path


# -- store ------------------------------------------------------------------------------------
# -- the two sides ----------------------------------------------------------------------------
def run_ours(engine: Engine, settings: Settings, gpkg: Path, plan: str, layer: str, n: int,
             profile: cProfile.Profile | None = None) -> dict[str, object]:
    with engine.connect() as conn:
        before = conn.execute(text("SELECT count(*) FROM features")).scalar_one()
    req = IngestRequest(path=gpkg, plan=plan, layer=layer, class_field=CLASS_FIELD, scheme="gb2023")
    t0 = time.perf_counter()
    if profile is not None:
        profile.enable()
    try:
        with session_scope(engine) as session:
            version = ingest(session, settings, req)
            vid, fc = version.id, version.feature_count
    finally:
        if profile is not None:
            profile.disable()
    seconds = time.perf_counter() - t0
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT count(*) FROM features WHERE version_id = :v"), {"v": vid}
        ).scalar_one()
        statuses = dict(conn.execute(
            text("SELECT class_status, count(*) FROM features WHERE version_id = :v GROUP BY 1"),
            {"v": vid},
        ).all())
    if rows != n or fc != n:
        raise SystemExit(f"ours: expected {n} features, version {vid} has {rows} rows "
                         f"(feature_count {fc})")
    return {"side": "ours", "seconds": seconds, "rows": rows, "version_id": vid,
            "layer": f"{plan}/{layer}", "class_status": statuses, "features_rows_before": before}


def run_ogr(engine: Engine, tcp_url: str, gpkg: Path, table: str, n: int) -> dict[str, object]:
    info, password = conninfo(tcp_url)
    cmd = [
        "ogr2ogr", "-f", "PostgreSQL", f"PG:{info}", str(gpkg), LAYER,
        "-nln", table, "-lco", "GEOMETRY_NAME=geom", "-lco", "SPATIAL_INDEX=GIST",
        "-lco", "FID=id", "--config", "PG_USE_COPY", "YES", "-overwrite",
    ]
    env = {**os.environ, "PGPASSWORD": password}  # not on the command line
    try:
        t0 = time.perf_counter()
        res = subprocess.run(cmd, env=env, capture_output=True, text=True)
        seconds = time.perf_counter() - t0
        if res.returncode != 0:
            raise SystemExit(f"ogr2ogr failed ({res.returncode}): {res.stderr.strip()[-2000:]}")
        with engine.connect() as conn:
            rows = conn.execute(text(f'SELECT count(*) FROM "{table}"')).scalar_one()
            gist = conn.execute(
                text("SELECT count(*) FROM pg_indexes WHERE tablename = :t AND indexdef ILIKE '%gist%'"),
                {"t": table},
            ).scalar_one()
    finally:
        with engine.begin() as conn:
            conn.execute(text(f'DROP TABLE IF EXISTS "{table}"'))
    if rows != n:
        raise SystemExit(f"ogr2ogr: expected {n} rows, table {table} has {rows}")
    if gist < 1:
        raise SystemExit(f"ogr2ogr: table {table} has no GiST index")
    return {"side": "ogr2ogr", "seconds": seconds, "rows": rows, "table": table,
            "stderr": res.stderr.strip()[-500:] or None}


# -- main -------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.ingest_bench", description=__doc__.split("\n")[0])
    ap.add_argument("--features", type=int, default=100_000, help="polygons to generate (default 100000)")
    ap.add_argument("--home", type=Path, default=Path(".gisplat-bench"),
                    help="GISPLAT_HOME of the dedicated benchmark store (default ./.gisplat-bench)")
    ap.add_argument("--repeat", type=int, default=1, help="runs per side, alternating (default 1)")
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED)
    ap.add_argument("--workdir", type=Path, default=None,
                    help="where the generated GeoPackage is cached (default <home>/bench)")
    ap.add_argument("--profile", action="store_true",
                    help="after the timed runs, profile one more ingest with cProfile")
    ap.add_argument("--out", type=Path, default=OUT_DIR / "ingest.json")
    ap.add_argument("--keep-running", action="store_true",
                    help="leave the benchmark store's embedded cluster running afterwards")
    args = ap.parse_args(argv)
    if args.features < 1 or args.repeat < 1:
        ap.error("--features and --repeat must be positive")
    if shutil.which("ogr2ogr") is None:
        raise SystemExit("ogr2ogr not found on PATH (apt-get install gdal-bin)")

    n = args.features
    home = ensure_home(args.home)
    workdir = (args.workdir or home / "bench").expanduser().resolve()
    t0 = time.perf_counter()
    gpkg = make_gpkg(n, args.seed, workdir)
    print(f"data: {gpkg} ({gpkg.stat().st_size / 1e6:.1f} MB, {n} polygons, "
          f"ready in {time.perf_counter() - t0:.1f} s)")

    settings = Settings(home=home, database_url=None)
    engine = prepare_store(settings)
    info = embedded_cluster(settings).info()
    if info is None:
        raise SystemExit("embedded cluster has no state after prepare_store")
    with engine.connect() as conn:
        pg_version = conn.execute(text("SHOW server_version")).scalar_one()
        postgis = conn.execute(text("SELECT postgis_lib_version()")).scalar_one()
    ogr_version = subprocess.run(["ogr2ogr", "--version"], capture_output=True, text=True).stdout.strip()

    stamp = dt.datetime.now().strftime("%Y%m%d%H%M%S") + f"{os.getpid() % 10000:04d}"
    plan = f"bench-{stamp}"
    with session_scope(engine) as session:
        create_plan(session, code=plan, name=f"ingest benchmark {stamp}", kind="territorial")

    runs: list[dict[str, object]] = []
    for i in range(1, args.repeat + 1):
        r = run_ours(engine, settings, gpkg, plan, f"parcels_{stamp}_{i}", n)
        r["run"] = i
        runs.append(r)
        print(f"  ours    run {i}: {r['seconds']:.2f} s")
        r = run_ogr(engine, info.tcp_url, gpkg, f"bench_ogr_{stamp}_{i}", n)
        r["run"] = i
        runs.append(r)
        print(f"  ogr2ogr run {i}: {r['seconds']:.2f} s")
    for r in runs:
        r["rows_per_s"] = n / float(r["seconds"])  # type: ignore[arg-type]

    def side(name: str) -> dict[str, float]:
        secs = [float(r["seconds"]) for r in runs if r["side"] == name]  # type: ignore[arg-type]
        med = statistics.median(secs)
        return {"median_s": med, "min_s": min(secs), "max_s": max(secs), "rows_per_s": n / med}

    summary = {"ours": side("ours"), "ogr2ogr": side("ogr2ogr")}
    summary["ratio_ours_over_ogr"] = summary["ours"]["rows_per_s"] / summary["ogr2ogr"]["rows_per_s"]

    print()
    print(f"{'side':<8} {'run':>3} {'seconds':>9} {'rows/s':>10}")
    for r in runs:
        print(f"{r['side']:<8} {r['run']:>3} {float(r['seconds']):>9.2f} {float(r['rows_per_s']):>10.0f}")
    for name in ("ours", "ogr2ogr"):
        s = summary[name]
        print(f"{name:<8} {'med':>3} {s['median_s']:>9.2f} {s['rows_per_s']:>10.0f}")
    ratio = summary["ratio_ours_over_ogr"]
    print(f"ratio ours/ogr2ogr rows/s = {ratio:.2f} ({'we are faster' if ratio > 1 else 'ogr2ogr is faster'})")

    profile_top: list[str] | None = None
    if args.profile:
        prof = cProfile.Profile()
        r = run_ours(engine, settings, gpkg, plan, f"parcels_{stamp}_profile", n, profile=prof)
        buf = io.StringIO()
        stats = pstats.Stats(prof, stream=buf).sort_stats("cumulative")
        stats.print_stats(15)
        text_cum = buf.getvalue()
        buf = io.StringIO()
        pstats.Stats(prof, stream=buf).sort_stats("tottime").print_stats(15)
        text_tot = buf.getvalue()
        print(f"\nprofiled ingest (not in the table above): {r['seconds']:.2f} s under cProfile")
        print("top 15 by cumulative time:")
        print(text_cum)
        print("top 15 by own (tottime) time:")
        print(text_tot)
        profile_top = [line for line in (text_cum + "\n" + text_tot).splitlines() if line.strip()]

    result = {
        "benchmark": "ingest",
        "when": dt.datetime.now().isoformat(timespec="seconds"),
        "features": n,
        "seed": args.seed,
        "repeat": args.repeat,
        "file": str(gpkg),
        "file_bytes": gpkg.stat().st_size,
        "home": str(home),
        "versions": {
            "python": platform.python_version(), "ogr2ogr": ogr_version,
            "pyogrio_gdal": pyogrio.__gdal_version_string__, "postgresql": pg_version,
            "postgis": postgis, "shapely": shapely.__version__,
        },
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "runs": runs,
        "summary": summary,
        "profile": profile_top,
    }
    finish(result, args.out, engine, settings, keep_running=args.keep_running)
    return 0


if __name__ == "__main__":
    sys.exit(main())
