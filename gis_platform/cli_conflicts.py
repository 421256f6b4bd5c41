"""``gisplat conflicts``: plan-vs-plan conflict runs (差异图斑) and their resolution workflow."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from conflict_checks.bootstrap import prepare_store as open_store
from gis_platform.cli import Ctx, cell, columns, command
from gis_platform.core.db import session_scope
from gis_platform.core.errors import PlatformError
from gis_platform.core.vocabulary import SLIVER_REASONS, label


def _run_options(f: Callable[..., Any]) -> Callable[..., Any]:
    opts = [
        click.option("--a", "a_ref", help="A 方图层 PLAN/LAYER（如土规）/ side A layer"),
        click.option("--b", "b_ref", help="B 方图层 PLAN/LAYER（如城规或控制线）/ side B layer"),
        click.option("--profile", default="landuse_vs_urban", show_default=True,
                     help="比对方案 landuse_vs_urban | territorial_vs_regulatory | plan_vs_control"),
        click.option("--min-area", type=float, help="最小图斑面积（平方米，默认 400）/ minimum patch area m²"),
        click.option("--tolerance", type=float, help="内缩容差（米，默认 1；1:1万数字化用 5）/ inward buffer m"),
        click.option("--conditional-construction/--no-conditional-construction", default=None,
                     help="有条件建设区（020）是否计为建设用地 / whether 020 counts as construction"),
        click.option("--engine", "engine_name", type=click.Choice(["local", "dask"]), default="local",
                     show_default=True, help="计算引擎 / compute engine"),
        click.option("--workers", type=int, help="并行进程数（默认 CPU 数）/ worker processes"),
        click.option("--per-tile", type=int, default=6000, show_default=True,
                     help="每个空间分块约含的要素数（越小内存越省）/ features per spatial tile"),
        click.option("--dask-address", help="已有 Dask 集群地址（默认本机临时集群）/ scheduler address"),
    ]
    for o in reversed(opts):
        f = o(f)
    return f


def _category_text(ctx: Ctx, run: dict[str, Any]) -> str:
    s = run["summary"]
    head = ctx.t(
        f"差异分析 #{run['id']}（{run['profile_zh']}）：A={s['a']['ref']} v{s['a']['version']}，"
        f"B={s['b']['ref']} v{s['b']['version']}，比对面积 {s['compared_area_m2'] / 10_000:,.4f} 公顷",
        f"conflict run #{run['id']} ({run['profile_en']}): A={s['a']['ref']} v{s['a']['version']}, "
        f"B={s['b']['ref']} v{s['b']['version']}, compared {s['compared_area_m2'] / 10_000:,.4f} ha")
    lines = [head]
    names = [" ".join(x for x in (c["name_zh"] if ctx.lang == "zh" else c["name_en"],
                                  c.get("subtype_zh" if ctx.lang == "zh" else "subtype_en")) if x)
             for c in s["by_category"]]
    width = max(map(columns, names), default=0)
    for c, name in zip(s["by_category"], names, strict=True):
        lines.append(f"  {c['category']:<9} {cell(name, width)} {c['count']:>8}  {c['area_m2']:>16,.2f} m²"
                     f"  {c['area_ha']:>12,.4f} ha  {c['share'] * 100:6.2f}%")
    for sl in s["slivers"]:
        why = label(SLIVER_REASONS, sl["reason"], ctx.lang)
        lines.append(ctx.t(f"  碎片（{why}）已过滤：{sl['count']} 个，{sl['area_m2']:,.2f} m²",
                           f"  slivers ({why}) filtered: {sl['count']}, {sl['area_m2']:,.2f} m²"))
    for k, v in s["data_quality"].items():
        lines.append(ctx.t(f"  数据质量 {k}：{v['count']} 处，{v['area_m2']:,.2f} m²",
                           f"  data quality {k}: {v['count']}, {v['area_m2']:,.2f} m²"))
    carried = run.get("carried") or {}
    if carried.get("from_run"):
        lines.append(ctx.t(f"  沿用上次分析 #{carried['from_run']} 的处理意见 {carried['kept']} 条，"
                           f"消失图斑 {len(carried['disappeared'])} 个",
                           f"  resolutions carried from run #{carried['from_run']}: {carried['kept']}, "
                           f"patches gone: {len(carried['disappeared'])}"))
    return "\n".join(lines)


@click.group("conflicts", invoke_without_command=True)
@_run_options
@click.option("--json", "as_json", is_flag=True, help="机器可读的 JSON 输出 / JSON output")
@click.pass_context
def conflicts(cctx: click.Context, as_json: bool, **opts: Any) -> None:
    """差异图斑分析：gisplat conflicts --a 土规 --b 城规 [--profile …] / plan-vs-plan conflicts."""
    if cctx.invoked_subcommand is None:
        if not opts.get("a_ref") and not opts.get("b_ref"):
            click.echo(cctx.get_help())
            return
        cctx.invoke(conflicts_run, as_json=as_json, **opts)


@conflicts.command("run")
@_run_options
@command
def conflicts_run(ctx: Ctx, a_ref: str | None, b_ref: str | None, profile: str, min_area: float | None,
                  tolerance: float | None, conditional_construction: bool | None, engine_name: str,
                  workers: int | None, per_tile: int, dask_address: str | None) -> None:
    """运行差异分析 / run a conflict analysis."""
    from conflict_checks.conflict_results import get_run
    from conflict_checks.conflict_run import run_conflicts

    if not a_ref or not b_ref:
        raise PlatformError("请给出 --a 与 --b 两个图层", "give both --a and --b layers")
    switches = {} if conditional_construction is None else {"conditional_construction": conditional_construction}
    engine = open_store(ctx.settings)
    run_id = run_conflicts(engine, ctx.settings, a_ref, b_ref, profile, min_area=min_area, tolerance=tolerance,
                           switches=switches, engine_name=engine_name, workers=workers,
                           dask_address=dask_address, per_tile=per_tile)
    with session_scope(engine) as s:
        run = get_run(s, run_id)
    ctx.out(run, lambda: _category_text(ctx, run))


@conflicts.command("list")
@command
def conflicts_list(ctx: Ctx) -> None:
    """列出差异分析 / list conflict runs."""
    from conflict_checks.conflict_results import list_runs

    with session_scope(open_store(ctx.settings)) as s:
        rows = list_runs(s)
    ctx.out(rows, lambda: "\n".join(
        f"#{r['id']:<5} {r['profile']:<26} {r['a_ref']} × {r['b_ref']}  {r['finished_at']:%Y-%m-%d %H:%M}"
        for r in rows) or ctx.t("尚无差异分析", "no conflict runs yet"))


@conflicts.command("show")
@click.argument("run_id", type=int)
@command
def conflicts_show(ctx: Ctx, run_id: int) -> None:
    """差异分析的参数与汇总 / a run's parameters and summary."""
    from conflict_checks.conflict_results import get_run

    with session_scope(open_store(ctx.settings)) as s:
        run = get_run(s, run_id)
    ctx.out(run, lambda: _category_text(ctx, run))


@conflicts.command("patches")
@click.argument("run_id", type=int)
@click.option("--category", help="只列此类型，如 03 / only this category")
@click.option("--status", help="只列此状态 / only this status")
@click.option("--slivers", is_flag=True, help="列出被过滤的碎片 / list the filtered slivers")
@click.option("--limit", type=int, default=100, show_default=True)
@click.option("--offset", type=int, default=0)
@command
def conflicts_patches(ctx: Ctx, run_id: int, category: str | None, status: str | None, slivers: bool,
                      limit: int, offset: int) -> None:
    """列出图斑 / list patches."""
    from conflict_checks.conflict_results import patches

    with session_scope(open_store(ctx.settings)) as s:
        rows = patches(s, run_id, slivers=slivers, category=category, status=status, limit=limit, offset=offset)
    ctx.out(rows, lambda: "\n".join(
        f"{r['patch_no']:>7} {r['category']:<8} {r['a_code'] or r['a_raw'] or '':<6} {r['b_code'] or r['b_raw'] or '':<6}"
        f" {r['area_m2']:>14,.2f} m² P{r['priority']} {r['status']:<9} {r['department'] or ''}"
        f" {r['filter_reason'] or ''}" for r in rows))


@conflicts.command("update")
@click.argument("run_id", type=int)
@click.option("--patch", "patch_nos", type=int, multiple=True, help="图斑编号（可多次）/ patch number")
@click.option("--category", help="按类型批量 / all patches of this category")
@click.option("--min-area", type=float, help="按面积批量：不小于 / area at least (m²)")
@click.option("--max-area", type=float, help="按面积批量：小于 / area below (m²)")
@click.option("--status", type=click.Choice(["open", "amend_a", "amend_b", "accepted", "deferred"]))
@click.option("--department", help="承办部门 / assignee department")
@click.option("--comment", help="处理意见 / comment")
@command
def conflicts_update(ctx: Ctx, run_id: int, patch_nos: tuple[int, ...], category: str | None,
                     min_area: float | None, max_area: float | None, status: str | None,
                     department: str | None, comment: str | None) -> None:
    """记录处理状态、承办部门、意见（可批量）/ record status, department, comment (bulk allowed)."""
    from conflict_checks.conflict_results import update_patches

    with session_scope(open_store(ctx.settings)) as s:
        done = update_patches(s, run_id, patch_nos=list(patch_nos) or None, category=category,
                              min_area=min_area, max_area=max_area, status=status, department=department,
                              comment=comment)
    ctx.out({"updated": done}, ctx.t(f"已更新 {len(done)} 个图斑", f"{len(done)} patches updated"))


@conflicts.command("progress")
@click.argument("run_id", type=int)
@command
def conflicts_progress(ctx: Ctx, run_id: int) -> None:
    """各部门处理进度 / progress per department."""
    from conflict_checks.conflict_results import STATUSES, progress

    with session_scope(open_store(ctx.settings)) as s:
        rows = progress(s, run_id)
    depts = [r["department"] or ctx.t("（未分派）", "(unassigned)") for r in rows]
    states = [STATUSES[r["status"]][0 if ctx.lang == "zh" else 1] for r in rows]
    dw, sw = max(map(columns, depts), default=0), max(map(columns, states), default=0)
    ctx.out(rows, lambda: "\n".join(
        f"{cell(d, dw)} {cell(st, sw)} {r['n']:>6}  {r['area_m2']:,.2f} m²"
        for r, d, st in zip(rows, depts, states, strict=True)))


@conflicts.command("export")
@click.argument("run_id", type=int)
@click.option("--out", type=click.Path(path_type=Path), required=True,
              help="输出文件：.gpkg/.shp/.geojson（图斑），.csv/.xlsx（汇总表）/ output file")
@click.option("--what", type=click.Choice(["patches", "slivers", "quality"]), default="patches", show_default=True,
              help="图斑、碎片审计集或数据质量问题 / patches, the sliver audit set, or data-quality findings")
@command
def conflicts_export(ctx: Ctx, run_id: int, out: Path, what: str) -> None:
    """导出图斑或汇总表 / export patches or the summary."""
    from conflict_checks.conflict_export import export_layer, export_summary

    with session_scope(open_store(ctx.settings)) as s:
        if out.suffix.lower() in (".csv", ".xlsx"):
            export_summary(s, run_id, out)
            n = None
        else:
            n = export_layer(s, ctx.settings, run_id, out, what=what)
    ctx.out({"out": str(out), "features": n},
            ctx.t(f"已写出 {out}" + (f"（{n} 个要素）" if n is not None else ""),
                  f"wrote {out}" + (f" ({n} features)" if n is not None else "")))
