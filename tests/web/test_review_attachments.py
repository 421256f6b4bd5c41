"""Opinion attachments through the API: a department's opinion with a file (multipart), stored
content-addressed under GISPLAT_HOME/attachments/<sha256>, downloaded by whoever may see the
submission (another owner gets 404), names reduced to their base name, types checked."""

from __future__ import annotations

import hashlib

import pytest
import shapely
from fastapi.testclient import TestClient
from shapely.geometry import box
from sqlalchemy import text

from tests.factories import write_vector

pytestmark = pytest.mark.postgis

X0, Y0 = 35_520_000.0, 3_935_000.0  # a corner no other test uses
DEPT = "自然资源局（耕地保护）"
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


@pytest.fixture(scope="module")
def app(engine, settings):
    from gis_platform.web.app import create_app

    return create_app(settings)


def as_(app, token: str) -> TestClient:
    return TestClient(app, headers={"Authorization": f"Bearer {token}"})


@pytest.fixture(scope="module")
def task(app, engine, settings, accounts, tmp_path_factory):
    """An owner's submission on permanent basic farmland, routed to 自然资源局（耕地保护）."""
    from gis_platform.core.db import session_scope
    from plans.ingest import IngestRequest, ingest
    from plans.service import create_plan

    tmp = tmp_path_factory.mktemp("attach")
    code = f"att-{X0:.0f}"
    with session_scope(engine) as s:
        create_plan(s, code=code, name="测试 永久基本农田（附件）", kind="control_line", authority=DEPT)
    path = write_vector(tmp / "yjjbnt.geojson", [box(X0, Y0, X0 + 400, Y0 + 400)], "EPSG:4523")
    with session_scope(engine) as s:
        ingest(s, settings, IngestRequest(path=path, plan=code, layer="yjjbnt", theme="permanent_basic_farmland"))
    site = box(X0 + 100, Y0 + 100, X0 + 200, Y0 + 200)
    body = {"geometry": shapely.geometry.mapping(site), "crs": "EPSG:4523",
            "meta": {"project_code": "ATT-1", "name": "附件测试项目", "proposed_use": "0701",
                     "project_type": "ordinary"}}
    r = as_(app, accounts.tokens["owner"]).post("/api/checks/geojson", json=body)
    assert r.status_code == 200, r.text
    sid = r.json()["submission_id"]
    prog = as_(app, accounts.tokens["bureau"]).get(f"/api/submissions/{sid}/review").json()
    t = next(t for t in prog["tasks"] if t["department"] == DEPT)
    return {"id": t["id"], "submission_id": sid, "run_id": r.json()["run_id"]}


def _opinion(client: TestClient, task_id: int, name: str, content: bytes, mime: str = "application/pdf"):
    return client.post(f"/api/reviews/tasks/{task_id}/opinion",
                       data={"opinion": "agree_with_conditions", "text": "避让永久基本农田后同意，见附件"},
                       files={"file": (name, content, mime)})


def test_opinion_with_attachment_upload_and_download(app, engine, settings, accounts, task, uid):
    dept = as_(app, accounts.tokens["department"])
    r = _opinion(dept, task["id"], "耕保意见.pdf", PDF)
    assert r.status_code == 201, r.text
    oid = r.json()["opinion_id"]
    sha = hashlib.sha256(PDF).hexdigest()
    with engine.connect() as c:
        name, stored = c.execute(text("SELECT attachment_name, attachment_sha256 FROM review_opinions WHERE id = :i"),
                                 {"i": oid}).one()
    assert (name, stored) == ("耕保意见.pdf", sha)
    kept = settings.home_abs / "attachments" / sha
    assert kept.read_bytes() == PDF
    # the progress lists the latest opinion with its attachment
    bureau = as_(app, accounts.tokens["bureau"])
    t = next(t for t in bureau.get(f"/api/submissions/{task['submission_id']}/review").json()["tasks"]
             if t["id"] == task["id"])
    assert (t["opinion_id"], t["attachment_name"], t["attachment_sha256"]) == (oid, "耕保意见.pdf", sha)
    # the bureau, the department and the submission's owner download the same bytes, as an attachment
    for role in ("bureau", "department", "owner", "admin"):
        got = as_(app, accounts.tokens[role]).get(f"/api/reviews/opinions/{oid}/attachment")
        assert got.status_code == 200, (role, got.text)
        assert got.content == PDF
        assert got.headers["content-type"] == "application/pdf"
        assert got.headers["content-disposition"].startswith("attachment;")
        assert "filename*=utf-8''" in got.headers["content-disposition"]
        assert got.headers["x-content-type-options"] == "nosniff"
    # another owner, a department it was not routed to and a firm learn nothing (404)
    _, other = accounts.add(f"owner-att-{uid}", "owner", organisation="别的建设单位")
    _, water = accounts.add(f"water-att-{uid}", "department", department="水务局")
    for tok in (other, water, accounts.tokens["firm"]):
        assert as_(app, tok).get(f"/api/reviews/opinions/{oid}/attachment").status_code == 404
    assert bureau.get("/api/reviews/opinions/999999999/attachment").status_code == 404
    # the same content again is kept once (never overwritten), under the same sha256
    before = kept.stat().st_mtime_ns
    r2 = _opinion(dept, task["id"], "again.pdf", PDF)
    assert r2.status_code == 201
    assert kept.stat().st_mtime_ns == before
    # an opinion without attachment: JSON still works, and there is nothing to download
    r3 = dept.post(f"/api/reviews/tasks/{task['id']}/opinion", json={"opinion": "agree", "text": "同意"})
    assert r3.status_code == 201
    assert bureau.get(f"/api/reviews/opinions/{r3.json()['opinion_id']}/attachment").status_code == 404
    # multipart without a file is an opinion too
    r4 = dept.post(f"/api/reviews/tasks/{task['id']}/opinion", data={"opinion": "agree", "text": "同意（表单）"})
    assert r4.status_code == 201, r4.text


def test_attachment_names_types_and_writers(app, engine, settings, accounts, task, uid):
    dept = as_(app, accounts.tokens["department"])
    # a path-traversal name is kept as its base name only; nothing is written outside the store
    png = b"\x89PNG\r\n\x1a\n" + uid.encode() + b"\x00" * 32
    r = _opinion(dept, task["id"], "../../../../etc/evil.png", png, "image/png")
    assert r.status_code == 201, r.text
    with engine.connect() as c:
        name = c.execute(text("SELECT attachment_name FROM review_opinions WHERE id = :i"),
                         {"i": r.json()["opinion_id"]}).scalar_one()
    assert name == "evil.png"
    r = _opinion(dept, task["id"], "..\\..\\windows\\plan.png", png, "image/png")
    with engine.connect() as c:
        assert c.execute(text("SELECT attachment_name FROM review_opinions WHERE id = :i"),
                         {"i": r.json()["opinion_id"]}).scalar_one() == "plan.png"
    got = as_(app, accounts.tokens["bureau"]).get(f"/api/reviews/opinions/{r.json()['opinion_id']}/attachment")
    assert got.content == png and got.headers["content-disposition"] == 'attachment; filename="plan.png"'
    assert not any(p.name == "evil.png" for p in settings.home_abs.rglob("evil.png"))
    from conflict_checks.review import attachment_name

    assert attachment_name('C:\\x\\..\\a\x00"b;\r\n.pdf') == "ab.pdf"
    # refused, with no opinion stored: a type that is not allowed, content that is not its
    # extension, a name that is only a path, a file beyond the upload limit
    with engine.connect() as c:
        count = c.execute(text("SELECT count(*) FROM review_opinions WHERE task_id = :t"), {"t": task["id"]}).scalar_one()
    assert _opinion(dept, task["id"], "page.html", b"<script>alert(1)</script>", "text/html").status_code == 422
    assert _opinion(dept, task["id"], "fake.pdf", b"<html>not a pdf</html>").status_code == 422
    assert _opinion(dept, task["id"], "../..", PDF).status_code == 422
    small = create_small_limit_app(settings)
    assert _opinion(as_(small, accounts.tokens["department"]), task["id"], "big.pdf",
                    PDF + b"0" * 4096).status_code == 413
    # only the task's department writes, with or without a file
    _, eco = accounts.add(f"eco-att-{uid}", "department", department="生态环境局")
    assert _opinion(as_(app, eco), task["id"], "x.pdf", PDF).status_code == 403
    assert _opinion(as_(app, accounts.tokens["bureau"]), task["id"], "x.pdf", PDF).status_code == 403
    with engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM review_opinions WHERE task_id = :t"),
                         {"t": task["id"]}).scalar_one() == count


def create_small_limit_app(settings):
    from gis_platform.web.app import create_app

    limits = settings.limits.model_copy(update={"max_upload_bytes": 1024})
    return create_app(settings.model_copy(update={"limits": limits}))
