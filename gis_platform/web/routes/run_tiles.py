"""Vector tiles of a conflict run's patches (差异图斑), for the run's page and any GIS.

``GET /tiles/conflicts/{run_id}/{z}/{x}/{y}.pbf`` — Web-Mercator XYZ, one MVT layer ``patches``
with patch_no (also the feature id), category, subtype, priority, status (the current
resolution, ``open`` when none) and area_m2. 204 when empty, 304 on a matching
``If-None-Match``. The ETag names the run and its newest resolution, so a status change gives
new tags; ``Cache-Control: no-cache`` makes clients revalidate (cheaply) every time.
"""

from __future__ import annotations

from fastapi import APIRouter, Header, Response

from conflict_checks.conflict_results import patch_tile, patch_tile_etag
from gis_platform.core.errors import InputError, NotFoundError
from layers import tiles

from ..deps import SessionDep, SettingsDep
from .ogc import JsonErrorRoute

router = APIRouter(prefix="/tiles/conflicts", tags=["tiles 矢量切片"], route_class=JsonErrorRoute)

CACHE_CONTROL = "no-cache"


@router.get(
    "/{run_id}/{z}/{x}/{y}.pbf",
    response_class=Response,
    responses={200: {"content": {tiles.MEDIA_TYPE: {}}}, 204: {"description": "empty tile"},
               304: {"description": "not modified"}},
)
def run_tile(
    run_id: str, z: str, x: str, y: str, session: SessionDep, settings: SettingsDep,
    if_none_match: str | None = Header(None),
) -> Response:
    """One vector tile of a conflict run's patches. 差异图斑矢量切片。"""
    try:
        rid = tiles.parse_int(run_id, "差异分析编号", "run id")
    except InputError:
        rid = None
    if rid is None or not 0 < rid < 2**31:
        raise NotFoundError(f"没有差异分析“{run_id}”", f"no conflict run '{run_id}'")
    zi, xi, yi = tiles.check_tile(z, x, y)
    headers = {"ETag": patch_tile_etag(session, rid, zi, xi, yi), "Cache-Control": CACHE_CONTROL}
    if tiles.etag_matches(if_none_match, headers["ETag"]):
        return Response(status_code=304, headers=headers)
    data = patch_tile(session, settings, rid, zi, xi, yi)
    if not data:
        return Response(status_code=204, headers=headers)
    return Response(data, media_type=tiles.MEDIA_TYPE, headers=headers)
