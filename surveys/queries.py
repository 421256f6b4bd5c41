"""All SQL of the survey packages (多测合一). Package rows never change; status is the newest
row of ``survey_package_events`` (the ``survey_package_status`` view)."""

from __future__ import annotations

from sqlalchemy import Text, bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

LOCK_KEY = text("SELECT pg_advisory_xact_lock(hashtext(:key))")

PROJECT_BY_CODE = text(
    "SELECT id, project_code, stage, client, firm, name FROM survey_projects "
    "WHERE project_code = :code AND stage = :stage"
)
INSERT_PROJECT = text(
    "INSERT INTO survey_projects (project_code, stage, client, firm, name, created_by) "
    "VALUES (:code, :stage, :client, :firm, :name, :actor) RETURNING id"
)

# Versions of one project code + stage + item, newest first, with their current status.
VERSIONS_OF = text(
    """
    SELECT p.id, p.version, s.status FROM survey_packages p
    JOIN survey_package_status s ON s.package_id = p.id
    WHERE p.project_code = :code AND p.stage = :stage AND p.item = :item
    ORDER BY p.version DESC
    """
)

INSERT_PACKAGE = text(
    """
    INSERT INTO survey_packages (project_id, project_code, stage, item, version, firm, surveyor,
        submitted_by, source_name, source_sha256, supersedes_id, check_status, precheck_run_id,
        metadata, report)
    VALUES (:project_id, :code, :stage, :item, :version, :firm, :surveyor, :actor, :source_name,
        :source_sha256, :supersedes_id, :check_status, :precheck_run_id, :metadata, :report)
    RETURNING id, submitted_at
    """
).bindparams(bindparam("metadata", type_=JSONB), bindparam("report", type_=JSONB))

INSERT_FILE = text(
    "INSERT INTO survey_package_files (package_id, file_no, name, kind, slot, sha256, size_bytes, stored_path) "
    "VALUES (:package_id, :file_no, :name, :kind, :slot, :sha256, :size_bytes, :stored_path)"
)

INSERT_FEATURE = text(
    "INSERT INTO survey_features (package_id, file_no, feature_no, label, role, properties, geom) "
    "VALUES (:package_id, :file_no, :feature_no, :label, :role, :properties, ST_GeomFromWKB(:wkb, :srid))"
).bindparams(bindparam("properties", type_=JSONB))

INSERT_EVENT = text(
    "INSERT INTO survey_package_events (package_id, status, actor, reason, details) "
    "VALUES (:package_id, :status, :actor, :reason, :details)"
).bindparams(bindparam("details", type_=JSONB))

INSERT_SHARE = text(
    "INSERT INTO survey_shares (package_id, department, shared_by) VALUES (:package_id, :department, :actor) "
    "ON CONFLICT (package_id, department) DO NOTHING"
)

_PACKAGE_COLUMNS = """
    p.id, p.project_code, p.stage, p.item, p.version, p.firm, p.surveyor, p.submitted_by, p.submitted_at,
    p.source_name, p.source_sha256, p.supersedes_id, p.check_status, p.precheck_run_id,
    pr.client, pr.name AS project_name, s.status, s.at AS status_at,
    (SELECT e.actor FROM survey_package_events e WHERE e.package_id = p.id AND e.status = 'accepted'
     ORDER BY e.id DESC LIMIT 1) AS accepted_by,
    (SELECT e.at FROM survey_package_events e WHERE e.package_id = p.id AND e.status = 'accepted'
     ORDER BY e.id DESC LIMIT 1) AS accepted_at,
    (SELECT n.id FROM survey_packages n WHERE n.supersedes_id = p.id ORDER BY n.id LIMIT 1) AS superseded_by,
    coalesce((SELECT array_agg(sh.department ORDER BY sh.department) FROM survey_shares sh
              WHERE sh.package_id = p.id), '{}') AS shared_with
"""
_FROM = """
    FROM survey_packages p
    JOIN survey_projects pr ON pr.id = p.project_id
    JOIN survey_package_status s ON s.package_id = p.id
"""
# Who may read: the bureau everything; a firm its own packages and accepted results; a
# department the accepted results shared with it.
_READABLE = """
    (:reader_kind = 'bureau'
     OR (:reader_kind = 'firm' AND (p.firm = :reader_name OR s.status = 'accepted'))
     OR (:reader_kind = 'department' AND s.status = 'accepted' AND EXISTS (
            SELECT 1 FROM survey_shares sh WHERE sh.package_id = p.id AND sh.department = :reader_name)))
"""

PACKAGE_BY_ID = text(f"SELECT {_PACKAGE_COLUMNS}, p.metadata, p.report {_FROM} WHERE p.id = :id")

LIST_PACKAGES = text(
    f"""
    SELECT {_PACKAGE_COLUMNS} {_FROM}
    WHERE {_READABLE}
      AND (CAST(:code AS text) IS NULL OR p.project_code = :code)
      AND (CAST(:status AS text) IS NULL OR s.status = :status)
      AND (CAST(:firm AS text) IS NULL OR p.firm = :firm)
    ORDER BY p.project_code, p.stage, p.item, p.version DESC
    LIMIT :limit
    """
)

SHARED_WITH = text(
    f"""
    SELECT {_PACKAGE_COLUMNS} {_FROM}
    WHERE s.status = 'accepted'
      AND EXISTS (SELECT 1 FROM survey_shares sh WHERE sh.package_id = p.id AND sh.department = :department)
    ORDER BY s.at DESC, p.id DESC
    LIMIT :limit
    """
)

FILES_OF = text(
    "SELECT file_no, name, kind, slot, sha256, size_bytes, stored_path FROM survey_package_files "
    "WHERE package_id = :id ORDER BY file_no"
)

EVENTS_OF = text(
    "SELECT status, actor, at, reason, details FROM survey_package_events WHERE package_id = :id ORDER BY id"
)

FEATURES_OF = text(
    """
    SELECT f.file_no, f.feature_no, f.label, f.role, f.properties, ST_AsBinary(f.geom) AS wkb, pf.name AS file_name,
           pf.sha256 AS file_sha256
    FROM survey_features f JOIN survey_package_files pf ON pf.package_id = f.package_id AND pf.file_no = f.file_no
    WHERE f.package_id = :id AND (CAST(:file_no AS integer) IS NULL OR f.file_no = :file_no)
      AND (CAST(:roles AS text[]) IS NULL OR f.role = ANY(:roles))
    ORDER BY f.file_no, f.feature_no
    """
).bindparams(bindparam("roles", type_=ARRAY(Text)))

# The newest accepted package of a project whose item is a boundary item (勘测定界/地籍调查).
ACCEPTED_BOUNDARY = text(
    """
    SELECT p.id, p.item, p.version, (p.report ->> 'site_file_no')::int AS site_file_no
    FROM survey_packages p JOIN survey_package_status s ON s.package_id = p.id
    WHERE p.project_code = :code AND p.item = ANY(:items) AND s.status = 'accepted'
    ORDER BY s.at DESC, p.id DESC LIMIT 1
    """
).bindparams(bindparam("items", type_=ARRAY(Text)))

# Indicators of the regulatory plan (控规) parcel that covers most of a site: the newest version
# of every layer of an active urban_regulatory plan.
PLAN_INDICATORS = text(
    """
    WITH site AS (SELECT ST_GeomFromWKB(:geom, :srid) AS g),
    newest AS (
        SELECT DISTINCT ON (v.layer_id) v.id FROM layer_versions v
        JOIN layers l ON l.id = v.layer_id JOIN plans pl ON pl.id = l.plan_id
        WHERE pl.kind = 'urban_regulatory' AND pl.status = 'active' AND l.data_kind = 'vector'
        ORDER BY v.layer_id, v.version DESC)
    SELECT f.properties, ST_Area(ST_Intersection(f.geom, site.g)) AS area
    FROM features f CROSS JOIN site
    WHERE f.version_id IN (SELECT id FROM newest) AND ST_Intersects(f.geom, site.g)
    ORDER BY area DESC LIMIT 1
    """
)

# Accepted survey results at a point or in an area (for "what applies here").
APPLIES_SURVEYS = text(
    """
    WITH q AS (SELECT ST_GeomFromWKB(:geom, :srid) AS g)
    SELECT p.id, p.project_code, p.stage, p.item, p.version, p.firm, s.at AS accepted_at,
           count(*) AS features,
           sum(CASE WHEN ST_Dimension(q.g) = 2 THEN ST_Area(ST_Intersection(f.geom, q.g)) ELSE 0 END) AS area,
           coalesce((SELECT array_agg(sh.department ORDER BY sh.department) FROM survey_shares sh
                     WHERE sh.package_id = p.id), '{}') AS shared_with
    FROM survey_features f
    JOIN survey_packages p ON p.id = f.package_id
    JOIN survey_package_status s ON s.package_id = p.id AND s.status = 'accepted'
    CROSS JOIN q
    WHERE ST_Intersects(f.geom, q.g) AND (ST_Dimension(q.g) < 2 OR NOT ST_Touches(f.geom, q.g))
    GROUP BY p.id, s.at
    ORDER BY p.id
    LIMIT :limit
    """
)
