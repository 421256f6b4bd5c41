"""The ``gisplat`` command: JSON output, exit codes, messages without tracebacks."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from gis_platform.cli import main
from tests.factories import E0, N0, square, write_vector

pytestmark = pytest.mark.postgis


def run(*args: str, ok: bool = True):
    res = CliRunner().invoke(main, list(args))
    if ok:
        assert res.exit_code == 0, res.output
    return res


def test_plans_and_layers_round_trip_as_json(store, tmp_path, uid, data_dir):
    plan = f"cli-{uid}"
    added = json.loads(run("plans", "add", "--code", plan, "--name", "定西市国土空间总体规划",
                           "--kind", "territorial", "--authority", "定西市自然资源局",
                           "--approved-on", "2024-06-30", "--json").output)
    assert added["status"] == "active" and added["approved_on"] == "2024-06-30"
    listed = json.loads(run("plans", "list", "--json").output)
    assert plan in [p["code"] for p in listed]
    loaded = json.loads(run("ingest", str(data_dir / "txt_example_gbk.txt"), "--plan", plan,
                            "--layer", "redline", "--class-field", "DLBM", "--scheme", "gb2023",
                            "--json").output)
    assert loaded["version"] == 1 and loaded["total_area_m2"] == pytest.approx(9600.0, abs=0.01)
    shown = json.loads(run("layers", "show", f"{plan}/redline", "--json").output)
    assert [v["version"] for v in shown["versions"]] == [1]
    assert shown["versions"][0]["source_sha256"] == loaded["source_sha256"]
    layers = json.loads(run("layers", "list", "--plan", plan, "--json").output)
    assert layers[0]["ref"] == f"{plan}/redline"
    detail = json.loads(run("plans", "show", plan, "--json").output)
    assert detail["layers"][0]["name"] == "redline"


def test_refusal_exits_non_zero_with_a_message(store, tmp_path, uid):
    plan = store.plan(f"cli-{uid}")
    path = write_vector(tmp_path / "noprj.shp", [square(E0, N0, 10)], None)
    before = store.counts()
    res = run("ingest", str(path), "--plan", plan, "--layer", "x", ok=False)
    assert res.exit_code == 1
    assert "noprj.shp" in res.output and "坐标系" in res.output and "Traceback" not in res.output
    res = run("--lang", "en", "ingest", str(path), "--plan", plan, "--layer", "x", "--json", ok=False)
    body = json.loads(res.output)
    assert res.exit_code == 1 and body["error"] == "crs" and body["file"] == "noprj.shp"
    assert store.counts() == before


def test_unknown_plan_and_layer(store, uid):
    res = run("plans", "show", f"nope-{uid}", ok=False)
    assert res.exit_code == 1 and "没有规划" in res.output
    res = run("--lang", "en", "layers", "show", f"nope-{uid}/x", ok=False)
    assert res.exit_code == 1 and "no layer" in res.output
    res = run("plans", "add", "--code", f"k-{uid}", "--name", "x", "--kind", "bogus", ok=False)
    assert res.exit_code == 1 and "territorial" in res.output


def test_db_status_says_where_the_store_is(engine, settings):
    body = json.loads(run("db", "status", "--json").output)
    if settings.database_url:
        assert body["embedded"] is False
    else:
        assert body["running"] is True and body["home"] == str(settings.home_abs)
        assert "password" not in json.dumps(body)


def test_check_command_on_the_coordinate_txt(store, data_dir, tmp_path):
    out = tmp_path / "report.html"
    res = run("check", str(data_dir / "txt_example_gbk.txt"), "--use", "0701", "--type", "ordinary",
              "--report", str(out), "--json")
    body = json.loads(res.output)
    assert body["area"]["plane_area_m2"] == pytest.approx(9600.0, abs=0.01)
    assert body["area"]["declared_area_m2"] == pytest.approx(9600.0)  # DKMJ 0.9600 ha from the file
    assert body["area"]["flagged"] is False
    assert body["boundary"][0][0] == [1, 3939000.0, 35465600.0]  # J1: X northing, Y easting
    assert body["verdict"] in ("pass", "conditional", "fail") and body["run_id"]
    html = out.read_text(encoding="utf-8")
    assert "9,600.00" in html and "以有权机关审批为准" in html
    text_out = run("check", "--rerun", str(body["run_id"])).output
    assert "检查记录" in text_out


def test_batch_check_gives_one_result_per_site(store, tmp_path):
    from tests.factories import E0, N0, square

    path = write_vector(tmp_path / "sites.gpkg", [square(E0 + 3000, N0, 100), square(E0 + 3500, N0, 50)],
                        "EPSG:4523", name=["甲", "乙"])
    body = json.loads(run("check", str(path), "--batch", "--json").output)
    assert [round(b["area"]["plane_area_m2"], 2) for b in body] == [10000.0, 2500.0]
    assert len({b["run_id"] for b in body}) == 2


def test_applies_command(store, data_dir):
    body = json.loads(run("applies", "--point", "104.62", "35.58", "--json").output)
    assert "features" in body and isinstance(body["missing_themes"], list)
    res = run("applies", "--point", "120", "30", ok=False)
    assert res.exit_code == 1 and "范围" in res.output


def test_ingest_checks_internal_overlaps_and_the_command_reports_them(store, tmp_path, uid):
    plan = store.plan(f"cli-ov-{uid}")
    a, b, c = square(E0, N0, 10), square(E0 + 5, N0, 10), square(E0 + 30, N0, 10)  # a, b share 50 m²
    path = write_vector(tmp_path / "ov.geojson", [a, b, c], "EPSG:4523")
    loaded = json.loads(run("ingest", str(path), "--plan", plan, "--layer", "dltb", "--json").output)
    assert loaded["overlaps"] == {"pairs": 1, "area_m2": pytest.approx(a.intersection(b).area)}
    text = run("ingest", str(path), "--plan", plan, "--layer", "dltb2").output
    assert "内部重叠：1 对要素" in text
    again = json.loads(run("layers", "overlaps", f"{plan}/dltb", "--json").output)
    assert [(r["pairs"], r["area_m2"]) for r in again] == [(1, pytest.approx(50.0))]
    res = run("--lang", "en", "layers", "overlaps", ok=False)
    assert res.exit_code == 1 and "--unchecked" in res.output and "Traceback" not in res.output
    assert run("layers", "overlaps", "--unchecked", "--json").exit_code == 0
