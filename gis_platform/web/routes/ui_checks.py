"""Pre-check pages: the upload form, the result page and the bureau's review queue.

The form posts here and runs the same service as ``POST /api/checks``; bad input is shown on the
form (Chinese first) with nothing stored.
"""

from __future__ import annotations

import os
from typing import Annotated

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError

from conflict_checks.access import check_visible
from conflict_checks.precheck import rerun_check
from conflict_checks.review import check_and_route, run_review
from conflict_checks.schemas import ProjectMeta
from conflict_checks.site import sites_from_file
from conflict_checks.submissions import QUEUE_LIMIT, list_submissions, run_map
from gis_platform.core.errors import PlatformError
from map_ui.views import TEXT, render_check_form, render_check_result, render_review

from ..deps import PrincipalDep, SessionDep, SettingsDep, lang_suffix, request_lang
from ..uploads import saved_upload

router = APIRouter(include_in_schema=False)


@router.get("/checks/new", response_class=HTMLResponse)
def check_form(request: Request, settings: SettingsDep, principal: PrincipalDep) -> HTMLResponse:
    """The pre-check upload form."""
    return HTMLResponse(render_check_form(city=settings.city_name, lang=request_lang(request), role=principal.user.role))


@router.post("/checks/new", response_class=HTMLResponse, response_model=None)
def check_submit(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    file: Annotated[UploadFile | None, File()] = None,
    project_code: Annotated[str, Form()] = "",
    name: Annotated[str, Form()] = "",
    applicant: Annotated[str, Form()] = "",
    proposed_use: Annotated[str, Form()] = "",
    project_type: Annotated[str, Form()] = "ordinary",
    declared_area_m2: Annotated[str, Form()] = "",
    crs: Annotated[str, Form()] = "",
    *, principal: PrincipalDep,
) -> HTMLResponse | RedirectResponse:
    """Run a pre-check from the form; on success go to its result page."""
    lang = request_lang(request)
    t = TEXT[lang]
    values = {"project_code": project_code, "name": name, "applicant": applicant, "proposed_use": proposed_use,
              "project_type": project_type, "declared_area_m2": declared_area_m2, "crs": crs}

    def again(message: str, problems: list[str] | None = None, status: int = 422) -> HTMLResponse:
        session.rollback()  # nothing of a refused check is kept
        return HTMLResponse(render_check_form(city=settings.city_name, lang=lang, values=values, role=principal.user.role,
                                              error=message, problems=problems), status_code=status)

    if file is None or not (file.filename or "").strip():
        return again(t["no_file"])
    area: float | None = None
    if declared_area_m2.strip():
        try:
            area = float(declared_area_m2.replace(",", "").strip())
        except ValueError:
            return again(t["bad_area"])
        if not area >= 0 or area == float("inf"):
            return again(t["bad_area"])
    try:
        meta = ProjectMeta(project_code=project_code.strip() or None, name=name.strip() or None,
                           applicant=applicant.strip() or None, proposed_use=proposed_use.strip() or None,
                           project_type=project_type, declared_area_m2=area)  # type: ignore[arg-type]
    except ValidationError as exc:
        return again(t["bad_field"], [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:10]])
    upload_dir = None
    try:
        with saved_upload(file, settings) as path:
            upload_dir = f"{path.parent}{os.sep}"
            site = sites_from_file(path, settings, crs=crs.strip() or None)[0]
        result = check_and_route(session, settings, site, meta, principal.user)
    except PlatformError as exc:
        message = exc.message(lang)
        if upload_dir:  # a reader's message may quote the private temporary path
            message = message.replace(upload_dir, "")
        return again(message, status=int(exc.http_status))
    return RedirectResponse(f"/checks/{result.run_id}{lang_suffix(lang)}", status_code=303)


@router.get("/checks/{run_id}", response_class=HTMLResponse)
def check_result(run_id: int, request: Request, session: SessionDep, settings: SettingsDep,
                 principal: PrincipalDep) -> HTMLResponse:
    """A run: the site and its conflicts on a map, the findings, the verdict, the report link."""
    check_visible(session, principal.user, run_id)
    data = run_map(session, settings, run_id)
    return HTMLResponse(render_check_result(
        data["result"], site=data["site"], pieces=data["pieces"], context=data["context"],
        review=run_review(session, principal.user, run_id), role=principal.user.role,
        city=settings.city_name, lang=request_lang(request)))


@router.post("/checks/{run_id}/rerun", response_model=None)
def check_rerun_page(run_id: int, request: Request, session: SessionDep, settings: SettingsDep,
                     principal: PrincipalDep) -> RedirectResponse:
    """Re-run a stored check with its original layer versions and rules; show the new run."""
    check_visible(session, principal.user, run_id)
    result = rerun_check(session, settings, run_id, actor=principal.name)
    return RedirectResponse(f"/checks/{result.run_id}{lang_suffix(request_lang(request))}", status_code=303)


@router.get("/review", response_class=HTMLResponse)
def review(
    request: Request, session: SessionDep, settings: SettingsDep,
    verdict: Annotated[str | None, Query(max_length=20)] = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
    *, principal: PrincipalDep,
) -> HTMLResponse:
    """The review queue: submissions with their latest verdict, status and date (a department
    sees those routed to it)."""
    dept = principal.user.department if principal.user.role == "department" else None
    rows = list_submissions(session, verdict=verdict or None, text=q, limit=QUEUE_LIMIT, department=dept)
    return HTMLResponse(render_review(rows, city=settings.city_name, lang=request_lang(request), verdict=verdict or None,
                                      q=q, limit=QUEUE_LIMIT, role=principal.user.role))
