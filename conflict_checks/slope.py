"""Slope of a site from a DEM: Horn's method (as ``gdaldem slope``) over the site's pixels.

The DEM is a single-band (Cloud-Optimized) GeoTIFF in the same projected metric CRS as the
site (the store CRS, EPSG:4523). Only the window around the site is read. All shares are
estimated at pixel resolution: a pixel belongs to the site when its centre lies inside the
polygon (holes excluded), and each counted pixel stands for one full pixel area.
"""

from __future__ import annotations

import math
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
import shapely
from rasterio.enums import MaskFlags
from rasterio.features import geometry_mask
from rasterio.windows import Window

_OPEN: dict[tuple[int, Path], tuple[rasterio.DatasetReader, threading.Lock]] = {}
_OPEN_LOCK = threading.Lock()
MAX_OPEN = 8
MAX_WINDOW_PIXELS = 50_000_000
"""Largest window :func:`slope_stats` will read (memory bound)."""



@dataclass
class SlopeStats:
    """Slope figures of one site (shares estimated at pixel resolution)."""

    covered_share: float  # share of the site's area that has DEM pixels with data (0..1)
    share_above: float  # share of the covered site area with slope > threshold (0..1)
    area_above_m2: float
    mean_deg: float | None  # None when nothing is covered
    max_deg: float | None
    pixels: int  # covered pixels counted inside the site (valid slope, centre inside)


def horn_slope(z: np.ndarray, xres: float, yres: float,
               valid: np.ndarray | None = None) -> np.ndarray:
    """Slope raster in degrees by Horn's method (``gdaldem slope``); NaN at the edges and where
    the 3×3 neighbourhood touches invalid data. ``valid`` is the data mask (default: finite
    values); ``xres``/``yres`` are the positive pixel sizes in metres."""
    if valid is None:
        valid = np.isfinite(z)
    h, w = z.shape
    out = np.full(z.shape, np.nan)
    if h < 3 or w < 3:
        return out
    zz = z.astype(np.float64)

    def at(dr: int, dc: int) -> np.ndarray:
        return zz[1 + dr:h - 1 + dr, 1 + dc:w - 1 + dc]

    ok = np.ones((h - 2, w - 2), dtype=bool)
    for dr in (-1, 0, 1):
        for dc in (-1, 0, 1):
            ok &= valid[1 + dr:h - 1 + dr, 1 + dc:w - 1 + dc]
    with np.errstate(invalid="ignore", over="ignore"):
        dzdx = (at(-1, 1) + 2 * at(0, 1) + at(1, 1) - at(-1, -1) - 2 * at(0, -1) - at(1, -1)) / (8 * xres)
        dzdy = (at(1, -1) + 2 * at(1, 0) + at(1, 1) - at(-1, -1) - 2 * at(-1, 0) - at(-1, 1)) / (8 * yres)
        inner = np.degrees(np.arctan(np.hypot(dzdx, dzdy)))
    inner[~ok] = np.nan
    out[1:-1, 1:-1] = inner
    return out


def _site_window(src: rasterio.DatasetReader, site: shapely.Geometry) -> Window | None:
    """The window over the site's bounds plus a 2-pixel margin, clipped; None if empty
    (north-up rasters only)."""
    t = src.transform
    x0, y0, x1, y1 = site.bounds
    c0 = max(math.floor((x0 - t.c) / t.a) - 2, 0)
    c1 = min(math.ceil((x1 - t.c) / t.a) + 2, src.width)
    r0 = max(math.floor((y1 - t.f) / t.e) - 2, 0)
    r1 = min(math.ceil((y0 - t.f) / t.e) + 2, src.height)
    if c1 <= c0 or r1 <= r0:
        return None
    return Window(c0, r0, c1 - c0, r1 - r0)


def _dataset(path: Path) -> tuple[rasterio.DatasetReader, threading.Lock]:
    """An open dataset shared by this process's threads, with the lock that guards it (rasterio
    datasets are not thread-safe). One handle per file keeps one GDAL block cache, so checks
    near each other reuse decoded tiles. The raster store is content-addressed, so a cached
    file never changes under us."""
    key = (os.getpid(), path)
    with _OPEN_LOCK:
        hit = _OPEN.get(key)
        if hit is not None and not hit[0].closed:
            return hit
        for k in [k for k in _OPEN if k[0] != key[0]]:  # inherited through a fork: not ours
            _OPEN.pop(k)
        if len(_OPEN) >= MAX_OPEN:
            old = next(iter(_OPEN))
            src, lock = _OPEN.pop(old)
            with lock:
                src.close()
        hit = _OPEN[key] = (rasterio.open(path), threading.Lock())
        return hit


def slope_stats(cog_path: Path, site: shapely.Geometry, threshold_deg: float = 25.0) -> SlopeStats:
    """Slope statistics of ``site`` from the DEM at ``cog_path``.

    The DEM must be single band, north-up, in the site's projected metric CRS. Pixels of the
    site are those whose centre lies inside it (holes excluded); if none does (a tiny site),
    all touched pixels are used. A pixel counts as covered when its Horn slope is defined,
    i.e. its whole 3×3 neighbourhood has data and lies inside the raster.
    ``covered_share`` is (covered pixels × pixel area) / site area, capped at 1.0 — an
    estimate at pixel resolution. ``share_above``, ``area_above_m2``, mean and max refer
    to the covered pixels only. Raises ValueError for an empty or zero-area site, a rotated
    raster, or a window over :data:`MAX_WINDOW_PIXELS`.
    """
    if site is None or site.is_empty or site.area <= 0:
        raise ValueError("slope_stats needs a site polygon with a positive area")
    empty = SlopeStats(0.0, 0.0, 0.0, None, None, 0)
    src, lock = _dataset(cog_path)
    with lock:  # everything that touches the shared dataset
        t = src.transform
        if t.b != 0 or t.d != 0:
            raise ValueError(f"{cog_path}: rotated rasters are not supported")
        xres, yres = abs(t.a), abs(t.e)
        win = _site_window(src, site)
        if win is None:
            return empty
        n = int(win.width) * int(win.height)
        if n > MAX_WINDOW_PIXELS:
            raise ValueError(
                f"site too large for slope analysis: its DEM window has {n:,} pixels "
                f"(limit {MAX_WINDOW_PIXELS:,}); split the site or use a coarser DEM")
        z = src.read(1, window=win)
        flags = src.mask_flag_enums[0]
        if MaskFlags.all_valid in flags:
            valid = np.ones(z.shape, dtype=bool)
        elif flags == [MaskFlags.nodata] and src.nodata is not None:
            valid = z != src.nodata  # the mask GDAL would derive, without reading the window again
        else:
            valid = src.read_masks(1, window=win) > 0
        wt = src.window_transform(win)
    if np.issubdtype(z.dtype, np.floating):
        valid &= np.isfinite(z)
    shape = z.shape
    # pixel centres inside the site (a private copy is prepared: the caller may share ``site``)
    mine = shapely.from_wkb(shapely.to_wkb(site))
    shapely.prepare(mine)
    xs = wt.c + wt.a * (np.arange(shape[1]) + 0.5)
    ys = wt.f + wt.e * (np.arange(shape[0]) + 0.5)
    inside = shapely.contains_xy(mine, xs[np.newaxis, :], ys[:, np.newaxis])
    if not inside.any():
        inside = geometry_mask([site], out_shape=shape, transform=wt, invert=True,
                               all_touched=True)
    slope = horn_slope(z, xres, yres, valid)[inside]
    slope = slope[np.isfinite(slope)]
    if slope.size == 0:
        return empty
    px_area = xres * yres
    above = int(np.count_nonzero(slope > threshold_deg))
    return SlopeStats(
        covered_share=min(1.0, slope.size * px_area / site.area),
        share_above=above / slope.size,
        area_above_m2=above * px_area,
        mean_deg=float(slope.mean()),
        max_deg=float(slope.max()),
        pixels=int(slope.size),
    )
