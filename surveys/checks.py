"""The checks of a result package, each reported as pass / warning / fail with where and why.

- manifest: every file fits a slot of the item; required slots are filled.
- read: every file opens (vector, raster, PDF, table, metadata).
- math_basis: CGCS2000, the deployment's zone (central meridian), inside the deployment and
  inside the project's approved site.
- topology: valid, closed parcels; no overlaps or gaps between the parcels of a file;
  buildings inside their parcels.
- consistency: TXT area = vector area = the area table's total, within the tolerances.
- verification (规划核实): the as-built footprint inside the approved site; building coverage,
  floor-area ratio and green ratio against the approved indicators.

Areas are plane areas in the store CRS, computed with shapely. The control-line overlap is run
by the service through the pre-check engine.
"""

from __future__ import annotations

import csv
import io
import json
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from pyproj import CRS

from gis_platform.core.crs import (
    crs_label,
    deployment_extent,
    diagnose,
    parse_crs,
    reproject,
    sample_points,
    store_crs,
)
from gis_platform.core.errors import CRSError, PlatformError
from gis_platform.core.settings import Settings
from layers.coord_txt import decode_text
from layers.readers import read_source
from layers.validate import GeometryChecker, check_vertex_limits
from plans.ingest import extent_error

from .manifest import Item
from .package import Package, PackageFile

CGCS2000_NAMES = ("China Geodetic Coordinate System 2000", "China 2000")


@dataclass
class Finding:
    """One check result."""

    check: str
    status: str  # pass | warning | fail
    message_zh: str
    message_en: str
    file: str | None = None
    feature: str | None = None
    figures: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {"check": self.check, "status": self.status, "file": self.file, "feature": self.feature,
                "message_zh": self.message_zh, "message_en": self.message_en, "figures": self.figures}


@dataclass
class SurveyFeature:
    """A feature of a package in the store CRS."""

    file_no: int
    feature_no: int
    label: str
    role: str
    properties: dict[str, Any]
    geom: shapely.Geometry
    source: str  # file name
    txt: bool


@dataclass
class PackageReport:
    """Every finding and the features read."""

    findings: list[Finding] = field(default_factory=list)
    features: list[SurveyFeature] = field(default_factory=list)
    site_file_no: int | None = None
    figures: dict[str, Any] = field(default_factory=dict)

    @property
    def status(self) -> str:
        """failed when any check failed, else passed."""
        return "failed" if any(f.status == "fail" for f in self.findings) else "passed"

    def add(self, check: str, status: str, zh: str, en: str, **kw: Any) -> None:
        """Append a finding."""
        self.findings.append(Finding(check, status, zh, en, **kw))

    def as_dict(self) -> dict[str, Any]:
        """The stored check report."""
        counts = {s: sum(1 for f in self.findings if f.status == s) for s in ("pass", "warning", "fail")}
        return {"status": self.status, "counts": counts, "figures": self.figures,
                "findings": [f.as_dict() for f in self.findings]}


def _r(x: float, nd: int = 2) -> float:
    return round(float(x), nd)


# ------------------------------------------------------------------------------ mathematical basis


def _central_meridian(crs: CRS) -> float | None:
    if not crs.is_projected or crs.coordinate_operation is None:
        return None
    params = {p.name: p.value for p in crs.coordinate_operation.params}
    lon0 = params.get("Longitude of natural origin")
    return None if lon0 is None else float(lon0)


def _is_cgcs2000(crs: CRS) -> bool:
    geo = crs.geodetic_crs
    if geo is None:
        return False
    if geo.to_epsg(min_confidence=70) == 4490:
        return True
    datum = geo.datum.name if geo.datum is not None else ""
    return any(n in datum for n in CGCS2000_NAMES)


def basis_problem(crs: CRS, settings: Settings) -> tuple[str, str, str] | None:
    """(status, zh, en) when ``crs`` is not CGCS2000 in the deployment's zone, else None."""
    store = store_crs(settings)
    if not _is_cgcs2000(crs):
        datum = crs.geodetic_crs.datum.name if crs.geodetic_crs and crs.geodetic_crs.datum else crs.name
        return ("fail", f"坐标系 {crs_label(crs)}（{datum}）不是 2000 国家大地坐标系（CGCS2000）；须用当地公布的参数转换后提交",
                f"CRS {crs_label(crs)} ({datum}) is not CGCS2000; convert with the locally published parameters")
    if crs.is_geographic:
        return ("warning", "坐标为 CGCS2000 经纬度；测绘成果应采用高斯-克吕格投影坐标",
                "coordinates are CGCS2000 longitude/latitude; survey results should use the Gauss-Krüger projection")
    cm, cm0 = _central_meridian(crs), _central_meridian(store)
    if cm is None or cm0 is None or abs(cm - cm0) > 1e-9:
        zone = f"{cm:g}°" if cm is not None else "?"
        want = f"{int(cm0 // 3)}" if cm0 else "?"
        zh = (f"投影带不符：文件为 {crs_label(crs)}（中央经线 {zone}），本地应为 3° 带第 {want} 带"
              f"（中央经线 {cm0:g}°，{crs_label(store)}）")
        en = (f"zone mismatch: the file is {crs_label(crs)} (central meridian {zone}); this deployment uses "
              f"3-degree zone {want} (central meridian {cm0:g}°, {crs_label(store)})")
        return ("fail", zh, en)
    return None


# ------------------------------------------------------------------------------ vectors


def _properties(frame: Any) -> list[dict[str, Any]]:
    attrs = frame.drop(columns=[frame.geometry.name])
    if attrs.shape[1] == 0:
        return [{} for _ in range(len(frame))]
    return json.loads(attrs.to_json(orient="records", force_ascii=False, date_format="iso"))  # type: ignore[no-any-return]


def _read_vector(f: PackageFile, rep: PackageReport, settings: Settings, metadata: dict[str, Any],
                 project_area: shapely.Geometry | None, buffer_m: float,
                 exempt_roles: tuple[str, ...] = ("boundary",)) -> list[SurveyFeature]:
    name = f.name
    with tempfile.TemporaryDirectory(prefix="gisplat-survey-") as tmp:
        try:
            result = read_source(f.path, settings.limits, Path(tmp), display_name=name)
        except CRSError as exc:
            rep.add("math_basis", "fail", exc.message("zh"), exc.message("en"), file=name)
            return []
        except PlatformError as exc:
            rep.add("read", "fail", "文件无法读取或已损坏：" + exc.message("zh"),
                    "the file cannot be read or is corrupt: " + exc.message("en"), file=name)
            return []
        except Exception as exc:  # noqa: BLE001 - any reader failure on a hostile file is a per-file failure
            rep.add("read", "fail", f"文件无法读取或已损坏：{type(exc).__name__}",
                    f"the file cannot be read or is corrupt: {type(exc).__name__}", file=name)
            return []
    labels = result.labels()
    raw = np.asarray(result.frame.geometry.values)
    try:
        check_vertex_limits(raw, labels, settings.limits, name)
    except PlatformError as exc:
        rep.add("read", "fail", exc.message("zh"), exc.message("en"), file=name)
        return []
    crs = result.crs
    if crs is None and metadata.get("crs"):
        try:
            crs = parse_crs(str(metadata["crs"]), file=name)
        except PlatformError as exc:
            rep.add("math_basis", "fail", exc.message("zh"), exc.message("en"), file=name)
            return []
    if crs is None:
        hints = diagnose(sample_points(raw), None, settings)
        hint_zh = f"；坐标看起来是 EPSG:{hints[0].epsg}" if hints else ""
        hint_en = f"; the coordinates look like EPSG:{hints[0].epsg}" if hints else ""
        rep.add("math_basis", "fail", f"文件未声明坐标系，平台不猜测；请在 metadata.json 中写明 \"crs\"{hint_zh}",
                f"the file declares no CRS and the platform does not guess; give \"crs\" in metadata.json{hint_en}",
                file=name)
        return []
    problem = basis_problem(crs, settings)
    if problem is not None:
        rep.add("math_basis", problem[0], problem[1], problem[2], file=name, figures={"crs": crs_label(crs)})
        if problem[0] == "fail":
            return []
    checker = GeometryChecker(family="polygon", file=name, repair=False, repairable=result.repairable)
    geoms = checker.check(raw, labels)
    if checker.failed:
        for p in checker.error().problems:
            rep.add("topology", "fail", f"几何无效或未闭合：{p.zh}", f"invalid or unclosed geometry: {p.en}",
                    file=name, feature=p.feature)
        return []
    store = reproject(shapely.force_2d(geoms), crs, store_crs(settings))
    outside = np.flatnonzero(~shapely.contains(deployment_extent(settings).store, store))
    if outside.size:
        err = extent_error(raw, [int(i) for i in outside], labels, crs, name, settings)
        rep.add("math_basis", "fail", err.message("zh"), err.message("en"), file=name)
        return []
    role = f.slot.role if f.slot and f.slot.role else "other"
    if project_area is not None and role not in exempt_roles:
        grown = project_area.buffer(buffer_m)
        for i, g in enumerate(store):
            out = float(g.difference(grown).area)
            if out > 0:
                rep.add("math_basis", "fail", f"要素超出本项目用地范围 {out:,.2f} m²",
                        f"the feature lies {out:,.2f} m² outside the project's approved site", file=name,
                        feature=labels[i], figures={"outside_m2": _r(out)})
    rep.add("math_basis", "pass", f"CGCS2000，{crs_label(crs)}，位于辖区内", f"CGCS2000, {crs_label(crs)}, inside the deployment",
            file=name, figures={"crs": crs_label(crs), "features": len(store)})
    props = _properties(result.frame)
    txt = result.source_format == "coordinate_txt"
    out_features = [SurveyFeature(f.no, i + 1, labels[i], role, props[i], store[i], name, txt)
                    for i in range(len(store))]
    if txt:
        _txt_declared(out_features, rep, name)
    return out_features


def _txt_declared(features: list[SurveyFeature], rep: PackageReport, name: str) -> None:
    tol = float(rep.figures.get("_tol", {}).get("declared_txt_relative", 0.01))
    for sf in features:
        dkmj = sf.properties.get("DKMJ")
        if dkmj is None:
            continue
        declared = float(dkmj) * 10_000
        computed = float(sf.geom.area)
        if declared > 0 and abs(declared - computed) > tol * declared:
            rep.add("consistency", "warning",
                    f"TXT 地块面积 {declared:,.2f} m²（{float(dkmj)} 公顷）与坐标计算面积 {computed:,.2f} m² 相差超过 {tol:.0%}",
                    f"the TXT parcel area {declared:,.2f} m² ({float(dkmj)} ha) differs from the area of its "
                    f"coordinates {computed:,.2f} m² by more than {tol:.0%}", file=name, feature=sf.label,
                    figures={"declared_m2": _r(declared), "computed_m2": _r(computed)})


def _topology(features: list[SurveyFeature], rep: PackageReport, tol: dict[str, Any]) -> None:
    """Overlaps and gaps between the parcels of each file."""
    by_file: dict[str, list[SurveyFeature]] = {}
    for sf in features:
        if sf.role in ("parcel", "boundary"):
            by_file.setdefault(sf.source, []).append(sf)
    for name, parcels in by_file.items():
        geoms = np.array([p.geom for p in parcels], dtype=object)
        tree = shapely.STRtree(geoms)
        left, right = tree.query(geoms, predicate="intersects")
        bad = False
        for i, j in zip(left, right):
            if i >= j:
                continue
            area = float(shapely.intersection(geoms[i], geoms[j]).area)
            if area > tol["overlap_min_area_m2"]:
                bad = True
                rep.add("topology", "fail",
                        f"地块 {parcels[i].label} 与 {parcels[j].label} 重叠 {area:,.2f} m²",
                        f"parcels {parcels[i].label} and {parcels[j].label} overlap by {area:,.2f} m²",
                        file=name, feature=f"{parcels[i].label} / {parcels[j].label}",
                        figures={"overlap_m2": _r(area, 4)})
        if len(parcels) > 1:
            union = shapely.union_all(geoms)
            own_holes = shapely.union_all([shapely.Polygon(r) for g in geoms for p in shapely.get_parts(g)
                                           for r in p.interiors] or [shapely.Polygon()])
            w = tol["gap_width_m"]
            closed = union.buffer(w, join_style="mitre").buffer(-w, join_style="mitre")
            enclosed = shapely.union_all([shapely.Polygon(r) for p in shapely.get_parts(union) for r in p.interiors]
                                         or [shapely.Polygon()])
            gaps = shapely.union_all([closed.difference(union), enclosed]).difference(own_holes)
            for part in shapely.get_parts(gaps):
                if part.area > tol["gap_min_area_m2"]:
                    bad = True
                    c = part.representative_point()
                    rep.add("topology", "fail", f"地块之间有 {part.area:,.2f} m² 的缝隙（约在 E {c.x:,.1f}, N {c.y:,.1f}）",
                            f"a gap of {part.area:,.2f} m² between parcels (near E {c.x:,.1f}, N {c.y:,.1f})",
                            file=name, figures={"gap_m2": _r(part.area, 4), "x": _r(c.x), "y": _r(c.y)})
        if not bad:
            rep.add("topology", "pass", f"{len(parcels)} 个地块闭合，无重叠、无缝隙",
                    f"{len(parcels)} parcel(s) closed, no overlaps, no gaps", file=name)


def _buildings_inside(features: list[SurveyFeature], rep: PackageReport, tol: dict[str, Any]) -> None:
    parcels = [sf.geom for sf in features if sf.role == "parcel"]
    buildings = [sf for sf in features if sf.role == "building"]
    if not parcels or not buildings:
        return
    union = shapely.union_all(parcels)
    bad = False
    for b in buildings:
        out = float(b.geom.difference(union).area)
        if out > tol["building_outside_max_m2"]:
            bad = True
            rep.add("topology", "fail", f"建筑有 {out:,.2f} m² 位于宗地之外", f"the building lies {out:,.2f} m² outside its parcel",
                    file=b.source, feature=b.label, figures={"outside_m2": _r(out, 4)})
    if not bad:
        rep.add("topology", "pass", f"{len(buildings)} 栋建筑均位于宗地内", f"all {len(buildings)} building(s) lie inside their parcels")


# ------------------------------------------------------------------------------ area table

_AREA_HEADERS = re.compile(r"^面积\s*[\(（]\s*(平方米|m2|m²|㎡)\s*[\)）]$|^面积$", re.IGNORECASE)


def read_area_table(path: Path) -> tuple[float, list[tuple[str, float]]]:
    """(total m², [(地块编号, m²)…]) from a 面积表 (XLSX first sheet, or CSV). Raises ValueError."""
    if path.suffix.lower() == ".xlsx":
        from openpyxl import load_workbook

        wb = load_workbook(path, read_only=True, data_only=True)
        try:
            rows = [list(r) for r in wb.worksheets[0].iter_rows(values_only=True, max_row=10_000)]
        finally:
            wb.close()
    else:
        text, _ = decode_text(path.read_bytes())
        rows = list(csv.reader(io.StringIO(text)))
    for h, row in enumerate(rows[:10]):
        cells = [str(c).strip() if c is not None else "" for c in row]
        if "地块编号" in cells and any(_AREA_HEADERS.match(c) for c in cells):
            id_col = cells.index("地块编号")
            area_col = next(i for i, c in enumerate(cells) if _AREA_HEADERS.match(c))
            break
    else:
        raise ValueError("no header row with 地块编号 and 面积(平方米)")
    parcels: list[tuple[str, float]] = []
    total: float | None = None
    for row in rows[h + 1:]:
        if len(row) <= max(id_col, area_col):
            continue
        key = str(row[id_col]).strip() if row[id_col] is not None else ""
        value = row[area_col]
        if value is None or str(value).strip() == "":
            continue
        try:
            area = float(str(value).replace(",", ""))
        except ValueError:
            raise ValueError(f"area '{value}' of parcel '{key}' is not a number") from None
        if key in ("合计", "总计", "total", "Total"):
            total = area
        else:
            parcels.append((key, area))
    if total is None:
        if not parcels:
            raise ValueError("no area rows")
        total = sum(a for _, a in parcels)
    return total, parcels


def _agree(a: float, b: float, tol: dict[str, Any]) -> tuple[bool, float]:
    allowed = max(tol["absolute_m2"], tol["relative"] * max(a, b))
    return abs(a - b) <= allowed, allowed


def _consistency(rep: PackageReport, table_area: float | None, tol: dict[str, Any]) -> None:
    parcels = [sf for sf in rep.features if sf.role == "parcel"]
    txt = [sf.geom.area for sf in parcels if sf.txt]
    vec = [sf.geom.area for sf in parcels if not sf.txt]
    figures: dict[str, float] = {}
    if txt:
        figures["txt_area_m2"] = float(sum(txt))
    if vec:
        figures["vector_area_m2"] = float(sum(vec))
    if table_area is not None:
        figures["table_area_m2"] = float(table_area)
    rep.figures.update({k: _r(v, 4) for k, v in figures.items()})
    names = {"txt_area_m2": ("界址点 TXT", "coordinate TXT"), "vector_area_m2": ("矢量图形", "vector drawing"),
             "table_area_m2": ("面积表", "area table")}
    keys = list(figures)
    for i in range(len(keys)):
        for j in range(i + 1, len(keys)):
            a, b = figures[keys[i]], figures[keys[j]]
            ok, allowed = _agree(a, b, tol)
            fig = {keys[i]: _r(a, 4), keys[j]: _r(b, 4), "difference_m2": _r(abs(a - b), 4),
                   "allowed_m2": _r(allowed, 4)}
            na, nb = names[keys[i]], names[keys[j]]
            if ok:
                rep.add("consistency", "pass", f"{na[0]}面积 {a:,.2f} m² 与{nb[0]}面积 {b:,.2f} m² 一致",
                        f"{na[1]} area {a:,.2f} m² agrees with the {nb[1]} area {b:,.2f} m²", figures=fig)
            else:
                rep.add("consistency", "fail",
                        f"{na[0]}面积 {a:,.2f} m² 与{nb[0]}面积 {b:,.2f} m² 相差 {abs(a - b):,.2f} m²，超过允许的 {allowed:,.2f} m²",
                        f"{na[1]} area {a:,.2f} m² and {nb[1]} area {b:,.2f} m² differ by {abs(a - b):,.2f} m², "
                        f"more than the {allowed:,.2f} m² allowed", figures=fig)


# ------------------------------------------------------------------------------ 规划核实


def _floors(props: dict[str, Any], fields: list[str]) -> float | None:
    for k in fields:
        v = props.get(k)
        if v is not None and str(v).strip() != "":
            try:
                return float(v)
            except ValueError:
                return None
    return None


def _verification(rep: PackageReport, approved_site: shapely.Geometry | None, approved: dict[str, float],
                  approved_source: str | None, tol: dict[str, Any]) -> None:
    footprints = [sf for sf in rep.features if sf.role == "footprint"]
    own_site = [sf.geom for sf in rep.features if sf.role == "boundary"]
    site = approved_site if approved_site is not None else (shapely.union_all(own_site) if own_site else None)
    if site is None or site.is_empty:
        rep.add("verification", "fail", "没有批准的用地范围：本项目无已通过的勘测定界成果，包中也没有用地红线文件",
                "no approved site: the project has no accepted boundary survey and the package holds no site file")
        return
    if not footprints:
        return
    site_area = float(site.area)
    fp_union = shapely.union_all([sf.geom for sf in footprints])
    outside = float(fp_union.difference(site).area)
    fig = {"site_area_m2": _r(site_area, 4), "footprint_area_m2": _r(fp_union.area, 4), "outside_m2": _r(outside, 4)}
    if outside > tol["footprint_outside_max_m2"]:
        rep.add("verification", "fail", f"竣工基底超出批准用地范围 {outside:,.2f} m²",
                f"the as-built footprint exceeds the approved site by {outside:,.2f} m²", figures=fig)
    else:
        rep.add("verification", "pass", "竣工基底位于批准用地范围内", "the as-built footprint lies inside the approved site",
                figures=fig)
    measured: dict[str, float | None] = {"building_coverage": float(fp_union.intersection(site).area) / site_area}
    floors = [_floors(sf.properties, tol["floors_fields"]) for sf in footprints]
    if all(f is not None for f in floors):
        measured["far"] = sum(sf.geom.area * f for sf, f in zip(footprints, floors)) / site_area  # type: ignore[operator]
    else:
        measured["far"] = None
        rep.add("verification", "warning", "部分基底没有层数属性（floors/层数），无法计算容积率",
                "some footprints carry no floors attribute (floors/层数); the floor-area ratio is not computed")
    greens = [sf.geom for sf in rep.features if sf.role == "green"]
    measured["green_ratio"] = float(shapely.union_all(greens).intersection(site).area) / site_area if greens else None
    rep.figures["indicators"] = {k: (None if v is None else round(v, 6)) for k, v in measured.items()}
    for key, spec in tol["indicators"].items():
        value, limit = measured.get(key), approved.get(key)
        if value is None or limit is None:
            continue
        name_zh, name_en = spec["name"]
        over = value - limit if spec["limit"] == "max" else limit - value
        fig = {"measured": round(value, 6), "approved": limit, "tolerance": spec["absolute"], "limit": spec["limit"],
               "approved_from": approved_source}
        word_zh = "上限" if spec["limit"] == "max" else "下限"
        if over > spec["absolute"]:
            rep.add("verification", "fail", f"{name_zh}实测 {value:.4f}，超出批准{word_zh} {limit:g}（容差 {spec['absolute']:g}）",
                    f"{name_en} as built {value:.4f} breaks the approved {spec['limit']} of {limit:g} "
                    f"(tolerance {spec['absolute']:g})", figures=fig)
        else:
            rep.add("verification", "pass", f"{name_zh}实测 {value:.4f}，符合批准{word_zh} {limit:g}",
                    f"{name_en} as built {value:.4f} within the approved {spec['limit']} of {limit:g}", figures=fig)


# ------------------------------------------------------------------------------ other files


def _check_raster(f: PackageFile, rep: PackageReport, settings: Settings) -> None:
    import rasterio
    from rasterio.errors import RasterioError

    try:
        with rasterio.open(f.path) as ds:
            crs = CRS.from_user_input(ds.crs.to_wkt()) if ds.crs else None
            bounds = ds.bounds
    except (RasterioError, OSError, ValueError) as exc:
        rep.add("read", "fail", f"栅格文件无法读取或已损坏：{exc}", f"the raster cannot be read or is corrupt: {exc}",
                file=f.name)
        return
    if crs is None:
        rep.add("math_basis", "fail", "栅格未声明坐标系", "the raster declares no CRS", file=f.name)
        return
    problem = basis_problem(crs, settings)
    if problem is not None:
        rep.add("math_basis", problem[0], problem[1], problem[2], file=f.name, figures={"crs": crs_label(crs)})
        if problem[0] == "fail":
            return
    box = reproject(np.array([shapely.box(*bounds)]), crs, store_crs(settings))[0]
    if not deployment_extent(settings).store.contains(box):
        rep.add("math_basis", "fail", "栅格范围超出辖区", "the raster lies outside the deployment", file=f.name)
        return
    rep.add("math_basis", "pass", f"栅格 CGCS2000，{crs_label(crs)}，位于辖区内", f"raster in CGCS2000, {crs_label(crs)}, inside",
            file=f.name)


def _check_document(f: PackageFile, rep: PackageReport) -> None:
    head = f.path.read_bytes()[:8]
    if f.suffix == ".pdf" and not head.startswith(b"%PDF-"):
        rep.add("read", "fail", "不是有效的 PDF 文件（文件头不符）", "not a valid PDF file (bad header)", file=f.name)
    elif f.suffix in (".jpg", ".jpeg") and not head.startswith(b"\xff\xd8"):
        rep.add("read", "fail", "不是有效的 JPEG 文件", "not a valid JPEG file", file=f.name)
    elif f.suffix == ".png" and not head.startswith(b"\x89PNG"):
        rep.add("read", "fail", "不是有效的 PNG 文件", "not a valid PNG file", file=f.name)


# ------------------------------------------------------------------------------ the package


def check_package(package: Package, item: Item, settings: Settings, tolerances: dict[str, Any], *,
                  approved_site: shapely.Geometry | None = None, approved_site_source: str | None = None,
                  plan_indicators: dict[str, float] | None = None) -> PackageReport:
    """Run every check of a package (all files are read; nothing stops at the first failure).

    Parameters
    ----------
    approved_site : shapely geometry in the store CRS, optional
        The project's accepted 勘测定界 boundary: later-stage features must lie inside it, and
        规划核实 measures against it.
    plan_indicators : dict, optional
        Approved indicators from the regulatory plan (used when metadata.json gives none).
    """
    rep = PackageReport()
    rep.figures["_tol"] = tolerances["area"]
    meta = package.metadata
    # manifest
    for f in package.files:
        if f.slot is None:
            rep.add("manifest", "fail", f"文件不在“{item.name_zh}”成果清单内（后缀或文件名不符）",
                    f"the file is outside the manifest of '{item.name_en}' (suffix or name does not fit)", file=f.name)
    for slot in item.slots:
        filled = [f for f in package.files if f.slot == slot]
        if slot.required and not filled:
            rep.add("manifest", "fail", f"缺少必交文件：{slot.slot}（{slot.kind}，{'、'.join(slot.suffixes)}）",
                    f"required file missing: {slot.slot} ({slot.kind}, {', '.join(slot.suffixes)})")
        if len(filled) > 1 and not slot.many:
            rep.add("manifest", "fail", f"{slot.slot} 只能有一个文件，实有 {len(filled)} 个：{'、'.join(f.name for f in filled)}",
                    f"{slot.slot} takes one file, found {len(filled)}: {', '.join(f.name for f in filled)}")
    if package.metadata_problem is not None:
        p = package.metadata_problem
        rep.add("read", "fail", p.zh, p.en, file=p.feature)
    if not any(f.status == "fail" and f.check == "manifest" for f in rep.findings):
        rep.add("manifest", "pass", f"文件齐全，符合“{item.name_zh}”成果清单", f"complete against the manifest of '{item.name_en}'")

    tol_basis = tolerances["math_basis"]
    table_area: float | None = None
    for f in package.files:
        if f.slot is None:
            continue
        if f.kind == "vector":
            # 规划核实 measures the footprint against the site itself (with its own tolerance).
            exempt = ("boundary", "footprint") if item.verification else ("boundary",)
            rep.features.extend(_read_vector(f, rep, settings, meta, approved_site,
                                             tol_basis["project_area_buffer_m"], exempt))
        elif f.kind == "raster":
            _check_raster(f, rep, settings)
        elif f.kind == "document":
            _check_document(f, rep)
        elif f.kind == "table" and f.slot.slot == "area_table":
            try:
                table_area, _ = read_area_table(f.path)
            except Exception as exc:  # noqa: BLE001 - any unreadable table is reported on the file
                rep.add("read", "fail", f"面积表无法读取（需含“地块编号”“面积(平方米)”列）：{exc}",
                        f"the area table cannot be read (columns 地块编号 and 面积(平方米) needed): {exc}", file=f.name)
    tol_topo = tolerances["topology"]
    _topology(rep.features, rep, tol_topo)
    _buildings_inside(rep.features, rep, tol_topo)
    _consistency(rep, table_area, tolerances["area"])
    if item.verification:
        approved = {k: float(v) for k, v in (meta.get("approved") or {}).items()
                    if k in tolerances["verification"]["indicators"] and isinstance(v, (int, float))}
        source = "metadata.json" if approved else None
        if not approved and plan_indicators:
            approved, source = dict(plan_indicators), "regulatory_plan"
        _verification(rep, approved_site, approved, source, tolerances["verification"])
        if approved_site_source:
            rep.figures["approved_site_from"] = approved_site_source
    rep.figures.pop("_tol", None)
    rep.site_file_no = _site_file(rep.features)
    return rep


def _site_file(features: list[SurveyFeature]) -> int | None:
    """The file whose features form the package's site: a TXT of parcels first, then any parcel
    or boundary file, then the footprints' file."""
    for pick in (lambda s: s.role == "parcel" and s.txt, lambda s: s.role in ("parcel", "boundary"),
                 lambda s: s.role == "footprint"):
        found = next((s.file_no for s in features if pick(s)), None)
        if found is not None:
            return found
    return None
