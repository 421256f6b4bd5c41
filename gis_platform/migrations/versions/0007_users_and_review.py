"""Users, roles, API tokens and browser sessions; submission ownership; parallel departmental
review (联审联批): review tasks with deadlines, opinions, the bureau's decision; finding
disputes and the correction items they open. Opinions, decisions, disputes and correction
updates are append-only.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE users (
            id serial PRIMARY KEY,
            username varchar(80) NOT NULL UNIQUE CHECK (username ~ '^[A-Za-z0-9_.@-]{2,80}$'),
            display_name text,
            role varchar(20) NOT NULL CHECK (role IN ('admin', 'bureau', 'department', 'owner', 'firm')),
            department text,
            organisation text,
            firm text,
            password_hash text NOT NULL,
            active boolean NOT NULL DEFAULT true,
            created_at timestamptz NOT NULL DEFAULT now(),
            created_by text,
            CHECK (role <> 'department' OR department IS NOT NULL),
            CHECK (role <> 'owner' OR organisation IS NOT NULL),
            CHECK (role <> 'firm' OR firm IS NOT NULL)
        );
        CREATE TABLE api_tokens (
            id serial PRIMARY KEY,
            user_id integer NOT NULL REFERENCES users(id),
            name text,
            token_hash char(64) NOT NULL UNIQUE,
            created_at timestamptz NOT NULL DEFAULT now(),
            expires_at timestamptz NOT NULL,
            revoked_at timestamptz
        );
        CREATE TABLE web_sessions (
            id_hash char(64) PRIMARY KEY,
            user_id integer NOT NULL REFERENCES users(id),
            csrf_token text NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            expires_at timestamptz NOT NULL,
            revoked_at timestamptz
        );

        -- Who submitted: the owner sees only their own submissions.
        ALTER TABLE submissions ADD COLUMN owner_id integer REFERENCES users(id);
        ALTER TABLE submissions ADD COLUMN organisation text;

        -- 联审联批: one task per department whose rules fired, with a deadline.
        CREATE TABLE review_tasks (
            id serial PRIMARY KEY,
            submission_id integer NOT NULL REFERENCES submissions(id),
            check_run_id integer NOT NULL REFERENCES check_runs(id),
            department text NOT NULL,
            rule_keys text[] NOT NULL,
            due_on date NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT uq_review_tasks_run_department UNIQUE (check_run_id, department)
        );
        CREATE TRIGGER review_tasks_immutable BEFORE UPDATE OR DELETE ON review_tasks
            FOR EACH ROW EXECUTE FUNCTION gisplat_immutable();
        CREATE TABLE review_opinions (
            id bigserial PRIMARY KEY,
            task_id integer NOT NULL REFERENCES review_tasks(id),
            opinion varchar(30) NOT NULL CHECK (opinion IN ('agree', 'agree_with_conditions', 'disagree')),
            text text NOT NULL,
            attachment_name text,
            attachment_sha256 char(64),
            actor_id integer NOT NULL REFERENCES users(id),
            at timestamptz NOT NULL DEFAULT now()
        );
        CREATE TRIGGER review_opinions_append_only BEFORE UPDATE OR DELETE ON review_opinions
            FOR EACH ROW EXECUTE FUNCTION gisplat_immutable();
        CREATE TABLE review_decisions (
            id bigserial PRIMARY KEY,
            submission_id integer NOT NULL REFERENCES submissions(id),
            check_run_id integer NOT NULL REFERENCES check_runs(id),
            decision varchar(30) NOT NULL CHECK (decision IN ('approved', 'approved_with_conditions', 'rejected')),
            text text NOT NULL,
            actor_id integer NOT NULL REFERENCES users(id),
            at timestamptz NOT NULL DEFAULT now()
        );
        CREATE TRIGGER review_decisions_append_only BEFORE UPDATE OR DELETE ON review_decisions
            FOR EACH ROW EXECUTE FUNCTION gisplat_immutable();

        -- A reviewer marks a finding as wrong; the finding stays, a correction item opens for the
        -- department that owns the layer.
        CREATE TABLE finding_disputes (
            id bigserial PRIMARY KEY,
            check_run_id integer NOT NULL REFERENCES check_runs(id),
            finding_no integer NOT NULL,
            layer_id integer REFERENCES layers(id),
            version_id integer REFERENCES layer_versions(id),
            reason text NOT NULL,
            correction_department text,
            actor_id integer NOT NULL REFERENCES users(id),
            at timestamptz NOT NULL DEFAULT now()
        );
        CREATE TRIGGER finding_disputes_append_only BEFORE UPDATE OR DELETE ON finding_disputes
            FOR EACH ROW EXECUTE FUNCTION gisplat_immutable();
        CREATE TABLE correction_updates (
            id bigserial PRIMARY KEY,
            dispute_id bigint NOT NULL REFERENCES finding_disputes(id),
            status varchar(20) NOT NULL CHECK (status IN ('open', 'in_progress', 'corrected', 'rejected')),
            comment text,
            actor_id integer NOT NULL REFERENCES users(id),
            at timestamptz NOT NULL DEFAULT now()
        );
        CREATE TRIGGER correction_updates_append_only BEFORE UPDATE OR DELETE ON correction_updates
            FOR EACH ROW EXECUTE FUNCTION gisplat_immutable();
        """
    )


def downgrade() -> None:
    op.execute(
        "DROP TABLE correction_updates, finding_disputes, review_decisions, review_opinions, review_tasks, "
        "web_sessions, api_tokens, users CASCADE; "
        "ALTER TABLE submissions DROP COLUMN owner_id, DROP COLUMN organisation"
    )
