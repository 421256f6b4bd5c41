"""SQL of the analyses. Overlay runs in PostGIS (GiST, ST_Intersects, then ST_Intersection)."""

from __future__ import annotations

from sqlalchemy import Select, bindparam, func, select, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy import Integer

from plans.models import ClassCode

from .models import CheckRun, Rule, Submission, UseCompatibility


def all_rules() -> Select:
    """Every rule, active or not."""
    return select(Rule).order_by(Rule.theme, Rule.key)


def active_rules() -> Select:
    """Rules that checks use."""
    return select(Rule).where(Rule.active.is_(True)).order_by(Rule.theme, Rule.key)


def rule_count() -> Select:
    """How many rules the table holds."""
    return select(func.count()).select_from(Rule)


def compatibility() -> Select:
    """Use-compatibility rows."""
    return select(UseCompatibility)


DELETE_COMPATIBILITY = text("DELETE FROM use_compatibility")

_LAYER_COLUMNS = """
    l.id AS layer_id, l.name, l.title, l.theme, l.data_kind, l.coverage, l.class_scheme,
    p.code AS plan_code, p.name AS plan_name, p.status AS plan_status,
    v.id AS version_id, v.version, v.source_sha256, v.loaded_at,
    ST_AsBinary(v.extent) AS extent, v.raster_path, v.feature_count
"""

LAYERS_AS_OF = text(
    f"""
    SELECT DISTINCT ON (l.id) {_LAYER_COLUMNS}
    FROM layers l
    JOIN plans p ON p.id = l.plan_id
    JOIN layer_versions v ON v.layer_id = l.id
    WHERE p.status <> 'draft' AND v.loaded_at <= :as_of
    ORDER BY l.id, v.version DESC
    """
)

LAYERS_BY_VERSION_IDS = text(
    f"""
    SELECT {_LAYER_COLUMNS}
    FROM layer_versions v
    JOIN layers l ON l.id = v.layer_id
    JOIN plans p ON p.id = l.plan_id
    WHERE v.id = ANY(:vids)
    ORDER BY l.id
    """
).bindparams(bindparam("vids", type_=ARRAY(Integer)))

# The pieces of the features of the given versions inside the site, one row per feature. Features
# wholly inside are returned as they are; others are cut. Partition pruning keeps each version to
# its own table.
SITE_PIECES = text(
    """
    WITH site AS (SELECT ST_GeomFromWKB(:site, :srid) AS g)
    SELECT f.version_id, f.class_code, f.class_raw,
           ST_AsBinary(CASE WHEN ST_CoveredBy(f.geom, s.g) THEN f.geom
                            ELSE ST_CollectionExtract(ST_Intersection(f.geom, s.g), 3) END) AS wkb
    FROM features f CROSS JOIN site s
    WHERE f.version_id = ANY(:vids) AND ST_Intersects(f.geom, s.g)
    """
).bindparams(bindparam("vids", type_=ARRAY(Integer)))

# A check is a short interactive query: parallel workers cost more to start (each loads PostGIS)
# than they save, and a custom plan lets the planner prune partitions by the version ids. The
# same round trip reads the rules' change counter (checks cache the rules between edits).
CHECK_SETTINGS = {"max_parallel_workers_per_gather": "0", "plan_cache_mode": "force_custom_plan"}
CHECK_START = text(
    "SELECT "
    + ", ".join(f"set_config('{k}', '{v}', true)" for k, v in CHECK_SETTINGS.items())
    + ", (SELECT value FROM store_meta WHERE key = 'rules_version') AS rules_version"
)
ALL_CLASS_NAMES = select(ClassCode.scheme, ClassCode.code, ClassCode.name_zh)

APPLIES_FEATURES = text(
    """
    WITH q AS (SELECT ST_GeomFromWKB(:geom, :srid) AS g)
    SELECT f.version_id, f.feature_no, f.class_code, f.class_raw, f.properties,
           CASE WHEN ST_Dimension(q.g) = 2 THEN ST_Area(ST_Intersection(f.geom, q.g)) ELSE 0 END AS area
    FROM features f CROSS JOIN q
    WHERE f.version_id = ANY(:vids) AND ST_Intersects(f.geom, q.g)
      AND (ST_Dimension(q.g) < 2 OR NOT ST_Touches(f.geom, q.g))
    ORDER BY f.version_id, f.feature_no
    LIMIT :limit
    """
).bindparams(bindparam("vids", type_=ARRAY(Integer)))

FEATURE_PROPERTIES_AT = text(
    """
    SELECT f.properties FROM features f
    WHERE f.version_id = :vid AND ST_Intersects(f.geom, ST_GeomFromWKB(:point, :srid))
    LIMIT 1
    """
)


def run_by_id(run_id: int) -> Select:
    """One check run."""
    return select(CheckRun).where(CheckRun.id == run_id)


def submission_by_id(submission_id: int) -> Select:
    """One submission."""
    return select(Submission).where(Submission.id == submission_id)


INSERT_RULE_SET = text(
    "INSERT INTO rule_sets (sha256, rules, compat) VALUES (:sha256, CAST(:rules AS jsonb), "
    "CAST(:compat AS jsonb)) ON CONFLICT (sha256) DO NOTHING"
)
RULE_SET = text("SELECT rules, compat FROM rule_sets WHERE sha256 = :sha256")

FINDING_COLUMNS = ("finding_no", "layer_id", "version_id", "theme", "class_code", "class_raw", "state",
                   "area_m2", "share", "severity", "rule_key", "department")
FINDING_BINDS = {c: ("area_m2_list" if c == "area_m2" else c) for c in FINDING_COLUMNS}

# Everything a check run stores, in one round trip: the submission (unless :submission_id names
# an existing one), the run, its findings (column arrays) and the audit entry.
STORE_RUN = text(
    """
    WITH new_submission AS (
        INSERT INTO submissions (project_code, name, applicant, proposed_use, project_type,
                                 declared_area_m2, source_name, source_sha256, area_m2, geom, created_by)
        SELECT :project_code, :name, :applicant, :proposed_use, :project_type, :declared_area_m2,
               :source_name, :source_sha256, :area_m2, ST_Multi(ST_GeomFromWKB(:geom, :srid)), :actor
        WHERE CAST(:submission_id AS integer) IS NULL
        RETURNING id
    ), submission AS (
        SELECT id FROM new_submission
        UNION ALL SELECT CAST(:submission_id AS integer) WHERE CAST(:submission_id AS integer) IS NOT NULL
    ), run AS (
        INSERT INTO check_runs (submission_id, as_of, rerun_of, verdict, rule_set, params, versions,
                                result, duration_ms)
        SELECT id, :as_of, :rerun_of, :verdict, :rule_set, CAST(:params AS jsonb),
               CAST(:versions AS jsonb), CAST(:result AS jsonb), :duration_ms
        FROM submission
        RETURNING id, submission_id
    ), findings AS (
        INSERT INTO check_findings (run_id, finding_no, layer_id, version_id, theme, class_code,
                                    class_raw, state, area_m2, share, severity, rule_key, department)
        SELECT run.id, f.* FROM run, unnest(
            CAST(:finding_no AS integer[]), CAST(:layer_id AS integer[]), CAST(:version_id AS integer[]),
            CAST(:theme AS text[]), CAST(:class_code AS text[]), CAST(:class_raw AS text[]),
            CAST(:state AS text[]), CAST(:area_m2_list AS float8[]), CAST(:share AS float8[]),
            CAST(:severity AS text[]), CAST(:rule_key AS text[]), CAST(:department AS text[])) AS f
    ), audit AS (
        INSERT INTO audit_log (actor, action, target, details)
        SELECT :actor, 'check.run', 'run ' || run.id,
               jsonb_build_object('submission', run.submission_id, 'verdict', CAST(:verdict AS text),
                                  'rerun_of', CAST(:rerun_of AS integer))
        FROM run
    )
    SELECT id, submission_id FROM run
    """
)

SUBMISSION_GEOM = text("SELECT ST_AsBinary(geom) FROM submissions WHERE id = :id")

# The parts of the given versions inside a map window (for the report's location map).
WINDOW_PARTS = text(
    """
    WITH w AS (SELECT ST_GeomFromWKB(:window, :srid) AS g)
    SELECT f.version_id, f.class_code, f.class_raw,
           ST_AsBinary(ST_UnaryUnion(ST_Collect(ST_CollectionExtract(ST_Intersection(f.geom, w.g), 3)))) AS wkb
    FROM features f CROSS JOIN w
    WHERE f.version_id = ANY(:vids) AND ST_Intersects(f.geom, w.g)
    GROUP BY f.version_id, f.class_code, f.class_raw
    """
).bindparams(bindparam("vids", type_=ARRAY(Integer)))
