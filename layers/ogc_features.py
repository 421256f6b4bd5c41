"""OGC API - Features, Part 1 Core (GeoJSON, OpenAPI 3.0 description) over the vector layers.

* One collection per vector layer that has a version. The **collection id is the layer's
  integer id** (the id of table ``layers``, the same id the vector tiles use): it is stable,
  since layers are never renumbered or deleted, and it is safe in a URL whatever the plan code
  or layer name contain. The title is the layer's title; the description names ``PLAN/LAYER``.
* A collection serves its layer's **newest version**. Items are in CRS84 (lon, lat), ordered by
  ``feature_no``; a feature's ``id`` is its ``feature_no``, its properties are the stored source
  attributes plus ``feature_no``, ``class_code``, ``class_raw`` and ``class_status``.
* ``bbox`` is CRS84 ``minLon,minLat,maxLon,maxLat`` (a 6-number 3D box is accepted, heights
  ignored; minLon > maxLon crosses the antimeridian). ``limit`` defaults to 100; a value above
  the maximum (``settings.ogc_max_limit``, default 10000) is served as the maximum, as the
  standard asks. ``offset`` pages; ``next``/``prev`` links carry it. ``datetime`` is accepted and
  filters nothing (features have no time property). Any other query parameter is a 400.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from sqlalchemy.orm import Session

from gis_platform.core.errors import NotFoundError
from gis_platform.core.settings import Settings

from . import service_queries as q
from .tiles import bad_request, round_out

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
GREGORIAN = "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
]
JSON = "application/json"
GEOJSON = "application/geo+json"
OPENAPI = "application/vnd.oai.openapi+json;version=3.0"
DEFAULT_LIMIT = 100
MAX_LIMIT = 10_000
DIGITS = 9  # decimal places of lon/lat (about 0.1 mm)
_DIGITS = re.compile(r"[0-9]{1,9}")  # ids: ASCII digits ("²".isdigit() is True), int4 range
_COUNT = re.compile(r"[0-9]{1,15}")  # limit, offset
ITEMS_PARAMS = frozenset({"bbox", "limit", "offset", "datetime", "f", "lang"})
OTHER_PARAMS = frozenset({"f", "lang"})


def max_limit(settings: Settings) -> int:
    """The largest page: ``settings.ogc_max_limit`` (GISPLAT_OGC_MAX_LIMIT, default 10000)."""
    value = settings.ogc_max_limit
    return int(value) if value else MAX_LIMIT


def _link(href: str, rel: str, type_: str, title: str | None = None) -> dict[str, str]:
    link = {"href": href, "rel": rel, "type": type_}
    if title:
        link["title"] = title
    return link


def _iso(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def check_params(params: Mapping[str, str], allowed: frozenset[str], *, items: bool = False) -> None:
    """Refuse unknown query parameters and formats other than JSON (400)."""
    unknown = sorted(k for k in params if k not in allowed)
    if unknown:
        names = ", ".join(unknown)
        raise bad_request(
            f"不支持的查询参数：{names}；可用：{', '.join(sorted(allowed))}",
            f"unsupported query parameter(s): {names}; supported: {', '.join(sorted(allowed))}",
        )
    fmt = params.get("f")
    formats = ("json", "geojson") if items else ("json",)
    if fmt is not None and fmt not in formats:
        raise bad_request(
            f"不支持的格式 f={fmt}；可用：{', '.join(formats)}",
            f"unsupported format f={fmt}; supported: {', '.join(formats)}",
        )


def landing(base: str, settings: Settings) -> dict[str, Any]:
    """The landing page: where the API description, conformance and collections are."""
    return {
        "title": f"{settings.city_name} 多规合一 一张图 — OGC API - Features",
        "description": "规划图层的要素服务（GeoJSON，CRS84）/ Features of the plan layers (GeoJSON, CRS84)",
        "links": [
            _link(f"{base}/ogc", "self", JSON, "本页 / this document"),
            _link(f"{base}/openapi.json", "service-desc", OPENAPI, "API 定义 / API definition"),
            _link(f"{base}/docs", "service-doc", "text/html", "API 文档 / API documentation"),
            _link(f"{base}/ogc/conformance", "conformance", JSON, "符合性类 / conformance classes"),
            _link(f"{base}/ogc/collections", "data", JSON, "要素集合 / feature collections"),
        ],
    }


def conformance() -> dict[str, Any]:
    """The conformance classes this API implements."""
    return {"conformsTo": list(CONFORMANCE)}


def _collection(row: Any, base: str, settings: Settings) -> dict[str, Any]:
    cid = str(row.id)
    ref = f"{row.plan_code}/{row.name}"
    if row.west is not None:
        bbox = round_out((row.west, row.south, row.east, row.north))
    else:  # a version with no features: the deployment extent
        bbox = [float(v) for v in settings.extent_lonlat]
    desc = f"{row.plan_name}（{ref}），版本 {row.version}，{row.feature_count} 个要素"
    if row.description:
        desc = f"{row.description} — {desc}"
    href = f"{base}/ogc/collections/{cid}"
    return {
        "id": cid,
        "title": row.title or row.name,
        "description": desc,
        "links": [
            _link(href, "self", JSON, "本集合 / this collection"),
            _link(f"{href}/items", "items", GEOJSON, "要素 / features"),
            _link(f"{base}/tiles/{cid}.json", "describedby", JSON, "矢量切片 TileJSON / vector tiles"),
        ],
        "extent": {
            "spatial": {"bbox": [bbox], "crs": CRS84},
            "temporal": {"interval": [[_iso(row.first_loaded), _iso(row.last_loaded)]], "trs": GREGORIAN},
        },
        "itemType": "feature",
        "crs": [CRS84],
    }


def _layer_id(cid: str) -> int:
    """The layer id of a collection id, or 404."""
    text = cid.strip()
    if not _DIGITS.fullmatch(text):
        raise NotFoundError(f"没有要素集合“{cid}”（集合编号是图层编号）",
                            f"no collection '{cid}' (collection ids are layer ids)")
    return int(text)


def _collection_row(session: Session, cid: str) -> Any:
    lid = _layer_id(cid)
    row = session.execute(q.COLLECTIONS, {"layer_id": lid}).one_or_none()
    if row is not None:
        return row
    layer = session.execute(q.LAYER_BY_ID, {"layer_id": lid}).one_or_none()
    if layer is not None and layer.data_kind != "vector":
        ref = f"{layer.plan_code}/{layer.name}"
        raise NotFoundError(f"图层“{ref}”是栅格图层，不提供要素服务",
                            f"layer '{ref}' is a raster layer; features are served for vector layers only")
    if layer is not None:
        ref = f"{layer.plan_code}/{layer.name}"
        raise NotFoundError(f"图层“{ref}”尚无任何版本", f"layer '{ref}' has no version yet")
    raise NotFoundError(f"没有要素集合“{cid}”", f"no collection '{cid}'")


def collections(session: Session, settings: Settings, base: str) -> dict[str, Any]:
    """Every vector layer as a collection."""
    rows = session.execute(q.COLLECTIONS, {"layer_id": None}).all()
    return {
        "links": [_link(f"{base}/ogc/collections", "self", JSON, "要素集合 / collections")],
        "collections": [_collection(r, base, settings) for r in rows],
    }


def collection(session: Session, settings: Settings, base: str, cid: str) -> dict[str, Any]:
    """One collection."""
    return _collection(_collection_row(session, cid), base, settings)


def _number(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(text)
    return value


def parse_bbox(text: str | None, settings: Settings) -> tuple[float, float, float, float] | None | bool:
    """The CRS84 box clipped to the deployment extent (with a margin); None when not given,
    False when it misses the deployment extent altogether (nothing can match)."""
    if text is None:
        return None
    usage_zh = "bbox 应为 4 个以逗号分隔的经纬度数值：最小经度,最小纬度,最大经度,最大纬度（CRS84）"
    usage_en = "bbox must be 4 comma-separated CRS84 numbers: minLon,minLat,maxLon,maxLat"
    parts = [p.strip() for p in text.split(",")]
    try:
        nums = [_number(p) for p in parts]
    except ValueError:
        raise bad_request(f"bbox“{text}”无效：{usage_zh}", f"invalid bbox '{text}': {usage_en}") from None
    if len(nums) == 6:  # 3D box: heights ignored
        nums = [nums[0], nums[1], nums[3], nums[4]]
    if len(nums) != 4:
        raise bad_request(f"bbox“{text}”有 {len(parts)} 个值：{usage_zh}",
                          f"bbox '{text}' has {len(parts)} values: {usage_en}")
    west, south, east, north = nums
    if not all(-180 <= v <= 180 for v in (west, east)) or not all(-90 <= v <= 90 for v in (south, north)):
        raise bad_request(f"bbox“{text}”超出经纬度范围（经度 −180–180，纬度 −90–90）",
                          f"bbox '{text}' is outside lon −180–180 / lat −90–90 (CRS84 lon,lat order)")
    if south > north:
        raise bad_request(f"bbox“{text}”的最小纬度大于最大纬度", f"bbox '{text}' has minLat > maxLat")
    lon0, lat0, lon1, lat1 = settings.extent_lonlat
    lon0, lat0, lon1, lat1 = lon0 - 0.5, lat0 - 0.5, lon1 + 0.5, lat1 + 0.5
    pieces = [(west, east)] if west <= east else [(west, 180.0), (-180.0, east)]  # antimeridian
    for w, e in pieces:
        box = (max(w, lon0), max(south, lat0), min(e, lon1), min(north, lat1))
        if box[0] <= box[2] and box[1] <= box[3]:
            return box
    return False


def _int_param(text: str | None, name: str, default: int, minimum: int) -> int:
    if text is None:
        return default
    t = text.strip()
    if not _COUNT.fullmatch(t) or int(t) < minimum:
        raise bad_request(f"参数 {name}=“{text}”无效，应为不小于 {minimum} 的整数",
                          f"invalid {name} '{text}': expected an integer >= {minimum}")
    return int(t)


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def items(session: Session, settings: Settings, base: str, cid: str, params: Mapping[str, str]) -> str:
    """One page of a collection's features as GeoJSON text (a FeatureCollection)."""
    check_params(params, ITEMS_PARAMS, items=True)
    limit = min(_int_param(params.get("limit"), "limit", DEFAULT_LIMIT, 1), max_limit(settings))
    offset = _int_param(params.get("offset"), "offset", 0, 0)
    box = parse_bbox(params.get("bbox"), settings)
    row = _collection_row(session, cid)
    common = {"version_id": row.version_id, "digits": DIGITS, "limit": limit, "offset": offset}
    if box is False:
        features: list[str] = []
        matched = 0
    elif box is None:
        features = list(session.execute(q.ITEMS_PAGE, common).scalars())
        matched = int(row.feature_count)
    else:
        west, south, east, north = box
        bound = {**common, "west": west, "south": south, "east": east, "north": north,
                 "srid": settings.store_srid}
        features = list(session.execute(q.ITEMS_PAGE_BBOX, bound).scalars())
        matched = int(session.execute(q.ITEMS_COUNT_BBOX, bound).scalar_one())
    href = f"{base}/ogc/collections/{row.id}/items"
    keep = {k: v for k, v in params.items() if k not in ("limit", "offset")}

    def page(off: int) -> str:
        return f"{href}?{urlencode({**keep, 'limit': limit, 'offset': off})}"

    links = [_link(page(offset), "self", GEOJSON, "本页 / this page"),
             _link(f"{base}/ogc/collections/{row.id}", "collection", JSON, "集合 / the collection")]
    if offset + len(features) < matched:
        links.append(_link(page(offset + limit), "next", GEOJSON, "下一页 / next page"))
    if offset > 0:
        links.append(_link(page(max(0, offset - limit)), "prev", GEOJSON, "上一页 / previous page"))
    head = {
        "type": "FeatureCollection",
        "numberMatched": matched,
        "numberReturned": len(features),
        "timeStamp": _now(),
        "links": links,
    }
    # The features come from PostGIS as GeoJSON text: spliced in, never parsed and re-dumped.
    return json.dumps(head, ensure_ascii=False)[:-1] + ', "features": [' + ",".join(features) + "]}"


def item(session: Session, settings: Settings, base: str, cid: str, fid: str,
         params: Mapping[str, str]) -> str:
    """One feature as GeoJSON text."""
    check_params(params, OTHER_PARAMS, items=True)
    row = _collection_row(session, cid)
    t = fid.strip()
    no = int(t) if _DIGITS.fullmatch(t) else None
    feature = None
    if no is not None:
        feature = session.execute(
            q.ITEM, {"version_id": row.version_id, "feature_no": no, "digits": DIGITS}
        ).scalar_one_or_none()
    if feature is None:
        raise NotFoundError(f"要素集合“{row.id}”中没有要素“{fid}”", f"collection '{row.id}' has no feature '{fid}'")
    href = f"{base}/ogc/collections/{row.id}"
    links = [_link(f"{href}/items/{no}", "self", GEOJSON, "本要素 / this feature"),
             _link(href, "collection", JSON, "集合 / the collection")]
    return feature[:-1] + ', "links": ' + json.dumps(links, ensure_ascii=False) + "}"

