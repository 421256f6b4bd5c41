"""Test fixtures: a real embedded PostGIS cluster in a temporary GISPLAT_HOME.

A test that needs the store is marked ``postgis``. Locally, a machine without PostgreSQL/PostGIS
skips those tests; in CI (``CI`` set) they fail instead of skipping.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

# Isolate every setting before any platform module reads the environment.
_HOME = Path(tempfile.mkdtemp(prefix="gisplat-test-"))
os.chmod(_HOME, 0o755)  # the cluster's unprivileged OS user must reach it
os.environ["GISPLAT_HOME"] = str(_HOME)
os.environ.pop("GISPLAT_DATABASE_URL", None)
if os.environ.get("GISPLAT_TEST_DATABASE_URL"):
    os.environ["GISPLAT_DATABASE_URL"] = os.environ["GISPLAT_TEST_DATABASE_URL"]

from gis_platform.core.db import embedded_cluster, session_scope  # noqa: E402
from gis_platform.core.errors import StoreError  # noqa: E402
from gis_platform.core.settings import Settings, get_settings  # noqa: E402

DATA = Path(__file__).resolve().parent / "data"

# One live server and one Chromium for the whole session (Playwright's sync API runs one at a time).
pytest_plugins = ["tests.browser_fixtures"]


@pytest.fixture(scope="session")
def settings() -> Settings:
    """Settings of the test store."""
    get_settings.cache_clear()
    return get_settings()


@pytest.fixture(scope="session")
def engine(settings: Settings) -> Iterator[Engine]:
    """The migrated, seeded test store (started once per test session)."""
    from conflict_checks.bootstrap import prepare_store

    try:
        eng = prepare_store(settings)
    except StoreError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"PostGIS is required in CI: {exc.message('en')}")
        pytest.skip(f"no PostGIS here: {exc.message('en')}")
    yield eng
    eng.dispose()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Stop the embedded cluster and remove the temporary home."""
    try:
        if not os.environ.get("GISPLAT_DATABASE_URL"):
            embedded_cluster(Settings()).stop()
    finally:
        shutil.rmtree(_HOME, ignore_errors=True)


class Accounts:
    """One signed-in user per role for the test session: API tokens and browser sessions."""

    ROLES = {
        "admin": {},
        "bureau": {},
        "department": {"department": "自然资源局（耕地保护）"},
        "owner": {"organisation": "测试建设单位"},
        "firm": {"firm": "测试测绘院"},
    }

    def __init__(self, engine: Engine) -> None:
        from gis_platform.core.accounts import create_user, issue_token

        self.engine = engine
        self.users: dict[str, object] = {}
        self.tokens: dict[str, str] = {}
        tag = uuid.uuid4().hex[:6]
        with session_scope(engine) as s:
            for role, aff in self.ROLES.items():
                user = create_user(s, username=f"t-{role}-{tag}", password="test-password-123", role=role,
                                   actor="tests", **aff)
                self.users[role] = user
                self.tokens[role] = issue_token(s, user, name="tests")[1]

    def headers(self, role: str = "admin") -> dict[str, str]:
        """Bearer header of the role's test user."""
        return {"Authorization": f"Bearer {self.tokens[role]}"}

    def add(self, username: str, role: str, **aff: str) -> tuple[object, str]:
        """Another user with a token (for tests about other owners, departments, firms)."""
        from gis_platform.core.accounts import create_user, issue_token

        with session_scope(self.engine) as s:
            user = create_user(s, username=username, password="test-password-123", role=role, actor="tests", **aff)
            return user, issue_token(s, user, name="tests")[1]

    def browser_cookies(self, settings: Settings, base: str, role: str = "admin") -> list[dict[str, object]]:
        """Cookies of a signed-in browser session for the role's user."""
        from gis_platform.core.accounts import open_session
        from gis_platform.web.auth import CSRF_COOKIE, SESSION_COOKIE, sign

        with session_scope(self.engine) as s:
            sid, csrf = open_session(s, self.users[role], hours=2)  # type: ignore[arg-type]
        return [{"name": SESSION_COOKIE, "value": sign(settings, sid), "url": base, "httpOnly": True},
                {"name": CSRF_COOKIE, "value": csrf, "url": base}]


@pytest.fixture(scope="session")
def accounts(engine: Engine) -> Accounts:
    """Test users, one per role, with API tokens."""
    return Accounts(engine)


@pytest.fixture
def uid() -> str:
    """A short unique suffix for plan and layer names, so tests never collide."""
    return uuid.uuid4().hex[:8]


@pytest.fixture
def store(engine: Engine, settings: Settings):  # noqa: ANN201
    """Helpers over the real store: sessions, table counts, plan creation, ingest."""
    from tests.factories import Store

    return Store(engine, settings)


@pytest.fixture
def data_dir() -> Path:
    """The committed KB-sized fixture files."""
    return DATA


__all__ = ["session_scope"]
