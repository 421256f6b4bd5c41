"""Vector-tile benchmark: the running server against the raw ``ST_AsMVT`` SQL (issue #5).

Usage::

    .venv/bin/python -m bench.tile_bench [--per-zoom 50] [--zooms 10-16] [--hit-rounds 5]
                                         [--home DIR] [--polygons 1000000] [--seed 20261128]
                                         [--keep-running]

On the pre-check benchmark store (``bench.precheck_bench``, >= 1,000,000 polygons; reused by its
build tag, built only when missing) it starts the app with uvicorn in a subprocess on a free
loopback port, signs in a benchmark user with a bearer token, draws a fixed-seed sample of tiles
per zoom that hold data (the tile under a random feature of a random vector layer), and times

* **cold**: the first request of each tile through HTTP (httpx, keep-alive; the server's tile
  cache is empty for it) and, interleaved tile by tile in alternating order, the same
  ``ST_AsMVT`` statement with the same parameters through psycopg on the same store (raw SQL);
* **hit**: the same tiles requested again (``--hit-rounds`` shuffled passes), answered from the
  server's in-process cache;
* **304**: revalidation with the tile's ``If-None-Match``.

Prints p50/p95 per zoom and overall, the ratio server/raw, whether the targets are met, and
writes ``bench/out/tile.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import random
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import psycopg
from sqlalchemy import text
from sqlalchemy.dialects import postgresql

from bench.common import conninfo, ensure_home, finish
from gis_platform.core.db import embedded_cluster, session_scope
from gis_platform.core.settings import Settings
from layers import service_queries as q
from layers import tiles

DEFAULT_SEED = 20261128
OUT_DIR = Path(__file__).resolve().parent / "out"
TARGETS = {"server_over_raw_p50": 1.5, "hit_p50_ms": 2.0}
BENCH_USER = "tile-bench"
MIN_FEATURES = 1000  # layers sampled: the build's vector layers with at least this many features


# -- the server ---------------------------------------------------------------------------------
def serve(home: Path, port: int) -> None:
    """Run the app on the benchmark store (the subprocess side)."""
    import uvicorn

    from gis_platform.web.app import create_app

    settings = Settings(home=home, database_url=None)
    uvicorn.run(create_app(settings), host="127.0.0.1", port=port, log_level="warning")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(home: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    out = log.open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "bench.tile_bench", "--serve", "--home", str(home),
                             "--port", str(port)], stdout=out, stderr=subprocess.STDOUT,
                            cwd=Path(__file__).resolve().parent.parent)
    return proc


def wait_ready(client: httpx.Client, url: str, proc: subprocess.Popen[bytes], log: Path,
               timeout_s: float = 120.0) -> None:
    t_end = time.monotonic() + timeout_s
    while time.monotonic() < t_end:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited ({proc.returncode}):\n{log.read_text()[-3000:]}")
        try:
            r = client.get(url)
            if r.status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"the server did not answer within {timeout_s:.0f} s:\n{log.read_text()[-3000:]}")


def bench_token(engine: Any) -> str:
    """A bearer token of the benchmark user (created in the store on first use)."""
    from gis_platform.core.accounts import create_user, issue_token, user_by_name
    from gis_platform.core.errors import PlatformError

    with session_scope(engine) as s:
        try:
            user = user_by_name(s, BENCH_USER)
        except PlatformError:
            user = create_user(s, username=BENCH_USER, password=os.urandom(12).hex(), role="bureau",
                               actor="tile-bench")
        return issue_token(s, user, name="tile-bench", days=1)[1]


# -- the sample -----------------------------------------------------------------------------------
def bench_layers(engine: Any, tag: str) -> list[dict[str, Any]]:
    with session_scope(engine) as s:
        rows = s.execute(text(
            "SELECT l.id, p.code || '/' || l.name AS ref, v.id AS version_id, v.feature_count "
            "FROM plans p JOIN layers l ON l.plan_id = p.id "
            "JOIN LATERAL (SELECT id, feature_count FROM layer_versions WHERE layer_id = l.id "
            "              ORDER BY version DESC LIMIT 1) v ON true "
            "WHERE p.code LIKE :pat AND l.data_kind = 'vector' AND v.feature_count >= :min "
            "ORDER BY l.id"), {"pat": f"{tag}-%", "min": MIN_FEATURES}).all()
    return [dict(r._mapping) for r in rows]


def tile_of(mx: float, my: float, z: int) -> tuple[int, int]:
    world = 2 * np.pi * 6378137.0
    n = 1 << z
    return (min(n - 1, int((mx + world / 2) / world * n)), min(n - 1, int((world / 2 - my) / world * n)))


def sample_tiles(engine: Any, layers: list[dict[str, Any]], zooms: list[int], per_zoom: int,
                 seed: int) -> list[dict[str, Any]]:
    """Per zoom up to ``per_zoom`` distinct (layer, z, x, y): the tile under a point on a random
    feature of a random layer (so every tile holds data). Fixed seed."""
    rng = random.Random(seed)
    out: list[dict[str, Any]] = []
    with session_scope(engine) as s:
        for z in zooms:
            seen: set[tuple[int, int, int]] = set()
            for _attempt in range(per_zoom * 40):
                if len(seen) >= per_zoom:
                    break
                lyr = layers[rng.randrange(len(layers))]
                no = rng.randint(1, lyr["feature_count"])
                row = s.execute(text(
                    "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_Transform(ST_PointOnSurface(geom), 3857) AS p "
                    "FROM features WHERE version_id = :v AND feature_no = :no) t"),
                    {"v": lyr["version_id"], "no": no}).first()
                if row is None:
                    continue
                x, y = tile_of(row[0], row[1], z)
                if (lyr["id"], x, y) in seen:
                    continue
                seen.add((lyr["id"], x, y))
                out.append({"layer_id": lyr["id"], "ref": lyr["ref"], "z": z, "x": x, "y": y})
    return out


# -- figures --------------------------------------------------------------------------------------
def pct(values: list[float]) -> dict[str, float]:
    if not values:
        return {"n": 0}
    ms = np.asarray(values) * 1000
    return {"n": int(ms.size), "p50_ms": float(np.percentile(ms, 50)), "p95_ms": float(np.percentile(ms, 95)),
            "mean_ms": float(ms.mean()), "min_ms": float(ms.min()), "max_ms": float(ms.max())}


def timed_get(client: httpx.Client, url: str, headers: dict[str, str] | None = None
              ) -> tuple[float, httpx.Response]:
    t0 = time.perf_counter()
    r = client.get(url, headers=headers)
    _ = r.content
    return time.perf_counter() - t0, r


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.tile_bench", description=__doc__.split("\n")[0])
    ap.add_argument("--home", type=Path, default=Path(".gisplat-bench/precheck"),
                    help="the pre-check benchmark store (default ./.gisplat-bench/precheck)")
    ap.add_argument("--polygons", type=int, default=1_000_000, help="build of that store to use (default 1000000)")
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED, help="build seed and tile sample seed")
    ap.add_argument("--zooms", default="10-16", help="zoom range, e.g. 10-16 (default)")
    ap.add_argument("--per-zoom", type=int, default=50, help="tiles per zoom (fewer where fewer exist; default 50)")
    ap.add_argument("--hit-rounds", type=int, default=5, help="shuffled passes of cache hits (default 5)")
    ap.add_argument("--out", type=Path, default=OUT_DIR / "tile.json")
    ap.add_argument("--keep-running", action="store_true", help="leave the store's cluster running")
    ap.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.serve:
        serve(args.home, args.port)
        return 0
    z0, _, z1 = args.zooms.partition("-")
    zooms = list(range(int(z0), int(z1 or z0) + 1))

    from bench import precheck_bench as pb
    from conflict_checks.bootstrap import prepare_store

    t_start = time.perf_counter()
    home = ensure_home(args.home)
    settings = Settings(home=home, database_url=None)
    engine = prepare_store(settings)
    info = embedded_cluster(settings).info()
    if info is None:
        raise SystemExit("embedded cluster has no state after prepare_store")
    tag = pb.build_tag(args.polygons, args.seed)
    pb.isolate_build(engine, tag)
    build = pb.build_store(engine, settings, args.polygons, args.seed, (home / "bench").resolve())
    facts = pb.store_facts(engine, tag)
    layers = bench_layers(engine, tag)
    print(f"store: {facts['polygons']:,} polygons in {facts['vector_layers']} vector layers "
          f"({'reused' if build.get('reused') else 'built'} {tag}); sampling {len(layers)} layers", flush=True)

    sample = sample_tiles(engine, layers, zooms, args.per_zoom, args.seed)
    with session_scope(engine) as s:
        resolved = {lyr["id"]: tiles.resolve(s, lyr["id"]) for lyr in layers}
    counts = {z: sum(1 for t in sample if t["z"] == z) for z in zooms}
    print("tiles: " + ", ".join(f"z{z} {n}" for z, n in counts.items()), flush=True)

    # The raw side: the server's own statement, compiled for psycopg, with the server's parameters.
    sql = str(q.TILE_MVT.compile(dialect=postgresql.psycopg.dialect()))
    pg_info, password = conninfo(info.tcp_url)
    raw = psycopg.connect(pg_info, password=password, autocommit=True)

    token = bench_token(engine)
    port = free_port()
    log = (OUT_DIR / "tile-server.log")
    log.parent.mkdir(parents=True, exist_ok=True)
    proc = start_server(home, port, log)
    base = f"http://127.0.0.1:{port}"
    client = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=600.0,
                          http2=False)
    try:
        wait_ready(client, f"/tiles/{layers[0]['id']}.json", proc, log)
        # Warm-up, not counted: connections, the auth path, the route (a tile outside the sample).
        for _ in range(20):
            client.get(f"/tiles/{layers[0]['id']}/3/0/0.pbf")
            raw.execute("SELECT 1").fetchone()

        # -- cold: server and raw SQL interleaved per tile, order alternating --
        rows = []
        print(f"\ncold pass over {len(sample)} tiles ...", flush=True)
        for i, t in enumerate(sample):
            url = f"/tiles/{t['layer_id']}/{t['z']}/{t['x']}/{t['y']}.pbf"
            params = tiles.tile_params(settings, resolved[t["layer_id"]], t["z"], t["x"], t["y"])
            res: dict[str, Any] = {}
            for side in (["server", "raw"] if i % 2 == 0 else ["raw", "server"]):
                if side == "server":
                    sec, r = timed_get(client, url)
                    if r.headers.get("x-tile-cache") != "miss":
                        raise SystemExit(f"{url}: expected a cold tile, got X-Tile-Cache "
                                         f"{r.headers.get('x-tile-cache')}")
                    res["server_s"], res["status"] = sec, r.status_code
                    res["bytes"], res["etag"], res["body"] = len(r.content), r.headers["etag"], r.content
                else:
                    t0 = time.perf_counter()
                    data = raw.execute(sql, params).fetchone()[0] if params else None
                    res["raw_s"] = time.perf_counter() - t0
                    res["raw_body"] = bytes(data) if data else b""
            if res.pop("body") != res.pop("raw_body"):
                raise SystemExit(f"{url}: the server's tile differs from the raw SQL's")
            rows.append({**t, **res})
            if (i + 1) % 50 == 0:
                print(f"  {i + 1:>4}/{len(sample)}", flush=True)

        # -- hits, 304 revalidations and the floor, interleaved (so that all three meet the same
        # machine load): the same tiles again in shuffled passes; a revalidation with the tile's
        # ETag; and the floor under both, an authenticated request that does no tile work (the
        # bearer-token lookup every request makes, routing, then a 400 for a zoom out of range).
        rng = random.Random(args.seed + 1)
        hit_s: dict[int, list[float]] = {z: [] for z in zooms}
        rev_s: dict[int, list[float]] = {z: [] for z in zooms}
        floor: list[float] = []
        hit_not_cached = not_304 = 0
        floor_url = f"/tiles/{layers[0]['id']}/99/0/0.pbf"
        for rnd in range(args.hit_rounds):
            order = list(range(len(rows)))
            rng.shuffle(order)
            for j, k in enumerate(order):
                t = rows[k]
                url = f"/tiles/{t['layer_id']}/{t['z']}/{t['x']}/{t['y']}.pbf"
                kinds = ["hit", "304", "floor"]
                shift = (j + rnd) % 3
                for kind in kinds[shift:] + kinds[:shift]:
                    if kind == "hit":
                        sec, r = timed_get(client, url)
                        if r.headers.get("x-tile-cache") != "hit" or len(r.content) != t["bytes"]:
                            hit_not_cached += 1
                        hit_s[t["z"]].append(sec)
                    elif kind == "304":
                        sec, r = timed_get(client, url, {"If-None-Match": t["etag"]})
                        not_304 += r.status_code != 304
                        rev_s[t["z"]].append(sec)
                    else:
                        sec, r = timed_get(client, floor_url)
                        assert r.status_code == 400
                        floor.append(sec)
    finally:
        client.close()
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        raw.close()

    # -- figures --
    per_zoom: dict[str, Any] = {}
    for z in zooms:
        zr = [r for r in rows if r["z"] == z]
        server, rawz = pct([r["server_s"] for r in zr]), pct([r["raw_s"] for r in zr])
        per_zoom[str(z)] = {
            "tiles": len(zr), "empty": sum(1 for r in zr if r["status"] == 204),
            "mean_bytes": statistics.mean(r["bytes"] for r in zr) if zr else 0,
            "server_cold": server, "raw_sql": rawz,
            "ratio_p50": server["p50_ms"] / rawz["p50_ms"] if zr else None,
            "ratio_median_per_tile": statistics.median(r["server_s"] / r["raw_s"] for r in zr) if zr else None,
            "overhead_ms_median": 1000 * statistics.median(r["server_s"] - r["raw_s"] for r in zr) if zr else None,
            "hit": pct(hit_s[z]), "revalidate_304": pct(rev_s[z]),
        }
    overall = {
        "tiles": len(rows), "server_cold": pct([r["server_s"] for r in rows]),
        "raw_sql": pct([r["raw_s"] for r in rows]),
        "hit": pct([v for z in zooms for v in hit_s[z]]),
        "revalidate_304": pct([v for z in zooms for v in rev_s[z]]),
        "auth_and_400_floor": pct(floor),
        "ratio_median_per_tile": statistics.median(r["server_s"] / r["raw_s"] for r in rows),
        "overhead_ms_median": 1000 * statistics.median(r["server_s"] - r["raw_s"] for r in rows),
        "cached_bytes": sum(r["bytes"] for r in rows),
    }
    overall["ratio_p50"] = overall["server_cold"]["p50_ms"] / overall["raw_sql"]["p50_ms"]
    targets_met = {
        "server_over_raw_p50_overall": overall["ratio_p50"] <= TARGETS["server_over_raw_p50"],
        "server_over_raw_p50_every_zoom": all(v["ratio_p50"] <= TARGETS["server_over_raw_p50"]
                                              for v in per_zoom.values() if v["tiles"]),
        "hit_p50_ms": overall["hit"]["p50_ms"] <= TARGETS["hit_p50_ms"],
    }

    print(f"\n{'zoom':<5} {'n':>3} {'KB':>7} | {'server cold p50/p95':>20} | {'raw SQL p50/p95':>18} | "
          f"{'ratio':>5} {'+ms':>5} | {'hit p50/p95':>12} | {'304 p50/p95':>12}  (ms)")
    for z, v in list(per_zoom.items()) + [("all", {**overall, "mean_bytes": statistics.mean(
            r["bytes"] for r in rows)})]:
        print(f"{'z' + z if z != 'all' else 'all':<5} {v['tiles']:>3} {v['mean_bytes'] / 1024:>7.1f} | "
              f"{v['server_cold']['p50_ms']:>9.1f} /{v['server_cold']['p95_ms']:>9.1f} | "
              f"{v['raw_sql']['p50_ms']:>8.1f} /{v['raw_sql']['p95_ms']:>8.1f} | {v['ratio_p50']:>5.2f} "
              f"{v['overhead_ms_median']:>5.1f} | "
              f"{v['hit']['p50_ms']:>5.2f} /{v['hit']['p95_ms']:>5.2f} | "
              f"{v['revalidate_304']['p50_ms']:>5.2f} /{v['revalidate_304']['p95_ms']:>5.2f}")
    print("(ratio = p50 server / p50 raw SQL; +ms = median per tile of server minus raw SQL)")
    print(f"\nratio server/raw p50 overall {overall['ratio_p50']:.2f} (median per-tile ratio "
          f"{overall['ratio_median_per_tile']:.2f}); target <= {TARGETS['server_over_raw_p50']:g}")
    print(f"cache hit p50 {overall['hit']['p50_ms']:.2f} ms (target <= {TARGETS['hit_p50_ms']:g} ms), "
          f"304 p50 {overall['revalidate_304']['p50_ms']:.2f} ms; an authenticated 400 (auth + routing, "
          f"no tile work) p50 {overall['auth_and_400_floor']['p50_ms']:.2f} ms")
    print(f"hits not served from the cache: {hit_not_cached}; revalidations not 304: {not_304}; "
          f"tile bytes cached {overall['cached_bytes'] / 1e6:.1f} MB")
    print(f"targets met: {targets_met}")

    result = {
        "benchmark": "tile",
        "when": dt.datetime.now().isoformat(timespec="seconds"),
        "args": {"home": str(home), "polygons": args.polygons, "seed": args.seed, "zooms": zooms,
                 "per_zoom": args.per_zoom, "hit_rounds": args.hit_rounds},
        "store": {k: facts[k] for k in ("polygons", "vector_layers", "database_bytes", "versions")},
        "layers_sampled": layers,
        "settings": {"tile_cache_bytes": settings.tile_cache_bytes,
                     "tile_version_ttl_s": settings.tile_version_ttl_s},
        "per_zoom": per_zoom, "overall": overall, "targets": TARGETS, "targets_met": targets_met,
        "hits_not_cached": hit_not_cached, "revalidations_not_304": not_304,
        "tiles": [{k: r[k] for k in ("ref", "z", "x", "y", "status", "bytes", "server_s", "raw_s")} for r in rows],
        "versions": {**facts["versions"], "python": platform.python_version(), "httpx": httpx.__version__,
                     "psycopg": psycopg.__version__},
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                    "loadavg_at_end": os.getloadavg()},
        "total_seconds": time.perf_counter() - t_start,
    }
    print(f"\ntotal {result['total_seconds']:.0f} s")
    finish(result, args.out, engine, settings, keep_running=args.keep_running)
    return 0


if __name__ == "__main__":
    sys.exit(main())
