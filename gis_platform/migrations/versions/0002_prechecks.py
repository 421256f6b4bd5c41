"""Site pre-checks: rules, submissions, check runs and their findings; layer coverage.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from alembic import context, op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    srid = int(context.config.get_main_option("srid") or 4523)
    op.execute(
        f"""
        -- How a layer's coverage is known: 'features' (wall-to-wall: where it has features),
        -- 'extent' (the bounding box of each version) or 'layer:PLAN/LAYER' (another layer).
        ALTER TABLE layers ADD COLUMN coverage text NOT NULL DEFAULT 'extent';

        CREATE TABLE rules (
            id serial PRIMARY KEY,
            key varchar(100) NOT NULL UNIQUE,
            theme varchar(60) NOT NULL,
            classes text[],
            project_types text[],
            "when" varchar(20) NOT NULL DEFAULT 'inside'
                CONSTRAINT ck_rules_when CHECK ("when" IN ('inside','outside','incompatible','above','differs')),
            severity varchar(20) NOT NULL
                CONSTRAINT ck_rules_severity CHECK (severity IN ('forbidden','needs_approval','notice')),
            message_zh text NOT NULL,
            message_en text NOT NULL,
            citation text,
            department text,
            params jsonb NOT NULL DEFAULT '{{}}',
            active boolean NOT NULL DEFAULT true,
            source text,
            updated_at timestamptz NOT NULL DEFAULT now()
        );

        CREATE TABLE use_compatibility (
            id serial PRIMARY KEY,
            proposed varchar(20) NOT NULL,
            planned varchar(20) NOT NULL,
            compatible boolean NOT NULL,
            note text,
            CONSTRAINT uq_use_compatibility_proposed UNIQUE (proposed, planned)
        );

        CREATE TABLE submissions (
            id serial PRIMARY KEY,
            project_code varchar(100),
            name text,
            applicant text,
            proposed_use varchar(20),
            project_type varchar(30) NOT NULL,
            declared_area_m2 double precision,
            source_name text,
            source_sha256 char(64),
            area_m2 double precision NOT NULL,
            geom geometry(MultiPolygon, {srid}) NOT NULL,
            created_by text,
            created_at timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX ix_submissions_geom ON submissions USING gist (geom);
        CREATE INDEX ix_submissions_project_code ON submissions (project_code);

        CREATE TABLE check_runs (
            id serial PRIMARY KEY,
            submission_id integer NOT NULL REFERENCES submissions(id),
            checked_at timestamptz NOT NULL DEFAULT now(),
            as_of timestamptz NOT NULL,
            rerun_of integer REFERENCES check_runs(id),
            verdict varchar(20) NOT NULL
                CONSTRAINT ck_check_runs_verdict CHECK (verdict IN ('pass','conditional','fail')),
            params jsonb NOT NULL,
            versions jsonb NOT NULL,
            result jsonb NOT NULL,
            duration_ms double precision
        );
        CREATE INDEX ix_check_runs_submission_id ON check_runs (submission_id);

        CREATE TABLE check_findings (
            run_id integer NOT NULL REFERENCES check_runs(id),
            finding_no integer NOT NULL,
            layer_id integer REFERENCES layers(id),
            version_id integer REFERENCES layer_versions(id),
            theme varchar(60),
            class_code varchar(20),
            class_raw text,
            state varchar(20) NOT NULL,
            area_m2 double precision NOT NULL,
            share double precision NOT NULL,
            severity varchar(20) NOT NULL,
            rule_key varchar(100),
            department text,
            PRIMARY KEY (run_id, finding_no)
        );

        CREATE TRIGGER check_runs_immutable BEFORE UPDATE OR DELETE ON check_runs
            FOR EACH ROW EXECUTE FUNCTION gisplat_immutable();
        CREATE TRIGGER check_findings_immutable BEFORE UPDATE OR DELETE ON check_findings
            FOR EACH ROW EXECUTE FUNCTION gisplat_immutable();
        CREATE TRIGGER submissions_immutable BEFORE UPDATE OR DELETE ON submissions
            FOR EACH ROW EXECUTE FUNCTION gisplat_immutable();
        """
    )


def downgrade() -> None:
    op.execute(
        "DROP TABLE check_findings, check_runs, submissions, use_compatibility, rules; "
        "ALTER TABLE layers DROP COLUMN coverage"
    )
