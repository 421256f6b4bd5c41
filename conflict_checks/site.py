"""A project boundary (用地红线) as a site: read from any upload format or from GeoJSON, checked
like any ingest (CRS declared or given, geometry valid, inside the deployment), in the store CRS."""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from pyproj import CRS

from gis_platform.core.crs import deployment_extent, parse_crs, reproject, store_crs
from gis_platform.core.errors import GeometryError, InputError, LimitError, Problem
from gis_platform.core.settings import Settings
from layers.readers import check_upload, is_raster, read_source, source_sha256
from layers.sources import ReadResult
from layers.validate import GeometryChecker, check_vertex_limits
from plans.ingest import extent_error, settle_crs


@dataclass
class Site:
    """One site in the store CRS, with where it came from."""

    geom: shapely.MultiPolygon
    source_name: str | None = None
    source_sha256: str | None = None
    declared_area_m2: float | None = None
    label: str | None = None
    notes: list[Problem] = field(default_factory=list)

    @property
    def area_m2(self) -> float:
        """Plane area in the store CRS."""
        return float(self.geom.area)

    def boundary(self) -> list[list[list[float]]]:
        """界址点 list per ring: [point number, X (northing), Y (easting)], rings closed."""
        rings: list[list[list[float]]] = []
        n = 0
        for poly in shapely.get_parts(self.geom):
            for ring in [poly.exterior, *poly.interiors]:
                pts = []
                for x, y in list(ring.coords)[:-1]:
                    n += 1
                    pts.append([n, round(y, 3), round(x, 3)])
                pts.append([pts[0][0], pts[0][1], pts[0][2]])
                rings.append(pts)
        return rings


def _as_multipolygon(geoms: np.ndarray) -> shapely.MultiPolygon:
    merged = shapely.union_all(geoms) if len(geoms) > 1 else geoms[0]
    parts = [p for p in shapely.get_parts(merged) if p.geom_type == "Polygon"]
    return shapely.MultiPolygon(parts)


def _check_site(geom: shapely.MultiPolygon, label: str, display: str, settings: Settings) -> None:
    area = geom.area
    if area <= 0:
        raise GeometryError("用地范围面积为零", "the site has zero area", file=display,
                            problems=[Problem("面积为零", "zero area", label)])
    if area > settings.check_max_site_area_m2:
        raise LimitError(
            f"用地面积 {area / 1e6:.2f} km² 超过上限 {settings.check_max_site_area_m2 / 1e6:.0f} km²",
            f"the site's area of {area / 1e6:.2f} km² exceeds the limit of "
            f"{settings.check_max_site_area_m2 / 1e6:.0f} km²",
            file=display, problems=[Problem("面积过大", "too large", label)],
        )


def _declared_from_txt(result: ReadResult, rows: slice | None = None) -> float | None:
    if result.source_format != "coordinate_txt" or "DKMJ" not in result.frame.columns:
        return None
    values = result.frame["DKMJ"].iloc[rows] if rows is not None else result.frame["DKMJ"]
    values = values.dropna()
    return float(values.sum()) * 10_000 if len(values) else None


def _prepare(raw: np.ndarray, labels: Sequence[str], src: CRS, display: str, settings: Settings,
             repair: bool, repairable: list[Problem] | None = None) -> np.ndarray:
    """Limits, validation (repair only on request), reprojection and the extent check."""
    check_vertex_limits(raw, labels, settings.limits, display)
    checker = GeometryChecker(family="polygon", file=display, repair=repair, repairable=repairable)
    geoms = checker.check(raw, labels)
    if checker.failed:
        raise checker.error()
    geoms = reproject(shapely.force_2d(geoms), src, store_crs(settings))
    outside = np.flatnonzero(~shapely.contains(deployment_extent(settings).store, geoms))
    if outside.size:
        raise extent_error(raw, [int(i) for i in outside], labels, src, display, settings)
    return geoms


def sites_from_file(
    path: Path, settings: Settings, *, crs: str | None = None, encoding: str | None = None,
    source_layer: str | None = None, repair: bool = False, batch: bool = False,
    display_name: str | None = None,
) -> list[Site]:
    """Sites from an upload: all features form one site, or (``batch``) one site per feature."""
    display = display_name or path.name
    check_upload(path, settings.limits, display)
    if is_raster(path):
        raise InputError("用地范围不能是栅格文件", "a site boundary cannot be a raster", file=display)
    sha = source_sha256(path)
    with tempfile.TemporaryDirectory(prefix="gisplat-site-") as tmp:
        result = read_source(path, settings.limits, Path(tmp), source_layer=source_layer,
                             encoding=encoding, display_name=display)
    labels = result.labels()
    src, crs_notes = settle_crs(result, crs, display, settings)
    geoms = _prepare(np.asarray(result.frame.geometry.values), labels, src, display, settings, repair,
                     result.repairable)
    notes = crs_notes + result.notes
    if not batch:
        geom = _as_multipolygon(geoms)
        _check_site(geom, "全部要素/all features", display, settings)
        return [Site(geom, display, sha, _declared_from_txt(result), None, notes)]
    sites = []
    for i, g in enumerate(geoms):
        geom = _as_multipolygon(np.array([g]))
        _check_site(geom, labels[i], display, settings)
        sites.append(Site(geom, display, sha, _declared_from_txt(result, slice(i, i + 1)), labels[i], notes))
    return sites


def site_from_geojson(obj: dict[str, Any], settings: Settings, *, crs: str | None = None) -> Site:
    """A site from a GeoJSON geometry, Feature or FeatureCollection (RFC 7946: lon/lat WGS 84
    unless ``crs`` is given)."""
    display = "GeoJSON"
    try:
        if obj.get("type") == "FeatureCollection":
            geometries = [f.get("geometry") for f in obj["features"]]
        elif obj.get("type") == "Feature":
            geometries = [obj.get("geometry")]
        else:
            geometries = [obj]
        geoms = [shapely.geometry.shape(g) if g else None for g in geometries]
    except Exception as exc:  # noqa: BLE001 - any malformed GeoJSON is the user's input error
        raise InputError(f"GeoJSON 无法解析：{exc}", f"cannot parse the GeoJSON: {exc}", file=display) from None
    if not geoms:
        raise InputError("GeoJSON 中没有要素", "the GeoJSON holds no features", file=display)
    src = _crs(crs) if crs else _crs("EPSG:4326")
    labels = [f"#{i + 1}" for i in range(len(geoms))]
    store = _prepare(np.array(geoms, dtype=object), labels, src, display, settings, repair=False)
    geom = _as_multipolygon(store)
    _check_site(geom, "GeoJSON", display, settings)
    return Site(geom, display, None, None, None, [])


@lru_cache(maxsize=32)
def _crs(text: str) -> CRS:
    return parse_crs(text)


def point_in_store(x: float, y: float, crs: str, settings: Settings) -> shapely.Point:
    """A point given in ``crs`` (lon, lat for geographic CRSs), in the store CRS, inside the
    deployment extent."""
    src = parse_crs(crs)
    pt = reproject(np.array([shapely.Point(x, y)]), src, store_crs(settings))[0]
    if not deployment_extent(settings).store.contains(pt):
        raise extent_error(np.array([shapely.Point(x, y)]), [0], ["point"], src, "point", settings)
    return pt
