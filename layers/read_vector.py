"""Vector readers through GDAL (pyogrio): GeoJSON, GeoPackage, Shapefile (plain or zipped), KML."""

from __future__ import annotations

import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from pyogrio.errors import DataLayerError, DataSourceError
from pyproj import CRS

from gis_platform.core.errors import InputError, LimitError, Problem
from gis_platform.core.settings import Limits

from .sources import ReadResult

FORMATS = {
    ".geojson": "geojson",
    ".json": "geojson",
    ".gpkg": "gpkg",
    ".shp": "shapefile",
    ".kml": "kml",
}


class FeatureIds:
    """Labels of features ("FID 12", or "layer:12" across KML folders), made on demand."""

    def __init__(self, parts: list[tuple[str | None, np.ndarray]]) -> None:
        self._prefix: list[str | None] = []
        self._fids: list[np.ndarray] = []
        self._starts: list[int] = []
        total = 0
        for prefix, fids in parts:
            self._prefix.append(prefix)
            self._fids.append(np.asarray(fids))
            self._starts.append(total)
            total += len(fids)
        self._len = total

    def __len__(self) -> int:
        return self._len

    def __getitem__(self, i: int) -> str:
        part = int(np.searchsorted(self._starts, i, side="right")) - 1
        fid = self._fids[part][i - self._starts[part]]
        prefix = self._prefix[part]
        return f"{prefix}:{fid}" if prefix is not None else f"FID {fid}"


def list_layers(path: Path) -> list[str]:
    """Layer names in a multi-layer source (GeoPackage, KML)."""
    try:
        return [str(name) for name, _ in pyogrio.list_layers(path)]
    except (DataSourceError, DataLayerError) as exc:
        raise InputError(
            f"无法打开文件：{exc}", f"cannot open the file: {exc}", file=path.name
        ) from None


def _choose_layer(path: Path, fmt: str, source_layer: str | None, display: str) -> str | None:
    names = list_layers(path)
    if source_layer is not None:
        if source_layer not in names:
            raise InputError(
                f"文件中没有图层“{source_layer}”；可选图层：{', '.join(names)}",
                f"no layer '{source_layer}' in the file; layers: {', '.join(names)}",
                file=display,
            )
        return source_layer
    if len(names) == 0:
        raise InputError("文件中没有图层", "the file holds no layer", file=display)
    if len(names) > 1 and fmt == "gpkg":
        raise InputError(
            f"文件包含多个图层，请用 --source-layer 指定其一：{', '.join(names)}",
            f"the file holds several layers; choose one with --source-layer: {', '.join(names)}",
            file=display,
        )
    return names[0]


def _json_safe(value: object) -> object:
    if value is None:
        return None
    if isinstance(value, (np.floating, float)):
        f = float(value)
        return None if not np.isfinite(f) else f
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, (bytes, bytearray)):
        return value.hex()
    if isinstance(value, (pd.Timestamp, np.datetime64)):
        return None if pd.isna(value) else pd.Timestamp(value).isoformat()
    if hasattr(value, "isoformat"):
        return value.isoformat()  # type: ignore[no-any-return]
    return value


def _read_one(
    path: Path, layer: str | None, encoding: str | None, limits: Limits, display: str
) -> tuple[dict, np.ndarray, np.ndarray, pd.DataFrame]:
    try:
        info = pyogrio.read_info(path, layer=layer, encoding=encoding)
    except (DataSourceError, DataLayerError) as exc:
        raise InputError(f"无法读取文件：{exc}", f"cannot read the file: {exc}", file=display) from None
    count = int(info.get("features") or 0)
    if count > limits.max_features:
        raise LimitError(
            f"要素数 {count} 超过上限 {limits.max_features}",
            f"{count} features exceed the limit of {limits.max_features}",
            file=display,
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # unclosed rings: reported per feature below
        try:
            # Arrow is GDAL's fast columnar path (several times faster than row-wise reads).
            meta, table = pyogrio.raw.read_arrow(path, layer=layer, encoding=encoding, return_fids=True)
        except (DataSourceError, DataLayerError) as exc:
            raise InputError(
                f"无法读取文件：{exc}", f"cannot read the file: {exc}", file=display
            ) from None
    names = table.column_names
    geom_name = meta.get("geometry_name") or "wkb_geometry"
    fields = [str(f) for f in meta["fields"]]
    # Columns are taken by position: a GeoJSON "id" may appear both as the FID and as a field.
    geom_idx = max((i for i, n in enumerate(names) if n == geom_name), default=len(names) - 1)
    fid_name = meta.get("fid_column") or "OGC_FID"
    fid_idx = next((i for i, n in enumerate(names) if n == fid_name and i != geom_idx), None)
    if fid_idx is not None and names.count(fid_name) == 1 and fid_name in fields:
        fid_idx = None  # a real field that happens to carry the FID name
    attr_idx = [i for i in range(len(names)) if i not in (geom_idx, fid_idx)]
    wkb = table.column(geom_idx).to_numpy(zero_copy_only=False)
    fids = table.column(fid_idx).to_numpy() if fid_idx is not None else np.arange(table.num_rows)
    frame = pd.DataFrame({
        k: table.column(i).to_pandas(date_as_object=False, timestamp_as_object=False)
        for k, i in ((names[i], i) for i in attr_idx)
    })
    return meta, np.asarray(fids), wkb, frame


def read_vector(
    path: Path,
    limits: Limits,
    *,
    source_layer: str | None = None,
    encoding: str | None = None,
    display_name: str | None = None,
) -> ReadResult:
    """Read a GDAL vector source into a :class:`ReadResult` (geometry in the source CRS)."""
    display = display_name or path.name
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise InputError(
            f"不支持的文件类型“{path.suffix}”", f"unsupported file type '{path.suffix}'", file=display
        )
    if path.stat().st_size == 0:
        raise InputError("文件为空", "the file is empty", file=display)
    if fmt == "kml":
        layers = list_layers(path)
        if source_layer is not None:
            layers = [_choose_layer(path, fmt, source_layer, display) or ""]
    else:
        layers = [_choose_layer(path, fmt, source_layer, display) or ""]
    metas, fid_parts, wkb_parts, frames = [], [], [], []
    for name in layers:
        meta, fids, wkb, frame = _read_one(path, name or None, encoding, limits, display)
        metas.append(meta)
        fid_parts.append((name if len(layers) > 1 else None, fids))
        wkb_parts.append(wkb)
        frames.append(frame)
    wkb = np.concatenate(wkb_parts) if wkb_parts else np.array([], dtype=object)
    frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    feature_ids = FeatureIds(fid_parts)
    if len(wkb) == 0:
        raise InputError("文件中没有要素", "the file holds no features", file=display)
    if len(wkb) > limits.max_features:
        raise LimitError(
            f"要素数 {len(wkb)} 超过上限 {limits.max_features}",
            f"{len(wkb)} features exceed the limit of {limits.max_features}",
            file=display,
        )

    geoms = shapely.from_wkb(wkb, on_invalid="ignore")
    repairable: list[Problem] = []
    broken = np.flatnonzero(pd.isna(geoms) & ~pd.isna(wkb))
    if broken.size:
        fixed = shapely.from_wkb(wkb[broken], on_invalid="fix")
        geoms[broken] = fixed
        for i in broken:
            repairable.append(
                Problem("环未闭合（首末点不一致）", "ring not closed (first and last points differ)",
                        feature_ids[i])
            )
    crs_text = metas[0].get("crs")
    crs = CRS.from_user_input(crs_text) if crs_text else None
    if fmt == "kml" and crs is None:
        crs = CRS.from_epsg(4326)  # KML is WGS 84 by definition
    for col in frame.columns:
        if frame[col].dtype == object and pd.api.types.infer_dtype(frame[col], skipna=True) not in (
            "string", "empty", "integer", "boolean"
        ):
            frame[col] = frame[col].map(_json_safe)
    gdf = gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geoms), crs=None)
    return ReadResult(
        frame=gdf,
        crs=crs,
        source_format=fmt,
        source_layer=layers[0] if len(layers) == 1 else None,
        encoding=metas[0].get("encoding") or encoding,
        feature_ids=feature_ids,
        repairable=repairable,
        wkb=None if broken.size else wkb,
    )
