"""DXF reader: closed polylines become polygons, everything else is reported."""

from __future__ import annotations

import math
from pathlib import Path

import ezdxf
import pytest

from gis_platform.core.errors import GeometryError, InputError, LimitError
from gis_platform.core.settings import Limits
from layers.dxf import ARC_MAX_DEVIATION, read_dxf

LIMITS = Limits()
X0, Y0 = 35_500_000.0, 3_900_000.0  # CGCS2000 3° zone 35 style coordinates


def _doc():
    doc = ezdxf.new("R2010")
    doc.layers.add("宗地")
    return doc, doc.modelspace()


def _square(msp, x=X0, y=Y0, size=100.0, layer="宗地", close=True):
    pts = [(x, y), (x + size, y), (x + size, y + size), (x, y + size)]
    return msp.add_lwpolyline(pts, close=close, dxfattribs={"layer": layer})


def _save(doc, tmp_path: Path, name="a.dxf") -> Path:
    path = tmp_path / name
    doc.saveas(path)
    return path


def _segment_area(chord: float, bulge: float) -> float:
    """Area between a chord and its bulge arc."""
    theta = 4 * math.atan(abs(bulge))
    r = chord / (2 * math.sin(theta / 2))
    return r * r / 2 * (theta - math.sin(theta))


def test_closed_square(tmp_path):
    doc, msp = _doc()
    e = _square(msp)
    result = read_dxf(_save(doc, tmp_path), LIMITS)
    assert result.crs is None
    assert result.source_format == "dxf"
    assert len(result.frame) == 1
    geom = result.frame.geometry.iloc[0]
    assert geom.area == 10000.0
    assert geom.bounds == (X0, Y0, X0 + 100, Y0 + 100)  # x = easting, y = northing
    row = result.frame.iloc[0]
    assert (row["dxf_layer"], row["handle"], row["entity"]) == ("宗地", e.dxf.handle, "LWPOLYLINE")
    assert result.feature_ids == [f"宗地:{e.dxf.handle}"]
    assert result.notes == []


def test_first_equals_last_counts_as_closed(tmp_path):
    doc, msp = _doc()
    pts = [(0, 0), (100, 0), (100, 100), (0, 100), (0, 0)]
    msp.add_lwpolyline(pts, close=False)
    msp.add_polyline2d([(200, 0), (300, 0), (300, 50), (200, 0)])  # old-style POLYLINE
    result = read_dxf(_save(doc, tmp_path), LIMITS)
    assert sorted(result.frame.geometry.area) == [2500.0, 10000.0]
    assert set(result.frame["entity"]) == {"LWPOLYLINE", "POLYLINE"}


def test_bulge_semicircle_area(tmp_path):
    """60 × 40 rectangle with a semicircle (bulge 1) bowing out of its 40 m east side."""
    doc, msp = _doc()
    msp.add_lwpolyline([(X0, Y0, 0), (X0 + 60, Y0, 1), (X0 + 60, Y0 + 40, 0), (X0, Y0 + 40, 0)],
                       format="xyb", close=True)
    result = read_dxf(_save(doc, tmp_path), LIMITS)
    exact = 60 * 40 + math.pi * 20**2 / 2
    area = result.frame.geometry.iloc[0].area
    assert abs(area - exact) < 0.5
    assert area <= exact  # vertices on the true arc: chords only cut inside
    assert result.meta["arcs_flattened"] == 1
    assert result.frame.geometry.iloc[0].bounds[2] == pytest.approx(X0 + 80, abs=1e-6)


@pytest.mark.parametrize("bulge", [1.0, -0.4, 0.1])
def test_large_arc_within_chord_bound(tmp_path, bulge):
    """A 1 km chord: the area error stays within the sagitta bound (2/3 · d · arc length)."""
    doc, msp = _doc()
    msp.add_lwpolyline([(0, 0, 0), (1000, 0, bulge), (1000, 1000, 0), (0, 1000, 0)],
                       format="xyb", close=True)
    area = read_dxf(_save(doc, tmp_path), LIMITS).frame.geometry.iloc[0].area
    seg = _segment_area(1000, bulge)
    exact = 1000 * 1000 + (seg if bulge > 0 else -seg)
    theta = 4 * math.atan(abs(bulge))
    arc_len = 1000 / (2 * math.sin(theta / 2)) * theta
    assert abs(area - exact) <= 2 / 3 * ARC_MAX_DEVIATION * arc_len + 1e-6


def test_shared_arc_has_no_sliver(tmp_path):
    """Two parcels share an arc drawn in opposite directions: they meet exactly."""
    doc, msp = _doc()
    msp.add_lwpolyline([(0, 0, 0), (100, 0, 0.5), (100, 100, 0), (0, 100, 0)],
                       format="xyb", close=True)
    msp.add_lwpolyline([(100, 100, -0.5), (100, 0, 0), (300, 0, 0), (300, 100, 0)],
                       format="xyb", close=True)
    a, b = read_dxf(_save(doc, tmp_path), LIMITS).frame.geometry
    assert a.intersection(b).area < 1e-6
    assert a.union(b).area == pytest.approx(30000, abs=1e-4)


def test_open_polyline_is_an_error(tmp_path):
    doc, msp = _doc()
    _square(msp)
    open1 = msp.add_lwpolyline([(0, 0), (10, 0), (10, 10)], dxfattribs={"layer": "道路"})
    open2 = msp.add_polyline2d([(0, 0), (5, 5), (9, 0)], dxfattribs={"layer": "道路"})
    with pytest.raises(GeometryError) as err:
        read_dxf(_save(doc, tmp_path), LIMITS)
    features = [p.feature for p in err.value.problems]
    assert features == [f"道路:{open1.dxf.handle}", f"道路:{open2.dxf.handle}"]
    assert err.value.file == "a.dxf"


def test_texts_reported_and_used_as_label(tmp_path):
    doc, msp = _doc()
    _square(msp)
    _square(msp, x=X0 + 200)
    msp.add_text("地块一", dxfattribs={"insert": (X0 + 50, Y0 + 50)})
    msp.add_text("界址点 J1", dxfattribs={"insert": (X0 - 10, Y0 - 10)})  # outside both
    msp.add_text("甲", dxfattribs={"insert": (X0 + 210, Y0 + 10)})  # two texts in parcel 2:
    msp.add_mtext("乙", dxfattribs={"insert": (X0 + 290, Y0 + 90)})  # ambiguous, no label
    msp.add_line((0, 0), (1, 1))
    msp.add_circle((0, 0), 5)
    result = read_dxf(_save(doc, tmp_path), LIMITS)
    assert list(result.frame["label"]) == ["地块一", None]
    notes = {p.en for p in result.notes}
    assert "ignored 3 TEXT entities (used only as labels)" in notes
    assert "ignored 1 MTEXT entities (used only as labels)" in notes
    assert "ignored 1 LINE entities" in notes
    assert "ignored 1 CIRCLE entities" in notes
    assert any(p.zh.startswith("忽略 3 个 TEXT 实体") for p in result.notes)
    assert result.meta["labels_ambiguous"] == 1


def test_no_polylines(tmp_path):
    doc, msp = _doc()
    msp.add_line((0, 0), (1, 1))
    with pytest.raises(InputError) as err:
        read_dxf(_save(doc, tmp_path), LIMITS)
    assert "no closed polylines" in err.value.en


def test_not_a_dxf(tmp_path):
    path = tmp_path / "bad.dxf"
    path.write_text("this is not a drawing\n")
    with pytest.raises(InputError) as err:
        read_dxf(path, LIMITS)
    assert err.value.file == "bad.dxf"


def test_vertex_limit(tmp_path):
    doc, msp = _doc()
    msp.add_lwpolyline([(math.cos(a / 10), math.sin(a / 10)) for a in range(60)], close=True)
    with pytest.raises(LimitError):
        read_dxf(_save(doc, tmp_path), Limits(max_vertices_per_feature=50))


def test_arc_flattening_counts_toward_vertex_limit(tmp_path):
    doc, msp = _doc()
    msp.add_lwpolyline([(0, 0, 0), (1000, 0, 1), (1000, 1000, 0)], format="xyb", close=True)
    with pytest.raises(LimitError):
        read_dxf(_save(doc, tmp_path), Limits(max_vertices_per_feature=100))


def test_mirrored_ocs(tmp_path):
    """Extrusion (0, 0, -1) mirrors x: the polygon lands at negative OCS x in WCS."""
    doc, msp = _doc()
    msp.add_lwpolyline([(10, 0), (20, 0), (20, 10), (10, 10)], close=True,
                       dxfattribs={"extrusion": (0, 0, -1)})
    geom = read_dxf(_save(doc, tmp_path), LIMITS).frame.geometry.iloc[0]
    assert geom.bounds == (-20.0, 0.0, -10.0, 10.0)
