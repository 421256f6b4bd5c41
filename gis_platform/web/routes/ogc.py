"""OGC API - Features (Part 1 Core, GeoJSON) under ``/ogc``, for QGIS, ArcGIS and GDAL.

Collection ids are layer ids (see ``layers/ogc_features.py``). Items are
``application/geo+json`` in CRS84; everything else is ``application/json``; ``?f=json`` is
accepted. Errors are JSON in the platform's format whatever the client's Accept header.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException

from gis_platform.core.errors import PlatformError
from layers import ogc_features as ogc

from ..deps import SessionDep, SettingsDep

log = logging.getLogger("gisplat.web")


class JsonErrorRoute(APIRoute):
    """A route whose errors are always the platform's JSON error body (machine clients such as
    GDAL, QGIS or a tile renderer read these paths, never a person in a browser)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def json_errors(request: Request) -> Response:
            try:
                return await handler(request)
            except PlatformError as exc:
                return JSONResponse(exc.as_dict(), status_code=int(exc.http_status))
            except RequestValidationError as exc:
                problems = "; ".join(
                    f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in list(exc.errors())[:10]
                )
                return JSONResponse({
                    "error": "input", "message_zh": f"请求无效：{problems}",
                    "message_en": f"invalid request: {problems}", "problems": [],
                }, status_code=400)
            except HTTPException:
                raise
            except Exception:
                log.exception("unexpected error on %s", request.url.path)
                return JSONResponse({
                    "error": "internal", "message_zh": "服务器内部错误，已记录日志",
                    "message_en": "internal error; it has been logged", "problems": [],
                }, status_code=500)

        return json_errors


router = APIRouter(prefix="/ogc", tags=["OGC API - Features 要素服务"], route_class=JsonErrorRoute)

_F = Query(None, description="output format: json (default) 输出格式")


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def _geojson(text: str) -> Response:
    return Response(text, media_type=ogc.GEOJSON)


@router.get("")
def landing(request: Request, settings: SettingsDep, f: str | None = _F) -> dict[str, Any]:
    """Landing page. 要素服务首页。"""
    ogc.check_params(request.query_params, ogc.OTHER_PARAMS)
    return ogc.landing(_base(request), settings)


@router.get("/conformance")
def conformance(request: Request, f: str | None = _F) -> dict[str, Any]:
    """Conformance classes. 符合性类。"""
    ogc.check_params(request.query_params, ogc.OTHER_PARAMS)
    return ogc.conformance()


@router.get("/collections")
def collections(request: Request, session: SessionDep, settings: SettingsDep,
                f: str | None = _F) -> dict[str, Any]:
    """Every vector layer as a feature collection. 全部矢量图层。"""
    ogc.check_params(request.query_params, ogc.OTHER_PARAMS)
    return ogc.collections(session, settings, _base(request))


@router.get("/collections/{collection_id}")
def collection(collection_id: str, request: Request, session: SessionDep, settings: SettingsDep,
               f: str | None = _F) -> dict[str, Any]:
    """One collection (id = layer id). 单个要素集合（编号即图层编号）。"""
    ogc.check_params(request.query_params, ogc.OTHER_PARAMS)
    return ogc.collection(session, settings, _base(request), collection_id)


@router.get("/collections/{collection_id}/items", response_class=Response,
            responses={200: {"content": {ogc.GEOJSON: {}}}})
def items(
    collection_id: str, request: Request, session: SessionDep, settings: SettingsDep,
    bbox: str | None = Query(None, description="minLon,minLat,maxLon,maxLat (CRS84) 经纬度范围"),
    limit: str | None = Query(None, description=f"page size, 1–{ogc.MAX_LIMIT}, default {ogc.DEFAULT_LIMIT}"),
    offset: str | None = Query(None, description="features to skip (paging) 跳过的要素数"),
    datetime: str | None = Query(None, description="accepted; features carry no time, nothing is filtered"),
    f: str | None = _F,
) -> Response:
    """Features of a collection, GeoJSON in CRS84. 要素（GeoJSON，经纬度）。"""
    return _geojson(ogc.items(session, settings, _base(request), collection_id, request.query_params))


@router.get("/collections/{collection_id}/items/{feature_id}", response_class=Response,
            responses={200: {"content": {ogc.GEOJSON: {}}}})
def item(collection_id: str, feature_id: str, request: Request, session: SessionDep,
         settings: SettingsDep, f: str | None = _F) -> Response:
    """One feature (id = feature_no). 单个要素（编号即要素序号）。"""
    return _geojson(ogc.item(session, settings, _base(request), collection_id, feature_id,
                             request.query_params))
