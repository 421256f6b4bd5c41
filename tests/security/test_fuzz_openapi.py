"""Every operation of the app's OpenAPI schema fuzzed with schemathesis (valid and invalid
inputs: wrong types, huge and odd strings, unknown values, missing fields), as an administrator,
on the real test store. Never a 5xx; a 4xx is JSON in the platform's error shape.

Schemathesis' own lazy pytest plugin (``from_fixture``) does not run under pytest 9, so each
operation is its own parametrised test that draws cases from schemathesis' strategy for it with
Hypothesis directly. The operations are listed at collection time from the same routers the app
includes (no store needed); the schema itself is loaded from the running app's /openapi.json.
"""

from __future__ import annotations

import uuid

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from gis_platform.web.app import ROUTERS
from tests.security.conftest import assert_error_shape

pytestmark = pytest.mark.postgis

# Examples per operation and generation mode: ~70 operations × 2 modes × this keeps the whole
# fuzzing well under two minutes on 2 cores.
EXAMPLES = 8

# Left out of the fuzzing, each for a reason (each has a hand-written test instead):
EXCLUDED = {
    # runs a whole plan-vs-plan analysis (or queues one on a process pool / Dask cluster): far
    # too slow to call dozens of times; malformed and hostile bodies in test_malformed_requests.py
    # and test_injection.py
    ("POST", "/api/conflicts"),
    # would revoke the fuzzer's own token half-way (every later call then a 401); test_tokens.py
    ("DELETE", "/api/me/tokens/{token_id}"),
}


def _operations() -> list[tuple[str, str]]:
    probe = FastAPI()
    for router in ROUTERS:
        probe.include_router(router)
    ops = [(m.upper(), path) for path, item in probe.openapi()["paths"].items() for m in item
           if m in ("get", "post", "put", "patch", "delete")]
    return sorted(op for op in ops if op not in EXCLUDED)


OPERATIONS = _operations()


@pytest.fixture(scope="module")
def fuzz_token(accounts):
    """An administrator of its own, so the fuzzer's writes touch none of the shared test users."""
    return accounts.add(f"fuzz-{uuid.uuid4().hex[:8]}", "admin")[1]


@pytest.fixture(scope="module")
def api_schema(app):
    return schemathesis.openapi.from_asgi("/openapi.json", app)


def test_every_operation_is_fuzzed_or_excluded_for_a_reason(api_schema):
    served = {(op.method.upper(), op.path) for op in (r.ok() for r in api_schema.get_all_operations())}
    assert served == set(OPERATIONS) | EXCLUDED
    assert len(OPERATIONS) > 50


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=str)
@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_no_operation_answers_5xx(api_schema, fuzz_token, method, path, mode):
    operation = api_schema[path][method]
    auth = {"Authorization": f"Bearer {fuzz_token}"}

    @given(case=operation.as_strategy(generation_mode=mode))
    # derandomised (the same cases on every run), no example database, no shrinking: a bounded
    # number of requests, and a failure shows the case as generated
    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    def one(case) -> None:
        r = case.call(headers=auth)
        where = (method, case.formatted_path, case.query, str(case.body)[:300])
        assert r.status_code < 500, (*where, r.status_code, r.content[:500])
        assert b"Traceback" not in r.content, where  # (downloads are binary: bytes, not text)
        if 400 <= r.status_code < 500:
            assert_error_shape(r)

    try:
        one()
    except Unsatisfiable:
        # Nothing invalid can be expressed for this operation (e.g. one free-text path
        # parameter and no body): its positive run covers it.
        assert mode == GenerationMode.NEGATIVE
