"""Hostile files on every upload route: zips with ``../``, absolute and symlink members, a zip
bomb, an upload over the size limit, a million-vertex polygon, a file with no extension and a
GeoJSON that is not JSON. Each is refused with a 4xx whose message names the file, and nothing is
stored (catalogue, submissions, check runs, survey and review tables unchanged)."""

from __future__ import annotations

import io
import json
import stat
import zipfile

import numpy as np
import pytest
from fastapi.testclient import TestClient
from shapely.geometry import box

from gis_platform.web.app import create_app
from gis_platform.web.policy import POLICY
from tests.security.conftest import assert_error_shape, table_counts
from tests.surveys.builders import txt

pytestmark = pytest.mark.postgis

X0, Y0 = 35_415_000.0, 3_945_000.0
SURVEY_FORM = {"project_code": "UP-1", "stage": "立项用地规划许可", "item": "勘测定界", "firm": "测试测绘院"}


def _site_geojson() -> bytes:
    return json.dumps({"type": "FeatureCollection", "crs": {"type": "name", "properties": {
        "name": "urn:ogc:def:crs:EPSG::4523"}}, "features": [{"type": "Feature", "properties": {}, "geometry": {
            "type": "Polygon", "coordinates": [list(box(X0, Y0, X0 + 50, Y0 + 50).exterior.coords)]}}]}).encode()


def _zip(members: dict[str, bytes], *, symlink: str | None = None, level: int = 6) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=level) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
        if symlink:
            info = zipfile.ZipInfo(symlink)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, "/etc/passwd")
    return buf.getvalue()


def _bomb() -> bytes:
    """40 MB of zeros in ~40 KB: a ratio of ~1000:1, far beyond the limit of 200:1."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        zf.writestr("site.geojson", b"\x00" * 40_000_000)
    return buf.getvalue()


def _million_vertices() -> bytes:
    t = np.linspace(0, 2 * np.pi, 1_000_000, endpoint=False)
    ring = np.column_stack([X0 + 500 + 100 * np.cos(t), Y0 + 500 + 100 * np.sin(t)]).round(3).tolist()
    ring.append(ring[0])
    return json.dumps({"type": "FeatureCollection", "crs": {"type": "name", "properties": {
        "name": "urn:ogc:def:crs:EPSG::4523"}}, "features": [{"type": "Feature", "properties": {},
                                                             "geometry": {"type": "Polygon", "coordinates": [ring]}}]
                      }).encode()


def hostile_files() -> dict[str, tuple[str, bytes]]:
    site = _site_geojson()
    return {
        "dotdot": ("dotdot.zip", _zip({"../../evil.geojson": site, "site.geojson": site})),
        "absolute": ("absolute.zip", _zip({"/tmp/evil.geojson": site, "site.geojson": site})),
        "symlink": ("symlink.zip", _zip({"site.geojson": site}, symlink="link.geojson")),
        "bomb": ("bomb.zip", _bomb()),
        "no_extension": ("boundary", site),
        "not_json": ("notjson.geojson", b"{this is not json at all"),
        "million_vertices": ("circle.geojson", _million_vertices()),
    }


FILES = hostile_files()
# (opinion attachments take documents, not GIS files: test_opinion_attachment_attacks)
ROUTES = ["/api/checks", "/api/checks/batch", "/checks/new", "/api/layers/{plan}/{layer}", "/api/surveys",
          "/surveys/new"]


@pytest.fixture(scope="module")
def small_limits_client(engine, settings, accounts):
    """The app with a 64 KiB upload limit (and 20 000 vertices per feature)."""
    limits = settings.limits.model_copy(update={"max_upload_bytes": 64 * 1024, "max_vertices_per_feature": 20_000})
    app = create_app(settings.model_copy(update={"limits": limits}))
    return TestClient(app, headers=accounts.headers("admin"), raise_server_exceptions=False)


def _post(client, route: str, name: str, data: bytes, store, task_id: int | None = None):
    files = {"file": (name, data, "application/octet-stream")}
    if route == "/api/layers/{plan}/{layer}":
        return client.post(f"/api/layers/{store}/upl", files=files)
    if route in ("/api/surveys", "/surveys/new"):
        return client.post(route, files=files, data=SURVEY_FORM, follow_redirects=False)
    if route == "/api/reviews/tasks/{task_id}/opinion":
        return client.post(f"/api/reviews/tasks/{task_id}/opinion", files=files,
                           data={"opinion": "agree", "text": "附件"})
    return client.post(route, files=files, follow_redirects=False)


def _refused_naming(r, name: str, route: str, what: str) -> None:
    assert 400 <= r.status_code < 500, (route, what, r.status_code, r.text[:400])
    assert "Traceback" not in r.text and "gisplat-upload-" not in r.text and "gisplat-package-" not in r.text
    if route in ("/checks/new", "/surveys/new"):  # the form again, with the message
        assert r.headers["content-type"].startswith("text/html")
        assert name in r.text, (route, what, r.text[-800:])
    else:
        body = assert_error_shape(r)
        assert name in json.dumps(body, ensure_ascii=False), (route, what, body)


@pytest.fixture(scope="module")
def plan_code(engine):
    import uuid

    from gis_platform.core.db import session_scope
    from plans.service import create_plan

    code = f"upl-{uuid.uuid4().hex[:6]}"
    with session_scope(engine) as s:
        create_plan(s, code=code, name="上传测试", kind="territorial")
    return code


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("what", list(FILES))
def test_hostile_upload_is_refused_and_nothing_stored(client, engine, plan_code, route, what):
    name, data = FILES[what]
    if route in ("/api/surveys", "/surveys/new") and what in ("not_json", "million_vertices"):
        # a survey package is a zip: the same file zipped, with the other deliverables
        name, data = f"{what}.zip", _zip({"界址点坐标.txt": txt([box(X0, Y0, X0 + 50, Y0 + 50)]),
                                          "勘测定界图.geojson": data})
    before = table_counts(engine)
    r = _post(client, route, name, data, plan_code)
    if route in ("/api/surveys", "/surveys/new") and what in ("not_json", "million_vertices") \
            and r.status_code in (200, 303):
        # a package that opens safely is stored as a *failed* version with its report: that is
        # the documented 多测合一 behaviour; the bad drawing must be named in the report
        pid = r.json()["id"] if r.status_code == 200 else int(r.headers["location"].split("/")[2].split("?")[0])
        pkg = client.get(f"/api/surveys/{pid}").json()
        assert pkg["status"] == "failed" and "勘测定界图.geojson" in json.dumps(pkg["report"], ensure_ascii=False)
        return
    _refused_naming(r, name, route, what)
    assert table_counts(engine) == before, (route, what)


@pytest.mark.parametrize("route", ROUTES)
def test_upload_over_the_size_limit(small_limits_client, engine, plan_code, route):
    before = table_counts(engine)
    name = "big.zip" if "surveys" in route else "big.geojson"
    r = _post(small_limits_client, route, name, b" " * (65 * 1024) + _site_geojson(), plan_code)
    _refused_naming(r, name, route, "oversized")
    if not route.endswith("/new"):
        assert r.status_code == 413
    assert table_counts(engine) == before


def test_opinion_attachment_attacks(client, engine, accounts, small_limits_client, plan_code, tmp_path):
    """Opinion attachments (where the route takes them): a bad name, a wrong type, too large."""
    if ("POST", "/checks/{run_id}/opinion") not in POLICY:
        pytest.skip("no opinion attachments in this version")
    import shapely

    from gis_platform.core.db import session_scope
    from plans.ingest import IngestRequest, ingest
    from plans.service import create_plan

    dept = TestClient(client.app, headers=accounts.headers("department"), raise_server_exceptions=False)
    owner = TestClient(client.app, headers=accounts.headers("owner"))
    code = f"uplfarm-{plan_code}"
    settings = client.app.state.settings
    with session_scope(engine) as s:
        create_plan(s, code=code, name="农田", kind="control_line", authority="自然资源局（耕地保护）")
    src = tmp_path / "farm.geojson"
    src.write_bytes(_site_geojson())
    with session_scope(engine) as s:
        ingest(s, settings, IngestRequest(path=src, plan=code, layer="yjjbnt", theme="permanent_basic_farmland"))
    r = owner.post("/api/checks/geojson", json={"geometry": shapely.geometry.mapping(box(X0 + 10, Y0 + 10, X0 + 20,
                                                                                         Y0 + 20)),
                                                "crs": "EPSG:4523"})
    assert r.status_code == 200, r.text
    sid = r.json()["submission_id"]
    task = next(t["id"] for t in dept.get("/api/reviews/tasks").json() if t["submission_id"] == sid)
    before = table_counts(engine)
    for name, data in (("../../evil.pdf", b"%PDF-1.4 x"), ("evil.exe", b"MZ\x90\x00"), ("noext", b"%PDF-1.4"),
                       ("x.pdf", b"<script>alert(1)</script>")):
        r = dept.post(f"/api/reviews/tasks/{task}/opinion", files={"file": (name, data)},
                      data={"opinion": "agree", "text": "附件"})
        assert r.status_code < 500, (name, r.text[:300])
        if r.status_code >= 400:
            assert_error_shape(r)
    small = TestClient(small_limits_client.app, headers=accounts.headers("department"), raise_server_exceptions=False)
    r = small.post(f"/api/reviews/tasks/{task}/opinion", files={"file": ("big.pdf", b"%PDF" + b" " * 70_000)},
                   data={"opinion": "agree", "text": "附件"})
    assert r.status_code == 413 and "big.pdf" in r.text
    after = table_counts(engine)
    assert after["review_opinions"] - before["review_opinions"] <= 2  # only the acceptable PDFs, if any
