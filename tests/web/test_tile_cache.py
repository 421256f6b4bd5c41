"""The server-side tile cache (layers.tiles.TileService): repeated requests and revalidations are
answered without touching the store, the byte budget evicts, and a new layer version is served."""

from __future__ import annotations

import math
import threading
import time
from contextlib import contextmanager

import mapbox_vector_tile
import pytest
from fastapi.testclient import TestClient
from pyproj import Transformer
from sqlalchemy import event

from gis_platform.web.app import create_app
from layers import tiles
from tests.factories import square, write_vector

X0, Y0 = 35_455_000.0, 3_950_000.0
WORLD = 2 * math.pi * 6378137.0
TO_MERC = Transformer.from_crs(4523, 3857, always_xy=True)


def tile_of(x: float, y: float, z: int) -> tuple[int, int]:
    mx, my = TO_MERC.transform(x, y)
    n = 1 << z
    return int((mx + WORLD / 2) / WORLD * n), int((WORLD / 2 - my) / WORLD * n)


def decode(data: bytes) -> dict:
    return mapbox_vector_tile.decode(data)


# -- the LRU itself (no store) ------------------------------------------------------------------
def test_lru_budget_and_order():
    over = tiles.TileCache.ENTRY_OVERHEAD
    cache = tiles.TileCache(3 * (1000 + over))
    for k in "abc":
        cache.put(k, bytes(1000))
    assert cache.get("a") == bytes(1000)  # a is now the most recent
    cache.put("d", bytes(1000))  # evicts b, the least recently used
    assert "b" not in cache and all(k in cache for k in "acd")
    assert cache.stats()["evictions"] == 1 and cache.stats()["bytes"] == 3 * (1000 + over)
    cache.put("e", b"")  # empty tiles are kept too (they cost the overhead)
    assert cache.get("e") == b""
    assert cache.stats()["bytes"] <= cache.max_bytes
    cache.put("huge", bytes(10_000))  # larger than the whole budget: not kept, nothing evicted
    assert "huge" not in cache and "e" in cache
    off = tiles.TileCache(0)
    off.put("a", b"x")
    assert off.get("a") is None and off.stats()["entries"] == 0


def test_lru_is_thread_safe():
    over = tiles.TileCache.ENTRY_OVERHEAD
    cache = tiles.TileCache(50 * (100 + over))
    errors: list[BaseException] = []

    def work(seed: int) -> None:
        try:
            for i in range(3000):
                k = (seed * 7 + i) % 120
                got = cache.get(k)
                if got is None:
                    cache.put(k, bytes([k % 256]) * 100)
                else:
                    assert got == bytes([k % 256]) * 100
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(s,)) for s in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    st = cache.stats()
    assert st["bytes"] <= cache.max_bytes and st["bytes"] == st["entries"] * (100 + over)
    assert st["hits"] + st["misses"] == 8 * 3000


def test_layer_cache_ttl_and_generation():
    layer = tiles.TileLayer(1, "p/l", "l", None, None, 10, 1, False)
    lc = tiles.LayerCache(0.2)
    lc.put((1, None), layer, tiles.catalogue_generation())
    assert lc.get((1, None)) == layer
    time.sleep(0.25)
    assert lc.get((1, None)) is None  # the TTL bounds how long another process's load is unseen
    lc.put((1, None), layer, tiles.catalogue_generation())
    tiles.bump_catalogue_generation()  # a load in this process: forgotten at once
    assert lc.get((1, None)) is None
    stale = tiles.catalogue_generation()
    tiles.bump_catalogue_generation()
    lc.put((1, None), layer, stale)  # read before a change: never trusted
    assert lc.get((1, None)) is None
    never = tiles.LayerCache(0)
    never.put((1, None), layer, tiles.catalogue_generation())
    assert never.get((1, None)) is None


# -- through the app, on the real store --------------------------------------------------------


@contextmanager
def statements(engine):
    """SQL statements run on the engine inside the block (every thread)."""
    seen: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def non_auth(seen: list[str]) -> list[str]:
    """Statements other than the bearer-token lookup every request makes (auth.py)."""
    return [s for s in seen if "api_tokens" not in s]


def app_client(settings, accounts, **over) -> TestClient:
    return TestClient(create_app(settings.model_copy(update=over)), headers=accounts.headers("admin"))


@pytest.fixture
def layer(store, tmp_path, uid):
    """A polygon layer of 40 squares in a row (40 km), so tiles differ; (layer id, plan, name, path)."""
    from plans.service import resolve_layer

    plan = store.plan(f"tcache-{uid}")
    geoms = [square(X0 + 1000 * i, Y0, 400.0) for i in range(40)]
    path = write_vector(tmp_path / "parcels.geojson", geoms, "EPSG:4523", DLBM=["0701"] * 40)
    store.ingest(path, plan, "parcels", class_field="DLBM", scheme="gb2023")
    with store.session() as s:
        lid = resolve_layer(s, f"{plan}/parcels").id
    return lid, plan, "parcels", path


@pytest.mark.postgis
def test_repeat_and_revalidation_skip_the_store(engine, settings, accounts, layer):
    lid, _, _, _ = layer
    client = app_client(settings, accounts, tile_version_ttl_s=60.0)
    x, y = tile_of(X0 + 200, Y0 + 200, 14)
    url = f"/tiles/{lid}/14/{x}/{y}.pbf"
    with statements(engine) as first_sql:
        first = client.get(url)
    assert first.status_code == 200 and first.headers["x-tile-cache"] == "miss"
    assert any("ST_AsMVT" in s for s in first_sql)
    service = tiles.service_for(client.app.state)
    before = service.stats()
    with statements(engine) as seen:
        second = client.get(url)
        revalidated = client.get(url, headers={"If-None-Match": first.headers["etag"]})
    assert non_auth(seen) == [], non_auth(seen)  # only the token lookups of auth.py
    assert second.status_code == 200 and second.headers["x-tile-cache"] == "hit"
    assert second.content == first.content and second.headers["etag"] == first.headers["etag"]
    assert second.headers["content-type"] == tiles.MEDIA_TYPE
    assert second.headers["cache-control"] == first.headers["cache-control"]
    assert revalidated.status_code == 304 and revalidated.content == b""
    assert revalidated.headers["etag"] == first.headers["etag"]
    assert service.stats()["hits"] == before["hits"] + 1
    # Empty tiles are cached too: the second 204 asks nothing either.
    empty = f"/tiles/{lid}/14/{x}/{y - 30}.pbf"
    assert client.get(empty).status_code == 204
    with statements(engine) as seen:
        again = client.get(empty)
    assert again.status_code == 204 and again.headers["x-tile-cache"] == "hit" and non_auth(seen) == []
    # An explicit version is cached under its own key, with the same tile bytes.
    v1 = client.get(url + "?version=1")
    assert v1.content == first.content and "immutable" in v1.headers["cache-control"]
    with statements(engine) as seen:
        assert client.get(url + "?version=1").headers["x-tile-cache"] == "hit"
    assert non_auth(seen) == []


@pytest.mark.postgis
def test_concurrent_requests_agree(settings, accounts, layer):
    lid, _, _, _ = layer
    client = app_client(settings, accounts)
    urls = []
    for i in range(0, 40, 4):
        x, y = tile_of(X0 + 1000 * i + 200, Y0 + 200, 15)
        urls.append(f"/tiles/{lid}/15/{x}/{y}.pbf")
    results: dict[str, set[bytes]] = {u: set() for u in urls}
    lock = threading.Lock()
    errors: list[BaseException] = []

    def work(k: int) -> None:
        try:
            for u in urls[k % 3:] + urls[:k % 3]:
                r = client.get(u)
                assert r.status_code == 200
                with lock:
                    results[u].add(r.content)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert all(len(v) == 1 for v in results.values())  # every thread got the same bytes
    st = tiles.service_for(client.app.state).stats()
    assert st["entries"] == len(urls)
    # (threads asking for the same uncached tile at once may each miss; after the burst, every
    # tile is served from the cache)
    for u in urls:
        assert client.get(u).content in results[u]
    after = tiles.service_for(client.app.state).stats()
    assert after["hits"] == st["hits"] + len(urls) and after["misses"] == st["misses"]


@pytest.mark.postgis
def test_byte_budget_evicts(engine, settings, accounts, layer):
    lid, _, _, _ = layer
    probe = app_client(settings, accounts, tile_cache_bytes=0)  # cache off: every request cuts
    urls = []
    for i in (0, 10, 20, 30):
        x, y = tile_of(X0 + 1000 * i + 200, Y0 + 200, 15)
        urls.append(f"/tiles/{lid}/15/{x}/{y}.pbf")
    sizes = [len(probe.get(u).content) for u in urls]
    assert min(sizes) > 0
    assert probe.get(urls[0]).headers["x-tile-cache"] == "miss"
    assert tiles.service_for(probe.app.state).stats()["entries"] == 0
    # Room for two of these tiles, not three.
    budget = 2 * (max(sizes) + tiles.TileCache.ENTRY_OVERHEAD) + 10
    client = app_client(settings, accounts, tile_cache_bytes=budget, tile_version_ttl_s=60.0)
    for u in urls:
        assert client.get(u).headers["x-tile-cache"] == "miss"
    st = tiles.service_for(client.app.state).stats()
    assert st["entries"] == 2 and st["evictions"] == 2 and st["bytes"] <= budget
    assert client.get(urls[3]).headers["x-tile-cache"] == "hit"  # the most recent stayed
    with statements(engine) as seen:
        r = client.get(urls[0])  # the oldest was evicted: cut again, same bytes
    assert r.headers["x-tile-cache"] == "miss" and any("ST_AsMVT" in s for s in seen)
    assert len(r.content) == sizes[0]


@pytest.mark.postgis
def test_new_version_is_served_after_the_ttl(store, settings, accounts, layer, tmp_path):
    lid, plan, name, _ = layer
    client = app_client(settings, accounts, tile_version_ttl_s=0)
    x, y = tile_of(X0 + 200, Y0 + 200, 14)
    url = f"/tiles/{lid}/14/{x}/{y}.pbf"
    first = client.get(url)
    assert first.status_code == 200
    assert client.get(url).content == first.content
    # Version 2: one square only, another class.
    path = write_vector(tmp_path / "v2.geojson", [square(X0, Y0, 400.0)], "EPSG:4523", DLBM=["0101"])
    store.ingest(path, plan, name, class_field="DLBM", scheme="gb2023")
    new = client.get(url, headers={"If-None-Match": first.headers["etag"]})
    assert new.status_code == 200 and new.headers["etag"] != first.headers["etag"]
    assert new.content != first.content
    feats = decode(new.content)[f"{plan}/{name}"]["features"]
    assert [f["properties"]["class_code"] for f in feats] == ["0101"]
    # Version 1 is still served (from the cache) under its old ETag.
    old = client.get(url + "?version=1")
    assert old.content == first.content and old.headers["etag"] == first.headers["etag"]


@pytest.mark.postgis
def test_load_in_this_process_is_seen_within_the_ttl(store, settings, accounts, layer, tmp_path):
    lid, plan, name, _ = layer
    client = app_client(settings, accounts, tile_version_ttl_s=3600.0)
    x, y = tile_of(X0 + 200, Y0 + 200, 14)
    url = f"/tiles/{lid}/14/{x}/{y}.pbf"
    first = client.get(url)
    assert client.get(url, headers={"If-None-Match": first.headers["etag"]}).status_code == 304
    path = write_vector(tmp_path / "v2.geojson", [square(X0, Y0, 300.0)], "EPSG:4523", DLBM=["0103"])
    store.ingest(path, plan, name, class_field="DLBM", scheme="gb2023")
    new = client.get(url, headers={"If-None-Match": first.headers["etag"]})
    assert new.status_code == 200 and new.headers["etag"] != first.headers["etag"]
    assert new.content != first.content
