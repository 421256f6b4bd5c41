"""Internal overlaps of a layer version, against a brute-force shapely answer over every pair of
the stored features."""

from __future__ import annotations

import itertools

import pytest
import shapely
from shapely.geometry import Polygon, box
from sqlalchemy import text

from layers import overlaps
from tests.factories import write_vector

pytestmark = pytest.mark.postgis

X0, Y0 = 35_420_000.0, 3_950_000.0


def _shapes() -> list[shapely.Geometry]:
    return [
        box(0, 0, 10, 10), box(10, 0, 20, 10),           # neighbours touching along an edge
        box(20, 0, 30, 5), box(20, 5, 30, 10),           # a T-junction with the box on their left
        box(40, 0, 50, 10), box(45, 5, 55, 15),          # crossing: 25 m²
        box(60, 0, 80, 20), box(65, 5, 70, 10),          # nested: 25 m²
        box(90, 0, 95, 5), Polygon([(95, 0), (95, 5), (90, 5), (90, 0)]),  # the same square twice
        box(100, 0, 110, 10), box(110, 10, 120, 20),     # touching at a corner only
        box(130, 0, 140, 10), box(130, 0, 135, 10),      # inside, sharing two edges: 50 m²
    ]


def _layer(store, tmp_path, uid, shapes):
    plan = store.plan(f"ov-{uid}", kind="current_use")
    geoms = [shapely.affinity.translate(g, X0, Y0) for g in shapes]
    path = write_vector(tmp_path / "ov.geojson", geoms, "EPSG:4523", n=list(range(len(geoms))))
    store.ingest(path, plan, "dltb", theme="current_land_use")
    return store.version_id(plan, "dltb")


def _expected(engine, vid) -> dict[tuple[int, int], float]:
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT feature_no, ST_AsBinary(geom) FROM features WHERE version_id = :v"),
                            {"v": vid}).all()
    feats = [(n, shapely.from_wkb(bytes(w))) for n, w in rows]
    out = {}
    for (na, a), (nb, b) in itertools.combinations(feats, 2):
        shared = a.intersection(b).area
        if shared > 0:
            out[(min(na, nb), max(na, nb))] = shared
    return out


def _stored(engine, vid):
    with engine.connect() as conn:
        pairs = {(a, b): ar for a, b, ar in conn.execute(text(
            "SELECT feature_a, feature_b, area_m2 FROM version_overlaps WHERE version_id = :v"), {"v": vid})}
        mark = conn.execute(text("SELECT checked_at, pairs, area_m2 FROM version_overlap_checks "
                                 "WHERE version_id = :v"), {"v": vid}).one()
    return pairs, mark


@pytest.mark.parametrize("tile_features", [20_000, 2], ids=["one-tile", "many-tiles"])
def test_overlapping_pairs_and_areas_are_found_once(store, engine, settings, tmp_path, uid, monkeypatch,
                                                    tile_features):
    monkeypatch.setattr(overlaps, "TILE_FEATURES", tile_features)
    vid = _layer(store, tmp_path, uid, _shapes())
    expected = _expected(engine, vid)
    assert sorted(expected.values()) == pytest.approx([25.0, 25.0, 25.0, 50.0])  # the figures above
    report = overlaps.check_version_overlaps(engine, vid, settings.store_srid)
    assert (report.tiles > 1) == (tile_features == 2)
    pairs, mark = _stored(engine, vid)
    assert pairs == pytest.approx(expected, abs=1e-9)
    assert mark.checked_at is not None and mark.pairs == 4 == report.pairs
    assert mark.area_m2 == pytest.approx(125.0) == report.area_m2
    again = overlaps.check_version_overlaps(engine, vid, settings.store_srid)  # replaces, never adds
    assert _stored(engine, vid)[0] == pairs and again.pairs == 4


def test_a_clean_partition_has_no_overlaps(store, engine, settings, tmp_path, uid):
    grid = [box(x * 10, y * 10, x * 10 + 10, y * 10 + 10) for x in range(6) for y in range(6)]
    vid = _layer(store, tmp_path, uid, grid)
    report = overlaps.check_version_overlaps(engine, vid, settings.store_srid)
    pairs, mark = _stored(engine, vid)
    assert report.pairs == 0 and pairs == {} and mark.pairs == 0 and mark.area_m2 == 0
    assert mark.checked_at is not None
    assert vid not in [r.version_id for r in overlaps.check_unchecked(engine, settings.store_srid)]
