"""Parallel review (联审联批) in a real headless Chromium: an owner's submission on permanent basic
farmland is routed to 自然资源局（耕地保护）; its reviewer gives an opinion with a PDF through the
result page's form and sees it listed; the bureau records the decision; the /reviews page lists
the task with its deadline. No console error, and no request leaves the test server.

Data sit around X=35 510 000, Y=3 940 000 (EPSG:4523), a corner no other test uses.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import httpx
import pytest
import shapely
from shapely.geometry import box
from sqlalchemy import text

from tests.factories import write_vector

pytestmark = pytest.mark.postgis

X0, Y0 = 35_510_000.0, 3_940_000.0
DEPT = "自然资源局（耕地保护）"
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


@pytest.fixture(scope="module")
def submission(engine, settings, accounts, live_server, tmp_path_factory):
    """A farmland layer in this corner and an owner's GeoJSON check on it (routed to 耕地保护)."""
    from gis_platform.core.db import session_scope
    from plans.ingest import IngestRequest, ingest
    from plans.service import create_plan

    tmp = tmp_path_factory.mktemp("review-pages")
    code = f"rv-{X0:.0f}"
    with session_scope(engine) as s:
        create_plan(s, code=code, name="测试 永久基本农田（页面）", kind="control_line", authority=DEPT)
    path = write_vector(tmp / "yjjbnt.geojson", [box(X0, Y0, X0 + 400, Y0 + 400)], "EPSG:4523")
    with session_scope(engine) as s:
        ingest(s, settings, IngestRequest(path=path, plan=code, layer="yjjbnt", theme="permanent_basic_farmland"))
    site = box(X0 + 100, Y0 + 100, X0 + 200, Y0 + 200)
    body = {"geometry": shapely.geometry.mapping(site), "crs": "EPSG:4523",
            "meta": {"project_code": "RV-PAGE-1", "name": "联审页面测试项目", "proposed_use": "0701",
                     "project_type": "ordinary"}}
    r = httpx.post(f"{live_server}/api/checks/geojson", json=body, headers=accounts.headers("owner"), timeout=60)
    assert r.status_code == 200, r.text
    res = r.json()
    prog = httpx.get(f"{live_server}/api/submissions/{res['submission_id']}/review",
                     headers=accounts.headers("bureau")).json()
    task = next(t for t in prog["tasks"] if t["department"] == DEPT)
    return {"run_id": res["run_id"], "submission_id": res["submission_id"], "task": task}


def _signed_in(browser, live_server, accounts, settings, role: str):
    context = browser.new_context(viewport={"width": 1400, "height": 900}, locale="zh-CN", accept_downloads=True)
    context.add_cookies(accounts.browser_cookies(settings, live_server, role))
    pg = context.new_page()
    pg.rec = page_recorder(pg, live_server)  # type: ignore[attr-defined]
    return context, pg


def page_recorder(pg, base: str):
    from tests.browser_fixtures import Recorder

    rec = Recorder(base)
    pg.on("request", lambda r: rec.requests.append(r.url))
    pg.on("response", lambda r: rec.responses.append((r.url, r.status)))
    pg.on("console", lambda m: rec.errors.append(f"console: {m.text}") if m.type == "error" else None)
    pg.on("pageerror", lambda e: rec.errors.append(f"pageerror: {e}"))
    return rec


def test_department_opinion_with_pdf_bureau_decision_and_queue(browser, live_server, accounts, settings, engine,
                                                               submission, tmp_path, monkeypatch):
    run_id, task = submission["run_id"], submission["task"]
    pdf = tmp_path / "耕保审查意见.pdf"
    pdf.write_bytes(PDF)

    # --- the department reviewer: its queue, then the opinion with a PDF on the result page
    ctx, pg = _signed_in(browser, live_server, accounts, settings, "department")
    try:
        pg.goto(f"{live_server}/reviews", wait_until="networkidle")
        assert pg.locator("nav#topnav a[data-nav=reviews]").get_attribute("aria-current") == "page"
        row = pg.locator(f"#review-queue tr.queue-task[data-task='{task['id']}']")
        assert row.count() == 1
        assert str(task["due_on"])[:10] in row.locator("td.deadline").inner_text()
        assert "联审页面测试项目" in row.inner_text()
        row.locator("a.open").click()
        pg.wait_for_url(f"{live_server}/checks/{run_id}#review")
        section = pg.locator("#review")
        assert section.locator("h2").inner_text().startswith("联审联批")
        trow = pg.locator(f"#review-tasks tr.review-task[data-task='{task['id']}']")
        assert DEPT in trow.inner_text() and "尚未填写" in trow.inner_text()
        assert pg.locator("#decision-form").count() == 0  # only the bureau decides
        pg.select_option("#opinion-select", "agree_with_conditions")
        pg.fill("#opinion-text", "调整红线避让永久基本农田后同意，详见附件")
        pg.set_input_files("#opinion-file", str(pdf))
        pg.click("#opinion-form button[type=submit]")
        pg.wait_for_url(f"{live_server}/checks/{run_id}#review")
        trow = pg.locator(f"#review-tasks tr.review-task[data-task='{task['id']}']")
        assert trow.get_attribute("data-opinion") == "agree_with_conditions"
        text_ = trow.inner_text()
        assert "有条件同意" in text_ and "调整红线避让永久基本农田后同意" in text_
        assert accounts.users["department"].username in text_
        link = trow.locator("a.attachment")
        assert link.inner_text() == "耕保审查意见.pdf"
        with pg.expect_download() as dl:
            link.click()
        got = dl.value
        assert got.suggested_filename == "耕保审查意见.pdf"
        assert Path(got.path()).read_bytes() == PDF
        # the finding can be marked as wrong from its row
        assert pg.locator("#findings details.dispute").count() >= 1
        assert ctx_errors(pg) == []
        assert pg.rec.foreign() == []
    finally:
        ctx.close()
    with engine.connect() as c:
        sha = c.execute(text("SELECT attachment_sha256 FROM review_opinions WHERE task_id = :t ORDER BY id DESC "
                             "LIMIT 1"), {"t": task["id"]}).scalar_one()
    assert sha == hashlib.sha256(PDF).hexdigest()
    assert (settings.home_abs / "attachments" / sha).read_bytes() == PDF

    # --- the bureau: sees the opinion, records the decision, sees every department's open tasks
    ctx, pg = _signed_in(browser, live_server, accounts, settings, "bureau")
    try:
        pg.goto(f"{live_server}/checks/{run_id}", wait_until="networkidle")
        assert "有条件同意" in pg.locator(f"#review-tasks tr[data-task='{task['id']}']").inner_text()
        assert pg.locator("#opinion-form").count() == 0
        assert pg.locator("#no-decision").is_visible()
        pg.select_option("#decision-select", "approved_with_conditions")
        pg.fill("#decision-text", "按耕地保护意见调整红线后批准")
        pg.click("#decision-form button[type=submit]")
        pg.wait_for_url(f"{live_server}/checks/{run_id}#review")
        dec = pg.locator("#decisions tr.decision").last
        assert dec.get_attribute("data-decision") == "approved_with_conditions"
        assert "有条件批准" in dec.inner_text() and accounts.users["bureau"].username in dec.inner_text()
        # mark the farmland finding as wrong; it is listed with its open correction item
        box_ = pg.locator("#findings tr.finding[data-severity] details.dispute").first
        box_.locator("summary").click()
        box_.locator("textarea[name=reason]").fill("农田图斑边界错位约 5 米")
        box_.locator("button[type=submit]").click()
        pg.wait_for_url(f"{live_server}/checks/{run_id}#disputes")
        drow = pg.locator("#dispute-list tr.dispute-row").last
        assert "农田图斑边界错位约 5 米" in drow.inner_text() and drow.get_attribute("data-status") == "open"
        # the review task page: open tasks of every department with the overdue count
        pg.goto(f"{live_server}/reviews", wait_until="networkidle")
        assert pg.locator("#overdue-count").is_visible()
        assert pg.locator(f"#review-queue tr.queue-task[data-task='{task['id']}']").count() == 0  # answered
        pg.goto(f"{live_server}/reviews?department={DEPT}&lang=en", wait_until="networkidle")
        row = pg.locator(f"#review-queue tr.queue-task[data-task='{task['id']}']")
        assert str(task["due_on"])[:10] in row.locator("td.deadline").inner_text()
        assert "agree with conditions" in row.inner_text()
        assert row.locator(".estimated-flag").count() == int(task["due_estimated"])
        # with the deadline's year missing from the holiday calendar, the deadline is an estimate
        from conflict_checks import review

        calendar = review.deadline_rules()
        monkeypatch.setattr(review, "deadline_rules", lambda: {**calendar, "calendar_years": set()})
        pg.reload(wait_until="networkidle")
        flag = row.locator("td.deadline .estimated-flag")
        assert flag.inner_text() == "estimated" and "not entered" in flag.get_attribute("title")
        monkeypatch.undo()
        assert pg.locator("nav#topnav a[data-nav=reviews]").inner_text() == "Reviews"
        assert ctx_errors(pg) == []
        assert pg.rec.foreign() == []
    finally:
        ctx.close()

    # --- the department's correction items on its task page; the owner has no review link
    ctx, pg = _signed_in(browser, live_server, accounts, settings, "department")
    try:
        pg.goto(f"{live_server}/reviews", wait_until="networkidle")
        corr = pg.locator("#correction-list tr.correction").last
        assert "农田图斑边界错位约 5 米" in corr.inner_text()
        corr.locator("select[name=status]").select_option("corrected")
        corr.locator("button[type=submit]").click()
        pg.wait_for_url(f"{live_server}/reviews#corrections")
        assert pg.locator("#correction-list tr.correction").last.get_attribute("data-status") == "corrected"
        assert ctx_errors(pg) == []
        assert pg.rec.foreign() == []
    finally:
        ctx.close()
    ctx, pg = _signed_in(browser, live_server, accounts, settings, "owner")
    try:
        pg.goto(f"{live_server}/checks/{run_id}", wait_until="networkidle")
        assert pg.locator("nav#topnav a[data-nav=reviews]").count() == 0
        assert "有条件同意" in pg.locator("#review-tasks").inner_text()
        assert pg.locator("#opinion-form, #decision-form, details.dispute").count() == 0
        assert ctx_errors(pg) == []
        assert pg.rec.foreign() == []
    finally:
        ctx.close()


def test_review_page_in_english_for_the_department(browser, live_server, accounts, settings, submission):
    ctx, pg = _signed_in(browser, live_server, accounts, settings, "department")
    try:
        pg.goto(f"{live_server}/checks/{submission['run_id']}?lang=en", wait_until="networkidle")
        assert pg.locator("#review h2").inner_text().startswith("Parallel review")
        assert pg.locator("#opinion-form").get_attribute("action").endswith("?lang=en")
        pg.goto(f"{live_server}/reviews?lang=en", wait_until="networkidle")
        assert pg.locator("h1").inner_text().startswith("Review tasks")
        assert ctx_errors(pg) == []
        assert pg.rec.foreign() == []
    finally:
        ctx.close()


def ctx_errors(pg) -> list[str]:
    """Console and page errors (the page loads no favicon; nothing else may fail)."""
    return list(pg.rec.errors)
