"""SQL fragments in every text field, query parameter, file name, layer name, DBF field name and
attribute value the platform takes: each request is refused with a 4xx or the text is stored as
plain text and reads back byte-for-byte; never a 5xx, no statement runs (no pg_sleep delay), and
the catalogue's row counts change only by what was legitimately added.

Data sit around X=35 425 000, Y=3 955 000 (EPSG:4523), a corner no other test uses."""

from __future__ import annotations

import json
import time
import zipfile
from urllib.parse import quote

import pytest
import shapely
from shapely.geometry import box
from sqlalchemy import text

from tests.factories import write_vector
from tests.security.conftest import SQL, assert_error_shape, table_counts
from tests.surveys.builders import E0, N0, boundary_package

pytestmark = pytest.mark.postgis

X0, Y0 = 35_425_000.0, 3_955_000.0
CATALOGUE = ("plans", "layers", "layer_versions", "features")


def _catalogue(store) -> dict[str, int]:
    c = store.counts()
    return {k: c[k] for k in CATALOGUE}


def _ok_or_refused(r, allowed=(200, 201)) -> bool:
    """True when accepted; a refusal must be a 4xx in the error shape. Never a 5xx, never slow."""
    assert r.status_code < 500, (r.status_code, r.text[:400])
    if r.status_code in allowed:
        return True
    assert_error_shape(r)
    return False


def _fast(fn):
    """Run a request; ``pg_sleep(5)`` must never have run."""
    t0 = time.perf_counter()
    r = fn()
    assert time.perf_counter() - t0 < 4.5, "a request took as long as the injected pg_sleep"
    return r


def test_tables_intact_after_everything(engine):  # (runs first and last: see the end of the module)
    with engine.connect() as c:
        for t in ("features", "plans", "layers", "users"):
            assert c.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() >= 0


# ------------------------------------------------------------------------------ catalogue


def test_plan_fields_are_plain_text(client, store, uid):
    for i, sql in enumerate(SQL):
        code = f"{sql}-{uid}-{i}"
        before = _catalogue(store)
        body = {"code": code, "name": sql, "kind": "territorial", "authority": sql, "description": sql}
        r = _fast(lambda body=body: client.post("/api/plans", json=body))
        assert r.status_code == 201, r.text
        assert _catalogue(store) == {**before, "plans": before["plans"] + 1}
        listed = next(p for p in client.get("/api/plans").json() if p["code"] == code)
        assert (listed["name"], listed["authority"], listed["description"]) == (sql, sql, sql)
        one = client.get(f"/api/plans/{quote(code, safe='')}")
        assert one.status_code == 200 and one.json()["code"] == code
        # as a kind or a status it is refused, naming nothing it should not
        for field in ("kind", "status"):
            bad = client.post("/api/plans", json={**body, "code": f"{code}-{field}", field: sql[:20]})
            assert not _ok_or_refused(bad)
        assert _catalogue(store) == {**before, "plans": before["plans"] + 1}
        # looking things up by it finds nothing, and says so
        assert client.get(f"/api/plans/{quote(sql, safe='')}").status_code == 404
        assert client.get("/api/layers", params={"plan": sql}).json() == []
        assert client.get(f"/api/layers/{quote(sql, safe='')}/{quote(sql, safe='')}").status_code == 404


def _features(tmp_path, name: str, values: list[str], extra: dict[str, list[str]] | None = None):
    geoms = [box(X0 + 60 * i, Y0, X0 + 60 * i + 50, Y0 + 50) for i in range(len(values))]
    return write_vector(tmp_path / name, geoms, "EPSG:4523", DLBM=values, **(extra or {}))


def test_layer_upload_names_and_values_are_plain_text(client, store, tmp_path, uid):
    plan = store.plan(f"inj-{uid}")
    for i, sql in enumerate(SQL):
        layer = f"l{i}-{sql}"
        src = tmp_path / f"src{i}.geojson"
        src.write_text(json.dumps({"type": "FeatureCollection", "crs": {"type": "name", "properties": {
            "name": "urn:ogc:def:crs:EPSG::4523"}}, "features": [{"type": "Feature", "properties": {
                "DLBM": sql, sql: sql, "MC": sql}, "geometry": shapely.geometry.mapping(
                    box(X0 + 60 * i, Y0, X0 + 60 * i + 50, Y0 + 50))}]}, ensure_ascii=False), encoding="utf-8")
        before = _catalogue(store)
        r = _fast(lambda layer=layer, sql=sql, src=src: client.post(f"/api/layers/{plan}/{quote(layer, safe='')}",
                                      files={"file": (f"{sql}.geojson", src.read_bytes())},
                                      data={"class_field": "DLBM", "scheme": "gb2023", "title": sql}))
        if not _ok_or_refused(r):
            assert _catalogue(store) == before
            continue
        # (the test client sends '"' in a multipart file name as %22, as browsers do)
        assert r.json()["source_name"] == f"{sql}.geojson".replace('"', "%22")
        assert _catalogue(store) == {**before, "layers": before["layers"] + 1,
                                     "layer_versions": before["layer_versions"] + 1,
                                     "features": before["features"] + 1}
        got = client.get(f"/api/layers/{plan}/{quote(layer, safe='')}").json()
        assert got["name"] == layer and got["title"] == sql
        props = store.properties(plan, layer)[0]
        assert props[sql] == sql and props["MC"] == sql and props["_class_raw"] == sql
        assert props["_class_status"] == "unmapped"  # an unknown code, kept and reported, never run


def test_layer_upload_form_fields(client, store, tmp_path, uid):
    plan = store.plan(f"injf-{uid}")
    good = _features(tmp_path, "ok.geojson", ["0701"])
    assert client.post(f"/api/layers/{plan}/base", files={"file": ("ok.geojson", good.read_bytes())}).status_code == 201
    for k, sql in enumerate(SQL):
        for field in ("class_field", "scheme", "theme", "crs", "encoding", "source_layer", "coverage", "kind",
                      "geometry", "repair"):
            before = _catalogue(store)
            target = f"/api/layers/{plan}/f-{field}-{k}" if field != "kind" else f"/api/layers/new-{uid}/x"
            r = _fast(lambda field=field, target=target, sql=sql: client.post(
                target, files={"file": ("ok.geojson", good.read_bytes())}, data={field: sql}))
            if _ok_or_refused(r):
                # accepted means the field was taken as plain text and stored as such
                # (an encoding is only used where the format has none of its own: GeoJSON is UTF-8)
                assert field in ("theme", "class_field", "source_layer", "encoding"), (field, r.text[:300])
                layer = client.get(f"/api/layers/{plan}/f-{field}-{k}").json()
                if field == "theme":
                    assert layer["theme"] == sql
                client_side = store.counts()
                assert client_side["features"] == before["features"] + 1
            else:
                assert _catalogue(store) == before, field


def _gpkg_named(path, layer: str):
    """A GeoPackage whose one table has a hostile name (GDAL will not write one: renamed after)."""
    import sqlite3

    write_vector(path, [box(X0, Y0 + 200, X0 + 40, Y0 + 240)], "EPSG:4523", layer="t", DLBM=[layer])
    con = sqlite3.connect(path)
    with con:
        for (trigger,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall():
            con.execute(f'DROP TRIGGER "{trigger}"')
        con.execute("DROP TABLE IF EXISTS rtree_t_geom")
        con.execute("DELETE FROM gpkg_extensions WHERE table_name = 't'")
        quoted = '"' + layer.replace('"', '""') + '"'
        con.execute(f"ALTER TABLE t RENAME TO {quoted}")
        for table in ("gpkg_contents", "gpkg_geometry_columns", "gpkg_ogr_contents"):
            con.execute(f"UPDATE {table} SET table_name = ? WHERE table_name = 't'", (layer,))
        con.execute("UPDATE gpkg_contents SET identifier = ?", (layer,))
    con.close()
    return path


def test_geopackage_layer_name_and_shapefile_field_names(client, store, tmp_path, uid):
    plan = store.plan(f"injg-{uid}")
    for i, sql in enumerate(SQL):
        gpkg = _gpkg_named(tmp_path / f"g{i}.gpkg", sql)
        r = _fast(lambda gpkg=gpkg, sql=sql, i=i: client.post(f"/api/layers/{plan}/gpkg{i}", files={
            "file": (gpkg.name, gpkg.read_bytes())}, data={"source_layer": sql, "class_field": "DLBM"}))
        assert r.status_code == 201, r.text
        assert r.json()["source_layer"] == sql and store.properties(plan, f"gpkg{i}")[0]["_class_raw"] == sql
    # DBF field names are at most 10 bytes: hostile ones that fit, with hostile values
    names = ["';DROP--", '" OR 1=1', "$$;SEL$$", "x')OR('1"]
    shp = write_vector(tmp_path / "f.shp", [box(X0, Y0 + 300, X0 + 40, Y0 + 340)], "EPSG:4523", encoding="UTF-8",
                       **{n: [SQL[k]] for k, n in enumerate(names)})
    z = tmp_path / f"{SQL[0][:10]}.zip"
    with zipfile.ZipFile(z, "w") as zf:
        for suffix in (".shp", ".shx", ".dbf", ".prj", ".cpg"):
            if shp.with_suffix(suffix).exists():
                zf.write(shp.with_suffix(suffix), shp.with_suffix(suffix).name)
    before = _catalogue(store)
    r = _fast(lambda: client.post(f"/api/layers/{plan}/dbf", files={"file": (z.name, z.read_bytes())}))
    assert r.status_code == 201, r.text
    props = store.properties(plan, "dbf")[0]
    for k, n in enumerate(names):
        assert props[n] == SQL[k]
    assert _catalogue(store)["features"] == before["features"] + 1


# ------------------------------------------------------------------------------ pre-checks


def test_check_metadata_is_plain_text(client, engine, tmp_path):
    site = box(X0 + 1000, Y0, X0 + 1050, Y0 + 50)
    path = write_vector(tmp_path / "site.geojson", [site], "EPSG:4523")
    for sql in SQL:
        meta = {"project_code": sql, "name": sql, "applicant": sql}
        r = _fast(lambda meta=meta, sql=sql: client.post("/api/checks", files={"file": (f"{sql}.geojson",
                                                         path.read_bytes())}, data=meta))
        assert r.status_code == 200, r.text
        back = client.get(f"/api/checks/{r.json()['run_id']}").json()
        assert {k: back["meta"][k] for k in meta} == meta
        r = _fast(lambda meta=meta: client.post("/api/checks/geojson", json={
            "geometry": shapely.geometry.mapping(site), "crs": "EPSG:4523", "meta": meta}))
        assert r.status_code == 200 and {k: r.json()["meta"][k] for k in meta} == meta
        before = table_counts(engine)
        for field in ("proposed_use", "project_type", "crs", "encoding", "declared_area_m2"):
            r = _fast(lambda field=field, sql=sql: client.post("/api/checks", files={
                "file": ("site.geojson", path.read_bytes())}, data={field: sql[:20]}))
            if _ok_or_refused(r):
                assert field in ("proposed_use", "encoding"), field
                assert client.get(f"/api/checks/{r.json()['run_id']}").json()["meta"].get(field, sql[:20]) \
                    in (sql[:20], None)
                before = table_counts(engine)
            assert table_counts(engine) == before, field
        for params in ({"x": 104.6, "y": 35.5, "crs": sql}, {"x": 104.6, "y": 35.5, "project_type": sql},
                       {"x": sql, "y": sql}):
            _ok_or_refused(_fast(lambda params=params: client.get("/api/applies", params=params)))
        _ok_or_refused(client.post("/api/applies", json={"geometry": shapely.geometry.mapping(site),
                                                         "crs": sql, "project_type": sql}))
        for params in ({"q": sql}, {"verdict": sql[:20]}):
            assert _fast(lambda params=params: client.get("/review", params=params)).status_code == 200


# ------------------------------------------------------------------------------ surveys


def test_survey_fields_are_plain_text(client, engine, tmp_path, uid):
    for i, sql in enumerate(SQL):
        x = E0 + 6000 + 200 * i
        pkg = boundary_package(tmp_path, [box(x, N0 + 6000, x + 80, N0 + 6060)], name=f"p{i}.zip")
        form = {"project_code": f"{sql}-{uid}", "stage": "立项用地规划许可", "item": "勘测定界", "firm": sql,
                "surveyor": sql, "client": sql, "project_name": sql}
        r = _fast(lambda pkg=pkg, form=form, sql=sql: client.post(
            "/api/surveys", files={"file": (f"{sql}.zip", pkg.read_bytes(), "application/zip")}, data=form))
        assert r.status_code == 200, r.text
        back = client.get(f"/api/surveys/{r.json()['id']}").json()
        assert back["project_code"] == form["project_code"] and back["firm"] == sql and back["surveyor"] == sql
        before = table_counts(engine)
        for field in ("stage", "item"):
            bad = client.post("/api/surveys", files={"file": ("p.zip", pkg.read_bytes())}, data={**form, field: sql})
            assert not _ok_or_refused(bad)
        assert table_counts(engine) == before
        for params in ({"project_code": sql}, {"status": sql[:20]}, {"firm": sql}):
            assert _ok_or_refused(client.get("/api/surveys", params=params))
        assert client.get(f"/api/surveys/shared/{quote(sql, safe='')}").status_code in (404, 422, 200)
        r = client.post(f"/api/surveys/{back['id']}/return", json={"reason": sql})
        assert r.status_code == 200, r.text
        events = client.get(f"/api/surveys/{back['id']}").json()["history"]
        assert sql in [e.get("reason") for e in events]


# ------------------------------------------------------------------------------ accounts, conflicts, audit


def test_usernames_and_account_fields(client, accounts, uid):
    for i, sql in enumerate(SQL):
        r = client.post("/api/users", json={"username": sql, "password": "long-enough-pw", "role": "owner",
                                            "organisation": sql})
        assert r.status_code == 422 and assert_error_shape(r)
        name = f"inj{i}-{uid}"
        r = client.post("/api/users", json={"username": name, "password": "long-enough-pw", "role": "owner",
                                            "organisation": sql, "display_name": sql})
        assert r.status_code == 201, r.text
        row = next(u for u in client.get("/api/users").json() if u["username"] == name)
        assert row["organisation"] == sql and row["display_name"] == sql
        for pw in (sql, "' OR '1'='1"):
            for user in (sql, accounts.users["admin"].username):
                assert client.post("/api/auth/token", json={"username": user, "password": pw}).status_code == 401
        anon_login = client.post("/login", data={"username": sql, "password": sql}, headers={"Authorization": ""},
                                 follow_redirects=False)
        assert anon_login.status_code == 401 and "set-cookie" not in anon_login.headers
        for params in ({"action": sql[:60]}, {"actor": sql}):
            assert client.get("/api/audit", params=params).status_code == 200
        for body in ({"a": sql, "b": sql}, {"a": f"{sql}/x", "b": f"x/{sql}", "profile": sql[:60]}):
            assert not _ok_or_refused(_fast(lambda body=body: client.post("/api/conflicts", json=body)))
        assert not _ok_or_refused(client.get(f"/api/conflicts/jobs/{quote(sql, safe='')}"))
        for params in ({"category": sql[:12]}, {"status": sql}):
            _ok_or_refused(client.get("/api/conflicts/1/patches", params=params), (200, 404))
        r = client.get(f"/ogc/collections/{quote(sql, safe='')}/items", params={"bbox": sql})
        assert not _ok_or_refused(r)
    # a login attempt's username lands in the audit log as plain text
    entry = client.get("/api/audit", params={"action": "login.failed", "limit": 50}).json()
    assert SQL[-1] in {e["target"].removeprefix("user:") for e in entry}


def test_tables_intact_at_the_end(engine):
    with engine.connect() as c:
        names = set(c.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")).scalars())
    assert {"features", "plans", "layers", "layer_versions", "users", "submissions", "check_runs"} <= names
