"""JSON API of plan-vs-plan conflict runs (差异图斑): start, status, summary, patches, data
quality, resolution updates, progress and exports."""

from __future__ import annotations

import io
import tempfile
import zipfile
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import shapely
from fastapi import APIRouter, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from pyproj import CRS

from conflict_checks.conflict_export import export_layer, export_summary
from conflict_checks.conflict_results import data_quality, get_run, history, list_runs, patches, progress, update_patches
from conflict_checks.conflict_run import check_request, run_conflicts
from gis_platform.core.crs import reproject, store_crs
from gis_platform.core.db import session_scope

from ..deps import PrincipalDep, SessionDep, SettingsDep

router = APIRouter(prefix="/api/conflicts", tags=["conflicts 差异图斑"])

Status = Literal["open", "amend_a", "amend_b", "accepted", "deferred"]


class ConflictRequest(BaseModel):
    """A conflict run to start."""

    a: str = Field(max_length=300, description="A 方图层 PLAN/LAYER")
    b: str = Field(max_length=300, description="B 方图层 PLAN/LAYER")
    profile: str = Field("landuse_vs_urban", max_length=60)
    min_area_m2: float | None = Field(None, ge=0)
    tolerance_m: float | None = Field(None, ge=0)
    switches: dict[str, bool] = Field(default_factory=dict)
    engine: Literal["local", "dask"] = "local"
    background: bool = Field(False, description="后台运行，返回任务编号 / run in the background")


class ResolutionUpdate(BaseModel):
    """A status / department / comment for patches chosen by number or in bulk."""

    patch_nos: list[int] | None = Field(None, max_length=100_000)
    category: str | None = Field(None, max_length=12)
    min_area_m2: float | None = Field(None, ge=0)
    max_area_m2: float | None = Field(None, ge=0)
    status: Status | None = None
    department: str | None = Field(None, max_length=200)
    comment: str | None = Field(None, max_length=4000)


@router.post("", status_code=200)
def start(body: ConflictRequest, request: Request, settings: SettingsDep, principal: PrincipalDep) -> Any:
    """Run a conflict analysis (or queue it with ``background``)."""
    engine = request.app.state.engine
    actor = principal.name

    def work() -> int:
        return run_conflicts(engine, settings, body.a, body.b, body.profile, min_area=body.min_area_m2,
                             tolerance=body.tolerance_m, switches=body.switches, engine_name=body.engine,
                             actor=actor, in_process=False)

    if body.background:
        check_request(engine, body.a, body.b, body.profile, body.switches)
        job = request.app.state.jobs.submit("conflict_run", work, body.model_dump())
        return JSONResponse({"job_id": job.id, "status": job.status,
                             "status_url": f"/api/conflicts/jobs/{job.id}"}, status_code=202)
    run_id = work()
    with session_scope(engine) as s:
        return get_run(s, run_id)


@router.get("/jobs/{job_id}")
def job_status(job_id: str, request: Request) -> dict[str, Any]:
    """A background run's state; when done, where its result is."""
    job = request.app.state.jobs.get(job_id)
    out: dict[str, Any] = {"job_id": job.id, "status": job.status, "error": job.error}
    if job.status == "done":
        out["run_id"] = job.result
        out["run_url"] = f"/api/conflicts/{job.result}"
    return out


@router.get("")
def runs(session: SessionDep) -> list[dict[str, Any]]:
    """Every run, newest first."""
    return list_runs(session)


@router.get("/{run_id}")
def run_detail(run_id: int, session: SessionDep) -> dict[str, Any]:
    """A run: parameters, the exact layer versions, summary by category and county."""
    return get_run(session, run_id)


@router.get("/{run_id}/patches")
def run_patches(
    run_id: int, session: SessionDep, settings: SettingsDep,
    category: Annotated[str | None, Query(max_length=12)] = None,
    status: Annotated[Status | None, Query()] = None,
    slivers: bool = False,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
    offset: Annotated[int, Query(ge=0)] = 0,
    format: Annotated[Literal["json", "geojson"], Query()] = "json",  # noqa: A002
) -> Any:
    """Patches (or the sliver audit set) with their current resolution; GeoJSON in CGCS2000."""
    rows = patches(session, run_id, slivers=slivers, category=category, status=status, limit=limit,
                   offset=offset, with_geometry=format == "geojson")
    if format == "json":
        return rows
    geoms = reproject(np.array([p.pop("geometry") for p in rows], dtype=object), store_crs(settings),
                      CRS.from_epsg(4490))
    feats = [{"type": "Feature", "id": p["patch_no"], "geometry": shapely.geometry.mapping(g),
              "properties": jsonable_encoder(p)} for p, g in zip(rows, geoms, strict=True)]
    return JSONResponse({"type": "FeatureCollection", "features": feats}, media_type="application/geo+json")


@router.get("/{run_id}/quality")
def run_quality(run_id: int, session: SessionDep) -> list[dict[str, Any]]:
    """Data-quality findings: overlaps inside a side, gaps inside a declared coverage."""
    get_run(session, run_id)
    return [{k: v for k, v in d.items() if k != "geometry"} for d in data_quality(session, run_id)]


@router.get("/{run_id}/patches/{patch_no}/history")
def patch_history(run_id: int, patch_no: int, session: SessionDep) -> list[dict[str, Any]]:
    """Every recorded change of one patch, oldest first."""
    get_run(session, run_id)
    return history(session, run_id, patch_no)


@router.post("/{run_id}/resolutions")
def resolve(run_id: int, body: ResolutionUpdate, session: SessionDep, principal: PrincipalDep) -> dict[str, Any]:
    """Record a status, department and/or comment on patches (by number or in bulk)."""
    done = update_patches(session, run_id, patch_nos=body.patch_nos, category=body.category,
                          min_area=body.min_area_m2, max_area=body.max_area_m2, status=body.status,
                          department=body.department, comment=body.comment, actor=principal.name,
                          as_department=principal.user.department if principal.user.role == "department" else None)
    return {"updated": done}


@router.get("/{run_id}/progress")
def run_progress(run_id: int, session: SessionDep) -> list[dict[str, Any]]:
    """Patch counts and areas per department and status."""
    return progress(session, run_id)


_MEDIA = {"gpkg": "application/geopackage+sqlite3", "geojson": "application/geo+json",
          "shp": "application/zip", "csv": "text/csv; charset=utf-8",
          "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


@router.get("/{run_id}/export")
def export(
    run_id: int, session: SessionDep, settings: SettingsDep,
    format: Annotated[Literal["gpkg", "shp", "geojson", "csv", "xlsx"], Query()] = "gpkg",  # noqa: A002
    what: Annotated[Literal["patches", "slivers", "quality"], Query()] = "patches",
) -> Response:
    """Download the patches, slivers or quality findings (gpkg/shp/geojson) or the summary (csv/xlsx)."""
    get_run(session, run_id)
    name = f"cytb-{run_id}-{what}" if format not in ("csv", "xlsx") else f"cytb-{run_id}-summary"
    with tempfile.TemporaryDirectory(prefix="gisplat-export-") as tmp:
        out = Path(tmp) / f"{name}.{format}"
        if format in ("csv", "xlsx"):
            export_summary(session, run_id, out)
            data = out.read_bytes()
        else:
            export_layer(session, settings, run_id, out, format, what)
            if format == "shp":
                buf = io.BytesIO()
                with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
                    for f in sorted(Path(tmp).iterdir()):
                        zf.write(f, f.name)
                data, name = buf.getvalue(), f"{name}.zip"
            else:
                data = out.read_bytes()
    filename = name if name.endswith(".zip") else f"{name}.{format}"
    return Response(data, media_type=_MEDIA[format],
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})
