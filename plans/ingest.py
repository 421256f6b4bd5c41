"""Ingest: a file becomes a new version of a layer, or is refused with nothing stored.

Steps: check the upload, hash it, read it, settle its CRS (declared or given, never guessed),
enforce limits, validate (repair only on request), reproject into the store CRS, check the
deployment extent, classify, then COPY in the caller's transaction.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from pyproj import CRS
from sqlalchemy.orm import Session

from gis_platform.core import audit
from gis_platform.core.crs import (
    crs_label,
    deployment_extent,
    diagnose,
    parse_crs,
    reproject,
    sample_points,
    store_crs,
)
from gis_platform.core.errors import CRSError, ExtentError, InputError, Problem
from gis_platform.core.settings import Settings
from layers import raster as raster_io
from layers.load import PartitionWriter
from layers.readers import check_upload, is_raster, read_source, source_sha256
from layers.sources import ReadResult
from layers.validate import GeometryChecker, check_vertex_limits

from . import queries
from .code_tables import Classified, Classifier, unclassified
from .models import Layer, LayerVersion
from .service import get_or_create_layer


@dataclass
class IngestRequest:
    """What the user asked: which file into which layer of which plan, and how to read it."""

    path: Path
    plan: str
    layer: str
    class_field: str | None = None
    scheme: str | None = None
    theme: str | None = None
    title: str | None = None
    crs: str | None = None
    encoding: str | None = None
    source_layer: str | None = None
    repair: bool = False
    geometry: str = "polygon"
    plan_kind: str | None = None
    display_name: str | None = None
    actor: str | None = None
    coverage: str | None = None


def _crs_error(result: ReadResult, display: str, settings: Settings) -> CRSError:
    sample = sample_points(np.asarray(result.frame.geometry.values))
    hints = diagnose(sample, None, settings)
    problems = [
        Problem(
            f"建议：{h.cause_zh}，可加 --crs EPSG:{h.epsg}" + ("（并交换坐标轴）" if h.swapped else ""),
            f"suggestion: {h.cause_en}; add --crs EPSG:{h.epsg}" + (" (after swapping axes)" if h.swapped else ""),
        )
        for h in hints[:3]
    ]
    what = "（Shapefile 缺少 .prj 文件）" if result.source_format == "shapefile" else ""
    what_en = " (the Shapefile has no .prj file)" if result.source_format == "shapefile" else ""
    return CRSError(
        f"文件未声明坐标系{what}，平台不会猜测；请用 --crs 指定",
        f"the file declares no CRS{what_en} and the platform does not guess; give one with --crs",
        file=display,
        problems=problems,
    )


def settle_crs(result: ReadResult, given: str | None, display: str, settings: Settings) -> tuple[CRS, list[Problem]]:
    """The source CRS: declared by the file, or given by the user; never guessed."""
    notes: list[Problem] = []
    if given:
        crs = parse_crs(given, file=display)
        if result.crs is not None and result.crs != crs:
            notes.append(Problem(
                f"文件声明的坐标系 {crs_label(result.crs)} 已按用户指定改为 {crs_label(crs)}",
                f"the declared CRS {crs_label(result.crs)} was overridden by --crs {crs_label(crs)}"))
        return crs, notes
    if result.crs is None:
        raise _crs_error(result, display, settings)
    return result.crs, notes


def extent_error(
    raw: np.ndarray, bad: list[int], labels: Sequence[str], src: CRS, display: str, settings: Settings
) -> ExtentError:
    """The error for features outside the deployment extent, naming the likely cause."""
    extent = deployment_extent(settings)
    hints = diagnose(sample_points(raw[np.asarray(bad)]), src, settings)
    if hints:
        cause_zh, cause_en = hints[0].cause_zh, hints[0].cause_en
    else:
        cause_zh = "在所试的任何坐标系下都不在辖区内，请检查数据来源"
        cause_en = "it does not fit the deployment in any CRS tried; check where the data comes from"
    lon0, lat0, lon1, lat1 = extent.lonlat
    problems = [Problem("位于辖区范围之外", "outside the deployment extent", labels[i]) for i in bad[:20]]
    return ExtentError(
        f"{len(bad)} 个要素按 {crs_label(src)} 投影后落在{settings.city_name}范围"
        f"（{lon0}–{lon1}°E, {lat0}–{lat1}°N）之外。可能原因：{cause_zh}",
        f"{len(bad)} feature(s) fall outside the deployment extent ({lon0}–{lon1}°E, "
        f"{lat0}–{lat1}°N) when read as {crs_label(src)}. Likely cause: {cause_en}",
        file=display,
        problems=problems,
    )


def _class_values(result: ReadResult, class_field: str | None, display: str) -> list[Any] | None:
    if class_field is None:
        return None
    if class_field not in result.frame.columns:
        fields = [c for c in result.frame.columns if c != "geometry"]
        raise InputError(
            f"没有分类字段“{class_field}”；文件字段：{', '.join(map(str, fields))}",
            f"no class field '{class_field}'; the file's fields: {', '.join(map(str, fields))}",
            file=display,
        )
    return [None if v is None or (isinstance(v, float) and v != v) else v
            for v in result.frame[class_field].tolist()]


CHUNK = 10_000


# Little-endian WKB headers of the seven 2D geometry types (no Z/M/SRID flags, no ISO Z/M codes).
_PLAIN_WKB_HEADS = frozenset(b"\x01" + bytes([t, 0, 0, 0]) for t in range(1, 8))


@dataclass
class _Prepared:
    """A chunk's geometry, ready to send: features outside the extent, Z seen, measures, WKB."""

    bad: np.ndarray
    had_z: bool
    area: float
    bounds: np.ndarray
    wkb: np.ndarray | None


def _classify(classifier: Classifier | None, values: list[Any] | None, n: int) -> Classified:
    if values is not None and classifier is not None:
        return classifier.classify(values)
    if values is not None:
        out = unclassified(n)
        out.raw = [None if v is None else str(v) for v in values]
        return out
    return unclassified(n)


def ingest(session: Session, settings: Settings, req: IngestRequest) -> LayerVersion:
    """Load one file as a new version of ``req.plan``/``req.layer`` in the session's transaction.

    Features flow in chunks: check, repair (on request), reproject, check the extent, classify
    and COPY, so the database parses one chunk while the next is prepared. Every problem of the
    whole file is gathered; if there is any, the COPY is aborted and nothing is stored.
    """
    display = req.display_name or req.path.name
    limits = settings.limits
    check_upload(req.path, limits, display)
    if is_raster(req.path):
        return _ingest_raster(session, settings, req, display)
    # The hash runs beside the read (hashlib releases the GIL while it digests large blocks).
    with ThreadPoolExecutor(1, thread_name_prefix="gisplat-sha256") as pool:
        sha_future = pool.submit(source_sha256, req.path)
        with tempfile.TemporaryDirectory(prefix="gisplat-ingest-") as tmp:
            result = read_source(
                req.path, limits, Path(tmp), source_layer=req.source_layer,
                encoding=req.encoding, display_name=display,
            )
    sha = sha_future.result()
    n = len(result.frame)
    labels = result.labels()
    raw = np.asarray(result.frame.geometry.values)
    check_vertex_limits(raw, labels, limits, display)
    src, crs_notes = settle_crs(result, req.crs, display, settings)

    layer = get_or_create_layer(
        session, plan_code=req.plan, layer_name=req.layer, data_kind="vector",
        class_field=req.class_field, scheme=req.scheme, theme=req.theme, title=req.title,
        plan_kind=req.plan_kind, actor=req.actor, coverage=req.coverage,
    )
    class_field = req.class_field or layer.class_field
    scheme = req.scheme or layer.class_scheme
    values = _class_values(result, class_field, display)
    classifier = Classifier(session, scheme) if values is not None and scheme else None
    session.execute(queries.lock_layer(layer.id))
    number = session.execute(queries.next_version(layer.id)).scalar_one()
    version_id = session.execute(queries.new_version_id()).scalar_one()

    attrs = result.frame.drop(columns=[result.frame.geometry.name])
    checker = GeometryChecker(family=req.geometry, file=display, repair=req.repair,
                              repairable=result.repairable)
    dst = store_crs(settings)
    extent = deployment_extent(settings)
    outside: list[int] = []
    had_z = False
    summary = unclassified(0)
    summary.counts = {}
    area_sum = 0.0
    bounds = np.array([np.inf, np.inf, -np.inf, -np.inf])
    polygons = req.geometry == "polygon"

    # The reader's own WKB can be sent as it is when the geometries reach the store unchanged
    # (already in the store CRS, nothing repaired) and it is little-endian 2D WKB with no flags
    # in its type word (checked per chunk): re-encoding them would give the same bytes.
    source_wkb = result.wkb if src == dst and not result.repairable else None

    def prepare(start: int, stop: int, valid: np.ndarray | None) -> _Prepared | None:
        """The geometry half of a chunk: check, 2D, reproject, extent, measures, WKB."""
        part = raw[start:stop]
        chunk = checker.check(part, labels[start:stop], offset=start, valid=valid)
        if checker.failed:
            return None  # keep checking to report every problem; nothing more is sent
        z = bool(shapely.has_z(chunk).any())
        if z:
            chunk = shapely.force_2d(chunk)
        geoms = reproject(chunk, src, dst)
        chunk_bounds = shapely.total_bounds(geoms)
        # One test for the whole chunk when its bounding box lies inside the extent (the usual
        # case); each feature is tested only otherwise.
        if np.all(np.isfinite(chunk_bounds)) and extent.store.contains(shapely.box(*chunk_bounds)):
            bad = np.zeros(0, dtype=np.intp)
        else:
            bad = np.flatnonzero(~shapely.contains(extent.store, geoms))
        if bad.size:
            return _Prepared(bad, z, 0.0, np.zeros(4), None)
        wkb = source_wkb[start:stop] if source_wkb is not None and geoms is part else None
        if wkb is None or not all(b[:5] in _PLAIN_WKB_HEADS for b in wkb):
            wkb = shapely.to_wkb(geoms, byte_order=1, include_srid=False)
        return _Prepared(bad, z, float(shapely.area(geoms).sum()) if polygons else 0.0, chunk_bounds, wkb)

    # GEOS validity (which releases the GIL) of the next chunk is computed in a thread while
    # this chunk's rows are built and sent. (Preparing the whole next chunk in a thread was
    # tried: its GIL-bound parts then wait on the main thread's.)
    starts = list(range(0, n, CHUNK))
    with PartitionWriter(session, version_id, settings.store_srid) as writer, \
            ThreadPoolExecutor(1, thread_name_prefix="gisplat-validity") as pool:
        validity = pool.submit(shapely.is_valid, raw[:CHUNK])
        for k, start in enumerate(starts):
            stop = min(start + CHUNK, n)
            valid = validity.result()
            if k + 1 < len(starts):
                validity = pool.submit(shapely.is_valid, raw[stop:stop + CHUNK])
            prep = prepare(start, stop, valid)
            if prep is None:
                continue
            had_z = had_z or prep.had_z
            if prep.bad.size or outside:
                outside.extend(int(start + i) for i in prep.bad)
                continue
            classified = _classify(classifier, None if values is None else values[start:stop],
                                   stop - start)
            summary.merge(classified)
            area_sum += prep.area
            b = prep.bounds
            bounds = np.array([min(bounds[0], b[0]), min(bounds[1], b[1]),
                               max(bounds[2], b[2]), max(bounds[3], b[3])])
            writer.write(None, attrs.iloc[start:stop], classified.code, classified.raw,
                         classified.status, wkb=prep.wkb)
        if checker.failed:
            raise checker.error()
        if outside:
            raise extent_error(raw, outside, labels, src, display, settings)

    notes = result.notes + crs_notes
    if had_z:
        notes.append(Problem("已去除 Z 坐标（平台按平面计算面积）", "Z coordinates dropped (areas are planar)"))
    report = {
        "notes": [p.as_dict() for p in notes],
        "repairs": [r.as_dict() for r in checker.repairs],
        "classes": summary.report(),
        "encoding_reason": result.meta.get("encoding_reason"),
        "reader": {k: v for k, v in result.meta.items() if k != "encoding_reason"},
    }
    extent_wkt = shapely.to_wkt(shapely.box(*bounds)) if np.all(np.isfinite(bounds)) else None
    version = LayerVersion(
        id=version_id,
        layer_id=layer.id,
        version=number,
        source_name=display,
        source_sha256=sha,
        source_format=result.source_format,
        source_layer=result.source_layer,
        source_crs=crs_label(src),
        encoding=result.encoding,
        feature_count=writer.rows,
        total_area_m2=area_sum if req.geometry == "polygon" else None,
        extent=f"SRID={settings.store_srid};{extent_wkt}" if extent_wkt else None,
        loaded_by=req.actor or audit.current_actor(),
        options={
            "class_field": class_field, "scheme": scheme, "crs_given": req.crs,
            "encoding_given": req.encoding, "repair": req.repair, "geometry": req.geometry,
        },
        report=_json_clean(report),
    )
    session.add(version)
    session.flush()
    writer.attach()
    audit.record(
        session, "layer.load", f"{req.plan}/{req.layer}@{number}", actor=req.actor,
        source=display, sha256=sha, features=writer.rows, repairs=len(checker.repairs),
    )
    return version


def _json_clean(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _json_clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_clean(v) for v in obj]
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating,)):
        return float(obj)
    if isinstance(obj, (str, int, float, bool)) or obj is None:
        return obj
    return str(obj)


def _ingest_raster(session: Session, settings: Settings, req: IngestRequest, display: str) -> LayerVersion:
    sha = source_sha256(req.path)
    given = parse_crs(req.crs, file=display) if req.crs else None
    prepared = raster_io.prepare_cog(req.path, settings, given, display)
    try:
        layer: Layer = get_or_create_layer(
            session, plan_code=req.plan, layer_name=req.layer, data_kind="raster",
            class_field=None, scheme=None, theme=req.theme, title=req.title,
            plan_kind=req.plan_kind, actor=req.actor,
        )
        session.execute(queries.lock_layer(layer.id))
        number = session.execute(queries.next_version(layer.id)).scalar_one()
        final = raster_io.store_cog(prepared, settings)
        version = LayerVersion(
            layer_id=layer.id, version=number, source_name=display, source_sha256=sha,
            source_format="geotiff", source_crs=prepared.source_crs, feature_count=0,
            extent=f"SRID={settings.store_srid};{prepared.extent_wkt}",
            loaded_by=req.actor or audit.current_actor(),
            options={"crs_given": req.crs}, report={"notes": prepared.notes},
            raster_path=str(final.relative_to(settings.raster_dir)), raster_meta=prepared.meta,
        )
        session.add(version)
        session.flush()
        audit.record(session, "layer.load", f"{req.plan}/{req.layer}@{number}", actor=req.actor,
                     source=display, sha256=sha, raster=True)
        session.flush()
    except BaseException:
        raster_io.discard(prepared)
        raise
    return version
