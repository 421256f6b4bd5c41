"""Which submissions a signed-in user may see: the bureau all of them, an owner their own, a
department those routed to it for review. Anything else is answered as if it did not exist."""

from __future__ import annotations

from sqlalchemy.orm import Session

from gis_platform.core.account_models import User
from gis_platform.core.errors import NotFoundError

from . import queries


def can_see_submission(session: Session, user: User | None, submission_id: int) -> bool:
    """Whether ``user`` may see the submission (None: the command line, which sees everything)."""
    if user is None or user.role in ("admin", "bureau"):
        return True
    row = session.execute(queries.SUBMISSION_ACCESS, {"id": submission_id,
                                                      "department": user.department or ""}).one_or_none()
    if row is None:
        return False
    if user.role == "owner":
        return row.owner_id is not None and row.owner_id == user.id
    if user.role == "department":
        return bool(row.routed)
    return False


def submission_visible(session: Session, user: User | None, submission_id: int) -> None:
    """Refuse (404) a submission the user may not see."""
    if not can_see_submission(session, user, submission_id):
        raise NotFoundError(f"没有报件 {submission_id}", f"no submission {submission_id}")


def check_visible(session: Session, user: User | None, run_id: int) -> None:
    """Refuse (404) a check run whose submission the user may not see."""
    sid = session.execute(queries.RUN_SUBMISSION, {"id": run_id}).scalar_one_or_none()
    if sid is None or not can_see_submission(session, user, sid):
        raise NotFoundError(f"没有检查记录 {run_id}", f"no check run {run_id}")
