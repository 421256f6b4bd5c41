"""The 多测合一 pages: the upload form for surveying firms (with the check report), a package's
page (report, files, history, and the bureau's accept / return actions), the bureau's list and
the list of results shared with a department.

Rendered from plain data handed over by the web routes (map_ui never queries the store).
Chinese by default, English with ``lang="en"``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

from map_ui.report import when
from map_ui.views import _common, lang_code

_ENV = Environment(
    loader=FileSystemLoader(Path(__file__).resolve().parent / "templates"),
    autoescape=select_autoescape(["html"]), trim_blocks=True, lstrip_blocks=True,
)

TEXT: dict[str, dict[str, str]] = {
    "zh": {
        "title": "多测合一 测绘成果", "new": "提交测绘成果", "list": "全部成果（规划主管部门）", "shared": "部门共享成果",
        "file": "成果包（zip）", "file_hint": "矢量（界址点 TXT、DXF、GeoJSON、GeoPackage、Shapefile）、栅格（GeoTIFF）、"
        "文档（PDF、面积表 XLSX/CSV）与可选的 metadata.json，按成果清单打包",
        "project_code": "项目代码", "stage": "阶段", "item": "测绘事项", "firm": "测绘单位", "surveyor": "测绘人员",
        "client": "委托方", "project_name": "项目名称", "submit": "提交并检查", "form_error": "成果包未被接收",
        "nothing_stored": "未保存任何数据，请修改后重新提交。", "report": "检查报告", "check": "检查项",
        "status": "状态", "where": "位置", "message": "说明", "files": "文件", "kind": "类型", "size": "大小（字节）",
        "history": "状态记录", "at": "时间", "actor": "操作人", "reason": "理由", "accept": "验收并共享",
        "return": "退回", "share_with": "共享给", "version": "版本", "supersedes": "替代", "superseded_by": "已被替代为",
        "accepted": "验收", "submitted": "提交时间", "department": "部门", "show": "查看", "empty": "没有成果包",
        "pass": "通过", "warning": "警告", "fail": "不通过", "figures": "数据", "failed_note":
        "检查未通过：成果与检查报告已保存，但不会发布或共享。请修改后重新提交（新版本将替代本版本）。",
        "precheck": "控制线预检记录", "use_as_site": "作为用地预审范围", "choose": "选择部门",
        "st_submitted": "已提交", "st_passed": "检查通过", "st_failed": "检查未通过", "st_accepted": "已验收",
        "st_returned": "已退回", "st_superseded": "已被替代",
    },
    "en": {
        "title": "Multi-survey results", "new": "Submit survey results", "list": "All results (planning bureau)",
        "shared": "Results shared with departments",
        "file": "Result package (zip)", "file_hint": "vectors (coordinate TXT, DXF, GeoJSON, GeoPackage, Shapefile), "
        "rasters (GeoTIFF), documents (PDF, area table XLSX/CSV) and an optional metadata.json, as the manifest lists",
        "project_code": "Project code", "stage": "Stage", "item": "Survey item", "firm": "Surveying firm",
        "surveyor": "Surveyor", "client": "Commissioning party", "project_name": "Project name",
        "submit": "Submit and check", "form_error": "The package was not received",
        "nothing_stored": "Nothing was stored; correct it and submit again.", "report": "Check report",
        "check": "Check", "status": "Status", "where": "Where", "message": "Why", "files": "Files", "kind": "Kind",
        "size": "Size (bytes)", "history": "History", "at": "At", "actor": "By", "reason": "Reason",
        "accept": "Accept and share", "return": "Return", "share_with": "Share with", "version": "Version",
        "supersedes": "Replaces", "superseded_by": "Replaced by", "accepted": "Accepted", "submitted": "Submitted",
        "department": "Department", "show": "Open", "empty": "No packages", "pass": "pass", "warning": "warning",
        "fail": "fail", "figures": "Figures", "failed_note": "Checks failed: the package and its report are kept but "
        "nothing is published or shared. Correct it and submit again (the new version replaces this one).",
        "precheck": "Control-line pre-check run", "use_as_site": "Use as a pre-check site", "choose": "Choose a department",
        "st_submitted": "submitted", "st_passed": "passed", "st_failed": "failed", "st_accepted": "accepted",
        "st_returned": "returned", "st_superseded": "superseded",
    },
}


def _ctx(lang: str, path: str, city: str, query: dict[str, Any] | None = None) -> dict[str, Any]:
    ctx = _common(lang, path, city, query)
    return {**ctx, "st": TEXT[lang], "surveys_active": True}


def _row(p: dict[str, Any], lang: str) -> dict[str, Any]:
    t = TEXT[lang]
    return {**p, "item_label": p["item_zh"] if lang == "zh" else p["item_en"],
            "stage_label": p["stage_zh"] if lang == "zh" else p["stage_en"],
            "status_label": t.get(f"st_{p['status']}", p["status"]), "submitted": when(p.get("submitted_at")),
            "accepted": when(p.get("accepted_at")) if p.get("accepted_at") else ""}


def render_survey_form(*, stages: list[tuple[str, str]], items: list[dict[str, str]], city: str, lang: str = "zh",
                       values: dict[str, Any] | None = None, error: str | None = None) -> str:
    """The firms' upload form (shown again with the message when a package is refused)."""
    lang = lang_code(lang)
    return _ENV.get_template("survey_form.html").render(
        **_ctx(lang, "/surveys/new", city), stages=stages, items=items, values=values or {}, error=error)


def render_survey_detail(pkg: dict[str, Any], *, departments: list[tuple[str, str]], can_decide: bool,
                         city: str, lang: str = "zh") -> str:
    """A package: its check report, files, history and (for the bureau) accept / return."""
    lang = lang_code(lang)
    t = TEXT[lang]
    findings = [{**f, "status_label": t[f["status"]], "message": f["message_zh"] if lang == "zh" else f["message_en"],
                 "figures_text": ", ".join(f"{k}={v}" for k, v in (f.get("figures") or {}).items()
                                           if not isinstance(v, (list, dict)))}
                for f in pkg["report"]["findings"]]
    order = {"fail": 0, "warning": 1, "pass": 2}
    findings.sort(key=lambda f: order[f["status"]])
    history = [{**e, "status_label": t.get(f"st_{e['status']}", e["status"]), "when": when(e["at"])}
               for e in pkg.get("history", [])]
    return _ENV.get_template("survey_detail.html").render(
        **_ctx(lang, f"/surveys/{pkg['id']}", city), p=_row(pkg, lang), findings=findings, history=history,
        departments=departments, can_decide=can_decide and pkg["status"] == "passed",
        can_return=can_decide and pkg["status"] in ("passed", "failed", "submitted"))


def render_survey_list(rows: list[dict[str, Any]], *, city: str, lang: str = "zh", title_key: str = "list",
                       departments: list[tuple[str, str]] | None = None, department: str | None = None) -> str:
    """The bureau's list of packages, or (with ``departments``) the results shared with one."""
    lang = lang_code(lang)
    path = "/surveys/shared" if departments is not None else "/surveys"
    return _ENV.get_template("survey_list.html").render(
        **_ctx(lang, path, city, {"department": department}), rows=[_row(r, lang) for r in rows],
        title_key=title_key, departments=departments, department=department)
