"""Slope statistics on synthetic DEMs (pure: no database)."""

from __future__ import annotations

import math
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import rasterio
import shapely
from rasterio.transform import from_origin
from shapely.geometry import MultiPolygon, Polygon, box

from conflict_checks import slope as slope_mod
from conflict_checks.slope import horn_slope, slope_stats

X0, Y0 = 35465600.0, 3939000.0  # top-left corner, EPSG:4523
RES = 10.0
N = 100  # 100 x 100 pixels = 1 km x 1 km


def write_dem(path: Path, z: np.ndarray, nodata: float | None = None, xres: float = RES,
              yres: float = RES, driver: str = "COG") -> Path:
    """Write a single-band float32 DEM with its top-left corner at (X0, Y0)."""
    with rasterio.open(path, "w", driver=driver, width=z.shape[1], height=z.shape[0], count=1,
                       dtype="float32", crs="EPSG:4523", nodata=nodata,
                       transform=from_origin(X0, Y0, xres, yres)) as dst:
        dst.write(z.astype("float32"), 1)
    return path


def centres(shape: tuple[int, int] = (N, N), xres: float = RES,
            yres: float = RES) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre coordinates (x, y) of a raster at (X0, Y0)."""
    rows, cols = np.indices(shape)
    return X0 + (cols + 0.5) * xres, Y0 - (rows + 0.5) * yres


def plane(deg: float) -> np.ndarray:
    """Elevation of a plane rising eastward at ``deg`` degrees."""
    x, _ = centres()
    return (x - X0) * math.tan(math.radians(deg))


def pixbox(c0: float, r0: float, c1: float, r1: float) -> Polygon:
    """A box given in (fractional) pixel columns/rows of the test raster."""
    return box(X0 + c0 * RES, Y0 - r1 * RES, X0 + c1 * RES, Y0 - r0 * RES)


def split_dem(xs: float) -> np.ndarray:
    """10° east of X0 up to ``xs``, 40° beyond (continuous)."""
    x, _ = centres()
    t10, t40 = math.tan(math.radians(10)), math.tan(math.radians(40))
    return np.where(x < xs, (x - X0) * t10, (xs - X0) * t10 + (x - xs) * t40)


def test_plane_30_degrees(tmp_path: Path) -> None:
    dem = write_dem(tmp_path / "p30.tif", plane(30))
    with rasterio.open(dem) as src:
        s = horn_slope(src.read(1), RES, RES)
    assert np.isnan(s[0]).all() and np.isnan(s[:, -1]).all()
    assert np.abs(s[1:-1, 1:-1] - 30.0).max() < 0.01

    site = pixbox(20, 20, 70, 70)
    st = slope_stats(dem, site, 25.0)
    assert st.pixels == 2500
    assert st.covered_share == 1.0
    assert st.share_above == 1.0
    assert st.area_above_m2 == pytest.approx(250_000.0)
    assert st.mean_deg == pytest.approx(30.0, abs=0.01)
    assert st.max_deg == pytest.approx(30.0, abs=0.01)


def test_plane_10_degrees(tmp_path: Path) -> None:
    dem = write_dem(tmp_path / "p10.tif", plane(10))
    st = slope_stats(dem, pixbox(20, 20, 70, 70))
    assert st.share_above == 0.0
    assert st.area_above_m2 == 0.0
    assert st.mean_deg == pytest.approx(10.0, abs=0.01)
    assert st.covered_share == 1.0


def test_split_dem_share_matches_centre_count(tmp_path: Path) -> None:
    xs = X0 + 500.0  # a pixel edge: centres east of it see 34°, west of it 18.9° (Horn)
    dem = write_dem(tmp_path / "split.tif", split_dem(xs))
    site = Polygon([(X0 + 303.3, Y0 - 203.7), (X0 + 751.1, Y0 - 288.2),
                    (X0 + 612.9, Y0 - 787.4), (X0 + 255.5, Y0 - 650.1)])
    x, y = centres()
    inside = shapely.contains_xy(site, x, y)
    expected = np.count_nonzero(inside & (x > xs)) / np.count_nonzero(inside)
    assert 0.2 < expected < 0.8

    st = slope_stats(dem, site, 25.0)
    assert st.pixels == np.count_nonzero(inside)
    assert st.share_above == pytest.approx(expected, abs=1e-12)
    assert st.area_above_m2 == pytest.approx(np.count_nonzero(inside & (x > xs)) * RES * RES)
    assert st.max_deg > 30.0


def test_site_half_outside(tmp_path: Path) -> None:
    dem = write_dem(tmp_path / "p30.tif", plane(30))
    st = slope_stats(dem, pixbox(-30, 35, 30, 65))
    assert st.covered_share == pytest.approx(0.5, abs=0.05)
    assert st.share_above == 1.0
    assert st.mean_deg == pytest.approx(30.0, abs=0.01)


def test_site_wholly_outside(tmp_path: Path) -> None:
    dem = write_dem(tmp_path / "p30.tif", plane(30))
    for site in (pixbox(-50, 10, -10, 40), pixbox(150, 150, 200, 200)):
        st = slope_stats(dem, site)
        assert st.covered_share == 0.0
        assert st.mean_deg is None and st.max_deg is None
        assert st.pixels == 0 and st.share_above == 0.0 and st.area_above_m2 == 0.0


@pytest.mark.parametrize("nodata", [-9999.0, float("nan")])
def test_nodata_holes_excluded(tmp_path: Path, nodata: float) -> None:
    z = plane(30)
    hole = np.zeros(z.shape, dtype=bool)
    hole[40:45, 40:46] = True
    hole[70, 25] = True
    z[hole] = nodata
    dem = write_dem(tmp_path / "holes.tif", z, nodata=nodata)
    site = pixbox(20, 20, 80, 80)

    near = hole.copy()  # dilate by one pixel: their 3x3 neighbourhood touches no-data
    for dr in (-1, 0, 1):
        for dc in (-1, 0, 1):
            near |= np.roll(np.roll(hole, dr, 0), dc, 1)
    x, y = centres()
    inside = shapely.contains_xy(site, x, y)
    expected = np.count_nonzero(inside & ~near)

    st = slope_stats(dem, site)
    assert st.pixels == expected
    assert st.covered_share == pytest.approx(expected * RES * RES / site.area)
    assert st.covered_share < 1.0
    assert st.max_deg == pytest.approx(30.0, abs=0.01)
    assert st.share_above == 1.0


def test_holed_site_excludes_steep_part(tmp_path: Path) -> None:
    z = plane(10)
    rows, cols = np.indices(z.shape)
    rough = (rows >= 45) & (rows < 55) & (cols >= 45) & (cols < 55)
    z[rough] += np.where((rows + cols)[rough] % 2 == 0, 0.0, 200.0)
    dem = write_dem(tmp_path / "rough.tif", z)
    outer = pixbox(20, 20, 80, 80)

    assert slope_stats(dem, outer).share_above > 0.0  # sanity: the rough patch is steep
    holed = Polygon(outer.exterior.coords, [pixbox(40, 40, 60, 60).exterior.coords])
    st = slope_stats(dem, holed)
    assert st.share_above == 0.0
    assert st.max_deg == pytest.approx(10.0, abs=0.01)
    assert st.pixels == 60 * 60 - 20 * 20
    assert st.covered_share == 1.0


def test_multipart_site(tmp_path: Path) -> None:
    dem = write_dem(tmp_path / "split.tif", split_dem(X0 + 500.0))
    site = MultiPolygon([pixbox(10, 10, 30, 30), pixbox(60, 60, 70, 90)])
    st = slope_stats(dem, site)
    assert st.pixels == 400 + 300
    assert st.share_above == pytest.approx(300 / 700)
    assert st.covered_share == 1.0


def test_tiny_site_uses_all_touched(tmp_path: Path) -> None:
    dem = write_dem(tmp_path / "p30.tif", plane(30))
    site = box(X0 + 506, Y0 - 512, X0 + 511, Y0 - 507)  # 5 m x 5 m, no pixel centre inside
    x, y = centres()
    assert not shapely.contains_xy(site, x, y).any()
    st = slope_stats(dem, site)
    assert st.pixels == 4
    assert st.mean_deg == pytest.approx(30.0, abs=0.01)
    assert st.covered_share == 1.0
    assert st.share_above == 1.0


def test_window_limit_and_bad_sites(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dem = write_dem(tmp_path / "p30.tif", plane(30))
    with pytest.raises(ValueError, match="empty|positive area"):
        slope_stats(dem, Polygon())
    with pytest.raises(ValueError, match="positive area"):
        slope_stats(dem, shapely.LineString([(X0 + 100, Y0 - 100), (X0 + 300, Y0 - 300)]))
    monkeypatch.setattr(slope_mod, "MAX_WINDOW_PIXELS", 100)
    with pytest.raises(ValueError, match="too large"):
        slope_stats(dem, pixbox(20, 20, 70, 70))
    assert slope_stats(dem, pixbox(20, 20, 25, 25)).pixels == 25  # 7 x 7 window still fine


@pytest.mark.skipif(shutil.which("gdaldem") is None, reason="gdaldem (gdal-bin) not installed")
@pytest.mark.parametrize("yres", [10.0, 12.0])
def test_matches_gdaldem(tmp_path: Path, yres: float) -> None:
    rng = np.random.default_rng(42)
    shape = (90, 120)
    x, y = centres(shape, RES, yres)
    u, v = (x - X0) / 1000.0, (Y0 - y) / 1000.0
    z = 2000.0 + 40.0 * u * u - 30.0 * u * v
    for _ in range(6):
        fx, fy = rng.uniform(1.0, 6.0, 2)
        amp, phase = rng.uniform(20.0, 80.0), rng.uniform(0.0, 2 * np.pi)
        z += amp * np.sin(2 * np.pi * (fx * u + fy * v) + phase)
    dem = write_dem(tmp_path / "smooth.tif", z, nodata=-9999.0, yres=yres, driver="GTiff")
    out = tmp_path / "gdal_slope.tif"
    subprocess.run(["gdaldem", "slope", str(dem), str(out), "-q"], check=True)
    with rasterio.open(out) as src:
        ref = src.read(1).astype(np.float64)
    with rasterio.open(dem) as src:
        mine = horn_slope(src.read(1), RES, yres)

    inner = (slice(1, -1), slice(1, -1))
    assert np.isfinite(mine[inner]).all()
    assert np.abs(mine[inner] - ref[inner]).max() < 0.01
    assert ref[inner].max() > 25.0  # the surface is varied enough to mean something

    site = box(X0 + 103, y.min() + 57, X0 + 1097, y.max() - 61)
    inside = shapely.contains_xy(site, x, y)
    st = slope_stats(dem, site)
    assert st.pixels == np.count_nonzero(inside)
    assert st.mean_deg == pytest.approx(ref[inside].mean(), abs=0.01)
    assert st.max_deg == pytest.approx(ref[inside].max(), abs=0.01)
    assert st.share_above == pytest.approx(np.mean(ref[inside] > 25.0), abs=0.01)
