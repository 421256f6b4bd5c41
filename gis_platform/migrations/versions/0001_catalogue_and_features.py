"""Catalogue, shared feature table, audit log.

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

from alembic import context, op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    srid = int(context.config.get_main_option("srid") or 4523)
    op.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    op.execute(
        """
        CREATE TABLE store_meta (key text PRIMARY KEY, value text NOT NULL);

        CREATE TABLE plans (
            id serial PRIMARY KEY,
            code varchar(100) NOT NULL UNIQUE,
            name text NOT NULL,
            kind varchar(40) NOT NULL CONSTRAINT ck_plans_kind CHECK (kind IN (
                'economic_social','land_use_master','urban_master','urban_regulatory','sectoral',
                'territorial','control_line','current_use','survey','base')),
            authority text,
            status varchar(20) NOT NULL DEFAULT 'active'
                CONSTRAINT ck_plans_status CHECK (status IN ('draft','active','superseded')),
            approved_on date,
            effective_from date,
            effective_to date,
            description text,
            created_by text,
            created_at timestamptz NOT NULL DEFAULT now()
        );

        CREATE TABLE class_schemes (
            code varchar(40) PRIMARY KEY,
            name_zh text NOT NULL,
            name_en text NOT NULL,
            description text
        );

        CREATE TABLE class_codes (
            scheme varchar(40) NOT NULL REFERENCES class_schemes(code),
            code varchar(20) NOT NULL,
            name_zh text NOT NULL,
            name_en text,
            level integer NOT NULL,
            parent varchar(20),
            is_construction boolean,
            PRIMARY KEY (scheme, code)
        );

        CREATE TABLE code_mappings (
            id serial PRIMARY KEY,
            scheme varchar(40) NOT NULL REFERENCES class_schemes(code),
            local_code text NOT NULL,
            standard_code varchar(20),
            note text,
            CONSTRAINT uq_code_mappings_scheme UNIQUE (scheme, local_code)
        );

        CREATE TABLE layers (
            id serial PRIMARY KEY,
            plan_id integer NOT NULL REFERENCES plans(id),
            name varchar(200) NOT NULL,
            title text,
            data_kind varchar(10) NOT NULL DEFAULT 'vector'
                CONSTRAINT ck_layers_data_kind CHECK (data_kind IN ('vector','raster')),
            theme varchar(60),
            class_scheme varchar(40) REFERENCES class_schemes(code),
            class_field text,
            description text,
            created_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT uq_layers_plan_id UNIQUE (plan_id, name)
        );
        """
    )
    op.execute(
        f"""
        CREATE TABLE layer_versions (
            id serial PRIMARY KEY,
            layer_id integer NOT NULL REFERENCES layers(id),
            version integer NOT NULL,
            source_name text NOT NULL,
            source_sha256 char(64) NOT NULL,
            source_format varchar(40) NOT NULL,
            source_layer text,
            source_crs text NOT NULL,
            encoding varchar(40),
            feature_count integer NOT NULL,
            total_area_m2 double precision,
            extent geometry(Polygon, {srid}),
            loaded_by text,
            loaded_at timestamptz NOT NULL DEFAULT now(),
            options jsonb NOT NULL DEFAULT '{{}}',
            report jsonb NOT NULL DEFAULT '{{}}',
            raster_path text,
            raster_meta jsonb,
            CONSTRAINT uq_layer_versions_layer_id UNIQUE (layer_id, version)
        );

        -- One table for every vector layer version, list-partitioned by version: each load
        -- fills a fresh partition and builds its indexes once, after COPY (see layers/load.py);
        -- queries on one version prune to its partition.
        CREATE TABLE features (
            version_id integer NOT NULL REFERENCES layer_versions(id),
            feature_no integer NOT NULL,
            class_code varchar(20),
            class_raw text,
            class_status varchar(10) NOT NULL
                CONSTRAINT ck_features_class_status
                CHECK (class_status IN ('standard','mapped','unmapped','none')),
            properties jsonb NOT NULL DEFAULT '{{}}',
            geom geometry(Geometry, {srid}) NOT NULL
        ) PARTITION BY LIST (version_id);
        -- (version_id, feature_no) identifies a feature; it is unique by construction (the
        -- loader numbers rows 1..n in a fresh partition). Access is spatial (GiST) or by
        -- version (partition pruning), so no b-tree is kept.
        CREATE INDEX ix_features_geom ON features USING gist (geom);

        CREATE TABLE audit_log (
            id bigserial PRIMARY KEY,
            at timestamptz NOT NULL DEFAULT now(),
            actor text NOT NULL,
            action varchar(60) NOT NULL,
            target text NOT NULL,
            details jsonb NOT NULL DEFAULT '{{}}'
        );

        CREATE FUNCTION gisplat_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION '% rows are never changed: load a new version instead', TG_TABLE_NAME;
        END $$;
        CREATE TRIGGER features_immutable BEFORE UPDATE ON features
            FOR EACH ROW EXECUTE FUNCTION gisplat_immutable();
        CREATE TRIGGER layer_versions_immutable BEFORE UPDATE OR DELETE ON layer_versions
            FOR EACH ROW EXECUTE FUNCTION gisplat_immutable();
        CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
            FOR EACH ROW EXECUTE FUNCTION gisplat_immutable();

        INSERT INTO store_meta (key, value) VALUES ('store_srid', '{srid}');
        """
    )


def downgrade() -> None:
    op.execute(
        "DROP TABLE audit_log, features, layer_versions, layers, code_mappings, class_codes, "
        "class_schemes, plans, store_meta CASCADE; DROP FUNCTION gisplat_immutable()"
    )
