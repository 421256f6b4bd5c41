"""Consistency checks of the classification seed tables in plans/code_tables (DOMAIN.md §2)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

TABLES = Path(__file__).resolve().parents[2] / "plans" / "code_tables"
CODE_HEADER = ["code", "name_zh", "name_en", "level", "parent", "is_construction"]
FLAG = {"true": True, "false": False, "": None}


def _read(name: str) -> list[dict[str, str]]:
    raw = (TABLES / name).read_bytes()
    assert not raw.startswith(b"\xef\xbb\xbf"), f"{name} has a UTF-8 BOM"
    text = raw.decode("utf-8")
    return list(csv.DictReader(text.splitlines()))


def _header(name: str) -> list[str]:
    with open(TABLES / name, encoding="utf-8", newline="") as f:
        return next(csv.reader(f))


SCHEMES = [r["code"] for r in _read("schemes.csv")]


def _codes(scheme: str) -> dict[str, dict[str, str]]:
    return {r["code"]: r for r in _read(f"{scheme}.csv")}


def test_schemes_listed():
    assert _header("schemes.csv") == ["code", "name_zh", "name_en", "description"]
    assert set(SCHEMES) == {"gb2023", "gbt21010", "sandiao", "gb50137", "tdyt", "gzq"}
    assert len(SCHEMES) == len(set(SCHEMES))
    for r in _read("schemes.csv"):
        assert r["name_zh"] and r["name_en"] and r["description"]


@pytest.mark.parametrize("scheme", SCHEMES)
def test_scheme_file_structure(scheme):
    assert (TABLES / f"{scheme}.csv").is_file()
    assert _header(f"{scheme}.csv") == CODE_HEADER
    rows = _read(f"{scheme}.csv")
    codes = [r["code"] for r in rows]
    assert len(codes) == len(set(codes)), "duplicate codes"
    by_code = {r["code"]: r for r in rows}
    for r in rows:
        assert r["code"] == r["code"].strip() and r["code"]
        assert r["name_zh"] and r["name_en"]
        assert r["is_construction"] in FLAG
        level = int(r["level"])
        if level == 1:
            assert r["parent"] == "", r["code"]
        else:
            parent = by_code.get(r["parent"])
            assert parent is not None, f"{r['code']}: parent {r['parent']!r} missing"
            assert int(parent["level"]) == level - 1, r["code"]


@pytest.mark.parametrize(
    ("scheme", "code", "expected"),
    [
        ("gb2023", "0103", False),
        ("gb2023", "01", False),
        ("gb2023", "0507", False),
        ("gb2023", "06", True),
        ("gb2023", "060101", True),
        ("gb2023", "0602", True),
        ("gb2023", "0701", True),
        ("gb2023", "070102", True),
        ("gb2023", "1001", True),
        ("gb2023", "1403", True),
        ("gb2023", "16", True),
        ("gb2023", "1701", False),
        ("gb2023", "2302", False),
        ("gb2023", "2303", False),
        ("gb2023", "18", None),
        ("gb2023", "24", None),
        ("gbt21010", "0103", False),
        ("gbt21010", "0404", False),
        ("gbt21010", "0603", True),
        ("gbt21010", "0702", True),
        ("gbt21010", "0906", True),
        ("gbt21010", "1003", True),
        ("gbt21010", "1006", False),
        ("gbt21010", "1104", False),
        ("gbt21010", "1107", False),
        ("gbt21010", "1109", True),
        ("gbt21010", "1201", True),
        ("gbt21010", "1202", False),
        ("gbt21010", "1203", False),
        ("gbt21010", "10", None),
        ("gbt21010", "11", None),
        ("gbt21010", "12", None),
        ("sandiao", "00", False),
        ("sandiao", "0603", False),
        ("sandiao", "05H1", True),
        ("sandiao", "0508", True),
        ("sandiao", "08H2A", True),
        ("sandiao", "1006", False),
        ("sandiao", "1104A", False),
        ("sandiao", "1109", True),
        ("gb50137", "H", True),
        ("gb50137", "H14", True),
        ("gb50137", "E", False),
        ("gb50137", "E13", False),
        ("gb50137", "E2", False),
        ("gb50137", "M2", True),
        ("gb50137", "R", True),
        ("gb50137", "G1", True),
        ("tdyt", "010", False),
        ("tdyt", "030", True),
        ("tdyt", "050", True),
        ("tdyt", "990", False),
        ("gzq", "010", True),
        ("gzq", "020", True),
        ("gzq", "021", True),
        ("gzq", "030", False),
        ("gzq", "040", False),
    ],
)
def test_construction_flag_spot_checks(scheme, code, expected):
    row = _codes(scheme)[code]
    assert FLAG[row["is_construction"]] is expected


def test_gb2023_children_inherit_l1_flag_and_sea_is_l1_only():
    rows = _codes("gb2023")
    for code, r in rows.items():
        assert r["is_construction"] == rows[code[:2]]["is_construction"], code
        assert code.startswith(r["parent"]), code
    for sea in ("18", "19", "20", "21", "22", "24"):
        assert rows[sea]["level"] == "1"
        assert not any(r["parent"] == sea for r in rows.values())
    assert rows["16"]["level"] == "1"
    assert rows["060101"]["parent"] == "0601" and rows["060101"]["level"] == "3"


def test_gbt21010_structure():
    rows = _codes("gbt21010")
    assert sum(r["level"] == "1" for r in rows.values()) == 12
    assert sum(r["level"] == "2" for r in rows.values()) == 73
    assert all(r["level"] in ("1", "2") for r in rows.values())


def test_sandiao_wetland_group_and_merged_classes():
    rows = _codes("sandiao")
    assert rows["00"]["level"] == "1" and rows["00"]["parent"] == ""
    wetland = {c for c, r in rows.items() if r["parent"] == "00"}
    assert wetland == {"0303", "0304", "0306", "0402", "0603", "1105", "1106", "1108"}
    assert all(rows[c]["is_construction"] == "false" for c in wetland)
    for code, parent, level in [
        ("05H1", "05", "2"),
        ("0508", "05", "2"),
        ("08H1", "08", "2"),
        ("08H2", "08", "2"),
        ("08H2A", "08H2", "3"),
        ("1104A", "1104", "3"),
        ("1107A", "1107", "3"),
        ("0601", "06", "2"),
        ("0602", "06", "2"),
    ]:
        assert rows[code]["parent"] == parent and rows[code]["level"] == level, code
    # merged originals are gone
    for gone in ("0501", "0507", "0604", "0801", "0808"):
        assert gone not in rows


def test_gb50137_urban_classes_are_l1():
    rows = _codes("gb50137")
    for l1 in "RABMWSUG":
        assert rows[l1]["level"] == "1" and rows[l1]["parent"] == ""
    assert rows["H11"]["parent"] == "H1" and rows["H11"]["level"] == "3"
    assert rows["B9"]["parent"] == "B"


@pytest.mark.parametrize("scheme", ["tdyt", "gzq"])
def test_zone_codes_keep_leading_zeros(scheme):
    codes = _codes(scheme)
    assert all(len(c) == 3 and c.isdigit() for c in codes)
    assert "010" in codes and "10" not in codes
    assert "030" in codes


def test_leading_zeros_kept_in_land_schemes():
    for scheme in ("gb2023", "gbt21010", "sandiao"):
        codes = _codes(scheme)
        assert "01" in codes and "0101" in codes and "1" not in codes and "101" not in codes


def test_local_mappings():
    assert _header("local_mappings.csv") == ["scheme", "local_code", "standard_code", "note"]
    rows = _read("local_mappings.csv")
    assert 40 <= len(rows) <= 80
    keys = [(r["scheme"], r["local_code"]) for r in rows]
    assert len(keys) == len(set(keys)), "duplicate (scheme, local_code)"
    tables = {s: _codes(s) for s in SCHEMES}
    unmapped = 0
    for r in rows:
        assert r["scheme"] in tables
        assert r["local_code"]
        assert r["note"], r["local_code"]
        if r["standard_code"]:
            assert r["standard_code"] in tables[r["scheme"]], r
            assert r["local_code"] not in tables[r["scheme"]] or r["local_code"] == r["standard_code"]
        else:
            unmapped += 1
    assert unmapped >= 3
    lookup = {(r["scheme"], r["local_code"]): r["standard_code"] for r in rows}
    assert lookup[("gb50137", "C21")] == "B1"
    assert lookup[("gb50137", "ｒ２")] == "R2"
    assert lookup[("gb50137", "二类居住用地")] == "R2"
    assert lookup[("gb50137", "BR")] == ""
    assert lookup[("gb2023", "旱地")] == "0103"
