"""JSON API of the plan catalogue: plans, layers and their versions; adding a plan, loading a
layer file as a new version and exporting a version (what ``gisplat plans add``, ``ingest``,
``layers show`` and ``export`` do, over the same services)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import quote

from fastapi import APIRouter, BackgroundTasks, File, Form, Query, Request, UploadFile
from fastapi.responses import Response

from gis_platform.core.errors import InputError
from layers.export import export_frame, version_frame
from layers.overlaps import check_in_background
from plans.ingest import IngestRequest, ingest
from plans.schemas import LayerPublic, PlanCreate, PlanPublic, VersionPublic
from plans.service import (
    create_plan,
    get_plan,
    get_version,
    layer_versions,
    list_layers,
    list_plans,
    resolve_layer,
)

from ..deps import PrincipalDep, SessionDep, SettingsDep
from ..uploads import safe_name, saved_upload

router = APIRouter(prefix="/api", tags=["catalogue 规划目录"])

_MEDIA = {"gpkg": "application/geopackage+sqlite3", "geojson": "application/geo+json", "shp": "application/zip"}


@router.get("/plans", response_model=list[PlanPublic])
def plans_index(session: SessionDep) -> list[PlanPublic]:
    """Every plan. 所有规划。"""
    return [PlanPublic.of(p) for p in list_plans(session)]


@router.post("/plans", response_model=PlanPublic, status_code=201)
def plan_create(body: PlanCreate, session: SessionDep, principal: PrincipalDep) -> PlanPublic:
    """Add a plan; its code must be new (409 otherwise). 登记规划。"""
    plan = create_plan(session, code=body.code, name=body.name, kind=body.kind, authority=body.authority,
                       status=body.status, approved_on=body.approved_on, effective_from=body.effective_from,
                       effective_to=body.effective_to, description=body.description, actor=principal.name)
    return PlanPublic.of(plan)


@router.get("/plans/{code}", response_model=PlanPublic)
def plan_detail(code: str, session: SessionDep) -> PlanPublic:
    """One plan. 规划详情。"""
    return PlanPublic.of(get_plan(session, code))


@router.get("/layers", response_model=list[LayerPublic])
def layers_index(session: SessionDep, plan: str | None = None) -> list[LayerPublic]:
    """Layers with all their versions. 图层及其全部版本。"""
    return [LayerPublic.of(lyr, p, layer_versions(session, lyr)) for lyr, p in list_layers(session, plan)]


@router.get("/layers/{plan}/{layer}", response_model=LayerPublic)
def layer_detail(plan: str, layer: str, session: SessionDep) -> LayerPublic:
    """One layer with its versions. 图层详情。"""
    lyr = resolve_layer(session, f"{plan}/{layer}")
    return LayerPublic.of(lyr, lyr.plan, layer_versions(session, lyr))


@router.get("/layers/{plan}/{layer}/versions", response_model=list[VersionPublic])
def layer_version_list(plan: str, layer: str, session: SessionDep) -> list[VersionPublic]:
    """Every version of a layer, oldest first (none is ever overwritten). 图层的全部版本。"""
    lyr = resolve_layer(session, f"{plan}/{layer}")
    return [VersionPublic.of(v) for v in layer_versions(session, lyr)]


def _opt(value: str | None) -> str | None:
    return value.strip() or None if value is not None else None


@router.post("/layers/{plan}/{layer}", status_code=201)
def layer_upload(
    plan: str,
    layer: str,
    session: SessionDep,
    settings: SettingsDep,
    file: Annotated[UploadFile, File(description="图层文件（GeoJSON、GeoPackage、Shapefile zip、KML、DXF、坐标 TXT、GeoTIFF）")],
    class_field: Annotated[str | None, Form(max_length=200, description="分类代码字段 / class code attribute")] = None,
    scheme: Annotated[str | None, Form(max_length=40, description="分类体系 / classification scheme")] = None,
    theme: Annotated[str | None, Form(max_length=60, description="主题 / theme")] = None,
    title: Annotated[str | None, Form(max_length=300, description="图层显示名 / layer title")] = None,
    crs: Annotated[str | None, Form(max_length=200, description="文件未声明坐标系时指定 / CRS when the file has none")] = None,
    encoding: Annotated[str | None, Form(max_length=40, description="属性编码 / attribute encoding")] = None,
    source_layer: Annotated[str | None, Form(max_length=300, description="多图层文件中的图层 / layer inside the file")] = None,
    repair: Annotated[bool, Form(description="显式修复无效几何 / repair invalid geometry explicitly")] = False,
    coverage: Annotated[str | None, Form(max_length=400, description="features | extent | PLAN/LAYER")] = None,
    geometry: Annotated[Literal["polygon", "line", "point"], Form()] = "polygon",
    kind: Annotated[str | None, Form(max_length=40, description="规划不存在时按此类型创建 / create the plan with this kind")] = None,
    *, principal: PrincipalDep, request: Request, background: BackgroundTasks,
) -> dict[str, object]:
    """Load an uploaded file as a new version of PLAN/LAYER (the layer is created on first load).

    The same checks and refusals as ``gisplat ingest``: a refused file (no CRS, outside the city,
    invalid geometry, over a limit…) stores nothing and the message names the file and feature.
    The new version's internal overlaps are checked in the background after the response.
    载入文件为图层的新版本；被拒绝时不保存任何数据。
    """
    name = safe_name(file.filename)
    # (saved_upload takes its temporary directory out of any error raised inside it)
    with saved_upload(file, settings) as path:
        v = ingest(session, settings, IngestRequest(
            path=path, plan=plan, layer=layer, class_field=_opt(class_field), scheme=_opt(scheme),
            theme=_opt(theme), title=_opt(title), crs=_opt(crs), encoding=_opt(encoding),
            source_layer=_opt(source_layer), repair=repair, geometry=geometry, plan_kind=_opt(kind),
            display_name=name, actor=principal.name, coverage=_opt(coverage)))
        row = VersionPublic.of(v).model_dump(mode="json")
    # After the response (the version is committed by then): its internal overlap check, as
    # gisplat ingest runs it, in the server's background thread.
    background.add_task(check_in_background, request.app.state.engine, v.id, settings.store_srid)
    return {"layer": f"{plan}/{layer}", **row}


@router.get("/layers/{plan}/{layer}/export", response_class=Response,
            responses={200: {"content": {m: {} for m in _MEDIA.values()}}})
def layer_export(
    plan: str, layer: str, session: SessionDep, settings: SettingsDep,
    format: Annotated[Literal["gpkg", "shp", "geojson"], Query()] = "gpkg",
    version: Annotated[int | None, Query(ge=1, description="版本号（默认最新）/ version (default newest)")] = None,
) -> Response:
    """Download a layer version as GeoPackage, zipped Shapefile or GeoJSON (store CRS). 导出图层版本。"""
    lyr = resolve_layer(session, f"{plan}/{layer}")
    if lyr.data_kind != "vector":
        raise InputError(f"图层 {plan}/{layer} 是栅格图层，不能导出为矢量文件",
                         f"layer {plan}/{layer} is a raster layer; it cannot be exported as vector data")
    v = get_version(session, lyr, version)
    frame = version_frame(session, v.id, settings.store_srid)
    stem = f"{plan}-{lyr.name}-v{v.version}"
    suffix = "zip" if format == "shp" else format
    with tempfile.TemporaryDirectory(prefix="gisplat-export-") as tmp:
        out = export_frame(frame, format, Path(tmp) / f"{safe_name(lyr.name)}.{suffix}", lyr.name)
        data = out.read_bytes()
    filename = f"{stem}.{suffix}"
    ascii_name = filename.encode("ascii", "replace").decode("ascii").replace("?", "_").replace('"', "_")
    disposition = f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename, safe='')}"
    return Response(data, media_type=_MEDIA[format], headers={
        "Content-Disposition": disposition, "X-Layer-Version": str(v.version)})
