"""Rule sets: the rules a check run used, stored once by content hash.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE rule_sets (
            sha256 char(64) PRIMARY KEY,
            rules jsonb NOT NULL,
            compat jsonb NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now()
        );
        -- Runs stored before rule sets existed carried their rules in params; they have none.
        ALTER TABLE check_runs ADD COLUMN rule_set char(64) REFERENCES rule_sets(sha256);
        """
    )


def downgrade() -> None:
    op.execute("ALTER TABLE check_runs DROP COLUMN rule_set; DROP TABLE rule_sets")
