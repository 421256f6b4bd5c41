"""Tokens that are expired, revoked, malformed or of another role, and a valid token of another
owner on someone else's submission: 401 / 403 / 404 in the error shape, never the data."""

from __future__ import annotations

import pytest
import shapely
from fastapi.testclient import TestClient
from shapely.geometry import box
from sqlalchemy import text

from gis_platform.core.db import session_scope
from tests.security.conftest import assert_error_shape

pytestmark = pytest.mark.postgis

X0, Y0 = 35_410_000.0, 3_940_000.0


@pytest.fixture(scope="module")
def app(engine, settings):
    """The app without the few-second cache of signed-in callers, so a token expired through SQL
    (not through this process) is refused at once."""
    from gis_platform.web.app import create_app

    return create_app(settings.model_copy(update={"auth_cache_s": 0}))


def _as(app, token: str) -> TestClient:
    return TestClient(app, headers={"Authorization": f"Bearer {token}"}, raise_server_exceptions=False)


def test_expired_token(app, engine, accounts, uid):
    from gis_platform.core.accounts import issue_token

    user, _ = accounts.add(f"exp-{uid}", "bureau")
    with session_scope(engine) as s:
        tok, secret = issue_token(s, s.merge(user), name="short", days=1)
        tok_id = tok.id
    c = _as(app, secret)
    assert c.get("/api/me").status_code == 200
    with engine.begin() as conn:
        conn.execute(text("UPDATE api_tokens SET expires_at = now() - interval '1 minute' WHERE id = :i"), {"i": tok_id})
    for method, url in (("GET", "/api/me"), ("GET", "/api/plans"), ("POST", "/api/plans")):
        r = c.request(method, url, json={"code": f"exp-{uid}", "name": "x", "kind": "territorial"})
        assert r.status_code == 401 and "expired" in assert_error_shape(r)["message_en"]
    assert c.get("/map", follow_redirects=False).status_code == 303  # a page: to the sign-in form
    assert _as(app, accounts.tokens["admin"]).get(f"/api/plans/exp-{uid}").status_code == 404


def test_revoked_token(app, accounts, uid):
    _, secret = accounts.add(f"rev-{uid}", "owner", organisation="撤销单位")
    c = _as(app, secret)
    mine = c.get("/api/me/tokens").json()
    assert c.delete(f"/api/me/tokens/{mine[0]['id']}").status_code == 200
    r = c.get("/api/me")
    assert r.status_code == 401 and "revoked" in assert_error_shape(r)["message_en"]
    # another user's token cannot be revoked by id (404, and it still works)
    other = _as(app, accounts.tokens["firm"])
    firm_tok = other.get("/api/me/tokens").json()[0]["id"]
    assert _as(app, accounts.tokens["bureau"]).delete(f"/api/me/tokens/{firm_tok}").status_code == 404
    assert other.get("/api/me").status_code == 200


@pytest.mark.parametrize("header", [
    "Bearer", "Bearer ", "Bearer  ", "bearer gpt_nope", "Basic dXNlcjpwYXNz", "Bearer gpt_" + "A" * 10_000,
    "Bearer ' OR 1=1 --", "Bearer \u5bc6\u94a5", "Bearer a b c", "Token abc", "Bearer\tgpt_x", "Bearer %00",
])
def test_malformed_bearer_headers(app, header):
    c = TestClient(app, raise_server_exceptions=False)
    r = c.get("/api/me", headers={"Authorization": header.encode("utf-8")})
    assert r.status_code == 401, (header[:30], r.status_code, r.text[:200])
    assert_error_shape(r)
    r = c.post("/api/plans", json={"code": "x", "name": "x", "kind": "territorial"}, headers={"Authorization":
                                                                                              header.encode("utf-8")})
    assert r.status_code == 401


def test_a_role_not_allowed_gets_403(app, accounts):
    owner, firm, dept = (_as(app, accounts.tokens[r]) for r in ("owner", "firm", "department"))
    for c, method, url, body in (
        (owner, "POST", "/api/plans", {"code": "x", "name": "x", "kind": "territorial"}),
        (owner, "POST", "/api/conflicts", {"a": "x/y", "b": "y/z"}),
        (owner, "GET", "/api/users", None),
        (owner, "GET", "/api/layers/x/y/export", None),
        (firm, "POST", "/api/submissions/1/decision", {"decision": "approved", "text": "x"}),
        (dept, "POST", "/api/layers/x/y", None),
        (dept, "GET", "/api/audit", None),
    ):
        r = c.request(method, url, json=body)
        assert r.status_code == 403, (method, url, r.status_code)
        assert "may not" in assert_error_shape(r)["message_en"]
    # pages too (the review queue is staff only)
    assert owner.get("/review").status_code == 403


def test_another_owner_sees_nothing_of_a_submission(app, accounts, uid):
    a = _as(app, accounts.tokens["owner"])
    _, tok_b = accounts.add(f"sec-owner-b-{uid}", "owner", organisation="乙建设单位")
    b = _as(app, tok_b)
    secret_name = f"机密项目-{uid}"
    site = box(X0, Y0, X0 + 80, Y0 + 80)
    r = a.post("/api/checks/geojson", json={"geometry": shapely.geometry.mapping(site), "crs": "EPSG:4523",
                                            "meta": {"name": secret_name, "project_code": f"SEC-{uid}"}})
    assert r.status_code == 200, r.text
    rid, sid = r.json()["run_id"], r.json()["submission_id"]
    for method, url in (("GET", f"/api/checks/{rid}"), ("GET", f"/checks/{rid}"), ("GET", f"/checks/{rid}/report"),
                        ("GET", f"/checks/{rid}/report.pdf"), ("POST", f"/api/checks/{rid}/rerun"),
                        ("POST", f"/checks/{rid}/rerun"), ("GET", f"/api/submissions/{sid}/review")):
        r = b.request(method, url, follow_redirects=False)
        assert r.status_code == 404, (method, url, r.status_code)
        assert secret_name not in r.text and f"SEC-{uid}" not in r.text
    # nor through lists and searches
    assert secret_name not in b.get("/api/surveys").text
    assert b.get("/review").status_code == 403
    # the owner who made it still sees it
    assert a.get(f"/api/checks/{rid}").json()["meta"]["name"] == secret_name
