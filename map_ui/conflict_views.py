"""The conflict-run pages (差异分析): the list of runs with the form to start one, and a run's
page (its patches on a map from vector tiles coloured by category, legend, summary tables,
data-quality count, exports, patch details with the resolution form, bulk assignment).

Rendered from plain data handed over by the web routes (map_ui never queries the store).
Category colours are data: ``conflict_colours.csv``. Chinese by default, English with
``lang="en"``.
"""

from __future__ import annotations

import csv
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

from gis_platform.core.vocabulary import SLIVER_REASONS, label
from map_ui.report import num, pct, when
from map_ui.views import _common, lang_code

HERE = Path(__file__).resolve().parent
COLOURS_CSV = HERE / "conflict_colours.csv"
DEFAULT_COLOUR = {"fill": "#B0B0B0", "stroke": "#555555"}
CONFLICTS_JS = "/assets/ui/conflictmap.js"
CONFLICTS_CSS = "/assets/ui/conflicts.css"

# Categories shown in the legend, by profile mode.
MODE_CATEGORIES = {"construction": ("01", "02", "03", "04", "unmapped", "overlap"),
                   "control": ("C1", "C0", "unmapped", "overlap")}

_ENV = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=select_autoescape(["html"]), trim_blocks=True, lstrip_blocks=True,
)

TEXT: dict[str, dict[str, str]] = {
    "zh": {
        "site": "多规合一 一张图", "title": "差异分析（差异图斑）", "runs": "分析记录", "no_runs": "尚无差异分析",
        "new_run": "新建差异分析", "a_layer": "A 方图层", "b_layer": "B 方图层", "profile": "比对方案",
        "min_area": "最小图斑面积（m²）", "tolerance": "容差（m）", "switch_cc": "有条件建设区（020）计为建设用地",
        "switch_hint": "仅对设有此开关的比对方案有效", "start": "开始分析", "start_busy": "分析进行中，请稍候…", "form_error": "未能开始分析",
        "nothing_stored": "未保存任何数据，请修改后重新提交。", "choose": "请选择…",
        "run": "编号", "date": "时间", "patches": "图斑", "by_category": "按类别统计",
        "open": "查看", "versions": "版本", "total": "合计",
        "bad_number": "{what}须为不小于 0 的数字", "need_layers": "请选择 A 方和 B 方图层",
        "run_title": "差异分析", "params": "参数", "actor": "发起人", "previous": "上一次分析",
        "legend": "图例", "category": "类别", "subtype": "子类", "count": "图斑数", "area_m2": "面积（m²）",
        "area_ha": "面积（公顷）", "share": "占比", "by_county": "按县区统计", "county": "县区",
        "quality": "数据质量问题", "quality_count": "数据质量问题", "quality_hint": "图层内部重叠、覆盖范围内的缺漏",
        "slivers": "碎片（已过滤，留档备查）", "reason": "原因", "no_data": "一方无数据的面积",
        "exports": "导出", "export_patches": "差异图斑", "export_slivers": "碎片", "export_quality": "数据质量",
        "export_summary": "统计表", "detail": "图斑详情", "detail_hint": "点击地图上的图斑查看详情并处理",
        "patch": "图斑", "side_a": "A 方", "side_b": "B 方", "code": "代码", "name": "名称",
        "flags": "涉及", "in_farmland": "永久基本农田", "in_redline": "生态保护红线", "in_udb": "城镇开发边界内",
        "priority": "优先级", "status": "状态", "department": "承办部门", "comment": "意见", "history": "处理记录",
        "save": "保存", "saved": "已保存", "none": "无", "no_patch": "此处没有差异图斑", "loading": "查询中…",
        "error": "操作失败", "bulk": "批量分派", "bulk_hint": "按类别和/或最小面积选择图斑，分派给承办部门",
        "all_categories": "（全部类别）", "keep_status": "（状态不变）", "assign": "分派", "updated": "已更新图斑数",
        "at": "时间", "yes": "是", "no": "否", "unknown": "无数据", "carried": "自上次分析沿用",
        "outside_a": "A 方无数据", "outside_b": "B 方无数据", "switches": "开关", "engine": "计算引擎",
        "back": "返回分析记录", "compared": "比对面积",
    },
    "en": {
        "site": "Multi-plan integration — one map", "title": "Conflict runs (plan-vs-plan patches)",
        "runs": "Runs", "no_runs": "No conflict run yet", "new_run": "Start a conflict run", "a_layer": "Layer A",
        "b_layer": "Layer B", "profile": "Profile", "min_area": "Minimum patch area (m²)",
        "tolerance": "Tolerance (m)", "switch_cc": "Count conditional construction zones (020) as construction land",
        "switch_hint": "only for profiles that have this switch", "start": "Run", "start_busy": "Running the analysis…", "form_error": "The run could not be started",
        "nothing_stored": "Nothing was stored; correct the input and submit again.", "choose": "Choose…",
        "run": "Run", "date": "Date", "patches": "Patches", "by_category": "By category",
        "open": "Open", "versions": "Version", "total": "Total",
        "bad_number": "{what} must be a number of at least 0", "need_layers": "Choose layer A and layer B",
        "run_title": "Conflict run", "params": "Parameters", "actor": "Started by", "previous": "Previous run",
        "legend": "Legend", "category": "Category", "subtype": "Subtype", "count": "Patches", "area_m2": "Area (m²)",
        "area_ha": "Area (ha)", "share": "Share", "by_county": "By county", "county": "County",
        "quality": "Data-quality findings", "quality_count": "Data-quality findings",
        "quality_hint": "overlaps inside a layer, gaps inside a declared coverage",
        "slivers": "Slivers (filtered, kept for audit)", "reason": "Reason", "no_data": "Area where one side has no data",
        "exports": "Downloads", "export_patches": "Patches", "export_slivers": "Slivers", "export_quality": "Data quality",
        "export_summary": "Summary", "detail": "Patch details", "detail_hint": "Click a patch on the map to see and resolve it",
        "patch": "Patch", "side_a": "Side A", "side_b": "Side B", "code": "Code", "name": "Name",
        "flags": "Flags", "in_farmland": "Permanent basic farmland", "in_redline": "Ecological red line",
        "in_udb": "Inside the urban development boundary",
        "priority": "Priority", "status": "Status", "department": "Department", "comment": "Comment", "history": "History",
        "save": "Save", "saved": "Saved", "none": "none", "no_patch": "No patch here", "loading": "Querying…",
        "error": "Failed", "bulk": "Bulk assignment", "bulk_hint": "Select patches by category and/or minimum area and assign them",
        "all_categories": "(all categories)", "keep_status": "(keep status)", "assign": "Assign", "updated": "Patches updated",
        "at": "When", "yes": "yes", "no": "no", "unknown": "no data", "carried": "carried from the previous run",
        "outside_a": "A has no data", "outside_b": "B has no data", "switches": "Switches", "engine": "Engine",
        "back": "Back to the runs", "compared": "Compared area",
    },
}

# Words the page's script needs.
JS_WORDS = ("patch", "side_a", "side_b", "code", "name", "area_m2", "area_ha", "flags", "in_farmland", "in_redline",
            "in_udb", "priority", "status", "department", "comment", "history", "save", "saved", "none", "no_patch",
            "loading", "error", "updated", "at", "actor", "county", "category", "subtype", "carried", "yes", "no",
            "unknown")


def _context(lang: str, path: str, city: str, query: dict[str, Any] | None = None) -> dict[str, Any]:
    ctx = _common(lang, path, city, query, staff=True)  # conflict pages are for staff only
    ctx["t"] = TEXT[lang]
    ctx["conflicts_active"] = True
    ctx["conflict_assets"] = {"js": CONFLICTS_JS, "css": CONFLICTS_CSS}
    return ctx


@lru_cache(maxsize=1)
def category_colours() -> dict[str, dict[str, str]]:
    """Fill and stroke colour of each patch category (``conflict_colours.csv``)."""
    with COLOURS_CSV.open(encoding="utf-8", newline="") as fh:
        return {r["category"].strip(): {"fill": r["fill"].strip(), "stroke": (r["stroke"] or "").strip()}
                for r in csv.DictReader(fh)}


def colour_of(category: str | None) -> dict[str, str]:
    """The colours of a category (a neutral grey for one the table does not know)."""
    return category_colours().get(category or "", DEFAULT_COLOUR)


# ------------------------------------------------------------------------------- the runs list


def render_runs(runs: list[dict[str, Any]], *, layers: list[dict[str, Any]], profiles: list[dict[str, Any]],
                city: str, lang: str = "zh", values: dict[str, Any] | None = None,
                error: str | None = None) -> str:
    """Every run (newest first) and the form to start one; with ``error`` the form is shown again
    with the message and the values kept.

    ``runs``: dicts with id, profile, profile_label, a_ref, b_ref, a_version, b_version,
    started_at, by_category ({category: count}), patches. ``layers``: ref, label, scheme,
    version. ``profiles``: name, label, switches (names).
    """
    lang = lang_code(lang)
    rows = [{**r, "date": when(r.get("finished_at") or r.get("started_at")),
             "cats": [{"category": c, "count": n, "colour": colour_of(c)["fill"]}
                      for c, n in sorted((r.get("by_category") or {}).items())]} for r in runs]
    v = {"profile": "landuse_vs_urban", "min_area_m2": "400", "tolerance_m": "1", "conditional_construction": True,
         **(values or {})}
    return _ENV.get_template("conflicts.html").render(
        **_context(lang, "/conflicts", city), runs=rows, layers=layers, profiles=profiles, values=v, error=error)


# ------------------------------------------------------------------------------- one run's page


def render_run(run: dict[str, Any], *, mode: str, bounds: list[float] | None, categories: dict[str, tuple[str, str]],
               statuses: dict[str, tuple[str, str]], quality: dict[str, Any], city: str, lang: str = "zh",
               basemap: str = "none", tianditu_key: str | None = None,
               extent_lonlat: tuple[float, float, float, float] = (103.3, 34.0, 105.6, 36.3),
               assets_missing: list[str] | None = None,
               switch_labels: dict[str, tuple[str, str]] | None = None) -> str:
    """A run's page.

    ``run``: as ``conflict_results.get_run`` gives it (summary with names filled in). ``mode``:
    the profile's mode (``construction`` or ``control``), which sets the legend's categories.
    ``bounds``: lon/lat [w, s, e, n] of its patches. ``categories``: category → (zh, en) names
    with the profile's side labels. ``statuses``: status → (zh, en). ``quality``: the
    data-quality summary (count, area and per side/kind). ``switch_labels``: switch → (zh, en).
    """
    lang = lang_code(lang)
    idx = 0 if lang == "zh" else 1
    t = TEXT[lang]
    summary = run.get("summary") or {}
    run_id = run["id"]
    mode_cats = MODE_CATEGORIES.get(mode, MODE_CATEGORIES["construction"])
    present = [c["category"] for c in summary.get("by_category") or []]
    legend_cats = list(dict.fromkeys([*mode_cats, *present]))
    legend = [{"category": c, "label": (categories.get(c) or (c, c))[idx], **colour_of(c)} for c in legend_cats]
    name_key = "name_zh" if lang == "zh" else "name_en"
    sub_key = "subtype_zh" if lang == "zh" else "subtype_en"
    by_cat = [{"category": c["category"], "name": c.get(name_key) or c["category"],
               "subtype": c.get(sub_key) or c.get("subtype") or "", "count": c["count"],
               "area": num(c["area_m2"]), "ha": num(c["area_ha"], 4), "share": pct(c.get("share")),
               "colour": colour_of(c["category"])["fill"]} for c in summary.get("by_category") or []]
    total_n = sum(c["count"] for c in summary.get("by_category") or [])
    total_area = sum(c["area_m2"] for c in summary.get("by_category") or [])
    by_county = [{"code": c.get("county_code") or "", "county": c.get("county_name") or "—",
                  "category": c["category"], "name": c.get(name_key) or c["category"], "count": c["count"],
                  "area": num(c["area_m2"]), "ha": num(c["area_ha"], 4), "share": pct(c.get("share")),
                  "colour": colour_of(c["category"])["fill"]} for c in summary.get("by_county") or []]
    slivers = [{"reason": label(SLIVER_REASONS, s["reason"], lang),
                "count": s["count"], "area": num(s["area_m2"])}
               for s in summary.get("slivers") or []]
    params = run.get("params") or {}
    no_data = summary.get("no_data") or {}
    a, b = summary.get("a") or {}, summary.get("b") or {}
    exports = [
        {"label": f"{t['export_patches']} GeoPackage", "href": f"/api/conflicts/{run_id}/export?format=gpkg"},
        {"label": f"{t['export_patches']} Shapefile (zip)", "href": f"/api/conflicts/{run_id}/export?format=shp"},
        {"label": f"{t['export_patches']} GeoJSON", "href": f"/api/conflicts/{run_id}/export?format=geojson"},
        {"label": f"{t['export_slivers']} GeoPackage",
         "href": f"/api/conflicts/{run_id}/export?format=gpkg&what=slivers"},
        {"label": f"{t['export_quality']} GeoPackage",
         "href": f"/api/conflicts/{run_id}/export?format=gpkg&what=quality"},
        {"label": f"{t['export_summary']} CSV", "href": f"/api/conflicts/{run_id}/export?format=csv"},
        {"label": f"{t['export_summary']} XLSX", "href": f"/api/conflicts/{run_id}/export?format=xlsx"},
    ]
    config = {
        "lang": lang, "run_id": run_id, "bounds": bounds, "extent": list(extent_lonlat),
        "tile_url": f"/tiles/conflicts/{run_id}/{{z}}/{{x}}/{{y}}.pbf",
        "patch_at_url": f"/api/conflicts/{run_id}/patches/at",
        "patch_url": f"/api/conflicts/{run_id}/patches/{{no}}",
        "history_url": f"/api/conflicts/{run_id}/patches/{{no}}/history",
        "resolve_url": f"/api/conflicts/{run_id}/resolutions",
        "colours": {c: colour_of(c) for c in category_colours()}, "default_colour": DEFAULT_COLOUR,
        "statuses": {k: v[idx] for k, v in statuses.items()},
        "basemap": basemap, "tianditu_key": tianditu_key if basemap == "tianditu" else None,
        "t": {k: t[k] for k in JS_WORDS},
    }
    return _ENV.get_template("conflict_run.html").render(
        **_context(lang, f"/conflicts/{run_id}", city), run=run, run_id=run_id,
        profile=run.get("profile_zh") if lang == "zh" else run.get("profile_en"),
        a=a, b=b, params=params,
        switches=[{"key": k, "label": (switch_labels or {}).get(k, (k, k))[idx], "on": bool(v)}
                  for k, v in (params.get("switches") or {}).items()],
        started=when(run.get("started_at")), finished=when(run.get("finished_at")),
        legend=legend, by_cat=by_cat, total={"count": total_n, "area": num(total_area), "ha": num(total_area / 10_000, 4)},
        by_county=by_county, slivers=slivers, quality=quality,
        no_data={"a": num(no_data.get("a_no_data_m2")), "b": num(no_data.get("b_no_data_m2"))},
        compared=num(summary.get("compared_area_m2")), exports=exports,
        bulk_categories=[{"category": c["category"], "label": f"{c['category']} {c['name']}"}
                         for c in {x["category"]: x for x in by_cat}.values()],
        statuses=[(k, v[idx]) for k, v in statuses.items()], config=config,
        assets_missing=assets_missing or [],
    )
