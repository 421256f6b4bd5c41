"""The printable site pre-check report (建设项目用地预审选址合规性检查报告) from a stored check result.

Takes the JSON form of a check result (plain dicts) and renders one self-contained A4 HTML page:
no scripts, no external URLs, every value escaped by Jinja.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from gis_platform.core.clock import BEIJING
from gis_platform.core.vocabulary import CHECK_PARAMS, PARTS, PROJECT_TYPES, SEVERITIES, STATES, VERDICTS
from gis_platform.core.vocabulary import label as _label
from map_ui.svg_map import SEVERITY_COLOURS, site_map_svg

_ENV = Environment(
    loader=FileSystemLoader(Path(__file__).resolve().parent / "templates"),
    autoescape=select_autoescape(["html"]), trim_blocks=True, lstrip_blocks=True,
)

CONTROL_THEMES = ("ecological_red_line", "permanent_basic_farmland", "urban_development_boundary")
USE_THEMES = frozenset({"current_land_use", "planned_land_use", "urban_land_use", "land_use_zone",
                        "construction_control_zone", "regulatory_land_use"})
PARAM_LABELS = CHECK_PARAMS
TEXT: dict[str, dict[str, str]] = {
    "zh": {
        "title": "建设项目用地预审选址合规性检查报告", "switch": "English", "switch_lang": "en",
        "project": "项目基本情况", "code": "项目代码", "name": "项目名称", "applicant": "建设单位",
        "proposed_use": "拟用地性质", "project_type": "项目类型", "checked_at": "检查时间",
        "as_of": "数据截止时间", "run_id": "检查编号", "source": "来源文件", "sha": "文件SHA-256",
        "conclusion": "综合结论", "verdict": "检查结论", "location": "用地位置", "county": "所在县区",
        "map_note": "示意图，非正式测绘成果；坐标系", "area": "用地面积", "plane": "平面面积",
        "ellipsoidal": "椭球面积", "declared": "申报面积", "difference": "申报与计算面积差",
        "over": "超过允许阈值", "within": "在允许阈值内", "threshold": "阈值",
        "control": "三线检查情况", "other": "其他控制线与专项规划", "use": "现状与规划用途",
        "reference": "参考（已废止规划）", "layer": "图层", "state": "情况", "area_m2": "面积（m²）",
        "area_ha": "面积（公顷）", "share": "占用地比例", "severity": "判定", "rule": "规则 / 依据 / 主管部门",
        "uncovered": "未覆盖", "citation": "依据", "department": "主管部门", "none_loaded": "未载入相关图层",
        "slivers": "已按碎片容差剔除", "slope": "坡度", "threshold_deg": "坡度阈值",
        "share_above": "超过阈值比例", "area_above": "超过阈值面积", "mean": "平均坡度", "max": "最大坡度",
        "use_check": "拟用地性质与规划用途符合性", "compatible": "相符面积", "incompatible": "不相符面积",
        "incompatible_share": "不相符比例", "incompatible_classes": "不相符规划用途",
        "versions": "数据版本", "ref": "图层编号", "version": "版本", "loaded_at": "载入时间",
        "source_sha": "源文件SHA-256（前12位）", "boundary": "界址点坐标", "ring": "环",
        "point": "点号", "x": "X（北）", "y": "Y（东）", "crs": "坐标系", "params": "检查参数",
        "param": "参数", "value": "取值", "ha": "公顷", "none": "无",
        "disclaimer": "本报告为辅助审查结果，以有权机关审批为准。",
        "generated": "本报告由多规合一“一张图”平台自动生成",
        "c": "：", "lp": "（", "rp": "）", "semi": "；", "sep": "、",
    },
    "en": {
        "title": "Site pre-check report", "switch": "中文", "switch_lang": "zh",
        "project": "Project", "code": "Project code", "name": "Project name", "applicant": "Applicant",
        "proposed_use": "Proposed use", "project_type": "Project type", "checked_at": "Checked at",
        "as_of": "Data as of", "run_id": "Run id", "source": "Source file", "sha": "File SHA-256",
        "conclusion": "Overall conclusion", "verdict": "Verdict", "location": "Location", "county": "County",
        "map_note": "Sketch map, not a survey product; CRS", "area": "Site area", "plane": "Plane area",
        "ellipsoidal": "Ellipsoidal area", "declared": "Declared area", "difference": "Declared minus computed",
        "over": "over the allowed threshold", "within": "within the allowed threshold", "threshold": "threshold",
        "control": "Three control lines", "other": "Other control lines and sectoral plans",
        "use": "Current and planned land use", "reference": "Reference only (superseded plans)",
        "layer": "Layer", "state": "State", "area_m2": "Area (m²)", "area_ha": "Area (ha)",
        "share": "Share of site", "severity": "Severity", "rule": "Rule / basis / department",
        "uncovered": "not covered", "citation": "Basis", "department": "Department",
        "none_loaded": "no layer of these themes is loaded", "slivers": "dropped by the sliver tolerance",
        "slope": "Slope", "threshold_deg": "Slope threshold", "share_above": "Share above threshold",
        "area_above": "Area above threshold", "mean": "Mean slope", "max": "Maximum slope",
        "use_check": "Proposed versus planned use", "compatible": "Compatible area",
        "incompatible": "Incompatible area", "incompatible_share": "Incompatible share",
        "incompatible_classes": "Incompatible planned uses", "versions": "Data versions", "ref": "Layer",
        "version": "Version", "loaded_at": "Loaded at", "source_sha": "Source SHA-256 (first 12)",
        "boundary": "Boundary coordinates", "ring": "Ring", "point": "Point", "x": "X (north)",
        "y": "Y (east)", "crs": "CRS", "params": "Parameters", "param": "Parameter", "value": "Value",
        "ha": "ha", "none": "none",
        "disclaimer": "Assisted review; the competent authority's approval prevails.",
        "generated": "Generated by the multi-plan integration (one map) platform",
        "c": ": ", "lp": " (", "rp": ")", "semi": "; ", "sep": ", ",
    },
}


def num(value: Any, dp: int = 2) -> str:
    """A number with thousands separators and ``dp`` decimals; an em dash for missing values."""
    if value is None or value == "":
        return "—"
    try:
        return f"{float(value):,.{dp}f}"
    except (TypeError, ValueError):
        return str(value)


def pct(share: Any, dp: int = 2) -> str:
    """A 0..1 share as a percentage."""
    return "—" if share is None else f"{num(float(share) * 100, dp)}%"


def when(value: Any) -> str:
    """An ISO timestamp as Beijing time ``YYYY-MM-DD HH:MM:SS``."""
    if not value:
        return "—"
    try:
        stamp = dt.datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    if stamp.tzinfo is not None:
        return stamp.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S") + " (UTC+8)"
    return stamp.strftime("%Y-%m-%d %H:%M:%S")


def _rule(rule: dict[str, Any] | None, lang: str) -> dict[str, Any] | None:
    if not rule:
        return None
    return {"message": rule.get("message_zh") if lang == "zh" else rule.get("message_en"),
            "citation": rule.get("citation"), "department": rule.get("department"),
            "severity": rule.get("severity")}


def _class_row(c: dict[str, Any], lang: str) -> dict[str, Any]:
    name = c.get("class_name") or (c.get("class_raw") if c.get("class_raw") != c.get("class_code") else None)
    code = c.get("class_code") or c.get("class_raw") or "—"
    if c.get("part") in PARTS:  # the part of the site outside a boundary layer, not a class of it
        code, name = _label(PARTS, c["part"], lang), None
    return {"code": code, "name": name,
            "area": num(c.get("area_m2")), "ha": num(c.get("area_ha"), 4), "share": pct(c.get("share")),
            "severity": c.get("severity") or "none", "sev_label": _label(SEVERITIES, c.get("severity"), lang),
            "rule": _rule(c.get("rule"), lang)}


def _layer_row(f: dict[str, Any], lang: str) -> dict[str, Any]:
    covered = f.get("covered_share")
    classes = f.get("classes") or []
    return {
        "title": f.get("title"), "ref": f.get("ref"), "plan_name": f.get("plan_name"),
        "state": f.get("state"), "state_label": _label(STATES, f.get("state"), lang),
        "uncovered": pct(1 - covered) if covered is not None and covered < 1 else None,
        "area": num(f.get("area_m2")), "ha": num(f.get("area_ha"), 4), "share": pct(f.get("share")),
        "severity": f.get("severity") or "none", "sev_label": _label(SEVERITIES, f.get("severity"), lang),
        "rules": [r for r in (_rule(x, lang) for x in f.get("rules") or []) if r],
        "note": f.get("note_zh") if lang == "zh" else f.get("note_en"),
        "classes": [_class_row(c, lang) for c in classes if not c.get("sliver")],
        "slivers": [_class_row(c, lang) for c in classes if c.get("sliver")],
    }


def _group_layers(layers: list[dict[str, Any]], lang: str) -> list[tuple[str, list[dict[str, Any]]]]:
    control, other, use, reference = [], [], [], []
    for f in layers:
        if f.get("severity") == "reference" or f.get("plan_status") == "superseded":
            reference.append(f)
        elif f.get("theme") in CONTROL_THEMES:
            control.append(f)
        elif f.get("theme") in USE_THEMES:
            use.append(f)
        else:
            other.append(f)
    control.sort(key=lambda f: CONTROL_THEMES.index(f["theme"]))
    groups = [("control", control), ("other", other), ("use", use), ("reference", reference)]
    return [(key, [_layer_row(f, lang) for f in rows]) for key, rows in groups if rows or key == "control"]


def _versions(result: dict[str, Any]) -> list[dict[str, Any]]:
    rows = result.get("versions") or [
        {"ref": f.get("ref"), "title": f.get("title"), "version": f.get("version"),
         "source_sha256": f.get("source_sha256"), "loaded_at": f.get("loaded_at")}
        for f in result.get("layers") or [] if f.get("version") is not None
    ]
    return [{"ref": v.get("ref") or v.get("layer_ref") or "—", "title": v.get("title"),
             "version": v.get("version", v.get("version_no")),
             "sha": (v.get("source_sha256") or v.get("sha256") or "")[:12] or "—",
             "loaded_at": when(v.get("loaded_at"))} for v in rows]


def _boundary(result: dict[str, Any]) -> list[list[dict[str, str]]]:
    rings = []
    for ring in result.get("boundary") or []:
        points = []
        for no, x, y in (p[:3] for p in ring if len(p) >= 3):
            label = str(int(no)) if isinstance(no, (int, float)) and float(no).is_integer() else str(no)
            points.append({"no": label, "x": f"{float(x):.3f}", "y": f"{float(y):.3f}"})
        rings.append(points)
    return rings


def crs_name(code: str | None, lang: str = "zh") -> str:
    """A readable name for the store CRS (CGCS2000 Gauss-Krüger codes named without a lookup)."""
    if not code:
        return "—"
    try:
        epsg = int(str(code).upper().replace("EPSG:", ""))
    except ValueError:
        return str(code)
    if 4513 <= epsg <= 4533:
        zone = epsg - 4488
        return (f"2000国家大地坐标系 3度带高斯-克吕格投影 第{zone}带（EPSG:{epsg}）" if lang == "zh"
                else f"CGCS2000 / 3-degree Gauss-Kruger zone {zone} (EPSG:{epsg})")
    if 4534 <= epsg <= 4554:
        cm = 75 + 3 * (epsg - 4534)
        return (f"2000国家大地坐标系 3度带高斯-克吕格投影 中央经线{cm}°E（EPSG:{epsg}）" if lang == "zh"
                else f"CGCS2000 / 3-degree Gauss-Kruger CM {cm}E (EPSG:{epsg})")
    return f"EPSG:{epsg}"


def _params(params: dict[str, Any], lang: str) -> list[tuple[str, str]]:
    out = []
    for key, value in (params or {}).items():
        label = PARAM_LABELS.get(key)
        text = json.dumps(value, ensure_ascii=False) if isinstance(value, (dict, list)) else str(value)
        name = (label[0] if lang == "zh" else label[1]) if label else None
        out.append((f"{name} · {key}" if name else key, text))
    return out


def render_check_report(result: dict[str, Any], *, site: dict[str, Any], overlays: list[dict[str, Any]],
                        lang: str = "zh") -> str:
    """The full printable HTML report of one pre-check run.

    ``result`` is ``CheckResult.model_dump(mode="json")``; ``site`` the site geometry (GeoJSON, store
    CRS) and ``overlays`` the layer parts around it for the location map. Chinese by default,
    English with ``lang="en"``.
    """
    lang = "en" if lang == "en" else "zh"
    meta = result.get("meta") or {}
    area = result.get("area") or {}
    declared, plane = area.get("declared_area_m2"), area.get("plane_area_m2")
    slope, use = result.get("slope"), result.get("use")
    context = {
        "lang": lang, "t": TEXT[lang], "r": result, "meta": meta,
        "project_type": _label(PROJECT_TYPES, meta.get("project_type"), lang),
        "checked_at": when(result.get("checked_at")), "as_of": when(result.get("as_of")),
        "verdict": result.get("verdict"), "verdict_label": _label(VERDICTS, result.get("verdict"), lang),
        "reasons": [{"severity": x.get("severity"), "sev_label": _label(SEVERITIES, x.get("severity"), lang),
                     "text": x.get("zh") if lang == "zh" else x.get("en")} for x in result.get("reasons") or []],
        "svg": Markup(site_map_svg(site, overlays, width=640, height=440, lang=lang)),
        "area": {"plane": num(plane), "plane_ha": num(area.get("plane_area_ha"), 4),
                 "ellipsoidal": num(area.get("ellipsoidal_area_m2")),
                 "declared": num(declared), "declared_ha": num(None if declared is None else declared / 1e4, 4),
                 "diff": None if declared is None or plane is None else f"{declared - plane:+,.2f}",
                 "diff_share": pct(area.get("difference_share")), "flagged": area.get("flagged"),
                 "threshold": pct(area.get("threshold"))},
        "groups": _group_layers(result.get("layers") or [], lang),
        "slope": slope and {**slope, "share": pct(slope.get("share_above")), "area": num(slope.get("area_above_m2")),
                            "mean": num(slope.get("mean_deg"), 1), "max": num(slope.get("max_deg"), 1),
                            "state_label": _label(STATES, slope.get("state"), lang),
                            "sev_label": _label(SEVERITIES, slope.get("severity"), lang),
                            "rule_v": _rule(slope.get("rule"), lang)},
        "use": use and {**use, "compatible": num(use.get("compatible_area_m2")),
                        "incompatible": num(use.get("incompatible_area_m2")),
                        "share": pct(use.get("incompatible_share")),
                        "state_label": _label(STATES, use.get("state"), lang),
                        "sev_label": _label(SEVERITIES, use.get("severity"), lang),
                        "rule_v": _rule(use.get("rule"), lang)},
        "versions": _versions(result), "boundary": _boundary(result),
        "crs": crs_name(result.get("store_crs"), lang), "params": _params(result.get("params") or {}, lang),
        "colours": SEVERITY_COLOURS,
    }
    return _ENV.get_template("report.html").render(**context)


def html_to_pdf(html: str) -> bytes:
    """A PDF of a report page (WeasyPrint; Chinese needs a CJK font such as Noto CJK installed)."""
    from weasyprint import HTML  # imported here: it loads fonts and Pango only when a PDF is asked for

    return HTML(string=html).write_pdf()  # type: ignore[no-any-return]
