"""The printable pre-check report and its SVG location map (pure: no store)."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from conflict_checks.schemas import (
    AreaCheck, CheckResult, ClassFinding, LayerFinding, ProjectMeta, Reason, RuleRef, SlopeFinding, UseFinding,
)
from map_ui.report import render_check_report
from map_ui.svg_map import site_map_svg

E, N = 35_465_500.0, 3_939_000.0  # EPSG:4523 (zone 35), easting with the zone prefix


def _ring(x0: float, y0: float, w: float, h: float) -> list[list[float]]:
    return [[x0, y0], [x0 + w, y0], [x0 + w, y0 + h], [x0, y0 + h], [x0, y0]]


# Part A: 80 × 100 m with a 20 × 20 m hole (7,600 m²); part B: 40 × 50 m (2,000 m²) → 9,600 m².
SITE = {"type": "MultiPolygon", "coordinates": [
    [_ring(E, N, 80, 100), _ring(E + 30, N + 40, 20, 20)],
    [_ring(E + 120, N, 40, 50)],
]}
XSS = "<script>alert(1)</script>"
OVERLAYS = [
    {"title": "永久基本农田", "severity": "forbidden",
     "geometry": {"type": "Polygon", "coordinates": [_ring(E - 20, N - 20, 60, 60)]}},
    {"title": XSS, "severity": "notice", "geometry": {"type": "GeometryCollection", "geometries": [
        {"type": "Polygon", "coordinates": [_ring(E + 100, N + 20, 80, 60)]},
        {"type": "LineString", "coordinates": [[E, N], [E + 10, N + 10]]},
    ]}},
]


def _boundary() -> list[list[list[float]]]:
    rings, no = [], 1
    for poly in SITE["coordinates"]:
        for ring in poly:
            rings.append([[no + i, y, x] for i, (x, y) in enumerate(ring)])
            no += len(ring)
    return rings


def _rule(key: str, severity: str, zh: str, en: str, citation: str, dept: str) -> RuleRef:
    return RuleRef(key=key, severity=severity, message_zh=zh, message_en=en, citation=citation, department=dept)


def _layer(title: str, theme: str | None, ref: str, *, state: str = "applies", area: float = 0.0,
           severity: str = "none", **kw) -> LayerFinding:
    return LayerFinding(layer_id=1, ref=ref, title=title, theme=theme, version=1, version_id=1,
                        source_sha256="ab" * 32, loaded_at=dt.datetime(2026, 11, 1, 2, 0, tzinfo=dt.UTC),
                        state=state, area_m2=area, area_ha=area / 1e4, share=area / 9600, severity=severity, **kw)


def _result() -> dict:
    pbf_rule = _rule("pbf_inside", "forbidden", "不得占用永久基本农田", "Must not occupy permanent basic farmland",
                     "《土地管理法》第三十五条", "自然资源局")
    layers = [
        _layer("城镇开发边界", "urban_development_boundary", "dx-kzx-2035/czkfbj", state="does_not_apply"),
        _layer("永久基本农田", "permanent_basic_farmland", "dx-kzx-2035/yjjbnt", area=1200.0,
               severity="forbidden", rules=[pbf_rule]),
        _layer("生态保护红线", "ecological_red_line", "dx-kzx-2035/stbhhx", state="no_data", covered_share=0.6),
        _layer(XSS, "water_source_protection", "dx-water-source/zones", area=800.0, severity="notice"),
        _layer("地类图斑", "current_land_use", "dx-sandiao-2023/dltb", area=9600.0, severity="notice", classes=[
            ClassFinding(class_code="0103", class_raw="0103", class_name="旱地", area_m2=9590.0, area_ha=0.959,
                         share=0.999, features=2, severity="notice",
                         rule=_rule("cropland", "notice", "占用耕地需落实占补平衡", "Cropland: offset required",
                                    "《土地管理法》第三十条", "自然资源局")),
            ClassFinding(class_code="1006", class_raw="1006", class_name="农村道路", area_m2=10.0, area_ha=0.001,
                         share=0.001, features=1, severity="none", sliver=True),
        ]),
        _layer("土地用途区", "land_use_zone", "dx-tdlygh-2006/tdytq", area=9600.0, severity="reference",
               plan_status="superseded"),
    ]
    result = CheckResult(
        run_id=42, submission_id=7, checked_at=dt.datetime(2026, 11, 28, 2, 30, tzinfo=dt.UTC),
        as_of=dt.datetime(2026, 11, 28, 2, 30, tzinfo=dt.UTC), store_crs="EPSG:4523",
        meta=ProjectMeta(project_code="2611-621102-04-01-000001", name="安定区冷链物流园", applicant="定西某物流有限公司",
                         proposed_use="1101", project_type="ordinary", declared_area_m2=9800.0),
        source_name="project_a.txt", source_sha256="cd" * 32, boundary=_boundary(), county="安定区",
        area=AreaCheck(plane_area_m2=9600.0, plane_area_ha=0.96, ellipsoidal_area_m2=9612.3456,
                       declared_area_m2=9800.0, difference_share=0.0208, flagged=True, threshold=0.01),
        layers=layers,
        slope=SlopeFinding(layer_ref="dx-base/dem", state="applies", threshold_deg=25.0, share_above=0.05,
                           area_above_m2=480.0, mean_deg=12.34, max_deg=31.2, severity="notice"),
        use=UseFinding(proposed_use="1101", state="applies", compatible_area_m2=9000.0, incompatible_area_m2=600.0,
                       incompatible_share=0.0625, incompatible_classes=["0103"], severity="needs_approval"),
        verdict="fail",
        reasons=[Reason(severity="forbidden", zh="占用永久基本农田 1,200.00 m²", en="Occupies 1,200.00 m² of PBF")],
        params={"sliver_tolerance_m": 1.0, "sliver_min_area_m2": 400.0, "slope_threshold_deg": 25.0},
        versions=[{"ref": "dx-kzx-2035/yjjbnt", "version": 1, "source_sha256": "ef" * 32,
                   "loaded_at": "2026-11-01T02:00:00+00:00"}],
    )
    return result.model_dump(mode="json")


@pytest.fixture(scope="module")
def html_zh() -> str:
    return render_check_report(_result(), site=SITE, overlays=OVERLAYS)


@pytest.fixture(scope="module")
def html_en() -> str:
    return render_check_report(_result(), site=SITE, overlays=OVERLAYS, lang="en")


def test_report_contents(html_zh: str) -> None:
    assert "建设项目用地预审选址合规性检查报告" in html_zh
    assert "不通过" in html_zh and "verdict-fail" in html_zh
    assert "占用永久基本农田 1,200.00 m²" in html_zh
    for title in ("城镇开发边界", "永久基本农田", "生态保护红线", "地类图斑", "土地用途区"):
        assert title in html_zh
    assert "9,600.00 m²" in html_zh and "0.9600 公顷" in html_zh
    assert "未覆盖 40.00%" in html_zh
    assert "已按碎片容差剔除" in html_zh and "1006 农村道路" in html_zh
    assert "《土地管理法》第三十五条" in html_zh
    assert "本报告为辅助审查结果，以有权机关审批为准" in html_zh
    assert "efefefefefef" in html_zh and "efefefefefefe" not in html_zh
    assert "2026-11-28 10:30:00" in html_zh  # Beijing time
    assert "第35带" in html_zh and 'href="?lang=en"' in html_zh


def test_sections_in_order(html_zh: str) -> None:
    heads = ["三线检查情况", "其他控制线与专项规划", "现状与规划用途", "参考（已废止规划）", "数据版本", "界址点坐标"]
    positions = [html_zh.index(h) for h in heads]
    assert positions == sorted(positions)
    # Control lines in their fixed order whatever the result order.
    assert html_zh.index("生态保护红线") < html_zh.index("<b>永久基本农田") < html_zh.index("<b>城镇开发边界")


def test_coordinate_list(html_zh: str) -> None:
    assert "3939000.000" in html_zh and "35465500.000" in html_zh
    assert "3939040.000" in html_zh and "35465530.000" in html_zh  # the hole's first point
    assert html_zh.count('class="ring keep"') == 3
    assert re.search(r"<td>15</td>", html_zh)  # points numbered across rings


def test_english(html_en: str) -> None:
    for label in ("Site pre-check report", "Three control lines", "Boundary coordinates", "fail",
                  "0.9600 ha", "Must not occupy permanent basic farmland", "does not apply", "no data",
                  "Assisted review; the competent authority&#39;s approval prevails.", 'href="?lang=zh"'):
        assert label in html_en, label
    assert "不通过" not in html_en


def test_escaped_and_offline(html_zh: str, html_en: str) -> None:
    for html in (html_zh, html_en):
        assert XSS not in html and "<script" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
        rest = html.replace('xmlns="http://www.w3.org/2000/svg"', "")
        assert "http://" not in rest and "https://" not in rest
        assert "@page" in html and "A4" in html


def test_svg_paths_and_scale_bar() -> None:
    svg = site_map_svg(SITE, OVERLAYS, lang="en")
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert svg.count('class="site"') == 2  # one path per polygon part, holes inside
    assert svg.count('class="overlay') == 2  # the line in the collection is ignored
    site_paths = re.findall(r'<path class="site" d="([^"]+)"', svg)
    assert site_paths[0].count("M") == 2 and 'fill-rule="evenodd"' in svg
    label = re.search(r'class="scale-label"[^>]*>([^<]+)<', svg).group(1)
    assert re.fullmatch(r"(1|2|5)0* (m|km)", label), label
    assert "forbidden" in svg and "notice" in svg and "needs approval" not in svg  # legend: present only
    assert XSS not in svg and "&lt;script&gt;" in svg


def test_svg_scale_bar_km_and_empty() -> None:
    big = {"type": "Polygon", "coordinates": [_ring(E, N, 8000, 5000)]}
    label = re.search(r'class="scale-label"[^>]*>([^<]+)<', site_map_svg(big, [])).group(1)
    assert label in ("1 km", "2 km", "5 km")
    assert "<path" not in site_map_svg({"type": "Point", "coordinates": [E, N]}, [])


def test_the_part_outside_a_boundary_is_named_in_the_reports_language() -> None:
    res = _result()
    udb = next(f for f in res["layers"] if f["theme"] == "urban_development_boundary")
    out_rule = _rule("udb_outside", "forbidden", "不得进行城镇集中建设", "No concentrated urban construction",
                     "《国土空间规划》", "自然资源局").model_dump(mode="json")
    udb.update(state="applies", severity="forbidden", classes=[
        ClassFinding(class_code=None, class_raw="边界外 outside", area_m2=3000.0, area_ha=0.3, share=0.3125,
                     features=0, severity="forbidden", part="outside").model_dump(mode="json") | {"rule": out_rule}])
    zh = render_check_report(res, site=SITE, overlays=OVERLAYS)
    en = render_check_report(res, site=SITE, overlays=OVERLAYS, lang="en")
    for html, word, other in ((zh, "边界外", "outside"), (en, "outside the boundary", "边界外")):
        rows = re.findall(r"<tr[^>]*>(?:(?!</tr>).)*3,000\.00(?:(?!</tr>).)*</tr>", html, flags=re.S)
        assert len(rows) == 1 and rows[0].count(word) == 1 and other not in rows[0], rows
