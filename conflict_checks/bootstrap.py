"""Bring a store to a state where checks can run: the catalogue's preparation plus the rules."""

from __future__ import annotations

from sqlalchemy import Engine

from gis_platform.core.db import session_scope, store_key
from gis_platform.core.settings import Settings
from plans.bootstrap import prepare_store as prepare_catalogue

from .rules import seed_rules_if_empty

_seeded: set[str] = set()


def prepare_store(settings: Settings) -> Engine:
    """Running, migrated store with code tables and (when the table is empty) the shipped rules."""
    engine = prepare_catalogue(settings)
    key = store_key(settings)
    if key not in _seeded:
        with session_scope(engine) as session:
            seed_rules_if_empty(session)
        _seeded.add(key)
    return engine
