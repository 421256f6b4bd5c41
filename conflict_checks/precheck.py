"""Site pre-check: a site against every active layer, quantified, ruled, judged and stored.

Per layer and class: the area of the site it covers (overlaps inside a layer are merged first;
touching is not overlapping), the share of the site, the rule behind it and its severity. Each
layer is in one of three states — applies / does not apply / no data — and "no data" is never
reported as "does not apply". The run stores the exact layer versions, parameters and rules it
used, so re-running it gives the same answer after layers or rules have changed.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from psycopg.rows import dict_row
from pyproj import Geod
from sqlalchemy.orm import Session

from gis_platform.core import audit
from gis_platform.core.crs import epsg_label, reproject_epsg
from gis_platform.core.db import url_key
from gis_platform.core.errors import NotFoundError
from gis_platform.core.settings import Settings
from layers.overlaps import check_in_background, overlap_partners

from . import queries
from .models import CheckRun, Submission
from .overlay import ClassHits, LayerHits, start_site_hits
from .rules import SEVERITY_RANK, RuleBook, rule_book_of_set, rule_ref, store_rule_set
from .schemas import (
    AreaCheck,
    CheckResult,
    ClassFinding,
    LayerFinding,
    ProjectMeta,
    Reason,
    SlopeFinding,
    UseFinding,
)
from .site import Site
from .slope import slope_stats

GEOD = Geod(ellps="GRS80")  # CGCS2000's ellipsoid (GRS 80 parameters)
CONTEXT_THEMES = {"admin_county", "coverage_area", "dem"}
EPS = 1e-6  # m²: below this an area is zero


@dataclass
class LayerRow:
    """A layer version taking part in a check."""

    layer_id: int
    name: str
    title: str | None
    theme: str | None
    data_kind: str
    coverage: str
    class_scheme: str | None
    plan_code: str
    plan_name: str
    plan_status: str
    version_id: int
    version: int
    source_sha256: str
    loaded_at: dt.datetime
    extent: bytes | None
    raster_path: str | None
    feature_count: int
    overlap_pairs: int | None = None  # internal overlaps (layers.overlaps); None: not checked

    @property
    def ref(self) -> str:
        """PLAN/LAYER."""
        return f"{self.plan_code}/{self.name}"


def active_layers(session: Session, as_of: dt.datetime, version_ids: list[int] | None) -> list[LayerRow]:
    if version_ids is not None:
        rows = session.execute(queries.LAYERS_BY_VERSION_IDS, {"vids": version_ids}).mappings()
    else:
        rows = session.execute(queries.LAYERS_AS_OF, {"as_of": as_of}).mappings()
    return [_layer_row(r) for r in rows]


_LAYER_FIELDS = tuple(LayerRow.__dataclass_fields__)


def _layer_row(r: Any) -> LayerRow:
    return LayerRow(**{k: (bytes(r[k]) if k == "extent" and r[k] is not None else r[k]) for k in _LAYER_FIELDS})


_NAMES: dict[str, dict[tuple[str, str], str]] = {}


def class_names(session: Session) -> dict[tuple[str, str], str]:
    """Names of class codes by (scheme, code); the code tables change only with a release, so
    they are read once per process and store."""
    key = url_key(session.get_bind())
    if key not in _NAMES:
        _NAMES[key] = {(s, c): n for s, c, n in session.execute(queries.all_class_names())}
    return _NAMES[key]


def _is_sliver(c: ClassHits, params: dict[str, float]) -> bool:
    if c.area < params["sliver_min_area_m2"]:
        return True
    tol = params["sliver_buffer_m"]
    # Whatever vanishes under an inward buffer of tol lies within tol of its boundary, so its
    # area is at most perimeter × tol: only such thin parts need the (costlier) union and buffer.
    return tol > 0 and c.area <= c.perimeter_bound * tol and c.union.buffer(-tol).is_empty


def _ha(m2: float) -> float:
    return round(m2 / 10_000, 4)


def run_check(
    session: Session,
    settings: Settings,
    site: Site,
    meta: ProjectMeta,
    *,
    as_of: dt.datetime | None = None,
    rerun: CheckRun | None = None,
    submission: Submission | None = None,
    actor: str | None = None,
    owner_id: int | None = None,
    organisation: str | None = None,
) -> CheckResult:
    """Check a site, store the submission (unless given, with its owner), the run and its findings."""
    t0 = time.perf_counter()
    now = dt.datetime.now(dt.timezone.utc)
    if rerun is not None:
        # Serial queries for this transaction, and the rules' change counter.
        session.execute(queries.CHECK_START)
        params = {k: v for k, v in rerun.params.items() if k not in ("rules", "compat")}
        if rerun.rule_set is None:
            raise NotFoundError(f"检查记录 {rerun.id} 未保存所用规则，无法按原规则重新运行",
                                f"check run {rerun.id} kept no rule set; it cannot be re-run with its rules")
        rulebook = rule_book_of_set(session, rerun.rule_set)
        as_of = rerun.as_of
        layers = active_layers(session, as_of, [v["version_id"] for v in rerun.versions])
    else:
        params = {
            "sliver_min_area_m2": settings.check_sliver_min_area_m2,
            "sliver_buffer_m": settings.check_sliver_buffer_m,
        }
        as_of = as_of or now
        # Serial queries for this transaction, the rules' change counter and the active layers.
        with session.connection().connection.driver_connection.cursor(row_factory=dict_row) as cur:
            rows = cur.execute(queries.CHECK_START_LAYERS_SQL, {"as_of": as_of}).fetchall()
        rulebook = RuleBook.load(session, rows[0]["rules_version"])
        layers = [_layer_row(r) for r in rows if r["layer_id"] is not None]

    area = site.area_m2
    srid = settings.store_srid
    vector = [lyr for lyr in layers if lyr.data_kind == "vector"]
    # Context layers (counties, coverage areas) are overlaid only when a layer's coverage
    # refers to them.
    coverage_refs = {lyr.coverage[len("layer:"):] for lyr in vector if lyr.coverage.startswith("layer:")}
    overlaid = [lyr for lyr in vector if lyr.theme not in CONTEXT_THEMES or lyr.ref in coverage_refs]
    # Half of the layers are read on a spare connection in a pool thread while this thread reads
    # the other half and then the DEM slope.
    pending = start_site_hits(session, site.geom, {lyr.version_id: _density(lyr) for lyr in overlaid}, srid,
                              _check_pool(), _known_overlaps(session, overlaid, srid))
    slope = _slope(settings, site, layers, rulebook, meta)
    hits = pending.result()
    names = class_names(session)
    by_ref = {lyr.ref: lyr for lyr in layers}

    findings: list[LayerFinding] = []
    for lyr in vector:
        if lyr.theme in CONTEXT_THEMES:
            continue
        findings.append(_layer_finding(lyr, site, area, hits.get(lyr.version_id, LayerHits()),
                                       hits, by_ref, names, rulebook, meta, params))
    present = {lyr.theme for lyr in layers}
    for theme in sorted(rulebook.themes() - present - {"slope", "planned_land_use", "declared_area"}):
        findings.append(LayerFinding(
            layer_id=None, ref=None, title=theme, theme=theme, state="no_data", covered_share=0.0,
            note_zh="平台未载入该类数据，无法判断", note_en="no layer of this theme is loaded; cannot tell"))

    use = _use(site, area, vector, hits, rulebook, meta, params)
    area_check = _area(site, settings, rulebook, meta)
    verdict, reasons = _verdict(findings, slope, use, area_check, rulebook, meta)

    county = None
    for lyr in layers:
        if lyr.theme == "admin_county":
            props = session.execute(queries.FEATURE_PROPERTIES_AT, {
                "vid": lyr.version_id, "point": shapely.to_wkb(site.geom.representative_point()),
                "srid": srid}).scalar()
            if props:
                county = props.get("XZQMC") or props.get("name") or props.get("NAME")
    versions = [{"layer_id": lyr.layer_id, "ref": lyr.ref, "version_id": lyr.version_id,
                 "version": lyr.version, "source_sha256": lyr.source_sha256,
                 "loaded_at": lyr.loaded_at.isoformat()} for lyr in layers]
    result = CheckResult(
        checked_at=now, as_of=as_of, store_crs=epsg_label(srid), meta=meta,
        source_name=site.source_name, source_sha256=site.source_sha256,
        site_wkt=site.geom.wkt if len(site.geom.wkt) < 200_000 else None,
        boundary=site.boundary(), county=county, area=area_check, layers=findings,
        slope=slope, use=use, verdict=verdict, reasons=reasons, params=params, versions=versions,
    )
    rule_set = rerun.rule_set if rerun is not None else store_rule_set(session, rulebook)
    result.duration_ms = round((time.perf_counter() - t0) * 1000, 2)
    rows = _finding_rows(0, findings, slope, use)
    # One statement stores the submission (unless it exists), the run, its findings and the
    # audit entry: one round trip, one transaction with the caller's (on its psycopg connection).
    conn = session.connection().connection.driver_connection
    run_id, submission_id = conn.execute(queries.STORE_RUN_SQL, {
        "submission_id": submission.id if submission is not None else None,
        "project_code": meta.project_code, "name": meta.name, "applicant": meta.applicant,
        "proposed_use": meta.proposed_use, "project_type": meta.project_type,
        "declared_area_m2": meta.declared_area_m2, "source_name": site.source_name,
        "source_sha256": site.source_sha256, "area_m2": area, "geom": shapely.to_wkb(site.geom),
        "srid": srid, "actor": actor or audit.current_actor(), "as_of": as_of,
        "owner_id": owner_id, "organisation": organisation,
        "rerun_of": rerun.id if rerun else None, "verdict": verdict, "rule_set": rule_set,
        "params": json.dumps(params), "versions": json.dumps(versions),
        "result": result.model_dump_json(), "duration_ms": result.duration_ms,
        "findings": json.dumps(rows, ensure_ascii=False),
    }).fetchone()
    result.run_id, result.submission_id = run_id, submission_id
    return result


def _layer_finding(lyr: LayerRow, site: Site, area: float, lh: LayerHits, hits: dict[int, LayerHits],
                   by_ref: dict[str, LayerRow], names: dict[tuple[str, str], str], rb: RuleBook,
                   meta: ProjectMeta, params: dict[str, float]) -> LayerFinding:
    reference = lyr.plan_status == "superseded"
    wholly_inside = False
    classes: list[ClassFinding] = []
    kept: list[ClassHits] = []
    for ch in sorted(lh.classes, key=lambda c: -c.area):
        a = ch.area
        if a <= EPS:
            continue
        # The pieces lie inside the site, so the site is wholly inside the class exactly when the
        # class covers the site's whole area (overlaps are already merged in ch.area).
        inside_all = a >= area - max(EPS, area * 1e-9)
        wholly_inside = wholly_inside or inside_all
        sliver = not inside_all and _is_sliver(ch, params)
        rule = None if reference else rb.match(lyr.theme, "inside", meta.project_type, ch.code, ch.raw)
        sev = "reference" if reference else (rule.severity if rule else "none")
        classes.append(ClassFinding(
            class_code=ch.code, class_raw=ch.raw, class_name=names.get((lyr.class_scheme or "", ch.code or "")),
            area_m2=round(a, 2), area_ha=_ha(a), share=round(a / area, 6), features=ch.features,
            severity=sev if not sliver else "none", rule=rule_ref(rule), sliver=sliver))  # type: ignore[arg-type]
        if not sliver:
            kept.append(ch)
    hit_area = lh.area_of(kept)
    coverage_area, note = _coverage(lyr, site, area, hits, by_ref)
    outside = max(0.0, coverage_area - hit_area)
    if not reference and outside > params["sliver_min_area_m2"]:
        rule = rb.match(lyr.theme, "outside", meta.project_type)
        if rule is not None:
            classes.append(ClassFinding(
                class_code=None, class_raw="边界外 outside", area_m2=round(outside, 2), area_ha=_ha(outside),
                share=round(outside / area, 6), features=0, severity=rule.severity,  # type: ignore[arg-type]
                rule=rule_ref(rule), part="outside"))
    counted = [c for c in classes if not c.sliver]
    severity = max((c.severity for c in counted), key=lambda s: SEVERITY_RANK[s], default="none")
    if hit_area > EPS or any(c.part == "outside" for c in counted):
        state = "applies"
    elif coverage_area < area * (1 - 1e-6) - EPS:
        state = "no_data"
    else:
        state = "does_not_apply"
    covered = min(1.0, coverage_area / area) if area else 0.0
    rules = []
    seen = set()
    for c in counted:
        if c.rule and c.rule.key not in seen:
            seen.add(c.rule.key)
            rules.append(c.rule)
    return LayerFinding(
        layer_id=lyr.layer_id, ref=lyr.ref, title=lyr.title or lyr.name, plan_name=lyr.plan_name,
        plan_status=lyr.plan_status, theme=lyr.theme, version=lyr.version, version_id=lyr.version_id,
        source_sha256=lyr.source_sha256, loaded_at=lyr.loaded_at, state=state,  # type: ignore[arg-type]
        area_m2=round(hit_area, 2), area_ha=_ha(hit_area), share=round(hit_area / area, 6),
        covered_share=round(covered, 6), severity=severity, classes=classes, rules=rules,  # type: ignore[arg-type]
        note_zh=note[0] if note else ("用地整体位于该图层范围内，无论面积大小均计入" if wholly_inside else None),
        note_en=note[1] if note else ("the site lies wholly inside; counted however small" if wholly_inside else None),
    )


def _coverage(lyr: LayerRow, site: Site, area: float, hits: dict[int, LayerHits],
              by_ref: dict[str, LayerRow]) -> tuple[float, tuple[str, str] | None]:
    """Area of the site inside the layer's coverage, and a note when coverage is partial."""
    mode = lyr.coverage or "extent"
    if mode == "features":
        covered = hits[lyr.version_id].area if lyr.version_id in hits else 0.0
    elif mode.startswith("layer:"):
        ref = by_ref.get(mode[len("layer:"):])
        if ref is None:
            return 0.0, ("覆盖范围图层未载入，无法判断", "the coverage layer is not loaded; cannot tell")
        covered = hits[ref.version_id].area if ref.version_id in hits else 0.0
    else:
        if lyr.extent is None:
            return 0.0, ("该版本无范围信息", "this version has no extent")
        covered = float(site.geom.intersection(shapely.from_wkb(lyr.extent)).area)
    covered = min(covered, area)
    if covered < area * (1 - 1e-6) - EPS:
        share = 1 - covered / area
        return covered, (f"用地有 {share:.1%} 位于该图层数据范围之外（无数据）",
                         f"{share:.1%} of the site lies outside this layer's coverage (no data)")
    return covered, None


_CHECK_POOL: dict[int, ThreadPoolExecutor] = {}  # by process id: threads do not survive a fork
_CHECK_POOL_LOCK = threading.Lock()


def _check_pool() -> ThreadPoolExecutor:
    """Threads that read half of the layers while a check's own thread reads the other half."""
    pid = os.getpid()
    with _CHECK_POOL_LOCK:
        pool = _CHECK_POOL.get(pid)
        if pool is None:
            _CHECK_POOL.clear()
            pool = _CHECK_POOL[pid] = ThreadPoolExecutor(4, thread_name_prefix="gisplat-check")
        return pool


def _known_overlaps(session: Session, layers: list[LayerRow], srid: int) -> dict[int, dict[int, np.ndarray]]:
    """The checked internal overlaps of the layers that have them checked; the others are
    checked in the background (this check tests its pieces itself)."""
    known: dict[int, dict[int, np.ndarray]] = {}
    engine = session.get_bind()
    for lyr in layers:
        if lyr.overlap_pairs is None:
            check_in_background(engine, lyr.version_id, srid)  # type: ignore[arg-type]
        else:
            known[lyr.version_id] = {} if lyr.overlap_pairs == 0 else overlap_partners(
                session.connection().connection.driver_connection, url_key(engine), lyr.version_id)
    return known


def _density(lyr: LayerRow) -> float:
    """Features per km² of the layer's extent: how much of a check's work the layer is likely
    to take (an estimate, used only to share the layers between two connections)."""
    extent_km2 = shapely.from_wkb(lyr.extent).area / 1e6 if lyr.extent is not None else 0.0
    return lyr.feature_count / max(extent_km2, 1.0)


def _slope(settings: Settings, site: Site, layers: list[LayerRow], rb: RuleBook,
           meta: ProjectMeta) -> SlopeFinding:
    rule = rb.match("slope", "above", meta.project_type)
    threshold = float((rule.params or {}).get("threshold_deg", 25.0)) if rule else 25.0
    min_share = float((rule.params or {}).get("min_share", 0.0)) if rule else 0.0
    dem = next((lyr for lyr in layers if lyr.theme == "dem" and lyr.raster_path), None)
    if dem is None:
        return SlopeFinding(layer_ref=None, state="no_data", threshold_deg=threshold)
    stats = slope_stats(settings.raster_dir / dem.raster_path, site.geom, threshold)  # type: ignore[operator]
    if stats.mean_deg is None:
        return SlopeFinding(layer_ref=dem.ref, version_id=dem.version_id, state="no_data", threshold_deg=threshold)
    flagged = rule is not None and stats.share_above > min_share
    return SlopeFinding(
        layer_ref=dem.ref, version_id=dem.version_id,
        state="applies" if stats.share_above > 0 else "does_not_apply", threshold_deg=threshold,
        share_above=round(stats.share_above, 6), area_above_m2=round(stats.area_above_m2, 2),
        mean_deg=round(stats.mean_deg, 2), max_deg=round(stats.max_deg or 0.0, 2),
        severity=rule.severity if flagged and rule else "none",  # type: ignore[arg-type]
        rule=rule_ref(rule) if flagged else None)


def _use(site: Site, area: float, vector: list[LayerRow], hits: dict[int, LayerHits], rb: RuleBook,
         meta: ProjectMeta, params: dict[str, float]) -> UseFinding:
    planned = [lyr for lyr in vector if lyr.theme == "planned_land_use" and lyr.plan_status == "active"]
    if not meta.proposed_use:
        return UseFinding(proposed_use=None, state="no_data")
    if not planned:
        return UseFinding(proposed_use=meta.proposed_use, state="no_data")
    ok_area = bad_area = 0.0
    bad_codes: set[str] = set()
    for lyr in planned:
        lh = hits.get(lyr.version_id, LayerHits())
        ok, bad = [], []
        for ch in lh.classes:
            if ch.area <= EPS or _is_sliver(ch, params):
                continue
            if ch.code and rb.compatible(meta.proposed_use, ch.code):
                ok.append(ch)
            else:
                bad.append(ch)
                bad_codes.add(ch.code or f"({ch.raw})")
        ok_area += lh.area_of(ok)
        bad_area += lh.area_of(bad)
    rule = rb.match("planned_land_use", "incompatible", meta.project_type) if bad_area > EPS else None
    state = "applies" if bad_area > EPS else ("does_not_apply" if ok_area >= area * (1 - 1e-6) else "no_data")
    return UseFinding(
        proposed_use=meta.proposed_use, state=state, compatible_area_m2=round(ok_area, 2),  # type: ignore[arg-type]
        incompatible_area_m2=round(bad_area, 2), incompatible_share=round(bad_area / area, 6),
        incompatible_classes=sorted(bad_codes), severity=rule.severity if rule else "none",  # type: ignore[arg-type]
        rule=rule_ref(rule))


def _area(site: Site, settings: Settings, rb: RuleBook, meta: ProjectMeta) -> AreaCheck:
    rule = rb.match("declared_area", "differs", meta.project_type)
    threshold = float((rule.params or {}).get("threshold", 0.01)) if rule else 0.01
    lonlat = reproject_epsg(np.array([site.geom]), settings.store_srid, 4490)[0]
    ellipsoidal = abs(GEOD.geometry_area_perimeter(lonlat)[0])
    declared = meta.declared_area_m2 if meta.declared_area_m2 is not None else site.declared_area_m2
    diff = abs(site.area_m2 - declared) / declared if declared else None
    return AreaCheck(
        plane_area_m2=round(site.area_m2, 2), plane_area_ha=_ha(site.area_m2),
        ellipsoidal_area_m2=round(ellipsoidal, 2), declared_area_m2=declared,
        difference_share=round(diff, 6) if diff is not None else None,
        flagged=diff is not None and diff > threshold, threshold=threshold)


def _verdict(findings: list[LayerFinding], slope: SlopeFinding, use: UseFinding, area: AreaCheck,
             rb: RuleBook, meta: ProjectMeta) -> tuple[str, list[Reason]]:
    reasons: list[Reason] = []
    required = rb.themes()
    for f in findings:
        for c in f.classes:
            if c.sliver or c.severity not in ("forbidden", "needs_approval", "notice"):
                continue
            what = c.class_name or c.class_raw or c.class_code or ""
            reasons.append(Reason(
                severity=c.severity,
                zh=f"{f.title}{('（' + what + '）') if what else ''}：{c.area_m2:,.2f} m²（{c.share:.2%}）——{c.rule.message_zh if c.rule else ''}",
                en=f"{f.title}{(' (' + what + ')') if what else ''}: {c.area_m2:,.2f} m² ({c.share:.2%}) — {c.rule.message_en if c.rule else ''}"))
        if f.state == "no_data" and f.theme in required and f.plan_status != "superseded":
            reasons.append(Reason(severity="needs_approval",
                                  zh=f"{f.title}：无数据（{f.note_zh or '数据未覆盖用地'}），须相关部门确认",
                                  en=f"{f.title}: no data ({f.note_en or 'not covered'}); the department must confirm"))
        elif f.covered_share < 1 - 1e-6 and f.state == "applies" and f.theme in required:
            reasons.append(Reason(severity="needs_approval",
                                  zh=f"{f.title}：用地 {1 - f.covered_share:.1%} 无数据，须相关部门确认",
                                  en=f"{f.title}: {1 - f.covered_share:.1%} of the site has no data; the department must confirm"))
    if slope.rule is not None:
        reasons.append(Reason(severity=slope.severity, zh=f"坡度：{slope.share_above:.1%} 的用地坡度大于 {slope.threshold_deg:g}°——{slope.rule.message_zh}",
                              en=f"slope: {slope.share_above:.1%} of the site is steeper than {slope.threshold_deg:g}° — {slope.rule.message_en}"))
    elif slope.state == "no_data" and "slope" in {r.theme for r in rb.rules}:
        reasons.append(Reason(severity="needs_approval", zh="坡度：无高程数据，须核实", en="slope: no elevation data; to be verified"))
    if use.rule is not None:
        reasons.append(Reason(severity=use.severity, zh=f"规划用途：{use.incompatible_area_m2:,.2f} m²（{use.incompatible_share:.2%}）与拟用地性质 {use.proposed_use} 不符——{use.rule.message_zh}",
                              en=f"planned use: {use.incompatible_area_m2:,.2f} m² ({use.incompatible_share:.2%}) does not fit the proposed use {use.proposed_use} — {use.rule.message_en}"))
    if area.flagged:
        rule = rb.match("declared_area", "differs", meta.project_type)
        reasons.append(Reason(severity=rule.severity if rule else "notice",  # type: ignore[arg-type]
                              zh=f"申报面积 {area.declared_area_m2:,.2f} m² 与计算面积 {area.plane_area_m2:,.2f} m² 相差 {area.difference_share:.2%}",
                              en=f"declared area {area.declared_area_m2:,.2f} m² differs from the computed {area.plane_area_m2:,.2f} m² by {area.difference_share:.2%}"))
    reasons.sort(key=lambda r: -SEVERITY_RANK[r.severity])
    if any(r.severity == "forbidden" for r in reasons):
        return "fail", reasons
    if any(r.severity == "needs_approval" for r in reasons):
        return "conditional", reasons
    return "pass", reasons


def _finding_rows(run_id: int, findings: list[LayerFinding], slope: SlopeFinding,
                  use: UseFinding) -> list[dict[str, Any]]:
    """One row per layer class (or per layer without classes), plus slope and use when flagged."""
    rows: list[dict[str, Any]] = []

    def add(**kw: Any) -> None:
        rows.append({"run_id": run_id, "finding_no": len(rows) + 1, "layer_id": None, "version_id": None,
                     "class_code": None, "class_raw": None, "rule_key": None, "department": None, **kw})

    for f in findings:
        for c in f.classes or [None]:
            add(layer_id=f.layer_id, version_id=f.version_id, theme=f.theme,
                class_code=c.class_code if c else None, class_raw=c.class_raw if c else None,
                state=f.state, area_m2=c.area_m2 if c else f.area_m2, share=c.share if c else f.share,
                severity=c.severity if c else f.severity, rule_key=c.rule.key if c and c.rule else None,
                department=c.rule.department if c and c.rule else None)
    if slope.rule is not None:
        add(version_id=slope.version_id, theme="slope", state=slope.state, area_m2=slope.area_above_m2,
            share=slope.share_above, severity=slope.severity, rule_key=slope.rule.key,
            department=slope.rule.department)
    if use.rule is not None:
        add(theme="planned_land_use", state=use.state, area_m2=use.incompatible_area_m2,
            share=use.incompatible_share, severity=use.severity, rule_key=use.rule.key,
            department=use.rule.department)
    return rows


def get_run(session: Session, run_id: int) -> CheckRun:
    """One stored run, or NotFoundError."""
    run = session.execute(queries.run_by_id(run_id)).scalar_one_or_none()
    if run is None:
        raise NotFoundError(f"没有检查记录 {run_id}", f"no check run {run_id}")
    return run


def rerun_check(session: Session, settings: Settings, run_id: int, actor: str | None = None) -> CheckResult:
    """Re-run a stored check with the same layer versions, parameters and rules."""
    run = get_run(session, run_id)
    sub = session.execute(queries.submission_by_id(run.submission_id)).scalar_one()
    wkb = session.execute(queries.SUBMISSION_GEOM, {"id": sub.id}).scalar_one()
    geom = shapely.from_wkb(bytes(wkb))
    site = Site(geom, sub.source_name, sub.source_sha256, None)
    meta = ProjectMeta.model_validate(run.result["meta"])
    return run_check(session, settings, site, meta, rerun=run, submission=sub, actor=actor)
