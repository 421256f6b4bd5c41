"""Alembic environment: runs on the connection handed in by ``gis_platform.core.db.migrate``."""

from alembic import context

config = context.config
connection = config.attributes.get("connection")
if connection is None:  # pragma: no cover - the platform always passes its connection
    raise RuntimeError("run migrations through `gisplat db migrate`")

context.configure(connection=connection, target_metadata=None, transaction_per_migration=False)
with context.begin_transaction():
    context.run_migrations()
