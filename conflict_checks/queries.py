"""SQL of the analyses. Overlay runs in PostGIS (GiST, ST_Intersects, then ST_Intersection)."""

from __future__ import annotations

from sqlalchemy import Integer, Select, bindparam, func, select, text
from sqlalchemy.dialects.postgresql import ARRAY

# The ORM models are imported where a statement needs them: the conflict-run tile workers import
# this module for their plain SQL alone, and start faster without the ORM.


def all_rules() -> Select:
    """Every rule, active or not."""
    from .models import Rule

    return select(Rule).order_by(Rule.theme, Rule.key)


def active_rules() -> Select:
    """Rules that checks use."""
    from .models import Rule

    return select(Rule).where(Rule.active.is_(True)).order_by(Rule.theme, Rule.key)


def rule_count() -> Select:
    """How many rules the table holds."""
    from .models import Rule

    return select(func.count()).select_from(Rule)


def compatibility() -> Select:
    """Use-compatibility rows."""
    from .models import UseCompatibility

    return select(UseCompatibility)


DELETE_COMPATIBILITY = text("DELETE FROM use_compatibility")

_LAYER_COLUMNS = """
    l.id AS layer_id, l.name, l.title, l.theme, l.data_kind, l.coverage, l.class_scheme,
    p.code AS plan_code, p.name AS plan_name, p.status AS plan_status,
    v.id AS version_id, v.version, v.source_sha256, v.loaded_at,
    ST_AsBinary(v.extent) AS extent, v.raster_path, v.feature_count,
    (SELECT c.pairs FROM version_overlap_checks c WHERE c.version_id = v.id) AS overlap_pairs
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

# The features of the given versions that meet a site (GiST, the site prepared once for the
# whole scan, partition pruning per version), one row per feature. The check cuts them to the
# site itself (GEOS in its threads): the server only finds them.
_SITE_FEATURES = """
    WITH site AS (SELECT ST_GeomFromWKB({site}, {srid}) AS g)
    SELECT f.version_id, f.class_code, f.class_raw, ST_AsBinary(f.geom) AS wkb, f.feature_no
    FROM features f CROSS JOIN site s
    WHERE f.version_id = ANY(CAST({vids} AS integer[])) AND ST_Intersects(f.geom, s.g)
    """
# psycopg form (what checks run, with binary results) and SQLAlchemy form (diagnostics).
SITE_FEATURES_SQL = _SITE_FEATURES.format(site="%(site)s", srid="%(srid)s", vids="%(vids)s")
SITE_FEATURES = text(_SITE_FEATURES.format(site=":site", srid=":srid", vids=":vids")).bindparams(
    bindparam("vids", type_=ARRAY(Integer)))

# A check is a short interactive query: parallel workers cost more to start (each loads PostGIS)
# than they save. The same round trip reads the rules' change counter (checks cache the rules
# between edits).
CHECK_SETTINGS = {"max_parallel_workers_per_gather": "0"}
_START_COLUMNS = (", ".join(f"set_config('{k}', '{v}', true) AS {k}" for k, v in CHECK_SETTINGS.items())
                  + ", (SELECT value FROM store_meta WHERE key = 'rules_version') AS rules_version")
CHECK_START = text("SELECT " + _START_COLUMNS)
# The same, and the layers active at %(as_of)s (none: one row of NULL layer columns), in one
# round trip (psycopg form: a check runs it on its session's connection).
CHECK_START_LAYERS_SQL = f"""
    WITH start AS MATERIALIZED (SELECT {_START_COLUMNS})
    SELECT start.*, a.* FROM start LEFT JOIN LATERAL ({LAYERS_AS_OF.text.replace(":as_of", "%(as_of)s")}) a ON true
    """
# "What applies here" runs its feature query through the ORM (prepared after five runs): a
# custom plan each time keeps partition pruning by version at plan time.
APPLIES_START = text(
    CHECK_START.text.replace("SELECT ", "SELECT set_config('plan_cache_mode', 'force_custom_plan', true), ", 1))


def all_class_names() -> Select:
    """(scheme, code, Chinese name) of every class code."""
    from plans.models import ClassCode

    return select(ClassCode.scheme, ClassCode.code, ClassCode.name_zh)


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
    from .models import CheckRun

    return select(CheckRun).where(CheckRun.id == run_id)


def submission_by_id(submission_id: int) -> Select:
    """One submission."""
    from .models import Submission

    return select(Submission).where(Submission.id == submission_id)


INSERT_RULE_SET = text(
    "INSERT INTO rule_sets (sha256, rules, compat) VALUES (:sha256, CAST(:rules AS jsonb), "
    "CAST(:compat AS jsonb)) ON CONFLICT (sha256) DO NOTHING"
)
RULE_SET = text("SELECT rules, compat FROM rule_sets WHERE sha256 = :sha256")

# The findings' columns and SQL types: the rows travel as one JSON array of objects.
FINDING_COLUMNS = {
    "finding_no": "integer", "layer_id": "integer", "version_id": "integer", "theme": "text",
    "class_code": "text", "class_raw": "text", "state": "text", "area_m2": "float8", "share": "float8",
    "severity": "text", "rule_key": "text", "department": "text",
}

# Everything a check run stores, in one round trip (psycopg form: a check runs it on its session's
# connection): the submission (unless %(submission_id)s names an existing one), the run, its
# findings and the audit entry.
STORE_RUN_SQL = (
    """
    WITH new_submission AS (
        INSERT INTO submissions (project_code, name, applicant, proposed_use, project_type,
                                 declared_area_m2, source_name, source_sha256, area_m2, geom, created_by,
                                 owner_id, organisation)
        SELECT %(project_code)s, %(name)s, %(applicant)s, %(proposed_use)s, %(project_type)s, %(declared_area_m2)s,
               %(source_name)s, %(source_sha256)s, %(area_m2)s, ST_Multi(ST_GeomFromWKB(%(geom)s, %(srid)s)), %(actor)s,
               %(owner_id)s, %(organisation)s
        WHERE CAST(%(submission_id)s AS integer) IS NULL
        RETURNING id
    ), submission AS (
        SELECT id FROM new_submission
        UNION ALL SELECT CAST(%(submission_id)s AS integer) WHERE CAST(%(submission_id)s AS integer) IS NOT NULL
    ), run AS (
        INSERT INTO check_runs (submission_id, as_of, rerun_of, verdict, rule_set, params, versions,
                                result, duration_ms)
        SELECT id, %(as_of)s, %(rerun_of)s, %(verdict)s, %(rule_set)s, CAST(%(params)s AS jsonb),
               CAST(%(versions)s AS jsonb), CAST(%(result)s AS jsonb), %(duration_ms)s
        FROM submission
        RETURNING id, submission_id
    ), findings AS (
        INSERT INTO check_findings (run_id, """ + ", ".join(FINDING_COLUMNS) + """)
        SELECT run.id, f.* FROM run, jsonb_to_recordset(CAST(%(findings)s AS jsonb)) AS f("""
    + ", ".join(f"{c} {t}" for c, t in FINDING_COLUMNS.items()) + """)
    ), audit AS (
        INSERT INTO audit_log (actor, action, target, details)
        SELECT %(actor)s, 'check.run', 'run ' || run.id,
               jsonb_build_object('submission', run.submission_id, 'verdict', CAST(%(verdict)s AS text),
                                  'rerun_of', CAST(%(rerun_of)s AS integer))
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

# The review queue: each submission with its latest run, how many runs it has, and whether any
# layer version was loaded after that run's data cut-off (the answer may have changed since).
SUBMISSION_QUEUE = text(
    r"""
    SELECT s.id AS submission_id, s.project_code, s.name, s.applicant, s.proposed_use, s.project_type,
           s.declared_area_m2, s.area_m2, s.source_name, s.created_at,
           r.id AS run_id, r.verdict, r.checked_at, r.as_of, r.rerun_of,
           (SELECT count(*) FROM check_runs c WHERE c.submission_id = s.id) AS runs,
           EXISTS (SELECT 1 FROM layer_versions v JOIN layers l ON l.id = v.layer_id
                   JOIN plans p ON p.id = l.plan_id
                   WHERE p.status <> 'draft' AND v.loaded_at > r.as_of) AS data_changed
    FROM submissions s
    CROSS JOIN LATERAL (SELECT c.id, c.verdict, c.checked_at, c.as_of, c.rerun_of FROM check_runs c
                        WHERE c.submission_id = s.id ORDER BY c.id DESC LIMIT 1) r
    WHERE (CAST(:verdict AS text) IS NULL OR r.verdict = CAST(:verdict AS text))
      AND (CAST(:pattern AS text) IS NULL
           OR concat_ws(' ', s.project_code, s.name, s.applicant, s.proposed_use, s.source_name)
              ILIKE CAST(:pattern AS text) ESCAPE '\')
      AND (CAST(:department AS text) IS NULL OR EXISTS (
           SELECT 1 FROM review_tasks t WHERE t.submission_id = s.id AND t.department = CAST(:department AS text)))
    ORDER BY r.id DESC
    LIMIT :limit
    """
)


# --- Conflict runs (差异图斑) ------------------------------------------------------------------
# Task-side statements run through plain psycopg in worker processes (no SQLAlchemy there).

TILE_FEATURES = """
    SELECT feature_no, class_code, class_raw, geom
    FROM features
    WHERE version_id = %(vid)s AND geom && ST_MakeEnvelope(%(x0)s, %(y0)s, %(x1)s, %(y1)s, %(srid)s)
    ORDER BY feature_no
"""

TILE_ADMIN = """
    SELECT properties ->> %(code_field)s, properties ->> %(name_field)s, geom
    FROM features
    WHERE version_id = ANY(%(vids)s) AND geom && ST_MakeEnvelope(%(x0)s, %(y0)s, %(x1)s, %(y1)s, %(srid)s)
    ORDER BY version_id, feature_no
"""

TILE_CONTROL = """
    SELECT geom FROM features
    WHERE version_id = ANY(%(vids)s) AND geom && ST_MakeEnvelope(%(x0)s, %(y0)s, %(x1)s, %(y1)s, %(srid)s)
"""

FEATURES_BY_FID = """
    SELECT feature_no, class_code, class_raw, geom FROM features
    WHERE version_id = %(vid)s AND feature_no = ANY(%(fids)s)
    ORDER BY feature_no
"""

FEATURES_MEETING = """
    SELECT f.feature_no, f.class_code, f.class_raw, f.geom FROM features f
    WHERE f.version_id = %(vid)s AND EXISTS (
        SELECT 1 FROM features g
        WHERE g.version_id = %(other)s AND g.feature_no = ANY(%(fids)s)
          AND g.geom && f.geom AND ST_Intersects(g.geom, f.geom))
    ORDER BY f.feature_no
"""

# The order tasks send a patch's fields in (binary COPY): NOT NULL fixed-size fields first, then
# text, nullable flags, feature-number arrays and the geometry (see conflict_tiles.finish).
STAGE_FIXED = ("run_id", "patch_no", "kept", "a_fid", "b_fid", "area_m2", "priority", "tile", "part")
STAGE_TEXT = ("filter_reason", "category", "subtype", "a_code", "a_raw", "a_name", "b_code", "b_raw",
              "b_name", "county_code", "county_name", "township_code", "township_name")
STAGE_FLAGS = ("in_farmland", "in_redline", "in_udb")
STAGE_ARRAYS = ("a_fids", "b_fids")
_STAGE_COLUMNS = ", ".join(STAGE_FIXED + STAGE_TEXT + STAGE_FLAGS + STAGE_ARRAYS + ("geom",))


def stage_name(run_id: int) -> str:
    """The table a run fills: its own partition of conflict_patches, attached at the end."""
    return f"conflict_patches_r{int(run_id)}"


def stage_copy(stage: str) -> str:
    """COPY statement into a run's table (name made by stage_name only)."""
    if not stage.startswith("conflict_patches_r") or not stage[18:].isdigit():
        raise ValueError(f"not a run table: {stage!r}")
    return f"COPY {stage} ({_STAGE_COLUMNS}) FROM STDIN (FORMAT binary)"


def stage_ddl(run_id: int) -> str:
    """Create a run's table, detached until the run's final transaction (readers never see a
    half-filled run; a failed run drops it)."""
    n = int(run_id)
    return (f"CREATE TABLE {stage_name(n)} (LIKE conflict_patches INCLUDING DEFAULTS INCLUDING CONSTRAINTS);"
            f"ALTER TABLE {stage_name(n)} ADD CONSTRAINT {stage_name(n)}_run CHECK (run_id = {n})")


def stage_drop(run_id: int) -> str:
    """Drop a failed run's table."""
    return f"DROP TABLE IF EXISTS {stage_name(run_id)}"


def stage_delete_pairs(run_id: int) -> str:
    """Delete pieces of features that the overlap correction recomputes."""
    return (f"DELETE FROM {stage_name(run_id)} "
            "WHERE a_fid = ANY(%(a_fids)s) OR b_fid = ANY(%(b_fids)s)")


def partition_index_ddl(run_id: int) -> list[str]:
    """The indexes of a run's filled table, each built on its own connection, side by side.

    Patch numbers were given by the tasks (tile × 1,000,000 + the piece's place in its tile), so
    nothing is rewritten. The spatial index covers the kept patches only (maps, carrying
    resolutions); the sliver audit set is read by run.
    """
    part = stage_name(int(run_id))
    return [
        f"CREATE UNIQUE INDEX {part}_pkey ON {part} (patch_no)",
        f"CREATE INDEX {part}_geom ON {part} USING gist (geom) WHERE kept",
    ]


def partition_ddl(run_id: int) -> list[str]:
    """Make the unique index the primary key and attach the run's table to conflict_patches
    (in the run's final transaction, after :func:`partition_index_ddl`)."""
    n = int(run_id)
    part = stage_name(n)
    return [
        f"ALTER TABLE {part} ADD CONSTRAINT {part}_pkey PRIMARY KEY USING INDEX {part}_pkey",
        f"ALTER TABLE conflict_patches ATTACH PARTITION {part} FOR VALUES IN ({n})",
    ]


RESERVE_RUN_ID = text("SELECT nextval(pg_get_serial_sequence('conflict_runs', 'id'))")

DISTINCT_CODES = text("SELECT DISTINCT class_code FROM features WHERE version_id = :vid")

SCHEME_TABLE = text("SELECT code, name_zh, is_construction FROM class_codes WHERE scheme = :scheme")

NEWEST_VERSIONS_OF_THEME = text(
    """
    SELECT DISTINCT ON (l.id) l.id AS layer_id, v.id AS version_id, v.source_sha256
    FROM layers l
    JOIN plans p ON p.id = l.plan_id
    JOIN layer_versions v ON v.layer_id = l.id
    WHERE l.theme = :theme AND l.data_kind = 'vector' AND p.status <> 'draft'
    ORDER BY l.id, v.version DESC
    """
)

REF_COVERAGE = text(
    "SELECT ST_AsBinary(ST_Union(geom)) FROM features WHERE version_id = :vid"
)

# Every feature's area inside the run's clip (psycopg parameters: fetched in binary by the run).
FEATURE_AREAS = """
    SELECT feature_no,
           CASE WHEN CAST(%(clip)s AS bytea) IS NULL THEN ST_Area(geom)
                WHEN ST_CoveredBy(geom, ST_GeomFromWKB(%(clip)s, %(srid)s)) THEN ST_Area(geom)
                ELSE ST_Area(ST_Intersection(geom, ST_GeomFromWKB(%(clip)s, %(srid)s))) END AS area
    FROM features WHERE version_id = %(vid)s
"""

INSERT_RUN = text(
    """
    INSERT INTO conflict_runs (id, profile, params, a_layer_id, b_layer_id, a_version_id, b_version_id,
                               versions, engine, tiles, summary, previous_run_id, carried, created_by,
                               started_at)
    VALUES (:id, :profile, CAST(:params AS jsonb), :a_layer_id, :b_layer_id, :a_version_id,
            :b_version_id, CAST(:versions AS jsonb), :engine, :tiles, CAST(:summary AS jsonb),
            :previous_run_id, CAST(:carried AS jsonb), :created_by, :started_at)
    """
)

INSERT_DQ = text(
    """
    INSERT INTO conflict_dq (run_id, side, kind, fids, codes, area_m2, geom)
    VALUES (:run_id, :side, :kind, :fids, :codes, :area_m2,
            ST_GeomFromWKB(CAST(:wkb AS bytea), :srid))
    """
)

PREVIOUS_RUN = text(
    """
    SELECT id FROM conflict_runs
    WHERE a_layer_id = :a AND b_layer_id = :b AND profile = :profile AND id < :id
    ORDER BY id DESC LIMIT 1
    """
)

# The previous run's patches with a resolution, each matched to the new run's patch that is the
# same place (same category, intersection over union at least :iou), or to none.
CARRY_MATCH = text(
    """
    WITH cur AS (
        SELECT DISTINCT ON (patch_no) patch_no, status, department, comment
        FROM conflict_resolutions WHERE run_id = :prev ORDER BY patch_no, id DESC
    ), old AS (
        SELECT p.patch_no, p.category, p.geom, c.status, c.department, c.comment
        FROM conflict_patches p JOIN cur c USING (patch_no)
        WHERE p.run_id = :prev AND p.kept
    )
    SELECT o.patch_no AS old_no, o.status, o.department, o.comment, m.new_no
    FROM old o LEFT JOIN LATERAL (
        SELECT n.patch_no AS new_no FROM conflict_patches n
        WHERE n.run_id = :run AND n.kept AND n.category = o.category AND n.geom && o.geom
          AND ST_Area(ST_Intersection(n.geom, o.geom)) >= :iou * ST_Area(ST_Union(n.geom, o.geom))
        ORDER BY n.patch_no LIMIT 1
    ) m ON true
    ORDER BY o.patch_no
    """
)

INSERT_CARRIED = text(
    """
    INSERT INTO conflict_resolutions (run_id, patch_no, status, department, comment, actor,
                                      carried_from_run, carried_from_patch)
    VALUES (:run, :new_no, :status, :department, :comment, :actor, :prev, :old_no)
    """
)

VERSION_EXTENT = text(
    "SELECT ST_XMin(extent), ST_YMin(extent), ST_XMax(extent), ST_YMax(extent) "
    "FROM layer_versions WHERE id = :vid"
)

PLAN_CODE_OF_LAYER = text("SELECT p.code FROM layers l JOIN plans p ON p.id = l.plan_id WHERE l.id = :id")


def stage_summary(run_id: int) -> str:
    """Counts and areas of a run's stage pieces by kept/reason/category/subtype/county (psycopg)."""
    return f"""
        SELECT kept, filter_reason, category, subtype, county_code, county_name,
               count(*) AS n, sum(area_m2) AS area
        FROM {stage_name(int(run_id))}
        GROUP BY 1, 2, 3, 4, 5, 6
    """


RUN_ROW = text("SELECT * FROM conflict_runs WHERE id = :id")

RUNS_LIST = text(
    """
    SELECT r.id, r.profile, r.a_layer_id, r.b_layer_id, r.a_version_id, r.b_version_id, r.engine,
           r.tiles, r.summary, r.created_by, r.started_at, r.finished_at,
           pa.code || '/' || la.name AS a_ref, pb.code || '/' || lb.name AS b_ref
    FROM conflict_runs r
    JOIN layers la ON la.id = r.a_layer_id JOIN plans pa ON pa.id = la.plan_id
    JOIN layers lb ON lb.id = r.b_layer_id JOIN plans pb ON pb.id = lb.plan_id
    ORDER BY r.id DESC
    """
)

_CURRENT = """
    LEFT JOIN LATERAL (
        SELECT status, department, comment, actor, at FROM conflict_resolutions c
        WHERE c.run_id = p.run_id AND c.patch_no = p.patch_no ORDER BY c.id DESC LIMIT 1
    ) cur ON true
"""

PATCHES = text(
    f"""
    SELECT p.patch_no, p.kept, p.filter_reason, p.category, p.subtype, p.a_fid, p.a_fids, p.a_code,
           p.a_raw, p.a_name, p.b_fid, p.b_fids, p.b_code, p.b_raw, p.b_name, p.area_m2,
           p.county_code, p.county_name, p.township_code, p.township_name, p.in_farmland,
           p.in_redline, p.in_udb, p.priority,
           coalesce(cur.status, 'open') AS status, cur.department, cur.comment,
           CASE WHEN :with_geom THEN ST_AsBinary(p.geom) END AS wkb
    FROM conflict_patches p {_CURRENT}
    WHERE p.run_id = :run AND p.kept = :kept
      AND (CAST(:category AS text) IS NULL OR p.category = :category)
      AND (CAST(:status AS text) IS NULL OR coalesce(cur.status, 'open') = :status)
    ORDER BY p.patch_no
    LIMIT :limit OFFSET :offset
    """
)

PATCH_EXISTS = text(
    "SELECT patch_no FROM conflict_patches WHERE run_id = :run AND kept AND patch_no = ANY(:nos)"
)

PATCH_HISTORY = text(
    """
    SELECT id, status, department, comment, actor, at, carried_from_run, carried_from_patch
    FROM conflict_resolutions WHERE run_id = :run AND patch_no = :no ORDER BY id
    """
)

INSERT_RESOLUTIONS = text(
    f"""
    INSERT INTO conflict_resolutions (run_id, patch_no, status, department, comment, actor)
    SELECT p.run_id, p.patch_no, coalesce(CAST(:status AS text), cur.status, 'open'),
           coalesce(CAST(:department AS text), cur.department),
           coalesce(CAST(:comment AS text), cur.comment), :actor
    FROM conflict_patches p {_CURRENT}
    WHERE p.run_id = :run AND p.kept
      AND (CAST(:nos AS integer[]) IS NULL OR p.patch_no = ANY(:nos))
      AND (CAST(:category AS text) IS NULL OR p.category = :category)
      AND (CAST(:min_area AS float8) IS NULL OR p.area_m2 >= :min_area)
      AND (CAST(:max_area AS float8) IS NULL OR p.area_m2 < :max_area)
    RETURNING patch_no
    """
)

PROGRESS = text(
    f"""
    SELECT coalesce(cur.department, '') AS department, coalesce(cur.status, 'open') AS status,
           count(*) AS n, sum(p.area_m2) AS area_m2
    FROM conflict_patches p {_CURRENT}
    WHERE p.run_id = :run AND p.kept
    GROUP BY 1, 2 ORDER BY 1, 2
    """
)

RUN_DQ = text(
    """
    SELECT side, kind, fids, codes, area_m2, ST_AsBinary(geom) AS wkb
    FROM conflict_dq WHERE run_id = :run ORDER BY side, kind, id
    """
)


# --- conflict-run pages: vector tiles of a run's patches, one patch, the run's bounds ---------

# The ETag state of a run's tiles: the run exists, and the newest resolution row (a status
# change gives new ETags). No row when the run does not exist.
RUN_TILE_STATE = text(
    """
    SELECT r.id, (SELECT max(c.id) FROM conflict_resolutions c WHERE c.run_id = r.id) AS last_resolution
    FROM conflict_runs r WHERE r.id = :run
    """
)

# One Mapbox Vector Tile (layer "patches") of a run's kept patches with their current status.
# ``area``: the tile (plus its buffer) inside the deployment extent (lon/lat, in Web Mercator),
# densified and transformed to the store CRS, so the transform stays inside the zone and the box
# drives the GiST index of the run's partition. Simplification and the one-pixel drop follow
# layers/tiles.py. The patch number is both the MVT feature id and an attribute.
RUN_TILE_MVT = text(
    f"""
    WITH tile AS (
        SELECT ST_TileEnvelope(CAST(:z AS integer), CAST(:x AS integer), CAST(:y AS integer)) AS env
    ),
    dep AS (
        SELECT ST_SetSRID(ST_Transform(ST_Segmentize(ST_MakeEnvelope(:west, :south, :east, :north, 4326), 0.05),
                                       3857)::box2d::geometry, 3857) AS box
    ),
    area AS (
        SELECT ST_Transform(
                 ST_Segmentize(ST_Intersection(ST_Expand(tile.env, :margin), dep.box), :segment),
                 CAST(:srid AS integer)) AS box
        FROM tile, dep
        WHERE ST_Expand(tile.env, :margin) && dep.box
    ),
    mvt AS (
        SELECT ST_AsMVTGeom(
                 ST_Transform(ST_SimplifyPreserveTopology(p.geom, :tolerance), 3857),
                 tile.env::box2d, CAST(:extent AS integer), CAST(:buffer AS integer), true) AS geom,
               p.patch_no AS fid, p.patch_no, p.category, p.subtype, p.priority,
               coalesce(cur.status, 'open') AS status, round(CAST(p.area_m2 AS numeric), 2)::float8 AS area_m2
        FROM tile, area, conflict_patches p {_CURRENT}
        WHERE p.run_id = :run AND p.kept
          AND p.geom && area.box
          AND (ST_XMax(p.geom) - ST_XMin(p.geom) >= :min_size OR ST_YMax(p.geom) - ST_YMin(p.geom) >= :min_size)
    )
    SELECT ST_AsMVT(mvt.*, 'patches', CAST(:extent AS integer), 'geom', 'fid')
    FROM mvt WHERE mvt.geom IS NOT NULL
    """
)

_PATCH_COLUMNS = f"""
    SELECT p.patch_no, p.kept, p.filter_reason, p.category, p.subtype, p.a_fid, p.a_fids, p.a_code,
           p.a_raw, p.a_name, p.b_fid, p.b_fids, p.b_code, p.b_raw, p.b_name, p.area_m2,
           p.county_code, p.county_name, p.township_code, p.township_name, p.in_farmland,
           p.in_redline, p.in_udb, p.priority,
           coalesce(cur.status, 'open') AS status, cur.department, cur.comment, cur.actor, cur.at
    FROM conflict_patches p {_CURRENT}
"""

# One kept patch by number, with its current resolution.
PATCH_BY_NO = text(f"{_PATCH_COLUMNS} WHERE p.run_id = :run AND p.kept AND p.patch_no = :no")

# The kept patch under a lon/lat point (patches of a run do not overlap; the smallest first).
PATCH_AT = text(
    f"""
    {_PATCH_COLUMNS}
    WHERE p.run_id = :run AND p.kept
      AND p.geom && ST_Transform(ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), CAST(:srid AS integer))
      AND ST_Intersects(p.geom, ST_Transform(ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), CAST(:srid AS integer)))
    ORDER BY p.area_m2, p.patch_no LIMIT 1
    """
)

# Lon/lat bounds of a run's kept patches (the store-CRS box densified before it is transformed).
RUN_BOUNDS_LONLAT = text(
    """
    SELECT ST_XMin(b) AS west, ST_YMin(b) AS south, ST_XMax(b) AS east, ST_YMax(b) AS north
    FROM (
        SELECT ST_Transform(ST_Segmentize(ST_SetSRID(e::geometry, CAST(:srid AS integer)),
                                          greatest(ST_XMax(e) - ST_XMin(e), ST_YMax(e) - ST_YMin(e), 1.0) / 16),
                            4326)::box2d AS b
        FROM (SELECT ST_Extent(geom) AS e FROM conflict_patches WHERE run_id = :run AND kept) x
        WHERE e IS NOT NULL
    ) s
    """
)


# --- Parallel departmental review (联审联批) ------------------------------------------------

RUN_DEPARTMENTS = text(
    """
    SELECT department, array_agg(DISTINCT rule_key ORDER BY rule_key) AS rule_keys
    FROM check_findings
    WHERE run_id = :run AND department IS NOT NULL AND rule_key IS NOT NULL
      AND severity IN ('forbidden', 'needs_approval', 'notice') AND state = 'applies'
    GROUP BY department ORDER BY department
    """
)

INSERT_TASK = text(
    """
    INSERT INTO review_tasks (submission_id, check_run_id, department, rule_keys, due_on)
    VALUES (:submission_id, :run, :department, :rule_keys, :due_on)
    ON CONFLICT ON CONSTRAINT uq_review_tasks_run_department DO NOTHING
    RETURNING id
    """
)

TASK = text("SELECT * FROM review_tasks WHERE id = :id")

TASKS_OF_SUBMISSION = text(
    """
    SELECT t.id, t.department, t.rule_keys, t.due_on, t.check_run_id, t.created_at,
           o.id AS opinion_id, o.opinion, o.text, o.at AS opinion_at, u.username AS opinion_by,
           o.attachment_name, o.attachment_sha256,
           (o.id IS NULL AND t.due_on < CAST(:today AS date)) AS overdue
    FROM review_tasks t
    LEFT JOIN LATERAL (SELECT * FROM review_opinions x WHERE x.task_id = t.id ORDER BY x.id DESC LIMIT 1) o ON true
    LEFT JOIN users u ON u.id = o.actor_id
    WHERE t.submission_id = :submission_id
    ORDER BY t.department
    """
)

TASKS_OF_DEPARTMENT = text(
    """
    SELECT t.id, t.submission_id, t.check_run_id, t.rule_keys, t.due_on, t.created_at, s.name, s.project_code,
           o.opinion, (o.id IS NULL AND t.due_on < CAST(:today AS date)) AS overdue
    FROM review_tasks t JOIN submissions s ON s.id = t.submission_id
    LEFT JOIN LATERAL (SELECT * FROM review_opinions x WHERE x.task_id = t.id ORDER BY x.id DESC LIMIT 1) o ON true
    WHERE t.department = :department
    ORDER BY t.due_on, t.id
    """
)

INSERT_OPINION = text(
    """
    INSERT INTO review_opinions (task_id, opinion, text, attachment_name, attachment_sha256, actor_id)
    VALUES (:task_id, :opinion, :text, :attachment_name, :attachment_sha256, :actor_id)
    RETURNING id
    """
)

INSERT_DECISION = text(
    """
    INSERT INTO review_decisions (submission_id, check_run_id, decision, text, actor_id)
    VALUES (:submission_id, :run, :decision, :text, :actor_id) RETURNING id
    """
)

DECISIONS = text(
    """
    SELECT d.id, d.check_run_id, d.decision, d.text, d.at, u.username AS decided_by
    FROM review_decisions d JOIN users u ON u.id = d.actor_id
    WHERE d.submission_id = :submission_id ORDER BY d.id
    """
)

LATEST_RUN_OF_SUBMISSION = text(
    "SELECT id FROM check_runs WHERE submission_id = :submission_id ORDER BY id DESC LIMIT 1"
)

FINDING_LAYER_OWNER = text(
    """
    SELECT f.layer_id, f.version_id, p.authority
    FROM check_findings f LEFT JOIN layers l ON l.id = f.layer_id LEFT JOIN plans p ON p.id = l.plan_id
    WHERE f.run_id = :run AND f.finding_no = :no
    """
)

INSERT_DISPUTE = text(
    """
    INSERT INTO finding_disputes (check_run_id, finding_no, layer_id, version_id, reason,
                                  correction_department, actor_id)
    VALUES (:run, :no, :layer_id, :version_id, :reason, :department, :actor_id) RETURNING id
    """
)

INSERT_CORRECTION_UPDATE = text(
    """
    INSERT INTO correction_updates (dispute_id, status, comment, actor_id)
    VALUES (:dispute_id, :status, :comment, :actor_id) RETURNING id
    """
)

DISPUTE = text("SELECT * FROM finding_disputes WHERE id = :id")

DISPUTES_OF_RUN = text(
    """
    SELECT d.id, d.finding_no, d.reason, d.correction_department, d.at, u.username AS marked_by,
           c.status, c.comment
    FROM finding_disputes d JOIN users u ON u.id = d.actor_id
    LEFT JOIN LATERAL (SELECT * FROM correction_updates x WHERE x.dispute_id = d.id ORDER BY x.id DESC LIMIT 1) c
      ON true
    WHERE d.check_run_id = :run ORDER BY d.id
    """
)

CORRECTIONS_OF_DEPARTMENT = text(
    """
    SELECT d.id, d.check_run_id, d.finding_no, d.layer_id, d.version_id, d.reason, d.at, c.status, c.comment
    FROM finding_disputes d
    LEFT JOIN LATERAL (SELECT * FROM correction_updates x WHERE x.dispute_id = d.id ORDER BY x.id DESC LIMIT 1) c
      ON true
    WHERE d.correction_department = :department ORDER BY d.id
    """
)


# --- who sees which submission ----------------------------------------------------------------

SUBMISSION_ACCESS = text(
    """
    SELECT s.id, s.owner_id,
           EXISTS (SELECT 1 FROM review_tasks t WHERE t.submission_id = s.id AND t.department = :department)
             AS routed
    FROM submissions s WHERE s.id = :id
    """
)

RUN_SUBMISSION = text("SELECT submission_id FROM check_runs WHERE id = :id")

PATCH_CURRENT_DEPARTMENTS = text(
    f"""
    SELECT p.patch_no, cur.department FROM conflict_patches p {_CURRENT}
    WHERE p.run_id = :run AND p.kept AND p.patch_no = ANY(:nos)
    """
)


# --- review pages and opinion attachments ------------------------------------------------------

OPINION_ATTACHMENT = text(
    """
    SELECT o.id, o.attachment_name, o.attachment_sha256, t.submission_id
    FROM review_opinions o JOIN review_tasks t ON t.id = o.task_id
    WHERE o.id = :id
    """
)

OPINIONS_OF_SUBMISSION = text(
    """
    SELECT o.id, o.task_id, t.department, o.opinion, o.text, o.attachment_name, o.attachment_sha256, o.at,
           u.username AS opinion_by
    FROM review_opinions o JOIN review_tasks t ON t.id = o.task_id JOIN users u ON u.id = o.actor_id
    WHERE t.submission_id = :submission_id
    ORDER BY o.id
    """
)

OPEN_TASKS = text(
    """
    SELECT t.id, t.department, t.submission_id, t.check_run_id, t.rule_keys, t.due_on, t.created_at, s.name,
           s.project_code, (t.due_on < CAST(:today AS date)) AS overdue
    FROM review_tasks t JOIN submissions s ON s.id = t.submission_id
    WHERE NOT EXISTS (SELECT 1 FROM review_opinions x WHERE x.task_id = t.id)
    ORDER BY t.due_on, t.department, t.id
    LIMIT :limit
    """
)

FINDINGS_FOR_DISPUTE = text(
    """
    SELECT f.finding_no, f.layer_id, f.version_id, f.theme, f.class_code, f.class_raw, f.state, f.severity
    FROM check_findings f WHERE f.run_id = :run ORDER BY f.finding_no
    """
)

# Tables of runs that never finished (the process was killed): not attached, no run row, and no
# session holds the run's advisory lock (a run in progress holds it for its whole life).
ORPHAN_RUN_TABLES = text(
    """
    SELECT substring(c.relname FROM 'conflict_patches_r([0-9]+)$')::int AS run_id
    FROM pg_class c
    WHERE c.relkind = 'r' AND c.relname ~ '^conflict_patches_r[0-9]+$' AND NOT c.relispartition
      AND NOT EXISTS (SELECT 1 FROM conflict_runs r
                      WHERE r.id = substring(c.relname FROM 'conflict_patches_r([0-9]+)$')::int)
    """
)
RUN_LOCK_KEY = 0x6C69_6E6B  # advisory-lock namespace of conflict runs
TRY_RUN_LOCK = text("SELECT pg_try_advisory_lock(:ns, :id)")
RUN_UNLOCK = text("SELECT pg_advisory_unlock(:ns, :id)")
