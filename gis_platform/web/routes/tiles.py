"""Vector tiles of every vector layer (Mapbox Vector Tile from PostGIS) and their TileJSON.

``GET /tiles/{layer_id}/{z}/{x}/{y}.pbf[?version=N]`` — Web-Mercator XYZ; 204 when empty,
304 on a matching ``If-None-Match``. ``GET /tiles/{layer_id}.json`` — TileJSON 3.0.0.
Errors are JSON in the platform's format (see ``JsonErrorRoute``).
"""

from __future__ import annotations

from fastapi import APIRouter, Header, Query, Request, Response

from layers import tiles

from ..deps import SessionDep, SettingsDep
from .ogc import JsonErrorRoute

router = APIRouter(prefix="/tiles", tags=["tiles 矢量切片"], route_class=JsonErrorRoute)

_VERSION = Query(None, description="layer version number (default: the newest) 图层版本号（默认最新）")


@router.get(
    "/{layer_id}/{z}/{x}/{y}.pbf",
    response_class=Response,
    responses={200: {"content": {tiles.MEDIA_TYPE: {}}}, 204: {"description": "empty tile"},
               304: {"description": "not modified"}},
)
def tile(
    layer_id: str, z: str, x: str, y: str, session: SessionDep, settings: SettingsDep,
    version: str | None = _VERSION,
    if_none_match: str | None = Header(None),
) -> Response:
    """One vector tile of a layer. 图层矢量切片。"""
    zi, xi, yi = tiles.check_tile(z, x, y)
    layer = tiles.resolve(session, layer_id, version)
    headers = {"ETag": tiles.etag(layer, zi, xi, yi), "Cache-Control": tiles.cache_control(layer)}
    if tiles.etag_matches(if_none_match, headers["ETag"]):
        return Response(status_code=304, headers=headers)
    data = tiles.tile_bytes(session, settings, layer, zi, xi, yi)
    if not data:
        return Response(status_code=204, headers=headers)
    return Response(data, media_type=tiles.MEDIA_TYPE, headers=headers)


@router.get("/{layer_id}.json")
def tilejson(
    layer_id: str, request: Request, session: SessionDep, settings: SettingsDep,
    version: str | None = _VERSION,
) -> dict[str, object]:
    """TileJSON 3.0.0 of a layer's tiles. 图层切片的 TileJSON。"""
    layer = tiles.resolve(session, layer_id, version)
    return tiles.tilejson(session, settings, layer, str(request.base_url))
