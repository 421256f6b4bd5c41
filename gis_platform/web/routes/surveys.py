"""多测合一: the JSON API of survey result packages and their pages (upload form for firms with
the check report, the bureau's accept / return actions, results shared with departments), plus
``POST /api/checks/survey/{id}``: a pre-check whose site is an accepted survey result.

Who reads is the signed-in user: the bureau everything, a firm its own packages and accepted
results, a department the accepted results shared with it.
"""

from __future__ import annotations

import os
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse

from conflict_checks.review import check_and_route
from conflict_checks.schemas import CheckResult, ProjectMeta
from gis_platform.core.accounts import Principal
from gis_platform.core.errors import InputError, NotFoundError, PlatformError
from map_ui.survey_views import (
    render_survey_detail,
    render_survey_form,
    render_survey_list,
)
from surveys.manifest import load_manifest
from surveys.schemas import AcceptRequest, PackagePublic, PackageSummary, ReturnRequest
from surveys.service import (
    Reader,
    accept_package,
    get_package,
    list_packages,
    package_geojson,
    return_package,
    shared_results,
    site_from_survey,
    submit_package,
)

from ..deps import PrincipalDep, SessionDep, SettingsDep, lang_suffix, request_lang
from ..uploads import saved_upload

router = APIRouter(tags=["surveys 多测合一"])
def _reader(principal: Principal) -> Reader:
    """What the signed-in user may read: the bureau everything, a firm its own packages and
    accepted results, a department the accepted results shared with it."""
    user = principal.user
    if user.role == "department":
        try:
            return Reader("department", load_manifest().department(user.department or ""))
        except InputError:
            return Reader("nobody")
    return Reader.of_user(user.role, firm=user.firm, department=user.department)


def _firm(principal: Principal, given: str | None) -> str:
    """A surveying firm submits as itself; an administrator names the firm."""
    return (principal.user.firm or "") if principal.user.role == "firm" else (given or "")


# ------------------------------------------------------------------------------------- JSON API


@router.post("/api/surveys", response_model=PackagePublic)
def api_submit(
    session: SessionDep, settings: SettingsDep,
    file: Annotated[UploadFile, File(description="成果包 zip / result package")],
    project_code: Annotated[str, Form(max_length=100)],
    stage: Annotated[str, Form(max_length=60)],
    item: Annotated[str, Form(max_length=60)],
    firm: Annotated[str | None, Form(max_length=300, description="测绘单位（测绘单位账号可省略）")] = None,
    surveyor: Annotated[str | None, Form(max_length=300)] = None,
    client: Annotated[str | None, Form(max_length=300)] = None,
    project_name: Annotated[str | None, Form(max_length=300)] = None,
    *, principal: PrincipalDep,
) -> dict[str, Any]:
    """Submit a package: it is checked and stored as the next version (a failed one with its report)."""
    firm = _firm(principal, firm)
    with saved_upload(file, settings) as path:
        return submit_package(session, settings, path, project_code=project_code, stage=stage, item=item, firm=firm,
                              surveyor=surveyor, client=client, project_name=project_name, actor=principal.name,
                              display_name=path.name)


@router.get("/api/surveys", response_model=list[PackageSummary])
def api_list(session: SessionDep, principal: PrincipalDep,
             project_code: Annotated[str | None, Query(max_length=100)] = None,
             status: Annotated[str | None, Query(max_length=20)] = None,
             firm: Annotated[str | None, Query(max_length=300)] = None) -> list[dict[str, Any]]:
    """Packages the reader may read."""
    return list_packages(session, _reader(principal), project_code=project_code, status=status, firm=firm)


@router.get("/api/surveys/shared/{department}", response_model=list[PackageSummary])
def api_shared(department: str, session: SessionDep, principal: PrincipalDep) -> list[dict[str, Any]]:
    """The accepted results shared with a department (a department reviewer: only its own)."""
    reader = _reader(principal)
    if reader.kind == "department" and load_manifest().department(department) != reader.name:
        raise NotFoundError(f"没有共享给{department}的成果可见", f"nothing shared with {department} is visible to you")
    if reader.kind not in ("bureau", "department"):
        raise NotFoundError("未找到", "not found")
    return shared_results(session, department)


@router.get("/api/surveys/{package_id}", response_model=PackagePublic)
def api_get(package_id: int, session: SessionDep, principal: PrincipalDep) -> dict[str, Any]:
    """A package with its check report, files and history."""
    return get_package(session, package_id, _reader(principal))


@router.get("/api/surveys/{package_id}/features")
def api_features(package_id: int, session: SessionDep, settings: SettingsDep, principal: PrincipalDep) -> dict[str, Any]:
    """The package's features as GeoJSON (lon/lat)."""
    return package_geojson(session, settings, package_id, _reader(principal))


@router.post("/api/surveys/{package_id}/accept", response_model=PackagePublic)
def api_accept(package_id: int, body: AcceptRequest, session: SessionDep, settings: SettingsDep, principal: PrincipalDep) -> dict[str, Any]:
    """The bureau accepts a package: published once, shared with the departments."""
    return accept_package(session, settings, package_id, reader=_reader(principal), actor=principal.name,
                          departments=body.departments,
                          publish=body.publish)


@router.post("/api/surveys/{package_id}/return", response_model=PackagePublic)
def api_return(package_id: int, body: ReturnRequest, session: SessionDep, principal: PrincipalDep) -> dict[str, Any]:
    """The bureau returns a package with a reason."""
    return return_package(session, package_id, reason=body.reason, reader=_reader(principal), actor=principal.name)


@router.post("/api/checks/survey/{package_id}", response_model=CheckResult)
def api_check_survey(package_id: int, session: SessionDep, settings: SettingsDep,
                     meta: ProjectMeta | None = None, *, principal: PrincipalDep) -> CheckResult:
    """Pre-check with an accepted survey result (勘测定界) as the site: no re-upload."""
    site = site_from_survey(session, settings, package_id, _reader(principal))
    return check_and_route(session, settings, site, meta or ProjectMeta(), principal.user)


# ------------------------------------------------------------------------------------- pages


def _choices(lang: str) -> tuple[list[tuple[str, str]], list[dict[str, str]], list[tuple[str, str]]]:
    m = load_manifest()
    i = 0 if lang == "zh" else 1
    stages = [(k, v[i]) for k, v in m.stages.items()]
    items = [{"key": it.key, "label": it.name_zh if lang == "zh" else it.name_en, "stage": it.stage,
              "stage_label": m.stages[it.stage][i]} for it in m.items.values()]
    depts = [(k, v[i]) for k, v in m.departments.items()]
    return stages, items, depts


@router.get("/surveys/new", response_class=HTMLResponse, include_in_schema=False)
def page_form(request: Request, settings: SettingsDep) -> HTMLResponse:
    """The firms' upload form."""
    lang = request_lang(request)
    stages, items, _ = _choices(lang)
    return HTMLResponse(render_survey_form(stages=stages, items=items, city=settings.city_name, lang=lang))


@router.post("/surveys/new", response_class=HTMLResponse, response_model=None, include_in_schema=False)
def page_submit(
    request: Request, session: SessionDep, settings: SettingsDep,
    file: Annotated[UploadFile | None, File()] = None,
    project_code: Annotated[str, Form()] = "", stage: Annotated[str, Form()] = "",
    item: Annotated[str, Form()] = "", firm: Annotated[str, Form()] = "",
    surveyor: Annotated[str, Form()] = "", client: Annotated[str, Form()] = "",
    project_name: Annotated[str, Form()] = "",
    *, principal: PrincipalDep,
) -> HTMLResponse | RedirectResponse:
    """Submit from the form; a refused package is shown on the form with nothing stored."""
    firm = _firm(principal, firm)
    lang = request_lang(request)
    stages, items, _ = _choices(lang)
    values = {"project_code": project_code, "stage": stage, "item": item, "firm": firm, "surveyor": surveyor,
              "client": client, "project_name": project_name}

    def again(message: str, status: int = 422) -> HTMLResponse:
        session.rollback()
        return HTMLResponse(render_survey_form(stages=stages, items=items, city=settings.city_name, lang=lang,
                                               values=values, error=message), status_code=status)

    if file is None or not (file.filename or "").strip():
        return again("请选择成果包文件" if lang == "zh" else "Choose a package file")
    upload_dir = None
    try:
        with saved_upload(file, settings) as path:
            upload_dir = f"{path.parent}{os.sep}"
            pkg = submit_package(session, settings, path, project_code=project_code, stage=stage, item=item,
                                 firm=firm, surveyor=surveyor or None, client=client or None,
                                 project_name=project_name or None, actor=principal.name, display_name=path.name)
    except PlatformError as exc:
        message = exc.message(lang)
        if upload_dir:  # a reader's message may quote the private temporary path
            message = message.replace(upload_dir, "")
        return again(message, int(exc.http_status))
    return RedirectResponse(f"/surveys/{pkg['id']}{lang_suffix(lang)}", status_code=303)


@router.get("/surveys", response_class=HTMLResponse, include_in_schema=False)
def page_list(request: Request, session: SessionDep, settings: SettingsDep, principal: PrincipalDep) -> HTMLResponse:
    """Every package the user may read (the bureau: all of them)."""
    rows = list_packages(session, _reader(principal))
    return HTMLResponse(render_survey_list(rows, city=settings.city_name, lang=request_lang(request)))


@router.get("/surveys/shared", response_class=HTMLResponse, include_in_schema=False)
def page_shared(request: Request, session: SessionDep, settings: SettingsDep,
                department: Annotated[str | None, Query(max_length=60)] = None,
                *, principal: PrincipalDep) -> HTMLResponse:
    """The accepted results shared with a department (a department reviewer: its own)."""
    lang = request_lang(request)
    if principal.user.role == "department":
        department = principal.user.department
    _, _, depts = _choices(lang)
    dept = load_manifest().department(department) if department else None
    rows = shared_results(session, dept) if dept else []
    return HTMLResponse(render_survey_list(rows, city=settings.city_name, lang=lang, title_key="shared",
                                           departments=depts, department=dept))


@router.get("/surveys/{package_id}", response_class=HTMLResponse, include_in_schema=False)
def page_detail(package_id: int, request: Request, session: SessionDep, settings: SettingsDep,
                principal: PrincipalDep) -> HTMLResponse:
    """A package: check report, files, history; the bureau's accept / return actions."""
    lang = request_lang(request)
    who = _reader(principal)
    pkg = get_package(session, package_id, who)
    _, _, depts = _choices(lang)
    return HTMLResponse(render_survey_detail(pkg, departments=depts, can_decide=who.kind == "bureau",
                                             city=settings.city_name, lang=lang))


@router.post("/surveys/{package_id}/accept", response_model=None, include_in_schema=False)
def page_accept(package_id: int, request: Request, session: SessionDep, settings: SettingsDep,
                departments: Annotated[list[str] | None, Form()] = None,
                *, principal: PrincipalDep) -> RedirectResponse:
    """Accept from the package page (the departments ticked, else the manifest's)."""
    accept_package(session, settings, package_id, reader=_reader(principal), departments=departments or None,
                   actor=principal.name)
    return RedirectResponse(f"/surveys/{package_id}{lang_suffix(request_lang(request))}", status_code=303)


@router.post("/surveys/{package_id}/return", response_model=None, include_in_schema=False)
def page_return(package_id: int, request: Request, session: SessionDep,
                reason: Annotated[str, Form()] = "", *, principal: PrincipalDep) -> RedirectResponse:
    """Return from the package page with a reason."""
    return_package(session, package_id, reason=reason, reader=_reader(principal), actor=principal.name)
    return RedirectResponse(f"/surveys/{package_id}{lang_suffix(request_lang(request))}", status_code=303)
