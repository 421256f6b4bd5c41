"""Mapbox vector tiles of vector layers, cut by PostGIS (``ST_AsMVT``), and their TileJSON.

A tile is addressed by layer id and Web-Mercator XYZ; it shows the layer's newest version, or
version ``N`` when asked. Since a version's features never change, the tile's ETag is the version
id plus z/x/y (and a revision of the tile recipe): a client revalidates cheaply and a new
version gives new ETags.

Simplification and dropping follow the zoom: features are simplified by half a tile unit, and a
line or polygon smaller than one screen pixel (1/512 of the tile) in both directions is left out
(it would be invisible). Lengths are converted from Web-Mercator to ground metres with the
latitude of the part of the tile inside the deployment extent where the scale is smallest, so
nothing visible is ever simplified away or dropped.

Encoded tiles are kept in an in-process LRU (:class:`TileCache`, ``GISPLAT_TILE_CACHE_BYTES``)
keyed by version id, z/x/y and recipe, and the layer a tile URL resolves to in a short-lived
cache (:class:`LayerCache`, ``GISPLAT_TILE_VERSION_TTL_S``): a repeated request, or a
revalidation with ``If-None-Match``, is then answered without touching the store. Since a
version's features never change, only the layer → newest-version mapping can go stale; it is
trusted for the TTL at most, and dropped at once when this process stores a new layer version
(or changes a layer or plan row) through SQLAlchemy (see :func:`watch_catalogue`).
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.orm import Session
from sqlalchemy.pool import Pool

from gis_platform.core.errors import InputError, NotFoundError
from gis_platform.core.settings import Settings

from . import service_queries as q

MAX_ZOOM = 24  # tiles are cut on request up to this zoom
TILEJSON_MAXZOOM = 18  # advertised: clients over-zoom beyond it (a tile unit is then ~4 cm)
EXTENT = 4096  # tile units per tile side
BUFFER = 64  # tile units around the tile kept for seamless rendering
PIXELS = 512  # screen pixels per tile side, for "smaller than a pixel"
TILE_RECIPE = 1  # bump when the SQL recipe changes, so cached tiles are revalidated
MAX_AGE_NEWEST = 300  # seconds: the newest version may be replaced by a new load
MAX_AGE_VERSION = 7 * 24 * 3600  # seconds: an explicit version never changes
MEDIA_TYPE = "application/vnd.mapbox-vector-tile"
FIELDS = {"feature_no": "Number", "class_code": "String", "class_status": "String", "name_zh": "String"}

_WORLD = 2 * math.pi * 6378137.0  # Web-Mercator width in metres
_INT = re.compile(r"-?[0-9]{1,12}")  # ASCII digits only ("²".isdigit() is True)


def bad_request(zh: str, en: str) -> InputError:
    """An InputError answered with 400 (a malformed request rather than a bad upload)."""
    err = InputError(zh, en)
    err.http_status = 400
    return err


def round_out(bounds: list[float] | tuple[float, ...], places: int = 7) -> list[float]:
    """West, south, east, north rounded outwards, so the rounded box still encloses the data."""
    k = 10.0**places
    w, s, e, n = (float(b) for b in bounds)
    return [math.floor(w * k) / k, math.floor(s * k) / k, math.ceil(e * k) / k, math.ceil(n * k) / k]


def parse_int(value: str | int, what_zh: str, what_en: str) -> int:
    """An integer from a path or query value, or a 400 naming the value."""
    if isinstance(value, int):
        return value
    text = value.strip()
    if not _INT.fullmatch(text):
        raise bad_request(f"{what_zh}“{value}”不是整数", f"{what_en} '{value}' is not an integer")
    return int(text)


@dataclass(frozen=True)
class TileLayer:
    """A vector layer and the version its tiles show."""

    layer_id: int
    ref: str  # PLAN/LAYER, also the MVT layer name
    title: str
    description: str | None
    class_scheme: str | None
    version_id: int
    version: int
    explicit_version: bool  # ``?version=N`` was given: the tiles never change


def layer_key(layer_id: str | int, version: str | int | None = None) -> tuple[int, int | None]:
    """Validated (layer id, version number or None for the newest); 404/400 when malformed."""
    try:
        lid = parse_int(layer_id, "图层编号", "layer id")
    except InputError:
        lid = None
    if lid is None or not 0 < lid < 2**31:
        raise NotFoundError(f"没有编号为“{layer_id}”的图层", f"no layer with id '{layer_id}'")
    ver = None if version is None else parse_int(version, "版本号", "version")
    if ver is not None and not 0 < ver < 2**31:
        raise NotFoundError(f"图层 {lid} 没有版本 {ver}", f"layer {lid} has no version {ver}")
    return lid, ver


def resolve(session: Session, layer_id: str | int, version: str | int | None = None) -> TileLayer:
    """The vector layer with this id and its newest version (or version ``version``)."""
    lid, ver = layer_key(layer_id, version)
    row = session.execute(q.LAYER_BY_ID, {"layer_id": lid}).one_or_none()
    if row is None:
        raise NotFoundError(f"没有编号为“{lid}”的图层", f"no layer with id {lid}")
    ref = f"{row.plan_code}/{row.name}"
    if row.data_kind != "vector":
        raise NotFoundError(
            f"图层“{ref}”是栅格图层，没有矢量切片",
            f"layer '{ref}' is a raster layer; vector tiles exist only for vector layers",
        )
    v = session.execute(q.LAYER_VERSION, {"layer_id": lid, "version": ver}).one_or_none()
    if v is None:
        what_zh = f"版本 {ver}" if ver is not None else "任何版本"
        what_en = f"version {ver}" if ver is not None else "any version"
        raise NotFoundError(f"图层“{ref}”没有{what_zh}", f"layer '{ref}' has no {what_en}")
    return TileLayer(
        layer_id=lid, ref=ref, title=row.title or row.name, description=row.description,
        class_scheme=row.class_scheme, version_id=v.id, version=v.version,
        explicit_version=ver is not None,
    )


def check_tile(z: str | int, x: str | int, y: str | int) -> tuple[int, int, int]:
    """Validated zoom and tile column/row (400 when malformed or out of range)."""
    zi = parse_int(z, "缩放级别 z", "zoom z")
    xi = parse_int(x, "切片列号 x", "tile column x")
    yi = parse_int(y, "切片行号 y", "tile row y")
    if not 0 <= zi <= MAX_ZOOM:
        raise bad_request(f"缩放级别 z={zi} 超出范围 0–{MAX_ZOOM}", f"zoom z={zi} is outside 0–{MAX_ZOOM}")
    n = 1 << zi
    if not (0 <= xi < n and 0 <= yi < n):
        raise bad_request(
            f"切片 {zi}/{xi}/{yi} 超出范围：x、y 应在 0–{n - 1} 之间",
            f"tile {zi}/{xi}/{yi} is out of range: x and y must be within 0–{n - 1} at zoom {zi}",
        )
    return zi, xi, yi


def etag(layer: TileLayer, z: int, x: int, y: int) -> str:
    """Strong ETag of a tile: the version id, the tile and the recipe revision."""
    return f'"v{layer.version_id}-{z}-{x}-{y}-r{TILE_RECIPE}"'


def etag_matches(if_none_match: str | None, tag: str) -> bool:
    """Whether an ``If-None-Match`` header names this ETag (weak comparison, or ``*``)."""
    if not if_none_match:
        return False
    for candidate in if_none_match.split(","):
        c = candidate.strip()
        if c == "*" or c.removeprefix("W/") == tag:
            return True
    return False


def cache_control(layer: TileLayer) -> str:
    """Cache-Control of a tile: long for an explicit version, short for the newest."""
    if layer.explicit_version:
        return f"public, max-age={MAX_AGE_VERSION}, immutable"
    return f"public, max-age={MAX_AGE_NEWEST}"


def _lat(merc_y: float) -> float:
    return math.degrees(math.atan(math.sinh(merc_y / (_WORLD / 2) * math.pi)))


def _ground_per_mercator(z: int, y: int, settings: Settings) -> float | None:
    """Smallest ground/Mercator length ratio (cos φ) over the tile rows inside the deployment
    extent; None when the tile misses the extent's latitudes altogether."""
    size = _WORLD / (1 << z)
    north = _lat(_WORLD / 2 - y * size)
    south = _lat(_WORLD / 2 - (y + 1) * size)
    _, lat0, _, lat1 = settings.extent_lonlat
    lo, hi = max(south, lat0 - 1.0), min(north, lat1 + 1.0)
    if lo > hi:
        return None
    worst = max(abs(lo), abs(hi))
    return max(math.cos(math.radians(worst)), 1e-6)


def tile_params(settings: Settings, layer: TileLayer, z: int, x: int, y: int) -> dict[str, Any] | None:
    """Bound parameters of ``service_queries.TILE_MVT`` for one tile; None when the tile misses
    the deployment extent's latitudes (it is empty)."""
    params = scale_params(settings, z, y)
    if params is None:
        return None
    params.update({
        "z": z, "x": x, "y": y,
        "version_id": layer.version_id,
        "srid": settings.store_srid,
        "scheme": layer.class_scheme,
        "layer_name": layer.ref,
    })
    return params


def tile_bytes(session: Session, settings: Settings, layer: TileLayer, z: int, x: int, y: int) -> bytes:
    """The MVT of one tile; empty bytes when no feature shows in it."""
    params = tile_params(settings, layer, z, x, y)
    if params is None:
        return b""
    data = session.execute(q.TILE_MVT, params).scalar_one_or_none()
    return bytes(data) if data else b""


def tilejson(session: Session, settings: Settings, layer: TileLayer, base_url: str) -> dict[str, Any]:
    """TileJSON 3.0.0 of a layer: tile URL template, lon/lat bounds, zooms, fields."""
    row = session.execute(q.VERSION_BOUNDS_LONLAT, {"version_id": layer.version_id}).one_or_none()
    if row is not None and row.west is not None:
        bounds = [row.west, row.south, row.east, row.north]
    else:  # a version with no features: the deployment extent
        bounds = list(settings.extent_lonlat)
    bounds = round_out(bounds)
    query = f"?version={layer.version}" if layer.explicit_version else ""
    base = base_url.rstrip("/")
    span = max(bounds[2] - bounds[0], bounds[3] - bounds[1], 1e-9)
    center_zoom = max(0, min(TILEJSON_MAXZOOM, int(math.log2(360.0 / span))))
    return {
        "tilejson": "3.0.0",
        "name": layer.title,
        "description": layer.description or f"{layer.ref}（版本 {layer.version} / version {layer.version}）",
        "version": f"{layer.version}.0.0",
        "scheme": "xyz",
        "tiles": [f"{base}/tiles/{layer.layer_id}/{{z}}/{{x}}/{{y}}.pbf{query}"],
        "minzoom": 0,
        "maxzoom": TILEJSON_MAXZOOM,
        "bounds": bounds,
        "center": [round((bounds[0] + bounds[2]) / 2, 7), round((bounds[1] + bounds[3]) / 2, 7), center_zoom],
        "vector_layers": [{
            "id": layer.ref,
            "description": f"{layer.title}（{layer.ref}，版本 {layer.version}）",
            "minzoom": 0,
            "maxzoom": TILEJSON_MAXZOOM,
            "fields": dict(FIELDS),
        }],
    }


def scale_params(settings: Settings, z: int, y: int) -> dict[str, Any] | None:
    """The zoom-dependent parameters every tile recipe shares (buffer margin, segment length,
    simplification tolerance and the one-pixel size, in ground metres; MVT extent and buffer);
    None when the tile misses the deployment extent's latitudes (the tile is empty)."""
    scale = _ground_per_mercator(z, y, settings)
    if scale is None:
        return None
    size = _WORLD / (1 << z)
    unit = size / EXTENT
    return {"margin": unit * BUFFER, "segment": size / 8, "tolerance": unit / 2 * scale,
            "min_size": size / PIXELS * scale, "extent": EXTENT, "buffer": BUFFER}


# -- server-side caches ------------------------------------------------------------------------
TileKey = tuple[int, int, int, int, int]  # version id, z, x, y, recipe


def tile_key(layer: TileLayer, z: int, x: int, y: int) -> TileKey:
    """Cache key of an encoded tile: what its bytes depend on (the version's rows never change)."""
    return (layer.version_id, z, x, y, TILE_RECIPE)


class TileCache:
    """In-process LRU of encoded tiles bounded by bytes (``max_bytes`` 0: nothing is kept).

    Empty tiles are kept too (as ``b""``). Each entry costs its length plus
    :attr:`ENTRY_OVERHEAD` (key, dict slot, bytes header). Thread-safe: one lock around every
    operation, never held while a tile is cut.
    """

    ENTRY_OVERHEAD = 200

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max(0, int(max_bytes))
        self._items: OrderedDict[Hashable, bytes] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = self.misses = self.evictions = 0

    def _cost(self, data: bytes) -> int:
        return len(data) + self.ENTRY_OVERHEAD

    def get(self, key: Hashable) -> bytes | None:
        with self._lock:
            data = self._items.get(key)
            if data is None:
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return data

    def put(self, key: Hashable, data: bytes) -> None:
        cost = self._cost(data)
        if cost > self.max_bytes:  # disabled, or a tile larger than the whole budget
            return
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._bytes -= self._cost(old)
            self._items[key] = data
            self._bytes += cost
            while self._bytes > self.max_bytes:
                _, dropped = self._items.popitem(last=False)
                self._bytes -= self._cost(dropped)
                self.evictions += 1

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0

    def __contains__(self, key: Hashable) -> bool:
        with self._lock:
            return key in self._items

    def stats(self) -> dict[str, int]:
        with self._lock:
            return {"entries": len(self._items), "bytes": self._bytes, "max_bytes": self.max_bytes,
                    "hits": self.hits, "misses": self.misses, "evictions": self.evictions}


# A process-wide generation of the catalogue (layers, versions, plans) as seen by this process:
# bumped whenever a statement that changes those tables runs here, and again when its
# connection goes back to the pool (after the commit). A cached layer resolution is trusted
# only while the generation it was read under is still current (and its TTL has not passed);
# other processes' loads are caught by the TTL alone.
_CATALOGUE_WRITE = re.compile(
    r"\s*(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+\"?(?:layer_versions|layers|plans)\"?[\s(]", re.IGNORECASE)
_DIRTY = "gisplat_tiles_catalogue_changed"
_generation = 0
_generation_lock = threading.Lock()
_watching = False


def catalogue_generation() -> int:
    """The current catalogue generation of this process."""
    return _generation


def bump_catalogue_generation() -> None:
    """Forget every cached layer resolution of this process (cached tiles stay valid)."""
    global _generation
    with _generation_lock:
        _generation += 1


def _after_execute(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any,
                   executemany: bool) -> None:
    if _CATALOGUE_WRITE.match(statement):
        conn.info[_DIRTY] = True
        bump_catalogue_generation()


def _on_checkin(dbapi_connection: Any, record: Any) -> None:
    if record is not None and record.info.pop(_DIRTY, False):
        bump_catalogue_generation()


def watch_catalogue() -> None:
    """Listen (once per process) for catalogue writes made through SQLAlchemy in this process."""
    global _watching
    with _generation_lock:
        if _watching:
            return
        event.listen(Engine, "after_cursor_execute", _after_execute)
        event.listen(Pool, "checkin", _on_checkin)
        _watching = True


class LayerCache:
    """(layer id, version number or None) → :class:`TileLayer`, for ``ttl_s`` seconds at most
    and only while the catalogue generation it was read under is current. ``ttl_s`` 0: never
    kept (every request asks the store for the newest version)."""

    MAX_ENTRIES = 4096

    def __init__(self, ttl_s: float) -> None:
        self.ttl_s = max(0.0, float(ttl_s))
        self._items: dict[tuple[int, int | None], tuple[TileLayer, float, int]] = {}
        self._lock = threading.Lock()

    def get(self, key: tuple[int, int | None]) -> TileLayer | None:
        if self.ttl_s <= 0:
            return None
        with self._lock:
            item = self._items.get(key)
        if item is None:
            return None
        layer, expires, generation = item
        if generation != _generation or time.monotonic() >= expires:
            return None
        return layer

    def put(self, key: tuple[int, int | None], layer: TileLayer, generation: int) -> None:
        """Keep ``layer`` as read under ``generation`` (taken *before* the store was asked)."""
        if self.ttl_s <= 0:
            return
        with self._lock:
            if len(self._items) >= self.MAX_ENTRIES:
                self._items.clear()
            self._items[key] = (layer, time.monotonic() + self.ttl_s, generation)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


class TileService:
    """The tile caches of one app (one store): encoded tiles and layer resolutions."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.tiles = TileCache(settings.tile_cache_bytes)
        self.layers = LayerCache(settings.tile_version_ttl_s)
        watch_catalogue()

    def cached_layer(self, key: tuple[int, int | None]) -> TileLayer | None:
        """The layer a tile URL resolves to, when the cache may be trusted with it."""
        return self.layers.get(key)

    def cached_tile(self, layer: TileLayer, z: int, x: int, y: int) -> bytes | None:
        """The encoded tile when it is cached (``b""``: cached empty tile)."""
        return self.tiles.get(tile_key(layer, z, x, y))

    def load(self, engine: Engine, key: tuple[int, int | None], z: int, x: int, y: int,
             layer: TileLayer | None = None, if_none_match: str | None = None
             ) -> tuple[TileLayer, bytes | None, bool]:
        """Resolve the layer (unless given) and cut the tile in one transaction, filling the
        caches. Returns (layer, bytes, cut): bytes None when ``if_none_match`` names the tile's
        ETag (nothing is cut); ``cut`` False when the bytes came from the cache."""
        generation = catalogue_generation()
        # Reads only, of rows that never change once committed: autocommit spares the BEGIN and
        # COMMIT round trips of a transaction.
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn, \
                Session(bind=conn) as session:
            data = None
            tkey = None
            if layer is None:  # else the caller found the layer cached and its tile not
                layer = resolve(session, *key)
                self.layers.put(key, layer, generation)
                if etag_matches(if_none_match, etag(layer, z, x, y)):
                    return layer, None, False
                tkey = tile_key(layer, z, x, y)
                data = self.tiles.get(tkey)
                if data is not None:
                    return layer, data, False
            tkey = tkey or tile_key(layer, z, x, y)
            data = tile_bytes(session, self.settings, layer, z, x, y)
            self.tiles.put(tkey, data)
        return layer, data, True

    def stats(self) -> dict[str, int]:
        return self.tiles.stats()


_services_lock = threading.Lock()


def service_for(state: Any) -> TileService:
    """The :class:`TileService` of an app (``app.state``: ``settings``), created on first use."""
    service = getattr(state, "tile_service", None)
    if service is None:
        with _services_lock:
            service = getattr(state, "tile_service", None)
            if service is None:
                service = TileService(state.settings)
                state.tile_service = service
    return service  # type: ignore[no-any-return]
