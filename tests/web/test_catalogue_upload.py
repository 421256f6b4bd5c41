"""Catalogue API for what the CLI does: add a plan, upload a layer file as a new version, list
versions, export a version — against the real store.

Data sit around X=35 452 000, Y=3 915 000 (EPSG:4523), a corner no other test uses.
"""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from fastapi.testclient import TestClient
from shapely.geometry import box

from gis_platform.web.app import create_app
from tests.factories import write_vector

pytestmark = pytest.mark.postgis

X0, Y0 = 35_452_000.0, 3_915_000.0
SHAPES = [box(X0, Y0, X0 + 100, Y0 + 50), box(X0 + 200, Y0, X0 + 230.5, Y0 + 40.25)]
AREAS = [5_000.0, 30.5 * 40.25]


@pytest.fixture(scope="module")
def client(engine, settings, accounts):
    return TestClient(create_app(settings), headers=accounts.headers("admin"))


def _upload(client, plan: str, layer: str, path, **form):
    with path.open("rb") as fh:
        return client.post(f"/api/layers/{plan}/{layer}", files={"file": (path.name, fh.read())}, data=form)


def test_create_plan(client, uid):
    body = {"code": f"api-{uid}", "name": "定西市测试规划", "kind": "territorial", "authority": "定西市自然资源局",
            "approved_on": "2024-06-30"}
    r = client.post("/api/plans", json=body)
    assert r.status_code == 201, r.text
    assert r.json()["code"] == f"api-{uid}" and r.json()["approved_on"] == "2024-06-30"
    assert client.get(f"/api/plans/api-{uid}").json()["name"] == "定西市测试规划"
    again = client.post("/api/plans", json=body)
    assert again.status_code == 409 and "已存在" in again.json()["message_zh"]
    bad = client.post("/api/plans", json={**body, "code": f"api2-{uid}", "kind": "spaceship"})
    assert bad.status_code == 422 and "spaceship" in bad.json()["message_en"]
    assert client.get(f"/api/plans/api2-{uid}").status_code == 404


def test_upload_versions_and_layer_id(client, store, tmp_path, uid, accounts):
    plan = store.plan(f"up-{uid}")
    path = write_vector(tmp_path / "zones.geojson", SHAPES, "EPSG:4523", DLBM=["0701", "0103"])
    r = _upload(client, plan, "ghyd", path, class_field="DLBM", scheme="gb2023", theme="planned_land_use",
                title="规划用地")
    assert r.status_code == 201, r.text
    v1 = r.json()
    assert v1["version"] == 1 and v1["feature_count"] == 2 and v1["source_name"] == "zones.geojson"
    assert v1["total_area_m2"] == pytest.approx(sum(AREAS), abs=0.01)
    assert v1["layer"] == f"{plan}/ghyd" and v1["loaded_by"] == accounts.users["admin"].username  # who uploaded
    r2 = _upload(client, plan, "ghyd", path)
    assert r2.status_code == 201 and r2.json()["version"] == 2
    versions = client.get(f"/api/layers/{plan}/ghyd/versions").json()
    assert [v["version"] for v in versions] == [1, 2]
    assert all(v["options"]["class_field"] == "DLBM" for v in versions)
    layer = client.get(f"/api/layers/{plan}/ghyd").json()
    assert isinstance(layer["id"], int) and layer["title"] == "规划用地" and layer["class_scheme"] == "gb2023"
    listed = next(x for x in client.get("/api/layers", params={"plan": plan}).json() if x["name"] == "ghyd")
    assert listed["id"] == layer["id"]
    # the id is the one the standard services key on
    assert client.get(f"/tiles/{layer['id']}.json").json()["name"] == "规划用地"
    assert client.get(f"/api/layers/{plan}/nope/versions").status_code == 404


def test_refused_upload_stores_nothing(client, store, tmp_path, uid):
    plan = store.plan(f"upbad-{uid}")
    good = write_vector(tmp_path / "ok.geojson", SHAPES[:1], "EPSG:4523")
    assert _upload(client, plan, "redline", good).status_code == 201
    before = store.counts()
    # no CRS: refused, never guessed; the message names the file
    nocrs = _no_prj_zip(tmp_path, "无坐标系.zip")
    r = _upload(client, plan, "redline", nocrs)
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["error"] == "crs" and body["file"] == "无坐标系.zip"
    assert "无坐标系.zip" in body["message_zh"] and ".prj" in body["message_zh"]
    assert "无坐标系.zip" in body["message_en"] and "no CRS" in body["message_en"]
    assert "gisplat-upload-" not in r.text and "Traceback" not in r.text
    # outside the city after reprojection, into a new layer: neither layer nor version is kept
    far = write_vector(tmp_path / "far.geojson", [box(2.0, 48.0, 2.01, 48.01)], "EPSG:4326")
    r = _upload(client, plan, "newlayer", far)
    assert r.status_code == 422 and "far.geojson" in r.json()["message_zh"]
    # an invalid geometry is named by feature
    bow = write_vector(tmp_path / "bow.geojson", [box(X0, Y0, X0 + 10, Y0 + 10),
                                                  _bowtie()], "EPSG:4523")
    r = _upload(client, plan, "redline", bow)
    assert r.status_code == 422 and "bow.geojson" in r.json()["message_zh"]
    assert r.json()["problems"] and r.json()["problems"][0]["feature"]
    # unknown scheme, no extension, unknown plan
    assert _upload(client, plan, "redline", good, scheme="nope").status_code == 422
    assert client.post(f"/api/layers/{plan}/redline", files={"file": ("noext", b"{}")}).status_code == 422
    assert _upload(client, f"nope-{uid}", "x", good).status_code == 404
    assert store.counts() == before
    assert [v["version"] for v in client.get(f"/api/layers/{plan}/redline/versions").json()] == [1]
    assert client.get(f"/api/layers/{plan}/newlayer").status_code == 404


def _no_prj_zip(tmp, name: str):
    """A zipped Shapefile without its .prj (no CRS declared)."""
    shp = write_vector(tmp / "noprj.shp", SHAPES, None)
    out = tmp / name
    with zipfile.ZipFile(out, "w") as zf:
        for suffix in (".shp", ".shx", ".dbf"):
            zf.write(shp.with_suffix(suffix), shp.with_suffix(suffix).name)
    return out


def _bowtie():
    from shapely.geometry import Polygon

    return Polygon([(X0, Y0 + 100), (X0 + 20, Y0 + 120), (X0 + 20, Y0 + 100), (X0, Y0 + 120)])


@pytest.mark.parametrize("fmt", ["gpkg", "shp", "geojson"])
def test_export_then_reingest_gives_the_same_areas(client, store, tmp_path, uid, fmt):
    plan = store.plan(f"exp-{fmt}-{uid}")
    src = write_vector(tmp_path / "src.geojson", SHAPES, "EPSG:4523", DLBM=["0701", "0103"], MC=["住宅", "旱地"])
    assert _upload(client, plan, "ghyd", src, class_field="DLBM", scheme="gb2023").status_code == 201
    assert _upload(client, plan, "ghyd", src).status_code == 201  # version 2
    r = client.get(f"/api/layers/{plan}/ghyd/export", params={"format": fmt, "version": 1})
    assert r.status_code == 200, r.text
    assert r.headers["x-layer-version"] == "1" and "attachment" in r.headers["content-disposition"]
    suffix = "zip" if fmt == "shp" else fmt
    assert f'filename="{plan}-ghyd-v1.{suffix}"' in r.headers["content-disposition"]
    if fmt == "shp":
        names = zipfile.ZipFile(io.BytesIO(r.content)).namelist()
        assert {n.rsplit(".", 1)[1] for n in names} >= {"shp", "shx", "dbf", "prj"}
    if fmt == "geojson":
        assert len(json.loads(r.content)["features"]) == 2
    out = tmp_path / f"exported.{suffix}"
    out.write_bytes(r.content)
    back = _upload(client, plan, "again", out, class_field="DLBM", scheme="gb2023")
    assert back.status_code == 201, back.text
    assert back.json()["feature_count"] == 2
    assert store.areas(plan, "again") == pytest.approx(store.areas(plan, "ghyd", 1), abs=0.01)
    assert sorted(store.areas(plan, "again")) == pytest.approx(sorted(AREAS), abs=0.01)
    assert sorted(p["_class_code"] for p in store.properties(plan, "again")) == ["0103", "0701"]
    assert client.get(f"/api/layers/{plan}/ghyd/export", params={"format": "dxf"}).status_code == 422
    assert client.get(f"/api/layers/{plan}/ghyd/export", params={"version": 9}).status_code == 404


def test_openapi_lists_the_catalogue_operations(client):
    paths = client.get("/openapi.json").json()["paths"]
    assert "post" in paths["/api/plans"] and "post" in paths["/api/layers/{plan}/{layer}"]
    assert "get" in paths["/api/layers/{plan}/{layer}/versions"]
    assert "get" in paths["/api/layers/{plan}/{layer}/export"]


def test_an_uploaded_layer_has_its_internal_overlaps_checked(client, store, tmp_path, uid):
    """As after gisplat ingest: the server checks the new version in the background, so pre-checks
    and conflict runs use what it found."""
    plan = store.plan(f"qa-{uid}")
    a, b = box(X0, Y0 + 500, X0 + 60, Y0 + 600), box(X0 + 40, Y0 + 500, X0 + 100, Y0 + 600)
    path = write_vector(tmp_path / "overlapping.geojson", [a, b], "EPSG:4523", DLBM=["0701", "0103"])
    r = _upload(client, plan, "ghyd", path, class_field="DLBM", scheme="gb2023")
    assert r.status_code == 201, r.text
    row = store.overlap_check(store.version_id(plan, "ghyd"))
    assert row is not None and row.pairs == 1 and row.area_m2 == pytest.approx(a.intersection(b).area)

