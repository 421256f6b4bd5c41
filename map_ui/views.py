"""The interactive pages: one map (一张图), the pre-check form and result, the review queue.

Rendered from plain data handed over by the web routes (map_ui never queries the store). Chinese
by default, English with ``lang="en"``. Every script and style comes from the platform itself
(``map_ui.assets``); the only outside requests a page can make are the basemap tiles, and only
when the ``GISPLAT_BASEMAP`` setting asks for them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment, FileSystemLoader, select_autoescape

from gis_platform.core.vocabulary import PROJECT_TYPES, SEVERITIES, STATES, VERDICTS
from map_ui.assets import page_assets
from map_ui.legend import colour_table, is_outline, legend
from map_ui.report import _label, _layer_row, num, pct, when
from map_ui.svg_map import SEVERITY_COLOURS

_ENV = Environment(
    loader=FileSystemLoader(Path(__file__).resolve().parent / "templates"),
    autoescape=select_autoescape(["html"]), trim_blocks=True, lstrip_blocks=True,
)

NAV = (("catalogue", "/"), ("map", "/map"), ("precheck", "/checks/new"), ("review", "/review"))
TEXT: dict[str, dict[str, str]] = {
    "zh": {
        "site": "多规合一 一张图", "catalogue": "规划目录", "map": "一张图", "precheck": "用地预审检查",
        "review": "审查队列", "api": "API 文档", "switch": "English", "switch_lang": "en",
        # one map
        "map_title": "一张图", "layers": "图层", "legend": "图例", "opacity": "透明度",
        "no_layers": "尚无可显示的矢量图层", "applies": "此处适用", "applies_hint": "点击地图查询该位置适用的规划与管控要求",
        "loading": "查询中…", "nothing": "此处没有任何图层要素", "missing_themes": "未载入数据的专题",
        "class": "分类", "severity": "判定", "rule": "规则", "citation": "依据", "department": "主管部门",
        "plan": "规划", "layer": "图层", "zoom_to": "缩放至图层", "features": "要素",
        "assets_missing": "前端资源未安装（请运行 npm ci）：", "point": "位置", "error": "查询失败",
        # form
        "form_title": "建设项目用地预审选址检查", "file": "用地红线文件",
        "file_hint": "GeoJSON、GeoPackage、Shapefile（zip）、KML、DXF 或界址点坐标 TXT；须带坐标系",
        "project_code": "项目代码", "name": "项目名称", "applicant": "建设单位", "proposed_use": "拟用地性质代码",
        "proposed_use_hint": "2023 用地用海分类代码，如 0701", "project_type": "项目类型",
        "declared_area": "申报用地面积（m²）", "crs": "坐标系（文件未带时）", "crs_hint": "如 EPSG:4523",
        "submit": "提交检查", "form_error": "未能完成检查", "nothing_stored": "未保存任何数据，请修改后重新提交。",
        "no_file": "请选择用地红线文件", "bad_area": "申报面积须为不小于 0 的数字",
        "bad_field": "输入无效",
        # result
        "result_title": "预审检查结果", "verdict": "检查结论", "reasons": "理由", "report": "打印报告",
        "report_pdf": "PDF 报告", "rerun": "按原数据与规则重新检查", "findings": "检查结果明细",
        "state": "情况", "area_m2": "面积（m²）", "share": "占用地比例", "run": "检查编号",
        "checked_at": "检查时间", "site_area": "用地面积", "county": "所在县区", "source": "来源文件",
        "site_legend": "用地红线", "slope": "坡度", "use_check": "规划用途符合性", "area_check": "面积核对",
        "declared": "申报面积", "computed": "计算面积", "submission": "申报编号", "back_review": "返回审查队列",
        "uncovered": "未覆盖",
        # review
        "review_title": "预审审查队列", "filter": "筛选", "all": "全部", "search": "搜索项目代码、名称、单位",
        "apply": "筛选", "date": "检查时间", "status": "状态", "open": "查看", "runs": "检查次数",
        "empty": "没有符合条件的申报", "current": "现行数据", "data_changed": "图层已更新，建议重新检查",
        "rerun_of": "重新检查自", "shown": "显示",
    },
    "en": {
        "site": "Multi-plan integration — one map", "catalogue": "Catalogue", "map": "One map",
        "precheck": "Site pre-check", "review": "Review queue", "api": "API docs", "switch": "中文",
        "switch_lang": "zh",
        "map_title": "One map", "layers": "Layers", "legend": "Legend", "opacity": "Opacity",
        "no_layers": "no vector layer to show yet", "applies": "What applies here",
        "applies_hint": "Click the map to see every plan and control that applies at that place",
        "loading": "Querying…", "nothing": "No layer has a feature here", "missing_themes": "Themes with no data loaded",
        "class": "Class", "severity": "Severity", "rule": "Rule", "citation": "Basis", "department": "Department",
        "plan": "Plan", "layer": "Layer", "zoom_to": "Zoom to layer", "features": "features",
        "assets_missing": "Front-end assets are not installed (run npm ci): ", "point": "Location",
        "error": "Query failed",
        "form_title": "Site pre-check", "file": "Site boundary file",
        "file_hint": "GeoJSON, GeoPackage, Shapefile (zip), KML, DXF or coordinate TXT; with a CRS",
        "project_code": "Project code", "name": "Project name", "applicant": "Applicant",
        "proposed_use": "Proposed use code", "proposed_use_hint": "2023 land-use class, e.g. 0701",
        "project_type": "Project type", "declared_area": "Declared area (m²)", "crs": "CRS (if the file has none)",
        "crs_hint": "e.g. EPSG:4523", "submit": "Run the check", "form_error": "The check could not be run",
        "nothing_stored": "Nothing was stored; correct the input and submit again.",
        "no_file": "Choose a site boundary file", "bad_area": "The declared area must be a number of at least 0",
        "bad_field": "Invalid input",
        "result_title": "Pre-check result", "verdict": "Verdict", "reasons": "Reasons", "report": "Printable report",
        "report_pdf": "PDF report", "rerun": "Re-run with the original data and rules", "findings": "Findings",
        "state": "State", "area_m2": "Area (m²)", "share": "Share of site", "run": "Run",
        "checked_at": "Checked at", "site_area": "Site area", "county": "County", "source": "Source file",
        "site_legend": "Site boundary", "slope": "Slope", "use_check": "Planned use", "area_check": "Area check",
        "declared": "Declared", "computed": "Computed", "submission": "Submission", "back_review": "Back to the review queue",
        "uncovered": "not covered",
        "review_title": "Pre-check review queue", "filter": "Filter", "all": "All",
        "search": "Search code, name, applicant", "apply": "Filter", "date": "Checked at", "status": "Status",
        "open": "Open", "runs": "Runs", "empty": "No submission matches", "current": "Data current",
        "data_changed": "Layers changed since; re-run advised", "rerun_of": "re-run of", "shown": "Showing",
    },
}


def _lang(lang: str) -> str:
    return "en" if lang == "en" else "zh"


def _common(lang: str, path: str, city: str, query: dict[str, Any] | None = None) -> dict[str, Any]:
    """What every page's frame needs: words, navigation, the language switch link."""
    t = TEXT[lang]
    q = {k: v for k, v in (query or {}).items() if v not in (None, "") and k != "lang"}
    suffix = "?lang=en" if lang == "en" else ""
    return {"lang": lang, "t": t, "nt": t, "city": city, "assets": page_assets(), "path": path,
            "nav": [{"key": k, "href": href + suffix, "label": t[k], "active": href == path} for k, href in NAV],
            "switch_href": f"{path}?{urlencode({**q, 'lang': t['switch_lang']})}", "lang_q": suffix}


def nav_context(lang: str, path: str, city: str) -> dict[str, Any]:
    """The navigation bar's context for pages that have their own words (the catalogue)."""
    ctx = _common(_lang(lang), path, city)
    return {k: ctx[k] for k in ("nav", "nt", "switch_href", "city")}


def _words(lang: str, keys: tuple[str, ...]) -> dict[str, str]:
    return {k: TEXT[lang][k] for k in keys}


# --------------------------------------------------------------------------------------- one map


def render_map(layers: list[dict[str, Any]], *, city: str, lang: str = "zh", basemap: str = "none",
               tianditu_key: str | None = None, extent_lonlat: tuple[float, float, float, float],
               view: dict[str, float] | None = None, assets_missing: list[str] | None = None) -> str:
    """The one-map page.

    ``layers``: dicts with ``id``, ``ref``, ``title``, ``plan``, ``plan_name``, ``plan_kind``,
    ``theme``, ``class_scheme``, ``feature_count`` and ``bounds`` (lon/lat, or None). Each is drawn from the vector tiles
    ``/tiles/{id}/{z}/{x}/{y}.pbf``; a click asks ``/api/applies``.
    """
    lang = _lang(lang)
    items = []
    for i, lyr in enumerate(layers):
        outline = is_outline(lyr.get("theme"))
        items.append({**lyr, "outline": outline, "label": lyr.get("title") or lyr.get("name") or lyr.get("ref"),
                      "z": 400 + i if outline else 200 + i})
    groups: dict[str, dict[str, Any]] = {}
    for lyr in items:
        g = groups.setdefault(lyr["plan"], {"plan": lyr["plan"], "name": lyr.get("plan_name") or lyr["plan"],
                                            "kind": lyr.get("plan_kind"), "layers": []})
        g["layers"].append(lyr)
    config = {
        "lang": lang, "layers": [{"id": x["id"], "ref": x["ref"], "label": x["label"], "theme": x.get("theme"),
                                  "scheme": x.get("class_scheme"), "outline": x["outline"], "z": x["z"],
                                  "bounds": x.get("bounds")}
                                 for x in items],
        "tile_url": "/tiles/{layer}/{z}/{x}/{y}.pbf", "tilejson_url": "/tiles/{layer}.json",
        "applies_url": "/api/applies", "colours": colour_table(), "severity_colours": SEVERITY_COLOURS,
        "severities": {k: v[0 if lang == "zh" else 1] for k, v in SEVERITIES.items()},
        "basemap": basemap, "tianditu_key": tianditu_key if basemap == "tianditu" else None,
        "extent": list(extent_lonlat), "view": view, "opacity": 0.7,
        "t": _words(lang, ("applies", "applies_hint", "loading", "nothing", "missing_themes", "class", "severity",
                           "rule", "citation", "department", "plan", "layer", "point", "error")),
    }
    ctx = _common(lang, "/map", city)
    return _ENV.get_template("map.html").render(
        **ctx, groups=list(groups.values()), legend=legend(items, lang), config=config,
        assets_missing=assets_missing or [],
    )


# -------------------------------------------------------------------------------- pre-check form


def render_check_form(*, city: str, lang: str = "zh", values: dict[str, Any] | None = None,
                      error: str | None = None, problems: list[str] | None = None) -> str:
    """The upload form; with ``error`` it is shown again with the message and the values kept."""
    lang = _lang(lang)
    types = [(k, v[0] if lang == "zh" else v[1]) for k, v in PROJECT_TYPES.items()]
    return _ENV.get_template("check_form.html").render(
        **_common(lang, "/checks/new", city), values=values or {}, error=error, problems=problems or [],
        project_types=types,
    )


# ------------------------------------------------------------------------------- pre-check result


def render_check_result(result: dict[str, Any], *, site: dict[str, Any], pieces: list[dict[str, Any]],
                        context: list[dict[str, Any]], city: str, lang: str = "zh") -> str:
    """The result page of a run: the site and the conflicting pieces on a map, findings, verdict.

    ``site``, ``pieces`` and ``context`` geometries are GeoJSON in lon/lat (they are small).
    """
    lang = _lang(lang)
    t = TEXT[lang]
    meta = result.get("meta") or {}
    area = result.get("area") or {}
    layers = result.get("layers") or []
    order = {"applies": 0, "no_data": 1, "does_not_apply": 2}
    rows = [_layer_row(f, lang) for f in sorted(layers, key=lambda f: order.get(f.get("state"), 3))]
    for row, f in zip(rows, sorted(layers, key=lambda f: order.get(f.get("state"), 3))):
        row["theme"] = f.get("theme")
    slope, use = result.get("slope"), result.get("use")
    extra = []
    if slope:
        extra.append({"title": t["slope"], "state_label": _label(STATES, slope.get("state"), lang),
                      "state": slope.get("state"), "area": num(slope.get("area_above_m2")),
                      "share": pct(slope.get("share_above")), "severity": slope.get("severity") or "none",
                      "sev_label": _label(SEVERITIES, slope.get("severity"), lang),
                      "rule": (slope.get("rule") or {}).get("message_zh" if lang == "zh" else "message_en")})
    if use:
        extra.append({"title": t["use_check"], "state_label": _label(STATES, use.get("state"), lang),
                      "state": use.get("state"), "area": num(use.get("incompatible_area_m2")),
                      "share": pct(use.get("incompatible_share")), "severity": use.get("severity") or "none",
                      "sev_label": _label(SEVERITIES, use.get("severity"), lang),
                      "rule": (use.get("rule") or {}).get("message_zh" if lang == "zh" else "message_en")})
    run_id = result.get("run_id")
    config = {"site": site, "pieces": pieces, "context": context, "severity_colours": SEVERITY_COLOURS,
              "site_label": t["site_legend"]}
    return _ENV.get_template("check_result.html").render(
        **_common(lang, f"/checks/{run_id}", city), r=result, meta=meta, run_id=run_id,
        verdict=result.get("verdict"), verdict_label=_label(VERDICTS, result.get("verdict"), lang),
        reasons=[{"severity": x.get("severity"), "sev_label": _label(SEVERITIES, x.get("severity"), lang),
                  "text": x.get("zh") if lang == "zh" else x.get("en")} for x in result.get("reasons") or []],
        project_type=_label(PROJECT_TYPES, meta.get("project_type"), lang),
        checked_at=when(result.get("checked_at")), rows=rows, extra=extra,
        area={"plane": num(area.get("plane_area_m2")), "ha": num(area.get("plane_area_ha"), 4),
              "declared": num(area.get("declared_area_m2")), "flagged": area.get("flagged")},
        pieces=pieces, config=config, colours=SEVERITY_COLOURS,
    )


# ---------------------------------------------------------------------------------- review queue


def render_review(rows: list[dict[str, Any]], *, city: str, lang: str = "zh", verdict: str | None = None,
                  q: str | None = None, limit: int | None = None) -> str:
    """The review queue: each submission's latest run with verdict, status and date."""
    lang = _lang(lang)
    t = TEXT[lang]
    items = []
    for r in rows:
        items.append({**r, "verdict_label": _label(VERDICTS, r.get("verdict"), lang),
                      "type_label": _label(PROJECT_TYPES, r.get("project_type"), lang),
                      "checked": when(r.get("checked_at")), "area": num(r.get("area_m2")),
                      "status_label": t["data_changed"] if r.get("data_changed") else t["current"],
                      "status": "changed" if r.get("data_changed") else "current"})
    verdicts = [(k, v[0] if lang == "zh" else v[1]) for k, v in VERDICTS.items()]
    return _ENV.get_template("review.html").render(
        **_common(lang, "/review", city, {"verdict": verdict, "q": q}), rows=items, verdicts=verdicts,
        verdict=verdict, q=q or "", limit=limit, colours=SEVERITY_COLOURS,
    )


# --------------------------------------------------------------------------------------- sign-in

LOGIN_TEXT = {
    "zh": {"title": "登录", "username": "用户名", "password": "密码", "submit": "登录",
           "hint": "账号由系统管理员开通（gisplat users add）。", "bad": "用户名或密码错误"},
    "en": {"title": "Sign in", "username": "Username", "password": "Password", "submit": "Sign in",
           "hint": "Accounts are opened by the administrator (gisplat users add).", "bad": "wrong username or password"},
}


def render_login(*, city: str, lang: str = "zh", next_url: str = "/", username: str = "",
                 error: str | None = None) -> str:
    """The sign-in page."""
    lang = _lang(lang)
    ctx = _common(lang, "/login", city)
    return _ENV.get_template("login.html").render(**ctx, w=LOGIN_TEXT[lang], next=next_url, username=username,
                                                  error=error)
