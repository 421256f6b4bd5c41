"""Plan-vs-plan conflict runs (差异图斑) on a small hand-built pair of plans.

Every expected patch and area is written down from the rectangles below (by hand, or with
shapely in the test), independently of the code under test.
"""

from __future__ import annotations

import itertools
import re

import numpy as np

import pytest
import shapely
from sqlalchemy import text
from shapely.geometry import Polygon, box

from conflict_checks.conflict_results import data_quality, get_run, history, patches, progress, update_patches
from conflict_checks.conflict_run import run_conflicts
from gis_platform.core.errors import InputError
from tests.factories import write_vector

pytestmark = pytest.mark.postgis

# Land-use plan (A, 土地用途区 tdyt): 030 城镇建设用地区 and 050 独立工矿区 are construction,
# 010/020 are not. Urban plan (B, GB 50137): R2/M1 construction, E2 non-construction.
A_FEATURES = [
    ("A1", box(0, 0, 1000, 1000), "030"),
    ("A2", box(1000, 0, 2000, 1000), "020"),
    ("A3", box(0, 1000, 1000, 2000), "050"),
    ("A4", box(1000, 1000, 2000, 2000), "010"),
    ("A5", box(2000, 0, 2010, 10), "030"),          # 100 m² piece: below the minimum area
    ("A6", box(2000, 100, 2020.1, 120), "030"),     # 402 m²: just above the minimum area
    ("A8", box(0, 2000, 1000, 3000), "X99"),        # a code no table knows
    ("A9", box(1000, 2000, 2500, 3000), "030"),
]
B_FEATURES = [
    ("B1", box(0, 0, 500, 1000), "R2"),
    ("B2", box(500, 0, 1500, 1000), "E2"),
    ("B3", box(1500, 0, 2000, 1000), "M1"),
    ("B4", box(0, 1000, 1000.5, 2000), "R2"),       # digitised 0.5 m too far east: a sliver
    ("B5", box(1000.5, 1000, 2000, 2000), "E2"),
    ("B6", box(2000, 0, 2100, 100), "E2"),
    ("B7", box(2000, 100, 2100, 200), "E2"),
    ("B8", box(0, 2000, 1000, 3000), "R2"),
    ("B9", box(1000, 2000, 2000, 3000), "R2"),      # B9 and B10 overlap in x 1500–2000
    ("B10", box(1500, 2000, 2500, 3000), "E2"),
]

_CORNERS = itertools.count()


class Pair:
    """A private corner of the city holding one pair of plans plus the enrichment layers."""

    def __init__(self, store, tmp_path, uid: str) -> None:
        k = next(_CORNERS)
        self.x0, self.y0 = 35_420_000.0 + (k % 4) * 8_000.0, 3_950_000.0 + (k // 4) * 8_000.0
        self.store, self.tmp, self.uid = store, tmp_path, uid
        self.a_plan = store.plan(f"tg-{uid}", kind="land_use_master")
        self.b_plan = store.plan(f"cg-{uid}", kind="urban_master")
        self.c_plan = store.plan(f"kz-{uid}", kind="control_line")

    def g(self, geom: shapely.Geometry) -> shapely.Geometry:
        return shapely.affinity.translate(geom, self.x0, self.y0)

    def load(self, plan: str, name: str, feats: list[tuple[str, shapely.Geometry, str]], **kw) -> str:
        path = write_vector(self.tmp / f"{name}-{len(list(self.tmp.iterdir()))}.geojson",
                            [self.g(f[1]) for f in feats], "EPSG:4523",
                            NAME=[f[0] for f in feats], CODE=[f[2] for f in feats])
        self.store.ingest(path, plan, name, class_field="CODE", **kw)
        return f"{plan}/{name}"

    def control(self, name: str, geoms: list[shapely.Geometry], theme: str, **kw) -> str:
        path = write_vector(self.tmp / f"{name}.geojson", [self.g(x) for x in geoms], "EPSG:4523",
                            XZQDM=[f"6299{i:02d}" for i in range(len(geoms))],
                            XZQMC=[f"测试{i + 1}县" for i in range(len(geoms))])
        self.store.ingest(path, self.c_plan, name, theme=theme, **kw)
        return f"{self.c_plan}/{name}"


@pytest.fixture
def pair(store, tmp_path, uid):
    p = Pair(store, tmp_path, uid)
    # A declares its coverage (its extent): where it has no feature inside, it has a gap.
    p.a = p.load(p.a_plan, "tdytq", A_FEATURES, scheme="tdyt", theme="land_use_zone", coverage="extent")
    p.b = p.load(p.b_plan, "ydgh", B_FEATURES, scheme="gb50137", theme="urban_land_use")
    p.control("yjjbnt", [box(1500, 0, 2000, 500)], "permanent_basic_farmland", coverage="extent")
    p.control("counties", [box(-100, -100, 3000, 1600), box(-100, 1600, 3000, 3100)], "admin_county")
    return p


def _key(patch) -> tuple:
    return (patch["category"], patch["subtype"] or "", round(patch["area_m2"], 2))


def test_categories_slivers_unmapped_and_overlap(pair, store):
    run_id = run_conflicts(store.engine, store.settings, pair.a, pair.b, "landuse_vs_urban", engine_name="local")
    with store.session() as s:
        kept = patches(s, run_id, with_geometry=True)
        sliv = patches(s, run_id, slivers=True, with_geometry=True)
        run = get_run(s, run_id)
        dq = data_quality(s, run_id)
    got = sorted(_key(p) for p in kept)
    expected = sorted([
        ("01", "", 500_000.0),                    # A1 030 × B1 R2: both construction, uses agree
        ("01", "use_inconsistent", 1_000_000.0),  # A3 050 mining × B4 R2 residential
        ("01", "", 500_000.0),                    # A9 × B9 outside B's overlap
        ("02", "", 500_000.0),                  # A2 020 × B2 E2
        ("02", "", 999_500.0),                  # A4 010 × B5 E2
        ("03", "", 500_000.0),                  # A1 030 × B2 E2
        ("03", "", 402.0),                      # A6 × B7: 20.1 m × 20 m, just above 400 m²
        ("03", "", 500_000.0),                  # A9 × B10 outside B's overlap
        ("04", "", 500_000.0),                  # A2 020 × B3 M1
        ("unmapped", "no_code", 1_000_000.0),     # A8 X99 × B8
        ("overlap", "", 500_000.0),             # A9 × (B9 ∩ B10): B says R2 and E2 there
    ])
    assert got == expected
    # The 04 patch lies on permanent basic farmland: flagged, highest priority.
    p04 = next(p for p in kept if p["category"] == "04")
    assert p04["in_farmland"] is True and p04["priority"] == 1
    assert shapely.equals_exact(shapely.normalize(p04["geometry"]),
                                shapely.normalize(pair.g(box(1500, 0, 2000, 1000))), 1e-6)
    assert all(p["in_farmland"] is False for p in kept if p is not p04)
    assert p04["county_name"] == "测试1县"
    assert next(p for p in kept if p["category"] == "unmapped")["county_name"] == "测试2县"
    # Names come from the code tables.
    p01 = next(p for p in kept if p["subtype"] == "use_inconsistent")
    assert (p01["a_code"], p01["a_name"], p01["b_code"], p01["b_name"]) == ("050", "独立工矿区", "R2", "二类居住用地")
    # Slivers are filtered into the audit set with their reason.
    assert sorted((p["filter_reason"], round(p["area_m2"], 2)) for p in sliv) == [("buffer", 500.0), ("min_area", 100.0)]
    strip = next(p for p in sliv if p["filter_reason"] == "buffer")
    assert strip["category"] == "04" and (strip["a_code"], strip["b_code"]) == ("010", "R2")
    # Nothing is counted twice: patches and slivers add up to the area where both plans have data.
    b_in_a = shapely.intersection(shapely.union_all([g for _, g, _ in B_FEATURES]),
                                  shapely.union_all([g for _, g, _ in A_FEATURES])).area
    assert sum(p["area_m2"] for p in kept + sliv) == pytest.approx(b_in_a, abs=0.01)
    # Data quality: B's internal overlap, and A's gaps under B6 and B7 (A has only A5/A6 there).
    ov = [d for d in dq if d["kind"] == "overlap"]
    assert len(ov) == 1 and ov[0]["side"] == "B" and ov[0]["area_m2"] == pytest.approx(500_000.0, abs=0.01)
    assert sorted(ov[0]["codes"]) == ["E2", "R2"]
    gaps = sorted((round(d["area_m2"], 2), round(d["geometry"].area, 2)) for d in dq if d["kind"] == "gap")
    assert gaps == sorted([(10_000.0 - 100.0,) * 2, (10_000.0 - 402.0,) * 2])
    assert all(d["side"] == "A" for d in dq if d["kind"] == "gap")
    assert run["summary"]["no_data"]["a_no_data_m2"] == pytest.approx(9_900.0 + 9_598.0, abs=0.01)
    # Summary by category agrees with the patches.
    cats = {(c["category"], c["subtype"]): c for c in run["summary"]["by_category"]}
    assert cats[("03", None)]["count"] == 3
    assert cats[("03", None)]["area_m2"] == pytest.approx(1_000_402.0, abs=0.01)
    assert cats[("03", None)]["name_zh"] == "土规建设用地、城规非建设用地"
    assert run["a_version_id"] == run["summary"]["a"]["version_id"]
    # The run's partition is attached with its primary key and the spatial index of kept patches.
    with store.engine.connect() as conn:
        part = f"conflict_patches_r{run_id}"
        idx = dict(conn.execute(text(
            "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i "
            "WHERE i.indrelid = CAST(:t AS regclass)"), {"t": part}).all())
        pk = conn.execute(text("SELECT conname FROM pg_constraint WHERE conrelid = CAST(:t AS regclass) "
                               "AND contype = 'p'"), {"t": part}).scalars().all()
        parent = conn.execute(text("SELECT inhparent::regclass::text FROM pg_inherits "
                                   "WHERE inhrelid = CAST(:t AS regclass)"), {"t": part}).scalar()
    assert pk == [f"{part}_pkey"] and parent == "conflict_patches"
    assert "gist (geom) WHERE kept" in idx[f"{part}_geom"] and "UNIQUE" in idx[f"{part}_pkey"]


def test_conditional_construction_switch(store, tmp_path, uid):
    p = Pair(store, tmp_path, uid)
    a = p.load(p.a_plan, "gzq", [("Z1", box(0, 0, 1000, 1000), "020")], scheme="gzq",
               theme="construction_control_zone")
    b = p.load(p.b_plan, "ydgh", [("U1", box(0, 0, 1000, 1000), "R2")], scheme="gb50137", theme="urban_land_use")
    with_020 = run_conflicts(store.engine, store.settings, a, b, "landuse_vs_urban")
    without = run_conflicts(store.engine, store.settings, a, b, "landuse_vs_urban",
                            switches={"conditional_construction": False})
    with store.session() as s:
        assert [x["category"] for x in patches(s, with_020)] == ["01"]
        assert [x["category"] for x in patches(s, without)] == ["04"]
        assert get_run(s, without)["params"]["switches"] == {"conditional_construction": False}


def test_plan_vs_control_line(pair, store):
    red = pair.control("stbhhx", [box(200, 200, 700, 700)], "ecological_red_line", coverage="extent")
    run_id = run_conflicts(store.engine, store.settings, pair.b, red, "plan_vs_control")
    with store.session() as s:
        got = sorted(_key(p) for p in patches(s, run_id))
    # B1 (R2) covers x 0–500 and B2 (E2) x 500–1500 of the red line's 500 m × 500 m.
    assert got == [("C0", "", 100_000.0), ("C1", "", 150_000.0)]


def test_resolutions_bulk_progress_and_rerun(pair, store, tmp_path):
    run1 = run_conflicts(store.engine, store.settings, pair.a, pair.b, "landuse_vs_urban")
    with store.session() as s:
        kept = patches(s, run1)
        no03 = sorted(p["patch_no"] for p in kept if p["category"] == "03")
        written = update_patches(s, run1, category="03", department="市自然资源局", actor="bureau")
        assert written == no03
        big03 = [p["patch_no"] for p in kept if p["category"] == "03" and p["area_m2"] >= 1000]
        update_patches(s, run1, patch_nos=big03, status="amend_a", comment="按城规调整土规", actor="bureau")
        p04 = next(p["patch_no"] for p in kept if p["category"] == "04")
        update_patches(s, run1, patch_nos=[p04], status="deferred", department="市规划委员会", actor="bureau")
        prog = {(r["department"], r["status"]): r["n"] for r in progress(s, run1)}
        assert prog[("市自然资源局", "amend_a")] == 2 and prog[("市自然资源局", "open")] == 1
        assert prog[("市规划委员会", "deferred")] == 1
        hist = history(s, run1, big03[0])
        assert [h["status"] for h in hist] == ["open", "amend_a"]
        assert hist[-1]["department"] == "市自然资源局"
        with pytest.raises(InputError):
            update_patches(s, run1, patch_nos=[p04], status="done")
    # Plan A is amended: A2 becomes 030, so the 04 patch (A2 × B3) turns into 01 and disappears.
    amended = [(n, g, "030" if n == "A2" else c) for n, g, c in A_FEATURES]
    pair.load(pair.a_plan, "tdytq", amended, scheme="tdyt", theme="land_use_zone", coverage="extent")
    run2 = run_conflicts(store.engine, store.settings, pair.a, pair.b, "landuse_vs_urban")
    with store.session() as s:
        r2 = get_run(s, run2)
        assert r2["previous_run_id"] == run1
        assert r2["a_version_id"] != get_run(s, run1)["a_version_id"]
        assert [d["patch_no"] for d in r2["carried"]["disappeared"]] == [p04]
        assert r2["carried"]["kept"] == 3
        now = {p["patch_no"]: p for p in patches(s, run2)}
        carried = [p for p in now.values() if p["department"] == "市自然资源局"]
        assert sorted(round(p["area_m2"], 2) for p in carried) == [402.0, 500_000.0, 500_000.0]
        assert sorted(p["status"] for p in carried) == ["amend_a", "amend_a", "open"]
        assert not any(p["category"] == "04" for p in now.values())


def _every_patch(s, run_id: int) -> list[dict]:
    """Kept patches and slivers of a run, geometry as WKB (to compare runs exactly)."""
    ps = patches(s, run_id, with_geometry=True) + patches(s, run_id, slivers=True, with_geometry=True)
    return [{k: (v.wkb if k == "geometry" else v) for k, v in p.items() if k != "status"} for p in ps]


def test_local_and_dask_give_identical_patches(pair, store):
    local = run_conflicts(store.engine, store.settings, pair.a, pair.b, "landuse_vs_urban", per_tile=4)
    dask = run_conflicts(store.engine, store.settings, pair.a, pair.b, "landuse_vs_urban", per_tile=4,
                         engine_name="dask", workers=2)
    with store.session() as s:
        assert get_run(s, local)["tiles"] > 1
        assert _every_patch(s, local) == _every_patch(s, dask)


def test_bad_input_stores_nothing(pair, store):
    before = _counts(store)
    with pytest.raises(InputError):
        run_conflicts(store.engine, store.settings, pair.a, pair.b, "no_such_profile")
    with pytest.raises(InputError):  # B is GB 50137, A side takes tdyt/gzq/gb2023 only
        run_conflicts(store.engine, store.settings, pair.b, pair.a, "landuse_vs_urban")
    with pytest.raises(InputError):
        run_conflicts(store.engine, store.settings, pair.a, pair.b, "landuse_vs_urban", min_area=-1)
    with pytest.raises(InputError, match="per tile"):
        run_conflicts(store.engine, store.settings, pair.a, pair.b, "landuse_vs_urban", per_tile=0)
    assert _counts(store) == before


def _counts(store) -> dict[str, int]:

    with store.engine.connect() as c:
        out = {t: c.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()
               for t in ("conflict_runs", "conflict_patches", "conflict_dq", "conflict_resolutions", "audit_log")}
        out["stages"] = c.execute(text("SELECT count(*) FROM pg_tables WHERE tablename LIKE 'conflict_stage_%'")).scalar_one()
        return out


def test_cli_run_exports_and_summary(pair, store, tmp_path):
    import json

    import openpyxl
    import pyogrio
    from click.testing import CliRunner

    from gis_platform.cli import main

    def cli(*args: str, ok: bool = True):
        res = CliRunner().invoke(main, list(args))
        assert (res.exit_code == 0) == ok, res.output
        return res

    run = json.loads(cli("conflicts", "--a", pair.a, "--b", pair.b, "--profile", "landuse_vs_urban",
                         "--min-area", "400", "--tolerance", "1", "--json").output)
    cats = {(c["category"], c["subtype"]): c["count"] for c in run["summary"]["by_category"]}
    assert cats[("03", None)] == 3 and cats[("overlap", None)] == 1
    rid = str(run["id"])
    with store.session() as s:
        kept = patches(s, run["id"])
    for fmt in ("gpkg", "shp", "geojson"):
        out = tmp_path / f"cytb.{fmt}"
        cli("conflicts", "export", rid, "--out", str(out))
        frame = pyogrio.read_dataframe(out)
        assert len(frame) == len(kept)
        assert sorted(frame["CYLX"]) == sorted(p["category"] for p in kept)
        if fmt != "geojson":  # GeoJSON is written in CGCS2000 lon/lat
            assert frame.geometry.area.sum() == pytest.approx(sum(p["area_m2"] for p in kept), abs=0.01)
        row04 = frame[frame["CYLX"] == "04"].iloc[0]
        assert (row04["TGDM"], row04["CGDM"], row04["SFZYYN"], row04["XZQMC"]) == ("020", "M1", "是", "测试1县")
    sl = pyogrio.read_dataframe(cli("conflicts", "export", rid, "--what", "slivers", "--out",
                                    str(tmp_path / "sl.gpkg")) and tmp_path / "sl.gpkg")
    assert sorted(sl["GLYY"]) == ["内缩后消失", "面积小于阈值"]
    cli("conflicts", "export", rid, "--out", str(tmp_path / "summary.xlsx"))
    wb = openpyxl.load_workbook(tmp_path / "summary.xlsx")
    rows = list(wb["按类型"].iter_rows(values_only=True))
    assert rows[0][:4] == ("差异类型代码", "差异类型", "子类", "图斑数")
    r03 = next(r for r in rows if r[0] == "03")
    assert r03[3] == 3 and r03[4] == pytest.approx(1_000_402.0, abs=0.01)
    cli("conflicts", "export", rid, "--out", str(tmp_path / "summary.csv"))
    text = (tmp_path / "summary.csv").read_text(encoding="utf-8-sig")
    assert "# 按行政区" in text and "测试2县" in text
    # Bulk assignment and progress through the CLI; a bad status is refused with a message.
    done = json.loads(cli("conflicts", "update", rid, "--category", "04", "--department", "市自然资源局",
                          "--json").output)
    assert len(done["updated"]) == 1
    prog = json.loads(cli("conflicts", "progress", rid, "--json").output)
    assert {(r["department"], r["status"], r["n"]) for r in prog} >= {("市自然资源局", "open", 1)}
    bad = cli("conflicts", "update", rid, "--patch", "999999", "--status", "accepted", ok=False)
    assert "999999" in bad.output and "Traceback" not in bad.output
    # The text tables line up in a terminal, where a Chinese character takes two columns.
    shown = [ln for ln in cli("conflicts", "show", rid).output.splitlines() if ln.endswith("%")]
    assert len(shown) == len(run["summary"]["by_category"]) and any("用途不一致" in ln for ln in shown)
    assert len({_terminal_columns(ln[:ln.index(" m²")]) for ln in shown}) == 1
    prog_lines = cli("conflicts", "progress", rid).output.splitlines()
    assert len(prog_lines) == len(prog) >= 2 and any("（未分派）" in ln for ln in prog_lines)
    ends = {_terminal_columns(re.match(r"\D*\d+", ln).group(0)) for ln in prog_lines}  # through the count
    assert len(ends) == 1


def _terminal_columns(text: str) -> int:
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def test_a_killed_run_leaves_nothing_behind(pair, store):
    """A run whose process died leaves its unattached table; the next run drops it, but never the
    table of a run still in progress (it holds the run's advisory lock)."""

    from conflict_checks import queries

    with store.engine.connect() as c:
        dead, alive = (c.execute(queries.RESERVE_RUN_ID).scalar_one() for _ in range(2))
        for rid in (dead, alive):
            for stmt in queries.stage_ddl(rid).split(";"):
                c.exec_driver_sql(stmt)
        c.commit()
    holder = store.engine.connect()
    holder.execute(queries.TRY_RUN_LOCK, {"ns": queries.RUN_LOCK_KEY, "id": alive})
    try:
        run_conflicts(store.engine, store.settings, pair.a, pair.b, "landuse_vs_urban")
        with store.engine.connect() as c:
            names = set(c.execute(text("SELECT relname FROM pg_class WHERE relname = ANY(:n)"),
                                  {"n": [queries.stage_name(dead), queries.stage_name(alive)]}).scalars())
        assert names == {queries.stage_name(alive)}
    finally:
        holder.execute(queries.RUN_UNLOCK, {"ns": queries.RUN_LOCK_KEY, "id": alive})
        holder.exec_driver_sql(queries.stage_drop(alive))
        holder.commit()
        holder.close()


def test_pairs_are_cut_exactly_whatever_shortcut_they_take():
    """Identical features and a feature inside another skip the overlay; crossing ones and
    ones that only touch do not. Every pair's pieces equal shapely's own intersection."""
    from conflict_checks.conflict_tiles import intersect_pairs

    ring = [(0, 0), (100, 0), (100, 50), (60, 80), (0, 60)]
    ga = np.array([Polygon(ring), box(200, 0, 300, 100), box(400, 0, 500, 100), box(600, 0, 700, 100),
                   box(800, 0, 900, 100)], dtype=object)
    gb = np.array([Polygon(ring),                   # the same vertices in the same order
                   box(220, 20, 280, 80),           # inside A2
                   box(450, 50, 550, 150),          # crossing A3: 2,500 m²
                   box(700, 0, 800, 100),           # touching A4 along an edge: no piece
                   Polygon([(900, 100), (800, 100), (800, 0), (900, 0)])],  # A5 drawn the other way round
                  dtype=object)
    shapely.prepare(ga)
    shapely.prepare(gb)
    idx = np.arange(5)
    parts, pair, part = intersect_pairs(ga, gb, idx, idx, None)
    assert pair.tolist() == [0, 1, 2, 4] and part.tolist() == [1, 1, 1, 1]
    for g, k in zip(parts, pair, strict=True):
        assert shapely.equals(g, shapely.intersection(ga[k], gb[k]))
        assert g.area == pytest.approx(shapely.intersection(ga[k], gb[k]).area, abs=1e-9)
    assert [round(g.area, 6) for g in parts] == [Polygon(ring).area, 3600.0, 2500.0, 10000.0]


def test_code_lookups_map_every_key_once_missing_and_null_keys_included():
    from conflict_checks.conflict_tiles import _lookup

    keys = np.array(["010", None, "020", "X9", "010", None], dtype=object)
    assert _lookup({"010": 1, "020": 0}, keys, -1).tolist() == [1, -1, 0, -1, 1, -1]
    assert _lookup({"010": "a", None: "none"}, keys, None).tolist() == ["a", "none", None, None, "a", "none"]
    assert _lookup({"010": 1}, np.array([], dtype=object), -1).tolist() == []


def test_checked_layers_give_the_same_patches(pair, store):
    """With both versions' internal overlaps checked (layers.overlaps), pairs with a lone copy
    skip the overlay; every patch, sliver and finding stays the same as unchecked."""
    from layers.overlaps import check_version_overlaps, overlapping_features

    unchecked = run_conflicts(store.engine, store.settings, pair.a, pair.b, "landuse_vs_urban", per_tile=4)
    for ref in (pair.a, pair.b):
        plan, layer = ref.split("/")
        check_version_overlaps(store.engine, store.version_id(plan, layer), store.settings.store_srid)
    with store.session() as s:
        b_plan, b_layer = pair.b.split("/")
        # B9 and B10 overlap: the check knows them (feature numbers 9 and 10), A is clean
        assert overlapping_features(s, store.version_id(b_plan, b_layer)).tolist() == [9, 10]
        a_plan, a_layer = pair.a.split("/")
        assert overlapping_features(s, store.version_id(a_plan, a_layer)).tolist() == []
    checked = run_conflicts(store.engine, store.settings, pair.a, pair.b, "landuse_vs_urban", per_tile=4)
    on_dask = run_conflicts(store.engine, store.settings, pair.a, pair.b, "landuse_vs_urban", per_tile=4,
                            engine_name="dask", workers=2)
    with store.session() as s:
        one, two, three = (_every_patch(s, r) for r in (unchecked, checked, on_dask))
        dq_one, dq_two = data_quality(s, unchecked), data_quality(s, checked)
    assert one == two == three
    assert len(one) > 10
    key = lambda ds: sorted((d["side"], d["kind"], tuple(d["fids"]), round(d["area_m2"], 2)) for d in ds)  # noqa: E731
    assert key(dq_one) == key(dq_two) and any(d["kind"] == "overlap" for d in dq_two)


def _brute_force(ga, gb):
    """Every pair's pieces of area > 0, by shapely alone: {(a, b): sorted areas}."""
    out = {}
    for i, a in enumerate(ga):
        for j, b in enumerate(gb):
            parts = [p for p in shapely.get_parts(shapely.intersection(a, b))
                     if p.geom_type == "Polygon" and p.area > 0]
            if parts:
                out[(i, j)] = sorted(round(p.area, 6) for p in parts)
    return out


def test_lone_copies_skip_only_pairs_without_common_area():
    """A 4 × 3 grid of parcels; B copies most of them vertex for vertex, moves one edge, merges
    two and has one parcel of its own over three. A has an extra feature overlapping A[5]: B's
    copy of A[5] then overlaps that feature too, and that pair must not be skipped. With what
    the internal overlap check says, the pieces are those of every pair cut by shapely."""
    from conflict_checks.conflict_tiles import Tile, lone_twins, overlay_tile
    from layers.overlaps import overlapping_pairs

    cells = [box(x * 100, y * 100, (x + 1) * 100, (y + 1) * 100) for y in range(3) for x in range(4)]
    ga = np.array(cells + [box(150, 130, 180, 170)], dtype=object)          # A[12] overlaps A[5]
    gb = np.array([c for k, c in enumerate(cells) if k not in (0, 1, 2, 9)] + [
        box(0, 0, 200, 100),                    # A[0] ∪ A[1] merged
        box(200, 0, 300, 99.5),                 # A[2] with its top edge 0.5 m too low
        box(100, 200, 200, 300).union(box(200, 250, 210, 260)),  # A[9] with a bump into A[10]
        box(40, 240, 360, 260),                 # its own parcel across A[8], A[9], A[10], A[11]
    ], dtype=object)
    expected = _brute_force(ga, gb)

    def clean(geoms):
        i, j, _ = overlapping_pairs(geoms)
        out = np.ones(len(geoms), dtype=bool)
        out[np.concatenate([i, j]).astype(int)] = False
        return out

    a_clean, b_clean = clean(ga), clean(gb)
    assert not a_clean[5] and not a_clean[12] and a_clean.sum() == 11
    assert b_clean.sum() == len(gb) - 5  # B's own parcel overlaps four others (the bump one twice)
    tile = Tile(0, -1, -1, 1000, 1000)
    for flags in ((None, None), (a_clean, None), (None, b_clean), (a_clean, b_clean)):
        parts, ia, ib, _ = overlay_tile(ga.copy(), gb.copy(), tile, None, *flags)
        got: dict = {}
        for p, i, j in zip(parts, ia.tolist(), ib.tolist(), strict=True):
            got.setdefault((i, j), []).append(round(p.area, 6))
        assert {k: sorted(v) for k, v in got.items()} == expected
    # The copy of A[5] in B meets A[12]: kept although it is a copy, because A[5] is not lone.
    b5 = next(j for j, g in enumerate(gb) if shapely.equals_exact(g, ga[5], 0.0))
    assert (12, b5) in expected
    # What is skipped: pairs of copies of lone features with their neighbours, which only touch.
    ia, ib = shapely.STRtree(gb).query(ga)
    dropped = lone_twins(ga, gb, ia, ib, shapely.bounds(ga), shapely.bounds(gb), a_clean, b_clean)
    assert dropped.sum() > 10
    assert not any((int(i), int(j)) in expected for i, j in zip(ia[dropped], ib[dropped], strict=True))


def test_local_engine_with_and_without_this_process_gives_identical_patches(pair, store):
    """This process working beside the pool (a command) and the pool alone (a server) cut the
    same tiles the same way."""
    here = run_conflicts(store.engine, store.settings, pair.a, pair.b, "landuse_vs_urban", per_tile=4, workers=2)
    pool = run_conflicts(store.engine, store.settings, pair.a, pair.b, "landuse_vs_urban", per_tile=4, workers=2,
                         in_process=False)
    with store.session() as s:
        assert get_run(s, here)["tiles"] > 4
        assert _every_patch(s, here) == _every_patch(s, pool)


def _tile_that_fails(job, tile):
    if tile.no == 2:
        raise RuntimeError("tile 2 failed")
    from conflict_checks.conflict_tiles import run_tile

    return run_tile(job, tile)


def test_a_failing_tile_fails_the_run_and_stores_nothing(pair, store, monkeypatch):
    from conflict_checks import conflict_run

    before = _counts(store)
    monkeypatch.setattr(conflict_run, "run_tile", _tile_that_fails)
    for in_process in (True, False):
        with pytest.raises(RuntimeError, match="tile 2 failed"):
            run_conflicts(store.engine, store.settings, pair.a, pair.b, "landuse_vs_urban", per_tile=4, workers=2,
                          in_process=in_process)
    after = _counts(store)
    assert after == before


def test_connections_closed_by_the_server_between_runs_are_replaced(pair, store):
    """A server's pool keeps its store connections between runs; when the store closes them
    (a restart, an idle timeout), the next run's tiles reconnect and the run gives the same answer."""
    from conflict_checks.conflict_tiles import TILE_APPLICATION

    first = run_conflicts(store.engine, store.settings, pair.a, pair.b, "landuse_vs_urban", per_tile=4, workers=2,
                          in_process=False)
    with store.engine.connect() as c:
        closed = c.execute(text("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                                "WHERE application_name = :a"), {"a": TILE_APPLICATION}).scalar_one()
    assert closed >= 1  # the pool's processes kept theirs
    second = run_conflicts(store.engine, store.settings, pair.a, pair.b, "landuse_vs_urban", per_tile=4, workers=2,
                           in_process=False)
    with store.session() as s:
        assert _every_patch(s, first) == _every_patch(s, second)



def test_tiles_pause_garbage_collection_and_restore_it(pair, store, monkeypatch):
    """Collection is off while a tile runs, back on after it (after a failure too), left off
    when it was off before, and with tiles in two threads back on only when both have ended."""
    import gc
    import threading

    from conflict_checks import conflict_tiles
    from conflict_checks.conflict_tiles import collection_paused

    seen = []
    real = conflict_tiles._run_tile

    def watched(job, tile):
        seen.append(gc.isenabled())
        return real(job, tile)

    monkeypatch.setattr(conflict_tiles, "_run_tile", watched)
    assert gc.isenabled()
    run_conflicts(store.engine, store.settings, pair.a, pair.b, "landuse_vs_urban", per_tile=4, workers=1)
    assert seen and not any(seen)
    assert gc.isenabled()

    with pytest.raises(ValueError), collection_paused():
        raise ValueError
    assert gc.isenabled()

    gc.disable()
    try:
        with collection_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()

    inside, leave = threading.Event(), threading.Event()

    def other() -> None:
        with collection_paused():
            inside.set()
            leave.wait(10)

    t = threading.Thread(target=other)
    with collection_paused():
        t.start()
        assert inside.wait(10)
    assert not gc.isenabled()  # the other thread's tile still runs
    leave.set()
    t.join(10)
    assert gc.isenabled()


_POOL_SCRIPT = """
import json, sys, threading
from conflict_checks import conflict_run
from gis_platform.cli import main

a, b, threaded = sys.argv[1], sys.argv[2], sys.argv[3] == "threaded"
if threaded:  # a process with a thread of its own, as a server is
    stop = threading.Event()
    threading.Thread(target=stop.wait, daemon=True).start()
main(["conflicts", "--a", a, "--b", b, "--profile", "landuse_vs_urban", "--workers", "2", "--per-tile", "4",
      "--json"], standalone_mode=False)
print(json.dumps({"start": [p._mp_context.get_start_method() for p in conflict_run._POOLS.values()]}))
"""


def test_workers_forked_from_the_command_or_a_forkserver_cut_the_same_patches(pair, store):
    """A command (one thread) forks its pool's workers from itself; a process with threads has
    them forked from a forkserver. Both cut the same patches as the run here."""
    import json
    import subprocess
    import sys

    here = run_conflicts(store.engine, store.settings, pair.a, pair.b, "landuse_vs_urban", per_tile=4, workers=1)
    runs = {}
    for mode in ("single", "threaded"):
        res = subprocess.run([sys.executable, "-c", _POOL_SCRIPT, pair.a, pair.b, mode], capture_output=True,
                             text=True, timeout=300)
        assert res.returncode == 0, res.stderr
        lines = [ln for ln in res.stdout.splitlines() if ln.strip()]
        runs[mode] = (json.loads("\n".join(lines[:-1]))["id"], json.loads(lines[-1])["start"])
    assert runs["single"][1] == ["fork"]
    assert runs["threaded"][1] == ["forkserver"]
    with store.session() as s:
        want = _every_patch(s, here)
        assert len(want) > 4
        assert _every_patch(s, runs["single"][0]) == want
        assert _every_patch(s, runs["threaded"][0]) == want


def _run_in_child(a: str, b: str) -> None:
    from conflict_checks.bootstrap import prepare_store
    from gis_platform.core.settings import Settings

    settings = Settings()
    run_conflicts(prepare_store(settings), settings, a, b, "landuse_vs_urban", per_tile=4, workers=2)


def test_a_multiprocessing_child_that_ran_a_conflict_run_exits(pair, store):
    """multiprocessing joins a child's own children before its exit handlers run: the run's
    pool must be shut down before that, or the child never exits."""
    import multiprocessing

    before = _counts(store)["conflict_runs"]
    child = multiprocessing.get_context("spawn").Process(target=_run_in_child, args=(pair.a, pair.b))
    child.start()
    child.join(120)
    alive = child.is_alive()
    if alive:
        child.kill()
    assert not alive and child.exitcode == 0
    assert _counts(store)["conflict_runs"] == before + 1


_KILLED_SCRIPT = """
import os, signal, sys, threading, time
from conflict_checks import conflict_run

if sys.argv[1] == "forkserver":  # a thread of its own: workers come from a forkserver
    threading.Thread(target=time.sleep, args=(60,), daemon=True).start()
pool = conflict_run._local_pool(1)
print(pool.submit(os.getpid).result(), flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


@pytest.mark.parametrize("start", ["fork", "forkserver"])
def test_pool_workers_end_when_their_process_is_killed(start):
    """A command killed outright (kill -9, the OOM killer) leaves no worker waiting behind it."""
    import os
    import subprocess
    import sys
    import time

    res = subprocess.run([sys.executable, "-c", _KILLED_SCRIPT, start], capture_output=True, text=True, timeout=120)
    assert res.returncode == -9, res.stderr
    worker = int(res.stdout.split()[0])
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            os.kill(worker, 0)
        except ProcessLookupError:
            break
        try:
            with open(f"/proc/{worker}/stat") as f:  # a zombie waiting for init to reap it has ended too
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    break
        except FileNotFoundError:
            break
        time.sleep(0.1)
    else:
        os.kill(worker, 9)
        pytest.fail(f"worker {worker} outlived its process")


def test_a_pool_whose_worker_died_between_runs_is_replaced(pair, store):
    """A server keeps its pool between runs: a worker that died while it waited (the OOM
    killer, kill -9) must not fail every later run until the server is restarted."""
    import os
    from concurrent.futures.process import BrokenProcessPool

    from conflict_checks import conflict_run

    first = run_conflicts(store.engine, store.settings, pair.a, pair.b, "landuse_vs_urban", per_tile=4,
                          workers=2, in_process=False)
    pool = conflict_run._POOLS[2]
    died = pool.submit(os._exit, 1)
    assert isinstance(died.exception(timeout=60), BrokenProcessPool)
    second = run_conflicts(store.engine, store.settings, pair.a, pair.b, "landuse_vs_urban", per_tile=4,
                           workers=2, in_process=False)
    assert conflict_run._POOLS[2] is not pool
    with store.session() as s:
        want = _every_patch(s, first)
        assert len(want) > 4
        assert _every_patch(s, second) == want


def _dying_tile(job, tile):
    """A tile whose worker process dies under it (as the OOM killer would end it)."""
    import os

    os._exit(1)


def test_a_worker_that_dies_during_a_run_fails_it_with_a_message_and_stores_nothing(pair, store, monkeypatch):
    from conflict_checks import conflict_run
    from gis_platform.core.errors import ComputeError

    before = _counts(store)
    monkeypatch.setattr(conflict_run, "run_tile", _dying_tile)
    with pytest.raises(ComputeError) as err:
        run_conflicts(store.engine, store.settings, pair.a, pair.b, "landuse_vs_urban", per_tile=4,
                      workers=2, in_process=False)
    assert "计算进程意外退出" in err.value.zh and "ended unexpectedly" in err.value.en
    assert err.value.as_dict()["error"] == "compute"
    assert _counts(store) == before
    monkeypatch.undo()
    run_conflicts(store.engine, store.settings, pair.a, pair.b, "landuse_vs_urban", per_tile=4,
                  workers=2, in_process=False)  # the next run gets a new pool
    assert _counts(store)["conflict_runs"] == before["conflict_runs"] + 1
