"""JSON API of site pre-checks and "what applies here", and the printable report page."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel

from conflict_checks.access import check_visible
from conflict_checks.applies import what_applies
from conflict_checks.precheck import get_run, rerun_check
from conflict_checks.review import check_and_route
from conflict_checks.report import report_html, report_pdf
from conflict_checks.schemas import AppliesResult, CheckResult, ProjectMeta
from conflict_checks.site import point_in_store, site_from_geojson, sites_from_file

from ..deps import PrincipalDep, SessionDep, SettingsDep
from ..uploads import saved_upload

router = APIRouter(tags=["pre-check 用地预审"])


def _meta(project_code: str | None, name: str | None, applicant: str | None, proposed_use: str | None,
          project_type: str, declared_area_m2: float | None) -> ProjectMeta:
    return ProjectMeta(project_code=project_code or None, name=name or None, applicant=applicant or None,
                       proposed_use=proposed_use or None, project_type=project_type,  # type: ignore[arg-type]
                       declared_area_m2=declared_area_m2)


@router.post("/api/checks", response_model=CheckResult)
def check_upload(
    session: SessionDep,
    settings: SettingsDep,
    file: Annotated[UploadFile, File(description="用地红线文件 boundary file")],
    project_code: Annotated[str | None, Form(max_length=100)] = None,
    name: Annotated[str | None, Form(max_length=300)] = None,
    applicant: Annotated[str | None, Form(max_length=300)] = None,
    proposed_use: Annotated[str | None, Form(max_length=20)] = None,
    project_type: Annotated[str, Form()] = "ordinary",
    declared_area_m2: Annotated[float | None, Form(ge=0)] = None,
    crs: Annotated[str | None, Form(max_length=200)] = None,
    encoding: Annotated[str | None, Form(max_length=40)] = None,
    *, principal: PrincipalDep,
) -> CheckResult:
    """Upload a boundary (any ingest format) with project metadata; get the stored pre-check."""
    meta = _meta(project_code, name, applicant, proposed_use, project_type, declared_area_m2)
    with saved_upload(file, settings) as path:
        site = sites_from_file(path, settings, crs=crs or None, encoding=encoding or None)[0]
    return check_and_route(session, settings, site, meta, principal.user)


@router.post("/api/checks/batch", response_model=list[CheckResult])
def check_batch(
    session: SessionDep,
    settings: SettingsDep,
    file: Annotated[UploadFile, File(description="候选用地（每个要素一处）candidate sites, one per feature")],
    proposed_use: Annotated[str | None, Form(max_length=20)] = None,
    project_type: Annotated[str, Form()] = "ordinary",
    crs: Annotated[str | None, Form(max_length=200)] = None,
    *, principal: PrincipalDep,
) -> list[CheckResult]:
    """Pre-check every feature of a file as its own candidate site (one stored run each)."""
    meta = _meta(None, None, None, proposed_use, project_type, None)
    with saved_upload(file, settings) as path:
        sites = sites_from_file(path, settings, crs=crs or None, batch=True)
    return [check_and_route(session, settings, site, meta.model_copy(update={"name": site.label}), principal.user)
            for site in sites]


class GeoJSONCheck(BaseModel):
    """A boundary as GeoJSON (lon/lat WGS 84 unless ``crs``) with project metadata."""

    geometry: dict[str, Any]
    crs: str | None = None
    meta: ProjectMeta = ProjectMeta()


@router.post("/api/checks/geojson", response_model=CheckResult)
def check_geojson(body: GeoJSONCheck, session: SessionDep, settings: SettingsDep,
                  principal: PrincipalDep) -> CheckResult:
    """Pre-check a GeoJSON boundary."""
    site = site_from_geojson(body.geometry, settings, crs=body.crs)
    return check_and_route(session, settings, site, body.meta, principal.user)


@router.get("/api/checks/{run_id}", response_model=CheckResult)
def check_detail(run_id: int, session: SessionDep, principal: PrincipalDep) -> CheckResult:
    """A stored check run."""
    check_visible(session, principal.user, run_id)
    run = get_run(session, run_id)
    return CheckResult.model_validate({**run.result, "run_id": run.id, "submission_id": run.submission_id})


@router.post("/api/checks/{run_id}/rerun", response_model=CheckResult)
def check_rerun(run_id: int, session: SessionDep, settings: SettingsDep, principal: PrincipalDep) -> CheckResult:
    """Re-run a stored check with its original layer versions, parameters and rules."""
    check_visible(session, principal.user, run_id)
    return rerun_check(session, settings, run_id, actor=principal.name)


@router.get("/checks/{run_id}/report", response_class=HTMLResponse, include_in_schema=False)
def check_report(run_id: int, request: Request, session: SessionDep, settings: SettingsDep,
                 principal: PrincipalDep) -> HTMLResponse:
    """The printable report."""
    check_visible(session, principal.user, run_id)
    lang = "en" if request.query_params.get("lang") == "en" else "zh"
    return HTMLResponse(report_html(session, settings, run_id, lang))


@router.get("/checks/{run_id}/report.pdf", include_in_schema=False)
def check_report_pdf(run_id: int, request: Request, session: SessionDep, settings: SettingsDep,
                     principal: PrincipalDep) -> Response:
    """The report as PDF."""
    check_visible(session, principal.user, run_id)
    lang = "en" if request.query_params.get("lang") == "en" else "zh"
    return Response(report_pdf(session, settings, run_id, lang), media_type="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="precheck-{run_id}.pdf"'})


@router.get("/api/applies", response_model=AppliesResult)
def applies_point(
    session: SessionDep, settings: SettingsDep,
    x: Annotated[float, Query(description="经度或 x / longitude or x")],
    y: Annotated[float, Query(description="纬度或 y / latitude or y")],
    crs: Annotated[str, Query(max_length=200)] = "EPSG:4490",
    project_type: str = "ordinary",
) -> AppliesResult:
    """Everything that applies at a point."""
    return what_applies(session, settings, point_in_store(x, y, crs, settings), project_type)


class AppliesArea(BaseModel):
    """An area as GeoJSON (lon/lat WGS 84 unless ``crs``)."""

    geometry: dict[str, Any]
    crs: str | None = None
    project_type: str = "ordinary"


@router.post("/api/applies", response_model=AppliesResult)
def applies_area(body: AppliesArea, session: SessionDep, settings: SettingsDep) -> AppliesResult:
    """Everything that applies in an area."""
    site = site_from_geojson(body.geometry, settings, crs=body.crs)
    return what_applies(session, settings, site.geom, body.project_type)
