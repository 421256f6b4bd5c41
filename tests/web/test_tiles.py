"""Vector tiles (/tiles) against the real store: decoded MVT content, placement, caching, errors."""

from __future__ import annotations

import math

import mapbox_vector_tile
import numpy as np
import pytest
import rasterio
import shapely
from fastapi.testclient import TestClient
from pyproj import Transformer
from rasterio.transform import from_origin

from gis_platform.web.app import create_app
from tests.factories import square, write_vector

pytestmark = pytest.mark.postgis

X0, Y0 = 35_470_000.0, 3_970_000.0  # a corner no other test uses
WORLD = 2 * math.pi * 6378137.0
TO_MERC = Transformer.from_crs(4523, 3857, always_xy=True)
TO_LONLAT = Transformer.from_crs(4523, 4326, always_xy=True)

# feature_no → (geometry in EPSG:4523, class code); class names from the 2023 scheme.
FEATURES = {
    1: (square(X0, Y0, 200.0), "0701"),  # 城镇住宅用地
    2: (square(X0 + 1000, Y0 + 500, 100.0), "0101"),  # 水田
    3: (square(X0 + 1500, Y0 + 200, 5.0), "0103"),  # 旱地, tiny: invisible at low zoom
    4: (square(X0 - 3000, Y0 - 3000, 2000.0), "0301"),  # 乔木林地, large
}
NAMES = {"0701": "城镇住宅用地", "0101": "水田", "0103": "旱地", "0301": "乔木林地"}


def merc_bounds(geom: shapely.Geometry) -> tuple[float, float, float, float]:
    """Web-Mercator bounds of a (small, axis-aligned) store-CRS geometry, via pyproj."""
    xs, ys = TO_MERC.transform(*np.asarray(geom.exterior.coords).T)
    return min(xs), min(ys), max(xs), max(ys)


def tile_of(x: float, y: float, z: int) -> tuple[int, int]:
    """XYZ tile holding the Mercator point (x, y) — the usual slippy-map formula."""
    n = 1 << z
    return int((x + WORLD / 2) / WORLD * n), int((WORLD / 2 - y) / WORLD * n)


def tile_box(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    size = WORLD / (1 << z)
    return -WORLD / 2 + x * size, WORLD / 2 - (y + 1) * size, -WORLD / 2 + (x + 1) * size, WORLD / 2 - y * size


def to_tile_units(mx: float, my: float, z: int, x: int, y: int, extent: int = 4096) -> tuple[float, float]:
    x0, _, _, y1 = tile_box(z, x, y)
    size = WORLD / (1 << z)
    return (mx - x0) / size * extent, (y1 - my) / size * extent


def center_tile(no: int, z: int) -> tuple[int, int]:
    b = merc_bounds(FEATURES[no][0])
    return tile_of((b[0] + b[2]) / 2, (b[1] + b[3]) / 2, z)


def decode(data: bytes) -> dict:
    return mapbox_vector_tile.decode(data, default_options={"y_coord_down": True})


@pytest.fixture(scope="module")
def client(engine, settings, accounts):
    return TestClient(create_app(settings), headers=accounts.headers("admin"))


@pytest.fixture
def layer(store, tmp_path, uid):
    """A classified polygon layer; returns (layer id, ref, source path)."""
    from plans.service import resolve_layer

    plan = store.plan(f"tiles-{uid}")
    path = write_vector(tmp_path / "landuse.geojson", [g for g, _ in FEATURES.values()], "EPSG:4523",
                        DLBM=[c for _, c in FEATURES.values()])
    store.ingest(path, plan, "landuse", class_field="DLBM", scheme="gb2023")
    with store.session() as s:
        lid = resolve_layer(s, f"{plan}/landuse").id
    return lid, f"{plan}/landuse", path


def features_in(client, lid: int, z: int, x: int, y: int, ref: str) -> dict[int, dict]:
    r = client.get(f"/tiles/{lid}/{z}/{x}/{y}.pbf")
    if r.status_code == 204:
        return {}
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/vnd.mapbox-vector-tile"
    layers = decode(r.content)
    assert list(layers) == [ref]
    return {f["properties"]["feature_no"]: f for f in layers[ref]["features"]}


def test_tile_content_and_placement(client, layer):
    lid, ref, _ = layer
    z = 15
    x, y = center_tile(1, z)
    feats = features_in(client, lid, z, x, y, ref)
    # Exactly the features whose Mercator box meets the tile (with its 64-unit buffer).
    x0, y0, x1, y1 = tile_box(z, x, y)
    pad = (x1 - x0) * 64 / 4096
    expected = {no for no, (g, _) in FEATURES.items()
                if shapely.box(*merc_bounds(g)).intersects(shapely.box(x0 - pad, y0 - pad, x1 + pad, y1 + pad))}
    assert set(feats) == expected and 1 in expected
    props = feats[1]["properties"]
    assert props == {"feature_no": 1, "class_code": "0701", "class_status": "standard", "name_zh": "城镇住宅用地"}
    # The decoded square lands where pyproj puts it, to within the tile grid (1 unit ≈ 30 cm here).
    ring = np.asarray(feats[1]["geometry"]["coordinates"][0], dtype=float)
    bx0, by0, bx1, by1 = merc_bounds(FEATURES[1][0])
    ux0, uy1 = to_tile_units(bx0, by0, z, x, y)  # lower-left corner → larger row (y down)
    ux1, uy0 = to_tile_units(bx1, by1, z, x, y)
    assert ring[:, 0].min() == pytest.approx(ux0, abs=1.01)
    assert ring[:, 0].max() == pytest.approx(ux1, abs=1.01)
    assert ring[:, 1].min() == pytest.approx(uy0, abs=1.01)
    assert ring[:, 1].max() == pytest.approx(uy1, abs=1.01)
    assert feats[1]["geometry"]["type"] == "Polygon"


def test_tiny_features_drop_only_when_invisible(client, layer):
    lid, ref, _ = layer
    # z10: a pixel (1/512 tile) is ~76 m of Mercator; the 5 m square is invisible, 100 m is not.
    x, y = center_tile(3, 10)
    assert center_tile(2, 10) == (x, y)
    low = features_in(client, lid, 10, x, y, ref)
    assert 2 in low and 3 not in low
    assert low[2]["properties"]["name_zh"] == "水田"
    # z17: a pixel is ~0.6 m; the 5 m square shows.
    x, y = center_tile(3, 17)
    high = features_in(client, lid, 17, x, y, ref)
    assert 3 in high and high[3]["properties"]["class_code"] == "0103"
    # z7: the 2 km square is still several pixels wide.
    x, y = center_tile(4, 7)
    assert 4 in features_in(client, lid, 7, x, y, ref)


def test_etag_304_and_new_version(client, store, layer):
    lid, ref, path = layer
    x, y = center_tile(1, 14)
    url = f"/tiles/{lid}/14/{x}/{y}.pbf"
    r = client.get(url)
    assert r.status_code == 200
    tag = r.headers["etag"]
    assert r.headers["cache-control"].startswith("public, max-age=")
    again = client.get(url, headers={"If-None-Match": tag})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == tag
    assert client.get(url, headers={"If-None-Match": f'"other", W/{tag}'}).status_code == 304
    assert client.get(url, headers={"If-None-Match": '"other"'}).status_code == 200
    # A new version of the layer gives a new ETag; version 1 keeps the old one, cached for long.
    plan, name = ref.split("/")
    store.ingest(path, plan, name, class_field="DLBM", scheme="gb2023")
    new = client.get(url, headers={"If-None-Match": tag})
    assert new.status_code == 200 and new.headers["etag"] != tag
    old = client.get(url + "?version=1", headers={"If-None-Match": tag})
    assert old.status_code == 304
    assert "immutable" in client.get(url + "?version=1").headers["cache-control"]
    missing = client.get(url + "?version=9")
    assert missing.status_code == 404 and "没有版本 9" in missing.json()["message_zh"]


def test_empty_tiles_are_204(client, layer):
    lid, _, _ = layer
    r = client.get(f"/tiles/{lid}/3/0/0.pbf")  # the Arctic Atlantic
    assert r.status_code == 204 and r.content == b"" and "etag" in r.headers
    x, y = center_tile(1, 16)
    r = client.get(f"/tiles/{lid}/16/{x}/{y - 40}.pbf")  # ~24 km north, inside Dingxi, no data
    assert r.status_code == 204 and r.content == b""


def test_tilejson(client, layer):
    lid, ref, _ = layer
    r = client.get(f"/tiles/{lid}.json")
    assert r.status_code == 200
    tj = r.json()
    assert tj["tilejson"] == "3.0.0"
    assert tj["tiles"][0].endswith(f"/tiles/{lid}/{{z}}/{{x}}/{{y}}.pbf")
    assert tj["tiles"][0].startswith("http")
    assert tj["vector_layers"][0]["id"] == ref
    assert set(tj["vector_layers"][0]["fields"]) == {"feature_no", "class_code", "class_status", "name_zh"}
    assert tj["minzoom"] == 0 and tj["maxzoom"] >= 16
    # Bounds enclose every feature's lon/lat (pyproj), and not by much.
    pts = np.vstack([np.column_stack(TO_LONLAT.transform(*np.asarray(g.exterior.coords).T))
                     for g, _ in FEATURES.values()])
    w, s, e, n = tj["bounds"]
    assert w <= pts[:, 0].min() and e >= pts[:, 0].max() and s <= pts[:, 1].min() and n >= pts[:, 1].max()
    assert pts[:, 0].min() - w < 1e-3 and n - pts[:, 1].max() < 1e-3
    assert "?version=1" in client.get(f"/tiles/{lid}.json?version=1").json()["tiles"][0]


def test_bad_requests_are_clear_json(client, layer, store, tmp_path, uid):
    lid, _, _ = layer
    for url in ("/tiles/999999999/0/0/0.pbf", "/tiles/abc/0/0/0.pbf", "/tiles/999999999.json", "/tiles/²/0/0/0.pbf"):
        r = client.get(url)
        assert r.status_code == 404, url
        body = r.json()
        assert body["error"] == "not_found" and "图层" in body["message_zh"] and "layer" in body["message_en"]
    for url in (f"/tiles/{lid}/25/0/0.pbf", f"/tiles/{lid}/2/4/0.pbf", f"/tiles/{lid}/2/0/-1.pbf",
                f"/tiles/{lid}/z/0/0.pbf", f"/tiles/{lid}/--1/0/0.pbf", f"/tiles/{lid}/²/0/0.pbf"):
        r = client.get(url)
        assert r.status_code == 400, url
        assert r.json()["message_zh"] and r.json()["message_en"]
    r = client.get(f"/tiles/{lid}/0/0/0.pbf?version=abc")
    assert r.status_code == 400 and "version" in r.json()["message_en"]
    # A raster layer has no vector tiles.
    from plans.service import resolve_layer

    tif = tmp_path / "dem.tif"
    with rasterio.open(tif, "w", driver="GTiff", width=10, height=10, count=1, dtype="float32",
                       crs="EPSG:4523", transform=from_origin(X0, Y0 + 100, 10, 10)) as dst:
        dst.write(np.ones((10, 10), dtype="float32"), 1)
    plan = store.plan(f"tiles-r-{uid}", kind="base")
    store.ingest(tif, plan, "dem")
    with store.session() as s:
        rid = resolve_layer(s, f"{plan}/dem").id
    r = client.get(f"/tiles/{rid}/0/0/0.pbf")
    assert r.status_code == 404 and "栅格" in r.json()["message_zh"] and "raster" in r.json()["message_en"]
