"""Submissions as the planning bureau sees them: the review queue, and a run's site and
conflicting pieces in lon/lat for the result page's map."""

from __future__ import annotations

from typing import Any

import numpy as np
import shapely
from pyproj import CRS
from sqlalchemy.orm import Session

from gis_platform.core.crs import reproject, store_crs
from gis_platform.core.settings import Settings
from gis_platform.core.vocabulary import VERDICTS

from . import queries
from .report import report_data

LONLAT = CRS.from_epsg(4326)
QUEUE_LIMIT = 500


def _pattern(text: str | None) -> str | None:
    """An ILIKE pattern that matches ``text`` anywhere (its own % and _ taken literally)."""
    text = (text or "").strip()
    if not text:
        return None
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def list_submissions(session: Session, *, verdict: str | None = None, text: str | None = None,
                     limit: int = QUEUE_LIMIT, department: str | None = None) -> list[dict[str, Any]]:
    """Submissions with their latest run, newest first; filtered by verdict and by text in the
    project code, name, applicant, proposed use or file name; with ``department``, only those
    routed to that department for review."""
    rows = session.execute(queries.SUBMISSION_QUEUE, {
        "verdict": verdict if verdict in VERDICTS else None, "pattern": _pattern(text), "limit": limit,
        "department": department})
    return [dict(r._mapping) for r in rows]


def _lonlat(geom: shapely.Geometry, settings: Settings) -> dict[str, Any]:
    return shapely.geometry.mapping(reproject(np.array([geom]), store_crs(settings), LONLAT)[0])


def run_map(session: Session, settings: Settings, run_id: int) -> dict[str, Any]:
    """A run's stored result, its site, the pieces of the site each conflicting layer covers and
    those layers' parts around the site, geometries as GeoJSON in lon/lat."""
    result, site_json, overlays = report_data(session, settings, run_id)
    site = shapely.geometry.shape(site_json)
    pieces, context = [], []
    for o in overlays:
        part = shapely.geometry.shape(o["geometry"])
        piece = shapely.intersection(part, site)
        if not piece.is_empty and piece.area > 0:
            pieces.append({"title": o["title"], "severity": o["severity"], "area_m2": round(piece.area, 2),
                           "geometry": _lonlat(piece, settings)})
        context.append({"title": o["title"], "severity": o["severity"], "geometry": _lonlat(part, settings)})
    return {"result": result, "site": _lonlat(site, settings), "pieces": pieces, "context": context}
