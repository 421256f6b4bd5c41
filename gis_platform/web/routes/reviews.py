"""Parallel departmental review (联审联批): department task queues and opinions, the bureau's
view of progress and its decision; marking a finding as wrong and the correction items."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile as StarletteUpload

from conflict_checks.access import check_visible, submission_visible
from conflict_checks.review import (
    ATTACHMENT_TYPES,
    OPINIONS,
    attachment_name,
    corrections_for,
    decide,
    department_queue,
    dispute_finding,
    disputes_of_run,
    give_opinion,
    opinion_attachment,
    review_progress,
    update_correction,
)
from gis_platform.core.accounts import Principal
from gis_platform.core.errors import ForbiddenError, InputError

from ..deps import PrincipalDep, SessionDep, SettingsDep
from ..uploads import saved_upload

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


def _department(principal: Principal, asked: str | None) -> str:
    """The department whose items are listed: a department reviewer's own, else the one asked."""
    user = principal.user
    department = user.department if user.role == "department" else asked
    if not department:
        raise ForbiddenError("请指定部门", "give the department")
    return department


@router.get("/api/reviews/tasks")
def tasks(session: SessionDep, principal: PrincipalDep, department: str | None = None) -> list[dict[str, Any]]:
    """A department's review tasks (a department reviewer sees only its own)."""
    return department_queue(session, _department(principal, department))


_OPINION_BODY = {"requestBody": {"required": True, "content": {
    "application/json": {"schema": Opinion.model_json_schema()},
    "multipart/form-data": {"schema": {"type": "object", "required": ["opinion", "text"], "properties": {
        "opinion": {"type": "string", "enum": list(OPINIONS)}, "text": {"type": "string", "maxLength": 4000},
        "file": {"type": "string", "format": "binary",
                 "description": "optional attachment: " + ", ".join(sorted(ATTACHMENT_TYPES))}}}}}}}


@router.post("/api/reviews/tasks/{task_id}/opinion", status_code=201, openapi_extra=_OPINION_BODY)
async def opinion(task_id: int, request: Request, session: SessionDep, settings: SettingsDep,
                  principal: PrincipalDep) -> dict[str, Any]:
    """Give the department's opinion on its task (each opinion is kept; the newest counts).
    JSON ``{opinion, text}``, or a form (multipart) with ``opinion``, ``text`` and an optional
    ``file`` attachment (PDF, image, DOCX or XLSX, within the upload size limit)."""
    upload: StarletteUpload | None = None
    if request.headers.get("content-type", "").startswith(("multipart/form-data",
                                                           "application/x-www-form-urlencoded")):
        form = await request.form()
        fields = {k: form.get(k) for k in ("opinion", "text")}
        value = form.get("file")
        if isinstance(value, StarletteUpload) and (value.filename or "").strip():
            upload = value
    else:
        try:
            fields = await request.json()
        except ValueError as exc:
            raise InputError("请求体不是有效的 JSON", "the body is not valid JSON") from exc
    body = Opinion.model_validate(fields)

    def give() -> int:
        if upload is None:
            return give_opinion(session, settings, task_id, principal.user, body.opinion, body.text)
        attachment_name(upload.filename)  # a name that is only a path is refused before anything is written
        with saved_upload(upload, settings) as path:  # type: ignore[arg-type]
            return give_opinion(session, settings, task_id, principal.user, body.opinion, body.text,
                                attachment=(path, upload.filename))

    return {"opinion_id": await run_in_threadpool(give)}


@router.get("/api/reviews/opinions/{opinion_id}/attachment", response_class=FileResponse)
def attachment(opinion_id: int, session: SessionDep, settings: SettingsDep, principal: PrincipalDep) -> FileResponse:
    """Download an opinion's attachment (for whoever may see the submission), always as a download."""
    a = opinion_attachment(session, settings, principal.user, opinion_id)
    return FileResponse(a["path"], media_type=a["media_type"], filename=a["name"],
                        headers={"Cache-Control": "private, no-store"})


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
    return corrections_for(session, _department(principal, department))


@router.post("/api/corrections/{dispute_id}", status_code=201)
def correction(dispute_id: int, body: CorrectionUpdate, session: SessionDep, principal: PrincipalDep) -> dict[str, Any]:
    """Record progress on a correction item."""
    return {"update_id": update_correction(session, dispute_id, principal.user, body.status, body.comment)}
