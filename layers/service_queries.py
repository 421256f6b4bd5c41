"""SQL of the standard services for departments' GIS: vector tiles (``tiles.py``) and
OGC API - Features (``ogc_features.py``). Reads only; every value is a bound parameter.

Geometry is stored in the store CRS (``:srid``, projected metres). Tiles are cut in Web Mercator
(EPSG:3857); OGC output is CRS84 (EPSG:4326 in PostGIS, which is lon/lat order).
"""

from __future__ import annotations

from sqlalchemy import TextClause, text

# One layer with its plan (any data kind: callers refuse raster layers with a clear message).
LAYER_BY_ID = text(
    """
    SELECT l.id, l.name, l.title, l.description, l.data_kind, l.theme, l.class_scheme,
           p.code AS plan_code, p.name AS plan_name
    FROM layers l JOIN plans p ON p.id = l.plan_id
    WHERE l.id = :layer_id
    """
)

# One version of a layer: the one numbered :version, or the newest when :version is NULL.
LAYER_VERSION = text(
    """
    SELECT v.id, v.version, v.loaded_at, v.feature_count
    FROM layer_versions v
    WHERE v.layer_id = :layer_id
      AND v.version = coalesce(
            CAST(:version AS integer),
            (SELECT max(version) FROM layer_versions WHERE layer_id = :layer_id))
    """
)

# Bounding box of a version in lon/lat (the store-CRS box densified before it is transformed,
# so its curved edges are enclosed). No row when the version has no extent (no features).
VERSION_BOUNDS_LONLAT = text(
    """
    SELECT ST_XMin(b) AS west, ST_YMin(b) AS south, ST_XMax(b) AS east, ST_YMax(b) AS north
    FROM (
        SELECT ST_Transform(
                 ST_Segmentize(extent, greatest(ST_XMax(extent) - ST_XMin(extent),
                                                ST_YMax(extent) - ST_YMin(extent), 1.0) / 16),
                 4326)::box2d AS b
        FROM layer_versions WHERE id = :version_id AND extent IS NOT NULL
    ) s
    """
)

# One Mapbox Vector Tile of one layer version.
#  * ``area``: the part of the tile (plus its buffer) that the version's extent covers, taken in
#    Web Mercator, densified and transformed to the store CRS: its box drives the GiST index.
#    Intersecting first keeps the transform inside the zone (a z0 tile spans the whole world).
#  * features are simplified in the store CRS by :tolerance (half a tile unit, in metres), and a
#    line or polygon whose box is smaller than :min_size (one screen pixel) in both directions
#    is left out: it would be invisible. Points are always kept.
#  * only the attributes the map needs: feature_no, class_code, class_status, name_zh.
TILE_MVT = text(
    """
    WITH tile AS (
        SELECT ST_TileEnvelope(CAST(:z AS integer), CAST(:x AS integer), CAST(:y AS integer)) AS env
    ),
    ext AS (
        SELECT ST_Envelope(ST_Transform(
                 ST_Segmentize(v.extent, greatest(ST_XMax(v.extent) - ST_XMin(v.extent),
                                                  ST_YMax(v.extent) - ST_YMin(v.extent), 1.0) / 16),
                 3857)) AS box
        FROM layer_versions v
        WHERE v.id = :version_id AND v.extent IS NOT NULL
    ),
    area AS (
        SELECT ST_Transform(
                 ST_Segmentize(ST_Intersection(ST_Expand(tile.env, :margin), ext.box), :segment),
                 CAST(:srid AS integer)) AS box
        FROM tile, ext
        WHERE ST_Expand(tile.env, :margin) && ext.box
    ),
    mvt AS (
        SELECT ST_AsMVTGeom(
                 ST_Transform(ST_SimplifyPreserveTopology(f.geom, :tolerance), 3857),
                 tile.env::box2d, CAST(:extent AS integer), CAST(:buffer AS integer), true) AS geom,
               f.feature_no, f.class_code, f.class_status, c.name_zh
        FROM tile, area, features f
        LEFT JOIN class_codes c ON c.scheme = :scheme AND c.code = f.class_code
        WHERE f.version_id = :version_id
          AND f.geom && area.box
          AND (GeometryType(f.geom) IN ('POINT', 'MULTIPOINT')
               OR ST_XMax(f.geom) - ST_XMin(f.geom) >= :min_size
               OR ST_YMax(f.geom) - ST_YMin(f.geom) >= :min_size)
    )
    SELECT ST_AsMVT(mvt.*, CAST(:layer_name AS text), CAST(:extent AS integer), 'geom')
    FROM mvt WHERE mvt.geom IS NOT NULL
    """
)

# OGC collections: every vector layer that has a version (or the one :layer_id), with its
# newest version, its lon/lat box and the first and last load times.
COLLECTIONS = text(
    """
    SELECT l.id, l.name, l.title, l.description, l.theme, l.class_scheme,
           p.code AS plan_code, p.name AS plan_name,
           v.id AS version_id, v.version, v.feature_count,
           t.first_loaded, t.last_loaded,
           ST_XMin(b.box) AS west, ST_YMin(b.box) AS south,
           ST_XMax(b.box) AS east, ST_YMax(b.box) AS north
    FROM layers l
    JOIN plans p ON p.id = l.plan_id
    JOIN LATERAL (
        SELECT id, version, feature_count, extent FROM layer_versions
        WHERE layer_id = l.id ORDER BY version DESC LIMIT 1
    ) v ON true
    JOIN LATERAL (
        SELECT min(loaded_at) AS first_loaded, max(loaded_at) AS last_loaded
        FROM layer_versions WHERE layer_id = l.id
    ) t ON true
    LEFT JOIN LATERAL (
        SELECT ST_Transform(
                 ST_Segmentize(v.extent, greatest(ST_XMax(v.extent) - ST_XMin(v.extent),
                                                  ST_YMax(v.extent) - ST_YMin(v.extent), 1.0) / 16),
                 4326)::box2d AS box
        WHERE v.extent IS NOT NULL
    ) b ON true
    WHERE l.data_kind = 'vector'
      AND (CAST(:layer_id AS integer) IS NULL OR l.id = CAST(:layer_id AS integer))
    ORDER BY p.code, l.name
    """
)

# The CRS84 query box (already clipped to the deployment extent by the caller), densified and
# transformed to the store CRS. Separate statements with and without the box, so the GiST index
# is planned for the box and never hidden behind an OR.
_BBOX_STORE = (
    "ST_Transform(ST_Segmentize(ST_MakeEnvelope(:west, :south, :east, :north, 4326), 0.01), "
    "CAST(:srid AS integer))"
)
_WHERE_VERSION = "WHERE f.version_id = :version_id"
_WHERE_BBOX = f"{_WHERE_VERSION} AND f.geom && {_BBOX_STORE} AND ST_Intersects(f.geom, {_BBOX_STORE})"

# A feature as GeoJSON text in CRS84: stored properties, then the platform's class fields
# (which win over a source field of the same name); id = feature_no.
_FEATURE_JSON = """
    json_build_object(
        'type', 'Feature',
        'id', f.feature_no,
        'geometry', ST_AsGeoJSON(ST_Transform(f.geom, 4326), CAST(:digits AS integer))::json,
        'properties', f.properties || jsonb_build_object(
            'feature_no', f.feature_no, 'class_code', f.class_code,
            'class_raw', f.class_raw, 'class_status', f.class_status)
    )::text AS feature
"""


def _page(where: str) -> TextClause:
    return text(
        f"SELECT {_FEATURE_JSON} FROM features f {where} "
        "ORDER BY f.feature_no LIMIT :limit OFFSET :offset"
    )


# One page of features, in feature order; with ``_BBOX`` only those meeting the query box.
ITEMS_PAGE = _page(_WHERE_VERSION)
ITEMS_PAGE_BBOX = _page(_WHERE_BBOX)
ITEMS_COUNT_BBOX = text(f"SELECT count(*) FROM features f {_WHERE_BBOX}")

# One feature by its number.
ITEM = text(f"SELECT {_FEATURE_JSON} FROM features f {_WHERE_VERSION} AND f.feature_no = :feature_no")
