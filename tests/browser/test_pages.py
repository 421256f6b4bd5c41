"""The map pages in a real headless Chromium: what a user sees, and that nothing leaves the platform.

Data sit around X=35 460 000, Y=3 960 000 (EPSG:4523), a corner no other test uses: a planned
land-use layer (2023 classes: 0701 城镇住宅用地 and 0103 旱地) and an ecological red line.
"""

from __future__ import annotations

import re
import uuid
import zipfile
from pathlib import Path

import httpx
import pytest
from shapely.geometry import box
from sqlalchemy import text

from tests.factories import Store, to_lonlat, write_vector

pytestmark = pytest.mark.postgis

X0, Y0 = 35_460_000.0, 3_960_000.0
RESIDENTIAL = box(X0, Y0, X0 + 400, Y0 + 400)  # 0701
DRY_LAND = box(X0 + 400, Y0, X0 + 800, Y0 + 400)  # 0103
RED_LINE = box(X0 + 600, Y0 + 100, X0 + 900, Y0 + 300)
SITE = box(X0 + 650, Y0 + 150, X0 + 750, Y0 + 250)  # wholly inside the red line: fail
SCREENSHOT = Path("/tmp/gisplat-onemap.png")


def _lonlat(x: float, y: float) -> tuple[float, float]:
    from shapely.geometry import Point

    p = to_lonlat(Point(x, y), 4326)
    return p.x, p.y


@pytest.fixture(scope="module")
def world(engine, settings, tmp_path_factory):
    """Two plans with a land-use layer and a red line, loaded once for the module."""
    store = Store(engine, settings)
    uid = uuid.uuid4().hex[:8]
    tmp = tmp_path_factory.mktemp("browser-data")
    plan = store.plan(f"ui-gtkj-{uid}", kind="territorial")
    lu = write_vector(tmp / "landuse.geojson", [RESIDENTIAL, DRY_LAND], "EPSG:4523", YDYHFLDM=["0701", "0103"])
    store.ingest(lu, plan, "ghyd", class_field="YDYHFLDM", scheme="gb2023", theme="planned_land_use",
                 title=f"规划用地 {uid}")
    cl = store.plan(f"ui-skx-{uid}", kind="control_line")
    red = write_vector(tmp / "red.geojson", [RED_LINE], "EPSG:4523")
    store.ingest(red, cl, "stbhhx", theme="ecological_red_line", title=f"生态保护红线 {uid}")
    return {"uid": uid, "store": store, "tmp": tmp, "landuse": f"{plan}/ghyd", "redline": f"{cl}/stbhhx",
            "landuse_title": f"规划用地 {uid}", "redline_title": f"生态保护红线 {uid}"}


def _map_url(base: str, lang: str | None = None) -> str:
    lon, lat = _lonlat(X0 + 450, Y0 + 200)
    url = f"{base}/map?lon={lon:.6f}&lat={lat:.6f}&z=16"
    return url + (f"&lang={lang}" if lang else "")


def _click_at(page, x: float, y: float) -> None:
    """Click the map where the EPSG:4523 point (x, y) is drawn."""
    lon, lat = _lonlat(x, y)
    pt = page.evaluate("([lat, lon]) => { const p = window.onemap.map.latLngToContainerPoint([lat, lon]);"
                       " return [p.x, p.y]; }", [lat, lon])
    page.locator("#map").click(position={"x": pt[0], "y": pt[1]})


def _check_counts(store: Store) -> dict[str, int]:
    counts = store.counts()
    with store.engine.connect() as conn:
        for t in ("submissions", "check_runs", "check_findings"):
            counts[t] = conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()
    return counts


def test_one_map_draws_tiles_and_stays_on_the_platform(page, world):
    page.goto(_map_url(page.base), wait_until="networkidle")
    rec = page.rec
    # the layer switcher lists both layers, grouped by plan
    switcher = page.locator("#layer-switcher")
    assert switcher.get_by_text(world["landuse_title"]).is_visible()
    assert switcher.get_by_text(world["redline_title"]).is_visible()
    group = page.locator(f'fieldset.plan-group[data-plan="{world["landuse"].split("/")[0]}"]')
    assert group.get_by_text(world["landuse_title"]).count() == 1
    # the legend shows the 2023 classes and the red line outline
    legend = page.locator("#legend")
    assert legend.get_by_text("07 居住用地").is_visible() and legend.get_by_text("生态保护红线").is_visible()
    # vector tiles were requested and answered, and some carried features
    page.wait_for_timeout(500)
    tiles = rec.tiles()
    assert tiles, "no tile request was made"
    assert all(status in (200, 204) for _, status in tiles), tiles
    assert any(status == 200 for _, status in tiles)
    assert page.locator("#map canvas").count() > 0
    # nothing left the platform; no console error
    assert rec.foreign() == [], rec.foreign()
    assert rec.errors == [], rec.errors
    page.screenshot(path=str(SCREENSHOT))


def test_click_shows_what_applies(page, world):
    page.goto(_map_url(page.base), wait_until="networkidle")
    _click_at(page, X0 + 200, Y0 + 200)  # inside the 0701 polygon
    item = page.locator(f'#applies .applies-item[data-ref="{world["landuse"]}"]')
    item.wait_for(timeout=10_000)
    assert "0701" in item.inner_text() and "城镇住宅用地" in item.inner_text()
    assert page.locator(f'#applies .applies-item[data-ref="{world["redline"]}"]').count() == 0
    _click_at(page, X0 + 700, Y0 + 200)  # dry land under the red line
    red = page.locator(f'#applies .applies-item[data-ref="{world["redline"]}"]')
    red.wait_for(timeout=10_000)
    assert "禁止" in red.inner_text()
    assert "0103" in page.locator(f'#applies .applies-item[data-ref="{world["landuse"]}"]').inner_text()
    assert page.rec.foreign() == [] and page.rec.errors == [], (page.rec.foreign(), page.rec.errors)


def test_layer_switcher_and_opacity(page, world):
    page.goto(_map_url(page.base, "en"), wait_until="networkidle")
    assert page.locator("#layer-switcher h2").inner_text() == "Layers"
    assert page.locator("#topnav").get_by_role("link", name="One map", exact=True).is_visible()
    layer_id = page.locator(f'label[title="{world["redline"]}"] input').get_attribute("data-layer-id")
    assert page.evaluate(f"window.onemap.map.hasLayer(window.onemap.layers['{layer_id}'])")
    page.locator(f'label[title="{world["redline"]}"] input').uncheck()
    assert not page.evaluate(f"window.onemap.map.hasLayer(window.onemap.layers['{layer_id}'])")
    page.locator("#opacity").fill("30")
    assert page.locator("#opacity-value").inner_text() == "30%"
    assert page.evaluate(f"window.onemap.layers['{layer_id}'].options.opacity") == pytest.approx(0.3)
    assert page.rec.foreign() == [] and page.rec.errors == []


def test_precheck_form_result_and_review_queue(page, world):
    code = f"UI-{world['uid']}"
    site = write_vector(world["tmp"] / f"site-{code}.geojson", [to_lonlat(SITE, 4326)], "EPSG:4326")
    page.goto(f"{page.base}/checks/new", wait_until="networkidle")
    page.set_input_files("#file", str(site))
    page.fill("input[name=project_code]", code)
    page.fill("input[name=name]", "浏览器测试项目")
    page.fill("input[name=applicant]", "定西市测试建设单位")
    page.fill("input[name=proposed_use]", "0701")
    page.select_option("select[name=project_type]", "ordinary")
    page.fill("input[name=declared_area_m2]", "10000")
    page.click("#submit")
    page.wait_for_url(re.compile(r"/checks/\d+$"))
    page.wait_for_load_state("networkidle")
    run_id = int(page.url.rsplit("/", 1)[1])
    verdict = page.locator("#verdict")
    assert verdict.get_attribute("data-verdict") == "fail" and "不通过" in verdict.inner_text()
    row = page.locator(f'#findings tr[data-ref="{world["redline"]}"]')
    assert "涉及" in row.inner_text() and "10,000.00" in row.inner_text() and "100.00%" in row.inner_text()
    assert row.get_attribute("data-severity") == "forbidden"
    # the site and the red-line piece are drawn on the map
    assert page.locator("#sitemap path").count() >= 2
    assert page.locator("#report-link").get_attribute("href") == f"/checks/{run_id}/report"
    page.screenshot(path="/tmp/gisplat-check-result.png", full_page=True)
    assert page.rec.foreign() == [] and page.rec.errors == [], (page.rec.foreign(), page.rec.errors)

    # the review queue lists it; filters by verdict and text; opens the result page
    page.goto(f"{page.base}/review?verdict=fail&q={code}", wait_until="networkidle")
    rows = page.locator("#review tr.submission")
    assert rows.count() == 1 and code in rows.first.inner_text() and "不通过" in rows.first.inner_text()
    page.screenshot(path="/tmp/gisplat-review.png")
    page.goto(f"{page.base}/review?verdict=pass&q={code}")
    assert page.locator("#review-empty").is_visible()
    page.goto(f"{page.base}/review")
    page.locator(f'#review tr[data-run="{run_id}"] a.open').click()
    page.wait_for_url(re.compile(rf"/checks/{run_id}$"))
    assert page.locator("#verdict").get_attribute("data-verdict") == "fail"
    page.locator("#lang-switch").click()
    page.wait_for_url(re.compile(rf"/checks/{run_id}\?lang=en$"))
    assert "fail" in page.locator("#verdict").inner_text()
    assert page.locator("#report-link").get_attribute("href") == f"/checks/{run_id}/report?lang=en"


def _no_crs_zip(tmp: Path) -> Path:
    shp = write_vector(tmp / "noprj.shp", [box(X0, Y0, X0 + 10, Y0 + 10)], None)
    z = tmp / "noprj.zip"
    with zipfile.ZipFile(z, "w") as zf:
        for suffix in (".shp", ".shx", ".dbf"):
            zf.write(shp.with_suffix(suffix), shp.with_suffix(suffix).name)
    return z


@pytest.mark.parametrize("case", ["no_crs", "outside", "garbage"])
def test_bad_file_shows_form_error_and_stores_nothing(page, world, case):
    tmp = world["tmp"] / case
    tmp.mkdir(exist_ok=True)
    if case == "no_crs":
        path, expect = _no_crs_zip(tmp), "坐标系"
    elif case == "outside":
        path = write_vector(tmp / "far.geojson", [box(2.0, 48.0, 2.01, 48.01)], "EPSG:4326")
        expect = "范围"
    else:
        path = tmp / "broken.geojson"
        path.write_text("{ this is not GeoJSON", encoding="utf-8")
        expect = ""
    before = _check_counts(world["store"])
    page.goto(f"{page.base}/checks/new", wait_until="networkidle")
    page.set_input_files("#file", str(path))
    page.fill("input[name=project_code]", f"BAD-{case}")
    page.click("#submit")
    page.wait_for_load_state("networkidle")
    error = page.locator("#form-error")
    assert error.is_visible()
    message = error.inner_text()
    assert "未能完成检查" in message and "未保存任何数据" in message and expect in message
    assert "Traceback" not in page.content() and "gisplat-upload-" not in message
    assert page.url.endswith("/checks/new")
    assert page.locator("input[name=project_code]").input_value() == f"BAD-{case}"  # values kept
    assert _check_counts(world["store"]) == before
    assert page.rec.foreign() == []


def test_pages_in_english_and_catalogue_nav(page, world):
    page.goto(f"{page.base}/checks/new?lang=en", wait_until="networkidle")
    assert page.locator("h1").inner_text() == "Site pre-check"
    page.goto(f"{page.base}/", wait_until="networkidle")
    nav = page.locator("#topnav")
    for label in ("一张图", "用地预审检查", "审查队列"):
        assert nav.get_by_role("link", name=label, exact=True).is_visible()
    nav.get_by_role("link", name="一张图", exact=True).click()
    page.wait_for_url(re.compile(r"/map$"))
    assert page.locator("#layer-switcher").get_by_text(world["redline_title"]).is_visible()
    page.wait_for_load_state("networkidle")
    assert page.rec.foreign() == [] and page.rec.errors == [], (page.rec.foreign(), page.rec.errors)


def test_form_refusals_without_a_browser(live_server, world):

    before = _check_counts(world["store"])
    r = HX.post(f"{live_server}/checks/new", data={"project_code": "NOFILE"})
    assert r.status_code == 422 and "请选择用地红线文件" in r.text and 'id="form-error"' in r.text
    site = to_lonlat(SITE, 4326).wkt
    r = HX.post(f"{live_server}/checks/new?lang=en", files={"file": ("s.wkt", site.encode())},
                   data={"declared_area_m2": "lots"})
    assert r.status_code == 422 and "declared area must be a number" in r.text
    r = HX.post(f"{live_server}/checks/new", files={"file": ("s.geojson", b"{}")},
                   data={"project_type": "spaceship"})
    assert r.status_code == 422 and "project_type" in r.text and "Traceback" not in r.text
    assert _check_counts(world["store"]) == before


def test_assets_are_local_and_confined(live_server):

    ok = HX.get(f"{live_server}/assets/vendor/leaflet/dist/leaflet.js")
    assert ok.status_code == 200 and "javascript" in ok.headers["content-type"]
    assert HX.get(f"{live_server}/assets/vendor/leaflet.vectorgrid/dist/Leaflet.VectorGrid.bundled.min.js").status_code == 200
    assert HX.get(f"{live_server}/assets/ui/onemap.js").status_code == 200
    for bad in ("/assets/vendor/leaflet/package.json", "/assets/vendor/leaflet/dist/../package.json",
                "/assets/vendor/leaflet/dist/%2e%2e/package.json", "/assets/vendor/pbf/dist/pbf.js",
                "/assets/ui/../views.py", "/assets/ui/%2e%2e/views.py"):
        assert HX.get(f"{live_server}{bad}").status_code == 404, bad


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
