"""The FastAPI application, built by ``create_app(settings)`` (tests pass their own settings)."""

from __future__ import annotations

from typing import Any

from fastapi import Depends, FastAPI

from conflict_checks.bootstrap import prepare_store
from layers.overlaps import enable_background_checks
from gis_platform import __version__
from gis_platform.core.errors import PlatformError
from gis_platform.core.settings import Settings, get_settings, production_problems

from .auth import PrincipalCache, RateLimiter, enforce
from .errors import add_exception_handlers
from .jobs import JobRegistry
from .routes import (
    accounts,
    catalogue,
    checks,
    conflicts,
    ogc,
    pages,
    reviews,
    run_tiles,
    surveys,
    tiles,
    ui_checks,
    ui_conflicts,
    ui_map,
    ui_reviews,
)

# Pages load nothing from outside the platform (Leaflet and its plugins are served locally);
# inline styles stay allowed for Leaflet's positioning, inline scripts do not.
CSP = ("default-src 'self'; img-src 'self' data: blob:{basemap}; style-src 'self' 'unsafe-inline'; "
       "script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'")
BASEMAP_HOSTS = {"none": "", "osm": " https://tile.openstreetmap.org",
                 "tianditu": " https://t0.tianditu.gov.cn https://t1.tianditu.gov.cn https://t2.tianditu.gov.cn"}


# Every router of the app (the authorisation matrix test walks the same list).
ROUTERS = tuple(m.router for m in (accounts, catalogue, checks, conflicts, reviews, pages, ui_map, ui_checks,
                                   ui_reviews, run_tiles, tiles, ogc, surveys)) + (ui_conflicts.api, ui_conflicts.router)


class SecurityHeaders:
    """Security headers on every response (a plain ASGI middleware: no per-request task)."""

    def __init__(self, app: Any, csp: str, hsts: bool) -> None:
        self.app, self.csp, self.hsts = app, csp.encode(), hsts

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        docs = scope.get("path", "").startswith("/docs")

        async def send_with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {k.lower() for k, _ in headers}
                extra = [(b"x-content-type-options", b"nosniff"), (b"x-frame-options", b"DENY"),
                         (b"referrer-policy", b"same-origin"),
                         (b"permissions-policy", b"geolocation=(), camera=(), microphone=()")]
                if self.hsts:
                    extra.append((b"strict-transport-security", b"max-age=31536000"))
                ctype = next((v for k, v in headers if k.lower() == b"content-type"), b"")
                if ctype.startswith(b"text/html") and not docs:
                    extra.append((b"content-security-policy", self.csp))
                headers += [(k, v) for k, v in extra if k not in names]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app on a running, migrated store (refused in production with unsafe settings)."""
    settings = settings or get_settings()
    problems = production_problems(settings)
    if problems:
        raise PlatformError("生产模式拒绝启动：" + "；".join(p[0] for p in problems),
                            "refusing to start in production: " + "; ".join(p[1] for p in problems))
    app = FastAPI(
        title="多规合一 一张图 平台 API",
        description="Multi-plan integration platform: plans and layers, site pre-checks, what applies here, "
                    "plan-vs-plan conflict runs (差异图斑), parallel review (联审联批), 多测合一 survey "
                    "results, vector tiles and OGC API - Features. Authenticate with "
                    "`Authorization: Bearer <token>` (POST /api/auth/token).",
        version=__version__,
        dependencies=[Depends(enforce)],
    )
    app.state.settings = settings
    app.state.engine = prepare_store(settings)
    # layer versions that checks meet with their internal overlaps unchecked get them checked
    # in a background thread of this server (uploads through the web, stores from before 0009)
    enable_background_checks()
    app.state.jobs = JobRegistry()
    app.state.limiter = RateLimiter()
    app.state.principals = PrincipalCache(settings.auth_cache_s)
    add_exception_handlers(app)
    csp = CSP.format(basemap=BASEMAP_HOSTS.get(settings.basemap, ""))

    app.add_middleware(SecurityHeaders, csp=csp, hsts=settings.cookie_secure)
    for router in ROUTERS:
        app.include_router(router)
    return app
