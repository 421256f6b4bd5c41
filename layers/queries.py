"""SQL of the layers package: feature COPY, feature reads for export, counts."""

from __future__ import annotations

from sqlalchemy import text

# Partition DDL per loaded version. The only variable part is the version id, an integer
# the platform generated (never user text); it is formatted with int() by partition_sql().
_PARTITION_DDL = {
    "create": (
        "CREATE TABLE features_v{n} (LIKE features INCLUDING DEFAULTS INCLUDING CONSTRAINTS);"
        "ALTER TABLE features_v{n} ADD CONSTRAINT features_v{n}_version CHECK (version_id = {n})"
    ),
    "copy": (
        "COPY features_v{n} (version_id, feature_no, class_code, class_raw, class_status, "
        "properties, geom) FROM STDIN (FORMAT binary)"
    ),
    "index": (
        "CREATE INDEX features_v{n}_geom ON features_v{n} USING gist (geom)"
    ),
    "attach": "ALTER TABLE features ATTACH PARTITION features_v{n} FOR VALUES IN ({n})",
}


def partition_sql(step: str, version_id: int) -> str:
    """DDL/COPY text of one partition step for a platform-generated integer version id."""
    return _PARTITION_DDL[step].format(n=int(version_id))

SELECT_VERSION_FEATURES = text(
    """
    SELECT feature_no, class_code, class_raw, class_status, properties,
           ST_AsBinary(geom) AS wkb
    FROM features
    WHERE version_id = :version_id
    ORDER BY feature_no
    """
)

VERSION_STATS = text(
    """
    SELECT count(*) AS n,
           coalesce(sum(ST_Area(geom)), 0) AS area_m2,
           ST_AsText(ST_Extent(geom)::geometry) AS extent
    FROM features WHERE version_id = :version_id
    """
)

CLASS_SUMMARY = text(
    """
    SELECT class_status, class_code, class_raw, count(*) AS n, sum(ST_Area(geom)) AS area_m2
    FROM features WHERE version_id = :version_id
    GROUP BY class_status, class_code, class_raw
    ORDER BY class_status, class_code NULLS LAST, class_raw
    """
)

# -- internal overlaps of a version (layers.overlaps); psycopg form, run on a driver connection
OVERLAPS_VERSION = (
    "SELECT v.id, v.feature_count, l.data_kind, "
    "ST_XMin(v.extent) AS x0, ST_YMin(v.extent) AS y0, ST_XMax(v.extent) AS x1, ST_YMax(v.extent) AS y1 "
    "FROM layer_versions v JOIN layers l ON l.id = v.layer_id WHERE v.id = %(vid)s"
)
OVERLAPS_TILE_FEATURES = (
    "SELECT feature_no, ST_AsBinary(geom) FROM features "
    "WHERE version_id = %(vid)s AND geom && ST_MakeEnvelope(%(x0)s, %(y0)s, %(x1)s, %(y1)s, %(srid)s)"
)
OVERLAPS_CLEAR = "DELETE FROM version_overlaps WHERE version_id = %(vid)s"
OVERLAPS_COPY = "COPY version_overlaps (version_id, feature_a, feature_b, area_m2) FROM STDIN"
OVERLAPS_MARK = (
    "INSERT INTO version_overlap_checks (version_id, pairs, area_m2) VALUES (%(vid)s, %(pairs)s, %(area)s) "
    "ON CONFLICT (version_id) DO UPDATE SET checked_at = now(), pairs = EXCLUDED.pairs, "
    "area_m2 = EXCLUDED.area_m2 RETURNING checked_at"
)
OVERLAPS_PAIRS = (
    "SELECT feature_a, feature_b FROM version_overlaps WHERE version_id = %(vid)s ORDER BY feature_a, feature_b"
)
OVERLAPS_CHECKED = text("SELECT 1 FROM version_overlap_checks WHERE version_id = :vid")
OVERLAPS_FEATURES = text(
    """
    SELECT feature_a AS f FROM version_overlaps WHERE version_id = :vid
    UNION SELECT feature_b FROM version_overlaps WHERE version_id = :vid
    ORDER BY f
    """
)
OVERLAPS_UNCHECKED = text(
    """
    SELECT v.id FROM layer_versions v JOIN layers l ON l.id = v.layer_id
    LEFT JOIN version_overlap_checks c ON c.version_id = v.id
    WHERE c.version_id IS NULL AND l.data_kind = 'vector'
    ORDER BY v.id
    """
)
