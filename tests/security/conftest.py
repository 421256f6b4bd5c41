"""Shared pieces of the security suite (issue #7): hostile payloads, a client of the real app on
the test store, row counts of every table a request could write to, and the platform's error
shape. The browser fixtures of tests/browser are reused for the one headless-Chromium check."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from gis_platform.web.app import create_app

# SQL fragments sent in every text field; each must be refused (4xx) or kept as plain text.
SQL = (
    "'; DROP TABLE features; --",
    '" OR 1=1 --',
    "$$; SELECT pg_sleep(5); $$",
    "x') OR ('1'='1",
    "1; DELETE FROM plans WHERE true; --",
    "%' UNION SELECT password_hash FROM users --",
)
# Script shown on pages: must only ever appear escaped.
SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'
XSS = (SCRIPT, IMG)

# Every table a refused request must leave untouched (store.counts() covers the catalogue).
WRITE_TABLES = ("plans", "layers", "layer_versions", "features", "code_mappings", "submissions", "check_runs",
                "check_findings", "survey_projects", "survey_packages", "survey_package_events",
                "survey_package_files", "survey_features", "survey_shares", "review_tasks", "review_opinions",
                "users", "api_tokens")


def table_counts(engine: Engine) -> dict[str, int]:
    """Row count of every table a request could write to (tables this schema lacks are skipped)."""
    with engine.connect() as conn:
        have = set(conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"))
                   .scalars())
        return {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in WRITE_TABLES if t in have}


def content_type(r: Any) -> str:
    """The Content-Type of an httpx or a schemathesis response (whose headers are lists)."""
    value = next((v for k, v in r.headers.items() if k.lower() == "content-type"), "")
    return value[0] if isinstance(value, list) else value


def assert_error_shape(r: Any, *, names: str | None = None) -> dict[str, Any]:
    """A 4xx answered in the platform's JSON error shape (optionally naming a file)."""
    assert 400 <= r.status_code < 500, (r.status_code, r.text[:500])
    assert content_type(r).startswith("application/json"), (r.status_code, r.text[:300])
    body = r.json()
    assert {"error", "message_zh", "message_en"} <= set(body), body
    assert "Traceback" not in r.text and "gisplat-upload-" not in r.text, r.text[:500]
    if names is not None:
        assert names in body["message_zh"] and names in body["message_en"], body
    return body  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def app(engine, settings):
    """The real app on the test store, with a write rate limit high enough for a fuzzer."""
    return create_app(settings.model_copy(update={"write_rate_per_minute": 100_000}))


@pytest.fixture(scope="module")
def client(app, accounts):
    """The test administrator's API client (never raising the app's exceptions: we want responses)."""
    return TestClient(app, headers=accounts.headers("admin"), raise_server_exceptions=False)
