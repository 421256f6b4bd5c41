"""Parallel review (联审联批) pages: the department task queue, and the forms of the check
result page (a department's opinion with an optional attachment, the bureau's decision, marking
a finding as wrong, progress on a correction item). Each form posts here, the service does the
work, and the browser goes back to the page it came from."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse

from conflict_checks.access import check_visible
from conflict_checks.review import (
    attachment_name,
    decide,
    dispute_finding,
    give_opinion,
    review_overview,
    submission_of_run,
    update_correction,
)
from map_ui.views import render_reviews

from ..deps import PrincipalDep, SessionDep, SettingsDep, lang_suffix, request_lang
from ..uploads import saved_upload

router = APIRouter(include_in_schema=False)


def _back(request: Request, run_id: int, anchor: str = "review") -> RedirectResponse:
    return RedirectResponse(f"/checks/{run_id}{lang_suffix(request_lang(request))}#{anchor}", status_code=303)


@router.get("/reviews", response_class=HTMLResponse)
def reviews(request: Request, session: SessionDep, settings: SettingsDep, principal: PrincipalDep,
            department: Annotated[str | None, Query(max_length=200)] = None) -> HTMLResponse:
    """Review tasks: a department reviewer's own queue and correction items; the bureau sees
    every department's open tasks (or one department's queue with ``?department=``)."""
    user = principal.user
    data = review_overview(session, user, department=(department or None) if user.role != "department" else None)
    return HTMLResponse(render_reviews(data, role=user.role, city=settings.city_name, lang=request_lang(request)))


@router.post("/checks/{run_id}/opinion", response_model=None)
def opinion_form(
    run_id: int, request: Request, session: SessionDep, settings: SettingsDep,
    task_id: Annotated[int, Form()], opinion: Annotated[str, Form(max_length=30)],
    text: Annotated[str, Form(max_length=4000)],
    file: Annotated[UploadFile | None, File()] = None,
    *, principal: PrincipalDep,
) -> RedirectResponse:
    """A department's opinion on its task from the result page, with an optional attachment."""
    check_visible(session, principal.user, run_id)
    if file is None or not (file.filename or "").strip():
        give_opinion(session, settings, task_id, principal.user, opinion, text)
    else:
        attachment_name(file.filename)  # a name that is only a path is refused before anything is written
        with saved_upload(file, settings) as path:
            give_opinion(session, settings, task_id, principal.user, opinion, text, attachment=(path, file.filename))
    return _back(request, run_id)


@router.post("/checks/{run_id}/decision", response_model=None)
def decision_form(
    run_id: int, request: Request, session: SessionDep,
    decision: Annotated[str, Form(max_length=30)], text: Annotated[str, Form(max_length=4000)],
    *, principal: PrincipalDep,
) -> RedirectResponse:
    """The bureau's decision on the run's submission."""
    check_visible(session, principal.user, run_id)
    decide(session, submission_of_run(session, run_id), principal.user, decision, text)
    return _back(request, run_id)


@router.post("/checks/{run_id}/dispute", response_model=None)
def dispute_form(
    run_id: int, request: Request, session: SessionDep,
    finding_no: Annotated[int, Form()], reason: Annotated[str, Form(max_length=4000)],
    *, principal: PrincipalDep,
) -> RedirectResponse:
    """Mark a finding as wrong (it stays; a correction item opens for the layer's department)."""
    check_visible(session, principal.user, run_id)
    dispute_finding(session, run_id, finding_no, principal.user, reason)
    return _back(request, run_id, "disputes")


@router.post("/reviews/corrections/{dispute_id}", response_model=None)
def correction_form(
    dispute_id: int, request: Request, session: SessionDep,
    status: Annotated[str, Form(max_length=20)], comment: Annotated[str, Form(max_length=4000)] = "",
    *, principal: PrincipalDep,
) -> RedirectResponse:
    """Progress on a correction item, from the review task page."""
    update_correction(session, dispute_id, principal.user, status, comment.strip() or None)
    return RedirectResponse(f"/reviews{lang_suffix(request_lang(request))}#corrections", status_code=303)
