"""Multi-survey integration (多测合一): survey projects, result packages with their files,
features and check report, the append-only status history, and shares with departments.

A package row never changes: its status is the newest row of ``survey_package_events``
(submitted → passed | failed → accepted | returned | superseded), so history is never lost.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28
"""

from alembic import context, op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    srid = int(context.config.get_main_option("srid") or 4523)
    op.execute(
        f"""
        -- A survey project: one construction project (项目代码) at one stage, commissioned by a
        -- party (委托方) from one surveying firm ("surveyed once, by one firm").
        CREATE TABLE survey_projects (
            id serial PRIMARY KEY,
            project_code varchar(100) NOT NULL,
            stage varchar(40) NOT NULL,
            client text,
            firm text NOT NULL,
            name text,
            created_by text NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT uq_survey_projects_project_code UNIQUE (project_code, stage)
        );

        CREATE TABLE survey_packages (
            id serial PRIMARY KEY,
            project_id integer NOT NULL REFERENCES survey_projects(id),
            project_code varchar(100) NOT NULL,
            stage varchar(40) NOT NULL,
            item varchar(60) NOT NULL,
            version integer NOT NULL,
            firm text NOT NULL,
            surveyor text,
            submitted_by text NOT NULL,
            submitted_at timestamptz NOT NULL DEFAULT now(),
            source_name text NOT NULL,
            source_sha256 char(64) NOT NULL,
            supersedes_id integer REFERENCES survey_packages(id),
            check_status varchar(10) NOT NULL
                CONSTRAINT ck_survey_packages_check_status CHECK (check_status IN ('passed', 'failed')),
            precheck_run_id integer REFERENCES check_runs(id),
            metadata jsonb NOT NULL DEFAULT '{{}}',
            report jsonb NOT NULL,
            CONSTRAINT uq_survey_packages_project_code UNIQUE (project_code, stage, item, version)
        );
        CREATE INDEX ix_survey_packages_firm ON survey_packages (firm);

        CREATE TABLE survey_package_events (
            id bigserial PRIMARY KEY,
            package_id integer NOT NULL REFERENCES survey_packages(id),
            status varchar(12) NOT NULL
                CONSTRAINT ck_survey_package_events_status CHECK (status IN
                ('submitted', 'passed', 'failed', 'accepted', 'returned', 'superseded')),
            actor text NOT NULL,
            at timestamptz NOT NULL DEFAULT clock_timestamp(),
            reason text,
            details jsonb NOT NULL DEFAULT '{{}}'
        );
        CREATE INDEX ix_survey_package_events_package ON survey_package_events (package_id, id);

        -- Files as delivered, content-addressed under GISPLAT_HOME/surveys/<sha256>.
        CREATE TABLE survey_package_files (
            package_id integer NOT NULL REFERENCES survey_packages(id),
            file_no integer NOT NULL,
            name text NOT NULL,
            kind varchar(12) NOT NULL
                CONSTRAINT ck_survey_package_files_kind CHECK (kind IN
                ('vector', 'raster', 'document', 'table', 'metadata', 'unknown')),
            slot varchar(40),
            sha256 char(64) NOT NULL,
            size_bytes bigint NOT NULL,
            stored_path text NOT NULL,
            PRIMARY KEY (package_id, file_no)
        );

        CREATE TABLE survey_features (
            package_id integer NOT NULL REFERENCES survey_packages(id),
            file_no integer NOT NULL,
            feature_no integer NOT NULL,
            label text,
            role varchar(20) NOT NULL
                CONSTRAINT ck_survey_features_role CHECK (role IN
                ('parcel', 'building', 'footprint', 'boundary', 'green', 'other')),
            properties jsonb NOT NULL DEFAULT '{{}}',
            geom geometry(Geometry, {srid}) NOT NULL,
            PRIMARY KEY (package_id, file_no, feature_no)
        );
        CREATE INDEX ix_survey_features_geom ON survey_features USING gist (geom);

        CREATE TABLE survey_shares (
            id serial PRIMARY KEY,
            package_id integer NOT NULL REFERENCES survey_packages(id),
            department varchar(40) NOT NULL,
            shared_by text NOT NULL,
            shared_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT uq_survey_shares_package_id UNIQUE (package_id, department)
        );

        -- The current status of each package: its newest event.
        CREATE VIEW survey_package_status AS
            SELECT DISTINCT ON (package_id) package_id, id AS event_id, status, actor, at, reason
            FROM survey_package_events ORDER BY package_id, id DESC;

        CREATE TRIGGER survey_projects_immutable BEFORE UPDATE OR DELETE ON survey_projects
            FOR EACH ROW EXECUTE FUNCTION gisplat_immutable();
        CREATE TRIGGER survey_packages_immutable BEFORE UPDATE OR DELETE ON survey_packages
            FOR EACH ROW EXECUTE FUNCTION gisplat_immutable();
        CREATE TRIGGER survey_package_events_append_only BEFORE UPDATE OR DELETE ON survey_package_events
            FOR EACH ROW EXECUTE FUNCTION gisplat_immutable();
        CREATE TRIGGER survey_package_files_immutable BEFORE UPDATE OR DELETE ON survey_package_files
            FOR EACH ROW EXECUTE FUNCTION gisplat_immutable();
        CREATE TRIGGER survey_features_immutable BEFORE UPDATE OR DELETE ON survey_features
            FOR EACH ROW EXECUTE FUNCTION gisplat_immutable();
        CREATE TRIGGER survey_shares_immutable BEFORE UPDATE OR DELETE ON survey_shares
            FOR EACH ROW EXECUTE FUNCTION gisplat_immutable();
        """
    )


def downgrade() -> None:
    op.execute(
        "DROP VIEW survey_package_status; DROP TABLE survey_shares, survey_features, survey_package_files, "
        "survey_package_events, survey_packages, survey_projects CASCADE"
    )
