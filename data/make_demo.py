"""Generate the synthetic Dingxi 定西市 demo plan set.

    python data/make_demo.py --out DIR [--seed N]

Everything is synthetic and deterministic (fixed numpy seeds); no third-party data is
copied.  The only real facts used are the approximate coordinates of the seven county
seats.  Storage CRS is CGCS2000 / 3-degree GK zone 35 with zone prefix (EPSG:4523); KML
and the RFC 7946 GeoJSON files are written in EPSG:4326 as those formats require, while
window.geojson (EPSG:4523) and river_flood.geojson (EPSG:4490) carry a legacy "crs"
member.  See data/README.md.
"""
from __future__ import annotations

import argparse
import tempfile
import zipfile
from pathlib import Path

import ezdxf
import geopandas as gpd
import numpy as np
import pyogrio
import rasterio
import shapely
from pyproj import Transformer
from rasterio import features
from rasterio.transform import Affine, from_origin
from shapely import affinity
from shapely.geometry import LineString, MultiPoint, Polygon, box

CRS = "EPSG:4523"
TO_LL = Transformer.from_crs(4523, 4326, always_xy=True)
TO_XY = Transformer.from_crs(4326, 4523, always_xy=True)
_cx, _cy = TO_XY.transform(104.62, 35.58)
CX, CY = float(round(_cx)), float(round(_cy))          # Anding town centre (E, N)
X0, Y0, SIZE, RES = CX - 6000, CY - 6000, 12000, 10     # 12 km x 12 km window, 10 m DEM
WINDOW = box(X0, Y0, X0 + SIZE, Y0 + SIZE)
XZQDM = "621102"
OUTPUTS = ["counties.geojson", "dem.tif", "sandiao_dltb.gpkg", "land_use_plan_2006.gpkg",
           "urban_master_plan_shp.zip", "territorial_plan_2035.gpkg", "control_lines.gpkg",
           "water_source_zones.kml", "project_a.txt", "project_b.geojson", "project_c.dxf",
           "project_d.kml", "project_e_shp.zip", "project_f.gpkg", "window.geojson",
           "nature_reserve.gpkg", "cultural_relics_shp.zip", "geological_hazards.gpkg",
           "river_flood.geojson", "project_g.geojson"]

SANDIAO = {"0101": "水田", "0102": "水浇地", "0103": "旱地", "0301": "乔木林地",
           "0305": "灌木林地", "0404": "其他草地", "05H1": "商业服务业设施用地",
           "0601": "工业用地", "0701": "城镇住宅用地", "0702": "农村宅基地",
           "08H2": "科教文卫用地", "1003": "公路用地", "1004": "城镇村道路用地",
           "1006": "农村道路", "1101": "河流水面"}
GB2023 = {"0101": "水田", "0102": "水浇地", "0103": "旱地", "0301": "乔木林地",
          "0303": "灌木林地", "0403": "其他草地", "0601": "农村道路", "070101": "一类城镇住宅用地",
          "070102": "二类城镇住宅用地", "0703": "农村宅基地", "0801": "机关团体用地",
          "0804": "教育用地", "0806": "医疗卫生用地", "0901": "商业用地", "0902": "商务金融用地",
          "1001": "工业用地", "1101": "物流仓储用地", "1202": "公路用地", "1207": "城镇村道路用地",
          "1301": "供水用地", "1401": "公园绿地", "1402": "防护绿地", "1701": "河流水面"}
GB50137 = {"R1": "一类居住用地", "R2": "二类居住用地", "A1": "行政办公用地", "A3": "教育科研用地",
           "A5": "医疗卫生用地", "B1": "商业用地", "B2": "商务用地", "M1": "一类工业用地",
           "M2": "二类工业用地", "W1": "一类物流仓储用地", "S1": "城市道路用地", "U1": "供应设施用地",
           "G1": "公园绿地", "G2": "防护绿地", "E1": "水域", "E2": "农林用地", "H14": "村庄建设用地",
           # non-standard local codes (left for the code-mapping table to resolve)
           "BR": "商住混合用地", "C21": "商业用地", "r2": "二类居住用地"}
TDYT = {"010": "基本农田保护区", "020": "一般农地区", "030": "城镇建设用地区", "040": "村镇建设用地区",
        "050": "独立工矿区", "070": "生态环境安全控制区", "090": "林业用地区", "100": "牧业用地区"}
GZQ = {"010": "允许建设区", "020": "有条件建设区", "030": "限制建设区", "040": "禁止建设区"}
SANDIAO_TO_2023 = {"0101": "0101", "0102": "0102", "0103": "0103", "0301": "0301", "0305": "0303",
                   "0404": "0403", "05H1": "0901", "0601": "1001", "0701": "070102", "0702": "0703",
                   "08H2": "0804", "1003": "1202", "1004": "1207", "1006": "0601", "1101": "1701"}
GB50137_TO_2023 = {"R1": "070101", "R2": "070102", "r2": "070102", "BR": "070102", "A1": "0801",
                   "A3": "0804", "A5": "0806", "B1": "0901", "C21": "0901", "B2": "0902",
                   "M1": "1001", "M2": "1001", "W1": "1101", "S1": "1207", "U1": "1301",
                   "G1": "1401", "G2": "1402", "E1": "1701", "E2": "0103", "H14": "0703"}
STREETS = [("6211020010000000000", "中华路街道"), ("6211020020000000000", "永定路街道"),
           ("6211020030000000000", "福台路街道")]
VILLAGES = ["西岔村", "石家岔村", "北山村", "李家堡村", "景家口村", "东川村", "南坪村", "高峰村", "石峡湾村"]


# ----------------------------------------------------------------------------- helpers
def river_y(x):
    """Northing of the 关川河 centre line (flows west -> east through the window)."""
    u = 2 * np.pi * (np.asarray(x, dtype=float) - CX)
    return CY + 350 * np.sin(u / 7000) + 150 * (np.sin(u / 2900 + 0.7) - np.sin(0.7))


def floor_w(x):
    """Half width of the flat valley floor."""
    return 650 + 150 * np.sin(2 * np.pi * (np.asarray(x, dtype=float) - CX) / 5000 + 1.3)


def valley_e(x, y, a, b):
    """Elliptic 'distance' from the town centre measured along / across the valley."""
    return np.hypot((np.asarray(x) - CX) / a, (np.asarray(y) - river_y(x)) / b)


def river_line(x1=X0 - 200, x2=X0 + SIZE + 200):
    xs = np.arange(x1, x2 + 1, 25.0)
    return LineString(np.column_stack([xs, river_y(xs)]))


def valley_poly(a, b, n=180):
    """Smooth closed curve following the valley (star-shaped, hence simple)."""
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    x = CX + a * np.cos(t)
    return Polygon(np.column_stack([x, river_y(x) + b * np.sin(t)]))


def site(cx, cy, area_ha, rng, n=8, irregular=0.18):
    """Irregular star-shaped polygon with the requested area, vertices on a mm grid."""
    jitter = 0.3 if irregular > 0 else 0.0           # angular gaps stay < 180 deg: star-shaped
    ang = (np.arange(n) + jitter * rng.uniform(-1, 1, n)) * 2 * np.pi / n + rng.uniform(0, np.pi)
    r = 1 + irregular * rng.uniform(-1, 1, n)
    p = Polygon(np.column_stack([np.cos(ang) * r, np.sin(ang) * r]))
    k = np.sqrt(area_ha * 1e4 / p.area)
    pts = np.round(np.column_stack([cx + np.cos(ang) * r * k, cy + np.sin(ang) * r * k]), 3)
    return shapely.orient_polygons(Polygon(pts))


def smooth_noise(rng, n, sigma):
    """Gaussian-filtered white noise (periodic FFT filter), zero mean, unit variance."""
    k = np.fft.fftfreq(n)
    g = np.exp(-2 * (np.pi * sigma) ** 2 * (k[:, None] ** 2 + k[None, :] ** 2))
    f = np.real(np.fft.ifft2(np.fft.fft2(rng.standard_normal((n, n))) * g))
    return (f - f.mean()) / f.std()


def voronoi_cells(seeds, region):
    cells = shapely.voronoi_polygons(MultiPoint(seeds), extend_to=region, ordered=True)
    return [c for c in shapely.intersection(shapely.get_parts(cells), region) if c.area > 0]


def jittered_grid(rng, bounds, step, jitter=0.42):
    x1, y1, x2, y2 = bounds
    gx, gy = np.meshgrid(np.arange(x1 + step / 2, x2, step), np.arange(y1 + step / 2, y2, step))
    pts = np.column_stack([gx.ravel(), gy.ravel()])
    return pts + rng.uniform(-jitter, jitter, pts.shape) * step


def polys(geoms):
    """Explode to single polygons, dropping empties and degenerate pieces."""
    parts = shapely.get_parts(np.asarray(list(geoms), dtype=object))
    return [p for p in parts if isinstance(p, Polygon) and p.area > 1e-6]


def absorb_slivers(geoms, min_area, protected=()):
    """Merge pieces smaller than min_area into the neighbour with the longest shared edge.

    geoms is a planar partition; the result is still one.  Indices in `protected`
    (e.g. road strips) only receive slivers when no other neighbour exists.
    """
    geoms = list(geoms)
    tree = shapely.STRtree(geoms)
    parent = list(range(len(geoms)))

    def find(i):
        while parent[i] != i:
            i = parent[i]
        return i

    for i in sorted((i for i, g in enumerate(geoms) if g.area < min_area), key=lambda i: geoms[i].area):
        best, best_len = None, 0.0
        for j in tree.query(geoms[i], predicate="intersects"):
            if j == i:
                continue
            edge = shapely.length(shapely.intersection(geoms[i].boundary, geoms[j].boundary))
            score = edge * (0.01 if j in protected else 1.0)
            if score > best_len and find(j) != find(i):
                best, best_len = j, score
        if best is not None:
            parent[find(i)] = find(best)
    groups: dict[int, list[int]] = {}
    for i in range(len(geoms)):
        groups.setdefault(find(i), []).append(i)
    out = {}
    for root, members in groups.items():
        g = geoms[root] if len(members) == 1 else shapely.union_all([geoms[m] for m in members])
        out[root] = g
    return out  # root index -> merged geometry (root keeps its own attributes)


class Terrain:
    """10 m synthetic loess hill-and-gully DEM with the 关川河 valley running E-W."""

    def __init__(self, rng):
        n = SIZE // RES
        self.n = n
        self.transform = from_origin(X0, Y0 + SIZE, RES, RES)
        xs = X0 + RES / 2 + RES * np.arange(n)
        ys = Y0 + SIZE - RES / 2 - RES * np.arange(n)
        X, Y = np.meshgrid(xs, ys)
        d = np.abs(Y - river_y(X))
        s = d - floor_w(X)                                   # distance beyond the valley floor
        z = 1895 - 0.003 * (X - X0) + 0.012 * np.minimum(d, floor_w(X))
        t = np.clip(s, 0, 480) / 160                         # three river terraces 阶地
        u = np.clip((t - np.floor(t) - 0.72) / 0.28, 0, 1)
        z += 14 * (np.floor(t) + u * u * (3 - 2 * u))
        ramp = np.clip((s - 350) / 700, 0, 1)
        z += 290 * (1 - np.exp(-np.clip(s - 480, 0, None) / 1400))      # loess ridges 梁峁
        z += ramp * 35 * smooth_noise(rng, n, 60) + 2 * smooth_noise(rng, n, 30)
        g = np.clip(np.abs(smooth_noise(rng, n, 25)) / 0.45, 0, 1)
        z -= ramp * 40 * (1 - g) ** 2                                   # gullies 冲沟
        self.z = z.astype(np.float32)
        gy, gx = np.gradient(self.z.astype(float), RES)
        self.slope = np.degrees(np.arctan(np.hypot(gx, gy)))

    def zonal(self, geoms):
        """Mean slope and elevation per polygon (point sample for sub-pixel polygons)."""
        lab = features.rasterize(((g, i + 1) for i, g in enumerate(geoms)), out_shape=self.z.shape,
                                 transform=self.transform, fill=0, dtype="int32")
        cnt = np.bincount(lab.ravel(), minlength=len(geoms) + 1)
        sl = np.bincount(lab.ravel(), self.slope.ravel(), minlength=len(geoms) + 1)
        el = np.bincount(lab.ravel(), self.z.ravel(), minlength=len(geoms) + 1)
        pts = shapely.point_on_surface(np.asarray(geoms, dtype=object))
        col = np.clip(((shapely.get_x(pts) - X0) // RES).astype(int), 0, self.n - 1)
        row = np.clip(((Y0 + SIZE - shapely.get_y(pts)) // RES).astype(int), 0, self.n - 1)
        c = np.maximum(cnt[1:], 1)
        ok = cnt[1:] > 0
        return (np.where(ok, sl[1:] / c, self.slope[row, col]), np.where(ok, el[1:] / c, self.z[row, col]))

    def write(self, path):
        prof = dict(driver="GTiff", width=self.n, height=self.n, count=1, dtype="float32", crs=CRS,
                    transform=self.transform, nodata=-9999.0, compress="deflate", predictor=3,
                    tiled=True, blockxsize=256, blockysize=256)
        with rasterio.open(path, "w", **prof) as ds:
            ds.write(np.round(self.z, 2), 1)


# ----------------------------------------------------------------------------- 三调 DLTB
def linear_strips():
    """River (1101), national road (1003) and rural roads (1006) as polygons."""
    river = shapely.intersection(river_line().buffer(15, cap_style="flat"), WINDOW)
    xs = np.arange(X0 - 200, X0 + SIZE + 201, 25.0)
    hw = LineString(np.column_stack([xs, river_y(xs) + 0.45 * floor_w(xs)])).buffer(12, cap_style="flat")
    hw = shapely.intersection(hw, WINDOW).difference(river)
    roads = []
    for x, sign in [(X0 + 1500, 1), (X0 + 3300, -1), (X0 + 8800, 1), (X0 + 10500, -1)]:
        y = np.linspace(river_y(x), Y0 + SIZE + 200 if sign > 0 else Y0 - 200, 80)
        xx = x + 120 * np.sin((y - y[0]) / 400) + 40 * np.sin((y - y[0]) / 97)
        roads.append(LineString(np.column_stack([xx, y])).buffer(4, cap_style="flat"))
    roads = shapely.intersection(shapely.union_all(roads), WINDOW).difference(river).difference(hw)
    return [(p, "1101") for p in polys([river])] + [(p, "1003") for p in polys([hw])] + \
           [(p, "1006") for p in polys([roads])]


def make_dltb(terrain, rng):
    town = valley_poly(1900, 1000)
    base = jittered_grid(rng, WINDOW.bounds, 190)
    base = base[~shapely.contains_xy(town, base[:, 0], base[:, 1])]
    dense = jittered_grid(rng, WINDOW.bounds, 95)
    dense = dense[shapely.contains_xy(town, dense[:, 0], dense[:, 1])]
    cells = voronoi_cells(np.vstack([base, dense]), WINDOW)
    strips = linear_strips()
    cut = shapely.union_all([g for g, _ in strips])
    cells = polys(shapely.difference(cells, cut))
    geoms = [g for g, _ in strips] + cells
    fixed = [c for _, c in strips] + [None] * len(cells)
    merged = absorb_slivers(geoms, 150, protected=set(range(len(strips))))
    geoms = list(merged.values())
    fixed = [fixed[i] for i in merged]
    slope, elev = terrain.zonal(geoms)
    c = shapely.centroid(np.asarray(geoms, dtype=object))
    x, y = shapely.get_x(c), shapely.get_y(c)
    e_now = valley_e(x, y, 1400, 600)
    s = np.abs(y - river_y(x)) - floor_w(x)
    r = rng.uniform(size=len(geoms))
    codes = []
    for i in range(len(geoms)):
        if fixed[i]:
            codes.append(fixed[i] if not (fixed[i] == "1003" and e_now[i] < 1) else "1004")
        elif e_now[i] < 1 and slope[i] < 15:
            d0 = np.hypot(x[i] - CX, y[i] - CY)
            codes.append("05H1" if d0 < 500 and r[i] < 0.6 else "08H2" if r[i] < 0.07 else
                         "1004" if r[i] > 0.93 else "0701")
        elif CX + 1700 < x[i] < CX + 2300 and s[i] < 0 and slope[i] < 8:
            codes.append("0601")
        elif slope[i] > 17:                          # cell means: 17 deg ~ much of it > 25 deg
            codes.append("0301" if elev[i] > 2150 or r[i] < 0.35 else "0305" if r[i] < 0.7 else "0404")
        elif slope[i] > 10:
            codes.append("0103" if r[i] < 0.45 else "0404" if r[i] < 0.75 else "0305")
        elif s[i] < 480:
            codes.append("0702" if r[i] < 0.06 else "0102" if s[i] < 0 and r[i] < 0.45 else
                         "0101" if s[i] < 0 and r[i] > 0.985 else "0103")
        else:
            codes.append("0702" if r[i] < 0.025 else "0404" if r[i] > 0.9 else "0103")
    urban = {"0701", "05H1", "08H2", "1004", "0601"}
    rows = []
    for i, (g, code) in enumerate(zip(geoms, codes)):
        if e_now[i] < 1.2 or code == "0601":
            zl = STREETS[0 if x[i] < CX - 500 else 1 if x[i] < CX + 700 else 2]
        else:
            k = min(int((x[i] - X0) // 4000), 2) + 3 * min(int((y[i] - Y0) // 4000), 2)
            zl = (f"62110210{(k // 3) + 1}{200 + k + 1:03d}0000000", "凤翔镇" + VILLAGES[k])
        state = code in urban or code in ("1101", "1003")
        rows.append(dict(DLBM=code, DLMC=SANDIAO[code], QSXZ="10" if state else "30",
                         ZLDWDM=zl[0], ZLDWMC=zl[1], CZCSXM="201" if code in urban else
                         "203" if code == "0702" else None, geometry=g))
    df = gpd.GeoDataFrame(rows, crs=CRS)
    df = df.iloc[np.lexsort((df.geometry.centroid.x.round(1), -df.geometry.centroid.y.round(-2)))]
    df = df.reset_index(drop=True)
    df.insert(0, "BSM", np.arange(1, len(df) + 1, dtype="int64") + 621102_000000)
    df.insert(1, "YSDM", "2001010100")
    df.insert(2, "TBBH", (df.groupby("ZLDWDM").cumcount() + 1).astype(str))
    df["TBMJ"] = df.geometry.area.round(2)
    return df[["BSM", "YSDM", "TBBH", "DLBM", "DLMC", "QSXZ", "ZLDWDM", "ZLDWMC", "TBMJ", "CZCSXM",
               "geometry"]]


# ----------------------------------------------------------------------------- 土地利用总体规划
def make_land_use_plan(terrain, rng):
    out = {}
    for layer, step in [("TDYTQ", 520), ("JSYDGZQ", 650)]:
        cells = voronoi_cells(jittered_grid(rng, WINDOW.bounds, step), WINDOW)
        slope, elev = terrain.zonal(cells)
        c = shapely.centroid(np.asarray(cells, dtype=object))
        x, y = shapely.get_x(c), shapely.get_y(c)
        e = valley_e(x, y, 1600, 750)
        s = np.abs(y - river_y(x)) - floor_w(x)
        head = (x < X0 + 2600) & (s < 200)
        ind = (CX + 1600 < x) & (x < CX + 2300) & (s < 100)
        r = rng.uniform(size=len(cells))
        codes = []
        for i in range(len(cells)):
            if layer == "TDYTQ":
                codes.append("030" if e[i] < 1 else "050" if ind[i] else "070" if head[i] else
                             "040" if r[i] < 0.05 and slope[i] < 15 else
                             "010" if s[i] < 480 or (slope[i] < 12 and r[i] < 0.5) else
                             "090" if slope[i] > 20 else "100" if elev[i] > 2150 else "020")
            else:
                codes.append("010" if e[i] < 1 or ind[i] else "020" if e[i] < 1.4 else
                             "040" if head[i] or slope[i] > 24 else "030")
        names = TDYT if layer == "TDYTQ" else GZQ
        field = "TDYTQLXDM" if layer == "TDYTQ" else "GZQLXDM"
        df = gpd.GeoDataFrame({"BSM": np.arange(1, len(cells) + 1), field: codes,
                               field.replace("LXDM", "MC") if layer == "TDYTQ" else "GZQMC":
                               [names[k] for k in codes], "XZQDM": XZQDM}, geometry=cells, crs=CRS)
        df["MJ"] = df.geometry.area.round(2)
        out[layer] = df
    return out


# ----------------------------------------------------------------------------- 城市总体规划
def make_urban_plan(terrain, rng):
    sq = box(CX - 2200, CY - 2000, CX + 2200, CY + 2000)
    x1, y1, x2, y2 = sq.bounds
    xl = [x1]
    while xl[-1] < x2 - 420:
        xl.append(round(xl[-1] + rng.uniform(240, 380)))
    xl[-1] = x2
    yl = [y1]
    while yl[-1] < y2 - 420:
        yl.append(round(yl[-1] + rng.uniform(220, 360)))
    yl[-1] = y2
    hwx = [0] + [20 if i % 3 == 0 else 10 for i in range(1, len(xl) - 1)] + [0]   # half road widths
    hwy = [0] + [20 if i % 3 == 0 else 10 for i in range(1, len(yl) - 1)] + [0]
    parcels = []                                             # (geom, kind, block id)
    for j in range(1, len(yl) - 1):
        parcels.append((box(x1, yl[j] - hwy[j], x2, yl[j] + hwy[j]), "road", f"DL-H{j:02d}"))
    for i in range(1, len(xl) - 1):
        for j in range(len(yl) - 1):
            parcels.append((box(xl[i] - hwx[i], yl[j] + hwy[j], xl[i] + hwx[i], yl[j + 1] - hwy[j + 1]),
                            "road", f"DL-V{i:02d}{j:02d}"))
    for i in range(len(xl) - 1):
        for j in range(len(yl) - 1):
            bx = [box(xl[i] + hwx[i], yl[j] + hwy[j], xl[i + 1] - hwx[i + 1], yl[j + 1] - hwy[j + 1])]
            for _ in range(2):
                nxt = []
                for b in bx:
                    a, c, d, e = b.bounds
                    if rng.uniform() < 0.55 and b.area > 20000:
                        f = rng.uniform(0.35, 0.65)
                        if d - a > e - c:
                            m = round(a + f * (d - a), 1)
                            nxt += [box(a, c, m, e), box(m, c, d, e)]
                        else:
                            m = round(c + f * (e - c), 1)
                            nxt += [box(a, c, d, m), box(a, m, d, e)]
                    else:
                        nxt.append(b)
                bx = nxt
            parcels += [(b, "block", f"{chr(65 + j)}{i + 1:02d}-{k + 1:02d}") for k, b in enumerate(bx)]
    mask = valley_poly(2100, 1100).intersection(sq)
    river = river_line().buffer(30, cap_style="flat").intersection(sq)
    built = mask.difference(river)
    geoms, kinds, ids = [], [], []
    for g, kind, pid in parcels:
        for p in polys([g.intersection(built)]):
            geoms.append(p), kinds.append(kind), ids.append(pid)
    for p in polys([river]):
        geoms.append(p), kinds.append("E1"), ids.append("SY-01")
    for k, p in enumerate(polys([sq.difference(mask).difference(river)])):
        geoms.append(p), kinds.append("E2"), ids.append(f"NL-{k + 1:02d}")
    merged = absorb_slivers(geoms, 300, protected={i for i, k in enumerate(kinds) if k != "block"})
    keep = list(merged)
    geoms = [merged[i] for i in keep]
    kinds = [kinds[i] for i in keep]
    ids = [ids[i] for i in keep]
    slope, _ = terrain.zonal(geoms)
    c = shapely.centroid(np.asarray(geoms, dtype=object))
    x, y = shapely.get_x(c), shapely.get_y(c)
    d0 = np.hypot(x - CX, y - CY)
    dr = shapely.distance(river_line(), c)
    pocket = (valley_e(x, y, 1600, 750) < 1) & (valley_e(x, y, 1400, 600) > 1.05) & (x < CX - 900)
    r = rng.uniform(size=len(geoms))
    a1 = int(np.argmin(np.where(np.array(kinds) == "block", d0, np.inf)))
    codes = []
    for i, kind in enumerate(kinds):
        if kind != "block":
            codes.append({"road": "S1"}.get(kind, kind))
        elif pocket[i]:
            codes.append("E2")                       # deliberately non-construction in 城规
        elif i == a1 or (d0[i] < 450 and r[i] < 0.12):
            codes.append("A1")
        elif dr[i] < 90:
            codes.append("G1")
        elif slope[i] > 20:
            codes.append("G2")
        elif x[i] > CX + 1500:
            codes.append("M1" if r[i] < 0.4 else "M2" if r[i] < 0.75 else "W1")
        elif d0[i] < 750 and r[i] < 0.55:
            codes.append("B1" if r[i] < 0.4 else "B2")
        else:
            codes.append("A3" if r[i] < 0.07 else "A5" if r[i] < 0.09 else "U1" if r[i] < 0.11 else
                         "H14" if valley_e(x[i], y[i], 2100, 1100) > 0.88 and r[i] < 0.3 else
                         "R1" if r[i] > 0.9 else "R2")
    r2 = [i for i, k in enumerate(codes) if k == "R2"]
    for i, k in zip(rng.choice(r2, 7, replace=False), ["BR", "BR", "C21", "C21", "r2", "r2", "r2"]):
        codes[i] = k                                 # non-standard local codes 非标准代码
    df = gpd.GeoDataFrame({"DKBH": ids, "YDXZ": codes, "YDMC": [GB50137[k] for k in codes]},
                          geometry=geoms, crs=CRS)
    df["YDMJ"] = df.geometry.area.round(2)
    return df.sort_values(["DKBH", "YDMJ"]).reset_index(drop=True), sq


# ----------------------------------------------------------------------------- 三条控制线, 国土空间规划
def make_control_lines(dltb, terrain, rng):
    park = [(2450, -520), (3150, -440), (3120, 40), (2760, 60), (2500, 20)]
    udb = [valley_poly(1950, 950), Polygon([(CX + dx, CY + dy) for dx, dy in park])]
    udb_u = shapely.union_all(udb)
    czkfbj = gpd.GeoDataFrame({"BSM": [1, 2], "BJMC": ["定西市中心城区城镇开发边界", "定西市东川产业园城镇开发边界"],
                               "XZQDM": XZQDM}, geometry=udb, crs=CRS)
    # 生态保护红线: headwater corridor + the largest steep forest clusters
    head = river_line(X0 - 10, X0 + 2300).buffer(260, cap_style="flat").intersection(WINDOW)
    slope, _ = terrain.zonal(list(dltb.geometry))
    steep = dltb[dltb.DLBM.isin(["0301", "0305"]) & (slope > 17)]
    clusters = sorted(polys([shapely.union_all(steep.geometry.values)]), key=lambda p: -p.area)[:4]
    red = [head.difference(shapely.union_all(clusters))] + clusters
    red = [max(polys([g.difference(udb_u)]), key=lambda p: p.area) for g in red]
    stbhhx = gpd.GeoDataFrame({"BSM": range(1, len(red) + 1),
                               "HXMC": ["关川河源头水源涵养生态保护红线"] +
                                       [f"安定{'北' if p.centroid.y > river_y(p.centroid.x) else '南'}山"
                                        f"水土保持生态保护红线{k}" for k, p in enumerate(red[1:], start=1)],
                               "HXLX": ["水源涵养"] + ["水土保持"] * (len(red) - 1), "XZQDM": XZQDM},
                              geometry=red, crs=CRS)
    # 永久基本农田: gentle cropland outside the UDB and the red line
    r = rng.uniform(size=len(dltb))
    crop = dltb.DLBM.isin(["0101", "0102", "0103"]) & ((slope < 4) | ((slope < 8) & (r < 0.4)))
    avoid = shapely.union_all([udb_u] + red)
    cand = dltb[crop.values].copy()
    cand["geometry"] = shapely.difference(cand.geometry.values, avoid)
    patches = []
    for (_, code), grp in cand.groupby(["ZLDWDM", "DLBM"]):     # patches per village
        patches += [(p, code) for p in polys([shapely.union_all(grp.geometry.values)]) if p.area > 400]
    yj = gpd.GeoDataFrame({"DLBM": [c for _, c in patches]}, geometry=[p for p, _ in patches], crs=CRS)
    yj = yj.iloc[np.lexsort((yj.geometry.centroid.x.round(1), -yj.geometry.centroid.y.round(1)))]
    yj = yj.reset_index(drop=True)
    yj.insert(0, "BSM", np.arange(1, len(yj) + 1))
    yj["XZQDM"] = XZQDM
    yj["MJ"] = yj.geometry.area.round(2)
    return {"STBHHX": stbhhx, "YJJBNT": yj, "CZKFBJ": czkfbj}


def make_territorial_plan(dltb, urban, lines, slope_dltb):
    udb = lines["CZKFBJ"].geometry.values
    inner = urban.copy()
    inner["geometry"] = shapely.intersection(inner.geometry.values, udb[0])
    inner = inner[~inner.geometry.is_empty].explode(index_parts=False)
    inner = inner[inner.geometry.area > 1e-6]
    pieces = [(g, GB50137_TO_2023[c]) for g, c in zip(inner.geometry, inner.YDXZ) if isinstance(g, Polygon)]
    park = shapely.intersection(dltb.geometry.values, udb[1])
    pieces += [(g, "1207" if c in ("1003", "1006", "1004") else "1001")
               for p, c in zip(park, dltb.DLBM) for g in polys([p])]
    # near the town a few 永久基本农田 patches are (inconsistently) planned as construction
    yj = lines["YJJBNT"]
    dist = yj.geometry.distance(udb[0])
    bad = yj[(yj.MJ > 5000) & (yj.MJ < 60000)].assign(d=dist).sort_values("d").head(4)
    bad_codes = ["1001", "0703", "1001", "0703"]
    rest = shapely.difference(dltb.geometry.values, shapely.union_all(udb))
    for g0, code, sl in zip(rest, dltb.DLBM, slope_dltb):
        for g in polys([g0]):
            k = SANDIAO_TO_2023[code]
            if k == "0103" and sl > 14:
                k = "0301"                                   # 退耕还林 on steep cropland
            hit = shapely.area(shapely.intersection(g, bad.geometry.values)) > 0.5 * g.area
            if hit.any():
                k = bad_codes[int(np.argmax(hit))]
            pieces.append((g, k))
    merged = absorb_slivers([g for g, _ in pieces], 200)
    geoms = np.asarray(list(merged.values()), dtype=object)
    codes = np.asarray([pieces[i][1] for i in merged])
    out = []
    for k in sorted(set(codes)):                         # dissolve same-class neighbours
        out += [(p, k) for p in polys([shapely.union_all(geoms[codes == k])])]
    df = gpd.GeoDataFrame({"YDYHFLDM": [k for _, k in out], "YDYHFLMC": [GB2023[k] for _, k in out],
                           "XZQDM": XZQDM}, geometry=[p for p, _ in out], crs=CRS)
    df = df.iloc[np.lexsort((df.geometry.centroid.x.round(1), -df.geometry.centroid.y.round(1)))]
    df = df.reset_index(drop=True)
    df.insert(0, "BSM", np.arange(1, len(df) + 1))
    df["MJ"] = df.geometry.area.round(2)
    return df, bad


# ----------------------------------------------------------------------------- water source, counties
def make_water_source():
    l1 = river_line(X0 + 2600, X0 + 3800).buffer(100, cap_style="flat")
    l2 = river_line(X0 + 2000, X0 + 4000).buffer(500, cap_style="flat").difference(l1)
    df = gpd.GeoDataFrame({
        "Name": ["关川河饮用水水源一级保护区", "关川河饮用水水源二级保护区"],
        "Description": ["取水口上游1000米至下游100米河道及两岸各100米范围（示例数据）",
                        "一级保护区边界外上游1000米、下游200米及两岸500米范围（示例数据）"],
        "grade": ["一级", "二级"]}, geometry=[l1, l2], crs=CRS)
    return df


def make_counties():
    seats = {"621102": ("安定区", 104.61, 35.58), "621121": ("通渭县", 105.24, 35.21),
             "621122": ("陇西县", 104.63, 35.00), "621123": ("渭源县", 104.21, 35.13),
             "621124": ("临洮县", 103.86, 35.38), "621125": ("漳县", 104.47, 34.85),
             "621126": ("岷县", 104.04, 34.44)}
    ctrl = [(104.55, 35.95), (104.95, 35.78), (105.45, 35.50), (105.48, 35.10), (105.05, 34.85),
            (104.75, 34.50), (104.35, 34.30), (103.92, 34.28), (103.80, 34.60), (103.98, 34.95),
            (103.72, 35.20), (103.62, 35.55), (103.95, 35.68), (104.25, 35.62)]
    pts = np.array(TO_XY.transform(*np.array(ctrl).T)).T
    for _ in range(4):                                    # Chaikin corner cutting -> smooth outline
        nxt = np.roll(pts, -1, axis=0)
        pts = np.column_stack([0.75 * pts + 0.25 * nxt, 0.25 * pts + 0.75 * nxt]).reshape(-1, 2)
    outline = Polygon(pts)
    sx, sy = TO_XY.transform([v[1] for v in seats.values()], [v[2] for v in seats.values()])
    cells = shapely.voronoi_polygons(MultiPoint(np.column_stack([sx, sy])), extend_to=outline.buffer(1e4),
                                     ordered=True)
    geoms = [shapely.intersection(c, outline) for c in shapely.get_parts(cells)]
    df = gpd.GeoDataFrame({"XZQDM": list(seats), "XZQMC": [v[0] for v in seats.values()]},
                          geometry=geoms, crs=CRS)
    return df.to_crs(4326)


# ----------------------------------------------------------------------------- sectoral layers
def make_window():
    """The detailed window itself: the coverage area of the window's sparse layers."""
    return gpd.GeoDataFrame({"MC": ["定西市安定区中心城区多规合一示范区"], "XZQDM": [XZQDM],
                             "MJ": [round(WINDOW.area, 2)]}, geometry=[WINDOW], crs=CRS)


def _grid(res):
    n = SIZE // res
    xs = X0 + res / 2 + res * np.arange(n)
    ys = Y0 + SIZE - res / 2 - res * np.arange(n)
    return n, Affine(res, 0, X0, 0, -res, Y0 + SIZE), *np.meshgrid(xs, ys)


def make_nature_reserve(dltb, avoid, rng):
    """One reserve centred where forest (0301/0305) is densest within 1.3 km, away from the valley
    and from `avoid` (the example projects), split into nested 核心区 / 缓冲区 / 实验区."""
    res = 50
    n, tr, gx, gy = _grid(res)
    forest = dltb.geometry[dltb.DLBM.isin(["0301", "0305"])]
    f = features.rasterize(((g, 1) for g in forest), out_shape=(n, n), transform=tr, fill=0)
    off = np.fft.fftfreq(n) * n
    disk = (np.hypot(off[:, None], off[None, :]) <= 1300 / res).astype(float)
    share = np.real(np.fft.ifft2(np.fft.fft2(f.astype(float)) * np.fft.fft2(disk))) / disk.sum()
    ok = (gx > X0 + 1500) & (gx < X0 + SIZE - 1500) & (gy > Y0 + 1500) & (gy < Y0 + SIZE - 1500)
    ok &= np.abs(gy - river_y(gx)) > 2000
    ok &= shapely.distance(avoid, shapely.points(gx, gy)) > 1700
    i = int(np.argmax(np.where(ok, np.round(share, 9), -1)))
    cx, cy = float(gx.ravel()[i]), float(gy.ravel()[i])
    outer = site(cx, cy, 480.0, rng, n=18, irregular=0.22)
    mid, core = (affinity.scale(outer, k, k, origin=(cx, cy)) for k in (0.76, 0.5))
    mid, core = (Polygon(np.round(shapely.get_coordinates(g.exterior), 3)) for g in (mid, core))
    zones = [("核心区", core), ("缓冲区", mid.difference(core)), ("实验区", outer.difference(mid))]
    df = gpd.GeoDataFrame({"BHDMC": "安定北山省级自然保护区（示例）", "BHDLX": "自然保护区",
                           "JB": "省级", "GNFQ": [z for z, _ in zones], "XZQDM": XZQDM},
                          geometry=[g for _, g in zones], crs=CRS)
    df.insert(0, "BSM", np.arange(1, len(df) + 1))
    df["MJ"] = df.geometry.area.round(2)
    return df


def make_cultural_relics(rng):
    """Two relics: 保护范围 polygon and a 建设控制地带 ring around it (the zones of one relic
    do not overlap).  The town relic's control ring reaches project E's site."""
    ex = CX - 500
    specs = [("620000-1-0031", "关川古城墙遗址（示例）", "省级", "古遗址",
              site(ex, float(river_y(ex)) - 350 - 250, 1.2, rng, n=6), 150.0),
             ("621102-1-0007", "石峡湾马家窑文化遗址（示例）", "市级", "古遗址",
              site(X0 + 9600, float(river_y(X0 + 9600)) + 950, 3.5, rng, n=7), 100.0)]
    rows = []
    for code, name, level, kind, prot, width in specs:
        ring = prot.buffer(width, quad_segs=8).difference(prot)
        for zone, g in [("保护范围", prot), ("建设控制地带", ring)]:
            rows.append(dict(WWBH=code, WWMC=name, JB=level, LB=kind, BHLX=zone, geometry=g))
    df = gpd.GeoDataFrame(rows, crs=CRS)
    df["MJ"] = df.geometry.area.round(2)
    return df


def blur(a, sigma, pad):
    """Gaussian blur of a 2-D array (FFT filter on a reflect-padded copy), sigma in cells."""
    b = np.pad(a, pad, mode="reflect")
    k = np.fft.fftfreq(b.shape[0])
    g = np.exp(-2 * (np.pi * sigma) ** 2 * (k[:, None] ** 2 + k[None, :] ** 2))
    return np.real(np.fft.ifft2(np.fft.fft2(b) * g))[pad:-pad, pad:-pad]


def make_geological_hazards(terrain, udb, c_spot, rng):
    """易发区: the four largest patches where the share of slopes > 25 deg (smoothed over ~300 m)
    is in the top 10 %, plus the patch holding project C's spot; 危险区: small zones around the
    steepest cell of three of them (the two largest and C's), inside them."""
    k = 2                                                   # 20 m cells
    m = terrain.n // k
    share = (terrain.slope > 25).reshape(m, k, m, k).mean(axis=(1, 3))
    sm = np.round(blur(share, 15, 64), 9)
    tr = Affine(k * RES, 0, X0, 0, -k * RES, Y0 + SIZE)
    mask = (sm > np.quantile(sm, 0.90)).astype("uint8")
    parts = [shapely.geometry.shape(g) for g, v in features.shapes(mask, transform=tr) if v == 1]
    parts = sorted(parts, key=lambda p: (-round(p.area), round(p.centroid.x)))
    pick = parts[:4]
    holder = [p for p in parts if p.contains(shapely.Point(c_spot))]
    if holder and holder[0] not in pick:
        pick.append(holder[0])
    with_danger = sorted({0, 1, pick.index(holder[0]) if holder else 2})
    prone = []
    for p in pick:
        g = p.simplify(10).buffer(40, quad_segs=4).buffer(-40, quad_segs=4)      # smooth the cell steps
        g = max(polys([shapely.intersection(g, WINDOW).difference(udb)]), key=lambda q: q.area)
        prone.append(Polygon(np.round(shapely.get_coordinates(g.exterior), 3)))
    cx = X0 + (np.arange(m) + 0.5) * k * RES
    cy = Y0 + SIZE - (np.arange(m) + 0.5) * k * RES
    bx, by = np.meshgrid(cx, cy)
    danger = []
    for j in with_danger:
        inside = shapely.contains_xy(prone[j].buffer(-150), bx, by)
        i = int(np.argmax(np.where(inside, sm, -1)))
        g = site(float(bx.ravel()[i]), float(by.ravel()[i]), 9.0 if j < 2 else 4.0, rng, n=7)   # ha
        g = max(polys([g.intersection(prone[j].buffer(-10))]), key=lambda q: q.area)
        danger.append((j, g))
    kinds = ["滑坡", "崩塌", "不稳定斜坡"]
    rows = [dict(ZHLX="易发区", ZHZL="滑坡、崩塌", MC=f"安定区黄土沟壑滑坡崩塌易发区{j + 1}",
                 YFCD="高易发" if j < 2 else "中易发", geometry=g) for j, g in enumerate(prone)]
    rows += [dict(ZHLX="危险区", ZHZL=kinds[q], YFCD=None, geometry=g,
                  MC=f"安定区地质灾害危险区{q + 1}（位于易发区{j + 1}）") for q, (j, g) in enumerate(danger)]
    df = gpd.GeoDataFrame(rows, crs=CRS)
    df.insert(0, "BSM", np.arange(1, len(df) + 1))
    df["XZQDM"] = XZQDM
    df["MJ"] = df.geometry.area.round(2)
    return df


def make_river_flood():
    """关川河 河道管理范围 (蓝线, 50 m each side of the centre line) and the 洪涝风险区 beyond it:
    0.45 x the valley-floor half width, 0.18 x between the town's and the park's embankments."""
    xs = np.arange(X0 - 200, X0 + SIZE + 201, 25.0)
    town = 1 / (1 + np.exp(-(xs - (CX - 2300)) / 150)) / (1 + np.exp((xs - (CX + 3400)) / 150))
    w = floor_w(xs) * (0.45 - 0.27 * town)
    band = Polygon(np.vstack([np.column_stack([xs, river_y(xs) + w]),
                              np.column_stack([xs[::-1], (river_y(xs) - w)[::-1]])]))
    blue = shapely.intersection(river_line().buffer(50, cap_style="flat"), WINDOW)
    flood = polys([shapely.intersection(band, WINDOW).difference(blue)])
    flood = sorted(flood, key=lambda p: -p.centroid.y)
    rows = [dict(LX="河道管理范围", MC="关川河河道管理范围（蓝线）", geometry=blue)]
    rows += [dict(LX="洪涝风险区", MC=f"关川河{'北' if k == 0 else '南'}岸洪涝风险区", geometry=g)
             for k, g in enumerate(flood)]
    df = gpd.GeoDataFrame(rows, crs=CRS)
    df.insert(0, "BSM", np.arange(1, len(df) + 1))
    df["HLMC"] = "关川河"
    df["MJ"] = df.geometry.area.round(2)
    return df


# ----------------------------------------------------------------------------- example projects
def steepest_spot(terrain, avoid, north=True):
    """Centre of the 300 m block with the largest share of slopes > 25 deg (outside `avoid`)."""
    k = 30
    m = terrain.n // k
    share = (terrain.slope > 25).reshape(m, k, m, k).mean(axis=(1, 3))
    cx = X0 + (np.arange(m) + 0.5) * k * RES
    cy = Y0 + SIZE - (np.arange(m) + 0.5) * k * RES
    gx, gy = np.meshgrid(cx, cy)
    ok = ~shapely.intersects_xy(avoid.buffer(400), gx, gy) & ((gy > river_y(gx)) == north)
    ok &= (gx > X0 + 600) & (gx < X0 + SIZE - 600) & (gy > Y0 + 600) & (gy < Y0 + SIZE - 600)
    i = np.argmax(np.where(ok, share, -1))
    return float(gx.ravel()[i]), float(gy.ravel()[i])


def make_projects(lines, terrain, rng):
    px, py = CX + 1300, float(river_y(CX + 1300)) - 420
    a = site(px, py, 6.2, rng, n=9)
    hole = shapely.orient_polygons(site(px + 30, py - 10, 0.35, rng, n=4, irregular=0.0), exterior_cw=True)
    a1 = Polygon(a.exterior, [hole.exterior])
    a2 = site(px + 290, py - 160, 2.4, rng, n=5)
    yj = lines["YJJBNT"]
    other = shapely.union_all(list(make_water_source().geometry) + list(lines["STBHHX"].geometry))
    cand = yj[(yj.MJ > 40000) & (yj.geometry.distance(other) > 500)]
    tgt = cand.iloc[len(cand) // 2].geometry
    p = shapely.get_coordinates(tgt.exterior)[len(tgt.exterior.coords) // 3]
    b = site(p[0], p[1], 4.8, rng)
    sx, sy = steepest_spot(terrain, shapely.union_all(lines["STBHHX"].geometry.values))
    c1 = site(sx, sy, 8.5, rng, n=6)                  # loess gully slopes > 25 deg
    c2 = site(sx + 260, sy - 260, 2.1, rng, n=4, irregular=0.05)
    d = site(X0 + 3300, float(river_y(X0 + 3300)) + 330, 3.1, rng)
    e = site(CX - 500, float(river_y(CX - 500)) - 350, 1.9, rng, n=4, irregular=0.05)
    rp = lines["STBHHX"].geometry.iloc[1].representative_point()
    f = [site(CX + 2800, CY - 150, 12.5, rng),               # inside the industrial-park UDB
         site(rp.x, rp.y, 9.0, rng),                        # hits the ecological red line
         site(CX - 4400, CY - 1500, 24.0, rng, n=10)]       # outside the UDB, on cropland/PBF
    assert all(g.is_valid for g in [a1, a2, b, c1, c2, d, e, *f]) and a.contains(hole)
    return dict(a=[a1, a2], b=b, c=[c1, c2], d=d, e=e, f=f)


def make_project_g():
    """A 30 m wide, ~2.5 km road corridor running N-S across the headwater red line and the river."""
    x = X0 + 800
    ys = np.linspace(float(river_y(x)) - 1300, float(river_y(x)) + 1150, 50)
    xs = x + 90 * np.sin((ys - ys[0]) / 700) - 40 * np.sin((ys - ys[0]) / 260)
    centre = LineString(np.column_stack([xs, ys]))
    g = centre.buffer(15, cap_style="flat", quad_segs=4)
    assert g.is_valid and 2000 < centre.length < 3000
    return g


def write_coordinate_txt(path, parcels):
    lines = ["[属性描述]", "格式版本号=1.01版本", "数据产生单位=定西市某测绘有限公司（示例）",
             "数据产生日期=2025-06-15", "坐标系=2000国家大地坐标系", "几度分带=3", "投影类型=高斯克吕格",
             "计量单位=米", "带号=35", "精度=0.001", "转换参数=,,,,,,", "[地块坐标]"]
    meta = [("DK-01", "地块1", "工业用地", "1001"), ("DK-02", "地块2", "物流仓储用地", "1101")]
    for (bh, mc, yt, dl), poly in zip(meta, parcels):
        rings = [shapely.orient_polygons(poly).exterior] + list(shapely.orient_polygons(poly).interiors)
        pts, k = [], 1
        for q, ring in enumerate(rings, start=1):
            xy = np.asarray(ring.coords)[:-1]
            xy = np.roll(xy, -int(np.argmax(xy[:, 1] - xy[:, 0] * 1e-3)), axis=0)   # start in the north
            names = [f"J{k + m}" for m in range(len(xy))]
            k += len(xy)
            for nm, (e, n) in zip(names + names[:1], np.vstack([xy, xy[:1]])):
                pts.append(f"{nm},{q},{n:.3f},{e:.3f}")
        lines.append(f"{len(pts)},{poly.area / 1e4:.4f},{bh},{mc},面,,{yt},{dl},@")
        lines += pts
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("gbk"))


def write_dxf(path, parcels):
    old = ezdxf.options.write_fixed_meta_data_for_testing
    ezdxf.options.write_fixed_meta_data_for_testing = True       # deterministic header/GUIDs
    try:
        doc = ezdxf.new("R2010")
        doc.header["$INSUNITS"] = 6
        doc.layers.add("YDHX", color=1)
        doc.layers.add("BZ", color=7)
        msp = doc.modelspace()
        for k, poly in enumerate(parcels):
            xy = np.asarray(poly.exterior.coords)[:-1]
            pts = [(x, y, 0, 0, 0.18 if (k == 0 and i == 1) else 0) for i, (x, y) in enumerate(xy)]
            msp.add_lwpolyline(pts, format="xyseb", close=True, dxfattribs={"layer": "YDHX"})
            c = poly.representative_point()
            msp.add_text(f"地块{k + 1}", height=12, dxfattribs={"layer": "BZ"}).set_placement((c.x, c.y))
        doc.saveas(path)
    finally:
        ezdxf.options.write_fixed_meta_data_for_testing = old


def zip_shapefile(df, zpath, encoding, keep_cpg, dbf_date=None):
    with tempfile.TemporaryDirectory() as tmp:
        shp = Path(tmp) / (zpath.stem.removesuffix("_shp") + ".shp")
        pyogrio.write_dataframe(df, shp, encoding=encoding)
        if dbf_date is not None:                              # fixed header date, LDID 0
            dbf = shp.with_suffix(".dbf")
            b = bytearray(dbf.read_bytes())
            b[1:4] = bytes([dbf_date[0] - 1900, dbf_date[1], dbf_date[2]])
            b[29] = 0
            dbf.write_bytes(bytes(b))
        with zipfile.ZipFile(zpath, "w", zipfile.ZIP_DEFLATED) as zf:
            for ext in ["shp", "shx", "dbf", "prj"] + (["cpg"] if keep_cpg else []):
                f = shp.with_suffix("." + ext)
                info = zipfile.ZipInfo(f.name, date_time=(2020, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                zf.writestr(info, f.read_bytes())


def write_gpkg(df, path, layer):
    old = pyogrio.get_gdal_config_option("OGR_CURRENT_DATE")
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": "2025-06-30T00:00:00.000Z"})  # byte-stable
    try:
        pyogrio.write_dataframe(df, path, layer=layer, driver="GPKG")
    finally:
        pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": old})


def project_frame(geoms, names, codes):
    return gpd.GeoDataFrame({"XMMC": names, "XMDM": codes}, geometry=geoms, crs=CRS)


# ----------------------------------------------------------------------------- main
def make_demo(out: Path, seed: int = 20261128) -> None:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)

    def rng(k):                                          # independent stream per component
        return np.random.default_rng([seed, k])

    for name in OUTPUTS:
        (out / name).unlink(missing_ok=True)
    terrain = Terrain(rng(1))
    terrain.write(out / "dem.tif")
    make_counties().to_file(out / "counties.geojson", driver="GeoJSON", RFC7946="YES")

    dltb = make_dltb(terrain, rng(2))
    write_gpkg(dltb, out / "sandiao_dltb.gpkg", "DLTB")
    for layer, df in make_land_use_plan(terrain, rng(3)).items():
        write_gpkg(df, out / "land_use_plan_2006.gpkg", layer)
    urban, _ = make_urban_plan(terrain, rng(4))
    zip_shapefile(urban, out / "urban_master_plan_shp.zip", "GBK", keep_cpg=False, dbf_date=(2012, 3, 15))
    lines = make_control_lines(dltb, terrain, rng(5))
    for layer, df in lines.items():
        write_gpkg(df, out / "control_lines.gpkg", layer)
    slope, _ = terrain.zonal(list(dltb.geometry))
    ter, _ = make_territorial_plan(dltb, urban, lines, slope)
    write_gpkg(ter, out / "territorial_plan_2035.gpkg", "GHYDYH")
    ws = make_water_source().to_crs(4326)
    pyogrio.write_dataframe(ws, out / "water_source_zones.kml", driver="KML", layer="饮用水水源保护区")

    pr = make_projects(lines, terrain, rng(6))
    write_coordinate_txt(out / "project_a.txt", pr["a"])
    b = project_frame([pr["b"]], ["安定区凤翔镇农产品冷链物流中心项目"], ["2025-621102-59-01-000101"])
    b.to_crs(4326).to_file(out / "project_b.geojson", driver="GeoJSON", RFC7946="YES")
    write_dxf(out / "project_c.dxf", pr["c"])
    d = project_frame([pr["d"]], ["关川河沿岸文旅综合体项目"], ["2025-621102-78-01-000102"])
    d = d.rename(columns={"XMMC": "Name"}).assign(Description="拟选址范围（示例）").to_crs(4326)
    pyogrio.write_dataframe(d, out / "project_d.kml", driver="KML", layer="project_d")
    e = project_frame([pr["e"]], ["定西市安定区中华路片区棚户区改造安置房项目"], ["2025-621102-70-01-000103"])
    zip_shapefile(e, out / "project_e_shp.zip", "UTF-8", keep_cpg=True, dbf_date=(2025, 6, 15))
    f = project_frame(pr["f"], ["东川产业园新材料项目（候选址一）", "北山光伏储能项目（候选址二）",
                                "西川物流园项目（候选址三）"],
                      [f"2025-621102-44-01-00011{k}" for k in range(3)])
    f["NYDYT"] = ["1001", "1001", "1101"]
    write_gpkg(f, out / "project_f.gpkg", "candidate_sites")
    g = project_frame([make_project_g()], ["安定区关川河西段跨河连接公路工程"],
                      ["2025-621102-48-01-000104"])
    g["XMLX"] = "线性基础设施（道路）"
    g.to_crs(4326).to_file(out / "project_g.geojson", driver="GeoJSON", RFC7946="YES")

    # the detailed window and the sectoral layers (coverage: the window)
    make_window().to_file(out / "window.geojson", driver="GeoJSON")            # EPSG:4523, not RFC 7946
    sites = shapely.union_all([*pr["a"], pr["b"], *pr["c"], pr["d"], pr["e"], *pr["f"], g.geometry.iloc[0]])
    write_gpkg(make_nature_reserve(dltb, sites, rng(7)), out / "nature_reserve.gpkg", "ZRBHQ")
    zip_shapefile(make_cultural_relics(rng(8)), out / "cultural_relics_shp.zip", "GBK", keep_cpg=True,
                  dbf_date=(2023, 11, 20))
    c_spot = steepest_spot(terrain, shapely.union_all(lines["STBHHX"].geometry.values))
    udb = shapely.union_all(lines["CZKFBJ"].geometry.values)
    write_gpkg(make_geological_hazards(terrain, udb, c_spot, rng(9)), out / "geological_hazards.gpkg", "DZZH")
    make_river_flood().to_crs(4490).to_file(out / "river_flood.geojson", driver="GeoJSON",  # CGCS2000 lon/lat
                                            COORDINATE_PRECISION=9)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--seed", type=int, default=20261128)
    args = ap.parse_args(argv)
    make_demo(args.out, args.seed)


if __name__ == "__main__":
    main()
