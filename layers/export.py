"""Export a layer version to GeoPackage, Shapefile (zipped when the name ends in .zip) or GeoJSON.

Export then ingest gives back the same features and areas: geometry stays in the store CRS
(GeoJSON carries its CRS), attributes come from the stored properties.
"""

from __future__ import annotations

import json
import tempfile
import zipfile
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import shapely
from pyproj import CRS
from sqlalchemy.orm import Session

from gis_platform.core.errors import InputError

from . import queries

FORMATS = {"gpkg": "GPKG", "shp": "ESRI Shapefile", "geojson": "GeoJSON"}


def version_frame(session: Session, version_id: int, srid: int) -> gpd.GeoDataFrame:
    """The features of one version as a GeoDataFrame in the store CRS."""
    rows = session.execute(queries.SELECT_VERSION_FEATURES, {"version_id": version_id}).all()
    props = [r.properties or {} for r in rows]
    frame = pd.DataFrame(props)
    geoms = shapely.from_wkb([bytes(r.wkb) for r in rows]) if rows else []
    return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geoms), crs=CRS.from_epsg(srid))


def export_frame(frame: gpd.GeoDataFrame, fmt: str, out: Path, layer_name: str) -> Path:
    """Write ``frame`` to ``out`` in ``fmt``; return the path written."""
    if fmt not in FORMATS:
        raise InputError(
            f"导出格式“{fmt}”无效；可选：{', '.join(FORMATS)}",
            f"format was '{fmt}' but is expected to be one of: {', '.join(FORMATS)}",
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    for col in frame.columns:
        if col != frame.geometry.name and frame[col].map(lambda v: isinstance(v, (dict, list))).any():
            frame[col] = frame[col].map(lambda v: json.dumps(v, ensure_ascii=False) if isinstance(v, (dict, list)) else v)
    if fmt == "shp" and out.suffix.lower() == ".zip":
        with tempfile.TemporaryDirectory() as tmp:
            shp = Path(tmp) / f"{out.stem}.shp"
            pyogrio.write_dataframe(frame, shp, driver=FORMATS[fmt], encoding="UTF-8")
            with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
                for f in sorted(Path(tmp).iterdir()):
                    zf.write(f, f.name)
        return out
    if out.exists():
        out.unlink()
    kwargs = {"encoding": "UTF-8"} if fmt == "shp" else {}
    if fmt == "gpkg":
        kwargs["layer"] = layer_name
    pyogrio.write_dataframe(frame, out, driver=FORMATS[fmt], **kwargs)
    return out
