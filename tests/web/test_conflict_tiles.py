"""Vector tiles of a conflict run's patches and the patch reads of the run's page, against the
real store (the hand-built pair of tests/conflict_checks)."""

from __future__ import annotations

import math

import mapbox_vector_tile
import pytest
from fastapi.testclient import TestClient
from pyproj import Transformer

from conflict_checks.conflict_run import run_conflicts
from gis_platform.web.app import create_app
from tests.conflict_checks.test_conflicts import pair  # noqa: F401 (fixture)

pytestmark = pytest.mark.postgis

WORLD = 2 * math.pi * 6378137.0
TO_MERC = Transformer.from_crs(4523, 3857, always_xy=True)
TO_LONLAT = Transformer.from_crs(4523, 4326, always_xy=True)


@pytest.fixture(scope="module")
def client(engine, settings, accounts):
    return TestClient(create_app(settings), headers=accounts.headers("admin"))


def _tile_of(p, x: float, y: float, z: int) -> tuple[int, int]:
    mx, my = TO_MERC.transform(p.x0 + x, p.y0 + y)
    n = 1 << z
    return int((mx + WORLD / 2) / WORLD * n), int((WORLD / 2 - my) / WORLD * n)


def _features(data: bytes) -> list[dict]:
    return mapbox_vector_tile.decode(data)["patches"]["features"]


def test_patch_tiles_status_etag_and_errors(client, pair, store):  # noqa: F811
    run_id = run_conflicts(store.engine, store.settings, pair.a, pair.b, "landuse_vs_urban")
    z = 13
    x, y = _tile_of(pair, 1750, 500, z)  # the 04 patch
    url = f"/tiles/conflicts/{run_id}/{z}/{x}/{y}.pbf"
    r = client.get(url)
    assert r.status_code == 200 and r.headers["content-type"] == "application/vnd.mapbox-vector-tile"
    assert r.headers["cache-control"] == "no-cache"
    feats = _features(r.content)
    p04 = next(f for f in feats if f["properties"]["category"] == "04")
    assert set(p04["properties"]) == {"patch_no", "category", "priority", "status", "area_m2"}  # subtype null
    assert p04["id"] == p04["properties"]["patch_no"]
    assert p04["properties"]["status"] == "open" and p04["properties"]["area_m2"] == pytest.approx(500_000.0)
    assert p04["properties"]["priority"] == 1
    sub = next(f for f in feats if f["properties"].get("subtype") == "use_inconsistent")
    assert sub["properties"]["category"] == "01"
    # only the kept patches: the sliver audit set is not drawn
    assert {f["properties"]["category"] for f in feats} <= {"01", "02", "03", "04", "unmapped", "overlap"}
    assert len(feats) == len({f["id"] for f in feats}), [(f.get("id"), f["properties"]) for f in feats]
    etag = r.headers["etag"]
    assert client.get(url, headers={"If-None-Match": etag}).status_code == 304
    # a status change gives a new ETag and the new status
    no = p04["properties"]["patch_no"]
    up = client.post(f"/api/conflicts/{run_id}/resolutions", json={"patch_nos": [no], "status": "amend_b"})
    assert up.status_code == 200
    r2 = client.get(url, headers={"If-None-Match": etag})
    assert r2.status_code == 200 and r2.headers["etag"] != etag
    assert next(f for f in _features(r2.content) if f["id"] == no)["properties"]["status"] == "amend_b"
    # an empty tile, a run that does not exist, a malformed tile
    ex, ey = _tile_of(pair, 30_000, 30_000, 15)
    assert client.get(f"/tiles/conflicts/{run_id}/15/{ex}/{ey}.pbf").status_code == 204
    assert client.get(f"/tiles/conflicts/{run_id}/0/0/0.pbf").status_code in (200, 204)
    missing = client.get(f"/tiles/conflicts/999999999/{z}/{x}/{y}.pbf")
    assert missing.status_code == 404 and "没有差异分析" in missing.json()["message_zh"]
    assert client.get(f"/tiles/conflicts/abc/{z}/{x}/{y}.pbf").status_code == 404
    assert client.get(f"/tiles/conflicts/{run_id}/{z}/{1 << z}/0.pbf").status_code == 400


def test_patch_reads_of_the_run_page(client, pair, store):  # noqa: F811
    run_id = run_conflicts(store.engine, store.settings, pair.a, pair.b, "landuse_vs_urban")
    lon, lat = TO_LONLAT.transform(pair.x0 + 1750, pair.y0 + 750)
    r = client.get(f"/api/conflicts/{run_id}/patches/at", params={"lon": lon, "lat": lat})
    assert r.status_code == 200
    p = r.json()["patch"]
    assert (p["category"], p["a_code"], p["a_name"], p["b_code"]) == ("04", "020", "一般农地区", "M1")
    assert p["in_farmland"] is True and p["status"] == "open" and p["area_ha"] == pytest.approx(50.0)
    assert p["category_zh"] == "土规非建设用地、城规建设用地" and p["status_zh"] == "待处理"
    same = client.get(f"/api/conflicts/{run_id}/patches/{p['patch_no']}").json()
    assert same["patch_no"] == p["patch_no"] and same["b_name"] == p["b_name"]
    lon, lat = TO_LONLAT.transform(pair.x0 - 500, pair.y0 - 500)
    assert client.get(f"/api/conflicts/{run_id}/patches/at", params={"lon": lon, "lat": lat}).json() == {"patch": None}
    assert client.get(f"/api/conflicts/{run_id}/patches/999999").status_code == 404
    assert client.get("/api/conflicts/999999999/patches/1").status_code == 404
    assert client.get(f"/api/conflicts/{run_id}/patches/at", params={"lon": 500, "lat": 0}).status_code == 422
    page = client.get(f"/conflicts/{run_id}")
    assert page.status_code == 200 and f"/tiles/conflicts/{run_id}/{{z}}/{{x}}/{{y}}.pbf" in page.text
