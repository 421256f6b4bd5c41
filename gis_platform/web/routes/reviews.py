"""Parallel departmental review (联审联批): department task queues and opinions, the bureau's
view of progress and its decision; marking a finding as wrong and the correction items."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field

from conflict_checks.access import check_visible, submission_visible
from conflict_checks.review import (
    corrections_for,
    decide,
    department_queue,
    dispute_finding,
    disputes_of_run,
    record_opinion,
    review_progress,
    update_correction,
)
from gis_platform.core.errors import ForbiddenError

from ..deps import PrincipalDep, SessionDep

router = APIRouter(tags=["review 联审联批"])


class Opinion(BaseModel):
    """A department's opinion."""

    opinion: Literal["agree", "agree_with_conditions", "disagree"]
    text: str = Field(min_length=1, max_length=4000)


class Decision(BaseModel):
    """The bureau's decision."""

    decision: Literal["approved", "approved_with_conditions", "rejected"]
    text: str = Field(min_length=1, max_length=4000)


class Dispute(BaseModel):
    """Why a finding is wrong."""

    reason: str = Field(min_length=1, max_length=4000)


class CorrectionUpdate(BaseModel):
    """Progress on a correction item."""

    status: Literal["open", "in_progress", "corrected", "rejected"]
    comment: str | None = Field(None, max_length=4000)


@router.get("/api/reviews/tasks")
def tasks(session: SessionDep, principal: PrincipalDep, department: str | None = None) -> list[dict[str, Any]]:
    """A department's review tasks (a department reviewer sees only its own)."""
    user = principal.user
    if user.role == "department":
        department = user.department
    if not department:
        raise ForbiddenError("请指定部门", "give the department")
    return department_queue(session, department)


@router.post("/api/reviews/tasks/{task_id}/opinion", status_code=201)
def opinion(task_id: int, body: Opinion, session: SessionDep, principal: PrincipalDep) -> dict[str, Any]:
    """Give the department's opinion on its task (each opinion is kept; the newest counts)."""
    return {"opinion_id": record_opinion(session, task_id, principal.user, body.opinion, body.text)}


@router.get("/api/submissions/{submission_id}/review")
def progress(submission_id: int, session: SessionDep, principal: PrincipalDep) -> dict[str, Any]:
    """Review progress: every department's task, opinion, deadline and overdue flag; decisions."""
    submission_visible(session, principal.user, submission_id)
    return review_progress(session, submission_id)


@router.post("/api/submissions/{submission_id}/decision", status_code=201)
def decision(submission_id: int, body: Decision, session: SessionDep, principal: PrincipalDep) -> dict[str, Any]:
    """The bureau's decision."""
    return {"decision_id": decide(session, submission_id, principal.user, body.decision, body.text)}


@router.post("/api/checks/{run_id}/findings/{finding_no}/dispute", status_code=201)
def dispute(run_id: int, finding_no: int, body: Dispute, session: SessionDep,
            principal: PrincipalDep) -> dict[str, Any]:
    """Mark a finding as wrong: it stays; a correction item opens for the layer's department."""
    check_visible(session, principal.user, run_id)
    return {"dispute_id": dispute_finding(session, run_id, finding_no, principal.user, body.reason)}


@router.get("/api/checks/{run_id}/disputes")
def disputes(run_id: int, session: SessionDep, principal: PrincipalDep) -> list[dict[str, Any]]:
    """The marks on a check's findings and their correction status."""
    check_visible(session, principal.user, run_id)
    return disputes_of_run(session, run_id)


@router.get("/api/corrections")
def corrections(session: SessionDep, principal: PrincipalDep, department: str | None = None) -> list[dict[str, Any]]:
    """Correction items of a department (a department reviewer sees only its own)."""
    user = principal.user
    if user.role == "department":
        department = user.department
    if not department:
        raise ForbiddenError("请指定部门", "give the department")
    return corrections_for(session, department)


@router.post("/api/corrections/{dispute_id}", status_code=201)
def correction(dispute_id: int, body: CorrectionUpdate, session: SessionDep, principal: PrincipalDep) -> dict[str, Any]:
    """Record progress on a correction item."""
    return {"update_id": update_correction(session, dispute_id, principal.user, body.status, body.comment)}
