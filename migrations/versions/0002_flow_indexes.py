"""Indexes for the flow figures (mosaic_tui.repository.watch.flow), on both backends.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01

All three are partial, so the hot path pays for them only where it must:

* ``backlog_events_flow_idx`` -- every event but heartbeats (the most
  frequent write, and one that never moves a card), by time, with the columns
  the flow figures group by: a window's claims, completions and status moves
  are read from the index alone. A heartbeat does not touch it.
* ``backlog_events_done_idx`` -- completions by time, with what cycle and
  lead times need of them. Only completions touch it.
* ``backlog_events_claims_idx`` -- claim events by card and id, with their
  time: "when was the claim that this completion ended" is one index probe.
  Only claims touch it.

The queries repeat the indexes' predicates as literals (``kind <> 'heartbeat'``,
``kind = 'completed'``, ``kind = 'claimed'``), which is what lets SQLite's planner use a partial index.
On a backlog that already has a million events, building them takes a few
seconds, once, under the migration lock.
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

STATEMENTS = [  # the same spelling on both backends
    "CREATE INDEX IF NOT EXISTS backlog_events_flow_idx ON backlog_events (at, kind, old_status, new_status, owner) "
    "WHERE kind <> 'heartbeat'",
    "CREATE INDEX IF NOT EXISTS backlog_events_done_idx ON backlog_events (at, card_id, id, owner, old_status) "
    "WHERE kind = 'completed'",
    "CREATE INDEX IF NOT EXISTS backlog_events_claims_idx ON backlog_events (card_id, id, at) WHERE kind = 'claimed'",
]


def upgrade() -> None:
    bind = op.get_bind()
    for statement in STATEMENTS:
        bind.exec_driver_sql(statement)
