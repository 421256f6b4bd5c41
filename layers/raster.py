"""GeoTIFF rasters (DEM, orthophoto): check, reproject into the store CRS when needed, and keep
as Cloud-Optimized GeoTIFF under ``GISPLAT_HOME/rasters`` (content-addressed, never
overwritten). Metadata goes to the store with the layer version."""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
import shapely
from pyproj import CRS
from rasterio.errors import RasterioIOError
from rasterio.warp import Resampling, calculate_default_transform, reproject

from gis_platform.core.files import file_sha256
from gis_platform.core.crs import crs_label, deployment_extent, diagnose, reproject as reproject_geoms
from gis_platform.core.crs import store_crs
from gis_platform.core.errors import CRSError, ExtentError, InputError, LimitError, Problem
from gis_platform.core.settings import Settings

MAX_PIXELS = 400_000_000


@dataclass
class PreparedRaster:
    """A COG written to a temporary file, ready to be moved into the raster store."""

    tmp_path: Path
    sha256: str
    source_crs: str
    extent_wkt: str
    meta: dict[str, Any]
    notes: list[dict[str, Any]] = field(default_factory=list)
    created: Path | None = None


def prepare_cog(path: Path, settings: Settings, given: CRS | None, display: str) -> PreparedRaster:
    """Validate a GeoTIFF and write it as a COG in the store CRS to a temporary file."""
    try:
        src = rasterio.open(path)
    except RasterioIOError as exc:
        raise InputError(f"无法读取栅格：{exc}", f"cannot read the raster: {exc}", file=display) from None
    with src:
        if src.width * src.height * src.count > MAX_PIXELS:
            raise LimitError(
                f"栅格像元数 {src.width}×{src.height}×{src.count} 超过上限 {MAX_PIXELS}",
                f"raster of {src.width}×{src.height}×{src.count} pixels exceeds {MAX_PIXELS}",
                file=display,
            )
        declared = CRS.from_user_input(src.crs.to_wkt()) if src.crs else None
        if declared is None and given is None:
            c = np.array([[(src.bounds.left + src.bounds.right) / 2, (src.bounds.bottom + src.bounds.top) / 2]])
            hints = diagnose(c, None, settings)
            raise CRSError(
                "栅格未声明坐标系，平台不会猜测；请用 --crs 指定",
                "the raster declares no CRS and the platform does not guess; give one with --crs",
                file=display,
                problems=[Problem(f"建议：{h.cause_zh}", f"suggestion: {h.cause_en}") for h in hints[:3]],
            )
        src_crs = given or declared
        assert src_crs is not None
        if src.transform.is_identity:
            raise InputError("栅格没有地理参考（仿射变换为单位阵）", "the raster has no georeferencing",
                             file=display)
        b = src.bounds
        footprint = shapely.box(b.left, b.bottom, b.right, b.top).segmentize(max(b.right - b.left, b.top - b.bottom) / 20)
        in_store = reproject_geoms(np.array([footprint]), src_crs, store_crs(settings))[0]
        if not deployment_extent(settings).store.contains(in_store):
            hints = diagnose(np.array([[(b.left + b.right) / 2, (b.bottom + b.top) / 2]]), src_crs, settings)
            cause = hints[0] if hints else None
            raise ExtentError(
                f"栅格范围在{settings.city_name}之外" + (f"。可能原因：{cause.cause_zh}" if cause else ""),
                "the raster lies outside the deployment extent" + (f". Likely cause: {cause.cause_en}" if cause else ""),
                file=display,
            )
        dst_crs = store_crs(settings)
        fd, tmp_name = tempfile.mkstemp(suffix=".tif", prefix="gisplat-cog-")
        os.close(fd)
        tmp = Path(tmp_name)
        categorical = np.issubdtype(np.dtype(src.dtypes[0]), np.integer)
        resampling = Resampling.nearest if categorical else Resampling.bilinear
        profile = {
            "driver": "COG", "dtype": src.dtypes[0], "count": src.count, "nodata": src.nodata,
            # ZSTD with 256-pixel tiles: small windows (a site's slope) decode ~5x faster than
            # DEFLATE with 512-pixel tiles.
            "compress": "ZSTD", "BLOCKSIZE": 256, "OVERVIEWS": "AUTO",
        }
        if src_crs == dst_crs:
            transform, width, height = src.transform, src.width, src.height
            data = src.read()
        else:
            transform, width, height = calculate_default_transform(
                src_crs.to_wkt(), dst_crs.to_wkt(), src.width, src.height, *src.bounds)
            data = np.full((src.count, height, width), src.nodata if src.nodata is not None else 0,
                           dtype=src.dtypes[0])
            for band in range(src.count):
                reproject(
                    source=rasterio.band(src, band + 1), destination=data[band],
                    src_crs=src_crs.to_wkt(), dst_crs=dst_crs.to_wkt(), dst_transform=transform,
                    dst_nodata=src.nodata, resampling=resampling,
                )
        with rasterio.open(tmp, "w", crs=dst_crs.to_wkt(), transform=transform, width=width,
                           height=height, **profile) as dst:
            dst.write(data)
            out_bounds = dst.bounds
    meta = {
        "crs": crs_label(dst_crs), "width": width, "height": height, "count": int(profile["count"]),
        "dtype": str(profile["dtype"]), "nodata": profile["nodata"],
        "transform": list(transform)[:6], "resolution": [abs(transform.a), abs(transform.e)],
        "bounds": list(out_bounds), "resampling": resampling.name if src_crs != dst_crs else None,
    }
    extent = shapely.box(*out_bounds)
    return PreparedRaster(tmp, file_sha256(tmp), crs_label(src_crs), shapely.to_wkt(extent), meta)


def store_cog(prepared: PreparedRaster, settings: Settings) -> Path:
    """Move the COG into the raster store under its sha256 (never overwriting another file)."""
    settings.raster_dir.mkdir(parents=True, exist_ok=True)
    final = settings.raster_dir / f"{prepared.sha256}.tif"
    prepared.meta["cog_sha256"] = prepared.sha256
    if final.exists():
        prepared.tmp_path.unlink(missing_ok=True)
    else:
        shutil.move(prepared.tmp_path, final)
        prepared.created = final
    return final


def discard(prepared: PreparedRaster) -> None:
    """Remove what a failed load wrote: the temporary COG and a newly stored one."""
    prepared.tmp_path.unlink(missing_ok=True)
    if prepared.created is not None:
        prepared.created.unlink(missing_ok=True)
