"""Shared survey results in "what applies here": every accepted survey result at a point or in
an area, registered as an extra source of ``conflict_checks.applies.what_applies``."""

from __future__ import annotations

from typing import Any

import shapely
from sqlalchemy.orm import Session

from conflict_checks.applies import register_source
from gis_platform.core.settings import Settings

from . import queries
from .manifest import load_manifest

LIMIT = 500


def shared_surveys_at(session: Session, settings: Settings, geom: shapely.Geometry) -> list[dict[str, Any]]:
    """Accepted survey results whose features overlap ``geom`` (store CRS), one row per package."""
    manifest = load_manifest()
    rows = session.execute(queries.APPLIES_SURVEYS, {"geom": shapely.to_wkb(geom), "srid": settings.store_srid,
                                                     "limit": LIMIT})
    out = []
    for r in rows:
        it = manifest.items.get(r.item)
        out.append({"package_id": r.id, "project_code": r.project_code, "stage": r.stage, "item": r.item,
                    "item_zh": it.name_zh if it else r.item, "item_en": it.name_en if it else r.item,
                    "version": r.version, "firm": r.firm, "accepted_at": r.accepted_at.isoformat(),
                    "features": int(r.features), "area_m2": round(float(r.area), 2),
                    "shared_with": list(r.shared_with or [])})
    return out


register_source("surveys", shared_surveys_at)
