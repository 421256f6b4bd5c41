"""A change counter for the rule tables, so checks can cache the rules between edits.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        INSERT INTO store_meta (key, value) VALUES ('rules_version', '0')
            ON CONFLICT (key) DO NOTHING;
        CREATE FUNCTION gisplat_bump_rules_version() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            UPDATE store_meta SET value = (value::bigint + 1)::text WHERE key = 'rules_version';
            RETURN NULL;
        END $$;
        CREATE TRIGGER rules_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON rules
            FOR EACH STATEMENT EXECUTE FUNCTION gisplat_bump_rules_version();
        CREATE TRIGGER use_compatibility_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
            ON use_compatibility FOR EACH STATEMENT EXECUTE FUNCTION gisplat_bump_rules_version();
        """
    )


def downgrade() -> None:
    op.execute(
        "DROP TRIGGER rules_changed ON rules; DROP TRIGGER use_compatibility_changed ON use_compatibility; "
        "DROP FUNCTION gisplat_bump_rules_version(); DELETE FROM store_meta WHERE key = 'rules_version'"
    )
