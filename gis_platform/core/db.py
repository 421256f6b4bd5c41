"""Database engine and sessions. With no ``GISPLAT_DATABASE_URL`` the embedded cluster is used
(and started on demand); with it set, that server is used and none is started."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, MetaData, create_engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from .embedded import EmbeddedCluster
from .settings import Settings

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base of every ORM model."""

    metadata = MetaData(naming_convention=NAMING)


def embedded_cluster(settings: Settings) -> EmbeddedCluster:
    """The embedded cluster object for these settings (not started)."""
    return EmbeddedCluster(settings.home_abs, settings.pg_bin_dir)


def database_url(settings: Settings, *, start: bool = True) -> str:
    """The SQLAlchemy URL: the configured server, or the embedded cluster (started if asked)."""
    if settings.database_url:
        url = settings.database_url
        if url.startswith("postgresql://") or url.startswith("postgres://"):
            url = "postgresql+psycopg://" + url.split("://", 1)[1]
        return url
    cluster = embedded_cluster(settings)
    info = cluster.start() if start else cluster.info()
    if info is None:
        cluster.init()
        info = cluster.start()
    return info.url


@lru_cache(maxsize=8)
def _engine_for(url: str) -> Engine:
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10)


@lru_cache(maxsize=16)
def url_key(engine: Engine) -> str:
    """The engine's URL as a string: a key for what is cached per store (rendering a URL each
    time is not free)."""
    return str(engine.url)


def get_engine(settings: Settings) -> Engine:
    """A pooled engine for the settings' store (starting the embedded cluster when needed)."""
    return _engine_for(database_url(settings))


def migrate(settings: Settings, engine: Engine | None = None) -> None:
    """Bring the schema to the newest Alembic revision."""
    from alembic import command
    from alembic.config import Config

    engine = engine or get_engine(settings)
    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).resolve().parent.parent / "migrations"))
    cfg.set_main_option("srid", str(settings.store_srid))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def store_key(settings: Settings) -> str:
    """Identifies the store these settings point to (for once-per-process preparation)."""
    return settings.database_url or str(settings.home_abs)


def open_store(settings: Settings) -> Engine:
    """Engine for a store that is running and migrated: what every command needs."""
    engine = get_engine(settings)
    migrate(settings, engine)
    return engine


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """One transaction per operation: commit on success, roll back on any error."""
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


SIDE_CONNECTIONS = 2
"""Spare connections per process and store for reads beside a transaction (see side_connection)."""
_SIDE: dict[tuple[Any, ...], list[Any]] = {}  # (pid, url, settings) -> idle psycopg connections
_SIDE_OPEN: dict[tuple[Any, ...], int] = {}
_SIDE_LOCK = threading.Lock()


@contextmanager
def side_connection(engine: Engine, settings: Mapping[str, str]) -> Iterator[Any | None]:
    """A spare autocommit psycopg connection of this process for a read-only query that runs
    beside the caller's transaction (on immutable rows), or None when all are busy: this never
    waits, the caller then runs the query on its own connection.

    The connections are made once through the engine (same URL and arguments), taken out of its
    pool, and keep the given server settings for their lifetime (each set of settings has its
    own spares). A connection that fails is closed, not reused.
    """
    key = (os.getpid(), url_key(engine), tuple(sorted(settings.items())))
    conn = None
    with _SIDE_LOCK:
        for k in [k for k in _SIDE if k[0] != key[0]]:  # inherited through a fork: not ours
            _SIDE.pop(k, None)
            _SIDE_OPEN.pop(k, None)
        idle = _SIDE.setdefault(key, [])
        if idle:
            conn = idle.pop()
        elif _SIDE_OPEN.get(key, 0) < SIDE_CONNECTIONS:
            _SIDE_OPEN[key] = _SIDE_OPEN.get(key, 0) + 1
        else:
            conn = False
    if conn is False:
        yield None
        return
    if conn is None:
        from .queries import SET_CONFIG_SESSION

        made = None
        try:
            fairy = engine.raw_connection()
            made = fairy.driver_connection
            fairy.detach()
            made.rollback()  # whatever a connect hook may have left open
            made.autocommit = True
            for name, value in settings.items():
                made.execute(SET_CONFIG_SESSION, (name, value))
        except BaseException:
            with _SIDE_LOCK:
                _SIDE_OPEN[key] -= 1
            if made is not None:
                made.close()
            raise
        conn = made
    ok = False
    try:
        yield conn
        ok = not conn.closed
    finally:
        with _SIDE_LOCK:
            if ok and os.getpid() == key[0]:
                _SIDE[key].append(conn)
            else:
                _SIDE_OPEN[key] = max(0, _SIDE_OPEN.get(key, 1) - 1)
        if not ok:
            conn.close()
