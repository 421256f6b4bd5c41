"""Every upload format loads into the real store with the right areas and attributes."""

from __future__ import annotations

import zipfile
from pathlib import Path

import ezdxf
import numpy as np
import pyogrio
import pytest
import rasterio
import shapely
from rasterio.transform import from_origin
from sqlalchemy import text

from gis_platform.core.errors import CRSError, InputError
from tests.factories import E0, N0, square, to_lonlat, write_vector

pytestmark = pytest.mark.postgis


def test_geojson_in_lonlat_is_reprojected_to_the_store_crs(store, tmp_path, uid):
    site = square(E0, N0, 100.0)
    lonlat = to_lonlat(site, 4326)
    path = write_vector(tmp_path / "site.geojson", [lonlat], "EPSG:4326", name=["地块一"])
    plan = store.plan(f"p-{uid}")
    v = store.ingest(path, plan, "sites")
    assert v.source_crs == "EPSG:4326" and v.feature_count == 1
    # Independent: transform the written lon/lat back with pyproj and measure with shapely.
    expected = shapely.area(shapely.transform(
        lonlat, lambda c: np.column_stack(__import__("pyproj").Transformer.from_crs(
            4326, 4523, always_xy=True).transform(c[:, 0], c[:, 1]))))
    assert store.areas(plan, "sites") == [pytest.approx(expected, abs=0.01)]
    assert expected == pytest.approx(10000.0, abs=0.01)
    assert store.properties(plan, "sites")[0]["name"] == "地块一"


def test_geopackage_with_several_layers_needs_a_choice(store, tmp_path, uid):
    path = tmp_path / "plan.gpkg"
    write_vector(path, [square(E0, N0, 50)], "EPSG:4523", layer="GHYT", DLBM=["0103"])
    write_vector(path, [square(E0, N0, 80), square(E0 + 100, N0, 20)], "EPSG:4523", layer="JSYDGZQ",
                 GZQLXDM=["010", "040"])
    plan = store.plan(f"p-{uid}")
    before = store.counts()
    with pytest.raises(InputError) as err:
        store.ingest(path, plan, "zones")
    assert "GHYT" in err.value.en and "JSYDGZQ" in err.value.en and "--source-layer" in err.value.en
    assert store.counts() == before
    v = store.ingest(path, plan, "zones", source_layer="JSYDGZQ", class_field="GZQLXDM", scheme="gzq")
    assert v.feature_count == 2 and v.source_layer == "JSYDGZQ"
    assert store.areas(plan, "zones") == [pytest.approx(6400.0, abs=0.01), pytest.approx(400.0, abs=0.01)]
    props = store.properties(plan, "zones")
    assert [p["_class_code"] for p in props] == ["010", "040"]
    assert all(p["_class_status"] == "standard" for p in props)


def _zip(path: Path, files: list[Path]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for f in files:
            zf.write(f, f.name)
    return path


def test_zipped_gbk_shapefile_without_cpg_comes_out_readable(store, tmp_path, uid):
    shp = tmp_path / "城规用地.shp"
    names = ["二类居住用地", "公园绿地"]
    write_vector(shp, [square(E0, N0, 30), square(E0 + 40, N0, 30)], "EPSG:4523", encoding="GBK",
                 YDXZ=["R2", "G1"], YDMC=names)
    shp.with_suffix(".cpg").unlink(missing_ok=True)
    dbf = shp.with_suffix(".dbf").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        dbf.decode("utf-8")
    parts = [shp.with_suffix(s) for s in (".shp", ".shx", ".dbf", ".prj")]
    z = _zip(tmp_path / "urban.zip", parts)
    plan = store.plan(f"p-{uid}", kind="urban_master")
    v = store.ingest(z, plan, "landuse", class_field="YDXZ", scheme="gb50137")
    assert v.encoding in ("GBK", "GB18030")
    props = store.properties(plan, "landuse")
    assert [p["YDMC"] for p in props] == names
    assert [p["_class_code"] for p in props] == ["R2", "G1"]


def test_shapefile_encoding_can_be_given(store, tmp_path, uid):
    shp = tmp_path / "a.shp"
    write_vector(shp, [square(E0, N0, 30)], "EPSG:4523", encoding="GBK", MC=["旱地"])
    shp.with_suffix(".cpg").unlink(missing_ok=True)
    plan = store.plan(f"p-{uid}")
    store.ingest(shp, plan, "a", encoding="GBK")
    assert store.properties(plan, "a")[0]["MC"] == "旱地"


def test_kml_is_read_as_wgs84(store, tmp_path, uid):
    site = square(E0 + 500, N0 + 500, 200.0)
    path = write_vector(tmp_path / "zone.kml", [to_lonlat(site, 4326)], "EPSG:4326", Name=["一级保护区"])
    plan = store.plan(f"p-{uid}", kind="sectoral")
    v = store.ingest(path, plan, "water")
    assert v.source_crs == "EPSG:4326"
    assert store.areas(plan, "water")[0] == pytest.approx(40000.0, rel=1e-6)


def _dxf(path: Path, closed: bool = True) -> Path:
    doc = ezdxf.new()
    msp = doc.modelspace()
    pts = [(E0, N0), (E0 + 100, N0), (E0 + 100, N0 + 100), (E0, N0 + 100)]
    msp.add_lwpolyline(pts, close=closed, dxfattribs={"layer": "红线"})
    msp.add_text("地块1", dxfattribs={"insert": (E0 + 50, N0 + 50)})
    doc.saveas(path)
    return path


def test_dxf_needs_a_crs_and_then_loads_closed_polylines(store, tmp_path, uid):
    path = _dxf(tmp_path / "site.dxf")
    plan = store.plan(f"p-{uid}")
    before = store.counts()
    with pytest.raises(CRSError) as err:
        store.ingest(path, plan, "site")
    assert "EPSG:4523" in err.value.message("en")  # the suggestion, not a guess
    assert store.counts() == before
    v = store.ingest(path, plan, "site", crs="EPSG:4523")
    assert v.source_format == "dxf"
    assert store.areas(plan, "site") == [pytest.approx(10000.0, abs=0.01)]
    assert store.properties(plan, "site")[0]["label"] == "地块1"
    assert any("TEXT" in n["en"] for n in v.report["notes"])


def test_coordinate_txt_example_is_9600_square_metres(store, data_dir, uid):
    plan = store.plan(f"p-{uid}")
    v = store.ingest(data_dir / "txt_example_gbk.txt", plan, "redline", class_field="DLBM", scheme="gb2023")
    assert v.source_crs == "EPSG:4523" and v.source_format == "coordinate_txt"
    assert store.areas(plan, "redline") == [pytest.approx(9600.0, abs=0.01)]
    props = store.properties(plan, "redline")[0]
    assert props["DKMC"] == "地块1" and props["_class_code"] == "0701"
    with store.engine.connect() as conn:
        holes = conn.execute(text(
            "SELECT ST_NumInteriorRings(ST_GeometryN(f.geom, 1)) FROM features f "
            "JOIN layer_versions v ON v.id = f.version_id JOIN layers l ON l.id = v.layer_id "
            "JOIN plans p ON p.id = l.plan_id WHERE p.code = :p"), {"p": plan}).scalar_one()
    assert holes == 1


def test_coordinate_txt_with_several_parcels(store, data_dir, uid):
    plan = store.plan(f"p-{uid}")
    v = store.ingest(data_dir / "txt_two_parcels_utf8.txt", plan, "redline")
    assert v.feature_count == 2
    from layers.coord_txt import read_coordinate_txt

    # Independent check: the areas PostGIS stores equal shapely's on the parsed rings.
    parsed = read_coordinate_txt(data_dir / "txt_two_parcels_utf8.txt")
    expected = [g.area for g in parsed.frame.geometry]
    assert store.areas(plan, "redline") == [pytest.approx(a, abs=0.01) for a in expected]


def test_geotiff_is_kept_as_cog_with_metadata(store, tmp_path, uid, settings):
    path = tmp_path / "dem.tif"
    data = np.arange(100 * 120, dtype="float32").reshape(100, 120)
    with rasterio.open(path, "w", driver="GTiff", width=120, height=100, count=1, dtype="float32",
                       crs="EPSG:4523", transform=from_origin(E0, N0 + 1000, 10, 10), nodata=-9999) as dst:
        dst.write(data, 1)
    plan = store.plan(f"p-{uid}", kind="base")
    v = store.ingest(path, plan, "dem")
    assert v.raster_meta["width"] == 120 and v.raster_meta["crs"] == "EPSG:4523"
    cog = settings.raster_dir / v.raster_path
    with rasterio.open(cog) as src:
        assert src.crs.to_epsg() == 4523
        assert np.array_equal(src.read(1), data)
        assert src.profile.get("tiled") or src.block_shapes[0][0] in (256, 512)


def test_geotiff_without_crs_is_refused(store, tmp_path, uid):
    path = tmp_path / "nocrs.tif"
    with rasterio.open(path, "w", driver="GTiff", width=10, height=10, count=1, dtype="uint8",
                       transform=from_origin(E0, N0 + 100, 10, 10)) as dst:
        dst.write(np.zeros((10, 10), dtype="uint8"), 1)
    plan = store.plan(f"p-{uid}", kind="base")
    before = store.counts()
    with pytest.raises(CRSError) as err:
        store.ingest(path, plan, "dem")
    assert "EPSG:4523" in err.value.message("en")
    assert store.counts() == before


def test_loading_twice_keeps_both_versions_readable(store, tmp_path, uid):
    plan = store.plan(f"p-{uid}")
    first = write_vector(tmp_path / "v1.geojson", [square(E0, N0, 10)], "EPSG:4523")
    second = write_vector(tmp_path / "v2.geojson", [square(E0, N0, 20), square(E0 + 50, N0, 30)], "EPSG:4523")
    assert store.ingest(first, plan, "zones").version == 1
    assert store.ingest(second, plan, "zones").version == 2
    assert store.areas(plan, "zones", 1) == [pytest.approx(100.0)]
    assert store.areas(plan, "zones", 2) == [pytest.approx(400.0), pytest.approx(900.0)]
    assert store.areas(plan, "zones") == store.areas(plan, "zones", 2)
    # History is never overwritten: the store refuses to change stored rows.
    with store.engine.connect() as conn, pytest.raises(Exception, match="never changed"):
        conn.execute(text("UPDATE features SET class_code = 'X' WHERE feature_no = 1"))


@pytest.mark.parametrize("fmt,name", [("gpkg", "out.gpkg"), ("shp", "out.zip"), ("geojson", "out.geojson")])
def test_export_then_ingest_gives_the_same_features_and_areas(store, data_dir, tmp_path, uid, fmt, name):
    from click.testing import CliRunner

    from gis_platform.cli import main

    plan = store.plan(f"p-{uid}")
    store.ingest(data_dir / "txt_two_parcels_utf8.txt", plan, "redline")
    out = tmp_path / name
    res = CliRunner().invoke(main, ["export", f"{plan}/redline", "--format", fmt, "--out", str(out)])
    assert res.exit_code == 0, res.output
    store.ingest(out, plan, "again")
    assert store.areas(plan, "again") == [pytest.approx(a, abs=0.01) for a in store.areas(plan, "redline")]
    src = store.properties(plan, "redline")
    back = store.properties(plan, "again")
    assert [p["DKMC"] for p in back] == [p["DKMC"] for p in src]
    assert pyogrio.read_info(out if fmt != "shp" else f"/vsizip/{out}")["features"] == 2


def test_refused_raster_leaves_no_file(store, tmp_path, uid, settings):
    path = tmp_path / "dem2.tif"
    with rasterio.open(path, "w", driver="GTiff", width=20, height=20, count=1, dtype="float32",
                       crs="EPSG:4523", transform=from_origin(E0, N0 + 200, 10, 10)) as dst:
        dst.write(np.full((20, 20), 7.5, dtype="float32"), 1)
    plan = store.plan(f"p-{uid}", kind="base")
    store.ingest(write_vector(tmp_path / "v.geojson", [square(E0, N0, 10)], "EPSG:4523"), plan, "dem")
    before_files = set(settings.raster_dir.glob("*.tif")) if settings.raster_dir.exists() else set()
    before = store.counts()
    with pytest.raises(InputError, match="vector"):
        store.ingest(path, plan, "dem")  # a raster into a vector layer
    assert store.counts() == before
    after_files = set(settings.raster_dir.glob("*.tif")) if settings.raster_dir.exists() else set()
    assert after_files == before_files


def test_awkward_text_and_exact_coordinates_survive_the_binary_copy(store, tmp_path, uid):
    """Tabs, newlines, backslashes, quotes, braces, emoji, empty and missing values, and
    non-standard class codes come back exactly; the stored geometry is the written one, bit for
    bit, with the store's SRID (compared through WKB written and read by GEOS, not by the loader)."""
    names = ["制表\t符", "换\n行\r回车", "反斜杠\\n不是换行", '引号"{},{"}', "😀 表情", "", None]
    codes = ["0101", None, "X9", "0101", "07\t01", "", "1207"]
    geoms = [shapely.Polygon([(E0 + i * 100 + 0.123456789, N0 + 0.987654321), (E0 + i * 100 + 50.5, N0),
                              (E0 + i * 100 + 25.25, N0 + 40.0000001)]) for i in range(len(names))]
    path = write_vector(tmp_path / "awkward.gpkg", geoms, "EPSG:4523", name=names, dlbm=codes)
    plan = store.plan(f"p-{uid}")
    v = store.ingest(path, plan, "awkward", class_field="dlbm", scheme="gb2023")
    assert v.feature_count == len(names)
    props = store.properties(plan, "awkward")
    assert [p["name"] for p in props] == names
    assert [p["dlbm"] for p in props] == codes
    assert [p["_class_raw"] for p in props] == codes
    assert (props[0]["_class_status"], props[0]["_class_code"]) == ("standard", "0101")
    assert (props[2]["_class_status"], props[2]["_class_code"]) == ("unmapped", None)
    with store.engine.connect() as conn:
        rows = conn.execute(text(
            """
            SELECT ST_AsBinary(f.geom) AS wkb, ST_SRID(f.geom) AS srid FROM features f
            JOIN layer_versions v ON v.id = f.version_id JOIN layers l ON l.id = v.layer_id
            JOIN plans p ON p.id = l.plan_id WHERE p.code = :plan ORDER BY f.feature_no
            """), {"plan": plan}).all()
    assert {r.srid for r in rows} == {4523}
    assert [shapely.from_wkb(bytes(r.wkb)).equals_exact(g, tolerance=0) for r, g in zip(rows, geoms)] \
        == [True] * len(geoms)
