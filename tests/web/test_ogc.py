"""OGC API - Features (/ogc) against the real store, and read by GDAL as a real client."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
import time
from urllib.parse import urlsplit

import numpy as np
import pytest
import shapely
from fastapi.testclient import TestClient
from pyproj import Transformer

from gis_platform.web.app import create_app
from tests.factories import square, write_vector

pytestmark = pytest.mark.postgis

X0, Y0 = 35_470_000.0, 3_975_000.0  # a corner no other test uses (north of test_tiles.py's)
TO_LONLAT = Transformer.from_crs(4523, 4326, always_xy=True)
# Seven 50 m squares in a row, 100 m apart: feature_no 1..7 from west to east.
SQUARES = [square(X0 + 100 * i, Y0, 50.0) for i in range(7)]
CODES = ["0701", "0101", "0103", "0301", "0701", "XX9", "0101"]


def lonlat(geom: shapely.Geometry) -> np.ndarray:
    """Exterior ring in lon/lat (pyproj, independent of the platform)."""
    return np.column_stack(TO_LONLAT.transform(*np.asarray(geom.exterior.coords).T))


@pytest.fixture(scope="module")
def client(engine, settings, accounts):
    return TestClient(create_app(settings), headers=accounts.headers("admin"))


@pytest.fixture
def collection(store, tmp_path, uid):
    """A classified polygon layer of 7 features; returns its collection id (the layer id)."""
    from plans.service import resolve_layer

    plan = store.plan(f"ogc-{uid}")
    path = write_vector(tmp_path / "parcels.geojson", SQUARES, "EPSG:4523",
                        DLBM=CODES, 名称=[f"地块{i + 1}" for i in range(7)])
    store.ingest(path, plan, "parcels", class_field="DLBM", scheme="gb2023", title="地块图层")
    with store.session() as s:
        return str(resolve_layer(s, f"{plan}/parcels").id)


def relative(href: str) -> str:
    parts = urlsplit(href)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def test_landing_conformance_collections(client, collection):
    r = client.get("/ogc")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    rels = {link["rel"]: link for link in r.json()["links"]}
    assert {"self", "service-desc", "conformance", "data"} <= set(rels)
    assert relative(rels["service-desc"]["href"]) == "/openapi.json"
    assert client.get(relative(rels["service-desc"]["href"])).status_code == 200
    assert client.get("/ogc?f=json").status_code == 200
    conf = client.get(relative(rels["conformance"]["href"])).json()["conformsTo"]
    assert {c.rsplit("/", 1)[-1] for c in conf} >= {"core", "geojson", "oas30"}
    cols = client.get(relative(rels["data"]["href"])).json()["collections"]
    mine = next(c for c in cols if c["id"] == collection)
    assert mine["title"] == "地块图层" and mine["itemType"] == "feature"
    assert "/parcels" in mine["description"]
    assert mine == client.get(f"/ogc/collections/{collection}").json()
    # The spatial extent encloses every feature (pyproj lon/lat) and is tight.
    pts = np.vstack([lonlat(g) for g in SQUARES])
    (w, s, e, n), = mine["extent"]["spatial"]["bbox"]
    assert w <= pts[:, 0].min() and s <= pts[:, 1].min() and e >= pts[:, 0].max() and n >= pts[:, 1].max()
    assert max(pts[:, 0].min() - w, n - pts[:, 1].max()) < 1e-4
    assert mine["extent"]["spatial"]["crs"].endswith("CRS84")
    (t0, t1), = mine["extent"]["temporal"]["interval"]
    assert t0.endswith("Z") and t0 <= t1
    items = next(link for link in mine["links"] if link["rel"] == "items")
    assert items["type"] == "application/geo+json"


def test_items_are_lonlat_geojson(client, collection):
    r = client.get(f"/ogc/collections/{collection}/items")
    assert r.status_code == 200 and r.headers["content-type"] == "application/geo+json"
    body = r.json()
    assert body["type"] == "FeatureCollection"
    assert body["numberMatched"] == body["numberReturned"] == 7 and body["timeStamp"].endswith("Z")
    assert [f["id"] for f in body["features"]] == list(range(1, 8))
    f1 = body["features"][0]
    assert f1["properties"]["名称"] == "地块1" and f1["properties"]["class_code"] == "0701"
    assert f1["properties"]["class_raw"] == "0701" and f1["properties"]["class_status"] == "standard"
    assert f1["properties"]["feature_no"] == 1
    assert body["features"][5]["properties"]["class_status"] == "unmapped"
    for f, geom in zip(body["features"], SQUARES, strict=True):
        ring = np.asarray(f["geometry"]["coordinates"][0])
        expected = lonlat(geom)
        # lon first, lat second; same ring up to start point and orientation
        assert ring[:, 0].min() == pytest.approx(expected[:, 0].min(), abs=1e-8)
        assert ring[:, 1].max() == pytest.approx(expected[:, 1].max(), abs=1e-8)
        assert 104 < ring[0, 0] < 105 and 35 < ring[0, 1] < 36.3
        assert shapely.Polygon(ring).equals_exact(shapely.Polygon(expected), 1e-8) or \
            shapely.Polygon(ring).symmetric_difference(shapely.Polygon(expected)).area < 1e-14
    one = client.get(f"/ogc/collections/{collection}/items/3")
    assert one.status_code == 200 and one.headers["content-type"] == "application/geo+json"
    assert one.json()["id"] == 3 and one.json()["properties"]["名称"] == "地块3"
    assert {link["rel"] for link in one.json()["links"]} == {"self", "collection"}
    assert client.get(f"/ogc/collections/{collection}/items?f=json").status_code == 200


def test_bbox_selects_exactly(client, collection):
    # A box around squares 2..4 (1-based), touching none of 1 or 5: from x0+110 to x0+320.
    lo = TO_LONLAT.transform(X0 + 110, Y0 + 10)
    hi = TO_LONLAT.transform(X0 + 320, Y0 + 40)
    bbox = f"{lo[0]},{lo[1]},{hi[0]},{hi[1]}"
    body = client.get(f"/ogc/collections/{collection}/items", params={"bbox": bbox}).json()
    assert [f["id"] for f in body["features"]] == [2, 3, 4]
    assert body["numberMatched"] == 3
    # paging keeps the bbox
    page = client.get(f"/ogc/collections/{collection}/items", params={"bbox": bbox, "limit": 2}).json()
    nxt = next(link["href"] for link in page["links"] if link["rel"] == "next")
    assert "bbox=" in nxt
    assert [f["id"] for f in client.get(relative(nxt)).json()["features"]] == [4]
    # a box elsewhere in the world matches nothing
    far = client.get(f"/ogc/collections/{collection}/items", params={"bbox": "-10,40,-9,41"}).json()
    assert far["numberMatched"] == 0 and far["features"] == []


def test_paging_walks_everything_once(client, collection):
    seen: list[int] = []
    url = f"/ogc/collections/{collection}/items?limit=3"
    pages = 0
    while url:
        body = client.get(url).json()
        pages += 1
        assert body["numberMatched"] == 7 and body["numberReturned"] == len(body["features"]) <= 3
        seen += [f["id"] for f in body["features"]]
        links = {link["rel"]: link["href"] for link in body["links"]}
        assert "self" in links and ("prev" in links) == (pages > 1)
        url = relative(links["next"]) if "next" in links else None
    assert pages == 3 and seen == list(range(1, 8))
    back = client.get(f"/ogc/collections/{collection}/items?limit=3&offset=6").json()
    prev = next(link["href"] for link in back["links"] if link["rel"] == "prev")
    assert [f["id"] for f in client.get(relative(prev)).json()["features"]] == [4, 5, 6]
    # above the maximum, the maximum is served (as OGC API - Features asks), not an error
    assert client.get(f"/ogc/collections/{collection}/items?limit=99999999").json()["numberReturned"] == 7


@pytest.mark.parametrize("query, word", [
    ("bbox=1,2,3", "4"),
    ("bbox=a,b,c,d", "bbox"),
    ("bbox=104,95,105,96", "lat"),
    ("bbox=104,36,105,35", "minLat"),
    ("bbox=nan,35,105,36", "bbox"),
    ("limit=0", "limit"),
    ("limit=-5", "limit"),
    ("limit=ten", "limit"),
    ("limit=²", "limit"),
    ("offset=-1", "offset"),
    ("f=xml", "format"),
    ("colour=red", "colour"),
])
def test_bad_items_queries_are_400(client, collection, query, word):
    r = client.get(f"/ogc/collections/{collection}/items?{query}")
    assert r.status_code == 400, r.text
    body = r.json()
    assert body["error"] == "input" and word in body["message_en"] and body["message_zh"]


def test_unknown_ids_are_404_json(client, collection):
    for url in ("/ogc/collections/999999999", "/ogc/collections/nope/items",
                f"/ogc/collections/{collection}/items/99", f"/ogc/collections/{collection}/items/x1",
                f"/ogc/collections/{collection}/items/²", "/ogc/collections/²",
                "/ogc/collections/999999999/items/1"):
        r = client.get(url, headers={"Accept": "text/html"})
        assert r.status_code == 404, url
        body = r.json()
        assert body["error"] == "not_found" and body["message_zh"] and body["message_en"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def live_server(settings):
    """The app served by uvicorn on a free port, in a thread."""
    import uvicorn

    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def test_gdal_reads_the_service(collection, live_server, accounts):
    if shutil.which("ogrinfo") is None:
        if os.environ.get("CI"):
            pytest.fail("ogrinfo (gdal-bin) is required in CI")
        pytest.skip("ogrinfo (gdal-bin) is not installed")
    # A department's GIS sends its API token with every request, as GDAL does with this option.
    env = {**os.environ, "GDAL_HTTP_TIMEOUT": "20",
           "GDAL_HTTP_HEADERS": f"Authorization: Bearer {accounts.tokens['department']}"}
    out = subprocess.run(["ogrinfo", "-ro", "-so", f"OAPIF:{live_server}/ogc", collection],
                         check=False, capture_output=True, text=True, timeout=60, env=env)
    assert out.returncode == 0, out.stderr + out.stdout
    assert "Feature Count: 7" in out.stdout, out.stdout
    assert "名称" in out.stdout and "class_code" in out.stdout
    # and reading every feature through GDAL's paging (page size 3) gives all seven once
    out = subprocess.run(["ogrinfo", "-ro", "-oo", "PAGE_SIZE=3", f"OAPIF:{live_server}/ogc", collection],
                         check=False, capture_output=True, text=True, timeout=60, env=env)
    assert out.returncode == 0, out.stderr
    ids = [line.split("=", 1)[1].strip() for line in out.stdout.splitlines()
           if line.strip().startswith("feature_no (Integer")]
    assert sorted(int(i) for i in ids) == list(range(1, 8))
