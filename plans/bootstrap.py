"""Bring a store to a usable state: running, migrated, code tables seeded."""

from __future__ import annotations

from sqlalchemy import Engine

from gis_platform.core.db import get_engine, open_store, session_scope, store_key
from gis_platform.core.settings import Settings

from .code_tables import seed_code_tables

_ready: set[str] = set()


def prepare_store(settings: Settings) -> Engine:
    """Start (embedded) / connect, migrate and seed, once per process and store."""
    key = store_key(settings)
    if key in _ready:
        return get_engine(settings)
    engine = open_store(settings)
    with session_scope(engine) as session:
        seed_code_tables(session)
    _ready.add(key)
    return engine
