"""Pre-check and what-applies routes against the real store."""

from __future__ import annotations

import pytest
import shapely
from fastapi.testclient import TestClient
from shapely.geometry import box

from gis_platform.web.app import create_app
from tests.factories import to_lonlat, write_vector

pytestmark = pytest.mark.postgis

X0, Y0 = 35_480_000.0, 3_990_000.0  # a corner no other test uses


@pytest.fixture(scope="module")
def client(engine, settings, accounts):
    return TestClient(create_app(settings), headers=accounts.headers("admin"))


@pytest.fixture
def redline(store, tmp_path, uid):
    plan = store.plan(f"api-{uid}", kind="control_line")
    win = write_vector(tmp_path / "w.geojson", [box(X0 - 500, Y0 - 500, X0 + 500, Y0 + 500)], "EPSG:4523")
    store.ingest(win, plan, "window", theme="coverage_area")
    red = write_vector(tmp_path / "r.geojson", [box(X0 + 60, Y0, X0 + 200, Y0 + 100)], "EPSG:4523")
    store.ingest(red, plan, "stbhhx", theme="ecological_red_line", coverage=f"{plan}/window")
    return f"{plan}/stbhhx"


def test_geojson_check_and_report(client, redline):
    site = box(X0, Y0, X0 + 100, Y0 + 100)
    body = {"geometry": shapely.geometry.mapping(site), "crs": "EPSG:4523",
            "meta": {"project_code": "P-1", "name": "测试", "proposed_use": "0701", "project_type": "ordinary"}}
    r = client.post("/api/checks/geojson", json=body)
    assert r.status_code == 200, r.text
    res = r.json()
    f = next(x for x in res["layers"] if x["ref"] == redline)
    assert f["area_m2"] == pytest.approx(site.intersection(box(X0 + 60, Y0, X0 + 200, Y0 + 100)).area)
    assert res["verdict"] == "fail"
    again = client.get(f"/api/checks/{res['run_id']}").json()
    assert again["verdict"] == "fail" and again["run_id"] == res["run_id"]
    html = client.get(f"/checks/{res['run_id']}/report").text
    assert "不通过" in html and "<svg" in html
    assert "Fail" in client.get(f"/checks/{res['run_id']}/report?lang=en").text or \
        "fail" in client.get(f"/checks/{res['run_id']}/report?lang=en").text.lower()
    rerun = client.post(f"/api/checks/{res['run_id']}/rerun").json()
    assert rerun["verdict"] == "fail" and rerun["run_id"] != res["run_id"]


def test_upload_check_in_lonlat(client, redline, tmp_path):
    site = box(X0 + 100, Y0, X0 + 150, Y0 + 50)  # wholly inside the red line
    path = write_vector(tmp_path / "site.geojson", [to_lonlat(site, 4326)], "EPSG:4326")
    with path.open("rb") as fh:
        r = client.post("/api/checks", files={"file": ("site.geojson", fh, "application/geo+json")},
                        data={"proposed_use": "0701", "project_type": "linear_infrastructure"})
    assert r.status_code == 200, r.text
    f = next(x for x in r.json()["layers"] if x["ref"] == redline)
    assert f["severity"] == "needs_approval" and f["share"] == pytest.approx(1.0, abs=1e-6)


def test_refusals_store_nothing(client, store, tmp_path):
    before = store.counts()
    bad = write_vector(tmp_path / "noprj.shp", [box(X0, Y0, X0 + 10, Y0 + 10)], None)
    import zipfile

    z = tmp_path / "noprj.zip"
    with zipfile.ZipFile(z, "w") as zf:
        for s in (".shp", ".shx", ".dbf"):
            zf.write(bad.with_suffix(s), bad.with_suffix(s).name)
    with z.open("rb") as fh:
        r = client.post("/api/checks", files={"file": ("noprj.zip", fh)})
    assert r.status_code == 422 and "坐标系" in r.json()["message_zh"]
    r = client.post("/api/checks/geojson", json={"geometry": {"type": "Point", "coordinates": [104.6, 35.5]}})
    assert r.status_code == 422
    r = client.post("/api/checks/geojson", json={"geometry": shapely.geometry.mapping(box(0, 0, 1, 1))})
    assert r.status_code == 422 and "extent" in r.json()["message_en"]
    huge = box(X0 - 6000, Y0 - 6000, X0 + 6000, Y0 + 6000)  # 144 km² > 100 km²
    r = client.post("/api/checks/geojson", json={"geometry": shapely.geometry.mapping(huge), "crs": "EPSG:4523"})
    assert r.status_code == 413
    r = client.post("/api/checks/geojson", json={"geometry": shapely.geometry.mapping(box(X0, Y0, X0 + 5, Y0 + 5)),
                                                 "crs": "EPSG:4523", "meta": {"project_type": "bogus"}})
    assert r.status_code == 422
    assert client.get("/api/checks/999999999").status_code == 404
    assert store.counts() == before


def test_applies_at_a_point(client, redline):
    lon, lat = to_lonlat(shapely.Point(X0 + 150, Y0 + 50)).coords[0]
    r = client.get("/api/applies", params={"x": lon, "y": lat})
    assert r.status_code == 200, r.text
    hits = [f for f in r.json()["features"] if f["ref"] == redline]
    assert len(hits) == 1 and hits[0]["severity"] == "forbidden" and hits[0]["rule"]["key"] == "eco_redline"
    r = client.get("/api/applies", params={"x": 120.0, "y": 30.0})
    assert r.status_code == 422 and "extent" in r.json()["message_en"]


def test_batch_upload(client, redline, tmp_path):
    sites = [box(X0, Y0, X0 + 50, Y0 + 50), box(X0 + 100, Y0, X0 + 150, Y0 + 50)]
    path = write_vector(tmp_path / "cands.gpkg", sites, "EPSG:4523", name=["A", "B"])
    with path.open("rb") as fh:
        r = client.post("/api/checks/batch", files={"file": ("cands.gpkg", fh)}, data={"proposed_use": "0701"})
    assert r.status_code == 200, r.text
    res = r.json()
    areas = [next(x for x in one["layers"] if x["ref"] == redline)["area_m2"] for one in res]
    assert areas == [0.0, pytest.approx(2500.0)]
    assert [one["meta"]["name"] for one in res] == ["FID 1", "FID 2"]


def test_report_as_pdf(client, redline):
    site = box(X0, Y0, X0 + 100, Y0 + 100)
    res = client.post("/api/checks/geojson", json={"geometry": shapely.geometry.mapping(site),
                                                   "crs": "EPSG:4523"}).json()
    pdf = client.get(f"/checks/{res['run_id']}/report.pdf")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF") and len(pdf.content) > 10_000
