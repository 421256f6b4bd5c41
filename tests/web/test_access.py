"""Users, roles and parallel review through the API: the authorisation matrix over every route
and role, who sees which submission, tokens and sessions, CSRF, the review workflow with its
deadlines, disputes, the audit trail and production-mode refusal."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import shapely
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from shapely.geometry import box
from sqlalchemy import text

from gis_platform.core.errors import PlatformError
from gis_platform.core.settings import DEV_SECRET, Settings
from gis_platform.web.app import ROUTERS, create_app
from gis_platform.web.policy import POLICY
from tests.factories import write_vector

pytestmark = pytest.mark.postgis

X0, Y0 = 35_500_000.0, 3_930_000.0  # a corner no other test uses
ROLES = ("admin", "bureau", "department", "owner", "firm")
POLICY_DENIED = "您的角色无权进行此操作"


@pytest.fixture(scope="module")
def app(engine, settings):
    return create_app(settings)


@pytest.fixture(scope="module")
def anon(app):
    return TestClient(app)


def as_(app, token: str) -> TestClient:
    return TestClient(app, headers={"Authorization": f"Bearer {token}"})


def _example(path: str) -> str:
    """A concrete URL for a path template (ids that exist for nobody)."""
    def fill(m: re.Match[str]) -> str:
        name = m.group(1).split(":")[0]
        return {"path": "dist/x.js", "package": "leaflet", "department": "fire", "code": "nope",
                "plan": "nope", "layer": "nope", "collection_id": "999999", "job_id": "nope"}.get(name, "999999")
    return re.sub(r"\{([^}]+)\}", fill, path)


def test_every_route_has_a_policy_entry_and_no_entry_is_stale(app):
    routes = {(m, r.path) for router in ROUTERS for r in router.routes if isinstance(r, APIRoute)
              for m in r.methods if m != "HEAD"}
    assert len(routes) > 80
    assert routes - set(POLICY) == set(), "routes without an authorisation rule"
    assert set(POLICY) - routes == set(), "rules for routes that do not exist"


def test_authorisation_matrix(app, anon, accounts):
    """Every route × every role: the policy's roles get past authorisation; the others get 403
    (404 where the rule hides existence); nobody signed out gets past a non-public route."""
    clients = {role: as_(app, accounts.tokens[role]) for role in ROLES}
    checked = 0
    for (method, path), rule in sorted(POLICY.items()):
        url = _example(path)
        r = anon.request(method, url, follow_redirects=False)
        if rule.public:  # (a wrong login is a 401 of its own, never "please sign in")
            assert r.status_code != 403 and "请先登录" not in r.text, (method, path, r.status_code)
        elif method == "GET" and not path.startswith(("/api", "/ogc", "/tiles")):
            assert r.status_code == 303 and r.headers["location"].startswith("/login"), (method, path)
        else:
            assert r.status_code == 401, (method, path, r.status_code)
        for role in ROLES:
            r = clients[role].request(method, url, follow_redirects=False)
            if rule.public or role in rule.roles:
                assert "请先登录" not in r.text and POLICY_DENIED not in r.text, (method, path, role, r.status_code)
                assert r.status_code != 401 or rule.public, (method, path, role)
            else:
                assert r.status_code == (404 if rule.hide else 403), (method, path, role, r.status_code)
            checked += 1
    assert checked == len(POLICY) * len(ROLES)


@pytest.fixture(scope="module")
def farmland(engine, settings, tmp_path_factory):
    """Permanent basic farmland in this test's corner (its rule routes to 自然资源局（耕地保护）)."""
    from plans.ingest import IngestRequest, ingest
    from plans.service import create_plan
    from gis_platform.core.db import session_scope

    tmp = tmp_path_factory.mktemp("farmland")
    code = f"acc-{X0:.0f}"
    with session_scope(engine) as s:
        create_plan(s, code=code, name="测试 永久基本农田", kind="control_line", authority="自然资源局（耕地保护）")
    path = write_vector(tmp / "yjjbnt.geojson", [box(X0, Y0, X0 + 400, Y0 + 400)], "EPSG:4523")
    with session_scope(engine) as s:
        ingest(s, settings, IngestRequest(path=path, plan=code, layer="yjjbnt", theme="permanent_basic_farmland"))
    return code


def _submit(client: TestClient, x: float, name: str) -> dict:
    site = box(X0 + x, Y0 + 100, X0 + x + 100, Y0 + 200)
    body = {"geometry": shapely.geometry.mapping(site), "crs": "EPSG:4523",
            "meta": {"project_code": name, "name": name, "proposed_use": "0701", "project_type": "ordinary"}}
    r = client.post("/api/checks/geojson", json=body)
    assert r.status_code == 200, r.text
    return r.json()


def test_owners_see_only_their_submissions(app, accounts, farmland, uid):
    _, tok_b = accounts.add(f"owner-b-{uid}", "owner", organisation="另一建设单位")
    owner_a, owner_b = as_(app, accounts.tokens["owner"]), as_(app, tok_b)
    res = _submit(owner_a, 50, f"A-{uid}")
    rid = res["run_id"]
    assert owner_a.get(f"/api/checks/{rid}").status_code == 200
    # another owner cannot learn that it exists: 404, the same as a run that does not exist
    for url in (f"/api/checks/{rid}", f"/checks/{rid}/report", f"/api/submissions/{res['submission_id']}/review"):
        r = owner_b.get(url)
        assert r.status_code == 404, url
        assert owner_b.get(url.replace(str(rid), "999999").replace(str(res["submission_id"]), "999999")).status_code == 404
    assert owner_b.post(f"/api/checks/{rid}/rerun").status_code == 404
    assert as_(app, accounts.tokens["bureau"]).get(f"/api/checks/{rid}").status_code == 200
    # the department the site was routed to sees it; one it was not routed to does not
    assert as_(app, accounts.tokens["department"]).get(f"/api/checks/{rid}").status_code == 200
    _, tok_w = accounts.add(f"water-{uid}", "department", department="水务局")
    assert as_(app, tok_w).get(f"/api/checks/{rid}").status_code == 404


def _calendar() -> dict:
    import yaml

    from conflict_checks.review import DEADLINES_FILE

    return yaml.safe_load(DEADLINES_FILE.read_text(encoding="utf-8"))


def _working_days_after(start: dt.date, n: int) -> dt.date:
    """Independently of the code: weekdays only, skipping the holidays of the data file."""
    data = _calendar()
    holidays = {dt.date.fromisoformat(str(d)) for d in data["holidays"]}
    extra = {dt.date.fromisoformat(str(d)) for d in data["working_weekends"]}
    d = start
    while n:
        d += dt.timedelta(days=1)
        if d in extra or (d.weekday() < 5 and d not in holidays):
            n -= 1
    return d


def test_parallel_review_opinions_decision_and_dispute(app, engine, accounts, farmland, uid):
    owner, bureau = as_(app, accounts.tokens["owner"]), as_(app, accounts.tokens["bureau"])
    dept = as_(app, accounts.tokens["department"])
    res = _submit(owner, 200, f"R-{uid}")
    sid, rid = res["submission_id"], res["run_id"]
    fired = {rule["department"] for f in res["layers"] if f["state"] == "applies" for rule in f["rules"]
             if rule.get("department") and rule["severity"] in ("forbidden", "needs_approval", "notice")}
    assert "自然资源局（耕地保护）" in fired
    prog = bureau.get(f"/api/submissions/{sid}/review").json()
    assert {t["department"] for t in prog["tasks"]} == fired
    task = next(t for t in prog["tasks"] if t["department"] == "自然资源局（耕地保护）")
    created = dt.date.fromisoformat(str(task["created_at"])[:10])
    due = dt.date.fromisoformat(str(task["due_on"]))
    assert due == _working_days_after(created, 5)
    assert task["due_estimated"] is (not {created.year, due.year} <= set(_calendar()["calendar_years"]))
    assert task["opinion"] is None and prog["answered"] == 0
    # the department's queue lists it; another department cannot write its opinion
    assert task["id"] in [t["id"] for t in dept.get("/api/reviews/tasks").json()]
    _, tok_e = accounts.add(f"eco-{uid}", "department", department="生态环境局")
    r = as_(app, tok_e).post(f"/api/reviews/tasks/{task['id']}/opinion", json={"opinion": "agree", "text": "同意"})
    assert r.status_code == 403
    r = dept.post(f"/api/reviews/tasks/{task['id']}/opinion",
                  json={"opinion": "disagree", "text": "占用永久基本农田，不同意"})
    assert r.status_code == 201, r.text
    r = dept.post(f"/api/reviews/tasks/{task['id']}/opinion",
                  json={"opinion": "agree_with_conditions", "text": "调整红线避让后同意"})
    assert r.status_code == 201
    prog = bureau.get(f"/api/submissions/{sid}/review").json()
    task = next(t for t in prog["tasks"] if t["department"] == "自然资源局（耕地保护）")
    assert (task["opinion"], task["text"]) == ("agree_with_conditions", "调整红线避让后同意")
    with engine.connect() as c:  # both opinions are kept, and the table refuses changes
        assert c.execute(text("SELECT count(*) FROM review_opinions WHERE task_id = :t"),
                         {"t": task["id"]}).scalar_one() == 2
        with pytest.raises(Exception, match="never changed"):
            c.execute(text("UPDATE review_opinions SET text = 'x' WHERE task_id = :t"), {"t": task["id"]})
    # overdue: a task past its deadline without an opinion
    from conflict_checks.review import review_progress
    from gis_platform.core.db import session_scope

    with session_scope(engine) as s:
        later = review_progress(s, sid, today=dt.date.fromisoformat(str(task["due_on"])) + dt.timedelta(days=1))
    assert later["overdue"] == sum(1 for t in later["tasks"] if t["opinion"] is None)
    # only the bureau decides
    assert dept.post(f"/api/submissions/{sid}/decision", json={"decision": "approved", "text": "x"}).status_code == 403
    r = bureau.post(f"/api/submissions/{sid}/decision",
                    json={"decision": "approved_with_conditions", "text": "按耕保意见调整后批准"})
    assert r.status_code == 201
    assert bureau.get(f"/api/submissions/{sid}/review").json()["decision"]["decision"] == "approved_with_conditions"
    # a reviewer marks the farmland finding as wrong: it stays; a correction item opens
    finding = next(f for f in res["layers"] if f["theme"] == "permanent_basic_farmland" and f["state"] == "applies")
    with engine.connect() as c:
        fno, before = c.execute(text("SELECT finding_no, area_m2 FROM check_findings WHERE run_id = :r "
                                     "AND theme = 'permanent_basic_farmland' AND state = 'applies'"), {"r": rid}).one()
    r = dept.post(f"/api/checks/{rid}/findings/{fno}/dispute", json={"reason": "农田图斑边界错位约 5 米"})
    assert r.status_code == 201, r.text
    with engine.connect() as c:
        assert c.execute(text("SELECT area_m2 FROM check_findings WHERE run_id = :r AND finding_no = :n"),
                         {"r": rid, "n": fno}).scalar_one() == before == pytest.approx(finding["area_m2"])
    items = dept.get("/api/corrections").json()
    item = next(i for i in items if i["id"] == r.json()["dispute_id"])
    assert item["status"] == "open" and item["reason"] == "农田图斑边界错位约 5 米"
    assert dept.post(f"/api/corrections/{item['id']}", json={"status": "corrected"}).status_code == 201
    assert dept.get(f"/api/checks/{rid}/disputes").json()[-1]["status"] == "corrected"
    # every step is in the audit trail, readable by the administrator only
    admin = as_(app, accounts.tokens["admin"])
    actions = {e["action"] for e in admin.get("/api/audit", params={"limit": 200}).json()}
    assert {"review.route", "review.opinion", "review.decision", "finding.dispute", "correction.update"} <= actions
    assert bureau.get("/api/audit").status_code == 403
    assert admin.get("/api/audit.csv").text.startswith("\ufeffid,at,actor,action")


def test_tokens_sessions_and_csrf(app, anon, accounts, uid):
    # a token from username and password; revoked, it stops working
    r = anon.post("/api/auth/token", json={"username": accounts.users["bureau"].username,
                                           "password": "test-password-123", "name": "GIS"})
    assert r.status_code == 201
    tok = r.json()
    me = as_(app, tok["token"])
    assert me.get("/api/me").json()["role"] == "bureau"
    assert tok["id"] in [t["id"] for t in me.get("/api/me/tokens").json()]
    assert "token_hash" not in str(me.get("/api/me/tokens").json())
    assert me.delete(f"/api/me/tokens/{tok['id']}").status_code == 200
    assert me.get("/api/me").status_code == 401
    assert anon.post("/api/auth/token", json={"username": accounts.users["bureau"].username,
                                              "password": "wrong-password"}).status_code == 401
    assert as_(app, "gpt_not-a-token").get("/api/me").status_code == 401
    # a browser signs in; a write without the CSRF token is refused, with it accepted
    browser = TestClient(app)
    r = browser.post("/login", data={"username": accounts.users["bureau"].username,
                                     "password": "test-password-123", "next": "/review"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/review"
    assert "httponly" in r.headers["set-cookie"].lower()
    assert browser.get("/review").status_code == 200
    csrf = browser.cookies.get("gisplat_csrf")
    body = {"a": "x/none", "b": "y/none"}
    assert browser.post("/api/conflicts", json=body).status_code == 403
    assert browser.post("/api/conflicts", json=body, headers={"X-CSRF-Token": csrf}).status_code == 404
    # an open redirect is not possible through next=
    r = browser.post("/login", data={"username": accounts.users["bureau"].username,
                                     "password": "test-password-123", "next": "//evil.example/"},
                     follow_redirects=False)
    assert r.headers["location"] == "/"
    # pages carry security headers
    page = browser.get("/map")
    assert page.headers["x-frame-options"] == "DENY" and "script-src 'self'" in page.headers["content-security-policy"]
    csrf = browser.cookies.get("gisplat_csrf")  # the second sign-in opened a new session
    out = browser.post("/logout", headers={"X-CSRF-Token": csrf}, follow_redirects=False)
    assert out.status_code == 303, out.text
    assert browser.get("/review", follow_redirects=False).status_code == 303


def test_write_rate_limit(engine, settings, accounts, uid):
    app = create_app(settings.model_copy(update={"write_rate_per_minute": 3}))
    _, tok = accounts.add(f"busy-{uid}", "bureau")
    c = as_(app, tok)
    codes = [c.post("/api/conflicts", json={"a": "x/none", "b": "y/none"}).status_code for _ in range(5)]
    assert codes == [404, 404, 404, 429, 429]


def test_production_refuses_the_development_secret(settings):
    bad = settings.model_copy(update={"environment": "production", "secret_key": DEV_SECRET, "cookie_secure": True})
    with pytest.raises(PlatformError, match="GISPLAT_SECRET_KEY"):
        create_app(bad)
    insecure = settings.model_copy(update={"environment": "production", "secret_key": "k" * 40})
    with pytest.raises(PlatformError, match="COOKIE_SECURE"):
        create_app(insecure)
    assert Settings().environment == "development"


def test_the_audit_log_cannot_be_changed(engine, app, accounts):
    """Each write leaves an entry; the database itself refuses to change or delete one."""
    admin = as_(app, accounts.tokens["admin"])
    r = admin.post("/api/plans", json={"code": "audit-probe-plan", "name": "审计测试", "kind": "sectoral"})
    assert r.status_code == 201, r.text
    entries = admin.get("/api/audit", params={"limit": 50}).json()
    mine = [e for e in entries if e["action"] == "plan.create" and "audit-probe-plan" in e["target"]]
    assert mine and mine[0]["actor"] == accounts.users["admin"].username
    with engine.connect() as c:
        for sql in ("UPDATE audit_log SET actor = 'someone else' WHERE id = :id",
                    "DELETE FROM audit_log WHERE id = :id"):
            with pytest.raises(Exception, match="never changed"):
                c.execute(text(sql), {"id": mine[0]["id"]})
            c.rollback()
        assert c.execute(text("SELECT actor FROM audit_log WHERE id = :id"),
                         {"id": mine[0]["id"]}).scalar_one() == accounts.users["admin"].username


def test_a_stale_token_does_not_bar_signing_in(app, anon, accounts):
    stale = as_(app, "gpt_long-revoked-token")
    assert stale.get("/api/me").status_code == 401
    r = stale.post("/api/auth/token", json={"username": accounts.users["owner"].username,
                                            "password": "test-password-123"})
    assert r.status_code == 201 and r.json()["user"]["role"] == "owner"
    assert stale.get("/healthz").status_code == 200
