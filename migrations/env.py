"""Alembic environment: always run from code on a connection handed over by
``mosaic_tui.db.schema`` (which holds the migration lock on it)."""

from alembic import context

from mosaic_tui.db.schema import VERSION_TABLE

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - we never run alembic's CLI
    raise SystemExit("run migrations with `mosaic-tui migrate`, not the alembic command")

context.configure(connection=connection, version_table=VERSION_TABLE, transactional_ddl=True)
with context.begin_transaction():
    context.run_migrations()
