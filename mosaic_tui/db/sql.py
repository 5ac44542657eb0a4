"""The few SQL constructs that are spelled differently on SQLite and Postgres.

Everything else is one statement for both: ``with_for_update()`` renders
``FOR UPDATE`` on Postgres and nothing on SQLite, where the ``BEGIN
IMMEDIATE`` transaction of ``mosaic_tui.db.engine`` already makes a write
exclusive. (The hot verbs' statements, the claim included, are SQL text in
``mosaic_tui.db.verbs_sql``, where the same few things differ.)
"""

from __future__ import annotations

from sqlalchemy import Connection, DateTime, Table, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from mosaic_tui.db.verbs_sql import LEASE_END


class LeaseEnd(FunctionElement):
    """``claimed_at + claim_ttl_seconds``: when a claim's lease ends. ``LeaseEnd(table)``."""

    type = DateTime(timezone=True)
    inherit_cache = True
    name = "lease_end"

    def __init__(self, table):
        super().__init__(table.c.claimed_at, table.c.claim_ttl_seconds)


@compiles(LeaseEnd, "postgresql")
@compiles(LeaseEnd, "sqlite")
def _lease_end(element, compiler, **kw):
    # One text per backend, shared with the hot path's statements (mosaic_tui.db.verbs_sql).
    claimed_at, ttl = (compiler.process(c, **kw) for c in element.clauses)
    return LEASE_END[compiler.dialect.name].format(claimed_at=claimed_at, ttl=ttl)


def insert_or_nothing(conn: Connection, table: Table, *conflict_columns: str):
    """``INSERT ... ON CONFLICT (cols) DO NOTHING`` in the connection's dialect."""
    module = postgresql if conn.dialect.name == "postgresql" else sqlite
    return module.insert(table).on_conflict_do_nothing(index_elements=list(conflict_columns))


def lock_graph(conn: Connection) -> None:
    """Serialise changes to the dependency graph, so two links cannot close a cycle together.

    SQLite's write transactions are already serial; Postgres takes a
    transaction-scoped advisory lock.
    """
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": 0x6D6F7367})


def plan_graph_walk(conn: Connection) -> None:
    """Make this transaction's recursive walks over ``backlog_deps`` follow the edge indexes.

    Without statistics (right after a bulk load, before autovacuum's ANALYZE)
    the Postgres planner picks a hash join that rescans the whole edge table at
    every step of the recursion: seconds on a long chain instead of
    milliseconds. Each step looks up a handful of edges by key, so a nested
    loop over the indexes is right whatever the statistics say; ``SET LOCAL``
    lasts until the end of the transaction. SQLite's planner already does this.
    """
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SET LOCAL enable_hashjoin = off")
        conn.exec_driver_sql("SET LOCAL enable_mergejoin = off")
