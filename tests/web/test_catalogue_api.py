"""The catalogue API and the home page against the real store."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from gis_platform.web.app import create_app

pytestmark = pytest.mark.postgis


@pytest.fixture(scope="module")
def client(engine, settings, accounts):
    return TestClient(create_app(settings), headers=accounts.headers("admin"))


def test_plans_and_layers(client, store, data_dir, uid):
    plan = store.plan(f"web-{uid}")
    store.ingest(data_dir / "txt_example_gbk.txt", plan, "redline")
    assert plan in [p["code"] for p in client.get("/api/plans").json()]
    layer = client.get(f"/api/layers/{plan}/redline").json()
    assert layer["versions"][0]["total_area_m2"] == pytest.approx(9600.0, abs=0.01)
    missing = client.get(f"/api/plans/nope-{uid}")
    assert missing.status_code == 404 and "没有规划" in missing.json()["message_zh"]


def test_home_page_escapes_names(client, store, uid):
    from plans.service import create_plan

    with store.session() as s:
        create_plan(s, code=f"x-{uid}", name="<script>alert(1)</script>", kind="sectoral")
    html = client.get("/").text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>alert(1)" not in html
    assert client.get("/healthz").json() == {"status": "ok"}
