"""The one-map page (一张图) and the front-end assets it loads, all served by the platform itself."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse
from geoalchemy2.shape import to_shape
from pyproj import CRS

from gis_platform.core.crs import store_crs, transformer
from gis_platform.core.errors import NotFoundError
from gis_platform.core.settings import Settings
from map_ui.assets import missing, ui_file, vendor_file
from map_ui.views import render_map
from plans.models import PLAN_KINDS
from plans.service import layer_versions, list_layers

from ..deps import PrincipalDep, SessionDep, SettingsDep, request_lang

router = APIRouter(include_in_schema=False)
CACHE = {"Cache-Control": "public, max-age=86400"}


def _view(request: Request) -> dict[str, float] | None:
    """An explicit map view from ``?lon=&lat=&z=`` (for shared links), else None."""
    q = request.query_params
    try:
        lon, lat, z = float(q["lon"]), float(q["lat"]), float(q.get("z", 14))
    except (KeyError, ValueError):
        return None
    if -180 <= lon <= 180 and -85 <= lat <= 85 and 0 <= z <= 22:
        return {"lon": lon, "lat": lat, "z": z}
    return None


def _bounds(extent: object, settings: Settings) -> list[float] | None:
    """A version's extent as lon/lat bounds [w, s, e, n] (tiles outside are never asked for)."""
    if extent is None:
        return None
    minx, miny, maxx, maxy = to_shape(extent).bounds
    w, s, e, n = transformer(store_crs(settings), CRS.from_epsg(4326)).transform_bounds(
        minx, miny, maxx, maxy, densify_pts=21)
    pad = 0.001
    return [round(w - pad, 6), round(s - pad, 6), round(e + pad, 6), round(n + pad, 6)]


@router.get("/map", response_class=HTMLResponse)
def one_map(request: Request, session: SessionDep, settings: SettingsDep, principal: PrincipalDep) -> HTMLResponse:
    """Every active vector layer from vector tiles, grouped by plan; click for what applies."""
    lang = request_lang(request)
    layers = []
    for lyr, plan in list_layers(session):
        if plan.status != "active" or lyr.data_kind != "vector":
            continue
        versions = layer_versions(session, lyr)
        if not versions:
            continue
        kind = PLAN_KINDS.get(plan.kind, (plan.kind, plan.kind))
        layers.append({"id": lyr.id, "ref": f"{plan.code}/{lyr.name}", "name": lyr.name, "title": lyr.title,
                       "plan": plan.code, "plan_name": plan.name, "plan_kind": kind[0 if lang == "zh" else 1],
                       "theme": lyr.theme, "class_scheme": lyr.class_scheme,
                       "feature_count": versions[-1].feature_count,
                       "bounds": _bounds(versions[-1].extent, settings)})
    return HTMLResponse(render_map(
        layers, city=settings.city_name, lang=lang, basemap=settings.basemap,
        tianditu_key=settings.tianditu_key, extent_lonlat=settings.extent_lonlat, view=_view(request),
        assets_missing=missing(settings.node_modules_dir), role=principal.user.role))


@router.get("/assets/vendor/{package}/{path:path}")
def vendor_asset(package: str, path: str, settings: SettingsDep) -> FileResponse:
    """A file of an npm package's dist/ folder, installed by ``npm ci``."""
    found = vendor_file(package, path, settings.node_modules_dir)
    if found is None:
        raise NotFoundError(f"没有前端资源 {package}/{path}（是否已运行 npm ci？）",
                            f"no front-end asset {package}/{path} (has npm ci been run?)")
    return FileResponse(found, headers=CACHE)


@router.get("/assets/ui/{path:path}")
def ui_asset(path: str) -> FileResponse:
    """Our own scripts and styles (map_ui/static)."""
    found = ui_file(path)
    if found is None:
        raise NotFoundError(f"没有页面资源 {path}", f"no page asset {path}")
    return FileResponse(found, headers=CACHE)
