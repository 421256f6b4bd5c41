"""Small 多测合一 packages built in the tests (coordinates in EPSG:4523 around E 35 400 000–
35 410 000, N 3 900 000–3 910 000, a corner no other test uses)."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import shapely
from openpyxl import Workbook
from sqlalchemy import Engine, text

from tests.factories import write_vector

E0, N0 = 35_400_000.0, 3_900_000.0
PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
SURVEY_TABLES = ("survey_projects", "survey_packages", "survey_package_events", "survey_package_files",
                 "survey_features", "survey_shares", "submissions", "check_runs", "layer_versions", "audit_log")


def txt(polygons: list[shapely.Polygon], *, system: str = "2000国家大地坐标系", zone: int = 35,
        prefix: int | None = None, dkmj: list[float] | None = None) -> bytes:
    """A boundary coordinate TXT (DOMAIN.md §7) with one parcel per polygon (outer rings only)."""
    prefix = zone if prefix is None else prefix
    lines = ["[属性描述]", "格式版本号=1.01版本", "数据产生单位=定西市测试测绘有限公司", "数据产生日期=2025-06-15",
             f"坐标系={system}", "几度分带=3", "投影类型=高斯克吕格", "计量单位=米", f"带号={zone}", "精度=0.001",
             "转换参数=,,,,,,", "[地块坐标]"]
    for i, poly in enumerate(polygons):
        ring = list(poly.exterior.coords)
        ha = dkmj[i] if dkmj else round(poly.area / 10_000, 4)
        lines.append(f"{len(ring)},{ha:.4f},{i + 1},地块{i + 1},面,,城镇住宅用地,0701,@")
        for j, (e, n) in enumerate(ring):
            no = j + 1 if j < len(ring) - 1 else 1
            east = e - (35 - prefix) * 1_000_000 if prefix != 35 else e
            lines.append(f"J{no},1,{n:.3f},{east:.3f}")
    return ("\n".join(lines) + "\n").encode("gbk")


def area_xlsx(path: Path, rows: list[tuple[str, float]], total: float | None = None) -> Path:
    """A 面积表: columns 地块编号, 面积(平方米); a 合计 row when ``total`` is given."""
    wb = Workbook()
    ws = wb.active
    ws.append(["地块编号", "面积(平方米)", "备注"])
    for key, area in rows:
        ws.append([key, area, ""])
    if total is not None:
        ws.append(["合计", total, ""])
    wb.save(path)
    return path


def geojson(path: Path, geoms: list[shapely.Geometry], **columns: list[Any]) -> Path:
    """A GeoJSON file in EPSG:4523."""
    return write_vector(path, geoms, "EPSG:4523", **columns)


def make_zip(path: Path, files: dict[str, bytes | Path]) -> Path:
    """A package zip from names → bytes or files."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, content in files.items():
            zf.writestr(name, content.read_bytes() if isinstance(content, Path) else content)
    return path


def boundary_package(tmp: Path, parcels: list[shapely.Polygon], *, name: str = "pkg.zip",
                     table_total: float | None = None, vector: list[shapely.Polygon] | None = None,
                     txt_bytes: bytes | None = None, extra: dict[str, bytes | Path] | None = None) -> Path:
    """A 勘测定界 package: TXT, area table, report PDF, optionally a vector drawing."""
    rows = [(str(i + 1), round(p.area, 2)) for i, p in enumerate(parcels)]
    table = area_xlsx(tmp / "面积表.xlsx", rows, table_total)
    files: dict[str, bytes | Path] = {"界址点坐标.txt": txt_bytes or txt(parcels), "面积表.xlsx": table,
                                      "勘测定界报告.pdf": PDF}
    if vector is not None:
        files["勘测定界图.geojson"] = geojson(tmp / "v.geojson", vector)
    files.update(extra or {})
    return make_zip(tmp / name, files)


def counts(engine: Engine) -> dict[str, int]:
    """Row counts of the survey tables and of what a check would add."""
    with engine.connect() as conn:
        return {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in SURVEY_TABLES}


def metadata(**kw: Any) -> bytes:
    """metadata.json content."""
    return json.dumps(kw, ensure_ascii=False).encode()
