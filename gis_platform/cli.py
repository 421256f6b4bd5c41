"""The ``gisplat`` command. Each command composes domain functions; no SQL, no geometry math."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import subprocess
import sys
import unicodedata
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any

import click

from gis_platform.core import clock
from gis_platform.core.db import embedded_cluster, session_scope
from conflict_checks.bootstrap import prepare_store as open_store
from gis_platform.core.errors import InputError, PlatformError
from gis_platform.core.settings import Settings, get_settings

REPO_ROOT = Path(__file__).resolve().parent.parent


def columns(value: object) -> int:
    """Terminal columns ``value`` takes: a Chinese character (or full-width sign) takes two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in str(value))


def cell(value: object, width: int, align: str = "<") -> str:
    """``value`` padded to ``width`` terminal columns, so that columns of Chinese text line up."""
    text = str(value)
    pad = " " * max(0, width - columns(text))
    return pad + text if align == ">" else text + pad


class Ctx:
    """Per-invocation state: settings, output mode, language."""

    def __init__(self, as_json: bool, lang: str | None) -> None:
        self.settings: Settings = get_settings()
        self.as_json = as_json
        self.lang = lang or self.settings.lang

    def t(self, zh: str, en: str) -> str:
        """Pick the text for the current language."""
        return zh if self.lang == "zh" else en

    def out(self, payload: Any, text: str | Callable[[], str]) -> None:
        """Print JSON or human text."""
        if self.as_json:
            click.echo(json.dumps(payload, ensure_ascii=False, indent=2, default=str))
        else:
            click.echo(text() if callable(text) else text)


def json_option(f: Callable[..., Any]) -> Callable[..., Any]:
    """Add ``--json`` to a command."""
    return click.option("--json", "as_json", is_flag=True, help="机器可读的 JSON 输出 / JSON output")(f)


def command(f: Callable[..., Any]) -> Callable[..., Any]:
    """Turn PlatformError into a clean message and a non-zero exit; never a traceback."""

    @json_option
    @click.pass_obj
    @wraps(f)
    def wrapper(obj: dict[str, Any], as_json: bool, *args: Any, **kwargs: Any) -> None:
        ctx = Ctx(as_json, obj.get("lang"))
        try:
            f(ctx, *args, **kwargs)
        except PlatformError as exc:
            if ctx.as_json:
                click.echo(json.dumps(exc.as_dict(), ensure_ascii=False, indent=2))
            else:
                click.echo(ctx.t("错误：", "Error: ") + exc.message(ctx.lang), err=True)
            sys.exit(1)

    return wrapper


@click.group()
@click.option("--lang", type=click.Choice(["zh", "en"]), default=None,
              help="界面语言 / output language (default: GISPLAT_LANG or zh)")
@click.version_option(package_name="gis-platform")
@click.pass_context
def main(ctx: click.Context, lang: str | None) -> None:
    """多规合一 一张图 平台 / multi-plan integration GIS platform."""
    ctx.obj = {"lang": lang}


# --------------------------------------------------------------------------- db
@main.group()
def db() -> None:
    """数据库（内置 PostGIS）/ the store (embedded PostGIS)."""


@db.command("start")
@command
def db_start(ctx: Ctx) -> None:
    """初始化并启动内置数据库，升级表结构 / start the embedded cluster and migrate."""
    if ctx.settings.database_url:
        open_store(ctx.settings)
        ctx.out({"embedded": False}, ctx.t("使用外部数据库（GISPLAT_DATABASE_URL），不启动内置集群",
                                          "using GISPLAT_DATABASE_URL; no embedded cluster started"))
        return
    open_store(ctx.settings)
    info = embedded_cluster(ctx.settings).info()
    assert info is not None
    ctx.out({"embedded": True, "running": True, **info.public()},
            ctx.t(f"内置数据库已运行：{info.public()['url']}（套接字 {info.socket_dir}）",
                  f"embedded database running: {info.public()['url']} (socket {info.socket_dir})"))


@db.command("stop")
@command
def db_stop(ctx: Ctx) -> None:
    """停止内置数据库 / stop the embedded cluster."""
    stopped = embedded_cluster(ctx.settings).stop()
    ctx.out({"stopped": stopped}, ctx.t("已停止" if stopped else "内置数据库未在运行",
                                        "stopped" if stopped else "the embedded cluster was not running"))


@db.command("status")
@command
def db_status(ctx: Ctx) -> None:
    """数据库位置与状态 / where the store is and whether it runs."""
    if ctx.settings.database_url:
        ctx.out({"embedded": False}, ctx.t("使用外部数据库（GISPLAT_DATABASE_URL）", "using GISPLAT_DATABASE_URL"))
        return
    cluster = embedded_cluster(ctx.settings)
    info = cluster.info()
    running = cluster.is_running() if info else False
    payload = {"embedded": True, "initialised": info is not None, "running": running,
               **(info.public() if info else {"home": str(ctx.settings.home_abs)})}
    lines = [ctx.t("内置数据库", "embedded database") + ": " +
             (ctx.t("运行中", "running") if running else ctx.t("未运行", "not running"))]
    lines += [f"  {k}: {v}" for k, v in payload.items() if k not in ("embedded", "running")]
    ctx.out(payload, "\n".join(lines))


@db.command("migrate")
@command
def db_migrate(ctx: Ctx) -> None:
    """升级表结构并载入分类代码表 / migrate the schema and seed code tables."""
    open_store(ctx.settings)
    ctx.out({"migrated": True}, ctx.t("表结构已是最新", "schema is up to date"))


# --------------------------------------------------------------------------- plans
@main.group()
def plans() -> None:
    """规划目录 / the plan catalogue."""


@plans.command("list")
@command
def plans_list(ctx: Ctx) -> None:
    """列出规划 / list plans."""
    from plans.schemas import PlanPublic
    from plans.service import list_plans

    with session_scope(open_store(ctx.settings)) as s:
        rows = [PlanPublic.of(p).model_dump(mode="json") for p in list_plans(s)]
    ctx.out(rows, lambda: "\n".join(
        f"{r['code']:<24} {cell(r['kind_zh'], 18)} {cell(r['status_zh'], 8)} {r['name']}" for r in rows)
        or ctx.t("（无规划）", "(no plans)"))


@plans.command("add")
@click.option("--code", required=True, help="规划代码（唯一）/ unique plan code")
@click.option("--name", required=True, help="规划名称 / plan name")
@click.option("--kind", required=True, help="规划类型 / kind, e.g. territorial, land_use_master")
@click.option("--authority", help="编制/管理部门 / authority")
@click.option("--status", default="active", show_default=True, help="draft / active / superseded")
@click.option("--approved-on", type=click.DateTime(["%Y-%m-%d"]), help="批复日期 YYYY-MM-DD")
@click.option("--effective-from", type=click.DateTime(["%Y-%m-%d"]))
@click.option("--effective-to", type=click.DateTime(["%Y-%m-%d"]))
@click.option("--description")
@command
def plans_add(ctx: Ctx, code: str, name: str, kind: str, authority: str | None, status: str,
              approved_on: dt.datetime | None, effective_from: dt.datetime | None,
              effective_to: dt.datetime | None, description: str | None) -> None:
    """登记规划 / add a plan."""
    from plans.schemas import PlanPublic
    from plans.service import create_plan

    with session_scope(open_store(ctx.settings)) as s:
        plan = create_plan(
            s, code=code, name=name, kind=kind, authority=authority, status=status,
            approved_on=approved_on.date() if approved_on else None,
            effective_from=effective_from.date() if effective_from else None,
            effective_to=effective_to.date() if effective_to else None, description=description,
        )
        row = PlanPublic.of(plan).model_dump(mode="json")
    ctx.out(row, ctx.t(f"已登记规划 {code}", f"plan {code} added"))


@plans.command("show")
@click.argument("code")
@command
def plans_show(ctx: Ctx, code: str) -> None:
    """规划详情及图层 / show a plan and its layers."""
    from plans.schemas import PlanPublic
    from plans.service import get_plan, list_layers

    with session_scope(open_store(ctx.settings)) as s:
        plan = PlanPublic.of(get_plan(s, code)).model_dump(mode="json")
        layers = [{"name": lyr.name, "title": lyr.title, "data_kind": lyr.data_kind, "theme": lyr.theme}
                  for lyr, _ in list_layers(s, code)]
    ctx.out({**plan, "layers": layers}, lambda: "\n".join(
        [f"{k}: {v}" for k, v in plan.items() if v is not None]
        + [ctx.t("图层：", "layers:")] + [f"  {x['name']} ({x['title']}, {x['data_kind']})" for x in layers]))


# --------------------------------------------------------------------------- ingest
@main.command("ingest")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--plan", required=True, help="规划代码 / plan code")
@click.option("--layer", required=True, help="图层名 / layer name")
@click.option("--kind", "plan_kind", help="规划不存在时按此类型创建 / create the plan with this kind")
@click.option("--class-field", help="分类代码字段 / attribute holding the class code")
@click.option("--scheme", help="分类体系 gb2023|gbt21010|sandiao|gb50137|tdyt|gzq")
@click.option("--theme", help="主题，如 ecological_red_line / theme")
@click.option("--title", help="图层显示名 / layer title")
@click.option("--crs", help="文件未声明坐标系时指定，如 EPSG:4523 / CRS when the file has none")
@click.option("--encoding", help="属性编码，如 GBK / attribute encoding")
@click.option("--source-layer", help="多图层文件中的图层 / layer inside a multi-layer file")
@click.option("--geometry", type=click.Choice(["polygon", "line", "point"]), default="polygon", show_default=True)
@click.option("--repair", is_flag=True, help="显式修复无效几何并报告面积变化 / repair invalid geometry explicitly")
@click.option("--coverage", help="数据覆盖范围 features|extent|PLAN/LAYER / where the layer has data")
@command
def ingest_cmd(ctx: Ctx, path: Path, **opts: Any) -> None:
    """载入文件为图层的新版本 / load a file as a new layer version."""
    from plans.ingest import IngestRequest, ingest
    from plans.schemas import VersionPublic

    from layers.overlaps import check_after_load

    engine = open_store(ctx.settings)
    with session_scope(engine) as s:
        v = ingest(s, ctx.settings, IngestRequest(path=path, **opts))
        row = VersionPublic.of(v).model_dump(mode="json")
        version_id = v.id
    row["layer"] = f"{opts['plan']}/{opts['layer']}"
    # The new version's internal overlaps, checked once now that it is stored (its own transaction).
    qa = check_after_load(engine, version_id, ctx.settings.store_srid)
    row["overlaps"] = {"pairs": qa.pairs, "area_m2": round(qa.area_m2, 2)} if qa else None

    def text() -> str:
        lines = [ctx.t(f"已载入 {row['layer']} 第 {row['version']} 版：{row['feature_count']} 个要素",
                       f"loaded {row['layer']} version {row['version']}: {row['feature_count']} features")]
        if row["total_area_m2"]:
            lines.append(ctx.t(f"  总面积 {row['total_area_m2']:.2f} m²", f"  total area {row['total_area_m2']:.2f} m²"))
        lines.append(f"  CRS {row['source_crs']}  sha256 {row['source_sha256'][:16]}…")
        rep = row["report"]
        for r in rep.get("repairs", []):
            lines.append(ctx.t(f"  修复 {r['feature']}：{r['problem_zh']}，面积 {r['area_before']} → {r['area_after']}",
                               f"  repaired {r['feature']}: {r['problem_en']}, area {r['area_before']} → {r['area_after']}"))
        for n in rep.get("notes", []):
            lines.append("  " + ctx.t("提示", "note") + f": {n['feature'] + ': ' if n['feature'] else ''}{n['zh'] if ctx.lang == 'zh' else n['en']}")
        unmapped = rep.get("classes", {}).get("unmapped", {})
        if unmapped:
            lines.append(ctx.t("  未映射代码：", "  unmapped codes: ") + ", ".join(f"{k}×{v}" for k, v in unmapped.items()))
        if row["overlaps"] is not None:
            lines.append(_overlaps_line(ctx, row["overlaps"]["pairs"], row["overlaps"]["area_m2"]))
        return "\n".join(lines)

    ctx.out(row, text)


def _overlaps_line(ctx: Ctx, pairs: int, area_m2: float) -> str:
    if pairs == 0:
        return ctx.t("  内部重叠：无", "  internal overlaps: none")
    return ctx.t(f"  内部重叠：{pairs} 对要素，共 {area_m2:.2f} m²（数据质量问题，检查时不重复计算）",
                 f"  internal overlaps: {pairs} feature pairs, {area_m2:.2f} m² in all "
                 "(a data-quality finding; checks never count them twice)")


# --------------------------------------------------------------------------- layers
@main.group()
def layers() -> None:
    """图层 / layers."""


@layers.command("overlaps")
@click.argument("layer", required=False)
@click.option("--version", "version", type=int, help="版本号（默认最新）/ version (default newest)")
@click.option("--unchecked", is_flag=True, help="检查所有尚未检查的矢量版本 / check every vector version not checked yet")
@command
def layers_overlaps(ctx: Ctx, layer: str | None, version: int | None, unchecked: bool) -> None:
    """图层内部重叠质检 / find the pairs of a layer version's features that overlap."""
    from layers.overlaps import check_unchecked, check_version_overlaps
    from plans.service import get_version, resolve_layer

    if (layer is None) == (not unchecked):
        raise InputError("请给出一个图层，或使用 --unchecked", "give one layer, or --unchecked")
    engine = open_store(ctx.settings)
    if unchecked:
        reports = check_unchecked(engine, ctx.settings.store_srid)
    else:
        with session_scope(engine) as s:
            lyr = resolve_layer(s, layer)
            if lyr.data_kind != "vector":
                raise InputError(f"图层 {layer} 是栅格图层", f"layer {layer} is a raster layer")
            vid = get_version(s, lyr, version).id
        reports = [r for r in [check_version_overlaps(engine, vid, ctx.settings.store_srid)] if r]
    rows = [{"version_id": r.version_id, "pairs": r.pairs, "area_m2": round(r.area_m2, 2),
             "seconds": round(r.seconds, 3)} for r in reports]

    def text() -> str:
        return "\n".join(f"{ctx.t('版本', 'version')} {r['version_id']}:" + _overlaps_line(ctx, r["pairs"], r["area_m2"])[1:]
                         for r in rows) or ctx.t("没有需要检查的版本", "no version to check")

    ctx.out(rows, text)


@layers.command("list")
@click.option("--plan", help="只列出该规划的图层 / only this plan's layers")
@command
def layers_list(ctx: Ctx, plan: str | None) -> None:
    """列出图层及其最新版本 / list layers with their newest version."""
    from plans.schemas import LayerPublic
    from plans.service import layer_versions, list_layers

    with session_scope(open_store(ctx.settings)) as s:
        rows = [LayerPublic.of(lyr, p, layer_versions(s, lyr)).model_dump(mode="json")
                for lyr, p in list_layers(s, plan)]
    for r in rows:
        r["versions_count"] = len(r["versions"])
        r["current"] = r["versions"][-1] if r["versions"] else None
        if not ctx.as_json:
            continue

    def text() -> str:
        out = []
        for r in rows:
            cur = r["current"]
            size = ""
            if cur and cur.get("raster_meta"):
                m = cur["raster_meta"]
                size = f"{m['width']}×{m['height']} {ctx.t('像元', 'pixels')}, {m['resolution'][0]:g} m"
            elif cur:
                size = f"{cur['feature_count']} {ctx.t('要素', 'features')}"
            out.append(f"{r['ref']:<40} {r['data_kind']:<6} v{cur['version'] if cur else '-'} {size}  {r['title'] or ''}")
        return "\n".join(out) or ctx.t("（无图层）", "(no layers)")

    ctx.out(rows, text)


@layers.command("show")
@click.argument("layer")
@command
def layers_show(ctx: Ctx, layer: str) -> None:
    """图层详情与所有版本 / a layer and all its versions."""
    from plans.schemas import LayerPublic
    from plans.service import layer_versions, resolve_layer

    with session_scope(open_store(ctx.settings)) as s:
        lyr = resolve_layer(s, layer)
        row = LayerPublic.of(lyr, lyr.plan, layer_versions(s, lyr)).model_dump(mode="json")

    def text() -> str:
        out = [f"{row['ref']}  {row['title'] or ''}  ({row['data_kind']}, theme={row['theme']}, "
               f"scheme={row['class_scheme']}, class_field={row['class_field']})"]
        for v in row["versions"]:
            out.append(f"  v{v['version']}  {v['loaded_at'][:19]}  {v['source_name']}  {v['source_crs']}  "
                       f"{v['feature_count']} {ctx.t('要素', 'features')}  sha256 {v['source_sha256'][:12]}…  "
                       f"{v['loaded_by']}")
        return "\n".join(out)

    ctx.out(row, text)


# --------------------------------------------------------------------------- export
@main.command("export")
@click.argument("layer")
@click.option("--format", "fmt", type=click.Choice(["gpkg", "shp", "geojson"]), required=True)
@click.option("--out", type=click.Path(path_type=Path), required=True)
@click.option("--version", "version", type=int, help="版本号（默认最新）/ version (default newest)")
@command
def export_cmd(ctx: Ctx, layer: str, fmt: str, out: Path, version: int | None) -> None:
    """导出图层版本 / export a layer version."""
    from layers.export import export_frame, version_frame
    from plans.service import get_version, resolve_layer

    with session_scope(open_store(ctx.settings)) as s:
        lyr = resolve_layer(s, layer)
        v = get_version(s, lyr, version)
        frame = version_frame(s, v.id, ctx.settings.store_srid)
        name = lyr.name
        number = v.version
    path = export_frame(frame, fmt, out, name)
    ctx.out({"layer": layer, "version": number, "features": len(frame), "out": str(path)},
            ctx.t(f"已导出 {layer} 第 {number} 版（{len(frame)} 个要素）到 {path}",
                  f"exported {layer} version {number} ({len(frame)} features) to {path}"))


# --------------------------------------------------------------------------- check
def _check_text(ctx: Ctx, r: dict[str, Any]) -> str:
    from conflict_checks.schemas import SEVERITIES, STATES, VERDICTS
    from gis_platform.core.vocabulary import PARTS

    zh = ctx.lang == "zh"
    out = [ctx.t(f"检查记录 {r['run_id']}（用地 {r['area']['plane_area_m2']:,.2f} m² / {r['area']['plane_area_ha']:.4f} ha）",
                 f"check run {r['run_id']} (site {r['area']['plane_area_m2']:,.2f} m² / {r['area']['plane_area_ha']:.4f} ha)"),
           ctx.t("结论：", "verdict: ") + VERDICTS[r["verdict"]][0 if zh else 1]]
    for reason in r["reasons"]:
        out.append(f"  [{SEVERITIES[reason['severity']][0 if zh else 1]}] {reason['zh'] if zh else reason['en']}")
    out.append(ctx.t("图层：", "layers:"))
    title_w = max((columns(f["title"]) for f in r["layers"]), default=0)
    state_w = max((columns(STATES[f["state"]][0 if zh else 1]) for f in r["layers"]), default=0)
    for f in r["layers"]:
        state = STATES[f["state"]][0 if zh else 1]
        out.append(f"  {cell(f['title'], title_w)} {cell(state, state_w)} {f['area_m2']:>14,.2f} m² {f['share']:>8.2%}  "
                   f"{SEVERITIES[f['severity']][0 if zh else 1]}  {f['ref'] or ''}")
        for c in f["classes"]:
            if c["sliver"]:
                continue
            label, name = c["class_code"] or c["class_raw"] or "—", c["class_name"] or ""
            if c.get("part") in PARTS:  # the part of the site outside a boundary layer
                label, name = PARTS[c["part"]][0 if zh else 1], ""
            out.append(f"      {cell(label, 10)} {cell(name, 24)} {c['area_m2']:>12,.2f} m² {c['share']:>8.2%}")
    s = r.get("slope")
    if s and s["state"] != "no_data":
        out.append(ctx.t(f"坡度：>{s['threshold_deg']:g}° 占 {s['share_above']:.1%}，平均 {s['mean_deg']}°，最大 {s['max_deg']}°",
                         f"slope: {s['share_above']:.1%} above {s['threshold_deg']:g}°, mean {s['mean_deg']}°, max {s['max_deg']}°"))
    return "\n".join(out)


@main.command("check")
@click.argument("path", type=click.Path(path_type=Path), required=False)
@click.option("--use", "proposed_use", help="拟用地性质（2023 用地用海代码）/ proposed use code")
@click.option("--type", "project_type", default="ordinary", show_default=True,
              type=click.Choice(["ordinary", "linear_infrastructure", "village", "major_project"]))
@click.option("--project-code", help="项目代码 / project code")
@click.option("--name", help="项目名称 / project name")
@click.option("--applicant", help="建设单位 / applicant")
@click.option("--declared-area", type=float, help="申报面积 m²（TXT 文件默认取地块面积）/ declared area m²")
@click.option("--crs", help="文件未声明坐标系时指定 / CRS when the file has none")
@click.option("--encoding", help="属性编码 / attribute encoding")
@click.option("--source-layer", help="多图层文件中的图层 / layer inside a multi-layer file")
@click.option("--batch", is_flag=True, help="每个要素作为一个候选用地 / one site per feature")
@click.option("--as-of", "as_of", type=click.DateTime(), help="按此时刻（北京时间）的数据版本检查 / use the data as of this time (Beijing time)")
@click.option("--rerun", type=int, help="用原数据版本与规则重新运行记录 / re-run a stored check")
@click.option("--report", "report", type=click.Path(path_type=Path), help="写出报告（.html 或 .pdf）/ write the report (.html or .pdf)")
@click.option("--survey", "survey_id", type=int, help="以已验收的勘测定界成果为用地范围 / use an accepted survey result as the site")
@command
def check_cmd(ctx: Ctx, path: Path | None, proposed_use: str | None, project_type: str,
              project_code: str | None, name: str | None, applicant: str | None,
              declared_area: float | None, crs: str | None, encoding: str | None,
              source_layer: str | None, batch: bool, as_of: dt.datetime | None, rerun: int | None,
              report: Path | None, survey_id: int | None) -> None:
    """用地预审选址检查 / site pre-check of a project boundary."""
    from conflict_checks.precheck import rerun_check
    from conflict_checks.review import check_and_route
    from conflict_checks.schemas import ProjectMeta
    from conflict_checks.site import sites_from_file

    engine = open_store(ctx.settings)
    results = []
    if rerun is not None:
        with session_scope(engine) as s:
            results.append(rerun_check(s, ctx.settings, rerun))
    else:
        if (path is None) == (survey_id is None):
            raise PlatformError("请给出用地范围文件、--survey 或 --rerun 之一",
                                "give one of a boundary file, --survey or --rerun")
        meta = ProjectMeta(project_code=project_code, name=name, applicant=applicant,
                           proposed_use=proposed_use, project_type=project_type,  # type: ignore[arg-type]
                           declared_area_m2=declared_area)
        if survey_id is not None:
            from surveys.service import site_from_survey

            with session_scope(engine) as s:
                sites = [site_from_survey(s, ctx.settings, survey_id)]
        else:
            sites = sites_from_file(path, ctx.settings, crs=crs, encoding=encoding,  # type: ignore[arg-type]
                                    source_layer=source_layer, batch=batch)
        when = clock.beijing(as_of) if as_of else None
        for site in sites:
            m = meta.model_copy(update={"name": meta.name or site.label})
            with session_scope(engine) as s:
                results.append(check_and_route(s, ctx.settings, site, m, None, as_of=when))
    rows = [r.model_dump(mode="json") for r in results]
    if report is not None:
        from conflict_checks.report import write_report

        with session_scope(engine) as s:
            write_report(s, ctx.settings, rows[0]["run_id"], report, lang=ctx.lang)
    ctx.out(rows if batch else rows[0], lambda: "\n\n".join(_check_text(ctx, r) for r in rows))


@main.command("applies")
@click.option("--point", nargs=2, type=float, help="经度 纬度（或 --crs 下的 x y）/ lon lat, or x y in --crs")
@click.option("--file", "path", type=click.Path(path_type=Path), help="面范围文件 / an area file")
@click.option("--crs", default=None, help="--point 的坐标系（默认 EPSG:4490）/ CRS of --point (default EPSG:4490)")
@click.option("--type", "project_type", default="ordinary", show_default=True,
              type=click.Choice(["ordinary", "linear_infrastructure", "village", "major_project"]))
@command
def applies_cmd(ctx: Ctx, point: tuple[float, float] | None, path: Path | None, crs: str | None,
                project_type: str) -> None:
    """此处适用的全部规划与管控要求 / what applies at a point or in an area."""
    from conflict_checks.applies import what_applies
    from conflict_checks.site import point_in_store, sites_from_file

    if (point is None) == (path is None):
        raise PlatformError("请给出 --point 或 --file 之一", "give either --point or --file")
    engine = open_store(ctx.settings)
    if point is not None:
        geom = point_in_store(point[0], point[1], crs or "EPSG:4490", ctx.settings)
    else:
        geom = sites_from_file(path, ctx.settings, crs=crs)[0].geom  # type: ignore[arg-type]
    with session_scope(engine) as s:
        res = what_applies(s, ctx.settings, geom, project_type).model_dump(mode="json")

    def text() -> str:
        from conflict_checks.schemas import SEVERITIES

        out = []
        for f in res["features"]:
            cls = f["class_code"] or f["class_raw"] or ""
            area = f" {f['area_m2']:,.2f} m²" if f["area_m2"] else ""
            out.append(f"{f['ref']:<36} v{f['version']} #{f['feature_no']:<6} {cls:<10} {f['class_name'] or ''}"
                       f"{area}  {SEVERITIES[f['severity']][0 if ctx.lang == 'zh' else 1]}")
        for sv in res.get("extra", {}).get("surveys", []):
            out.append(ctx.t(f"测绘成果 #{sv['package_id']} {sv['project_code']} {sv['item_zh']} v{sv['version']} "
                             f"{sv['firm']}（已验收，共享给 {', '.join(sv['shared_with'])}）",
                             f"survey result #{sv['package_id']} {sv['project_code']} {sv['item_en']} v{sv['version']} "
                             f"{sv['firm']} (accepted, shared with {', '.join(sv['shared_with'])})"))
        if res["missing_themes"]:
            out.append(ctx.t("无数据（未载入）：", "no data (not loaded): ") + ", ".join(res["missing_themes"]))
        return "\n".join(out) or ctx.t("此处没有任何图层要素", "no feature of any layer here")

    ctx.out(res, text)


@main.group()
def rules() -> None:
    """检查规则 / pre-check rules."""


@rules.command("list")
@command
def rules_list(ctx: Ctx) -> None:
    """列出规则 / list rules."""
    from conflict_checks.rules import list_rules

    with session_scope(open_store(ctx.settings)) as s:
        rows = list_rules(s)
    ctx.out(rows, lambda: "\n".join(
        f"{r['key']:<28} {r['theme']:<28} {r['when']:<8} {r['severity']:<15} {','.join(r['classes'] or [])} "
        f"{','.join(r['project_types'] or [])}" for r in rows))


@rules.command("load")
@click.argument("path", type=click.Path(path_type=Path, exists=True), required=False)
@command
def rules_load(ctx: Ctx, path: Path | None) -> None:
    """从 YAML 载入/更新规则 / load or update rules from YAML."""
    from conflict_checks.rules import RULES_FILE, load_rules

    with session_scope(open_store(ctx.settings)) as s:
        n = load_rules(s, path or RULES_FILE)
    ctx.out({"rules": n}, ctx.t(f"已载入 {n} 条规则", f"{n} rules loaded"))


# --------------------------------------------------------------------------- demo
@main.group()
def demo() -> None:
    """演示数据 / demo data."""


@demo.command("load")
@click.option("--dir", "out_dir", type=click.Path(path_type=Path), default=None,
              help="生成目录（默认 GISPLAT_HOME/demo）/ where to generate")
@command
def demo_load(ctx: Ctx, out_dir: Path | None) -> None:
    """生成定西演示数据并载入 / generate the Dingxi demo set and load it."""
    from plans.manifest import load_manifest

    out_dir = out_dir or ctx.settings.home_abs / "demo"
    script = REPO_ROOT / "data" / "make_demo.py"
    manifest = REPO_ROOT / "data" / "demo_manifest.yaml"
    marker = out_dir / ".complete"
    stamp = hashlib.sha256(script.read_bytes()).hexdigest()
    if not marker.exists() or marker.read_text().strip() != stamp:
        res = subprocess.run([sys.executable, str(script), "--out", str(out_dir)], capture_output=True, text=True)
        if res.returncode != 0:
            raise PlatformError(f"生成演示数据失败：{res.stderr[-800:]}", f"demo generation failed: {res.stderr[-800:]}")
        marker.write_text(stamp + "\n")
    engine = open_store(ctx.settings)

    def progress(o: Any) -> None:
        if not ctx.as_json:
            mark = {"loaded": "✓", "skipped": "=", "failed": "✗"}[o.status]
            click.echo(f" {mark} {o.ref} {('v' + str(o.version)) if o.version else ''} "
                       f"{o.features if o.features is not None else ''} {o.message or ''}".rstrip())

    outcomes = load_manifest(engine, ctx.settings, manifest, out_dir, progress)
    from gis_platform.core.accounts import ensure_demo_users

    with session_scope(engine) as s:
        made = ensure_demo_users(s, REPO_ROOT / "data" / "demo_users.yaml")
    if made and not ctx.as_json:
        click.echo(ctx.t(f"演示账号：{', '.join(made)}（密码见 data/demo_users.yaml）",
                         f"demo accounts: {', '.join(made)} (passwords in data/demo_users.yaml)"))
    failed = [o for o in outcomes if o.status == "failed"]
    ctx.out([o.__dict__ for o in outcomes],
            ctx.t(f"演示数据：{len(outcomes) - len(failed)} 个图层就绪，{len(failed)} 个失败",
                  f"demo data: {len(outcomes) - len(failed)} layers ready, {len(failed)} failed"))
    if failed:
        sys.exit(1)


# --------------------------------------------------------------------------- serve
@main.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@command
def serve(ctx: Ctx, host: str, port: int) -> None:
    """启动网页与 API 服务 / run the web app and API."""
    import uvicorn

    from gis_platform.web.app import create_app

    open_store(ctx.settings)
    click.echo(ctx.t(f"平台已启动：http://{host}:{port}/ （登录 /login；API 文档 /docs；演示账号见 README）",
                     f"platform running at http://{host}:{port}/ (sign in at /login; API docs at /docs; "
                     "demo accounts in the README)"))
    uvicorn.run(create_app(ctx.settings), host=host, port=port, log_level="warning")


from gis_platform.cli_conflicts import conflicts  # noqa: E402 (needs Ctx and command above)

main.add_command(conflicts)
from gis_platform.cli_users import users  # noqa: E402

main.add_command(users)

from gis_platform.cli_surveys import surveys  # noqa: E402 (needs Ctx and command above)

main.add_command(surveys)

if __name__ == "__main__":  # pragma: no cover
    main()
