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
