"""Conflict-run routes against the real store (the hand-built pair of tests/conflict_checks)."""

from __future__ import annotations

import io
import time
import zipfile

import pytest
from fastapi.testclient import TestClient

from gis_platform.web.app import create_app
from tests.conflict_checks.test_conflicts import pair  # noqa: F401 (fixture)

pytestmark = pytest.mark.postgis


@pytest.fixture(scope="module")
def client(engine, settings, accounts):
    return TestClient(create_app(settings), headers=accounts.headers("admin"))


def test_run_patches_resolutions_and_exports(client, pair):  # noqa: F811
    r = client.post("/api/conflicts", json={"a": pair.a, "b": pair.b, "profile": "landuse_vs_urban"})
    assert r.status_code == 200, r.text
    run = r.json()
    cats = {(c["category"], c["subtype"]): c for c in run["summary"]["by_category"]}
    assert cats[("04", None)]["area_m2"] == pytest.approx(500_000.0, abs=0.01)
    assert cats[("04", None)]["name_en"] == "Non-construction in the land-use plan, construction in the urban plan"
    rid = run["id"]
    assert client.get(f"/api/conflicts/{rid}").json()["params"]["min_area_m2"] == 400.0
    assert rid in [x["id"] for x in client.get("/api/conflicts").json()]
    gj = client.get(f"/api/conflicts/{rid}/patches", params={"category": "04", "format": "geojson"})
    assert gj.headers["content-type"].startswith("application/geo+json")
    feat = gj.json()["features"][0]
    lon, lat = feat["geometry"]["coordinates"][0][0]
    assert 103 < lon < 106 and 34 < lat < 37  # CGCS2000 lon/lat
    no = feat["properties"]["patch_no"]
    up = client.post(f"/api/conflicts/{rid}/resolutions",
                     json={"patch_nos": [no], "status": "amend_b", "department": "市住建局", "comment": "城规调出"})
    assert up.status_code == 200 and up.json()["updated"] == [no]
    hist = client.get(f"/api/conflicts/{rid}/patches/{no}/history").json()
    assert [h["status"] for h in hist] == ["amend_b"] and hist[0]["comment"] == "城规调出"
    prog = client.get(f"/api/conflicts/{rid}/progress").json()
    assert {"department": "市住建局", "status": "amend_b", "n": 1} in [
        {k: x[k] for k in ("department", "status", "n")} for x in prog]
    bad = client.post(f"/api/conflicts/{rid}/resolutions", json={"patch_nos": [no], "status": "done"})
    assert bad.status_code == 422 and "Traceback" not in bad.text
    quality = client.get(f"/api/conflicts/{rid}/quality").json()
    assert {(q["side"], q["kind"]) for q in quality} == {("B", "overlap"), ("A", "gap")}
    shp = client.get(f"/api/conflicts/{rid}/export", params={"format": "shp"})
    assert shp.status_code == 200
    names = zipfile.ZipFile(io.BytesIO(shp.content)).namelist()
    assert {n.rsplit(".", 1)[1] for n in names} >= {"shp", "shx", "dbf", "prj", "cpg"}
    xlsx = client.get(f"/api/conflicts/{rid}/export", params={"format": "xlsx"})
    assert xlsx.content[:2] == b"PK"


def test_background_run_and_errors(client, pair):  # noqa: F811
    r = client.post("/api/conflicts", json={"a": pair.a, "b": pair.b, "background": True})
    assert r.status_code == 202
    url = r.json()["status_url"]
    for _ in range(200):
        st = client.get(url).json()
        if st["status"] in ("done", "failed"):
            break
        time.sleep(0.05)
    assert st["status"] == "done", st
    assert client.get(st["run_url"]).status_code == 200
    missing = client.post("/api/conflicts", json={"a": pair.a, "b": "nope/nothing"})
    assert missing.status_code == 404 and "nope/nothing" in missing.json()["message_en"]
    # a run that cannot start is refused before it is queued, with the same message
    refused = client.post("/api/conflicts", json={"a": pair.b, "b": pair.a, "background": True})
    assert refused.status_code == 422 and "gb50137" in refused.json()["message_en"]
    assert client.get("/api/conflicts/999999").status_code == 404
    assert client.get("/api/conflicts/jobs/nope").status_code == 404
