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
    assert len(codes) == len(set(codes)) == 7
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
    for file in ["dem.tif", "project_a.txt", "counties.geojson", "urban_master_plan_shp.zip"]:
        assert (first / file).read_bytes() == (second / file).read_bytes(), file
