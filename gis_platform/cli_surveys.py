"""``gisplat surveys``: 多测合一 result packages — submit, list, show, accept, return, shared.

Until sign-in exists, ``--as`` says who reads (``bureau``, ``firm:NAME``, ``department:KEY``);
the default is the bureau (the operator at the console).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

import surveys as _surveys  # noqa: F401  (registers shared survey results with "what applies here")
from conflict_checks.bootstrap import prepare_store as open_store
from gis_platform.cli import Ctx, cell, command
from gis_platform.core.db import session_scope

_STATUS = {"submitted": ("已提交", "submitted"), "passed": ("检查通过", "passed"), "failed": ("检查未通过", "failed"),
           "accepted": ("已验收", "accepted"), "returned": ("已退回", "returned"), "superseded": ("已被替代", "superseded")}
_MARK = {"pass": "✓", "warning": "!", "fail": "✗"}


def _reader_option(f: Any) -> Any:
    return click.option("--as", "reader", default="bureau", show_default=True,
                        help="读者 bureau | firm:单位 | department:部门 / who reads")(f)


def _status(ctx: Ctx, s: str) -> str:
    return _STATUS.get(s, (s, s))[0 if ctx.lang == "zh" else 1]


def _line(ctx: Ctx, p: dict[str, Any]) -> str:
    item = p["item_zh"] if ctx.lang == "zh" else p["item_en"]
    return (f"#{p['id']:<5} {p['project_code']:<20} {cell(item, 20)} v{p['version']:<3} {cell(_status(ctx, p['status']), 10)} "
            f"{p['firm']}  {str(p['submitted_at'])[:19]}")


def _report_text(ctx: Ctx, p: dict[str, Any]) -> str:
    zh = ctx.lang == "zh"
    out = [_line(ctx, p)]
    if p.get("supersedes_id"):
        out.append(ctx.t(f"  替代成果 #{p['supersedes_id']}", f"  supersedes #{p['supersedes_id']}"))
    if p.get("superseded_by"):
        out.append(ctx.t(f"  已被 #{p['superseded_by']} 替代", f"  superseded by #{p['superseded_by']}"))
    if p.get("shared_with"):
        out.append(ctx.t("  共享给：", "  shared with: ") + ", ".join(p["shared_with"]))
    for f in p.get("report", {}).get("findings", []):
        where = " ".join(x for x in (f.get("file"), f.get("feature")) if x)
        out.append(f"  {_MARK[f['status']]} [{f['check']}] {where + ': ' if where else ''}"
                   f"{f['message_zh'] if zh else f['message_en']}")
    for e in p.get("history", []):
        out.append(f"  {str(e['at'])[:19]} {_status(ctx, e['status'])} {e['actor']} {e.get('reason') or ''}".rstrip())
    return "\n".join(out)


@click.group()
def surveys() -> None:
    """多测合一 测绘成果 / multi-survey result packages."""


@surveys.command("submit")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--project", "project_code", required=True, help="项目代码 / project code")
@click.option("--stage", required=True, help="阶段 land_use|construction|completion（或中文名）")
@click.option("--item", required=True, help="测绘事项，如 boundary_survey / 勘测定界")
@click.option("--firm", required=True, help="测绘单位 / surveying firm")
@click.option("--surveyor", help="测绘人员 / surveyor")
@click.option("--client", help="委托方 / commissioning party")
@click.option("--name", "project_name", help="项目名称 / project name")
@command
def surveys_submit(ctx: Ctx, path: Path, **opts: Any) -> None:
    """提交成果包（zip 或目录）并检查 / submit and check a result package."""
    from surveys.service import submit_package

    with session_scope(open_store(ctx.settings)) as s:
        p = submit_package(s, ctx.settings, path, **opts)
    ctx.out(p, lambda: _report_text(ctx, p))
    if p["status"] == "failed":
        raise SystemExit(2)  # stored with its report, but it failed: a script must notice


@surveys.command("list")
@click.option("--project", "project_code", help="项目代码 / project code")
@click.option("--status", type=click.Choice(list(_STATUS)), help="状态 / status")
@click.option("--firm", help="测绘单位 / firm")
@_reader_option
@command
def surveys_list(ctx: Ctx, project_code: str | None, status: str | None, firm: str | None, reader: str) -> None:
    """列出成果包 / list packages."""
    from surveys.service import Reader, list_packages

    with session_scope(open_store(ctx.settings)) as s:
        rows = list_packages(s, Reader.parse(reader), project_code=project_code, status=status, firm=firm)
    ctx.out(rows, lambda: "\n".join(_line(ctx, r) for r in rows) or ctx.t("（无成果包）", "(no packages)"))


@surveys.command("show")
@click.argument("package_id", type=int)
@_reader_option
@command
def surveys_show(ctx: Ctx, package_id: int, reader: str) -> None:
    """成果包详情、检查报告与历史 / a package, its check report and history."""
    from surveys.service import Reader, get_package

    with session_scope(open_store(ctx.settings)) as s:
        p = get_package(s, package_id, Reader.parse(reader))
    ctx.out(p, lambda: _report_text(ctx, p))


@surveys.command("accept")
@click.argument("package_id", type=int)
@click.option("--share", "departments", multiple=True, help="共享部门（可多次；默认按清单）/ department, repeatable")
@click.option("--no-publish", is_flag=True, help="不更新一张图图层 / do not update the one-map layer")
@_reader_option
@command
def surveys_accept(ctx: Ctx, package_id: int, departments: tuple[str, ...], no_publish: bool, reader: str) -> None:
    """验收成果并共享 / accept a package and share it."""
    from surveys.service import Reader, accept_package

    with session_scope(open_store(ctx.settings)) as s:
        p = accept_package(s, ctx.settings, package_id, reader=Reader.parse(reader),
                           departments=list(departments) or None, publish=not no_publish)
    ctx.out(p, lambda: _report_text(ctx, p))


@surveys.command("return")
@click.argument("package_id", type=int)
@click.option("--reason", required=True, help="退回理由 / reason")
@_reader_option
@command
def surveys_return(ctx: Ctx, package_id: int, reason: str, reader: str) -> None:
    """退回成果 / return a package to its firm."""
    from surveys.service import Reader, return_package

    with session_scope(open_store(ctx.settings)) as s:
        p = return_package(s, package_id, reason=reason, reader=Reader.parse(reader))
    ctx.out(p, lambda: _report_text(ctx, p))


@surveys.command("shared")
@click.option("--department", required=True, help="部门代码或名称，如 property_registration / 不动产登记")
@command
def surveys_shared(ctx: Ctx, department: str) -> None:
    """共享给某部门的已验收成果 / accepted results shared with a department."""
    from surveys.service import shared_results

    with session_scope(open_store(ctx.settings)) as s:
        rows = shared_results(s, department)
    ctx.out(rows, lambda: "\n".join(_line(ctx, r) for r in rows) or ctx.t("（无共享成果）", "(nothing shared)"))
