"""Conflict-run pages (差异分析): the list of runs with the form to start one, and a run's page;
plus the two small JSON reads the run's page needs (one patch by number, the patch under a
point).

The form posts here and runs the same service as ``POST /api/conflicts``; bad input is shown on
the form (Chinese first) and nothing is stored.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from conflict_checks.conflict_profiles import profile_book
from conflict_checks.conflict_results import (
    STATUSES,
    category_name,
    get_run,
    list_runs,
    patch_at,
    patch_detail,
    run_bounds,
    side_labels,
)
from conflict_checks.conflict_run import run_conflicts
from gis_platform.core.errors import PlatformError
from map_ui.assets import missing
from map_ui.conflict_views import TEXT, render_run, render_runs
from plans.service import layer_versions, list_layers

from ..deps import SessionDep, SettingsDep, lang_suffix, request_lang

router = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api/conflicts", tags=["conflicts 差异图斑"])

CC_SWITCH = "conditional_construction"
DQ_LABELS = {"overlap": ("图层内部重叠", "overlaps inside the layer"), "gap": ("覆盖范围内缺漏", "gaps inside the coverage")}


def _form_layers(session: Any) -> list[dict[str, Any]]:
    """Vector layers that have data, for the A / B choices."""
    out = []
    for lyr, plan in list_layers(session):
        if lyr.data_kind != "vector":
            continue
        versions = layer_versions(session, lyr)
        if not versions:
            continue
        ref = f"{plan.code}/{lyr.name}"
        scheme = f" · {lyr.class_scheme}" if lyr.class_scheme else ""
        out.append({"ref": ref, "label": f"{ref} — {lyr.title or lyr.name} (v{versions[-1].version}{scheme})",
                    "scheme": lyr.class_scheme, "version": versions[-1].version})
    return out


def _profiles(lang: str) -> list[dict[str, Any]]:
    return [{"name": p.name, "label": p.zh if lang == "zh" else p.en, "switches": list(p.switches)}
            for p in profile_book().profiles.values()]


def _runs(lang: str, session: Any) -> list[dict[str, Any]]:
    book = profile_book()
    rows = []
    for r in list_runs(session):
        summary = r.get("summary") or {}
        cats: dict[str, int] = {}
        for c in summary.get("by_category") or []:
            cats[c["category"]] = cats.get(c["category"], 0) + int(c["count"])
        prof = book.profiles.get(r["profile"])
        rows.append({"id": r["id"], "profile": r["profile"],
                     "profile_label": (prof.zh if lang == "zh" else prof.en) if prof else r["profile"],
                     "a_ref": r["a_ref"], "b_ref": r["b_ref"],
                     "a_version": (summary.get("a") or {}).get("version"),
                     "b_version": (summary.get("b") or {}).get("version"),
                     "started_at": r["started_at"].isoformat() if r.get("started_at") else None,
                     "finished_at": r["finished_at"].isoformat() if r.get("finished_at") else None,
                     "by_category": cats, "patches": sum(cats.values())})
    return rows


@router.get("/conflicts", response_class=HTMLResponse)
def runs_page(request: Request, session: SessionDep, settings: SettingsDep) -> HTMLResponse:
    """Every conflict run (newest first) and the form to start one."""
    lang = request_lang(request)
    return HTMLResponse(render_runs(_runs(lang, session), layers=_form_layers(session), profiles=_profiles(lang),
                                    city=settings.city_name, lang=lang))


def _number(text: str, what: str, lang: str) -> float | None:
    """A non-negative number from a form field (empty → None); ValueError with the message."""
    s = text.replace(",", "").strip()
    if not s:
        return None
    try:
        value = float(s)
    except ValueError:
        value = -1.0
    if not 0 <= value < float("inf"):
        raise ValueError(TEXT[lang]["bad_number"].format(what=TEXT[lang][what]))
    return value


@router.post("/conflicts", response_class=HTMLResponse, response_model=None)
def runs_submit(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    a: Annotated[str, Form(max_length=300)] = "",
    b: Annotated[str, Form(max_length=300)] = "",
    profile: Annotated[str, Form(max_length=60)] = "landuse_vs_urban",
    min_area_m2: Annotated[str, Form(max_length=40)] = "",
    tolerance_m: Annotated[str, Form(max_length=40)] = "",
    conditional_construction: Annotated[str | None, Form(max_length=10)] = None,
) -> HTMLResponse | RedirectResponse:
    """Start a run from the form; on success go to its page."""
    lang = request_lang(request)
    t = TEXT[lang]
    values = {"a": a, "b": b, "profile": profile, "min_area_m2": min_area_m2, "tolerance_m": tolerance_m,
              "conditional_construction": conditional_construction is not None}

    def again(message: str, status: int = 422) -> HTMLResponse:
        session.rollback()
        return HTMLResponse(render_runs(_runs(lang, session), layers=_form_layers(session), profiles=_profiles(lang),
                                        city=settings.city_name, lang=lang, values=values, error=message),
                            status_code=status)

    if not a.strip() or not b.strip():
        return again(t["need_layers"])
    try:
        min_area = _number(min_area_m2, "min_area", lang)
        tolerance = _number(tolerance_m, "tolerance", lang)
    except ValueError as exc:
        return again(str(exc))
    try:
        prof = profile_book().profile(profile)
        switches = {CC_SWITCH: conditional_construction is not None} if CC_SWITCH in prof.switches else {}
        run_id = run_conflicts(request.app.state.engine, settings, a.strip(), b.strip(), profile,
                               min_area=min_area, tolerance=tolerance, switches=switches, engine_name="local",
                               actor=request.state.principal.name, in_process=False)
    except PlatformError as exc:
        return again(exc.message(lang), status=int(exc.http_status))
    return RedirectResponse(f"/conflicts/{run_id}{lang_suffix(lang)}", status_code=303)


def _quality(run: dict[str, Any], lang: str) -> dict[str, Any]:
    idx = 0 if lang == "zh" else 1
    items = []
    total = 0
    for key, v in sorted(((run.get("summary") or {}).get("data_quality") or {}).items()):
        side, _, kind = key.partition("_")
        total += int(v["count"])
        label = DQ_LABELS.get(kind, (kind, kind))[idx]
        items.append({"key": key, "label": f"{side} {label}", "count": int(v["count"]),
                      "area": f"{float(v['area_m2']):,.2f}"})
    return {"count": total, "items": items}


@router.get("/conflicts/{run_id}", response_class=HTMLResponse)
def run_page(run_id: int, request: Request, session: SessionDep, settings: SettingsDep) -> HTMLResponse:
    """A run: its patches on a map from vector tiles, legend, summaries, exports, resolution."""
    lang = request_lang(request)
    run = get_run(session, run_id)
    book = profile_book()
    prof = book.profiles.get(run["profile"])
    labels = side_labels(prof, run["summary"])
    categories = {c: category_name(c, labels) for c in book.categories}
    return HTMLResponse(render_run(
        run, mode=prof.mode if prof else "construction", bounds=run_bounds(session, settings, run_id),
        categories=categories, statuses=STATUSES, quality=_quality(run, lang), city=settings.city_name, lang=lang,
        basemap=settings.basemap, tianditu_key=settings.tianditu_key, extent_lonlat=settings.extent_lonlat,
        assets_missing=missing(settings.node_modules_dir),
        switch_labels={k: (sw.get("zh", k), sw.get("en", k)) for k, sw in (prof.switches if prof else {}).items()}))


@api.get("/{run_id}/patches/at")
def run_patch_at(
    run_id: int, session: SessionDep, settings: SettingsDep,
    lon: Annotated[float, Query(ge=-180, le=180, description="经度 longitude (CGCS2000)")],
    lat: Annotated[float, Query(ge=-90, le=90, description="纬度 latitude (CGCS2000)")],
) -> dict[str, Any]:
    """The patch of a run under a lon/lat point with its current resolution (``patch`` null when
    there is none). 点位处的差异图斑。"""
    return {"patch": patch_at(session, settings, run_id, lon, lat)}


@api.get("/{run_id}/patches/{patch_no}")
def run_patch(run_id: int, patch_no: int, session: SessionDep) -> dict[str, Any]:
    """One patch with its current resolution and names. 单个差异图斑。"""
    return patch_detail(session, run_id, patch_no)
