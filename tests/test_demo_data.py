"""Pure checks (no database) of the synthetic demo set written by data/make_demo.py."""
from __future__ import annotations

import importlib.util
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pyogrio
import pytest
import rasterio
import shapely
import yaml

ROOT = Path(__file__).resolve().parents[1]
MANIFEST = yaml.safe_load((ROOT / "data" / "demo_manifest.yaml").read_text(encoding="utf-8"))
PARTITIONS = [("sandiao_dltb.gpkg", "DLTB"), ("land_use_plan_2006.gpkg", "TDYTQ"),
              ("land_use_plan_2006.gpkg", "JSYDGZQ"), ("territorial_plan_2035.gpkg", "GHYDYH"),
              ("urban_master_plan_shp.zip", None)]
# the window's sectoral layers: theme -> (file, source layer, class field, class values)
SECTORAL = {
    "nature_reserve": ("nature_reserve.gpkg", "ZRBHQ", "GNFQ", {"核心区", "缓冲区", "实验区"}),
    "cultural_relic": ("cultural_relics_shp.zip", None, "BHLX", {"保护范围", "建设控制地带"}),
    "geological_hazard": ("geological_hazards.gpkg", "DZZH", "ZHLX", {"易发区", "危险区"}),
    "river_flood": ("river_flood.geojson", None, "LX", {"河道管理范围", "洪涝风险区"}),
    "water_source_protection": ("water_source_zones.kml", None, "grade", {"一级", "二级"}),
}
WINDOW_REF = "dx-base/demo_window"


def _load_make_demo():
    spec = importlib.util.spec_from_file_location("dx_make_demo", ROOT / "data" / "make_demo.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.make_demo


@pytest.fixture(scope="module")
def demo_dirs(tmp_path_factory):
    make_demo = _load_make_demo()
    first, second = tmp_path_factory.mktemp("demo1"), tmp_path_factory.mktemp("demo2")
    make_demo(first)
    make_demo(second)
    return first, second


@pytest.fixture(scope="module")
def demo(demo_dirs):
    return demo_dirs[0]


def _manifest_entries():
    for plan in MANIFEST["plans"]:
        for layer in plan["layers"]:
            yield layer["file"], layer.get("source_layer"), layer.get("crs")
    for ex in MANIFEST["examples"]:
        yield ex["file"], None, ex.get("crs")


def _ogr_path(path: Path) -> str:
    return f"/vsizip/{path}" if path.suffix == ".zip" else str(path)


def _read(path: Path, layer=None, crs=None):
    df = pyogrio.read_dataframe(_ogr_path(path), layer=layer)
    if df.crs is None:
        assert crs, f"{path.name} has no CRS and the manifest gives none"
        df = df.set_crs(crs)
    return df


def test_manifest_structure():
    codes = [p["code"] for p in MANIFEST["plans"]]
    assert len(codes) == len(set(codes)) == 11
    for plan in MANIFEST["plans"]:
        names = [lyr["name"] for lyr in plan["layers"]]
        assert len(names) == len(set(names))
        assert plan["status"] in {"draft", "active", "superseded"}


def test_every_manifest_file_exists(demo):
    for file, _, _ in _manifest_entries():
        assert (demo / file).is_file(), file


def test_vector_files_open_and_lie_in_dingxi(demo):
    for file, source_layer, crs in _manifest_entries():
        path = demo / file
        if path.suffix in {".tif", ".txt"}:
            continue
        layers = [source_layer] if source_layer else [name for name, _ in pyogrio.list_layers(_ogr_path(path))]
        for layer in layers:
            df = _read(path, layer, crs)
            assert len(df) > 0, (file, layer)
            geoms = df.to_crs("EPSG:4523").geometry.values
            assert shapely.is_valid(geoms[shapely.get_type_id(geoms) >= 3]).all(), (file, layer)
            lon0, lat0, lon1, lat1 = df.to_crs("EPSG:4523").to_crs("EPSG:4326").total_bounds
            assert 103.3 <= lon0 <= lon1 <= 105.6 and 34.0 <= lat0 <= lat1 <= 36.3, (file, layer)


@pytest.mark.parametrize("file,layer", PARTITIONS)
def test_partitions_have_no_overlaps_or_gaps(demo, file, layer):
    df = _read(demo / file, layer)
    geoms = df.geometry.values
    assert shapely.is_valid(geoms).all()
    union = shapely.union_all(geoms)
    assert shapely.area(geoms).sum() - union.area < 1.0                 # overlaps < 1 m2
    assert shapely.envelope(union).area - union.area < 1.0              # rectangular extent, no gaps


def test_control_lines_consistency(demo):
    path = demo / "control_lines.gpkg"
    red = shapely.union_all(_read(path, "STBHHX").geometry.values)
    pbf = _read(path, "YJJBNT")
    assert len(pbf) > 50
    assert shapely.intersection(shapely.union_all(pbf.geometry.values), red).area < 1.0


def _parse_coordinate_txt(raw: bytes):
    text = raw.decode("gbk")
    parcels, cur = [], None
    for line in text.split("\r\n"):
        parts = line.split(",")
        if line.endswith(",@"):
            cur = {"dkmj": float(parts[1]), "rings": {}}
            parcels.append(cur)
        elif cur is not None and len(parts) == 4:
            cur["rings"].setdefault(int(parts[1]), []).append((float(parts[3]), float(parts[2])))
    return text, parcels


def test_coordinate_txt(demo):
    raw = (demo / "project_a.txt").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    assert b"\r\n" in raw and b"\n" not in raw.replace(b"\r\n", b"")
    text, parcels = _parse_coordinate_txt(raw)
    assert "带号=35" in text and text.startswith("[属性描述]")
    assert len(parcels) == 2 and any(len(p["rings"]) > 1 for p in parcels)
    for p in parcels:
        rings = [p["rings"][k] for k in sorted(p["rings"])]
        for ring in rings:
            assert ring[0] == ring[-1]
            assert all(str(int(e)).startswith("35") and len(str(int(e))) == 8 for e, _ in ring)
            assert all(3.8e6 < n < 4.1e6 for _, n in ring)
        poly = shapely.Polygon(rings[0], rings[1:])
        assert poly.is_valid
        assert 1.0 <= poly.area / 1e4 <= 30.0
        assert abs(poly.area / 1e4 - p["dkmj"]) <= 0.00005 + 1e-9


def test_dem_slopes(demo):
    with rasterio.open(demo / "dem.tif") as ds:
        assert ds.crs.to_epsg() == 4523 and ds.res == (10.0, 10.0) and ds.nodata == -9999
        assert ds.dtypes[0] == "float32"
        z = ds.read(1).astype(float)
    valid = z != -9999
    assert 1800 < z[valid].min() < z[valid].max() < 2400
    gy, gx = np.gradient(z, 10.0)
    slope = np.degrees(np.arctan(np.hypot(gx, gy)))[1:-1, 1:-1]
    assert (slope > 25).mean() >= 0.02
    assert (slope < 3).mean() >= 0.15
    assert slope.max() > 35


def test_urban_plan_shapefile_is_gbk_without_cpg(demo):
    with zipfile.ZipFile(demo / "urban_master_plan_shp.zip") as zf:
        names = zf.namelist()
        assert not any(n.lower().endswith(".cpg") for n in names)
        assert any(n.lower().endswith(".prj") for n in names)
        dbf = zf.read(next(n for n in names if n.lower().endswith(".dbf")))
    header_len = int.from_bytes(dbf[8:10], "little")
    records = dbf[header_len:]
    records.decode("gbk")
    with pytest.raises(UnicodeDecodeError):
        records.decode("utf-8")
    df = pyogrio.read_dataframe(_ogr_path(demo / "urban_master_plan_shp.zip"), encoding="GBK")
    assert {"BR", "C21", "r2"} <= set(df["YDXZ"])
    assert "二类居住用地" in set(df["YDMC"])


def test_project_e_has_utf8_cpg(demo):
    with zipfile.ZipFile(demo / "project_e_shp.zip") as zf:
        cpg = next(n for n in zf.namelist() if n.endswith(".cpg"))
        assert zf.read(cpg).decode().strip().upper().replace("-", "") == "UTF8"
    df = pyogrio.read_dataframe(_ogr_path(demo / "project_e_shp.zip"))
    assert "项目" in df["XMMC"].iloc[0]


def test_deterministic(demo_dirs):
    first, second = demo_dirs
    for file in sorted({f for f, _, _ in _manifest_entries() if f.endswith(".gpkg")}):
        for layer, _ in pyogrio.list_layers(first / file):
            a = pyogrio.read_dataframe(first / file, layer=layer)
            b = pyogrio.read_dataframe(second / file, layer=layer)
            pd.testing.assert_frame_equal(a.drop(columns="geometry"), b.drop(columns="geometry"))
            assert (shapely.to_wkb(a.geometry.values) == shapely.to_wkb(b.geometry.values)).all()
    for file in ["dem.tif", "project_a.txt", "counties.geojson", "urban_master_plan_shp.zip", "window.geojson",
                 "river_flood.geojson", "cultural_relics_shp.zip", "project_g.geojson"]:
        assert (first / file).read_bytes() == (second / file).read_bytes(), file


def _layers():
    for plan in MANIFEST["plans"]:
        for layer in plan["layers"]:
            yield plan, layer


def test_every_manifest_layer_has_a_coverage():
    refs = {f"{plan['code']}/{layer['name']}": layer for plan, layer in _layers()}
    for ref, layer in refs.items():
        cov = layer.get("coverage")
        assert cov in {"features", "extent"} or cov in refs, (ref, cov)
        assert cov != ref, ref
    assert refs[WINDOW_REF]["theme"] == "coverage_area" and refs[WINDOW_REF]["title"] == "示范区范围"
    assert refs[WINDOW_REF]["coverage"] == "features"
    assert refs["dx-base/counties"]["coverage"] == "features"
    for ref in ["dx-kzx-2035/stbhhx", "dx-kzx-2035/yjjbnt", "dx-kzx-2035/czkfbj"]:
        assert refs[ref]["coverage"] == WINDOW_REF
    for _, layer in _layers():
        if layer["theme"] in SECTORAL:
            assert layer["coverage"] == WINDOW_REF, layer["name"]


def test_every_constraint_theme_has_a_sectoral_plan():
    by_theme = {layer["theme"]: (plan, layer) for plan, layer in _layers()}
    for theme, (file, source_layer, field, _) in SECTORAL.items():
        plan, layer = by_theme[theme]
        assert plan["kind"] == "sectoral", theme
        assert (layer["file"], layer["source_layer"], layer["class_field"]) == (file, source_layer, field)
    assert by_theme["water_source_protection"][0]["code"] == "dx-water-source"
    codes = {plan["code"] for plan, _ in _layers()}
    assert {"dx-sectoral-env", "dx-sectoral-culture", "dx-sectoral-hazard", "dx-sectoral-water"} <= codes


def test_window_file_is_one_valid_polygon(demo):
    df = pyogrio.read_dataframe(demo / "window.geojson")
    assert df.crs.to_epsg() == 4523 and len(df) == 1
    g = df.geometry.iloc[0]
    assert g.geom_type == "Polygon" and g.is_valid and not g.interiors
    x0, y0, x1, y1 = g.bounds
    assert g.area == pytest.approx((x1 - x0) * (y1 - y0)) and x1 - x0 == y1 - y0 == 12000


def _window(demo):
    return pyogrio.read_dataframe(demo / "window.geojson").geometry.iloc[0]


def test_window_covered_layers_lie_inside_the_window(demo):
    window = _window(demo).buffer(0.01)
    for _, layer in _layers():
        if layer["coverage"] == WINDOW_REF:
            df = _read(demo / layer["file"], layer["source_layer"], layer["crs"]).to_crs("EPSG:4523")
            geoms = df.geometry.values
            assert shapely.is_valid(geoms).all() and shapely.within(geoms, window).all(), layer["name"]


def _sectoral(demo, theme):
    file, source_layer, field, _ = SECTORAL[theme]
    df = _read(demo / file, source_layer).to_crs("EPSG:4523")
    return df, field


@pytest.mark.parametrize("theme", list(SECTORAL))
def test_sectoral_layers_valid_and_inside_the_window(demo, theme):
    df, field = _sectoral(demo, theme)
    window = _window(demo).buffer(0.01)
    geoms = df.geometry.values
    assert set(shapely.get_type_id(geoms)) <= {3, 6}
    assert shapely.is_valid(geoms).all() and (shapely.area(geoms) > 100).all()
    assert shapely.within(geoms, window).all()
    assert set(df[field]) == SECTORAL[theme][3]


def test_sectoral_crs_and_encodings(demo):
    assert pyogrio.read_info(demo / "river_flood.geojson")["crs"] == "EPSG:4490"
    assert pyogrio.read_info(demo / "water_source_zones.kml")["crs"] == "EPSG:4326"
    with zipfile.ZipFile(demo / "cultural_relics_shp.zip") as zf:
        names = zf.namelist()
        assert {n.rsplit(".", 1)[1] for n in names} == {"shp", "shx", "dbf", "prj", "cpg"}
        assert zf.read(next(n for n in names if n.endswith(".cpg"))).decode().strip() == "GBK"
        dbf = zf.read(next(n for n in names if n.endswith(".dbf")))
    records = dbf[int.from_bytes(dbf[8:10], "little"):]
    assert "保护范围".encode("gbk") in records
    with pytest.raises(UnicodeDecodeError):
        records.decode("utf-8")
    df = _read(demo / "cultural_relics_shp.zip")
    assert df.crs.to_epsg() == 4523
    assert set(df["JB"]) == {"省级", "市级"} and df["WWMC"].str.contains("遗址").all()


def test_nature_reserve_zones_are_nested(demo):
    df, _ = _sectoral(demo, "nature_reserve")
    z = {k: shapely.union_all(g.geometry.values) for k, g in df.groupby("GNFQ")}
    assert len(df) == 3 and df["BHDMC"].nunique() == 1
    assert shapely.area(shapely.union_all(df.geometry.values)) == pytest.approx(df.area.sum(), abs=1.0)
    outer = shapely.union_all(list(z.values()))
    assert outer.geom_type == "Polygon" and not outer.interiors                 # one reserve, no gaps
    assert z["缓冲区"].buffer(0.01).contains(z["核心区"].exterior)               # core ringed by buffer
    assert shapely.union_all([z["核心区"], z["缓冲区"]]).buffer(0.01).within(outer.buffer(0.02))
    assert shapely.intersection(z["实验区"], z["核心区"]).area < 0.01


def test_danger_zones_lie_inside_prone_zones(demo):
    df, _ = _sectoral(demo, "geological_hazard")
    prone = shapely.union_all(df[df.ZHLX == "易发区"].geometry.values)
    danger = df[df.ZHLX == "危险区"]
    assert 2 <= len(danger) <= 3 and 3 <= (df.ZHLX == "易发区").sum() <= 6
    for g in danger.geometry:
        assert shapely.difference(g, prone).area < 0.01
    assert danger.area.max() < df[df.ZHLX == "易发区"].area.min()


def test_relic_control_zones_do_not_overlap_their_protection_ranges(demo):
    df, _ = _sectoral(demo, "cultural_relic")
    assert df["WWMC"].nunique() == 2
    for _, grp in df.groupby("WWMC"):
        assert sorted(grp.BHLX) == ["保护范围", "建设控制地带"]
        prot = grp[grp.BHLX == "保护范围"].geometry.iloc[0]
        ring = grp[grp.BHLX == "建设控制地带"].geometry.iloc[0]
        assert shapely.intersection(prot, ring).area < 0.01
        assert len(ring.interiors) == 1 and ring.area > prot.area           # a ring around the range
        assert shapely.Polygon(ring.interiors[0]).symmetric_difference(prot).area < 0.01


def test_river_blue_line_and_flood_zone(demo):
    df, _ = _sectoral(demo, "river_flood")
    blue = shapely.union_all(df[df.LX == "河道管理范围"].geometry.values)
    flood = shapely.union_all(df[df.LX == "洪涝风险区"].geometry.values)
    assert flood.area > blue.area
    assert shapely.intersection(blue, flood).area < 1.0
    river = _read(demo / "sandiao_dltb.gpkg", "DLTB").query("DLBM == '1101'")
    river = shapely.union_all(river.geometry.values)
    assert shapely.difference(river, blue.buffer(0.01)).area < 1.0      # the river lies inside the 蓝线


def test_water_source_kml_grade_field(demo):
    df = _read(demo / "water_source_zones.kml")
    layer = next(lyr for _, lyr in _layers() if lyr["name"] == "water_source_zones")
    assert layer["class_field"] in df.columns
    assert sorted(df[layer["class_field"]]) == ["一级", "二级"]


def test_project_g_is_a_road_corridor_across_the_red_line(demo):
    ex = next(e for e in MANIFEST["examples"] if e["file"] == "project_g.geojson")
    assert "穿越生态保护红线" in ex["description"]
    g = _read(demo / "project_g.geojson").to_crs("EPSG:4523").geometry
    assert len(g) == 1 and g.iloc[0].is_valid
    g = g.iloc[0]
    length = g.area / 30
    assert 2000 <= length <= 3000
    assert g.buffer(-14).area > 0 and g.buffer(-16).is_empty               # 30 m wide
    red = shapely.union_all(_read(demo / "control_lines.gpkg", "STBHHX").geometry.values)
    inter = shapely.intersection(g, red)
    assert inter.area > 1000
    assert not red.contains(g) and len(shapely.get_parts(shapely.difference(g, red))) >= 2  # crosses it


def test_planted_facts(demo):
    """The example projects touch the constraints data/README.md says they touch."""
    def hit(project, theme, cls):
        df, field = _sectoral(demo, theme)
        return shapely.intersection(project, shapely.union_all(df[df[field] == cls].geometry.values)).area

    e = _read(demo / "project_e_shp.zip").to_crs("EPSG:4523").geometry.iloc[0]
    assert hit(e, "cultural_relic", "建设控制地带") > 500 and hit(e, "cultural_relic", "保护范围") == 0
    g = _read(demo / "project_g.geojson").to_crs("EPSG:4523").geometry.iloc[0]
    assert hit(g, "river_flood", "河道管理范围") > 1000 and hit(g, "river_flood", "洪涝风险区") > 1000
    f1 = _read(demo / "project_f.gpkg").geometry.iloc[0]
    for theme, (_, _, _, classes) in SECTORAL.items():
        for cls in classes:
            assert hit(f1, theme, cls) == 0, (theme, cls)                 # the clean candidate stays clean
