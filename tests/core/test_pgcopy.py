"""Binary COPY rows built by gis_platform.core.pgcopy, read back by PostgreSQL itself."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from gis_platform.core import pgcopy

pytestmark = pytest.mark.postgis


def test_every_kind_of_field_round_trips(engine):
    small = np.array([-32768, 0, 7, 32767])
    ids = np.array([-2**31, 0, 42, 2**31 - 1])
    big = np.array([-2**63, 0, 1, 2**63 - 1])
    reals = np.array([-1.5e300, 0.0, 1 / 3, 1234.5678])
    flags = np.array([True, False, True, False])
    words = ["制表\t符", None, "反斜杠\\n 与\n换行", ""]
    maybe = [True, None, False, None]
    arrays = [[1, 2, 3], None, [], [2**31 - 1, -5]]
    geoms = [shapely.box(0, 0, 1, 1), shapely.Point(35_465_600.125, 3_939_000.5),
             shapely.LineString([(0, 0), (1, 2)]), shapely.MultiPolygon([shapely.box(5, 5, 6, 7)])]
    wkb = shapely.to_wkb(np.array(geoms, dtype=object), byte_order=1, include_srid=False)
    data = pgcopy.rows(
        pgcopy.fixed(9, [("int2", small), ("int4", ids), ("int8", big), ("float8", reals), ("bool", flags)]),
        pgcopy.text(words), pgcopy.booleans(maybe), pgcopy.int4_arrays(arrays), pgcopy.lengths(wkb), wkb)
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.execute("CREATE TEMP TABLE probe (s smallint, i integer, b bigint, r float8, f boolean, "
                    "t text, m boolean, a integer[], g geometry(Geometry, 4523))")
        with cur.copy("COPY probe FROM STDIN (FORMAT binary)") as cp:
            cp.write(pgcopy.SIGNATURE + data + pgcopy.TRAILER)
        cur.execute("SELECT s, i, b, r, f, t, m, a, ST_AsBinary(g), ST_SRID(g) FROM probe")
        got = cur.fetchall()
    finally:
        raw.rollback()
        raw.close()
    assert [r[0] for r in got] == small.tolist()
    assert [r[1] for r in got] == ids.tolist()
    assert [r[2] for r in got] == big.tolist()
    assert [r[3] for r in got] == reals.tolist()
    assert [r[4] for r in got] == flags.tolist()
    assert [r[5] for r in got] == words
    assert [r[6] for r in got] == maybe
    assert [r[7] for r in got] == arrays
    assert [shapely.from_wkb(bytes(r[8])).equals_exact(g, tolerance=0) for r, g in zip(got, geoms)] == [True] * 4
    assert {r[9] for r in got} == {4523}


def test_columns_of_different_lengths_are_refused():
    with pytest.raises(ValueError):
        pgcopy.rows(pgcopy.fixed(2, [("int4", np.arange(3))]), pgcopy.text(["a", "b"]))
    with pytest.raises(ValueError):
        pgcopy.fixed(2, [("int4", np.arange(3)), ("int4", np.arange(2))])
