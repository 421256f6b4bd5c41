"""What applies here: every feature of every active layer at a point or in an area."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import shapely
from sqlalchemy.orm import Session

from gis_platform.core.settings import Settings

from . import queries
from .precheck import CONTEXT_THEMES, active_layers, class_names
from .rules import RuleBook, rule_ref
from .schemas import AppliesFeature, AppliesResult

MAX_FEATURES = 5000

# More sources of "what applies here" registered by packages above this one (surveys registers
# the shared, accepted survey results); each returns JSON-ready rows for the area or point.
ExtraSource = Callable[[Session, Settings, shapely.Geometry], list[dict[str, Any]]]
EXTRA_SOURCES: dict[str, ExtraSource] = {}


def register_source(name: str, source: ExtraSource) -> None:
    """Add (or replace) a named extra source; its rows are listed under ``extra[name]``."""
    EXTRA_SOURCES[name] = source


def what_applies(session: Session, settings: Settings, geom: shapely.Geometry,
                 project_type: str = "ordinary", limit: int = MAX_FEATURES) -> AppliesResult:
    """Every overlapping feature (store CRS ``geom``: a point or a polygon) with its rule."""
    layers = [lyr for lyr in active_layers(session, dt.datetime.now(dt.timezone.utc), None)
              if lyr.data_kind == "vector"]
    by_vid = {lyr.version_id: lyr for lyr in layers}
    rb = RuleBook.load(session, session.execute(queries.APPLIES_START).one().rules_version)
    rows = session.execute(queries.APPLIES_FEATURES, {
        "geom": shapely.to_wkb(geom), "srid": settings.store_srid,
        "vids": list(by_vid), "limit": limit}).all()
    names = class_names(session)
    features = []
    for r in rows:
        lyr = by_vid[r.version_id]
        reference = lyr.plan_status == "superseded"
        rule = None if reference or lyr.theme in CONTEXT_THEMES else rb.match(
            lyr.theme, "inside", project_type, r.class_code, r.class_raw)
        features.append(AppliesFeature(
            ref=lyr.ref, title=lyr.title, plan_name=lyr.plan_name, plan_status=lyr.plan_status,
            theme=lyr.theme, version=lyr.version, feature_no=r.feature_no, class_code=r.class_code,
            class_raw=r.class_raw, class_name=names.get((lyr.class_scheme or "", r.class_code or "")),
            area_m2=round(float(r.area), 2), properties=r.properties or {},
            severity="reference" if reference else (rule.severity if rule else "none"),  # type: ignore[arg-type]
            rule=rule_ref(rule)))
    present = {lyr.theme for lyr in layers}
    missing = sorted(rb.themes() - present - {"slope", "planned_land_use", "declared_area"})
    return AppliesResult(geometry_wkt=geom.wkt[:10_000], query_area_m2=round(float(geom.area), 2),
                         features=features, missing_themes=missing,
                         extra={name: source(session, settings, geom) for name, source in EXTRA_SOURCES.items()})
