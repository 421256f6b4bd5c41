"""Site pre-check against the real store. Expected areas are computed in each test with shapely
on the test's own rectangles, independently of the code under test."""

from __future__ import annotations

import itertools
import json
import os

import pytest
import shapely
from shapely.geometry import MultiPolygon, Polygon, box

from conflict_checks.precheck import rerun_check, run_check
from conflict_checks.schemas import ProjectMeta
from conflict_checks.site import Site
from layers.overlaps import check_version_overlaps
from tests.factories import write_vector

pytestmark = pytest.mark.postgis


class Spot:
    """A private 2 km × 2 km corner of the city for one test, so tests never see each other's
    layers. Coordinates are local metres from its origin."""

    def __init__(self, k: int, store, tmp_path, uid: str) -> None:
        self.x0 = 35_390_000.0 + (k % 8) * 12_000.0
        self.y0 = 3_820_000.0 + (k // 8) * 12_000.0
        self.store, self.tmp, self.uid = store, tmp_path, uid
        self.plan = store.plan(f"pc{k}-{uid}", kind="control_line")
        self.window = self.layer("window", [box(-1000, -1000, 1000, 1000)], theme="coverage_area")

    def g(self, geom: shapely.Geometry) -> shapely.Geometry:
        """Local → store coordinates."""
        return shapely.affinity.translate(geom, self.x0, self.y0)

    def layer(self, name: str, geoms: list[shapely.Geometry], *, theme: str, classes: list[str] | None = None,
              coverage: str | None = None, scheme: str | None = None, qa: bool = False) -> str:
        """Load a layer; with ``qa``, its internal overlaps are checked (as after a real load)."""
        path = write_vector(self.tmp / f"{name}-{len(list(self.tmp.iterdir()))}.geojson",
                            [self.g(x) for x in geoms], "EPSG:4523",
                            **({"CLS": classes} if classes else {"n": list(range(len(geoms)))}))
        self.store.ingest(path, self.plan, name, theme=theme, class_field="CLS" if classes else None,
                          scheme=scheme, coverage=coverage)
        if qa:
            check_version_overlaps(self.store.engine, self.store.version_id(self.plan, name),
                                   self.store.settings.store_srid)
        return f"{self.plan}/{name}"

    def check(self, site: shapely.Geometry, **meta):
        geom = self.g(site)
        mp = geom if isinstance(geom, MultiPolygon) else MultiPolygon([geom])
        with self.store.session() as s:
            return run_check(s, self.store.settings, Site(mp, "test"), ProjectMeta(**meta))

    @staticmethod
    def layer_of(result, ref: str):
        return next(f for f in result.layers if f.ref == ref)


_SPOTS = itertools.count()  # one private corner per call in the whole test session


@pytest.fixture
def spot(store, tmp_path, uid):
    def make() -> Spot:
        k = next(_SPOTS)
        assert k < 64, "add room for more spots"
        return Spot(k, store, tmp_path, uid)

    return make


SITE = box(0, 0, 100, 100)


def test_site_straddling_two_classes(spot):
    sp = spot()
    a, b = box(-50, -50, 40, 150), box(40, -50, 200, 150)
    ref = sp.layer("dltb", [a, b], theme="current_land_use", classes=["0103", "0702"], scheme="sandiao")
    r = sp.check(SITE)
    f = sp.layer_of(r, ref)
    got = {c.class_code: c.area_m2 for c in f.classes}
    assert got == {"0103": pytest.approx(SITE.intersection(a).area, abs=0.01),
                   "0702": pytest.approx(SITE.intersection(b).area, abs=0.01)}
    assert got["0103"] == pytest.approx(4000.0, abs=0.01)
    crop = next(c for c in f.classes if c.class_code == "0103")
    assert crop.share == pytest.approx(0.4) and crop.severity == "needs_approval" and crop.rule.key == "cropland"
    assert crop.class_name == "旱地" and crop.area_ha == 0.4
    assert f.state == "applies" and f.covered_share == 1.0


def test_touching_along_an_edge_or_at_a_vertex_is_no_finding(spot):
    sp = spot()
    ref = sp.layer("stbhhx", [box(100, 0, 200, 100), box(100, 100, 150, 150), box(-80, -80, 0, 0)],
                   theme="ecological_red_line", coverage=sp.window)
    r = sp.check(SITE)
    f = sp.layer_of(r, ref)
    assert f.state == "does_not_apply" and f.area_m2 == 0 and f.classes == []
    assert r.verdict != "fail"


def test_site_wholly_inside_a_red_line_is_a_finding_however_small(spot, store):
    sp = spot()
    ref = sp.layer("stbhhx", [box(-500, -500, 500, 500)], theme="ecological_red_line", coverage=sp.window)
    tiny = box(10, 10, 10.5, 10.5)  # 0.25 m², below the 1 m² sliver threshold
    assert tiny.area < store.settings.check_sliver_min_area_m2
    r = sp.check(tiny)
    f = sp.layer_of(r, ref)
    assert f.state == "applies" and f.area_m2 == pytest.approx(0.25, abs=0.01)
    assert f.severity == "forbidden" and not f.classes[0].sliver
    assert r.verdict == "fail"


def test_sliver_at_a_boundary_is_dropped_and_reported(spot):
    sp = spot()
    ref = sp.layer("stbhhx", [box(99.98, 0, 300, 100)], theme="ecological_red_line", coverage=sp.window)
    r = sp.check(SITE)  # a 2 cm digitising overlap along the edge: 2 m², thinner than the buffer
    f = sp.layer_of(r, ref)
    assert [c.sliver for c in f.classes] == [True]
    assert f.classes[0].area_m2 == pytest.approx(2.0, abs=0.01)
    assert f.state == "does_not_apply" and f.area_m2 == 0
    assert r.params["sliver_buffer_m"] == 0.05 and r.params["sliver_min_area_m2"] == 1.0


def test_holed_site_with_farmland_in_the_hole(spot):
    sp = spot()
    holed = Polygon(SITE.exterior.coords, [box(40, 40, 60, 60).exterior.coords])
    in_hole, across = box(41, 41, 59, 59), box(30, 40, 45, 60)
    ref = sp.layer("yjjbnt", [in_hole, across], theme="permanent_basic_farmland", coverage=sp.window)
    r = sp.check(holed)
    f = sp.layer_of(r, ref)
    assert f.area_m2 == pytest.approx(holed.intersection(across).area, abs=0.01) == pytest.approx(200.0)
    assert holed.intersection(in_hole).area == 0
    assert r.area.plane_area_m2 == pytest.approx(holed.area) == pytest.approx(9600.0)


def test_multipart_site(spot):
    sp = spot()
    parts = MultiPolygon([box(0, 0, 50, 50), box(200, 0, 250, 50)])
    red = box(225, -10, 300, 60)
    ref = sp.layer("stbhhx", [red], theme="ecological_red_line", coverage=sp.window)
    r = sp.check(parts)
    f = sp.layer_of(r, ref)
    assert f.area_m2 == pytest.approx(parts.intersection(red).area, abs=0.01) == pytest.approx(1250.0)
    assert f.share == pytest.approx(0.25)
    assert len(r.boundary) == 2 and r.boundary[0][0][0] == 1  # two rings, points numbered


def test_site_partly_outside_a_layers_coverage(spot):
    sp = spot()
    wall = sp.layer("dltb", [box(-100, -100, 60, 200)], theme="current_land_use", classes=["0404"],
                    scheme="sandiao")
    sparse = sp.layer("ysq", [box(-300, -50, -280, 150), box(20, 120, 30, 150)], theme="cultural_relic",
                      classes=["保护范围", "保护范围"])
    r = sp.check(SITE)
    w = sp.layer_of(r, wall)
    assert w.state == "applies" and w.covered_share == pytest.approx(0.6)
    assert "40.0%" in w.note_zh
    s = sp.layer_of(r, sparse)  # its extent reaches x = 30: 30 % of the site is covered
    assert s.state == "no_data" and s.covered_share == pytest.approx(0.3)
    assert any("无数据" in x.zh and "cultural_relic" not in x.zh for x in r.reasons)
    assert r.verdict == "conditional"


@pytest.mark.parametrize("qa", [False, True], ids=["unchecked", "overlaps-checked"])
def test_overlapping_features_inside_one_layer_are_not_double_counted(spot, qa):
    sp = spot()
    a, b = box(0, 0, 60, 100), box(40, 0, 100, 100)
    red = sp.layer("stbhhx", [a, b], theme="ecological_red_line", coverage=sp.window, qa=qa)
    prone, danger = box(-10, -10, 110, 110), box(40, 40, 60, 60)
    hz = sp.layer("dzzh", [prone, danger], theme="geological_hazard", classes=["易发区", "危险区"],
                  coverage=sp.window, qa=qa)
    r = sp.check(SITE)
    f = sp.layer_of(r, red)
    assert f.area_m2 == pytest.approx(SITE.intersection(a.union(b)).area) == pytest.approx(10000.0)
    assert f.classes[0].features == 2
    h = sp.layer_of(r, hz)
    assert {c.class_raw: c.area_m2 for c in h.classes} == {"易发区": pytest.approx(10000.0), "危险区": pytest.approx(400.0)}
    assert h.area_m2 == pytest.approx(10000.0) and h.severity == "forbidden"


@pytest.mark.parametrize("shapes", [
    # pairwise overlaps only: within one class, and between two classes
    [("0101", box(-20, -20, 50, 120)), ("0101", box(30, 10, 70, 60)), ("0103", box(60, 40, 130, 130)),
     ("0103", box(10, 90, 65, 140))],
    # one spot under three pieces (two of one class, one of another): areas from unions
    [("0101", box(0, 0, 60, 60)), ("0101", box(30, 30, 90, 90)), ("0103", box(20, 20, 50, 110)),
     ("0103", box(80, -10, 120, 50))],
], ids=["pairwise", "three-deep"])
@pytest.mark.parametrize("qa", [False, True], ids=["unchecked", "overlaps-checked"])
def test_overlapping_pieces_are_measured_once_per_class_and_per_layer(spot, shapes, qa):
    sp = spot()
    # a fifth feature overlaps the first outside the site only: known to the check, not in the site
    extra = [("0101", box(-60, -40, -10, 0))] if qa else []
    ref = sp.layer("dltb", [g for _, g in shapes + extra], theme="current_land_use",
                   classes=[c for c, _ in shapes + extra], scheme="sandiao", qa=qa)
    f = sp.layer_of(sp.check(SITE), ref)
    union = {c: shapely.union_all([g for k, g in shapes if k == c]) for c in ("0101", "0103")}
    got = {c.class_code: c.area_m2 for c in f.classes}
    assert got == {c: pytest.approx(SITE.intersection(u).area, abs=0.01) for c, u in union.items()}
    everything = shapely.union_all([g for _, g in shapes])
    assert f.area_m2 == pytest.approx(SITE.intersection(everything).area, abs=0.01)
    assert f.area_m2 < sum(got.values()) - 1  # the classes overlap each other: counted once


def test_linear_infrastructure_through_the_red_line_needs_approval(spot):
    sp = spot()
    ref = sp.layer("stbhhx", [box(40, -500, 60, 500)], theme="ecological_red_line", coverage=sp.window)
    corridor = box(-200, 45, 300, 75)  # a 30 m road corridor crossing the 20 m red line strip
    ordinary = sp.check(corridor, project_type="ordinary")
    linear = sp.check(corridor, project_type="linear_infrastructure")
    assert sp.layer_of(ordinary, ref).severity == "forbidden" and ordinary.verdict == "fail"
    f = sp.layer_of(linear, ref)
    assert f.severity == "needs_approval" and f.rules[0].key == "eco_redline_linear"
    assert f.area_m2 == pytest.approx(corridor.intersection(box(40, -500, 60, 500)).area) == pytest.approx(600.0)
    assert linear.verdict == "conditional"


def test_rerun_as_of_gives_the_same_answer_after_a_layer_was_replaced(spot, store):
    sp = spot()
    ref = sp.layer("stbhhx", [box(80, 0, 200, 100)], theme="ecological_red_line", coverage=sp.window)
    first = sp.check(SITE)
    assert sp.layer_of(first, ref).area_m2 == pytest.approx(2000.0)
    sp.layer("stbhhx", [box(300, 0, 400, 100)], theme="ecological_red_line")  # version 2 moves away
    now = sp.check(SITE)
    assert sp.layer_of(now, ref).state == "does_not_apply" and sp.layer_of(now, ref).version == 2
    with store.session() as s:
        again = rerun_check(s, store.settings, first.run_id)
    old = sp.layer_of(again, ref)
    assert old.version == 1 and old.area_m2 == pytest.approx(2000.0)
    assert again.verdict == first.verdict
    strip = lambda r: json.dumps([f.model_dump(mode="json") for f in r.layers], sort_keys=True)  # noqa: E731
    assert strip(again) == strip(first)
    assert again.versions == first.versions


def test_outside_the_urban_development_boundary(spot):
    sp = spot()
    udb = box(-500, -500, 70, 500)
    ref = sp.layer("czkfbj", [udb], theme="urban_development_boundary", coverage=sp.window)
    r = sp.check(SITE, project_type="ordinary")
    f = sp.layer_of(r, ref)
    out = next(c for c in f.classes if c.part == "outside")
    assert out.area_m2 == pytest.approx(SITE.difference(udb).area) == pytest.approx(3000.0)
    assert out.severity == "forbidden" and r.verdict == "fail"
    village = sp.check(SITE, project_type="village")
    assert next(c for c in sp.layer_of(village, ref).classes if c.part == "outside").severity == "notice"


def test_proposed_use_against_planned_use(spot):
    sp = spot()
    sp.layer("ghyt", [box(-100, -100, 50, 200), box(50, -100, 200, 200)], theme="planned_land_use",
             classes=["070101", "0901"], scheme="gb2023")
    r = sp.check(SITE, proposed_use="0701")
    assert r.use.incompatible_area_m2 == pytest.approx(5000.0) and r.use.incompatible_classes == ["0901"]
    assert r.use.severity == "needs_approval"
    assert r.use.compatible_area_m2 == pytest.approx(5000.0)


def test_declared_against_computed_area(spot):
    sp = spot()
    r = sp.check(SITE, declared_area_m2=10_200.0)
    assert r.area.flagged and r.area.difference_share == pytest.approx(200 / 10_200, rel=1e-4)
    ok = sp.check(SITE, declared_area_m2=10_050.0)
    assert not ok.area.flagged
    # Gauss-Krüger scale makes the plane area slightly larger than the ellipsoidal one here.
    assert 0 < (r.area.plane_area_m2 - r.area.ellipsoidal_area_m2) / r.area.plane_area_m2 < 1e-3


def test_missing_themes_are_no_data_not_does_not_apply(spot):
    sp = spot()
    r = sp.check(SITE)
    missing = {f.theme for f in r.layers if f.ref is None}
    assert "nature_reserve" in missing and all(f.state == "no_data" for f in r.layers if f.ref is None)
    assert r.slope.state == "no_data"


def test_check_run_is_stored_with_findings(spot, store):
    from sqlalchemy import text

    sp = spot()
    ref = sp.layer("stbhhx", [box(50, 0, 200, 100)], theme="ecological_red_line", coverage=sp.window)
    r = sp.check(SITE, project_code="2026-621102-48-01-000001", name="测试项目")
    layer_id = sp.layer_of(r, ref).layer_id
    with store.engine.connect() as conn:
        rows = conn.execute(text("SELECT theme, area_m2, severity, rule_key, department FROM check_findings "
                                 "WHERE run_id = :r AND layer_id = :l"), {"r": r.run_id, "l": layer_id}).all()
        stored = conn.execute(text("SELECT result->>'verdict' FROM check_runs WHERE id = :r"), {"r": r.run_id}).scalar()
    assert rows[0].area_m2 == pytest.approx(5000.0) and rows[0].rule_key == "eco_redline"
    assert rows[0].department and stored == "fail"


def test_as_of_picks_the_versions_loaded_by_then(spot, store):
    import datetime as dt
    import time

    sp = spot()
    ref = sp.layer("stbhhx", [box(0, 0, 30, 100)], theme="ecological_red_line", coverage=sp.window)
    time.sleep(0.05)
    between = dt.datetime.now(dt.timezone.utc)
    time.sleep(0.05)
    sp.layer("stbhhx", [box(0, 0, 70, 100)], theme="ecological_red_line")
    with store.session() as s:
        old = run_check(s, store.settings, Site(MultiPolygon([sp.g(SITE)]), "t"), ProjectMeta(), as_of=between)
    assert sp.layer_of(old, ref).version == 1 and sp.layer_of(old, ref).area_m2 == pytest.approx(3000.0)
    assert sp.layer_of(sp.check(SITE), ref).area_m2 == pytest.approx(7000.0)


def test_rerun_uses_the_rules_of_its_time(spot, store):
    from sqlalchemy import text

    sp = spot()
    ref = sp.layer("ysq", [box(0, 0, 50, 100)], theme="cultural_relic", classes=["建设控制地带"],
                   coverage=sp.window)
    first = sp.check(SITE)
    assert sp.layer_of(first, ref).severity == "needs_approval"
    try:
        with store.session() as s:
            s.execute(text("UPDATE rules SET severity = 'forbidden' WHERE key = 'relic_control'"))
        assert sp.layer_of(sp.check(SITE), ref).severity == "forbidden"  # new checks use new rules
        with store.session() as s:
            again = rerun_check(s, store.settings, first.run_id)
        assert sp.layer_of(again, ref).severity == "needs_approval"  # the re-run uses the old ones
    finally:
        with store.session() as s:
            s.execute(text("UPDATE rules SET severity = 'needs_approval' WHERE key = 'relic_control'"))


def test_layers_read_beside_the_transaction_give_the_answer_read_on_it(spot, engine):
    """A check reads half of the layers on a spare connection; with none free it reads them on
    its own. Both give the same findings, overlaps measured once either way."""
    from conflict_checks.queries import CHECK_SETTINGS
    from gis_platform.core import db

    sp = spot()
    sp.layer("stbhhx", [box(50, 0, 200, 100)], theme="ecological_red_line", coverage=sp.window)
    sp.layer("dltb", [box(-20, -20, 50, 120), box(30, 10, 70, 60), box(60, 40, 130, 130)],
             theme="current_land_use", classes=["0101", "0101", "0103"], scheme="sandiao")
    sp.layer("dzzh", [box(-10, -10, 110, 110), box(40, 40, 60, 60)], theme="geological_hazard",
             classes=["易发区", "危险区"], coverage=sp.window)
    site = box(0, 0, 100, 100)
    beside = sp.check(site)
    key = (os.getpid(), str(engine.url), tuple(sorted(CHECK_SETTINGS.items())))
    assert db._SIDE_OPEN.get(key, 0) >= 1  # a spare connection was used
    busy = [db.side_connection(engine, CHECK_SETTINGS) for _ in range(db.SIDE_CONNECTIONS)]
    held = [cm.__enter__() for cm in busy]
    try:
        assert all(h is not None for h in held)  # every spare is taken: the check reads alone
        alone = sp.check(site)
    finally:
        for cm in busy:
            cm.__exit__(None, None, None)

    def answer(r):
        return [(f.ref, f.state, f.area_m2, [(c.class_code, c.class_raw, c.area_m2, c.severity) for c in f.classes])
                for f in r.layers if f.ref and f.ref.startswith(sp.plan)]
    assert answer(beside) == answer(alone)
    dltb = next(f for f in beside.layers if f.ref == f"{sp.plan}/dltb")
    union = shapely.union_all([box(-20, -20, 50, 120), box(30, 10, 70, 60), box(60, 40, 130, 130)])
    assert dltb.area_m2 == pytest.approx(site.intersection(union).area, abs=0.01)


def test_stored_findings_hold_every_column_of_the_answer(spot, store):
    from sqlalchemy import text

    sp = spot()
    raw = ['危险区 "甲"\t\\', "易发区 {b}"]
    ref = sp.layer("dzzh", [box(-10, -10, 60, 110), box(40, 40, 77.5, 60.25)], theme="geological_hazard",
                   classes=raw, coverage=sp.window)
    r = sp.check(SITE)
    f = sp.layer_of(r, ref)
    with store.engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT finding_no, version_id, theme, class_raw, state, area_m2, share, severity FROM check_findings "
            "WHERE run_id = :r AND layer_id = :l ORDER BY finding_no"), {"r": r.run_id, "l": f.layer_id}).all()
    expected = {raw[0]: box(0, 0, 60, 100).area, raw[1]: box(40, 40, 77.5, 60.25).area}
    assert {row.class_raw: row.area_m2 for row in rows} == pytest.approx(expected, abs=0.005)
    assert {row.class_raw: row.share for row in rows} == pytest.approx(
        {k: v / SITE.area for k, v in expected.items()}, abs=1e-6)
    assert all(row.version_id == f.version_id and row.theme == "geological_hazard" and row.state == "applies"
               for row in rows)
    numbers = [row.finding_no for row in rows]
    assert numbers == sorted(numbers) and len(set(numbers)) == 2


@pytest.mark.parametrize("weights, heavier", [
    ({1: 5.0, 2: 4.0, 3: 1.0, 4: 1.0}, 6.0), ({7: 1.0}, 1.0), ({1: 1.0, 2: 1.0, 3: 1.0}, 2.0)])
def test_layers_are_shared_between_two_connections_by_weight(weights, heavier):
    from conflict_checks.overlay import split_in_two

    a, b = split_in_two(weights)
    assert sorted(a + b) == sorted(weights)
    assert max(sum(weights[v] for v in a), sum(weights[v] for v in b)) == heavier


def test_a_server_checks_the_overlaps_of_layers_its_checks_meet_unchecked(spot, store):
    from layers import overlaps

    sp = spot()
    a, b = box(0, 0, 60, 100), box(40, 0, 100, 100)
    ref = sp.layer("stbhhx", [a, b], theme="ecological_red_line", coverage=sp.window)
    vid = store.version_id(sp.plan, "stbhhx")
    overlaps.enable_background_checks()  # what the web app does at start
    first = sp.check(SITE)  # tests the pieces itself and has the version checked meanwhile
    row = store.overlap_check(vid)
    assert row is not None and row.pairs == 1 and row.area_m2 == pytest.approx(a.intersection(b).area)
    second = sp.check(SITE)  # now from the known pair
    assert sp.layer_of(first, ref).area_m2 == sp.layer_of(second, ref).area_m2 == pytest.approx(10000.0)
