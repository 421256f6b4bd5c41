"""The printable report of a check run: the stored result plus its location map data, handed
to map_ui for rendering."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import shapely
from sqlalchemy.orm import Session

from gis_platform.core.settings import Settings
from map_ui.report import html_to_pdf, render_check_report

from . import queries
from .precheck import get_run
from .rules import SEVERITY_RANK


MAP_QUIET_THEMES = {"current_land_use", "planned_land_use", "land_use_zone", "construction_control_zone",
                    "urban_land_use"}


def report_data(session: Session, settings: Settings, run_id: int) -> tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]]:
    """(result, site GeoJSON, overlays) of a stored run, all in the store CRS."""
    run = get_run(session, run_id)
    wkb = session.execute(queries.SUBMISSION_GEOM, {"id": run.submission_id}).scalar_one()
    site = shapely.from_wkb(bytes(wkb))
    result = dict(run.result)
    result["run_id"] = run.id
    result["submission_id"] = run.submission_id
    minx, miny, maxx, maxy = site.bounds
    pad = max(maxx - minx, maxy - miny) * 0.2 + 20
    window = shapely.box(minx - pad, miny - pad, maxx + pad, maxy + pad)
    wanted: dict[int, tuple[str, dict[tuple[str | None, str | None], str]]] = {}
    for f in result["layers"]:
        if f.get("version_id") is None:
            continue
        # The map shows what blocks or conditions the project; use layers (current and planned
        # use) would cover the whole view, so only their forbidden parts are drawn.
        shown = ("forbidden",) if f.get("theme") in MAP_QUIET_THEMES else ("forbidden", "needs_approval")
        sev = {(c["class_code"], c["class_raw"]): c["severity"] for c in f["classes"]
               if not c["sliver"] and c["severity"] in shown and c.get("part", "inside") == "inside"}
        if sev:
            wanted[f["version_id"]] = (f["title"], sev)
    overlays: list[dict[str, Any]] = []
    if wanted:
        rows = session.execute(queries.WINDOW_PARTS, {
            "window": shapely.to_wkb(window), "srid": settings.store_srid, "vids": list(wanted)})
        for vid, code, raw, part in rows:
            title, sev = wanted[vid]
            severity = sev.get((code, raw))
            if severity is None or part is None:
                continue
            label = f"{title} {code or raw or ''}".strip()
            overlays.append({"title": label, "severity": severity,
                             "geometry": shapely.geometry.mapping(shapely.from_wkb(bytes(part)))})
    overlays.sort(key=lambda o: SEVERITY_RANK.get(o["severity"], 0))
    return result, shapely.geometry.mapping(site), overlays


def report_html(session: Session, settings: Settings, run_id: int, lang: str = "zh") -> str:
    """The report page of a run."""
    result, site, overlays = report_data(session, settings, run_id)
    return render_check_report(result, site=_plain(site), overlays=_plain(overlays), lang=lang)


def report_pdf(session: Session, settings: Settings, run_id: int, lang: str = "zh") -> bytes:
    """The report of a run as PDF."""
    return html_to_pdf(report_html(session, settings, run_id, lang))


def write_report(session: Session, settings: Settings, run_id: int, path: Path, lang: str = "zh") -> Path:
    """Write the report of a run to ``path``: PDF when it ends in .pdf, else HTML."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".pdf":
        path.write_bytes(report_pdf(session, settings, run_id, lang))
    else:
        path.write_text(report_html(session, settings, run_id, lang), encoding="utf-8")
    return path


def _plain(obj: Any) -> Any:
    """Tuples to lists, so templates and JSON see plain structures."""
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    return obj
