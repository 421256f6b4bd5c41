"""Bring a store to a usable state: running, migrated, code tables seeded."""

from __future__ import annotations

from sqlalchemy import Engine

from gis_platform.core.db import open_store, session_scope
from gis_platform.core.settings import Settings

from .code_tables import seed_code_tables

_ready: set[str] = set()


def prepare_store(settings: Settings) -> Engine:
    """Start (embedded) / connect, migrate and seed once per process and store."""
    engine = open_store(settings) if str(settings.home_abs) + str(settings.database_url) not in _ready \
        else _engine(settings)
    key = str(settings.home_abs) + str(settings.database_url)
    if key not in _ready:
        with session_scope(engine) as session:
            seed_code_tables(session)
        _ready.add(key)
    return engine


def _engine(settings: Settings) -> Engine:
    from gis_platform.core.db import get_engine

    return get_engine(settings)
