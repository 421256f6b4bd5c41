"""Builders for fixture files and a small facade over the real test store."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Any

import geopandas as gpd
import pyogrio
import shapely
from pyproj import Transformer
from sqlalchemy import Engine, text

from gis_platform.core.db import session_scope
from gis_platform.core.settings import Settings

# A point in the middle of Dingxi (104.62°E, 35.58°N is about here in EPSG:4523).
E0, N0 = 35465600.0, 3939000.0


def square(x: float, y: float, size: float) -> shapely.Polygon:
    """An axis-aligned square with its lower-left corner at (x, y), in EPSG:4523 metres."""
    return shapely.box(x, y, x + size, y + size)


def to_lonlat(geom: shapely.Geometry, epsg: int = 4490) -> shapely.Geometry:
    """The geometry in lon/lat, transformed directly with pyproj (independent of the platform)."""
    tr = Transformer.from_crs(4523, epsg, always_xy=True)
    return shapely.transform(geom, lambda c: __import__("numpy").column_stack(tr.transform(c[:, 0], c[:, 1])))


def write_vector(path: Path, geoms: list[shapely.Geometry], crs: str | None, layer: str | None = None,
                 encoding: str | None = None, **columns: list[Any]) -> Path:
    """Write features with pyogrio (``crs`` None writes no CRS)."""
    frame = gpd.GeoDataFrame(columns or {"n": list(range(1, len(geoms) + 1))},
                             geometry=gpd.GeoSeries(geoms), crs=crs)
    kwargs: dict[str, Any] = {}
    if layer:
        kwargs["layer"] = layer
    if encoding:
        kwargs["encoding"] = encoding
    if path.suffix.lower() == ".kml":
        kwargs["driver"] = "KML"
    pyogrio.write_dataframe(frame, path, **kwargs)
    return path


class Store:
    """The test store: sessions, row counts of every table, plan and version reads."""

    TABLES = ("plans", "layers", "layer_versions", "features", "audit_log", "code_mappings")

    def __init__(self, engine: Engine, settings: Settings) -> None:
        self.engine = engine
        self.settings = settings

    @contextmanager
    def session(self):  # noqa: ANN201
        """One transaction, committed on success."""
        with session_scope(self.engine) as s:
            yield s

    def counts(self) -> dict[str, int]:
        """Row count of every table (compared before and after a refused operation)."""
        with self.engine.connect() as conn:
            return {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in self.TABLES}

    def plan(self, code: str, kind: str = "territorial") -> str:
        """Create a plan and return its code."""
        from plans.service import create_plan

        with self.session() as s:
            create_plan(s, code=code, name=f"测试 {code}", kind=kind)
        return code

    def ingest(self, path: Path, plan: str, layer: str, settings: Settings | None = None, **kw: Any):  # noqa: ANN201
        """Ingest in its own transaction; return the version's public form."""
        from plans.ingest import IngestRequest, ingest
        from plans.schemas import VersionPublic

        with self.session() as s:
            v = ingest(s, settings or self.settings, IngestRequest(path=path, plan=plan, layer=layer, **kw))
            return VersionPublic.of(v)

    def version_id(self, plan: str, layer: str) -> int:
        """Id of the layer's newest version."""
        sql = text(
            """
            SELECT v.id FROM layer_versions v JOIN layers l ON l.id = v.layer_id JOIN plans p ON p.id = l.plan_id
            WHERE p.code = :plan AND l.name = :layer ORDER BY v.version DESC LIMIT 1
            """
        )
        with self.engine.connect() as conn:
            return int(conn.execute(sql, {"plan": plan, "layer": layer}).scalar_one())

    def overlap_check(self, version_id: int, wait_s: float = 10.0) -> Any:
        """The version's internal overlap check row (pairs, area_m2), waiting up to ``wait_s`` for a
        background check to write it; None when none came."""
        import time

        sql = text("SELECT pairs, area_m2 FROM version_overlap_checks WHERE version_id = :v")
        deadline = time.monotonic() + wait_s
        while True:
            with self.engine.connect() as conn:
                row = conn.execute(sql, {"v": version_id}).first()
            if row is not None or time.monotonic() > deadline:
                return row
            time.sleep(0.1)

    def areas(self, plan: str, layer: str, version: int | None = None) -> list[float]:
        """Stored feature areas (m², PostGIS ST_Area in the store CRS), in feature order."""
        sql = text(
            """
            SELECT ST_Area(f.geom) FROM features f
            JOIN layer_versions v ON v.id = f.version_id
            JOIN layers l ON l.id = v.layer_id JOIN plans p ON p.id = l.plan_id
            WHERE p.code = :plan AND l.name = :layer
              AND v.version = coalesce(:version,
                    (SELECT max(version) FROM layer_versions WHERE layer_id = l.id))
            ORDER BY f.feature_no
            """
        )
        with self.engine.connect() as conn:
            return [float(a) for a in conn.execute(sql, {"plan": plan, "layer": layer, "version": version}).scalars()]

    def properties(self, plan: str, layer: str) -> list[dict[str, Any]]:
        """Stored properties and class fields of the newest version, in feature order."""
        sql = text(
            """
            SELECT f.properties, f.class_code, f.class_raw, f.class_status FROM features f
            JOIN layer_versions v ON v.id = f.version_id
            JOIN layers l ON l.id = v.layer_id JOIN plans p ON p.id = l.plan_id
            WHERE p.code = :plan AND l.name = :layer
              AND v.version = (SELECT max(version) FROM layer_versions WHERE layer_id = l.id)
            ORDER BY f.feature_no
            """
        )
        with self.engine.connect() as conn:
            return [
                {**r.properties, "_class_code": r.class_code, "_class_raw": r.class_raw,
                 "_class_status": r.class_status}
                for r in conn.execute(sql, {"plan": plan, "layer": layer})
            ]
