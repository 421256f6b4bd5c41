"""Bad input is refused with a message naming the file, the feature and the problem, and
nothing is stored: every table's row count is the same before and after."""

from __future__ import annotations

import json
import os
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
import shapely
from shapely.geometry import Polygon

from gis_platform.core.errors import (
    CRSError,
    ExtentError,
    GeometryError,
    InputError,
    LimitError,
    UnsafeArchiveError,
)
from gis_platform.core.settings import Limits
from tests.factories import E0, N0, square, to_lonlat, write_vector

pytestmark = pytest.mark.postgis


@pytest.fixture
def refuses(store, uid):
    """Assert that ingesting raises ``error`` and leaves every table unchanged."""
    plan = store.plan(f"bad-{uid}")

    def check(path: Path, error: type[Exception], settings=None, **kw):
        before = store.counts()
        with pytest.raises(error) as info:
            store.ingest(path, plan, "layer", settings=settings, **kw)
        assert store.counts() == before
        return info.value

    check.plan = plan  # type: ignore[attr-defined]
    return check


def test_shapefile_without_prj_needs_crs(store, tmp_path, refuses):
    shp = write_vector(tmp_path / "noprj.shp", [square(E0, N0, 10)], None)
    assert not shp.with_suffix(".prj").exists()
    err = refuses(shp, CRSError)
    assert err.file == "noprj.shp"
    assert ".prj" in err.en and "--crs" in err.en
    assert "EPSG:4523" in err.message("en")  # suggested, never applied
    v = store.ingest(shp, refuses.plan, "layer", crs="EPSG:4523")
    assert v.feature_count == 1 and v.options["crs_given"] == "EPSG:4523"


def test_swapped_axes_are_named(tmp_path, refuses):
    site = square(E0, N0, 50)
    swapped = shapely.transform(site, lambda c: c[:, ::-1])
    path = write_vector(tmp_path / "swapped.geojson", [swapped], "EPSG:4523")
    err = refuses(path, ExtentError)
    assert "swapped axes" in err.en and "坐标轴顺序颠倒" in err.zh


def test_degrees_declared_as_metres(tmp_path, refuses):
    path = write_vector(tmp_path / "deg.shp", [to_lonlat(square(E0, N0, 50))], None)
    err = refuses(path, ExtentError, crs="EPSG:4523")
    assert "degrees declared as metres" in err.en


def test_missing_zone_prefix(tmp_path, refuses):
    no_prefix = square(E0 - 35_000_000, N0, 50)
    path = write_vector(tmp_path / "noprefix.gpkg", [no_prefix], "EPSG:4523")
    err = refuses(path, ExtentError)
    assert "missing zone prefix" in err.en and "EPSG:4544" in err.en


def test_wrong_zone(tmp_path, refuses):
    path = write_vector(tmp_path / "zone36.gpkg", [square(E0, N0, 50)], "EPSG:4524")
    err = refuses(path, ExtentError)
    assert "wrong zone" in err.en and "EPSG:4523" in err.en


def test_bowtie_is_refused_then_repaired_only_on_request(store, tmp_path, refuses):
    bowtie = Polygon([(E0, N0), (E0 + 20, N0 + 20), (E0 + 20, N0), (E0, N0 + 20), (E0, N0)])
    path = write_vector(tmp_path / "bowtie.gpkg", [square(E0 + 100, N0, 10), bowtie], "EPSG:4523")
    err = refuses(path, GeometryError)
    assert err.file == "bowtie.gpkg"
    assert [p.feature for p in err.problems] == ["FID 2"]
    assert "Self-intersection" in err.problems[0].en and "自相交" in err.problems[0].zh
    assert "--repair" in err.en
    v = store.ingest(path, refuses.plan, "layer", repair=True)
    (rep,) = v.report["repairs"]
    # Both triangles are kept (buffer(0) would have dropped one): 2 × ½ × 20 × 10 = 200 m².
    assert rep["feature"] == "FID 2" and rep["area_after"] == pytest.approx(200.0)
    assert store.areas(refuses.plan, "layer") == [pytest.approx(100.0), pytest.approx(200.0)]


def test_unclosed_ring_is_refused_unless_repair(store, tmp_path, refuses):
    ring = [[x, y] for x, y in to_lonlat(square(E0, N0, 40)).exterior.coords[:-1]]
    doc = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"id": 7}, "geometry": {"type": "Polygon", "coordinates": [ring]}}]}
    path = tmp_path / "open.geojson"
    path.write_text(json.dumps(doc))
    err = refuses(path, GeometryError)
    assert "ring not closed" in err.problems[0].en and err.problems[0].feature == "FID 7"  # GDAL takes the GeoJSON "id" as FID
    v = store.ingest(path, refuses.plan, "layer", repair=True)
    assert v.report["repairs"][0]["problem_en"].startswith("ring not closed")
    assert store.areas(refuses.plan, "layer")[0] == pytest.approx(1600.0, abs=0.01)


def test_nan_coordinates_are_refused_even_with_repair(tmp_path, refuses):
    bad = Polygon([(E0, N0), (E0 + 10, N0), (np.nan, N0 + 10), (E0, N0)])
    hole = Polygon(square(E0 + 100, N0, 50).exterior.coords,
                   [[(E0 + 110, N0 + 10), (E0 + 120, N0 + 10), (E0 + 120, np.inf), (E0 + 110, N0 + 10)]])
    path = write_vector(tmp_path / "nan.gpkg", [square(E0, N0, 5), bad, hole], "EPSG:4523")
    err = refuses(path, GeometryError, repair=True)
    assert [(p.feature, "NaN" in p.en) for p in err.problems] == [("FID 2", True), ("FID 3", True)]


def test_zero_area_polygon_is_refused(tmp_path, refuses):
    flat = Polygon([(E0, N0), (E0 + 10, N0), (E0 + 20, N0), (E0, N0)])
    path = write_vector(tmp_path / "flat.gpkg", [flat], "EPSG:4523")
    err = refuses(path, GeometryError, repair=True)
    assert "zero area" in err.message("en")


def test_point_where_polygon_is_needed(tmp_path, refuses):
    path = write_vector(tmp_path / "pts.gpkg", [shapely.Point(E0, N0)], "EPSG:4523")
    err = refuses(path, GeometryError)
    assert "Point where a polygon is needed" in err.problems[0].en


def test_empty_files(tmp_path, refuses):
    empty = tmp_path / "empty.geojson"
    empty.write_bytes(b"")
    assert "empty" in refuses(empty, InputError).en
    nofeat = tmp_path / "none.geojson"
    nofeat.write_text('{"type": "FeatureCollection", "features": []}')
    assert "no features" in refuses(nofeat, InputError).en


def _zip_with(path: Path, name: str, data: bytes = b"x", symlink: bool = False) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        info = zipfile.ZipInfo(name)
        if symlink:
            info.external_attr = (0o120777 << 16)
        zf.writestr(info, data)
    return path


@pytest.mark.parametrize("name,symlink", [("../evil.shp", False), ("/etc/evil.shp", False),
                                          ("link.shp", True)])
def test_hostile_zip_members(tmp_path, refuses, name, symlink):
    z = _zip_with(tmp_path / "hostile.zip", name, symlink=symlink)
    err = refuses(z, UnsafeArchiveError)
    assert err.file == "hostile.zip"


def test_zip_bomb_is_refused(store, tmp_path, refuses):
    z = tmp_path / "bomb.zip"
    with zipfile.ZipFile(z, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("a.shp", b"\0" * (20 * 1024 * 1024))
    tight = store.settings.model_copy(update={"limits": Limits(max_uncompressed_bytes=10 * 1024 * 1024)})
    err = refuses(z, LimitError, settings=tight)
    assert err.file == "bomb.zip"


def test_feature_count_limit(store, tmp_path, refuses):
    path = write_vector(tmp_path / "many.gpkg", [square(E0 + i * 20, N0, 10) for i in range(12)], "EPSG:4523")
    tight = store.settings.model_copy(update={"limits": Limits(max_features=10)})
    assert "12" in refuses(path, LimitError, settings=tight).en


def test_million_vertex_polygon_is_refused_quickly(tmp_path, refuses):
    t = np.linspace(0, 2 * np.pi, 1_000_000, endpoint=False)
    ring = np.column_stack([E0 + 500 + 400 * np.cos(t), N0 + 500 + 400 * np.sin(t)])
    path = write_vector(tmp_path / "huge.gpkg", [Polygon(ring)], "EPSG:4523")
    start = time.monotonic()
    err = refuses(path, LimitError)
    assert time.monotonic() - start < 30  # a hang guard, not a benchmark
    assert "1000000" in err.problems[0].en or "1000001" in err.problems[0].en


def test_upload_size_limit(store, tmp_path, refuses):
    path = write_vector(tmp_path / "big.gpkg", [square(E0, N0, 10)], "EPSG:4523")
    tight = store.settings.model_copy(update={"limits": Limits(max_upload_bytes=1000)})
    refuses(path, LimitError, settings=tight)


def test_unsupported_type_and_missing_class_field(tmp_path, refuses):
    csv = tmp_path / "table.csv"
    csv.write_text("a,b\n1,2\n")
    assert "unsupported file type" in refuses(csv, InputError).en
    path = write_vector(tmp_path / "f.gpkg", [square(E0, N0, 10)], "EPSG:4523", DLBM=["0103"])
    err = refuses(path, InputError, class_field="NOPE", scheme="gb2023")
    assert "NOPE" in err.en and "DLBM" in err.en


def test_names_and_values_are_data_never_sql(store, tmp_path, uid):
    from plans.service import create_plan

    evil = "x'); DROP TABLE features; --"
    with store.session() as s:
        create_plan(s, code=f"{evil}{uid}", name="<script>alert(1)</script>", kind="sectoral")
    field_name = 'a"; DROP TABLE plans; --'
    path = write_vector(tmp_path / "evil.gpkg", [square(E0, N0, 10)], "EPSG:4523",
                        **{field_name: ["<script>alert('x')</script>"]})
    store.ingest(path, f"{evil}{uid}", evil)
    props = store.properties(f"{evil}{uid}", evil)
    assert props[0][field_name] == "<script>alert('x')</script>"
    assert store.counts()["features"] > 0  # the tables are still there


def test_unknown_scheme_and_crs(tmp_path, refuses):
    path = write_vector(tmp_path / "f.gpkg", [square(E0, N0, 10)], "EPSG:4523", DLBM=["0103"])
    assert "unknown classification scheme" in refuses(path, InputError, class_field="DLBM", scheme="nope").en
    assert "unknown CRS" in refuses(path, CRSError, crs="EPSG:999999").en


def test_unmapped_codes_are_kept_and_reported(store, tmp_path, uid):
    plan = store.plan(f"p-{uid}", kind="urban_master")
    path = write_vector(tmp_path / "codes.gpkg", [square(E0 + i * 20, N0, 10) for i in range(5)], "EPSG:4523",
                        YDXZ=["R2", "ｒ２", "BR", "XYZ", None])
    v = store.ingest(path, plan, "landuse", class_field="YDXZ", scheme="gb50137")
    props = store.properties(plan, "landuse")
    assert [p["_class_status"] for p in props] == ["standard", "mapped", "unmapped", "unmapped", "unmapped"]
    assert [p["_class_code"] for p in props] == ["R2", "R2", None, None, None]
    assert v.feature_count == 5  # no row dropped
    assert v.report["classes"]["unmapped"] == {"BR": 1, "XYZ": 1, "(空值/empty)": 1}


def test_os_environment_is_isolated(settings):
    assert str(settings.home_abs).startswith(os.environ["GISPLAT_HOME"].rstrip("/"))


TXT_HEAD = (
    "[属性描述]\n坐标系=2000国家大地坐标系\n几度分带=3\n投影类型=高斯克吕格\n计量单位=米\n带号={zone}\n"
    "[地块坐标]\n5,0.0100,1,地块1,面,,,,@\n"
)


def _txt(path: Path, rows: list[tuple[float, float]], zone: int = 35) -> Path:
    body = "".join(f"J{i + 1},1,{x:.3f},{y:.3f}\n" for i, (x, y) in enumerate(rows))
    path.write_bytes((TXT_HEAD.format(zone=zone) + body).encode("gbk"))
    return path


SQUARE_XY = [(N0, E0), (N0, E0 + 10), (N0 + 10, E0 + 10), (N0 + 10, E0), (N0, E0)]


def test_coordinate_txt_refusals_store_nothing(tmp_path, refuses):
    swapped = _txt(tmp_path / "swapped.txt", [(y, x) for x, y in SQUARE_XY])
    assert "swapped" in refuses(swapped, CRSError).en
    zone = _txt(tmp_path / "zone.txt", SQUARE_XY, zone=36)
    err = refuses(zone, CRSError)
    assert "36" in err.en and "35" in err.en
    unclosed = _txt(tmp_path / "open.txt", SQUARE_XY[:-1])
    assert "not closed" in refuses(unclosed, GeometryError).message("en")


def test_coordinate_txt_loads_when_clean(store, tmp_path, refuses):
    ok = _txt(tmp_path / "ok.txt", SQUARE_XY)
    v = store.ingest(ok, refuses.plan, "layer")
    assert v.total_area_m2 == pytest.approx(100.0, abs=0.01)


def test_open_dxf_polyline_is_refused(tmp_path, refuses):
    import ezdxf

    doc = ezdxf.new()
    line = doc.modelspace().add_lwpolyline([(E0, N0), (E0 + 10, N0), (E0 + 10, N0 + 10)], close=False)
    path = tmp_path / "open.dxf"
    doc.saveas(path)
    err = refuses(path, GeometryError, crs="EPSG:4523")
    assert any(line.dxf.handle in (p.feature or "") for p in err.problems)
