"""DBF encoding detection: GBK Shapefiles without .cpg come back readable."""

from __future__ import annotations

import struct
from pathlib import Path

import geopandas as gpd
import pyogrio
import pytest
from shapely.geometry import Point

from layers.encoding import detect_dbf_encoding

NAMES = ["定西市安定区", "临洮县", "渭源县"]


def _write(path: Path, encoding: str | None, names=NAMES, column: str = "名称") -> Path:
    frame = gpd.GeoDataFrame({column: names, "code": list(range(len(names)))},
                             geometry=[Point(104.6 + i, 35.5) for i in range(len(names))],
                             crs=4490)
    kwargs = {"encoding": encoding} if encoding else {}
    pyogrio.write_dataframe(frame, path, **kwargs)
    path.with_suffix(".cpg").unlink(missing_ok=True)
    return path


def _raw_dbf(path: Path, values: list[bytes], ldid: int = 0) -> Path:
    """A minimal dBASE III file with one 20-byte character field ``NAME``."""
    width = 20
    header_len = 32 + 32 + 1
    head = struct.pack("<B3BIHH", 3, 124, 1, 1, len(values), header_len, 1 + width)
    head += bytes(17) + bytes([ldid]) + bytes(2)
    field = b"NAME".ljust(11, b"\x00") + b"C" + bytes(4) + bytes([width, 0]) + bytes(14)
    body = b"".join(b" " + v.ljust(width, b" ")[:width] for v in values)
    path.write_bytes(head + field + b"\r" + body + b"\x1a")
    return path


def test_gbk_without_cpg(tmp_path):
    shp = _write(tmp_path / "地块.shp", "GBK")
    assert not shp.with_suffix(".cpg").exists()
    encoding, reason = detect_dbf_encoding(shp.with_suffix(".dbf"))
    assert encoding == "GBK", reason
    back = pyogrio.read_dataframe(shp, encoding=encoding)
    assert list(back["名称"]) == NAMES


def test_gbk_field_name_only(tmp_path):
    """Chinese only in a column name: the field descriptors are evidence too."""
    shp = _write(tmp_path / "a.shp", "GBK", names=["a", "b"], column="地类")
    assert detect_dbf_encoding(shp.with_suffix(".dbf"))[0] == "GBK"


def test_utf8_without_cpg(tmp_path):
    shp = _write(tmp_path / "a.shp", None)
    encoding, reason = detect_dbf_encoding(shp.with_suffix(".dbf"))
    assert encoding == "UTF-8", reason
    assert list(pyogrio.read_dataframe(shp, encoding=encoding)["名称"]) == NAMES


def test_ascii_is_utf8(tmp_path):
    shp = _write(tmp_path / "a.shp", None, names=["Anding", "Lintao"], column="name")
    encoding, reason = detect_dbf_encoding(shp.with_suffix(".dbf"))
    assert encoding == "UTF-8"
    assert "ASCII" in reason


def test_shp_path_accepted(tmp_path):
    shp = _write(tmp_path / "a.shp", "GBK")
    assert detect_dbf_encoding(shp)[0] == "GBK"


@pytest.mark.parametrize("cpg, expected", [("UTF-8", "UTF-8"), ("utf8\n", "UTF-8"),
                                           ("65001", "UTF-8"), ("936", "GBK"),
                                           ("CP936", "GBK"), ("GB2312", "GBK"),
                                           ("GBK", "GBK"), ("GB18030", "GB18030")])
def test_cpg_is_trusted(tmp_path, cpg, expected):
    dbf = _raw_dbf(tmp_path / "a.dbf", ["定西".encode("gbk")])
    (tmp_path / "a.cpg").write_text(cpg)
    encoding, reason = detect_dbf_encoding(dbf)
    assert encoding == expected
    assert ".cpg" in reason


def test_unknown_cpg_left_to_gdal(tmp_path):
    dbf = _raw_dbf(tmp_path / "a.dbf", [b"abc"])
    (tmp_path / "a.cpg").write_text("ISO-8859-1")
    encoding, reason = detect_dbf_encoding(dbf)
    assert encoding is None
    assert "GDAL" in reason


def test_undecodable_bytes(tmp_path):
    dbf = _raw_dbf(tmp_path / "a.dbf", [b"\xff\xfe\xff abc"])
    encoding, reason = detect_dbf_encoding(dbf)
    assert encoding is None
    assert "--encoding" in reason


def test_language_driver_reported(tmp_path):
    dbf = _raw_dbf(tmp_path / "a.dbf", ["临洮县".encode("gbk")], ldid=0x4D)
    encoding, reason = detect_dbf_encoding(dbf)
    assert encoding == "GBK"
    assert "0x4D" in reason


def test_truncated_multibyte_at_field_end(tmp_path):
    """A writer cut a UTF-8 value mid-character at the field width: still UTF-8."""
    value = ("定" * 7).encode("utf-8")[:20]  # 20 bytes: six characters and a partial one
    dbf = _raw_dbf(tmp_path / "a.dbf", [value, "临洮".encode("utf-8")])
    assert detect_dbf_encoding(dbf)[0] == "UTF-8"


def test_gb18030_only(tmp_path):
    """A four-byte GB18030 character (not in GBK) is detected as GB18030."""
    dbf = _raw_dbf(tmp_path / "a.dbf", ["𠀀村".encode("gb18030")])
    assert detect_dbf_encoding(dbf)[0] == "GB18030"
