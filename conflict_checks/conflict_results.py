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
from gis_platform.core.errors import InputError, NotFoundError

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
                   actor: str | None = None) -> list[int]:
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
