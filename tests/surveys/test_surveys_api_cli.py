"""多测合一 through the API, the pages and the ``gisplat surveys`` command, and the publishing of an
accepted as-built footprint into the one-map layer."""

from __future__ import annotations

import json

import pytest
import shapely
from click.testing import CliRunner
from fastapi.testclient import TestClient
from shapely.geometry import box

from gis_platform.cli import main
from gis_platform.web.app import create_app
from tests.surveys.builders import (
    E0,
    N0,
    PDF,
    boundary_package,
    counts,
    geojson,
    make_zip,
    metadata,
    txt,
)

pytestmark = pytest.mark.postgis

X, Y = E0 + 3000, N0 + 3000  # this module's corner


@pytest.fixture(scope="module")
def client(engine, settings, accounts):
    return TestClient(create_app(settings), headers=accounts.headers("admin"))


def run(*args: str, code: int = 0):
    res = CliRunner().invoke(main, list(args))
    assert res.exit_code == code, res.output
    return res


def post_package(client, path, **form):
    with path.open("rb") as fh:
        return client.post("/api/surveys", files={"file": (path.name, fh, "application/zip")}, data=form)


def test_api_upload_report_accept_share_and_precheck(client, store, tmp_path, uid, accounts):
    as_ = {}
    for who, role, aff in (("ding", "firm", {"firm": "丁测绘公司"}), ("bing", "firm", {"firm": "丙测绘公司"}),
                           ("fire", "department", {"department": "消防"}),
                           ("cad", "department", {"department": "人民防空"})):
        as_[who] = {"Authorization": f"Bearer {accounts.add(f'{who}-{uid}', role, **aff)[1]}"}
    site = box(X, Y, X + 90, Y + 70)
    code = f"API-{uid}"
    r = post_package(client, boundary_package(tmp_path, [site]), project_code=code, stage="立项用地规划许可",
                     item="勘测定界", firm="丙测绘公司", surveyor="李工")
    assert r.status_code == 200, r.text
    pkg = r.json()
    assert pkg["status"] == "passed" and pkg["stage"] == "land_use" and pkg["item"] == "boundary_survey"
    assert pkg["report"]["figures"]["txt_area_m2"] == pytest.approx(site.area)
    pid = pkg["id"]
    # another firm cannot read it (nor learn that it exists); the firm that made it can
    assert client.get(f"/api/surveys/{pid}", headers=as_["ding"]).status_code == 404
    assert client.get(f"/api/surveys/{pid}", headers=as_["bing"]).status_code == 200
    assert client.post(f"/api/checks/survey/{pid}", json={}).status_code == 409  # not accepted yet
    # a firm cannot accept; the bureau can
    assert client.post(f"/api/surveys/{pid}/accept", json={}, headers=as_["bing"]).status_code == 403
    r = client.post(f"/api/surveys/{pid}/accept", json={"departments": ["不动产登记", "fire"]})
    assert r.status_code == 200, r.text
    assert r.json()["shared_with"] == ["fire", "property_registration"]
    shared = client.get("/api/surveys/shared/property_registration").json()
    assert pid in [p["id"] for p in shared]
    assert client.get(f"/api/surveys/{pid}", headers=as_["fire"]).json()["status"] == "accepted"
    assert client.get(f"/api/surveys/{pid}", headers=as_["cad"]).status_code == 404
    feats = client.get(f"/api/surveys/{pid}/features").json()
    assert len(feats["features"]) == 1 and feats["features"][0]["properties"]["area_m2"] == pytest.approx(site.area)
    # pre-check from the accepted result = pre-check of the same uploaded file
    by_survey = client.post(f"/api/checks/survey/{pid}", json={"project_code": code, "proposed_use": "0701"}).json()
    tpath = tmp_path / "界址点坐标.txt"
    tpath.write_bytes(txt([site]))
    with tpath.open("rb") as fh:
        by_file = client.post("/api/checks", files={"file": (tpath.name, fh)},
                              data={"project_code": code, "proposed_use": "0701"}).json()
    for k in ("verdict", "area", "reasons", "boundary", "source_sha256"):
        assert by_survey[k] == by_file[k], k
    strip = lambda r: [{k: v for k, v in f.items() if k != "loaded_at"} for f in r["layers"]]
    assert strip(by_survey) == strip(by_file)
    # what applies here (API) lists the shared result
    area = shapely.geometry.mapping(box(X + 10, Y + 10, X + 20, Y + 20))
    res = client.post("/api/applies", json={"geometry": area, "crs": "EPSG:4523"}).json()
    assert [s["package_id"] for s in res["extra"]["surveys"]] == [pid]
    assert res["extra"]["surveys"][0]["area_m2"] == pytest.approx(100.0)


def test_api_refusals_store_nothing(client, store, tmp_path, uid):
    before = counts(store.engine)
    evil = make_zip(tmp_path / "evil.zip", {"../x.txt": b"x"})
    r = post_package(client, evil, project_code=f"E-{uid}", stage="land_use", item="boundary_survey", firm="甲")
    assert r.status_code == 422 and "Traceback" not in r.text and r.json()["file"] == "evil.zip"
    r = post_package(client, boundary_package(tmp_path, [box(X, Y, X + 5, Y + 5)]), project_code=f"E-{uid}",
                     stage="nope", item="boundary_survey", firm="甲")
    assert r.status_code == 422 and "stage" in r.json()["message_en"]
    assert client.get("/api/surveys/999999").status_code == 404
    assert counts(store.engine) == before


def test_pages_form_report_and_decisions(client, store, tmp_path, uid):
    assert "多测合一" in client.get("/surveys/new").text
    assert "Submit survey results" in client.get("/surveys/new?lang=en").text
    before = counts(store.engine)
    bad = tmp_path / "bad.zip"
    bad.write_bytes(b"not a zip")
    with bad.open("rb") as fh:
        r = client.post("/surveys/new", files={"file": ("bad.zip", fh)},
                        data={"project_code": f"UI-{uid}", "stage": "land_use", "item": "boundary_survey", "firm": "甲"})
    assert r.status_code == 422 and "未保存任何数据" in r.text and "bad.zip" in r.text
    assert counts(store.engine) == before
    a = box(X + 200, Y, X + 260, Y + 60)
    path = boundary_package(tmp_path, [a, box(X + 250, Y, X + 300, Y + 60)])  # overlapping: fails
    with path.open("rb") as fh:
        r = client.post("/surveys/new", files={"file": (path.name, fh)}, follow_redirects=False,
                        data={"project_code": f"UI-{uid}", "stage": "land_use", "item": "boundary_survey", "firm": "甲"})
    assert r.status_code == 303
    page = client.get(r.headers["location"]).text
    assert "检查未通过" in page and "重叠 600.00 m²" in page and 'id="accept"' not in page
    good = boundary_package(tmp_path, [a], name="good.zip")
    with good.open("rb") as fh:
        r = client.post("/surveys/new?lang=en", files={"file": (good.name, fh)}, follow_redirects=False,
                        data={"project_code": f"UI-{uid}", "stage": "land_use", "item": "boundary_survey", "firm": "甲"})
    loc = r.headers["location"]
    assert loc.endswith("?lang=en")
    page = client.get(loc).text
    assert 'id="accept"' in page and "Replaces" in page
    pid = int(loc.split("/")[-1].split("?")[0])
    r = client.post(f"/surveys/{pid}/accept", data={"departments": ["housing_construction"]}, follow_redirects=False)
    assert r.status_code == 303
    shared = client.get("/surveys/shared?department=housing_construction").text
    assert f'data-id="{pid}"' in shared
    assert f'data-id="{pid}"' in client.get("/surveys").text
    assert 'data-nav="surveys"' in client.get("/").text


def test_cli_submit_list_show_accept_shared_and_check(store, tmp_path, uid):
    code = f"CLI-{uid}"
    site = box(X + 400, Y, X + 480, Y + 50)
    path = boundary_package(tmp_path, [site])
    out = json.loads(run("surveys", "submit", str(path), "--project", code, "--stage", "land_use",
                         "--item", "boundary_survey", "--firm", "戊测绘公司", "--json").output)
    assert out["status"] == "passed" and out["report"]["figures"]["txt_area_m2"] == pytest.approx(site.area)
    pid = out["id"]
    listed = json.loads(run("surveys", "list", "--project", code, "--json").output)
    assert [p["id"] for p in listed] == [pid]
    assert json.loads(run("surveys", "list", "--project", code, "--as", "firm:别家", "--json").output) == []
    res = run("surveys", "show", str(pid), "--as", "firm:别家", code=1)
    # another firm is told the package does not exist (it must not learn that it does)
    assert f"没有测绘成果包 {pid}" in res.output and "Traceback" not in res.output
    text = run("surveys", "show", str(pid)).output
    assert "✓ [consistency]" in text
    acc = json.loads(run("surveys", "accept", str(pid), "--share", "property_registration", "--json").output)
    assert acc["status"] == "accepted" and acc["shared_with"] == ["property_registration"]
    shared = json.loads(run("surveys", "shared", "--department", "不动产登记", "--json").output)
    assert pid in [p["id"] for p in shared]
    checked = json.loads(run("check", "--survey", str(pid), "--use", "0701", "--json").output)
    assert checked["area"]["plane_area_m2"] == pytest.approx(site.area)
    assert checked["source_name"] == "界址点坐标.txt"
    tpath = tmp_path / "area.txt"
    tpath.write_bytes(txt([site]))
    assert f"测绘成果 #{pid} {code} 勘测定界 v1 戊测绘公司" in run("applies", "--file", str(tpath)).output
    res = run("surveys", "return", str(pid), "--reason", "x", code=1)  # accepted: cannot be returned
    assert "accepted" in res.output or "已验收" in res.output or "不能退回" in res.output
    # a failed package is stored, reported, and the command exits 2
    bad = boundary_package(tmp_path, [site], name="bad.zip", txt_bytes=txt([site], system="1980西安坐标系"))
    res = run("--lang", "en", "surveys", "submit", str(bad), "--project", code, "--stage", "land_use",
              "--item", "boundary_survey", "--firm", "戊测绘公司", code=2)
    assert "✗ [math_basis] 界址点坐标.txt" in res.output and "CGCS2000" in res.output
    assert "supersedes #" in res.output


def test_accepted_footprint_updates_the_one_map_layer(store, tmp_path, uid):
    code = f"PUB-{uid}"
    site = box(X + 600, Y, X + 700, Y + 100)
    pkg = None
    from surveys.service import accept_package, submit_package

    with store.session() as s:
        pkg = submit_package(s, store.settings, boundary_package(tmp_path, [site]), project_code=code,
                             stage="land_use", item="boundary_survey", firm="甲")
        accept_package(s, store.settings, pkg["id"])
    fp = box(X + 610, Y + 10, X + 660, Y + 50)
    zp = make_zip(tmp_path / "hs.zip", {
        "footprint.geojson": geojson(tmp_path / "fp.geojson", [fp], floors=[4], DLBM=["0701"]),
        "report.pdf": PDF, "metadata.json": metadata(approved={"building_coverage": 0.3, "far": 1.0})})
    with store.session() as s:
        hs = submit_package(s, store.settings, zp, project_code=code, stage="completion",
                            item="planning_verification", firm="甲")
        assert hs["status"] == "passed", [f for f in hs["report"]["findings"] if f["status"] == "fail"]
        ind = hs["report"]["figures"]["indicators"]
        assert ind["building_coverage"] == pytest.approx(fp.area / site.area)
        assert ind["far"] == pytest.approx(fp.area * 4 / site.area)
        accepted = accept_package(s, store.settings, hs["id"])
    published = accepted["history"][-1]["details"]["published"]
    assert published["layer"] == "survey-results/as_built_footprints"
    areas = store.areas("survey-results", "as_built_footprints", published["version"])
    props = store.properties("survey-results", "as_built_footprints")
    mine = [a for a, p in zip(areas, props) if p.get("survey_package_id") == hs["id"]]
    assert mine == [pytest.approx(fp.area)]
    if published["version"] > 1:  # earlier versions stay; the new one adds this footprint
        before = store.areas("survey-results", "as_built_footprints", published["version"] - 1)
        assert len(areas) == len(before) + 1
