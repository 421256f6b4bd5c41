"""Large JSON documents compressed with LZ4 instead of PostgreSQL's default pglz: a check run's
stored result (typically 20–30 KB) is compressed in about half the time, and a little smaller.
Only on servers built with LZ4 (Debian's are); elsewhere nothing changes.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

COLUMNS = (("check_runs", "result"), ("layer_versions", "report"), ("conflict_runs", "summary"))


def _set(method: str) -> None:
    # SET COMPRESSION applies to values written from now on; stored ones stay as they are.
    statements = "; ".join(f"ALTER TABLE {t} ALTER COLUMN {c} SET COMPRESSION {method}" for t, c in COLUMNS)
    op.execute(
        f"""
        DO $$
        BEGIN
            IF EXISTS (SELECT 1 FROM pg_settings
                       WHERE name = 'default_toast_compression' AND 'lz4' = ANY(enumvals)) THEN
                EXECUTE '{statements}';
            END IF;
        END $$
        """
    )


def upgrade() -> None:
    _set("lz4")


def downgrade() -> None:
    _set("pglz")
