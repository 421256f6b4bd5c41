"""Reading conflict runs and working on their patches: the resolution workflow.

Each patch's status lives in an append-only history (``conflict_resolutions``): every change
is a new row with who, when and why; the newest row is the current state, and a patch with
no row is open. Bulk assignment writes one row per patch it selects.
"""

from __future__ import annotations

from typing import Any

import shapely
from sqlalchemy.orm import Session

from gis_platform.core import audit
from gis_platform.core.errors import ForbiddenError, InputError, NotFoundError

from . import queries
from .conflict_profiles import profile_book

STATUSES = {
    "open": ("待处理", "open"),
    "amend_a": ("修改A方规划解决", "resolved by amending plan A"),
    "amend_b": ("修改B方规划解决", "resolved by amending plan B"),
    "accepted": ("保留现状（认可）", "accepted as is"),
    "deferred": ("暂缓处理", "deferred"),
}


def get_run(session: Session, run_id: int) -> dict[str, Any]:
    """A run with its parameters, versions and summary (category names filled in)."""
    row = session.execute(queries.RUN_ROW, {"id": run_id}).mappings().one_or_none()
    if row is None:
        raise NotFoundError(f"没有差异分析 {run_id}", f"no conflict run {run_id}")
    run = dict(row)
    book = profile_book()
    prof = book.profiles.get(run["profile"])
    labels = side_labels(prof, run["summary"])
    for c in run["summary"]["by_category"]:
        c["name_zh"], c["name_en"] = category_name(c["category"], labels)
        if c["subtype"]:
            st = book.subtypes.get(c["subtype"], {})
            c["subtype_zh"], c["subtype_en"] = st.get("zh", c["subtype"]), st.get("en", c["subtype"])
    for c in run["summary"]["by_county"]:
        c["name_zh"], c["name_en"] = category_name(c["category"], labels)
    run["profile_zh"] = prof.zh if prof else run["profile"]
    run["profile_en"] = prof.en if prof else run["profile"]
    return run


def side_labels(prof: Any, summary: dict[str, Any]) -> dict[str, str]:
    if prof is None:
        return {"a": "A", "b": "B", "a_en": "A", "b_en": "B"}
    b_zh, b_en = prof.b.zh, prof.b.en
    if prof.mode == "control":
        b_zh = b_en = summary["b"]["ref"]
    return {"a": prof.a.zh, "b": b_zh, "a_en": prof.a.en, "b_en": b_en}


def category_name(category: str, labels: dict[str, str]) -> tuple[str, str]:
    """Chinese and English names of a category, with the profile's side labels."""
    c = profile_book().categories.get(category, {"zh": category, "en": category})
    return c["zh"].format(**labels), c["en"].format(**labels)


def list_runs(session: Session) -> list[dict[str, Any]]:
    """Every run, newest first."""
    return [dict(r) for r in session.execute(queries.RUNS_LIST).mappings()]


def patches(session: Session, run_id: int, *, slivers: bool = False, category: str | None = None,
            status: str | None = None, limit: int = 1000, offset: int = 0,
            with_geometry: bool = False) -> list[dict[str, Any]]:
    """Patches of a run (or its sliver audit set) with their current resolution."""
    get_run(session, run_id)
    if status is not None and status not in STATUSES:
        raise InputError(f"状态“{status}”无效", f"invalid status '{status}' (one of {', '.join(STATUSES)})")
    rows = session.execute(queries.PATCHES, {"run": run_id, "kept": not slivers, "category": category,
                                             "status": status, "limit": limit, "offset": offset,
                                             "with_geom": with_geometry}).mappings()
    out = []
    for r in rows:
        d = dict(r)
        wkb = d.pop("wkb")
        d["area_ha"] = round(d["area_m2"] / 10_000, 4)
        if with_geometry and wkb is not None:
            d["geometry"] = shapely.from_wkb(bytes(wkb))
        out.append(d)
    return out


def data_quality(session: Session, run_id: int) -> list[dict[str, Any]]:
    """The run's data-quality findings (overlaps inside a side, areas a side has no data)."""
    out = []
    for r in session.execute(queries.RUN_DQ, {"run": run_id}).mappings():
        d = dict(r)
        wkb = d.pop("wkb")
        d["geometry"] = shapely.from_wkb(bytes(wkb)) if wkb is not None else None
        out.append(d)
    return out


def update_patches(session: Session, run_id: int, *, patch_nos: list[int] | None = None,
                   category: str | None = None, min_area: float | None = None, max_area: float | None = None,
                   status: str | None = None, department: str | None = None, comment: str | None = None,
                   actor: str | None = None, as_department: str | None = None) -> list[int]:
    """Record a status, assignee department and/or comment on the selected patches.

    Selection by patch numbers, or in bulk by category and area range. Unchanged fields keep
    their current values. Returns the patch numbers written.
    """
    get_run(session, run_id)
    if status is not None and status not in STATUSES:
        raise InputError(f"状态“{status}”无效（可用：{', '.join(STATUSES)}）",
                         f"invalid status '{status}' (one of {', '.join(STATUSES)})")
    if status is None and department is None and comment is None:
        raise InputError("请给出状态、承办部门或意见", "give a status, a department or a comment")
    if patch_nos is None and category is None and min_area is None and max_area is None:
        raise InputError("请选择图斑：编号，或按类别/面积批量", "select patches: numbers, or by category / area")
    if as_department is not None:
        # A department works on the patches assigned to it, one by one, and cannot reassign them.
        if patch_nos is None or category is not None or min_area is not None or max_area is not None:
            raise ForbiddenError("部门只能逐个处理分派给本部门的图斑", "a department updates its own patches by number")
        if department is not None and department != as_department:
            raise ForbiddenError("部门不能改派图斑", "a department cannot reassign patches")
        cur = dict(session.execute(queries.PATCH_CURRENT_DEPARTMENTS, {"run": run_id, "nos": list(patch_nos)}).all())
        others = sorted(n for n in patch_nos if cur.get(n) != as_department)
        if others:
            raise ForbiddenError(f"图斑 {others} 未分派给{as_department}", f"patches {others} are not assigned to {as_department}")
    if patch_nos is not None:
        found = {r[0] for r in session.execute(queries.PATCH_EXISTS, {"run": run_id, "nos": list(patch_nos)})}
        missing = sorted(set(patch_nos) - found)
        if missing:
            raise NotFoundError(f"差异分析 {run_id} 没有图斑 {missing}", f"run {run_id} has no patches {missing}")
    who = actor or audit.current_actor()
    written = [r[0] for r in session.execute(queries.INSERT_RESOLUTIONS, {
        "run": run_id, "nos": list(patch_nos) if patch_nos is not None else None, "category": category,
        "min_area": min_area, "max_area": max_area, "status": status, "department": department,
        "comment": comment, "actor": who})]
    audit.record(session, "conflict_resolution", f"conflict_run:{run_id}", who, patches=len(written),
                 status=status, department=department, category=category)
    return sorted(written)


def history(session: Session, run_id: int, patch_no: int) -> list[dict[str, Any]]:
    """Every recorded change of one patch, oldest first."""
    return [dict(r) for r in session.execute(queries.PATCH_HISTORY, {"run": run_id, "no": patch_no}).mappings()]


def progress(session: Session, run_id: int) -> list[dict[str, Any]]:
    """Patch counts and areas per assignee department and status."""
    get_run(session, run_id)
    return [dict(r) for r in session.execute(queries.PROGRESS, {"run": run_id}).mappings()]


# --- the run's page: vector tiles of its patches, one patch, the run's bounds ----------------

PATCH_TILE_RECIPE = 1  # bump when the patch tile SQL changes, so cached tiles are revalidated


def patch_tile_etag(session: Session, run_id: int, z: int, x: int, y: int) -> str:
    """Strong ETag of a patch tile: run, newest resolution of the run (a status change gives new
    tags), tile and recipe. NotFoundError when the run does not exist."""
    row = session.execute(queries.RUN_TILE_STATE, {"run": run_id}).one_or_none()
    if row is None:
        raise NotFoundError(f"没有差异分析 {run_id}", f"no conflict run {run_id}")
    return f'"cr{run_id}-s{row.last_resolution or 0}-{z}-{x}-{y}-r{PATCH_TILE_RECIPE}"'


def patch_tile(session: Session, settings: Any, run_id: int, z: int, x: int, y: int) -> bytes:
    """The MVT (layer ``patches``) of a run's kept patches in one tile; empty bytes when none.
    Attributes: patch_no, category, subtype, priority, status (current), area_m2."""
    from layers.tiles import scale_params

    params = scale_params(settings, z, y)
    if params is None:
        return b""
    west, south, east, north = settings.extent_lonlat
    params.update({"z": z, "x": x, "y": y, "run": run_id, "srid": settings.store_srid,
                   "west": west, "south": south, "east": east, "north": north})
    data = session.execute(queries.RUN_TILE_MVT, params).scalar_one_or_none()
    return bytes(data) if data else b""


def _patch_row(row: Any, labels: dict[str, str]) -> dict[str, Any]:
    d = dict(row)
    d["area_ha"] = round(d["area_m2"] / 10_000, 4)
    d["category_zh"], d["category_en"] = category_name(d["category"], labels)
    st = profile_book().subtypes.get(d["subtype"] or "", {})
    d["subtype_zh"], d["subtype_en"] = st.get("zh", d["subtype"]), st.get("en", d["subtype"])
    d["status_zh"], d["status_en"] = STATUSES.get(d["status"], (d["status"], d["status"]))
    return d


def _labels(session: Session, run_id: int) -> dict[str, str]:
    run = get_run(session, run_id)
    return side_labels(profile_book().profiles.get(run["profile"]), run["summary"])


def patch_detail(session: Session, run_id: int, patch_no: int) -> dict[str, Any]:
    """One kept patch with its current resolution and names (category, subtype, status)."""
    labels = _labels(session, run_id)
    row = session.execute(queries.PATCH_BY_NO, {"run": run_id, "no": patch_no}).mappings().one_or_none()
    if row is None:
        raise NotFoundError(f"差异分析 {run_id} 没有图斑 {patch_no}", f"run {run_id} has no patch {patch_no}")
    return _patch_row(row, labels)


def patch_at(session: Session, settings: Any, run_id: int, lon: float, lat: float) -> dict[str, Any] | None:
    """The kept patch of a run under a lon/lat point (CGCS2000 ≈ WGS 84 here), or None."""
    labels = _labels(session, run_id)
    row = session.execute(queries.PATCH_AT, {"run": run_id, "lon": lon, "lat": lat,
                                             "srid": settings.store_srid}).mappings().first()
    return _patch_row(row, labels) if row is not None else None


def run_bounds(session: Session, settings: Any, run_id: int) -> list[float] | None:
    """Lon/lat bounds [w, s, e, n] of a run's kept patches, or None when it has none."""
    row = session.execute(queries.RUN_BOUNDS_LONLAT, {"run": run_id, "srid": settings.store_srid}).one_or_none()
    if row is None or row.west is None:
        return None
    return [row.west, row.south, row.east, row.north]
