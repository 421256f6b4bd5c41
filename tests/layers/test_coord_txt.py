"""Tests of the boundary coordinate TXT (报盘格式) reader. Pure: no database."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import shapely
from pyproj import CRS

from gis_platform.core.errors import CRSError, GeometryError, InputError
from layers.coord_txt import cgcs2000_gk_epsg, decode_text, read_coordinate_txt

DATA = Path(__file__).resolve().parents[1] / "data"

HEADER = """[属性描述]
格式版本号=1.01版本
数据产生单位=定西市某测绘有限公司
数据产生日期=2025-06-15
坐标系=2000国家大地坐标系
几度分带=3
投影类型=高斯克吕格
计量单位=米
带号=35
精度=0.001
转换参数=,,,,,,
"""

# DOMAIN.md §7 example, verbatim.
EXAMPLE = HEADER + """[地块坐标]
10,0.9600,1,地块1,面,,城镇住宅用地,0701,@
J1,1,3939000.000,35465600.000
J2,1,3939000.000,35465700.000
J3,1,3939100.000,35465700.000
J4,1,3939100.000,35465600.000
J1,1,3939000.000,35465600.000
J5,2,3939040.000,35465640.000
J6,2,3939060.000,35465640.000
J7,2,3939060.000,35465660.000
J8,2,3939040.000,35465660.000
J5,2,3939040.000,35465640.000
"""

# Parcel A: 200 m (E) x 100 m (N) outer ring written clockwise in E,N, with two holes written
# counter-clockwise: 10 x 10 and 20 x 10. Area = 20000 - 100 - 200 = 19700 m2 = 1.97 ha.
# Parcel B: 50 m (E) x 30 m (N), no hole, numeric point ids, two extra fields.
# Area = 1500 m2 = 0.15 ha.
TWO_PARCELS = HEADER + """[地块坐标]
15,1.9700,A-01,甲地块,面,J48G012034,工业用地,0601,@
J1,1,3940000.000,35470000.000
J2,1,3940100.000,35470000.000
J3,1,3940100.000,35470200.000
J4,1,3940000.000,35470200.000
J1,1,3940000.000,35470000.000
J5,2,3940020.000,35470020.000
J6,2,3940020.000,35470030.000
J7,2,3940030.000,35470030.000
J8,2,3940030.000,35470020.000
J5,2,3940020.000,35470020.000
J9,3,3940050.000,35470100.000
J10,3,3940050.000,35470120.000
J11,3,3940060.000,35470120.000
J12,3,3940060.000,35470100.000
J9,3,3940050.000,35470100.000
5,0.1500,A-02,乙地块,面,,仓储用地,0602,改造前,备注一,@
1,1,3940200.000,35470300.000
2,1,3940200.000,35470350.000
3,1,3940230.000,35470350.000
4,1,3940230.000,35470300.000
1,1,3940200.000,35470300.000
"""
AREA_A = 200 * 100 - 10 * 10 - 20 * 10
AREA_B = 50 * 30


def write(tmp_path: Path, text: str, encoding: str = "utf-8", newline: str = "\n",
          name: str = "boundary.txt") -> Path:
    path = tmp_path / name
    path.write_bytes(text.replace("\n", newline).encode(encoding))
    return path


def with_coords(coords: str, header: str = HEADER,
                parcel: str = "5,0.1500,1,地块1,面,,城镇住宅用地,0701,@") -> str:
    return header + "[地块坐标]\n" + parcel + "\n" + coords


RECT_6DIGIT = """J1,1,3940200.000,470300.000
J2,1,3940200.000,470350.000
J3,1,3940230.000,470350.000
J4,1,3940230.000,470300.000
J1,1,3940200.000,470300.000
"""
RECT = RECT_6DIGIT.replace(",470", ",35470")


def check_example(result) -> None:
    assert result.source_format == "coordinate_txt"
    assert result.crs == CRS.from_epsg(4523)
    assert result.crs.to_epsg() == 4523
    assert len(result.frame) == 1
    row = result.frame.iloc[0]
    geom = row.geometry
    assert geom.geom_type == "Polygon"
    assert geom.area == pytest.approx(9600.0, abs=0.01)
    assert len(geom.interiors) == 1
    assert row["DLBM"] == "0701"
    assert row["DKMJ"] == pytest.approx(0.96)
    assert row["JZDS"] == 10
    assert row["DKMC"] == "地块1"
    assert row["DKYT"] == "城镇住宅用地"
    # x = easting, y = northing
    minx, miny, maxx, maxy = geom.bounds
    assert (minx, miny, maxx, maxy) == (35465600.0, 3939000.0, 35465700.0, 3939100.0)
    assert result.feature_ids == ["地块1 (DKBH 1)"]
    assert result.repairable == []
    assert result.notes == []
    assert result.meta["header"]["带号"] == "35"
    assert result.meta["header"]["转换参数"] == ",,,,,,"
    assert result.frame.geometry.name == "geometry"
    assert result.frame.crs is None


def test_example_gbk(tmp_path):
    result = read_coordinate_txt(write(tmp_path, EXAMPLE, "gbk"))
    check_example(result)
    assert result.encoding == "gb18030"


def test_example_utf8_bom(tmp_path):
    result = read_coordinate_txt(write(tmp_path, EXAMPLE, "utf-8-sig"))
    check_example(result)
    assert result.encoding == "utf-8-sig"


def test_example_plain_utf8(tmp_path):
    result = read_coordinate_txt(write(tmp_path, EXAMPLE, "utf-8"))
    check_example(result)
    assert result.encoding == "utf-8"


def test_fixture_files():
    gbk = DATA / "txt_example_gbk.txt"
    assert b"\r\n" in gbk.read_bytes()
    result = read_coordinate_txt(gbk)
    check_example(result)
    assert result.encoding == "gb18030"
    two = read_coordinate_txt(DATA / "txt_two_parcels_utf8.txt")
    assert two.encoding == "utf-8"
    assert two.frame.geometry.area.tolist() == pytest.approx([AREA_A, AREA_B], abs=0.01)


def test_orientation_outer_ccw_holes_cw(tmp_path):
    result = read_coordinate_txt(write(tmp_path, TWO_PARCELS))
    for geom in result.frame.geometry:
        assert geom.exterior.is_ccw
        assert all(not ring.is_ccw for ring in geom.interiors)
    assert shapely.is_valid(result.frame.geometry).all()


def test_two_parcels_with_two_holes(tmp_path):
    result = read_coordinate_txt(write(tmp_path, TWO_PARCELS))
    frame = result.frame
    assert len(frame) == 2
    a, b = frame.geometry
    assert len(a.interiors) == 2 and len(b.interiors) == 0
    assert a.area == pytest.approx(19700.0, abs=0.01) == AREA_A
    assert b.area == pytest.approx(1500.0, abs=0.01) == AREA_B
    assert frame["DKBH"].tolist() == ["A-01", "A-02"]
    # empty fields are missing values (pandas 3 str dtype shows them as NaN)
    assert frame["TFH"].iloc[0] == "J48G012034" and pd.isna(frame["TFH"].iloc[1])
    assert pd.isna(frame["extra_1"].iloc[0]) and frame["extra_1"].iloc[1] == "改造前"
    assert pd.isna(frame["extra_2"].iloc[0]) and frame["extra_2"].iloc[1] == "备注一"
    assert list(frame.columns) == ["JZDS", "DKMJ", "DKBH", "DKMC", "JLTXSX", "TFH", "DKYT",
                                   "DLBM", "extra_1", "extra_2", "geometry"]
    assert result.feature_ids == ["甲地块 (DKBH A-01)", "乙地块 (DKBH A-02)"]
    assert result.notes == [] and result.repairable == []
    assert result.crs.to_epsg() == 4523


def test_crlf_fullwidth_commas_blank_lines_and_extension(tmp_path):
    text = "[扩展信息]\n软件=某报盘软件\n\n" + EXAMPLE.replace(",", "，").replace(
        "J2，1，", "J2 ，　1，")
    text = text.replace("[地块坐标]\n", "[地块坐标]\n\n")
    assert "，" in text
    result = read_coordinate_txt(write(tmp_path, text, "gbk", newline="\r\n"))
    check_example(result)
    assert result.meta["extension"] == {"软件": "某报盘软件"}


def test_unclosed_ring_is_repairable(tmp_path):
    text = EXAMPLE[: EXAMPLE.rindex("J5,2")]  # drop the hole's closing point
    assert text.rstrip().endswith("J8,2,3939040.000,35465660.000")
    result = read_coordinate_txt(write(tmp_path, text))
    assert len(result.repairable) == 1
    problem = result.repairable[0]
    assert "第2圈未闭合" in problem.zh and "ring 2 is not closed" in problem.en
    assert problem.feature == "地块1 (DKBH 1)"
    geom = result.frame.geometry.iloc[0]
    assert geom.area == pytest.approx(9600.0, abs=0.01)


def test_swapped_columns(tmp_path):
    coords = "".join(f"{p},{r},{y},{x}\n" for p, r, x, y in
                     (line.split(",") for line in RECT.strip().splitlines()))
    with pytest.raises(CRSError) as exc:
        read_coordinate_txt(write(tmp_path, with_coords(coords)))
    assert "swapped" in exc.value.en and "互换" in exc.value.zh
    swapped6 = "".join(f"{p},{r},{y},{x}\n" for p, r, x, y in
                       (line.split(",") for line in RECT_6DIGIT.strip().splitlines()))
    with pytest.raises(CRSError, match="swapped"):
        read_coordinate_txt(write(tmp_path, with_coords(swapped6)))


def test_zone_mismatch(tmp_path):
    with pytest.raises(CRSError) as exc:
        read_coordinate_txt(write(tmp_path, EXAMPLE.replace("带号=35", "带号=36")))
    assert "36" in exc.value.en and "35" in exc.value.en
    assert "36" in exc.value.zh and "35" in exc.value.zh


@pytest.mark.parametrize("system", ["1980西安坐标系", "1954北京坐标系", "北京54", "西安80"])
def test_legacy_systems_refused(tmp_path, system):
    text = EXAMPLE.replace("坐标系=2000国家大地坐标系", f"坐标系={system}")
    with pytest.raises(CRSError) as exc:
        read_coordinate_txt(write(tmp_path, text, "gbk"))
    assert "not CGCS2000" in exc.value.en and "2018" in exc.value.en
    assert exc.value.file == "boundary.txt"


@pytest.mark.parametrize("bad", ["3939100.0O0", "nan", ""])
def test_non_numeric_coordinate(tmp_path, bad):
    text = EXAMPLE.replace("J3,1,3939100.000,35465700.000", f"J3,1,{bad},35465700.000")
    with pytest.raises(InputError) as exc:
        read_coordinate_txt(write(tmp_path, text))
    lineno = text.splitlines().index(f"J3,1,{bad},35465700.000") + 1
    assert lineno == 16
    assert f"line {lineno}" in exc.value.en and f"第 {lineno} 行" in exc.value.zh


def test_missing_coordinate_section(tmp_path):
    with pytest.raises(InputError) as exc:
        read_coordinate_txt(write(tmp_path, HEADER))
    assert "[地块坐标]" in exc.value.en


def test_no_parcels_and_parcel_without_coordinates(tmp_path):
    with pytest.raises(InputError, match="no parcel"):
        read_coordinate_txt(write(tmp_path, HEADER + "[地块坐标]\n\n"))
    text = EXAMPLE + "4,0.1,2,地块2,面,,城镇住宅用地,0701,@\n"
    with pytest.raises(InputError) as exc:
        read_coordinate_txt(write(tmp_path, text))
    lineno = len(text.splitlines())
    assert f"line {lineno}" in exc.value.en and "no coordinates" in exc.value.en


def test_hole_before_outer_ring(tmp_path):
    coords = RECT.replace(",1,", ",2,")
    with pytest.raises(InputError) as exc:
        read_coordinate_txt(write(tmp_path, with_coords(coords)))
    assert "line 14" in exc.value.en and "before outer ring 1" in exc.value.en


def test_too_few_points_and_not_polygon(tmp_path):
    coords = "J1,1,3940200.000,35470300.000\nJ2,1,3940200.000,35470350.000\n" \
             "J1,1,3940200.000,35470300.000\n"
    with pytest.raises(GeometryError) as exc:
        read_coordinate_txt(write(tmp_path, with_coords(coords)))
    assert exc.value.problems[0].feature == "地块1 (DKBH 1)"
    assert "distinct points" in exc.value.problems[0].en
    with pytest.raises(GeometryError) as exc:
        read_coordinate_txt(write(tmp_path, EXAMPLE.replace(",地块1,面,", ",地块1,线,")))
    assert "线" in exc.value.problems[0].zh


def test_six_digit_eastings(tmp_path):
    result = read_coordinate_txt(write(tmp_path, with_coords(RECT_6DIGIT)))
    assert result.crs.to_epsg() == 4544
    assert result.frame.geometry.iloc[0].bounds == (470300.0, 3940200.0, 470350.0, 3940230.0)
    assert result.notes == []


def test_missing_zone(tmp_path):
    header = HEADER.replace("带号=35\n", "")
    result = read_coordinate_txt(write(tmp_path, with_coords(RECT, header=header)))
    assert result.crs.to_epsg() == 4523
    assert len(result.notes) == 1 and "35" in result.notes[0].en
    with pytest.raises(CRSError, match="--crs"):
        read_coordinate_txt(write(tmp_path, with_coords(RECT_6DIGIT, header=header)))


def test_declared_area_off_by_five_percent(tmp_path):
    parcel = "5,0.1575,1,地块1,面,,城镇住宅用地,0701,@"  # 1500 m2 computed = 0.15 ha
    result = read_coordinate_txt(write(tmp_path, with_coords(RECT, parcel=parcel)))
    assert len(result.notes) == 1
    note = result.notes[0]
    assert "0.1575" in note.en and "0.1500" in note.en and "0.1575" in note.zh
    assert note.feature == "地块1 (DKBH 1)"
    within = "5,0.1510,1,地块1,面,,城镇住宅用地,0701,@"  # 0.67 % off: no note
    assert read_coordinate_txt(write(tmp_path, with_coords(RECT, parcel=within))).notes == []


@pytest.mark.parametrize(("zone", "prefixed", "code", "name"), [
    (35, True, 4523, "3-degree Gauss-Kruger zone 35"),
    (35, False, 4544, "3-degree Gauss-Kruger CM 105E"),
    (25, True, 4513, "3-degree Gauss-Kruger zone 25"),
    (45, False, 4554, "3-degree Gauss-Kruger CM 135E"),
    (18, True, 4496, "Gauss-Kruger zone 18"),
    (18, False, 4507, "Gauss-Kruger CM 105E"),
    (13, True, 4491, "Gauss-Kruger zone 13"),
])
def test_epsg_table(zone, prefixed, code, name):
    assert cgcs2000_gk_epsg(zone, prefixed) == code
    assert CRS.from_epsg(code).name.endswith(name)


def test_epsg_table_rejects_bad_zone():
    with pytest.raises(CRSError):
        cgcs2000_gk_epsg(24, True)


def test_decode_text_prefers_utf8_then_gbk():
    assert decode_text("坐标系".encode("utf-8")) == ("坐标系", "utf-8")
    assert decode_text("坐标系".encode("gbk")) == ("坐标系", "gb18030")
    assert decode_text("\ufeff坐标系".encode("utf-8")) == ("坐标系", "utf-8-sig")
