"""Browser fixtures, a pytest plugin of tests/conftest.py shared by tests/browser and
tests/security: the app served by uvicorn on a free port (on the test store) and Debian's
headless Chromium driven by Playwright. Every request the page makes and every console error
is recorded, so tests can assert that nothing leaves the platform."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
NODE_MODULES = Path(__file__).resolve().parents[1] / "node_modules"


def _need(ok: bool, why: str) -> None:
    if ok:
        return
    if os.environ.get("CI"):
        pytest.fail(why)
    pytest.skip(why)


@pytest.fixture(scope="session")
def live_server(engine, settings) -> Iterator[str]:
    """The platform on 127.0.0.1:<free port>, in a background thread; yields its base URL."""
    import uvicorn

    from gis_platform.web.app import create_app

    _need((NODE_MODULES / "leaflet" / "dist" / "leaflet.js").is_file(),
          "front-end packages are not installed: run `npm ci` (make test does)")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(settings), log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("the test server did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)
    sock.close()


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """Debian's Chromium, headless, through Playwright (no browser download)."""
    _need(CHROMIUM.is_file(), f"{CHROMIUM} is not installed (apt-get install chromium; make test does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


@dataclass
class Recorder:
    """What one page did: every request, every response, console errors and uncaught errors."""

    base: str
    requests: list[str] = field(default_factory=list)
    responses: list[tuple[str, int]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def foreign(self) -> list[str]:
        """Requests to anything other than the test server (data: and blob: URLs are local)."""
        own = urlsplit(self.base).netloc
        return [u for u in self.requests
                if not u.startswith(("data:", "blob:")) and urlsplit(u).netloc != own]

    def tiles(self) -> list[tuple[str, int]]:
        """Responses of vector tile requests."""
        return [(u, s) for u, s in self.responses if urlsplit(u).path.startswith("/tiles/")
                and urlsplit(u).path.endswith(".pbf")]


@pytest.fixture
def page(browser, live_server, accounts, settings):
    """A fresh page (1400×900), signed in as the test administrator, whose requests, responses
    and errors are recorded in ``page.rec``."""
    context = browser.new_context(viewport={"width": 1400, "height": 900}, locale="zh-CN")
    context.add_cookies(accounts.browser_cookies(settings, live_server, "admin"))
    pg = context.new_page()
    rec = Recorder(live_server)
    pg.on("request", lambda r: rec.requests.append(r.url))
    pg.on("response", lambda r: rec.responses.append((r.url, r.status)))
    pg.on("console", lambda m: rec.errors.append(f"console: {m.text}") if m.type == "error" else None)
    pg.on("pageerror", lambda e: rec.errors.append(f"pageerror: {e}"))
    pg.rec = rec  # type: ignore[attr-defined]
    pg.base = live_server  # type: ignore[attr-defined]
    yield pg
    context.close()


@pytest.fixture
def anon_page(browser, live_server):
    """A fresh page with no session."""
    context = browser.new_context(viewport={"width": 1200, "height": 800}, locale="zh-CN")
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.errors = errors  # type: ignore[attr-defined]
    pg.base = live_server  # type: ignore[attr-defined]
    yield pg
    context.close()
