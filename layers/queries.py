"""SQL of the layers package: feature COPY, feature reads for export, counts."""

from __future__ import annotations

from sqlalchemy import text

COPY_FEATURES = (
    "COPY features (version_id, feature_no, class_code, class_raw, class_status, properties, geom) "
    "FROM STDIN"
)

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

TABLE_COUNTS = text(
    """
    SELECT relname, n FROM (
        SELECT 'plans' AS relname, count(*) AS n FROM plans
        UNION ALL SELECT 'layers', count(*) FROM layers
        UNION ALL SELECT 'layer_versions', count(*) FROM layer_versions
        UNION ALL SELECT 'features', count(*) FROM features
        UNION ALL SELECT 'audit_log', count(*) FROM audit_log
        UNION ALL SELECT 'code_mappings', count(*) FROM code_mappings
    ) t
    """
)
