"""Geometry validation, per feature, and explicit repair.

Nothing is repaired unless the user asks (``--repair``); every repair is reported with the area
before and after. ``buffer(0)`` is never used: it silently drops half of a bowtie. Repair uses
GEOS ``MakeValid`` (linework method), which keeps every part.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import shapely

from gis_platform.core.errors import GeometryError, LimitError, Problem
from gis_platform.core.settings import Limits

FAMILIES = {
    "polygon": {"Polygon", "MultiPolygon"},
    "line": {"LineString", "MultiLineString"},
    "point": {"Point", "MultiPoint"},
}
FAMILY_ZH = {"polygon": "面", "line": "线", "point": "点"}


@dataclass
class Repair:
    """One repaired feature and what the repair changed."""

    feature: str
    problem_zh: str
    problem_en: str
    area_before: float
    area_after: float

    def as_dict(self) -> dict[str, object]:
        """JSON-friendly form (areas in source-CRS units squared)."""
        return {
            "feature": self.feature,
            "problem_zh": self.problem_zh,
            "problem_en": self.problem_en,
            "area_before": round(self.area_before, 4),
            "area_after": round(self.area_after, 4),
            "area_change": round(self.area_after - self.area_before, 4),
        }


@dataclass
class Validated:
    """Geometries that passed validation (possibly repaired on request)."""

    geoms: np.ndarray
    repairs: list[Repair] = field(default_factory=list)


def check_vertex_limits(geoms: np.ndarray, labels: Sequence[str], limits: Limits, file: str) -> None:
    """Refuse, before any costly operation, features or files with too many vertices."""
    counts = shapely.get_num_coordinates(geoms)
    too_many = np.flatnonzero(counts > limits.max_vertices_per_feature)
    if too_many.size:
        raise LimitError(
            f"有 {too_many.size} 个要素顶点数超过上限 {limits.max_vertices_per_feature}",
            f"{too_many.size} feature(s) exceed the limit of "
            f"{limits.max_vertices_per_feature} vertices",
            file=file,
            problems=[
                Problem(f"顶点数 {int(counts[i])}", f"{int(counts[i])} vertices", labels[i])
                for i in too_many[:20]
            ],
        )
    total = int(counts.sum())
    if total > limits.max_total_vertices:
        raise LimitError(
            f"顶点总数 {total} 超过上限 {limits.max_total_vertices}",
            f"{total} vertices in all exceed the limit of {limits.max_total_vertices}",
            file=file,
        )


def _polygon_parts(geom: shapely.Geometry) -> shapely.Geometry:
    """The polygonal part of a MakeValid result (collapsed lines/points are dropped and reported)."""
    if geom.geom_type in ("Polygon", "MultiPolygon"):
        return geom
    parts = [g for g in shapely.get_parts(geom) if g.geom_type in ("Polygon", "MultiPolygon")]
    polys = []
    for p in parts:
        polys.extend(shapely.get_parts(p))
    return shapely.multipolygons(polys) if polys else shapely.Polygon()


class GeometryChecker:
    """Checks geometries chunk by chunk and gathers every problem of the whole file.

    Problems that no repair can fix (missing/empty geometry, wrong geometry type, NaN or
    infinite coordinates, zero area) always refuse the file. Self-intersections and the like
    (and ``repairable`` problems the reader met, such as unclosed rings) refuse it unless
    ``repair`` is true, in which case each repair is kept with its area change.
    """

    def __init__(self, *, family: str, file: str, repair: bool,
                 repairable: list[Problem] | None = None) -> None:
        if family not in FAMILIES:
            raise ValueError(f"family was {family!r} but is expected to be in {sorted(FAMILIES)}")
        self.family = family
        self.file = file
        self.repair = repair
        self.fatal: list[tuple[int, Problem]] = []
        self.fixable: list[tuple[int, Problem]] = []
        self.repairs: list[Repair] = []
        self._reader: dict[str, list[Problem]] = {}
        for p in repairable or []:
            self._reader.setdefault(p.feature or "", []).append(p)

    @property
    def failed(self) -> bool:
        """True once a problem means the file will be refused."""
        return bool(self.fatal) or (bool(self.fixable) and not self.repair)

    def check(self, geoms: np.ndarray, labels: Sequence[str], offset: int = 0,
              valid: np.ndarray | None = None) -> np.ndarray:
        """Check one chunk; return it (repaired where asked and possible). ``valid`` may carry
        ``shapely.is_valid(geoms)`` computed beforehand (e.g. in another thread)."""
        family = self.family
        n = len(geoms)
        fatal: list[tuple[int, Problem]] = []
        fixable: list[tuple[int, Problem]] = []
        if self._reader:
            for i, lab in enumerate(labels):
                for p in self._reader.get(lab, ()):
                    fixable.append((i, p))

        missing = np.flatnonzero(shapely.is_missing(geoms) | shapely.is_empty(geoms))
        for i in missing:
            fatal.append((i, Problem("几何为空", "empty or missing geometry", labels[i])))
        present = np.ones(n, dtype=bool)
        present[missing] = False

        types = np.asarray(shapely.get_type_id(geoms))
        wanted_ids = [i for i, t in enumerate(_TYPE_NAMES) if t in FAMILIES[family]]
        wrong = np.flatnonzero(present & ~np.isin(types, wanted_ids))
        for i in wrong:
            tname = _TYPE_NAMES[types[i]] if 0 <= types[i] < len(_TYPE_NAMES) else "Unknown"
            fatal.append((i, Problem(
                f"几何类型为 {tname}，此处需要{FAMILY_ZH[family]}",
                f"geometry is a {tname} where a {family} is needed", labels[i])))
        present[wrong] = False

        idx = np.flatnonzero(present)
        valid = shapely.is_valid(geoms[idx]) if valid is None else np.asarray(valid, dtype=bool)[idx]
        invalid = idx[~valid]
        if invalid.size:
            # GEOS finds every non-finite coordinate invalid, so only invalid geometries can hold one.
            coords, index = shapely.get_coordinates(geoms[invalid], return_index=True)
            bad_coords = invalid[np.unique(index[~np.all(np.isfinite(coords), axis=1)])]
            for i in bad_coords:
                fatal.append((i, Problem("坐标含 NaN 或无穷大", "coordinates contain NaN or infinity", labels[i])))
            invalid = np.setdiff1d(invalid, bad_coords)
        reasons = shapely.is_valid_reason(geoms[invalid]) if invalid.size else []
        for i, reason in zip(invalid, reasons):
            fixable.append((i, Problem(f"几何无效：{_reason_zh(reason)}", f"invalid geometry: {reason}", labels[i])))

        if family == "polygon":
            ok = idx[valid]
            zero = ok[shapely.area(geoms[ok]) <= 0.0]
            for i in zero:
                fatal.append((i, Problem("面积为零", "zero area", labels[i])))

        self.fatal += [(offset + i, p) for i, p in fatal]
        self.fixable += [(offset + i, p) for i, p in fixable]
        if self.failed or not fixable:
            return geoms

        out = geoms.copy()
        for i, prob in fixable:
            before = float(shapely.area(out[i]))
            if not shapely.is_valid(out[i]):
                fixed = shapely.make_valid(out[i])
                out[i] = _polygon_parts(fixed) if family == "polygon" else fixed
            after = float(shapely.area(out[i]))
            self.repairs.append(Repair(prob.feature or "", prob.zh, prob.en, before, after))
            if family == "polygon" and after <= 0:
                self.fatal.append((offset + i, Problem("修复后面积为零", "zero area after repair", prob.feature)))
        return out

    def error(self) -> GeometryError:
        """One error listing every problem, in file order."""
        problems = [p for _, p in sorted(self.fatal + self.fixable, key=lambda t: t[0])]
        hint = bool(self.fixable) and not self.fatal and not self.repair
        return GeometryError(
            f"{len(problems)} 处几何问题，未入库" + ("；可用 --repair 显式修复可修复的问题" if hint else ""),
            f"{len(problems)} geometry problem(s); nothing was stored"
            + ("; use --repair to repair the repairable ones explicitly" if hint else ""),
            file=self.file,
            problems=problems,
        )


def validate_geometries(
    geoms: np.ndarray,
    labels: Sequence[str],
    *,
    family: str,
    file: str,
    repair: bool,
    repairable: list[Problem] | None = None,
) -> Validated:
    """Check every geometry at once; raise one :class:`GeometryError` listing each bad feature."""
    checker = GeometryChecker(family=family, file=file, repair=repair, repairable=repairable)
    out = checker.check(geoms, labels)
    if checker.failed:
        raise checker.error()
    return Validated(out, checker.repairs)


_TYPE_NAMES = ("Point", "LineString", "LinearRing", "Polygon", "MultiPoint", "MultiLineString",
               "MultiPolygon", "GeometryCollection")


_REASONS_ZH = {
    "Self-intersection": "自相交",
    "Ring Self-intersection": "环自相交",
    "Too few points": "点数过少",
    "Hole lies outside shell": "内环在外环之外",
    "Nested holes": "内环嵌套",
    "Interior is disconnected": "内部不连通",
    "Nested shells": "外环嵌套",
    "Duplicate Rings": "重复的环",
    "Invalid Coordinate": "坐标无效",
    "Ring is not closed": "环未闭合",
}


def _reason_zh(reason: str) -> str:
    """Chinese for a GEOS validity reason, keeping the location it gives."""
    head, _, where = reason.partition("[")
    zh = _REASONS_ZH.get(head.strip(), head.strip())
    return f"{zh}（位置 [{where}）" if where else zh
