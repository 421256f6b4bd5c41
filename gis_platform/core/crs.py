"""CRS policy: the store CRS, parsing user-given CRSs, reprojection, the deployment extent, and
diagnosis of likely mistakes (swapped axes, wrong zone, zone prefix, degrees vs metres).

The platform never guesses a CRS silently: diagnosis only *suggests*, in the error message.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import shapely
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError as ProjCRSError
from shapely.geometry import Polygon, box

from .errors import CRSError
from .settings import Settings

# Candidates tried when diagnosing: CGCS2000 geographic, 3° zones 34–36 with and without prefix,
# 6° zone 18 (105°E) with and without prefix, WGS 84.
CANDIDATE_EPSG = (4523, 4544, 4522, 4543, 4524, 4545, 4496, 4507, 4490, 4326)


def parse_crs(text: str, *, file: str | None = None) -> CRS:
    """A CRS from ``EPSG:4523``, ``4523``, WKT or a PROJ string; a clear error otherwise."""
    value = text.strip()
    if value.isdigit():
        value = f"EPSG:{value}"
    try:
        return CRS.from_user_input(value)
    except ProjCRSError:
        raise CRSError(
            f"无法识别的坐标系“{text}”，请使用 EPSG 代码，如 EPSG:4523",
            f"unknown CRS '{text}'; give an EPSG code such as EPSG:4523",
            file=file,
        ) from None


def crs_label(crs: CRS) -> str:
    """``EPSG:4523`` when the CRS has an EPSG code, else its name."""
    epsg = crs.to_epsg(min_confidence=90)
    return f"EPSG:{epsg}" if epsg else crs.name


@lru_cache(maxsize=64)
def _transformer(src_wkt: str, dst_wkt: str) -> Transformer:
    return Transformer.from_crs(CRS.from_wkt(src_wkt), CRS.from_wkt(dst_wkt), always_xy=True)


def transformer(src: CRS, dst: CRS) -> Transformer:
    """A cached x=easting/lon, y=northing/lat transformer."""
    return _transformer(src.to_wkt(), dst.to_wkt())


def reproject(geoms: np.ndarray, src: CRS, dst: CRS) -> np.ndarray:
    """Reproject an array of shapely geometries (vectorised; identity when src equals dst)."""
    if src == dst:
        return geoms
    return _transform(transformer(src, dst), geoms)


@lru_cache(maxsize=16)
def epsg_transformer(src: int, dst: int) -> Transformer:
    """A cached x=easting/lon, y=northing/lat transformer between two EPSG codes."""
    return Transformer.from_crs(_epsg_crs(src), _epsg_crs(dst), always_xy=True)


def reproject_epsg(geoms: np.ndarray, src: int, dst: int) -> np.ndarray:
    """:func:`reproject` between two EPSG codes, without building CRS objects each time."""
    if src == dst:
        return geoms
    return _transform(epsg_transformer(src, dst), geoms)


def _transform(tr: Transformer, geoms: np.ndarray) -> np.ndarray:
    def _xy(coords: np.ndarray) -> np.ndarray:
        x, y = tr.transform(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(geoms, _xy)


@lru_cache(maxsize=16)
def epsg_label(srid: int) -> str:
    """:func:`crs_label` of an EPSG code (cached)."""
    return crs_label(_epsg_crs(srid))


@dataclass(frozen=True)
class Extent:
    """The deployment extent in the store CRS and in lon/lat."""

    store: Polygon
    lonlat: tuple[float, float, float, float]


@lru_cache(maxsize=8)
def _extent(srid: int, lonlat: tuple[float, float, float, float]) -> Extent:
    ring = box(*lonlat).segmentize(0.01)
    store = reproject(np.array([ring]), CRS.from_epsg(4490), CRS.from_epsg(srid))[0]
    shapely.prepare(store)
    return Extent(store=store, lonlat=lonlat)


def deployment_extent(settings: Settings) -> Extent:
    """The extent every stored geometry must lie within."""
    return _extent(settings.store_srid, tuple(settings.extent_lonlat))


def store_crs(settings: Settings) -> CRS:
    """The projected CGCS2000 CRS all geometry is stored and measured in."""
    return _epsg_crs(settings.store_srid)


@lru_cache(maxsize=16)
def _epsg_crs(code: int) -> CRS:
    return CRS.from_epsg(code)


def _tm_params(crs: CRS) -> tuple[float, float] | None:
    """(central meridian, false easting) of a Transverse Mercator CRS, else None."""
    if not crs.is_projected:
        return None
    params = {p.name: p.value for p in crs.coordinate_operation.params}  # type: ignore[union-attr]
    lon0 = params.get("Longitude of natural origin")
    x0 = params.get("False easting")
    if lon0 is None or x0 is None:
        return None
    return float(lon0), float(x0)


def _fits(sample: np.ndarray, crs: CRS, settings: Settings) -> bool:
    try:
        tr = transformer(crs, store_crs(settings))
        x, y = tr.transform(sample[:, 0], sample[:, 1])
    except Exception:  # noqa: BLE001 - an impossible projection simply does not fit
        return False
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        return False
    pts = shapely.points(x, y)
    return bool(np.all(shapely.contains(deployment_extent(settings).store, pts)))


@dataclass
class Suggestion:
    """A CRS reading under which the coordinates land inside the deployment."""

    epsg: int
    swapped: bool
    cause_zh: str
    cause_en: str


def _cause(declared: CRS | None, cand: CRS, swapped: bool) -> tuple[str, str]:
    label = crs_label(cand)
    if swapped:
        return (
            f"坐标轴顺序颠倒（x 与 y 互换）；按 {label} 并交换坐标列后落在辖区内",
            f"swapped axes (x and y exchanged); as {label} with columns swapped the data fits",
        )
    if declared is None:
        return (f"坐标看起来是 {label}（{cand.name}）", f"the coordinates look like {label} ({cand.name})")
    if declared.is_geographic and cand.is_projected:
        return (
            f"以米为单位的坐标被声明为经纬度；应为 {label}",
            f"metres declared as degrees; the data fits {label}",
        )
    if declared.is_projected and cand.is_geographic:
        return (
            f"经纬度被声明为米制投影坐标；应为 {label}",
            f"degrees declared as metres; the data fits {label}",
        )
    d, c = _tm_params(declared), _tm_params(cand)
    if d and c:
        if d[0] == c[0] and d[1] > 1e6 >= c[1]:
            return (
                f"横坐标缺少带号前缀；应为不带带号的 {label}",
                f"missing zone prefix in the easting; the data fits {label} (no prefix)",
            )
        if d[0] == c[0] and c[1] > 1e6 >= d[1]:
            return (
                f"横坐标带有带号前缀；应为带带号的 {label}",
                f"the easting carries a zone prefix; the data fits {label}",
            )
        if d[0] != c[0]:
            return (
                f"投影带错误：声明中央经线 {d[0]:g}°，数据符合中央经线 {c[0]:g}°（{label}）",
                f"wrong zone: declared central meridian {d[0]:g}°, the data fits {c[0]:g}° ({label})",
            )
    return (f"数据符合 {label}", f"the data fits {label}")


def diagnose(sample: np.ndarray, declared: CRS | None, settings: Settings) -> list[Suggestion]:
    """CRS readings (and axis swaps) under which ``sample`` (n×2, x,y as read) lands inside."""
    out: list[Suggestion] = []
    if sample.size == 0:
        return out
    for swapped in (False, True):
        pts = sample[:, ::-1] if swapped else sample
        for code in CANDIDATE_EPSG:
            cand = CRS.from_epsg(code)
            if declared is not None and cand == declared and not swapped:
                continue
            if _fits(pts, cand, settings):
                zh, en = _cause(declared, cand, swapped)
                out.append(Suggestion(code, swapped, zh, en))
        if out:
            break
    return out


def sample_points(geoms: np.ndarray, limit: int = 500) -> np.ndarray:
    """Up to ``limit`` representative (x, y) points of the geometries (bounding-box centres)."""
    valid = geoms[~shapely.is_empty(geoms)]
    if valid.size == 0:
        return np.empty((0, 2))
    if valid.size > limit:
        idx = np.linspace(0, valid.size - 1, limit).astype(int)
        valid = valid[idx]
    b = shapely.bounds(valid)
    pts = np.column_stack([(b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2])
    return pts[np.all(np.isfinite(pts), axis=1)]
