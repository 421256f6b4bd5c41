"""Script in everything a page shows: a plan name, layer name and title, class codes, attribute
names and values, project metadata, review opinions and decisions, dispute reasons, correction
comments, survey fields and conflict resolution comments carry ``<script>`` and an ``onerror``
image. Every page that shows them has them escaped only; the JSON APIs return them as plain
strings. (SQL fragments ride along in the same fields: they read back byte-for-byte.)

Data sit around X=35 420 000, Y=3 950 000 (EPSG:4523), a corner no other test uses."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest
import shapely
from fastapi.testclient import TestClient
from shapely.geometry import box

from gis_platform.web.policy import POLICY
from tests.conflict_checks.test_conflicts import pair  # noqa: F401 (fixture)
from tests.factories import to_lonlat
from tests.security.conftest import IMG, SCRIPT, SQL
from tests.surveys.builders import E0, N0, boundary_package

pytestmark = pytest.mark.postgis

X0, Y0 = 35_420_000.0, 3_950_000.0
DEPT = "自然资源局（耕地保护）"  # where the farmland rule routes a site
MIXED = f"{SCRIPT}{IMG}{SQL[0]}"


def assert_escaped(html: str, where: str, must_show: bool = True) -> None:
    """No payload in raw form; (when ``must_show``) it is there escaped, as HTML or as JSON."""
    for raw in (SCRIPT, IMG, "<img src=x", "<script>alert"):
        assert raw not in html, (where, raw, html[max(0, html.find(raw) - 200):html.find(raw) + 200])
    if must_show:
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html or "\\u003cscript\\u003e" in html, where


def _geojson(path, features):
    path.write_text(json.dumps({"type": "FeatureCollection", "crs": {"type": "name", "properties": {
        "name": "urn:ogc:def:crs:EPSG::4523"}}, "features": features}, ensure_ascii=False), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def world(engine, settings, accounts, tmp_path_factory):
    """A farmland control line whose names, title, class codes and attributes are hostile; a
    site on it submitted by the owner with hostile metadata, routed to the farmland department,
    which answers with a hostile opinion; decision, dispute and correction with hostile text."""
    import uuid

    from gis_platform.core.db import session_scope
    from gis_platform.web.app import create_app
    from plans.ingest import IngestRequest, ingest
    from plans.service import create_plan

    tag = uuid.uuid4().hex[:6]
    tmp = tmp_path_factory.mktemp("xss")
    plan = f"xss-{tag}"
    with session_scope(engine) as s:
        create_plan(s, code=plan, name=f"规划{MIXED}", kind="control_line", authority=DEPT, description=MIXED)
    src = _geojson(tmp / "farm.geojson", [{"type": "Feature", "properties": {
        "DLBM": f"{SCRIPT}{IMG}", IMG: SCRIPT, "MC": MIXED}, "geometry": shapely.geometry.mapping(
            box(X0, Y0, X0 + 400, Y0 + 400))}])
    layer = f"farm{IMG}"
    with session_scope(engine) as s:
        ingest(s, settings, IngestRequest(path=src, plan=plan, layer=layer, theme="permanent_basic_farmland",
                                          class_field="DLBM", title=f"农田{MIXED}", display_name=f"{IMG}.geojson"))
    app = create_app(settings)
    admin = TestClient(app, headers=accounts.headers("admin"))
    owner = TestClient(app, headers=accounts.headers("owner"))
    dept = TestClient(app, headers=accounts.headers("department"))
    site = box(X0 + 100, Y0 + 100, X0 + 200, Y0 + 200)
    meta = {"project_code": f"P{SCRIPT}", "name": f"项目{MIXED}", "applicant": IMG, "proposed_use": "0701"}
    r = owner.post("/api/checks/geojson", json={"geometry": shapely.geometry.mapping(site), "crs": "EPSG:4523",
                                                "meta": meta})
    assert r.status_code == 200, r.text
    res = r.json()
    sid, rid = res["submission_id"], res["run_id"]
    task = next(t for t in admin.get(f"/api/submissions/{sid}/review").json()["tasks"] if t["department"] == DEPT)
    r = dept.post(f"/api/reviews/tasks/{task['id']}/opinion", json={"opinion": "disagree", "text": MIXED})
    assert r.status_code == 201, r.text
    assert admin.post(f"/api/submissions/{sid}/decision",
                      json={"decision": "rejected", "text": MIXED}).status_code == 201
    finding = next(f for f in admin.get(f"/api/checks/{rid}").json()["layers"] if f["state"] == "applies"
                   and f["theme"] == "permanent_basic_farmland")
    from sqlalchemy import text

    with engine.connect() as c:
        fno = c.execute(text("SELECT finding_no FROM check_findings WHERE run_id = :r AND theme = :t "
                             "AND state = 'applies'"), {"r": rid, "t": finding["theme"]}).scalar_one()
    r = dept.post(f"/api/checks/{rid}/findings/{fno}/dispute", json={"reason": MIXED})
    assert r.status_code == 201, r.text
    dispute_id = r.json()["dispute_id"]
    assert dept.post(f"/api/corrections/{dispute_id}", json={"status": "in_progress",
                                                             "comment": MIXED}).status_code == 201
    # a survey package with hostile fields
    x = E0 + 7000
    pkg = boundary_package(tmp, [box(x, N0 + 7000, x + 80, N0 + 7060)], name="pkg.zip")
    r = admin.post("/api/surveys", files={"file": (f"{IMG}.zip", pkg.read_bytes(), "application/zip")},
                   data={"project_code": f"S{IMG}{tag}", "stage": "立项用地规划许可", "item": "勘测定界",
                         "firm": f"测绘{SCRIPT}", "surveyor": MIXED, "client": MIXED, "project_name": MIXED})
    assert r.status_code == 200, r.text
    return {"plan": plan, "layer": layer, "ref": f"{plan}/{layer}", "run_id": rid, "submission_id": sid,
            "dispute_id": dispute_id, "package_id": r.json()["id"], "site": site, "admin": admin, "dept": dept}


def test_json_apis_return_the_text_as_it_was_given(world):
    admin = world["admin"]
    layer = admin.get(f"/api/layers/{world['plan']}/{quote(world['layer'], safe='')}").json()
    assert layer["title"] == f"农田{MIXED}" and layer["name"] == world["layer"]
    assert layer["versions"][0]["source_name"] == f"{IMG}.geojson"
    assert admin.get(f"/api/plans/{world['plan']}").json()["description"] == MIXED
    run = admin.get(f"/api/checks/{world['run_id']}").json()
    assert run["meta"]["name"] == f"项目{MIXED}" and run["meta"]["applicant"] == IMG
    lon, lat = to_lonlat(shapely.Point(X0 + 150, Y0 + 150)).coords[0]
    hit = next(f for f in admin.get("/api/applies", params={"x": lon, "y": lat}).json()["features"]
               if f["ref"] == world["ref"])
    assert hit["title"] == f"农田{MIXED}" and hit["plan_name"] == f"规划{MIXED}"
    assert (hit["class_code"] or hit["class_raw"]) == f"{SCRIPT}{IMG}"
    prog = admin.get(f"/api/submissions/{world['submission_id']}/review").json()
    task = next(t for t in prog["tasks"] if t["department"] == DEPT)
    assert task["text"] == MIXED and prog["decision"]["text"] == MIXED
    item = next(i for i in world["dept"].get("/api/corrections").json() if i["id"] == world["dispute_id"])
    assert item["reason"] == MIXED
    pkg = admin.get(f"/api/surveys/{world['package_id']}").json()
    assert pkg["surveyor"] == MIXED and pkg["firm"] == f"测绘{SCRIPT}"
    # the OGC items carry the attributes as they are
    coll = next(c for c in admin.get("/ogc/collections").json()["collections"] if c["title"] == f"农田{MIXED}")
    feats = admin.get(f"/ogc/collections/{coll['id']}/items").json()["features"]
    assert feats[0]["properties"][IMG] == SCRIPT and feats[0]["properties"]["MC"] == MIXED


def test_every_page_shows_it_escaped(world):
    admin, rid = world["admin"], world["run_id"]
    pages = {
        "/": True, "/?lang=en": True, "/map": True, f"/checks/{rid}": True, f"/checks/{rid}?lang=en": True,
        f"/checks/{rid}/report": True, f"/checks/{rid}/report?lang=en": True, "/review": True,
        f"/review?q={quote(SCRIPT)}": True, "/surveys": True, f"/surveys/{world['package_id']}": True,
        "/surveys/shared?department=fire": False, "/conflicts": True, "/checks/new": False, "/surveys/new": False,
        f"/login?next={quote('/' + IMG)}": False,
    }
    if ("GET", "/reviews") in POLICY:  # the parallel-review page, where present
        pages[f"/reviews?department={quote(DEPT)}"] = True
    for url, shows in pages.items():
        r = admin.get(url)
        assert r.status_code == 200, (url, r.status_code, r.text[:300])
        assert r.headers["content-type"].startswith("text/html"), url
        assert_escaped(r.text, url, must_show=shows)
        assert "script-src 'self'" in r.headers.get("content-security-policy", ""), url


def test_forms_echo_hostile_input_escaped(world, accounts):
    admin = world["admin"]
    r = admin.post("/checks/new", data={"name": MIXED, "project_code": SCRIPT, "crs": IMG},
                   files={"file": (f"{IMG}.geojson", b"not json")})
    assert r.status_code == 422
    assert_escaped(r.text, "/checks/new refused")
    r = admin.post("/surveys/new", data={"project_code": MIXED, "stage": SCRIPT, "item": IMG, "firm": MIXED},
                   files={"file": (f"{SCRIPT}.zip", b"PK not a zip")})
    assert 400 <= r.status_code < 500
    assert_escaped(r.text, "/surveys/new refused")
    anon = TestClient(admin.app)
    r = anon.post("/login", data={"username": SCRIPT + IMG, "password": "x", "next": IMG})
    assert r.status_code == 401
    assert_escaped(r.text, "/login refused")
    # an API error quoting the bad value is JSON, never HTML (and never sniffed as HTML)
    r = admin.get(f"/api/plans/{quote(SCRIPT.replace('/', ''), safe='')}", headers={"Accept": "text/html"})
    assert r.status_code == 404 and r.headers["content-type"].startswith("application/json")
    assert r.headers["x-content-type-options"] == "nosniff"


def test_conflict_page_and_resolution_text(pair, client):  # noqa: F811
    r = client.post("/api/conflicts", json={"a": pair.a, "b": pair.b, "profile": "landuse_vs_urban"})
    assert r.status_code == 200, r.text
    rid = r.json()["id"]
    patch = client.get(f"/api/conflicts/{rid}/patches", params={"limit": 1}).json()[0]
    up = client.post(f"/api/conflicts/{rid}/resolutions", json={"patch_nos": [patch["patch_no"]], "status": "deferred",
                                                               "department": MIXED[:200], "comment": MIXED})
    assert up.status_code == 200, up.text
    hist = client.get(f"/api/conflicts/{rid}/patches/{patch['patch_no']}/history").json()
    assert hist[-1]["comment"] == MIXED and hist[-1]["department"] == MIXED[:200]
    assert client.get(f"/api/conflicts/{rid}/patches/{patch['patch_no']}").json()["comment"] == MIXED
    for url in (f"/conflicts/{rid}", f"/conflicts/{rid}?lang=en", "/conflicts"):
        page = client.get(url)
        assert page.status_code == 200
        assert_escaped(page.text, url, must_show=False)
    prog = client.get(f"/api/conflicts/{rid}/progress").json()
    assert MIXED[:200] in {p["department"] for p in prog}


def test_in_the_browser_it_is_text_and_nothing_runs(page, world):
    """Headless Chromium: the one map's "what applies here" panel and the result page (its table
    and its map tooltips) show the payload as text; no dialog ever opens, no element is injected."""
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    lon, lat = to_lonlat(shapely.Point(X0 + 150, Y0 + 150)).coords[0]
    page.goto(f"{page.base}/map?lon={lon:.6f}&lat={lat:.6f}&z=17", wait_until="networkidle")
    pt = page.evaluate("([lat, lon]) => { const p = window.onemap.map.latLngToContainerPoint([lat, lon]);"
                       " return [p.x, p.y]; }", [lat, lon])
    page.locator("#map").click(position={"x": pt[0], "y": pt[1]})
    item = page.locator("#applies .applies-item", has_text="农田")
    item.first.wait_for(timeout=10_000)
    shown = item.first.inner_text()
    assert SCRIPT in shown and IMG in shown and f"规划{SCRIPT}" in shown
    assert page.locator("#applies img, #applies script").count() == 0
    assert item.first.get_attribute("data-ref") == world["ref"]

    page.goto(f"{page.base}/checks/{world['run_id']}", wait_until="networkidle")
    findings = page.locator("#findings").inner_text()
    assert f"农田{SCRIPT}" in findings and IMG in findings
    page.evaluate("() => { const l = window.sitemapLayers;"
                  " [l.pieces, l.context, l.site].forEach(g => g.eachLayer(x => x.openTooltip())); }")
    tips = page.locator(".leaflet-tooltip")
    assert any(f"农田{SCRIPT}" in tips.nth(i).inner_text() for i in range(tips.count()))
    assert page.locator(".leaflet-tooltip img, .leaflet-tooltip script").count() == 0
    assert page.locator("img[src='x']").count() == 0
    assert page.locator("#project").inner_text().count(IMG) >= 1
    page.wait_for_timeout(300)
    assert dialogs == []
