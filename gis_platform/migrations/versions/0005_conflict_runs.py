"""Plan-vs-plan conflict runs (差异图斑): runs, patches (with the sliver audit set), data-quality
findings and the append-only resolution history.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28
"""

from alembic import context, op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    srid = int(context.config.get_main_option("srid") or 4523)
    op.execute(
        f"""
        CREATE TABLE conflict_runs (
            id serial PRIMARY KEY,
            profile varchar(60) NOT NULL,
            params jsonb NOT NULL,
            a_layer_id integer NOT NULL REFERENCES layers(id),
            b_layer_id integer NOT NULL REFERENCES layers(id),
            a_version_id integer NOT NULL REFERENCES layer_versions(id),
            b_version_id integer NOT NULL REFERENCES layer_versions(id),
            -- every layer version the run read (the two sides, admin areas, control lines)
            versions jsonb NOT NULL,
            engine varchar(20) NOT NULL,
            tiles integer NOT NULL,
            summary jsonb NOT NULL,
            previous_run_id integer REFERENCES conflict_runs(id),
            carried jsonb NOT NULL DEFAULT '{{}}',
            created_by text,
            started_at timestamptz NOT NULL,
            finished_at timestamptz NOT NULL DEFAULT now()
        );
        CREATE TRIGGER conflict_runs_immutable BEFORE UPDATE OR DELETE ON conflict_runs
            FOR EACH ROW EXECUTE FUNCTION gisplat_immutable();

        -- The patches of every run, list-partitioned by run: a run fills its own table and
        -- attaches it in the run's final transaction. kept = false rows are the sliver audit set.
        -- patch_no = tile × 1,000,000 + the piece's place in its tile (deterministic).
        CREATE TABLE conflict_patches (
            run_id integer NOT NULL,
            patch_no integer NOT NULL,
            kept boolean NOT NULL,
            filter_reason varchar(20),
            category varchar(12) NOT NULL,
            subtype varchar(30),
            a_fid integer,
            a_fids integer[],
            a_code varchar(20),
            a_raw text,
            a_name text,
            b_fid integer,
            b_fids integer[],
            b_code varchar(20),
            b_raw text,
            b_name text,
            area_m2 double precision NOT NULL,
            county_code text,
            county_name text,
            township_code text,
            township_name text,
            in_farmland boolean,
            in_redline boolean,
            in_udb boolean,
            priority smallint NOT NULL,
            tile integer NOT NULL,
            part integer NOT NULL,
            geom geometry(Polygon, {srid}) NOT NULL
        ) PARTITION BY LIST (run_id);
        -- Each run's partition has its own partial GiST index on kept patches (see
        -- conflict_checks/queries.py partition_ddl); none on the parent.
        CREATE TRIGGER conflict_patches_immutable BEFORE UPDATE ON conflict_patches
            FOR EACH ROW EXECUTE FUNCTION gisplat_immutable();

        CREATE TABLE conflict_dq (
            id bigserial PRIMARY KEY,
            run_id integer NOT NULL REFERENCES conflict_runs(id),
            side char(1) NOT NULL CHECK (side IN ('A', 'B')),
            kind varchar(20) NOT NULL CHECK (kind IN ('overlap', 'gap')),
            fids integer[] NOT NULL,
            codes text[] NOT NULL,
            area_m2 double precision NOT NULL,
            geom geometry(Geometry, {srid})
        );
        CREATE INDEX ix_conflict_dq_run ON conflict_dq (run_id);

        CREATE TABLE conflict_resolutions (
            id bigserial PRIMARY KEY,
            run_id integer NOT NULL REFERENCES conflict_runs(id),
            patch_no integer NOT NULL,
            status varchar(20) NOT NULL CHECK (status IN
                ('open', 'amend_a', 'amend_b', 'accepted', 'deferred')),
            department text,
            comment text,
            actor text NOT NULL,
            at timestamptz NOT NULL DEFAULT now(),
            carried_from_run integer REFERENCES conflict_runs(id),
            carried_from_patch integer
        );
        CREATE INDEX ix_conflict_resolutions_patch ON conflict_resolutions (run_id, patch_no, id);
        CREATE TRIGGER conflict_resolutions_append_only BEFORE UPDATE OR DELETE ON conflict_resolutions
            FOR EACH ROW EXECUTE FUNCTION gisplat_immutable();
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE conflict_resolutions, conflict_dq, conflict_patches, conflict_runs CASCADE")
