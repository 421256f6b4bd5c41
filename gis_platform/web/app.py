"""The FastAPI application, built by ``create_app(settings)`` (tests pass their own settings)."""

from __future__ import annotations

from fastapi import FastAPI

from gis_platform import __version__
from gis_platform.core.settings import Settings, get_settings
from conflict_checks.bootstrap import prepare_store

from .errors import add_exception_handlers
from .jobs import JobRegistry
from .routes import catalogue, checks, conflicts, ogc, pages, tiles
from .routes import ui_checks, ui_map
from .routes import surveys
from .routes import run_tiles, ui_conflicts


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app on a running, migrated store."""
    settings = settings or get_settings()
    app = FastAPI(
        title="多规合一 一张图 平台 API",
        description="Multi-plan integration platform: plans and layers, site pre-checks, what applies here, "
                    "plan-vs-plan conflict runs (差异图斑), vector tiles and OGC API - Features.",
        version=__version__,
    )
    app.state.settings = settings
    app.state.engine = prepare_store(settings)
    app.state.jobs = JobRegistry()
    add_exception_handlers(app)
    app.include_router(catalogue.router)
    app.include_router(checks.router)
    app.include_router(conflicts.router)
    app.include_router(ui_conflicts.api)
    app.include_router(pages.router)
    app.include_router(ui_map.router)
    app.include_router(ui_checks.router)
    app.include_router(ui_conflicts.router)
    app.include_router(run_tiles.router)
    app.include_router(tiles.router)
    app.include_router(ogc.router)
    app.include_router(surveys.router)
    return app
