"""Use cases of 多测合一: submit a package (checked, versioned, never overwritten), accept it and
share it with departments, return it, read it as a given reader, and reuse an accepted result.

Each function works inside the caller's transaction (one transaction per operation). A package
that cannot be opened is refused with nothing stored; a package whose checks fail is stored
with its report and status ``failed`` and publishes nothing.

Access goes through a :class:`Reader` (the bureau, a firm or a department). Until sign-in exists
everywhere the CLI and API take it as an argument; an auth layer maps its user (role + firm or
department) to a Reader with :meth:`Reader.of_user`.
"""

from __future__ import annotations

import datetime as dt
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS
from sqlalchemy.orm import Session

from conflict_checks.precheck import run_check
from conflict_checks.schemas import ProjectMeta
from conflict_checks.site import Site
from gis_platform.core import audit
from gis_platform.core.errors import (
    ConflictError,
    ForbiddenError,
    InputError,
    NotFoundError,
    PlatformError,
)
from gis_platform.core.files import keep_by_sha256
from gis_platform.core.settings import Settings

from . import queries
from .checks import Finding, PackageReport, check_package
from .manifest import Item, load_manifest, load_tolerances
from .package import Package, open_package

OPEN_STATUSES = ("submitted", "passed", "failed", "returned")
LIST_LIMIT = 500


@dataclass(frozen=True)
class Reader:
    """Who reads: ``bureau`` (everything), ``firm`` NAME (its own packages and accepted results)
    or ``department`` KEY (accepted results shared with it)."""

    kind: str
    name: str | None = None

    @classmethod
    def parse(cls, value: str | None) -> Reader:
        """``bureau``, ``firm:NAME`` or ``department:KEY`` (None means the bureau)."""
        v = (value or "bureau").strip()
        if v == "bureau":
            return cls("bureau")
        kind, _, name = v.partition(":")
        if kind not in ("firm", "department") or not name.strip():
            raise InputError(f"读者“{value}”无效；应为 bureau、firm:单位名称 或 department:部门代码",
                             f"reader was '{value}' but is expected to be bureau, firm:NAME or department:KEY")
        if kind == "department":
            return cls(kind, load_manifest().department(name))
        return cls(kind, name.strip())

    @classmethod
    def of_user(cls, role: str, *, firm: str | None = None, department: str | None = None) -> Reader:
        """The reader of a signed-in user (admin and bureau read everything)."""
        if role in ("admin", "bureau"):
            return cls("bureau")
        if role == "firm" and firm:
            return cls("firm", firm)
        if role == "department" and department:
            return cls("department", department)
        return cls("nobody")

    def params(self) -> dict[str, str | None]:
        """Bind parameters of the readable-package condition."""
        return {"reader_kind": self.kind, "reader_name": self.name}

    def label(self) -> str:
        """For messages."""
        return self.kind if self.name is None else f"{self.kind}:{self.name}"


# --------------------------------------------------------------------------------------- submit


def _text(value: str | None, what_zh: str, what_en: str, *, required: bool, limit: int = 300) -> str | None:
    v = (value or "").strip()
    if required and not v:
        raise InputError(f"请填写{what_zh}", f"{what_en} is required")
    if len(v) > limit:
        raise InputError(f"{what_zh}不能超过 {limit} 个字符", f"{what_en} must be at most {limit} characters")
    return v or None


def surveys_dir(settings: Settings) -> Path:
    """Where package files are kept, content-addressed by sha256."""
    return settings.home_abs / "surveys"


def _keep_file(src: Path, sha: str, settings: Settings) -> str:
    """Copy a file to GISPLAT_HOME/surveys/<sha256> (once); return the stored relative path."""
    return keep_by_sha256(src, surveys_dir(settings), sha).name


def _features_geom(session: Session, package_id: int, *, file_no: int | None = None,
                   roles: list[str] | None = None) -> list[Any]:
    return list(session.execute(queries.FEATURES_OF, {"id": package_id, "file_no": file_no, "roles": roles}))


def _as_multipolygon(geoms: list[shapely.Geometry]) -> shapely.MultiPolygon:
    """The same merge as a pre-check site read from a file (conflict_checks.site)."""
    merged = shapely.union_all(geoms) if len(geoms) > 1 else geoms[0]
    return shapely.MultiPolygon([p for p in shapely.get_parts(merged) if p.geom_type == "Polygon"])


def _approved_site(session: Session, project_code: str) -> tuple[shapely.Geometry | None, str | None]:
    """The site of the project's newest accepted boundary result (勘测定界/地籍调查), if any."""
    items = [i.key for i in load_manifest().items.values() if i.boundary]
    row = session.execute(queries.ACCEPTED_BOUNDARY, {"code": project_code, "items": items}).one_or_none()
    if row is None:
        return None, None
    feats = _features_geom(session, row.id, file_no=row.site_file_no)
    if not feats:
        return None, None
    geom = _as_multipolygon([shapely.from_wkb(bytes(f.wkb)) for f in feats])
    return geom, f"survey package #{row.id} ({row.item} v{row.version})"


def _plan_indicators(session: Session, settings: Settings, site: shapely.Geometry | None) -> dict[str, float]:
    """Approved indicators from the 控规 parcel under most of the site (fields as data)."""
    if site is None:
        return {}
    row = session.execute(queries.PLAN_INDICATORS, {"geom": shapely.to_wkb(site), "srid": settings.store_srid}).one_or_none()
    if row is None:
        return {}
    out: dict[str, float] = {}
    for key, spec in load_tolerances()["verification"]["indicators"].items():
        for fld in spec["plan_fields"]:
            value = (row.properties or {}).get(fld)
            try:
                out[key] = float(value)
                break
            except (TypeError, ValueError):
                continue
    return out


def _control_lines(session: Session, settings: Settings, rep: PackageReport, project_code: str, item: Item,
                   firm: str, actor: str) -> int | None:
    """Overlap with the control lines through the pre-check engine; the stored run's id."""
    if rep.site_file_no is None:
        return None
    feats = [f for f in rep.features if f.file_no == rep.site_file_no]
    site = Site(_as_multipolygon([f.geom for f in feats]), feats[0].source, None)
    meta = ProjectMeta(project_code=project_code, name=f"多测合一 {item.name_zh}", applicant=firm)
    result = run_check(session, settings, site, meta, actor=actor)
    hits = [f for f in result.layers if f.state == "applies" and f.severity in ("forbidden", "needs_approval")]
    status = load_tolerances()["control_lines"][f"on_{result.verdict}"]
    reasons_zh = "；".join(r.zh for r in result.reasons[:5])
    reasons_en = "; ".join(r.en for r in result.reasons[:5])
    rep.add("control_lines", status,
            f"控制线与管控要求预检（检查记录 {result.run_id}）：{'、'.join(h.title for h in hits) or '未压占控制线'}"
            + (f"。{reasons_zh}" if reasons_zh else ""),
            f"control lines through the pre-check (run {result.run_id}): "
            f"{', '.join(h.title for h in hits) or 'no control line overlapped'}" + (f". {reasons_en}" if reasons_en else ""),
            file=feats[0].source,
            figures={"run_id": result.run_id, "verdict": result.verdict,
                     "overlaps": [{"ref": h.ref, "area_m2": h.area_m2, "share": h.share, "severity": h.severity}
                                  for h in hits]})
    return result.run_id


def submit_package(
    session: Session, settings: Settings, path: Path, *, project_code: str, stage: str, item: str, firm: str,
    surveyor: str | None = None, client: str | None = None, project_name: str | None = None,
    actor: str | None = None, display_name: str | None = None,
) -> dict[str, Any]:
    """Check a package and store it as the next version of project code + stage + item.

    Returns the stored package (with its check report). Raises a PlatformError, storing
    nothing, when the arguments are wrong or the package cannot be opened safely.
    """
    manifest = load_manifest()
    code = _text(project_code, "项目代码", "project code", required=True, limit=100)
    stage_key = manifest.stage(stage)
    it = manifest.item(item, stage_key)
    firm_name = _text(firm, "测绘单位", "surveying firm", required=True)
    surveyor = _text(surveyor, "测绘人员", "surveyor", required=False)
    actor = actor or audit.current_actor()
    display = display_name or path.name
    tolerances = load_tolerances()
    with tempfile.TemporaryDirectory(prefix="gisplat-package-") as tmp:
        package = open_package(path, it, settings.limits, Path(tmp), display)
        assert code is not None and firm_name is not None
        session.execute(queries.LOCK_KEY, {"key": f"survey:{code}:{stage_key}:{it.key}"})
        project = session.execute(queries.PROJECT_BY_CODE, {"code": code, "stage": stage_key}).one_or_none()
        if project is not None and project.firm != firm_name:
            raise ConflictError(
                f"项目 {code} 的“{manifest.stages[stage_key][0]}”阶段已委托给 {project.firm}，{firm_name} 不能提交",
                f"the '{stage_key}' stage of project {code} is commissioned to {project.firm}; "
                f"{firm_name} cannot submit to it")
        approved_site, site_source = (None, None) if it.boundary else _approved_site(session, code)
        indicators = _plan_indicators(session, settings, approved_site) if it.verification else {}
        rep = check_package(package, it, settings, tolerances, approved_site=approved_site,
                            approved_site_source=site_source, plan_indicators=indicators)
        run_id = _control_lines(session, settings, rep, code, it, firm_name, actor)
        if project is None:
            project_id = session.execute(queries.INSERT_PROJECT, {
                "code": code, "stage": stage_key, "client": _text(client, "委托方", "client", required=False)
                or package.metadata.get("client"), "firm": firm_name,
                "name": project_name or package.metadata.get("name"), "actor": actor}).scalar_one()
        else:
            project_id = project.id
        previous = list(session.execute(queries.VERSIONS_OF, {"code": code, "stage": stage_key, "item": it.key}))
        version = (previous[0].version + 1) if previous else 1
        report = {**rep.as_dict(), "site_file_no": rep.site_file_no, "item": it.key, "stage": stage_key}
        pid, _ = session.execute(queries.INSERT_PACKAGE, {
            "project_id": project_id, "code": code, "stage": stage_key, "item": it.key, "version": version,
            "firm": firm_name, "surveyor": surveyor, "actor": actor, "source_name": display,
            "source_sha256": package.sha256, "supersedes_id": previous[0].id if previous else None,
            "check_status": rep.status, "precheck_run_id": run_id, "metadata": _json_safe(package.metadata),
            "report": report}).one()
        _store_files(session, settings, pid, package)
        _store_features(session, settings, pid, rep)
    session.execute(queries.INSERT_EVENT, {"package_id": pid, "status": "submitted", "actor": actor,
                                           "reason": None, "details": {"version": version}})
    session.execute(queries.INSERT_EVENT, {"package_id": pid, "status": rep.status, "actor": "platform",
                                           "reason": None, "details": report["counts"]})
    for p in previous:
        if p.status in OPEN_STATUSES:
            session.execute(queries.INSERT_EVENT, {"package_id": p.id, "status": "superseded", "actor": actor,
                                                   "reason": f"resubmitted as version {version}",
                                                   "details": {"superseded_by": pid}})
    audit.record(session, "survey.submit", f"{code}/{stage_key}/{it.key}@{version}", actor=actor,
                 package_id=pid, firm=firm_name, status=rep.status, sha256=package.sha256)
    return get_package(session, pid, Reader("bureau"))


def _json_safe(obj: Any) -> Any:
    return json.loads(json.dumps(obj, ensure_ascii=False, default=str))


def _store_files(session: Session, settings: Settings, package_id: int, package: Package) -> None:
    for f in package.all_files():
        stored = _keep_file(f.path, f.sha256, settings)
        session.execute(queries.INSERT_FILE, {"package_id": package_id, "file_no": f.no, "name": f.name,
                                              "kind": f.kind, "slot": f.slot.slot if f.slot else None,
                                              "sha256": f.sha256, "size_bytes": f.size, "stored_path": stored})


def _store_features(session: Session, settings: Settings, package_id: int, rep: PackageReport) -> None:
    rows = [{"package_id": package_id, "file_no": sf.file_no, "feature_no": sf.feature_no, "label": sf.label,
             "role": sf.role, "properties": _json_safe(sf.properties), "wkb": shapely.to_wkb(sf.geom),
             "srid": settings.store_srid} for sf in rep.features]
    if rows:
        session.execute(queries.INSERT_FEATURE, rows)


# --------------------------------------------------------------------------------------- read


def _public(row: Any, *, full: bool) -> dict[str, Any]:
    manifest = load_manifest()
    it = manifest.items.get(row.item)
    st = manifest.stages.get(row.stage, (row.stage, row.stage))
    out = {
        "id": row.id, "project_code": row.project_code, "project_name": row.project_name, "client": row.client,
        "stage": row.stage, "stage_zh": st[0], "stage_en": st[1], "item": row.item,
        "item_zh": it.name_zh if it else row.item, "item_en": it.name_en if it else row.item,
        "version": row.version, "firm": row.firm, "surveyor": row.surveyor, "submitted_by": row.submitted_by,
        "submitted_at": row.submitted_at, "source_name": row.source_name, "source_sha256": row.source_sha256,
        "supersedes_id": row.supersedes_id, "superseded_by": row.superseded_by, "status": row.status,
        "status_at": row.status_at, "check_status": row.check_status, "accepted_by": row.accepted_by,
        "accepted_at": row.accepted_at, "precheck_run_id": row.precheck_run_id,
        "shared_with": list(row.shared_with or []),
    }
    if full:
        out["metadata"] = row.metadata
        out["report"] = row.report
    return out


def _readable(row: Any, reader: Reader) -> bool:
    if reader.kind == "bureau":
        return True
    if reader.kind == "firm":
        return bool(row.firm == reader.name or row.status == "accepted")
    if reader.kind == "department":
        return bool(row.status == "accepted" and reader.name in (row.shared_with or []))
    return False


def get_package(session: Session, package_id: int, reader: Reader) -> dict[str, Any]:
    """One package with its report, files and status history, if ``reader`` may read it."""
    row = session.execute(queries.PACKAGE_BY_ID, {"id": package_id}).one_or_none()
    if row is None:
        raise NotFoundError(f"没有测绘成果包 {package_id}", f"no survey package {package_id}")
    if not _readable(row, reader):
        # Answered as if it did not exist: a reader must not learn of packages it may not read.
        raise NotFoundError(f"没有测绘成果包 {package_id}", f"no survey package {package_id}")
    out = _public(row, full=True)
    out["files"] = [{k: getattr(f, k) for k in ("file_no", "name", "kind", "slot", "sha256", "size_bytes")}
                    for f in session.execute(queries.FILES_OF, {"id": package_id})]
    out["history"] = [{"status": e.status, "actor": e.actor, "at": e.at, "reason": e.reason, "details": e.details}
                      for e in session.execute(queries.EVENTS_OF, {"id": package_id})]
    return out


def list_packages(session: Session, reader: Reader, *, project_code: str | None = None, status: str | None = None,
                  firm: str | None = None, limit: int = LIST_LIMIT) -> list[dict[str, Any]]:
    """Packages ``reader`` may read, newest version first within project, stage and item."""
    rows = session.execute(queries.LIST_PACKAGES, {**reader.params(), "code": project_code or None,
                                                   "status": status or None, "firm": firm or None, "limit": limit})
    return [_public(r, full=False) for r in rows]


def shared_results(session: Session, department: str, *, limit: int = LIST_LIMIT) -> list[dict[str, Any]]:
    """The accepted results shared with a department (each in its one accepted version)."""
    dept = load_manifest().department(department)
    return [_public(r, full=False) for r in session.execute(queries.SHARED_WITH, {"department": dept, "limit": limit})]


def package_geojson(session: Session, settings: Settings, package_id: int, reader: Reader) -> dict[str, Any]:
    """The package's features as a GeoJSON FeatureCollection in lon/lat (for maps)."""
    from gis_platform.core.crs import reproject

    get_package(session, package_id, reader)
    rows = _features_geom(session, package_id)
    geoms = np.array([shapely.from_wkb(bytes(r.wkb)) for r in rows], dtype=object)
    lonlat = reproject(geoms, CRS.from_epsg(settings.store_srid), CRS.from_epsg(4326)) if len(geoms) else geoms
    return {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": shapely.geometry.mapping(g),
         "properties": {"file": r.file_name, "feature": r.label, "role": r.role, "area_m2": round(float(s.area), 2)}}
        for r, g, s in zip(rows, lonlat, geoms)]}


# --------------------------------------------------------------------------------------- decide


def _require_bureau(reader: Reader, what_zh: str, what_en: str) -> None:
    if not (reader.kind == "bureau" or (reader.kind == "department" and reader.name == "planning")):
        raise ForbiddenError(f"只有规划主管部门可以{what_zh}", f"only the planning bureau may {what_en}")


def accept_package(session: Session, settings: Settings, package_id: int, *, reader: Reader | None = None,
                   departments: list[str] | None = None, publish: bool = True,
                   actor: str | None = None) -> dict[str, Any]:
    """Accept a package that passed its checks: publish it once and share it.

    The earlier accepted version of the same project, stage and item (if any) becomes
    superseded. ``departments`` default to the item's share list in the manifest. When the item
    publishes to a one-map layer (``publish`` in the manifest) and ``publish`` is true, its
    footprints become a new version of that layer.
    """
    reader = reader or Reader("bureau")
    _require_bureau(reader, "验收成果", "accept a result")
    actor = actor or audit.current_actor()
    manifest = load_manifest()
    session.execute(queries.LOCK_KEY, {"key": f"survey-package:{package_id}"})
    pkg = get_package(session, package_id, Reader("bureau"))
    if pkg["status"] != "passed":
        raise ConflictError(f"成果包 {package_id} 当前状态为“{pkg['status']}”，只有检查通过（passed）的成果可以验收",
                            f"survey package {package_id} is '{pkg['status']}'; only a package that passed its "
                            "checks can be accepted")
    it = manifest.items[pkg["item"]]
    depts = [manifest.department(d) for d in (departments if departments else list(it.share))]
    details: dict[str, Any] = {"shared_with": depts}
    if publish and it.publish:
        published = publish_footprints(session, settings, package_id, it.publish, actor=actor)
        if published is not None:
            details["published"] = published
    session.execute(queries.INSERT_EVENT, {"package_id": package_id, "status": "accepted", "actor": actor,
                                           "reason": None, "details": details})
    for d in depts:
        session.execute(queries.INSERT_SHARE, {"package_id": package_id, "department": d, "actor": actor})
    for p in session.execute(queries.VERSIONS_OF, {"code": pkg["project_code"], "stage": pkg["stage"],
                                                   "item": pkg["item"]}).all():
        if p.id != package_id and p.status == "accepted":
            session.execute(queries.INSERT_EVENT, {"package_id": p.id, "status": "superseded", "actor": actor,
                                                   "reason": f"version {pkg['version']} accepted",
                                                   "details": {"superseded_by": package_id}})
    audit.record(session, "survey.accept", f"package:{package_id}", actor=actor, **details)
    return get_package(session, package_id, Reader("bureau"))


def return_package(session: Session, package_id: int, *, reason: str, reader: Reader | None = None,
                   actor: str | None = None) -> dict[str, Any]:
    """Return a package to its firm with a reason (it stays stored; nothing is published)."""
    reader = reader or Reader("bureau")
    _require_bureau(reader, "退回成果", "return a result")
    why = _text(reason, "退回理由", "reason", required=True, limit=2000)
    actor = actor or audit.current_actor()
    session.execute(queries.LOCK_KEY, {"key": f"survey-package:{package_id}"})
    pkg = get_package(session, package_id, Reader("bureau"))
    if pkg["status"] not in ("passed", "failed", "submitted"):
        raise ConflictError(f"成果包 {package_id} 当前状态为“{pkg['status']}”，不能退回",
                            f"survey package {package_id} is '{pkg['status']}' and cannot be returned")
    session.execute(queries.INSERT_EVENT, {"package_id": package_id, "status": "returned", "actor": actor,
                                           "reason": why, "details": {}})
    audit.record(session, "survey.return", f"package:{package_id}", actor=actor, reason=why)
    return get_package(session, package_id, Reader("bureau"))


# --------------------------------------------------------------------------------------- reuse


def site_from_survey(session: Session, settings: Settings, package_id: int, reader: Reader | None = None) -> Site:
    """An accepted boundary result (勘测定界 …) as a pre-check site: the features of its site
    file, merged exactly as a pre-check of the same uploaded file would merge them."""
    pkg = get_package(session, package_id, reader or Reader("bureau"))
    if pkg["status"] != "accepted":
        raise ConflictError(f"成果包 {package_id} 尚未验收（{pkg['status']}），不能作为用地范围",
                            f"survey package {package_id} is not accepted ({pkg['status']}); it cannot be a site")
    file_no = pkg["report"].get("site_file_no")
    rows = _features_geom(session, package_id, file_no=file_no) if file_no else []
    if not rows:
        raise InputError(f"成果包 {package_id} 没有可作为用地范围的地块", f"survey package {package_id} holds no site parcels")
    geoms = [shapely.from_wkb(bytes(r.wkb)) for r in rows]
    dkmj = [r.properties.get("DKMJ") for r in rows if (r.properties or {}).get("DKMJ") is not None]
    declared = float(sum(float(v) for v in dkmj)) * 10_000 if dkmj and rows[0].file_name.lower().endswith(".txt") else None
    return Site(_as_multipolygon(geoms), rows[0].file_name, rows[0].file_sha256, declared,
                None, [])


def publish_footprints(session: Session, settings: Settings, package_id: int, target: str, *,
                       actor: str | None = None) -> dict[str, Any] | None:
    """Write the package's footprints into a one-map layer as a new version of it.

    The new version is the layer's newest version with the footprints cut out, plus the
    footprints (class code from their ``DLBM``/class field when given). Returns the layer
    reference and version, or None when the package has no footprints.
    """
    from layers.export import version_frame
    from plans.ingest import IngestRequest, ingest
    from plans.queries import layer_by_names, version_of

    rows = _features_geom(session, package_id, roles=["footprint"])
    if not rows:
        return None
    plan_code, _, layer_name = target.rpartition("/")
    fps = [shapely.from_wkb(bytes(r.wkb)) for r in rows]
    union = shapely.union_all(fps)
    layer = session.execute(layer_by_names(plan_code, layer_name)).scalar_one_or_none()
    class_field = (layer.class_field if layer is not None else None) or "DLBM"
    crs = CRS.from_epsg(settings.store_srid)
    parts = []
    if layer is not None:
        prev = session.execute(version_of(layer.id, None)).scalar_one_or_none()
        if prev is not None and prev.feature_count:
            old = version_frame(session, prev.id, settings.store_srid)
            cut = old.geometry.difference(union)
            keep = ~(cut.is_empty | (cut.area <= 0))
            old = old.loc[keep].copy()
            old = old.set_geometry(gpd.GeoSeries(
                [shapely.MultiPolygon([p for p in shapely.get_parts(g) if p.geom_type == "Polygon"])
                 for g in cut[keep]], index=old.index, crs=crs))
            parts.append(old)
    new = gpd.GeoDataFrame({
        "survey_package_id": [package_id] * len(rows), "survey_file": [r.file_name for r in rows],
        "survey_feature": [r.label for r in rows],
        class_field: [(r.properties or {}).get(class_field) or (r.properties or {}).get("DLBM") for r in rows],
    }, geometry=gpd.GeoSeries([shapely.MultiPolygon(list(shapely.get_parts(g))) for g in fps], crs=crs))
    parts.append(new)
    frame = gpd.GeoDataFrame(pd.concat(parts, ignore_index=True), geometry="geometry", crs=crs)
    with tempfile.TemporaryDirectory(prefix="gisplat-publish-") as tmp:
        out = Path(tmp) / f"survey-package-{package_id}.gpkg"
        frame.to_file(out, driver="GPKG", layer=layer_name)
        try:
            version = ingest(session, settings, IngestRequest(
                path=out, plan=plan_code, layer=layer_name, plan_kind="survey", theme=None,
                title="竣工基底（多测合一）" if layer is None else None, actor=actor,
                display_name=out.name))
        except PlatformError as exc:
            raise ConflictError("成果发布到一张图图层失败：" + exc.message("zh"),
                                "publishing the result to the one-map layer failed: " + exc.message("en")) from None
    return {"layer": target, "version": version.version, "version_id": version.id,
            "features": version.feature_count, "published_at": dt.datetime.now(dt.UTC).isoformat()}


def finding_counts(report: dict[str, Any]) -> dict[str, int]:
    """pass / warning / fail counts of a stored report."""
    return dict(report.get("counts") or {})


__all__ = [
    "Finding",
    "Reader",
    "accept_package",
    "get_package",
    "list_packages",
    "publish_footprints",
    "return_package",
    "shared_results",
    "site_from_survey",
    "submit_package",
]
