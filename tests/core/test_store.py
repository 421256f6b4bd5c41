"""The embedded store: started on demand, reachable, described; an external URL starts nothing;
a machine without PostGIS gets one clear message with the install command."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from gis_platform.core.db import database_url, embedded_cluster
from gis_platform.core.embedded import EmbeddedCluster, check_postgis
from gis_platform.core.errors import StoreError
from gis_platform.core.settings import Settings


@pytest.mark.postgis
def test_embedded_cluster_runs_on_socket_and_loopback(engine, settings):
    if settings.database_url:
        pytest.skip("the tests use an external server")
    info = embedded_cluster(settings).info()
    assert info is not None and embedded_cluster(settings).is_running()
    assert (info.socket_dir / f".s.PGSQL.{info.port}").exists()
    if os.geteuid() == 0:
        assert info.os_user in ("postgres", "gisplat")  # never runs as root
    state = settings.home_abs / "cluster.json"
    assert stat.S_IMODE(state.stat().st_mode) == 0o600  # holds the generated password
    tcp = create_engine(info.tcp_url.replace("postgresql://", "postgresql+psycopg://"))
    with tcp.connect() as conn:
        assert conn.execute(text("SELECT inet_server_addr()::text")).scalar_one().startswith("127.0.0.1")
        assert conn.execute(text("SELECT postgis_lib_version()")).scalar_one().startswith("3.")
        srid = conn.execute(text("SELECT value FROM store_meta WHERE key = 'store_srid'")).scalar_one()
        assert srid == str(settings.store_srid)
    tcp.dispose()


@pytest.mark.postgis
def test_wrong_password_is_refused(engine, settings):
    if settings.database_url:
        pytest.skip("the tests use an external server")
    info = embedded_cluster(settings).info()
    bad = create_engine(f"postgresql+psycopg://gisplat:wrong@127.0.0.1:{info.port}/gisplat")
    with pytest.raises(Exception, match="password authentication failed"):
        bad.connect()


@pytest.mark.postgis
def test_external_url_never_starts_a_cluster(engine, settings, tmp_path):
    url = settings.database_url or embedded_cluster(settings).info().url
    home = tmp_path / "other-home"
    other = Settings(home=home, database_url=url)
    assert database_url(other) == url
    assert not home.exists()  # nothing initialised there
    assert EmbeddedCluster(home).info() is None


def test_missing_postgis_gives_the_install_command(tmp_path):
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    share = tmp_path / "share"
    (share / "extension").mkdir(parents=True)
    pg_config = fake_bin / "pg_config"
    pg_config.write_text(f"#!/bin/sh\necho {share}\n")
    pg_config.chmod(0o755)
    with pytest.raises(StoreError) as err:
        check_postgis(fake_bin)
    assert "apt-get install -y postgresql-15 postgresql-15-postgis-3" in err.value.en
    assert "PostGIS" in err.value.zh


def test_missing_postgresql_gives_the_install_command(tmp_path, monkeypatch):
    from gis_platform.core import embedded

    monkeypatch.setattr(embedded, "PG_MAJOR", "99")  # a version no machine has
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(StoreError) as err:
        embedded.find_pg_bin(Path(tmp_path / "none"))
    assert "apt-get install" in err.value.en



@pytest.mark.postgis
def test_large_json_columns_are_lz4_compressed(engine, store):
    """The migrated store compresses stored check results, load reports and conflict summaries
    with LZ4 (Debian's PostgreSQL is built with it), and a large value written is stored so."""
    with engine.connect() as conn:
        methods = dict(conn.execute(text(
            "SELECT c.relname || '.' || a.attname, a.attcompression FROM pg_attribute a "
            "JOIN pg_class c ON c.oid = a.attrelid WHERE (c.relname, a.attname) IN "
            "(('check_runs', 'result'), ('layer_versions', 'report'), ('conflict_runs', 'summary'))")).all())
        assert methods == {"check_runs.result": "l", "layer_versions.report": "l", "conflict_runs.summary": "l"}
        conn.rollback()
        with conn.begin() as tx:  # a table made like check_runs, so nothing is stored for good
            conn.execute(text("CREATE TEMP TABLE lz4_probe (result jsonb COMPRESSION lz4)"))
            conn.execute(text("INSERT INTO lz4_probe SELECT jsonb_agg(jsonb_build_object('n', i, 't', '用地 ' || i)) "
                              "FROM generate_series(1, 4000) i"))
            assert conn.execute(text("SELECT pg_column_compression(result) FROM lz4_probe")).scalar() == "lz4"
            tx.rollback()


@pytest.mark.postgis
def test_side_connections_are_reused_never_waited_for_and_dropped_on_failure(engine):
    from gis_platform.core import db

    wanted = {"work_mem": "7MB"}  # settings of these spares (others have their own)
    with db.side_connection(engine, wanted) as first:
        assert first is not None and first.autocommit
        assert first.execute("SHOW work_mem").fetchone()[0] == "7MB"
        # the other spares are handed out; beyond them the answer is None at once, not a wait
        others = [db.side_connection(engine, wanted) for _ in range(db.SIDE_CONNECTIONS - 1)]
        held = [cm.__enter__() for cm in others]
        assert all(c is not None for c in held) and first not in held
        with db.side_connection(engine, wanted) as none:
            assert none is None
        with db.side_connection(engine, {}) as plain:  # other settings: other spares
            assert plain is not None and plain.execute("SHOW work_mem").fetchone()[0] != "7MB"
        for cm in others:
            cm.__exit__(None, None, None)
    with db.side_connection(engine, wanted) as again:
        assert again is first or again in held  # back in use, settings kept
        assert again.execute("SHOW work_mem").fetchone()[0] == "7MB"
        broken = again
    with pytest.raises(ZeroDivisionError), db.side_connection(engine, wanted) as c:
        assert c is not None
        dropped = c
        raise ZeroDivisionError
    assert dropped.closed  # a connection whose user failed is not reused
    assert not broken.closed or broken is dropped
