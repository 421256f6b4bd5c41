"""Malformed and oversized requests, by hand: every route outside the OpenAPI schema (pages,
forms, assets) with wrong types in its path, query and form, huge values and unknown
parameters; and bodies no schema describes (invalid or deeply nested JSON, a JSON body on a
form route, multipart without a boundary, a conflict run with nonsense) on the API. Never a 5xx
or a traceback; API refusals in the platform's error shape; nothing stored."""

from __future__ import annotations

import re
import time

import pytest
from fastapi.routing import APIRoute

from gis_platform.web.app import ROUTERS
from tests.security.conftest import assert_error_shape, table_counts

pytestmark = pytest.mark.postgis

HUGE = "界" * 50_000 + "'\"<>%00"
LONG = "x" * 30_000 + "界'\"<>%00"  # as long as a URL may be (the client's limit is 64 KiB)
BAD_INTS = ("abc", "-1", "0", str(2**31), str(2**63), "9" * 40, "1e3", "1.5", "%00")
NOBODY = "999999999"
BAD_STRS = ("..%2F..%2Fetc%2Fpasswd", "%2e%2e", "a" * 5000, "%00", "'; DROP TABLE features; --")


def _hidden_routes() -> list[APIRoute]:
    return [r for router in ROUTERS for r in router.routes if isinstance(r, APIRoute) and not r.include_in_schema]


HIDDEN = _hidden_routes()


def _urls(route: APIRoute) -> list[str]:
    """The route's path with each of its parameters replaced by hostile values (others sane)."""
    params = {p.name: p.field_info.annotation for p in route.dependant.path_params}
    # (ids of nothing: a form that is accepted must still not act on another test's objects)
    sane = {n: (NOBODY if t is int else "leaflet" if n == "package" else "x") for n, t in params.items()}
    out = []
    for name, typ in params.items():
        for bad in BAD_INTS if typ is int else BAD_STRS:
            values = {**sane, name: bad}
            out.append(re.sub(r"\{([^}:]+)(:[^}]*)?\}", lambda m, values=values: values[m.group(1)], route.path))
    return out or [route.path]


def _no_5xx(r, what) -> None:
    assert r.status_code < 500, (what, r.status_code, r.text[:400])
    assert "Traceback" not in r.text and "gisplat-upload-" not in r.text, what


def test_there_are_hidden_routes_to_check():
    assert len(HIDDEN) >= 25
    assert {"/checks/new", "/surveys/new", "/map", "/conflicts"} <= {r.path for r in HIDDEN}


@pytest.mark.parametrize("route", HIDDEN, ids=[f"{min(r.methods)} {r.path}" for r in HIDDEN])
def test_hidden_route_with_hostile_path_query_and_form(client, engine, route):
    method = min(route.methods)
    before = table_counts(engine)
    queries = [{}, {"zzz": "1", "lang": LONG}] + [{q.name: LONG} for q in route.dependant.query_params] + \
              [{q.name: ["1", "2"]} for q in route.dependant.query_params]
    for url in _urls(route):
        for params in queries:
            if method == "GET":
                r = client.get(url, params=params, follow_redirects=False)
            else:
                r = client.post(url, params=params, data={"zzz": "1"}, follow_redirects=False)
            _no_5xx(r, (method, url[:80], list(params)))
    if method == "POST":
        url = _urls(route)[0].replace("abc", NOBODY)
        fields = [p.name for p in route.dependant.body_params]
        forms = [
            {f: HUGE for f in fields if f != "file"},                       # huge text in every field
            {f: ["1", "2", "3"] for f in fields if f != "file"},            # a list where one value goes
            {f: "-1e309" for f in fields if f != "file"},                  # numbers out of range
            {f: "\x00\x01\ufffe" for f in fields if f != "file"},         # control characters
        ]
        for data in forms:
            files = {"file": ("x.geojson", b"{}")} if "file" in fields else None
            r = client.post(url, data=data, files=files, follow_redirects=False)
            _no_5xx(r, (url, "form", list(data)[:3]))
            if "file" in fields:  # the file field given as text, not as a file
                r = client.post(url, data={**data, "file": "not a file"}, follow_redirects=False)
                _no_5xx(r, (url, "file as text"))
        r = client.post(url, json={"a": HUGE, "file": [1, 2]}, follow_redirects=False)  # JSON on a form route
        _no_5xx(r, (url, "json"))
        r = client.post(url, content=b"--x\r\nnot really\r\n", follow_redirects=False,
                        headers={"Content-Type": "multipart/form-data"})  # no boundary
        _no_5xx(r, (url, "multipart without boundary"))
        r = client.post(url, content=b"--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.zip\"\r\n\r\n"
                        b"PK\x03\x04 truncated", follow_redirects=False,
                        headers={"Content-Type": "multipart/form-data; boundary=b"})  # truncated multipart
        _no_5xx(r, (url, "truncated multipart"))
    # (a GET page writes nothing; a refused form write keeps nothing — the form writes that
    # succeed here are only the accept / return / rerun of objects that do not exist)
    assert table_counts(engine) == before, (method, route.path)


JSON_ROUTES = ["/api/plans", "/api/checks/geojson", "/api/applies", "/api/conflicts", "/api/auth/token",
               "/api/users", "/api/me/tokens", "/api/reviews/tasks/1/opinion", "/api/submissions/1/decision",
               "/api/checks/1/findings/1/dispute", "/api/corrections/1", "/api/surveys/1/accept",
               "/api/surveys/1/return", "/api/conflicts/1/resolutions"]
BAD_BODIES = [
    (b"{not json", "application/json"),
    (b"[" * 100_000 + b"]" * 100_000, "application/json"),           # nesting deeper than any parser's stack
    (b'{"a": ' * 50_000 + b"1" + b"}" * 50_000, "application/json"),
    (b"\xff\xfe\x00garbage", "application/json"),
    (b'"just a string"', "application/json"),
    (b"null", "application/json"),
    (b'{"geometry": {"type": "Polygon", "coordinates": 1e999}}', "application/json"),
    (b'{"code": "NaN", "name": NaN, "kind": Infinity}', "application/json"),
    (b"a=1&b=2", "application/x-www-form-urlencoded"),
    (b"<xml/>", "application/xml"),
    (b"", "application/json"),
    (b'{"x": "' + b"y" * 3_000_000 + b'"}', "application/json"),         # a 3 MB field
]


@pytest.mark.parametrize("url", JSON_ROUTES)
def test_api_bodies_no_schema_describes(client, engine, url):
    # every field of a new token is optional: no body, or one with unknown fields, is a valid
    # request there (and makes a token); everywhere else these bodies are refused
    optional = url == "/api/me/tokens"
    before = table_counts(engine)
    for body, ctype in BAD_BODIES:
        r = client.post(url, content=body, headers={"Content-Type": ctype})
        _no_5xx(r, (url, body[:40], ctype))
        if not (optional and r.status_code == 201):
            assert_error_shape(r)
    after = table_counts(engine)
    if optional:
        before.pop("api_tokens"), after.pop("api_tokens")
    assert after == before


def test_conflict_run_with_nonsense(client, engine):
    """POST /api/conflicts is not fuzzed (too slow when it runs): here only refusals."""
    before = table_counts(engine)
    for body in ({"a": "x", "b": "y"}, {"a": "nope/none", "b": "nope/none", "profile": "nope"},
                 {"a": "a/b", "b": "c/d", "engine": "spark"}, {"a": "a/b", "b": "c/d", "min_area_m2": -1},
                 {"a": "a/b", "b": "c/d", "switches": {"x": "maybe"}}, {"a": 1, "b": None},
                 {"a": "a" * 301, "b": "b"}, {"a": "../../etc/passwd", "b": "/"}):
        r = client.post("/api/conflicts", json=body)
        assert_error_shape(r)
    # in the background too, a run that cannot start is refused before it is queued
    r = client.post("/api/conflicts", json={"a": "a/b", "b": "c/d", "background": True, "profile": "nope"})
    assert r.status_code == 422 and "nope" in r.json()["message_en"]
    assert_error_shape(r)
    assert table_counts(engine) == before


def test_unknown_route_and_method_in_the_error_shape(client):
    assert_error_shape(client.get("/api/nothing-here"))
    r = client.put("/api/plans", json={})
    assert r.status_code in (403, 405)
    assert_error_shape(r)
    r = client.get("/api/audit", params={"limit": "lots"})
    body = assert_error_shape(r)
    assert r.status_code == 422 and "limit" in body["message_en"]
