"""Internal overlaps of a layer version (图层内部重叠质检): which pairs of its features share
interior, and how much. Computed once per version after it is loaded (versions never change,
so the result is kept beside them): a version without a row in ``version_overlap_checks`` is
not checked yet.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-28
"""

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE version_overlap_checks (
            version_id integer PRIMARY KEY REFERENCES layer_versions(id) ON DELETE CASCADE,
            checked_at timestamptz NOT NULL DEFAULT now(),
            pairs integer NOT NULL,
            area_m2 double precision NOT NULL
        );
        CREATE TABLE version_overlaps (
            version_id integer NOT NULL REFERENCES layer_versions(id) ON DELETE CASCADE,
            feature_a integer NOT NULL,
            feature_b integer NOT NULL,
            area_m2 double precision NOT NULL,
            PRIMARY KEY (version_id, feature_a, feature_b),
            CHECK (feature_a < feature_b)
        );
        """
    )


def downgrade() -> None:
    op.execute(
        """
        DROP TABLE version_overlaps;
        DROP TABLE version_overlap_checks;
        """
    )
