"""Exports of a conflict run: the patch layer (CYTB fields, DOMAIN.md §4), the sliver audit set
and the data-quality findings as GeoPackage / Shapefile / GeoJSON; the summary as CSV or XLSX."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import geopandas as gpd
import pyogrio
from sqlalchemy.orm import Session

from gis_platform.core.errors import InputError
from gis_platform.core.settings import Settings
from gis_platform.core.vocabulary import SLIVER_REASONS, label

from .conflict_results import STATUSES, category_name, data_quality, get_run, patches
from .conflict_results import side_labels as labels_of
from .conflict_profiles import profile_book

FORMATS = {"gpkg": "GPKG", "shp": "ESRI Shapefile", "geojson": "GeoJSON"}
WHAT = ("patches", "slivers", "quality")
_FLAG = {True: "是", False: "否", None: "无数据"}


def _flag(v: bool | None) -> str:
    return _FLAG[v]


def patch_frame(session: Session, settings: Settings, run_id: int, *, slivers: bool = False) -> gpd.GeoDataFrame:
    """The patches (or slivers) of a run as a GeoDataFrame with the CYTB field names."""
    run = get_run(session, run_id)
    labels = labels_of(profile_book().profiles.get(run["profile"]), run["summary"])
    subtypes = profile_book().subtypes
    rows = patches(session, run_id, slivers=slivers, limit=2_000_000_000, with_geometry=True)
    recs = []
    for p in rows:
        recs.append({
            "BSM": p["patch_no"], "CYLX": p["category"], "CYLXMC": category_name(p["category"], labels)[0],
            "ZLX": subtypes.get(p["subtype"], {}).get("zh") if p["subtype"] else None,
            "TGDM": p["a_code"] or p["a_raw"], "TGMC": p["a_name"], "CGDM": p["b_code"] or p["b_raw"],
            "CGMC": p["b_name"], "MJ": round(p["area_m2"], 2), "MJ_HA": p["area_ha"],
            "XZQDM": p["county_code"], "XZQMC": p["county_name"], "XZDM": p["township_code"],
            "XZMC": p["township_name"], "SFZYYN": _flag(p["in_farmland"]), "SFZYHX": _flag(p["in_redline"]),
            "SFZKFBJ": _flag(p["in_udb"]), "YXJ": p["priority"],
            "ZT": STATUSES[p["status"]][0], "CBBM": p["department"], "YJ": p["comment"],
            **({"GLYY": SLIVER_REASONS[p["filter_reason"]][0]} if slivers else {}),
            "geometry": p["geometry"],
        })
    cols = ["BSM", "CYLX", "CYLXMC", "ZLX", "TGDM", "TGMC", "CGDM", "CGMC", "MJ", "MJ_HA", "XZQDM", "XZQMC",
            "XZDM", "XZMC", "SFZYYN", "SFZYHX", "SFZKFBJ", "YXJ", "ZT", "CBBM", "YJ"] + (["GLYY"] if slivers else [])
    return gpd.GeoDataFrame(recs, columns=cols + ["geometry"], geometry="geometry", crs=settings.store_srid)


def quality_frame(session: Session, settings: Settings, run_id: int) -> gpd.GeoDataFrame:
    """The data-quality findings of a run."""
    get_run(session, run_id)
    kinds = {"overlap": "图层内部重叠", "gap": "覆盖范围内缺漏"}
    recs = [{"CE": d["side"], "LX": kinds[d["kind"]], "YSBH": ",".join(map(str, d["fids"])),
             "DM": ",".join(d["codes"]), "MJ": round(d["area_m2"], 2), "geometry": d["geometry"]}
            for d in data_quality(session, run_id)]
    return gpd.GeoDataFrame(recs, columns=["CE", "LX", "YSBH", "DM", "MJ", "geometry"], geometry="geometry",
                            crs=settings.store_srid)


def export_layer(session: Session, settings: Settings, run_id: int, out: Path, fmt: str | None = None,
                 what: str = "patches") -> int:
    """Write patches, slivers or quality findings; returns the number of features written."""
    fmt = (fmt or out.suffix.lstrip(".")).lower()
    if fmt not in FORMATS:
        raise InputError(f"不支持的导出格式“{fmt}”（gpkg、shp、geojson）",
                         f"unsupported export format '{fmt}' (gpkg, shp, geojson)", file=out.name)
    if what not in WHAT:
        raise InputError(f"导出内容“{what}”无效", f"unknown export '{what}' (one of {', '.join(WHAT)})")
    frame = quality_frame(session, settings, run_id) if what == "quality" else \
        patch_frame(session, settings, run_id, slivers=what == "slivers")
    layer = {"patches": "CYTB", "slivers": "CYTB_SLIVER", "quality": "CYTB_DQ"}[what]
    kwargs: dict[str, Any] = {"driver": FORMATS[fmt]}
    if fmt == "gpkg":
        kwargs["layer"] = layer
    if fmt == "shp":
        kwargs["encoding"] = "UTF-8"
    if fmt == "geojson":
        frame = frame.to_crs(4490)
    out.parent.mkdir(parents=True, exist_ok=True)
    pyogrio.write_dataframe(frame, out, **kwargs)
    return len(frame)


def summary_tables(session: Session, run_id: int) -> dict[str, list[dict[str, Any]]]:
    """The summary tables by category and by county, with Chinese headings."""
    run = get_run(session, run_id)
    s = run["summary"]
    by_cat = [{"差异类型代码": c["category"], "差异类型": c["name_zh"], "子类": c.get("subtype_zh") or "",
               "图斑数": c["count"], "面积(平方米)": round(c["area_m2"], 2), "面积(公顷)": c["area_ha"],
               "占比": c["share"]} for c in s["by_category"]]
    by_county = [{"行政区代码": c["county_code"] or "", "行政区": c["county_name"] or "（无行政区数据）",
                  "差异类型代码": c["category"], "差异类型": c["name_zh"], "图斑数": c["count"],
                  "面积(平方米)": round(c["area_m2"], 2), "面积(公顷)": c["area_ha"], "占比": c["share"]}
                 for c in s["by_county"]]
    slivers = [{"过滤原因": label(SLIVER_REASONS, x["reason"], "zh"),
                "图斑数": x["count"], "面积(平方米)": round(x["area_m2"], 2)} for x in s["slivers"]]
    quality = [{"问题": k, "数量": v["count"], "面积(平方米)": round(v["area_m2"], 2)}
               for k, v in s["data_quality"].items()]
    return {"按类型": by_cat, "按行政区": by_county, "碎片过滤": slivers, "数据质量": quality}


def export_summary(session: Session, run_id: int, out: Path) -> None:
    """The summary as XLSX (one sheet per table) or CSV (tables one after another)."""
    tables = summary_tables(session, run_id)
    fmt = out.suffix.lower()
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt == ".xlsx":
        from openpyxl import Workbook

        wb = Workbook()
        wb.remove(wb.active)
        for name, rows in tables.items():
            ws = wb.create_sheet(name)
            if rows:
                ws.append(list(rows[0]))
                for r in rows:
                    ws.append(list(r.values()))
        wb.save(out)
    elif fmt == ".csv":
        with out.open("w", encoding="utf-8-sig", newline="") as fh:
            w = csv.writer(fh)
            for name, rows in tables.items():
                w.writerow([f"# {name}"])
                if rows:
                    w.writerow(list(rows[0]))
                    w.writerows(list(r.values()) for r in rows)
                w.writerow([])
    else:
        raise InputError("汇总表只能导出为 .csv 或 .xlsx", "the summary exports as .csv or .xlsx", file=out.name)
