"""Vector tiles of every vector layer (Mapbox Vector Tile from PostGIS) and their TileJSON.

``GET /tiles/{layer_id}/{z}/{x}/{y}.pbf[?version=N]`` — Web-Mercator XYZ; 204 when empty,
304 on a matching ``If-None-Match``; repeated requests are answered from the in-process tile
cache (``layers.tiles.TileService``). ``GET /tiles/{layer_id}.json`` — TileJSON 3.0.0.
Errors are JSON in the platform's format (see ``JsonErrorRoute``).
"""

from __future__ import annotations

from fastapi import APIRouter, Header, Query, Request, Response
from starlette.concurrency import run_in_threadpool

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
async def tile(
    layer_id: str, z: str, x: str, y: str, request: Request,
    version: str | None = _VERSION,
    if_none_match: str | None = Header(None),
) -> Response:
    """One vector tile of a layer. 图层矢量切片。

    Served from the in-process caches when they know the layer's version and the tile (no
    store access, no worker thread); otherwise resolved and cut in one transaction in a
    worker thread. ``X-Tile-Cache: miss`` when the tile was cut for this request, else ``hit``.
    """
    zi, xi, yi = tiles.check_tile(z, x, y)
    key = tiles.layer_key(layer_id, version)
    service = tiles.service_for(request.app.state)
    layer = service.cached_layer(key)
    data = None
    if layer is not None:
        if tiles.etag_matches(if_none_match, tiles.etag(layer, zi, xi, yi)):
            return Response(status_code=304, headers=_headers(layer, zi, xi, yi, "hit"))
        data = service.cached_tile(layer, zi, xi, yi)
    cut = False
    if data is None:
        layer, data, cut = await run_in_threadpool(
            service.load, request.app.state.engine, key, zi, xi, yi, layer, if_none_match)
        if data is None:
            return Response(status_code=304, headers=_headers(layer, zi, xi, yi, "hit"))
    assert layer is not None
    headers = _headers(layer, zi, xi, yi, "miss" if cut else "hit")
    if not data:
        return Response(status_code=204, headers=headers)
    return Response(data, media_type=tiles.MEDIA_TYPE, headers=headers)


def _headers(layer: tiles.TileLayer, z: int, x: int, y: int, cache: str) -> dict[str, str]:
    return {"ETag": tiles.etag(layer, z, x, y), "Cache-Control": tiles.cache_control(layer),
            "X-Tile-Cache": cache}


@router.get("/{layer_id}.json")
def tilejson(
    layer_id: str, request: Request, session: SessionDep, settings: SettingsDep,
    version: str | None = _VERSION,
) -> dict[str, object]:
    """TileJSON 3.0.0 of a layer's tiles. 图层切片的 TileJSON。"""
    layer = tiles.resolve(session, layer_id, version)
    return tiles.tilejson(session, settings, layer, str(request.base_url))
