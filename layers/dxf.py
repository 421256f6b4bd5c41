"""Read parcel boundaries from a DXF drawing (CAD 红线图, 宗地图).

Every LWPOLYLINE and 2D POLYLINE in modelspace must be closed (closed flag, or first vertex
equal to the last) and becomes one Polygon; an open polyline is an error listing each by
``layer:handle``. Arc segments (bulges) are flattened on the true circle with at most
:data:`ARC_MAX_DEVIATION` metres between chord and arc. Other entity types are not converted;
they are counted per type in ``ReadResult.notes`` so nothing is dropped silently. A polygon
containing the insertion point of exactly one TEXT/MTEXT gets that text as its ``label``.

DXF declares no CRS (``crs`` is None; the user must give one); x, y are easting, northing.
"""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path

import ezdxf
import geopandas as gpd
import pandas as pd
import shapely
from ezdxf.math import Vec3
from shapely.geometry import Polygon

from gis_platform.core.errors import GeometryError, InputError, LimitError, Problem
from gis_platform.core.settings import Limits
from layers.sources import ReadResult

#: Largest distance (drawing units, metres) between a flattened arc chord and the true arc.
ARC_MAX_DEVIATION = 0.01
_CLOSE_TOL = 1e-9
_TEXT_TYPES = ("TEXT", "MTEXT")


def _vertices(e) -> list[tuple[float, float, float]]:
    """(x, y, bulge) in OCS for an LWPOLYLINE or 2D POLYLINE (spline frame points skipped)."""
    if e.dxftype() == "LWPOLYLINE":
        return [(x, y, b) for x, y, b in e.get_points("xyb")]
    return [(v.dxf.location.x, v.dxf.location.y, v.dxf.bulge) for v in e.vertices
            if not v.dxf.flags & ezdxf.lldxf.const.VTX_SPLINE_FRAME_CONTROL_POINT]


def _arc_steps(p: tuple[float, float], q: tuple[float, float], bulge: float) -> int:
    """Number of chords needed for the bulge arc p→q to stay within ARC_MAX_DEVIATION."""
    c = math.dist(p, q)
    theta = abs(4.0 * math.atan(bulge))
    radius = c / (2.0 * math.sin(theta / 2.0))
    if radius <= ARC_MAX_DEVIATION:
        return max(1, math.ceil(theta / (math.pi / 2)))
    step = 2.0 * math.acos(1.0 - ARC_MAX_DEVIATION / radius)
    return max(1, math.ceil(theta / step))


def _arc_points(p: tuple[float, float], q: tuple[float, float], bulge: float,
                steps: int) -> list[tuple[float, float]]:
    """Interior points of the bulge arc p→q on the true circle (endpoints excluded).

    Depends only on the circle, so the same arc drawn q→p with −bulge by a neighbouring parcel
    yields the same points and the shared boundary leaves no sliver.
    """
    dx, dy = q[0] - p[0], q[1] - p[1]
    c = math.hypot(dx, dy)
    theta = 4.0 * math.atan(bulge)
    r_signed = c / (2.0 * math.sin(theta / 2.0))
    h = r_signed * math.cos(theta / 2.0)  # centre offset along the left normal of p→q
    cx = (p[0] + q[0]) / 2.0 - dy / c * h
    cy = (p[1] + q[1]) / 2.0 + dx / c * h
    radius = abs(r_signed)
    a0 = math.atan2(p[1] - cy, p[0] - cx)
    return [(cx + radius * math.cos(a0 + theta * k / steps),
             cy + radius * math.sin(a0 + theta * k / steps)) for k in range(1, steps)]


class _Ring:
    """The ring of one closed polyline, or why it is not one."""

    def __init__(self, e, limits: Limits, fid: str, file: str) -> None:
        pts = _vertices(e)
        closed_flag = e.closed if e.dxftype() == "LWPOLYLINE" else e.is_closed
        self.closed = closed_flag
        if not closed_flag and len(pts) > 1 and math.dist(pts[0][:2], pts[-1][:2]) <= _CLOSE_TOL:
            self.closed = True
            pts = pts[:-1]  # the repeated end vertex; its bulge would span a zero-length chord
        self.arcs = 0
        self.coords: list[tuple[float, float]] = []
        if not self.closed:
            return
        n = len(pts)
        segments = []
        total = n
        for i in range(n):
            p, q, b = pts[i][:2], pts[(i + 1) % n][:2], pts[i][2]
            steps = _arc_steps(p, q, b) if abs(b) > 1e-9 and p != q else 1
            segments.append((p, q, b, steps))
            total += steps - 1
            if total > limits.max_vertices_per_feature:
                raise LimitError(
                    zh=f"多段线顶点数超过上限 {limits.max_vertices_per_feature}（含圆弧加密点）",
                    en=f"polyline has more than {limits.max_vertices_per_feature} vertices "
                       "(arcs flattened)",
                    file=file, problems=[Problem("顶点过多", "too many vertices", feature=fid)])
        ocs = e.ocs()
        elevation = e.dxf.elevation if e.dxftype() == "LWPOLYLINE" else e.dxf.elevation.z
        local: list[tuple[float, float]] = []
        for p, q, b, steps in segments:
            local.append(p)
            if steps > 1:
                self.arcs += 1
                local.extend(_arc_points(p, q, b, steps))
        for x, y in local:
            w = ocs.to_wcs(Vec3(x, y, elevation))
            self.coords.append((w.x, w.y))


def _labels(polys: list[Polygon], texts: list[tuple[float, float, str]]) -> tuple[list, int]:
    """Label of each polygon (the one text inside it, else None) and the ambiguous count."""
    labels: list[str | None] = [None] * len(polys)
    if not polys or not texts:
        return labels, 0
    tree = shapely.STRtree(polys)
    points = shapely.points([(x, y) for x, y, _ in texts])
    text_idx, poly_idx = tree.query(points, predicate="within")
    hits: dict[int, list[int]] = {}
    for t, p in zip(text_idx.tolist(), poly_idx.tolist()):
        hits.setdefault(p, []).append(t)
    ambiguous = 0
    for p, ts in hits.items():
        if len(ts) == 1:
            labels[p] = texts[ts[0]][2]
        else:
            ambiguous += 1
    return labels, ambiguous


def read_dxf(path: Path, limits: Limits) -> ReadResult:
    """Read the closed polylines of ``path`` as polygons (see the module docstring).

    Raises InputError (not a DXF, or no closed polylines), GeometryError (open or degenerate
    polylines, listed by ``layer:handle``) or LimitError (vertices, features).
    """
    path = Path(path)
    file = path.name
    try:
        doc = ezdxf.readfile(path)
    except ezdxf.DXFError as exc:
        raise InputError(zh=f"DXF 文件结构损坏：{exc}", en=f"damaged DXF structure: {exc}",
                         file=file) from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise InputError(zh=f"无法读取 DXF 文件：{exc}", en=f"cannot read the DXF file: {exc}",
                         file=file) from None

    rows: list[dict] = []
    polys: list[Polygon] = []
    ids: list[str] = []
    bad: list[Problem] = []
    ignored: Counter[str] = Counter()
    texts: list[tuple[float, float, str]] = []
    arcs = n_polylines = total_vertices = 0
    for e in doc.modelspace():
        kind = e.dxftype()
        if kind in _TEXT_TYPES:
            ignored[kind] += 1
            ins = e.ocs().to_wcs(e.dxf.insert) if kind == "TEXT" else Vec3(e.dxf.insert)
            texts.append((ins.x, ins.y, e.plain_text().strip()))
            continue
        if kind != "LWPOLYLINE" and not (kind == "POLYLINE" and e.is_2d_polyline):
            ignored[kind if kind != "POLYLINE" else "POLYLINE (3D/网格 mesh)"] += 1
            continue
        n_polylines += 1
        layer = e.dxf.layer
        fid = f"{layer}:{e.dxf.handle}"
        ring = _Ring(e, limits, fid, file)
        if not ring.closed:
            bad.append(Problem("多段线未闭合", "polyline is not closed", feature=fid))
            continue
        if len(set(ring.coords)) < 3:
            bad.append(Problem("闭合多段线少于 3 个不同顶点", "closed polyline has fewer than 3 "
                               "distinct vertices", feature=fid))
            continue
        total_vertices += len(ring.coords)
        if total_vertices > limits.max_total_vertices or len(polys) >= limits.max_features:
            raise LimitError(zh="DXF 中的要素或顶点总数超过上限",
                             en="the DXF has more features or vertices than allowed", file=file)
        arcs += ring.arcs
        polys.append(Polygon(ring.coords))
        ids.append(fid)
        rows.append({"dxf_layer": layer, "handle": e.dxf.handle, "entity": kind})

    if bad:
        raise GeometryError(zh=f"{len(bad)} 条多段线不能构成面（须闭合）",
                            en=f"{len(bad)} polylines cannot form polygons (must be closed)",
                            file=file, problems=bad)
    if n_polylines == 0:
        raise InputError(zh="DXF 模型空间中没有闭合多段线（LWPOLYLINE/POLYLINE）",
                         en="no closed polylines (LWPOLYLINE/POLYLINE) in the DXF modelspace",
                         file=file)

    labels, ambiguous = _labels(polys, texts)
    columns = {key: pd.Series([r[key] for r in rows], dtype=object)
               for key in ("dxf_layer", "handle", "entity")}
    columns["label"] = pd.Series(labels, dtype=object)  # None, not NaN, when unlabelled
    frame = gpd.GeoDataFrame(columns, geometry=polys, crs=None)
    notes = []
    for kind, count in sorted(ignored.items()):
        use_zh, use_en = ("（仅用作标注）", " (used only as labels)") if kind in _TEXT_TYPES \
            else ("", "")
        notes.append(Problem(f"忽略 {count} 个 {kind} 实体{use_zh}",
                             f"ignored {count} {kind} entities{use_en}"))
    meta = {
        "dxf_version": doc.dxfversion,
        "insunits": doc.header.get("$INSUNITS", 0),
        "arcs_flattened": arcs,
        "arc_max_deviation": ARC_MAX_DEVIATION,
        "labels_ambiguous": ambiguous,
        "ignored_entities": dict(ignored),
    }
    return ReadResult(frame=frame, crs=None, source_format="dxf", encoding=doc.encoding,
                      feature_ids=ids, notes=notes, meta=meta)
