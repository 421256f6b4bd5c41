"""The conflict-run pages (差异分析) in a real headless Chromium: start a run through the form on
the hand-built pair of tests/conflict_checks (in a corner of its own), see its patches drawn from
vector tiles with nothing leaving the platform, read the summary, click the 04 patch and resolve
it; bad form input is shown on the form and stores nothing.

Expected figures are those of the hand-built pair (tests/conflict_checks/test_conflicts.py):
category 03 is 3 patches and 1,000,402.00 m²; the 04 patch is A2 (020) × B3 (M1), the
rectangle x 1500–2000, y 0–1000 of the pair's local frame.
"""

from __future__ import annotations

import re
import uuid

import httpx
import pytest
from pyproj import Transformer
from shapely.geometry import box
from sqlalchemy import text

from tests.conflict_checks.test_conflicts import A_FEATURES, B_FEATURES, Pair
from tests.factories import Store

pytestmark = pytest.mark.postgis

# A corner no other test uses (Pair's own corners are x 35 420 000–35 447 000, y ≥ 3 950 000).
X0, Y0 = 35_444_000.0, 3_905_000.0
TO_LONLAT = Transformer.from_crs(4523, 4326, always_xy=True)
DEPARTMENT = "市住房和城乡建设局"


@pytest.fixture(scope="module")
def pair(engine, settings, tmp_path_factory):
    """The hand-built pair with its farmland and county layers, loaded once for the module."""
    store = Store(engine, settings)
    p = Pair(store, tmp_path_factory.mktemp("conflict-pages"), uuid.uuid4().hex[:8])
    p.x0, p.y0 = X0, Y0
    p.a = p.load(p.a_plan, "tdytq", A_FEATURES, scheme="tdyt", theme="land_use_zone", coverage="extent")
    p.b = p.load(p.b_plan, "ydgh", B_FEATURES, scheme="gb50137", theme="urban_land_use")
    p.control("yjjbnt", [box(1500, 0, 2000, 500)], "permanent_basic_farmland", coverage="extent")
    p.control("counties", [box(-100, -100, 3000, 1600), box(-100, 1600, 3000, 3100)], "admin_county")
    return p


def _runs(store: Store) -> dict[str, int]:
    with store.engine.connect() as conn:
        return {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()
                for t in ("conflict_runs", "conflict_patches", "conflict_dq", "conflict_resolutions")}


def _click_local(page, pair, x: float, y: float) -> None:
    """Click the run's map where the pair's local point (x, y) is drawn."""
    lon, lat = TO_LONLAT.transform(pair.x0 + x, pair.y0 + y)
    pt = page.evaluate("([lat, lon]) => { const p = window.conflictmap.map.latLngToContainerPoint([lat, lon]);"
                       " return [p.x, p.y]; }", [lat, lon])
    page.locator("#conflict-map").click(position={"x": pt[0], "y": pt[1]})


def test_run_through_the_form_and_resolve_a_patch(page, pair):
    page.goto(f"{page.base}/conflicts", wait_until="networkidle")
    assert page.locator("#topnav a[data-nav=conflicts]").inner_text() == "差异分析"
    page.select_option("#a", pair.a)
    page.select_option("#b", pair.b)
    page.select_option("#profile", "landuse_vs_urban")
    page.fill("#min_area_m2", "400")
    page.fill("#tolerance_m", "1")
    page.click("#start")
    page.wait_for_url(re.compile(r"/conflicts/\d+$"), timeout=60_000)
    page.wait_for_load_state("networkidle")
    run_id = int(page.url.rsplit("/", 1)[1])
    rec = page.rec
    page.wait_for_timeout(300)

    # patches drawn from the run's vector tiles; nothing left the platform; no console error
    tiles = [(u, s) for u, s in rec.tiles() if f"/tiles/conflicts/{run_id}/" in u]
    assert tiles, "no patch tile was requested"
    assert all(s in (200, 204) for _, s in rec.tiles()), rec.tiles()
    assert any(s == 200 for _, s in tiles)
    assert page.locator("#conflict-map canvas").count() > 0
    assert rec.foreign() == [], rec.foreign()
    assert rec.errors == [], rec.errors

    # the summary table, the legend, the quality count and the downloads
    row03 = page.locator('#by-category tr[data-category="03"]')
    assert row03.count() == 1
    assert row03.locator("td.count").inner_text() == "3"
    assert row03.locator("td.area").inner_text() == "1,000,402.00"
    assert "土规建设用地、城规非建设用地" in row03.inner_text()
    assert page.locator('#legend li[data-category="04"]').is_visible()
    assert page.locator("#by-county").get_by_text("测试1县").count() > 0
    assert int(page.locator("#quality-count").inner_text()) == 3  # B's overlap and A's two gaps
    # slivers filtered, each under its reason in words: A5's 100 m² and B4's 0.5 m strip
    reasons = page.locator("#slivers tbody tr td:first-child").all_inner_texts()
    assert sorted(reasons) == sorted(["面积小于阈值", "内缩后消失"])
    hrefs = page.locator("#exports a").evaluate_all("els => els.map(e => e.getAttribute('href'))")
    assert f"/api/conflicts/{run_id}/export?format=gpkg" in hrefs
    assert f"/api/conflicts/{run_id}/export?format=xlsx" in hrefs
    page.screenshot(path="/tmp/gisplat-conflict-run.png", full_page=True)

    # click the 04 patch: both sides' codes, area, farmland flag
    _click_local(page, pair, 1750, 750)
    detail = page.locator("#patch")
    detail.wait_for(timeout=10_000)
    assert detail.get_attribute("data-category") == "04"
    assert page.locator("#patch-a .code").inner_text() == "020"
    assert page.locator("#patch-b .code").inner_text() == "M1"
    assert "500,000.00 m²" in page.locator("#patch-area").inner_text()
    assert "50.0000 ha" in page.locator("#patch-area").inner_text()
    assert page.locator("#patch-priority").inner_text() == "1"
    assert page.locator('#patch [data-flag="in_farmland"]').get_attribute("class") == "flag-on"
    assert page.locator("#patch-status").inner_text() == "待处理"
    patch_no = int(detail.get_attribute("data-patch-no"))

    # resolve it: status "修改B方规划…" and a department
    before_save = len(rec.responses)
    page.select_option("#resolve-status", "amend_b")
    page.fill("#resolve-department", DEPARTMENT)
    page.fill("#resolve-comment", "城规调出该地块")
    page.click("#resolve-submit")
    page.locator("#resolve-result.ok").wait_for(timeout=10_000)
    assert "修改B方规划" in page.locator("#patch-status").inner_text()
    assert page.locator("#patch-department").inner_text() == DEPARTMENT
    page.locator('#patch-history tr[data-status="amend_b"]').wait_for(timeout=10_000)
    page.wait_for_load_state("networkidle")
    page.screenshot(path="/tmp/gisplat-conflict-patch.png")
    # the tiles were asked for again and answered (their ETag changed with the status)
    again = [(u, s) for u, s in rec.responses[before_save:] if f"/tiles/conflicts/{run_id}/" in u]
    assert again and all(s in (200, 204) for _, s in again), again
    assert rec.foreign() == [] and rec.errors == [], (rec.foreign(), rec.errors)

    # the API holds it in the patch's history
    hist = HX.get(f"{page.base}/api/conflicts/{run_id}/patches/{patch_no}/history").json()
    assert [(h["status"], h["department"], h["comment"]) for h in hist] == [("amend_b", DEPARTMENT, "城规调出该地块")]

    # a click beside the patches says so
    _click_local(page, pair, -500, -500)
    page.locator("#no-patch").wait_for(timeout=10_000)

    # bulk assignment: every 03 patch to one department
    page.select_option("#bulk-category", "03")
    page.fill("#bulk-department", "市自然资源局")
    page.click("#bulk-submit")
    page.locator("#bulk-result.ok").wait_for(timeout=10_000)
    assert page.locator("#bulk-result").get_attribute("data-updated") == "3"
    prog = HX.get(f"{page.base}/api/conflicts/{run_id}/progress").json()
    assert sum(r["n"] for r in prog if r["department"] == "市自然资源局") == 3
    assert rec.errors == [], rec.errors

    # the list of runs shows it with its counts by category; English page
    page.goto(f"{page.base}/conflicts?lang=en", wait_until="networkidle")
    row = page.locator(f'#runs tr[data-run="{run_id}"]')
    assert pair.a in row.inner_text() and pair.b in row.inner_text()
    assert row.locator('.cat-count[data-category="03"]').inner_text().endswith("03: 3")
    assert page.locator("#topnav a[data-nav=conflicts]").inner_text() == "Conflicts"
    row.locator("a.open").click()
    page.wait_for_url(re.compile(rf"/conflicts/{run_id}\?lang=en$"))
    assert "Construction in the land-use plan" in page.locator('#by-category tr[data-category="03"]').inner_text()
    assert "below the minimum area" in page.locator("#slivers").inner_text()


def test_a_second_click_while_the_run_works_starts_nothing(page, pair):
    """A run takes a while on city-sized layers: the button is disabled and says so until the
    answer comes, so an impatient second click cannot start the same run twice. The form's
    request is held back here, as a long run would hold it."""
    before = _runs(pair.store)["conflict_runs"]
    page.goto(f"{page.base}/conflicts", wait_until="networkidle")
    page.select_option("#a", pair.a)
    page.select_option("#b", pair.b)
    held = []
    page.route(re.compile(r"/conflicts$"),
               lambda route: held.append(route) if route.request.method == "POST" else route.continue_())
    # two clicks in a row, as a double click gives; what the button shows in between
    state = page.evaluate("() => { const b = document.getElementById('start'); b.click();"
                          " const seen = [b.disabled, b.textContent.trim()]; b.click(); return seen; }")
    page.wait_for_timeout(500)
    posts = len(held)
    for route in held:
        route.continue_()
    page.wait_for_url(re.compile(r"/conflicts/\d+$"), timeout=60_000)
    page.wait_for_load_state("networkidle")
    assert state == [True, "分析进行中，请稍候…"]
    assert posts == 1
    assert _runs(pair.store)["conflict_runs"] == before + 1
    assert page.rec.errors == []


@pytest.mark.parametrize("case", ["same_layer", "wrong_scheme", "bad_number"])
def test_bad_form_shows_the_message_and_stores_nothing(page, pair, case):
    store = pair.store
    before = _runs(store)
    page.goto(f"{page.base}/conflicts", wait_until="networkidle")
    if case == "same_layer":
        page.select_option("#a", pair.a)
        page.select_option("#b", pair.a)
        expect = "同一图层"
    elif case == "wrong_scheme":
        page.select_option("#a", pair.b)  # GB 50137 on the land-use side
        page.select_option("#b", pair.a)
        expect = "只接受分类体系"
    else:
        page.select_option("#a", pair.a)
        page.select_option("#b", pair.b)
        page.fill("#min_area_m2", "lots")
        expect = "最小图斑面积（m²）须为不小于 0 的数字"
    page.click("#start")
    page.wait_for_load_state("networkidle")
    error = page.locator("#form-error")
    assert error.is_visible()
    message = error.inner_text()
    assert "未能开始分析" in message and expect in message and "未保存任何数据" in message
    assert page.url.endswith("/conflicts") and "Traceback" not in page.content()
    assert page.locator("#a").input_value() == (pair.b if case == "wrong_scheme" else pair.a)  # values kept
    assert _runs(store) == before
    assert page.rec.foreign() == []


def test_form_refusals_without_a_browser(live_server, pair):
    before = _runs(pair.store)
    r = HX.post(f"{live_server}/conflicts?lang=en", data={"a": pair.a, "b": pair.a})
    assert r.status_code == 422 and "both sides are the same layer" in r.text and 'id="form-error"' in r.text
    r = HX.post(f"{live_server}/conflicts", data={"a": f"nope-{pair.uid}/x", "b": pair.b})
    assert r.status_code == 404 and "没有图层" in r.text
    r = HX.post(f"{live_server}/conflicts", data={"a": pair.a, "b": pair.b, "profile": "nope"})
    assert r.status_code == 422 and "没有比对方案" in r.text
    r = HX.post(f"{live_server}/conflicts", data={"a": pair.a})
    assert r.status_code == 422 and "请选择 A 方和 B 方图层" in r.text
    assert _runs(pair.store) == before
    assert HX.get(f"{live_server}/conflicts/999999999").status_code == 404


class _Api:
    """httpx with the test administrator's API token (set per test by the fixture below)."""

    headers: dict[str, str] = {}

    def get(self, url: str, **kw):  # noqa: ANN201
        return httpx.get(url, headers={**self.headers, **kw.pop("headers", {})}, **kw)

    def post(self, url: str, **kw):  # noqa: ANN201
        return httpx.post(url, headers={**self.headers, **kw.pop("headers", {})}, **kw)


HX = _Api()


@pytest.fixture(autouse=True)
def _api_token(accounts):
    HX.headers = accounts.headers("admin")
