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
        "submit": "提交检查", "submit_busy": "检查进行中，请稍候…", "form_error": "未能完成检查", "nothing_stored": "未保存任何数据，请修改后重新提交。",
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
        "crs_hint": "e.g. EPSG:4523", "submit": "Run the check", "submit_busy": "Checking…", "form_error": "The check could not be run",
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


def lang_code(lang: str) -> str:
    """``en`` for English, ``zh`` for anything else."""
    return "en" if lang == "en" else "zh"


STAFF_ROLES = frozenset({"admin", "bureau", "department"})


def _common(lang: str, path: str, city: str, query: dict[str, Any] | None = None, *,
            role: str | None = None, staff: bool = False) -> dict[str, Any]:
    """What every page's frame needs: words, navigation, the language switch link (staff also
    get the review task link)."""
    t = TEXT[lang]
    q = {k: v for k, v in (query or {}).items() if v not in (None, "") and k != "lang"}
    suffix = "?lang=en" if lang == "en" else ""
    return {"lang": lang, "t": t, "nt": t, "city": city, "assets": page_assets(), "path": path,
            "nav": [{"key": k, "href": href + suffix, "label": t[k], "active": href == path} for k, href in NAV],
            "switch_href": f"{path}?{urlencode({**q, 'lang': t['switch_lang']})}", "lang_q": suffix,
            "nav_staff": staff or role in STAFF_ROLES, "reviews_active": path == "/reviews"}


def nav_context(lang: str, path: str, city: str, *, role: str | None = None) -> dict[str, Any]:
    """The navigation bar's context for pages that have their own words (the catalogue)."""
    ctx = _common(lang_code(lang), path, city, role=role)
    return {k: ctx[k] for k in ("nav", "nt", "switch_href", "city", "nav_staff", "reviews_active")}


def _words(lang: str, keys: tuple[str, ...]) -> dict[str, str]:
    return {k: TEXT[lang][k] for k in keys}


# --------------------------------------------------------------------------------------- one map


def render_map(layers: list[dict[str, Any]], *, city: str, lang: str = "zh", basemap: str = "none",
               tianditu_key: str | None = None, extent_lonlat: tuple[float, float, float, float],
               view: dict[str, float] | None = None, assets_missing: list[str] | None = None,
               role: str | None = None) -> str:
    """The one-map page.

    ``layers``: dicts with ``id``, ``ref``, ``title``, ``plan``, ``plan_name``, ``plan_kind``,
    ``theme``, ``class_scheme``, ``feature_count`` and ``bounds`` (lon/lat, or None). Each is drawn from the vector tiles
    ``/tiles/{id}/{z}/{x}/{y}.pbf``; a click asks ``/api/applies``.
    """
    lang = lang_code(lang)
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
    ctx = _common(lang, "/map", city, role=role)
    return _ENV.get_template("map.html").render(
        **ctx, groups=list(groups.values()), legend=legend(items, lang), config=config,
        assets_missing=assets_missing or [],
    )


# -------------------------------------------------------------------------------- pre-check form


def render_check_form(*, city: str, lang: str = "zh", values: dict[str, Any] | None = None,
                      error: str | None = None, problems: list[str] | None = None, role: str | None = None) -> str:
    """The upload form; with ``error`` it is shown again with the message and the values kept."""
    lang = lang_code(lang)
    types = [(k, v[0] if lang == "zh" else v[1]) for k, v in PROJECT_TYPES.items()]
    return _ENV.get_template("check_form.html").render(
        **_common(lang, "/checks/new", city, role=role), values=values or {}, error=error, problems=problems or [],
        project_types=types,
    )


# ------------------------------------------------------------------------------- pre-check result


def render_check_result(result: dict[str, Any], *, site: dict[str, Any], pieces: list[dict[str, Any]],
                        context: list[dict[str, Any]], city: str, lang: str = "zh",
                        review: dict[str, Any] | None = None, role: str | None = None) -> str:
    """The result page of a run: the site and the conflicting pieces on a map, findings, verdict.

    ``site``, ``pieces`` and ``context`` geometries are GeoJSON in lon/lat (they are small).
    """
    lang = lang_code(lang)
    t = TEXT[lang]
    meta = result.get("meta") or {}
    area = result.get("area") or {}
    layers = result.get("layers") or []
    order = {"applies": 0, "no_data": 1, "does_not_apply": 2}
    rows = [_layer_row(f, lang) for f in sorted(layers, key=lambda f: order.get(f.get("state"), 3))]
    targets = _dispute_targets(review, lang)
    for row, f in zip(rows, sorted(layers, key=lambda f: order.get(f.get("state"), 3))):
        row["theme"] = f.get("theme")
        row["targets"] = targets.get(f.get("version_id"), []) if f.get("version_id") is not None else []
    slope, use = result.get("slope"), result.get("use")
    extra = []
    if slope:
        extra.append({"title": t["slope"], "state_label": _label(STATES, slope.get("state"), lang),
                      "state": slope.get("state"), "area": num(slope.get("area_above_m2")),
                      "share": pct(slope.get("share_above")), "severity": slope.get("severity") or "none",
                      "sev_label": _label(SEVERITIES, slope.get("severity"), lang),
                      "rule": (slope.get("rule") or {}).get("message_zh" if lang == "zh" else "message_en"),
                      "targets": targets.get("slope", [])})
    if use:
        extra.append({"title": t["use_check"], "state_label": _label(STATES, use.get("state"), lang),
                      "state": use.get("state"), "area": num(use.get("incompatible_area_m2")),
                      "share": pct(use.get("incompatible_share")), "severity": use.get("severity") or "none",
                      "sev_label": _label(SEVERITIES, use.get("severity"), lang),
                      "rule": (use.get("rule") or {}).get("message_zh" if lang == "zh" else "message_en"),
                      "targets": targets.get("use", [])})
    run_id = result.get("run_id")
    config = {"site": site, "pieces": pieces, "context": context, "severity_colours": SEVERITY_COLOURS,
              "site_label": t["site_legend"]}
    return _ENV.get_template("check_result.html").render(
        **_common(lang, f"/checks/{run_id}", city, role=role), r=result, meta=meta, run_id=run_id,
        verdict=result.get("verdict"), verdict_label=_label(VERDICTS, result.get("verdict"), lang),
        reasons=[{"severity": x.get("severity"), "sev_label": _label(SEVERITIES, x.get("severity"), lang),
                  "text": x.get("zh") if lang == "zh" else x.get("en")} for x in result.get("reasons") or []],
        project_type=_label(PROJECT_TYPES, meta.get("project_type"), lang),
        checked_at=when(result.get("checked_at")), rows=rows, extra=extra,
        area={"plane": num(area.get("plane_area_m2")), "ha": num(area.get("plane_area_ha"), 4),
              "declared": num(area.get("declared_area_m2")), "flagged": area.get("flagged")},
        pieces=pieces, config=config, colours=SEVERITY_COLOURS, review=_review_section(review, lang),
    )


# ---------------------------------------------------------------------------------- review queue


def render_review(rows: list[dict[str, Any]], *, city: str, lang: str = "zh", verdict: str | None = None,
                  q: str | None = None, limit: int | None = None, role: str | None = None) -> str:
    """The review queue: each submission's latest run with verdict, status and date."""
    lang = lang_code(lang)
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
        **_common(lang, "/review", city, {"verdict": verdict, "q": q}, role=role), rows=items, verdicts=verdicts,
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
    lang = lang_code(lang)
    ctx = _common(lang, "/login", city)
    return _ENV.get_template("login.html").render(**ctx, w=LOGIN_TEXT[lang], next=next_url, username=username,
                                                  error=error)


# ------------------------------------------------------------------ parallel review (联审联批)

REVIEW_TEXT: dict[str, dict[str, str]] = {
    "zh": {
        "reviews": "审查任务", "review_section": "联审联批", "reviews_title": "联审联批审查任务",
        "task_department": "审查部门", "task_rules": "触发规则", "deadline": "办理期限", "overdue": "已超期",
        "on_time": "未超期", "opinion": "审查意见", "opinion_text": "意见说明", "opinion_by": "填写人",
        "opinion_at": "填写时间", "attachment": "附件", "attachment_hint": "可选：PDF、图片、DOCX 或 XLSX",
        "no_opinion": "尚未填写", "give_opinion": "填写审查意见", "submit_opinion": "提交意见", "task": "审查任务",
        "decision_title": "审批决定", "decision": "决定", "decision_text": "决定说明", "decided_by": "决定人",
        "decided_at": "决定时间", "submit_decision": "记录决定", "no_decision": "尚未作出决定",
        "no_tasks": "本次检查未触发任何部门审查", "answered": "已回复", "all_opinions": "全部意见记录",
        "dispute": "标记有误", "dispute_reason": "理由（如图斑边界错位）", "submit_dispute": "提交标记",
        "disputes": "检查结果标记与更正", "finding_no": "结果序号", "marked_by": "标记人", "marked_at": "标记时间",
        "correction_department": "更正部门", "correction_status": "更正状态", "comment": "说明",
        "no_disputes": "尚无标记", "project": "项目", "open_result": "查看检查结果",
        "open_tasks": "各部门待办审查任务", "my_tasks": "本部门审查任务", "overdue_count": "超期任务",
        "open_count": "待办任务", "no_review_tasks": "没有审查任务", "corrections": "数据更正事项",
        "no_corrections": "没有更正事项", "update": "更新", "reason": "理由", "at": "时间",
        "department_filter": "部门", "all_departments": "全部部门", "show": "查看", "status_state": "状态",
        "answered_label": "已回复", "estimated": "估算",
        "estimated_hint": "期限所在年度的节假日安排尚未录入（review_deadlines.yaml），按周一至周五计算，实际期限可能更晚",
        "op_agree": "同意", "op_agree_with_conditions": "有条件同意", "op_disagree": "不同意",
        "dec_approved": "批准", "dec_approved_with_conditions": "有条件批准", "dec_rejected": "不予批准",
        "cs_open": "待处理", "cs_in_progress": "处理中", "cs_corrected": "已更正", "cs_rejected": "不予更正",
    },
    "en": {
        "reviews": "Reviews", "review_section": "Parallel review (联审联批)", "reviews_title": "Review tasks (联审联批)",
        "task_department": "Department", "task_rules": "Rules", "deadline": "Deadline", "overdue": "overdue",
        "on_time": "on time", "opinion": "Opinion", "opinion_text": "Text", "opinion_by": "By",
        "opinion_at": "Given at", "attachment": "Attachment", "attachment_hint": "optional: PDF, image, DOCX or XLSX",
        "no_opinion": "not yet given", "give_opinion": "Give the opinion", "submit_opinion": "Submit the opinion",
        "task": "Task", "decision_title": "Decision", "decision": "Decision", "decision_text": "Reasons",
        "decided_by": "By", "decided_at": "Decided at", "submit_decision": "Record the decision",
        "no_decision": "no decision yet", "no_tasks": "This check routed nothing to any department",
        "answered": "answered", "all_opinions": "Every opinion given",
        "dispute": "Mark as wrong", "dispute_reason": "Reason (e.g. a misplaced boundary)",
        "submit_dispute": "Mark", "disputes": "Findings marked as wrong and their correction",
        "finding_no": "Finding", "marked_by": "Marked by", "marked_at": "Marked at",
        "correction_department": "Correcting department", "correction_status": "Correction", "comment": "Comment",
        "no_disputes": "nothing marked", "project": "Project", "open_result": "Open the check result",
        "open_tasks": "Open tasks of every department", "my_tasks": "Our department's review tasks",
        "overdue_count": "Overdue", "open_count": "Open", "no_review_tasks": "No review task",
        "corrections": "Data correction items", "no_corrections": "No correction item", "update": "Update",
        "reason": "Reason", "at": "At", "department_filter": "Department", "all_departments": "All departments",
        "show": "Show", "status_state": "Status", "answered_label": "answered", "estimated": "estimated",
        "estimated_hint": "the public holidays of the deadline's year are not entered yet (review_deadlines.yaml): "
                          "counted Monday to Friday, the real deadline may be later",
        "op_agree": "agree", "op_agree_with_conditions": "agree with conditions", "op_disagree": "disagree",
        "dec_approved": "approved", "dec_approved_with_conditions": "approved with conditions",
        "dec_rejected": "rejected",
        "cs_open": "open", "cs_in_progress": "in progress", "cs_corrected": "corrected", "cs_rejected": "not corrected",
    },
}
for _lang_key, _words_of_lang in TEXT.items():
    _words_of_lang.update(REVIEW_TEXT[_lang_key])

OPINION_KEYS = ("agree", "agree_with_conditions", "disagree")
DECISION_KEYS = ("approved", "approved_with_conditions", "rejected")
CORRECTION_KEYS = ("open", "in_progress", "corrected", "rejected")
ATTACHMENT_ACCEPT = ".pdf,.png,.jpg,.jpeg,.gif,.tif,.tiff,.docx,.xlsx"


def _word(lang: str, prefix: str, key: Any) -> str:
    return TEXT[lang].get(f"{prefix}_{key}", str(key or "—")) if key else "—"


def _day(value: Any) -> str:
    return str(value)[:10] if value else "—"


def _opinion_row(o: dict[str, Any], lang: str, *, at_key: str = "at", by_key: str = "opinion_by",
                 id_key: str = "id") -> dict[str, Any]:
    oid = o.get(id_key)
    return {"opinion": o.get("opinion"), "label": _word(lang, "op", o.get("opinion")), "text": o.get("text"),
            "by": o.get(by_key), "at": when(o.get(at_key)) if o.get(at_key) else "—",
            "department": o.get("department"),
            "attachment": {"name": o["attachment_name"], "href": f"/api/reviews/opinions/{oid}/attachment"}
            if o.get("attachment_name") and oid is not None else None}


def _dispute_targets(review: dict[str, Any] | None, lang: str) -> dict[Any, list[dict[str, Any]]]:
    """The stored finding rows a reviewer may mark, by the version of their layer (slope and
    planned-use checks by name)."""
    out: dict[Any, list[dict[str, Any]]] = {}
    if not review or not review.get("can_dispute"):
        return out
    for f in review.get("findings") or []:
        if f.get("layer_id") is not None:
            key: Any = f.get("version_id")
        elif f.get("theme") == "slope":
            key = "slope"
        else:
            key = "use"
        code = f.get("class_code") or f.get("class_raw") or ""
        out.setdefault(key, []).append({"no": f["finding_no"],
                                        "label": f"#{f['finding_no']} {code} {_label(STATES, f.get('state'), lang)}"
                                        .replace("  ", " ").strip()})
    return out


def _review_section(review: dict[str, Any] | None, lang: str) -> dict[str, Any] | None:
    """The review section of the result page, as words and links."""
    if review is None:
        return None
    tasks = []
    for t in review.get("tasks") or []:
        tasks.append({"id": t["id"], "department": t["department"], "rules": ", ".join(t.get("rule_keys") or []),
                      "due": _day(t.get("due_on")), "overdue": bool(t.get("overdue")),
                      "due_estimated": bool(t.get("due_estimated")),
                      "latest": _opinion_row(t, lang, at_key="opinion_at", id_key="opinion_id")
                      if t.get("opinion") else None})
    own = set(review.get("own_tasks") or [])
    decisions = [{"decision": d["decision"], "label": _word(lang, "dec", d["decision"]), "text": d.get("text"),
                  "by": d.get("decided_by"), "at": when(d.get("at"))} for d in review.get("decisions") or []]
    disputes = [{"id": d["id"], "finding_no": d["finding_no"], "reason": d.get("reason"), "by": d.get("marked_by"),
                 "at": when(d.get("at")), "department": d.get("correction_department") or "—",
                 "status": d.get("status"), "status_label": _word(lang, "cs", d.get("status")),
                 "comment": d.get("comment")} for d in review.get("disputes") or []]
    return {
        "tasks": tasks, "own_tasks": [t for t in tasks if t["id"] in own],
        "opinions": [_opinion_row(o, lang) for o in review.get("opinions") or []],
        "decisions": decisions, "decision": decisions[-1] if decisions else None,
        "answered": review.get("answered", 0), "overdue": review.get("overdue", 0),
        "disputes": disputes, "can_decide": bool(review.get("can_decide")),
        "can_dispute": bool(review.get("can_dispute")),
        "opinion_choices": [(k, _word(lang, "op", k)) for k in OPINION_KEYS],
        "decision_choices": [(k, _word(lang, "dec", k)) for k in DECISION_KEYS],
        "accept": ATTACHMENT_ACCEPT,
    }


def render_reviews(data: dict[str, Any], *, role: str, city: str, lang: str = "zh") -> str:
    """The review task page: a department's queue (deadlines, overdue highlighted, links to the
    result pages) and its correction items; for the bureau every department's open tasks."""
    lang = lang_code(lang)
    tasks = [{**t, "due": _day(t.get("due_on")), "rules": ", ".join(t.get("rule_keys") or []),
              "overdue": bool(t.get("overdue")), "due_estimated": bool(t.get("due_estimated")),
              "answered": bool(t.get("opinion")),
              "opinion_label": _word(lang, "op", t.get("opinion")) if t.get("opinion") else None}
             for t in data.get("tasks") or []]
    corrections = [{**c, "at": when(c.get("at")), "status_label": _word(lang, "cs", c.get("status"))}
                   for c in data.get("corrections") or []]
    per_dept = sorted((data.get("per_department") or {}).items())
    return _ENV.get_template("reviews.html").render(
        **_common(lang, "/reviews", city, {"department": data.get("department")} if role != "department" else None,
                  role=role),
        tasks=tasks, corrections=corrections, per_department=per_dept, overdue=data.get("overdue", 0),
        department=data.get("department"), all_departments=bool(data.get("all_departments")),
        is_department=role == "department",
        statuses=[(k, _word(lang, "cs", k)) for k in CORRECTION_KEYS],
    )
