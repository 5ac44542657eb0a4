"""Notes and labels: side tables beside the contract's ``backlog`` table.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07

The contract table keeps its columns exactly (``../shared/spec/mosaic-backlog.sql``);
what this project adds to a card lives here, keyed by the card's id, so the
fleet's own service -- which writes ``backlog`` with plain SQL and knows
nothing of these tables -- keeps working, and its cards can carry notes and
labels all the same.

* ``backlog_notes`` -- an append-only thread per card: who wrote it, what kind
  (``note``, ``block``, ``release``, ``complete``, ``system``), when, the text.
* ``backlog_labels`` -- a card's labels, one row per (card, label); the index
  on (label, card_id) answers ``#name`` in a query from the index alone.
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

POSTGRES = [
    """
    CREATE TABLE IF NOT EXISTS backlog_notes (
      id      bigserial PRIMARY KEY,
      card_id text NOT NULL,
      author  text,
      kind    text NOT NULL DEFAULT 'note',
      body    text NOT NULL,
      at      timestamp with time zone DEFAULT clock_timestamp() NOT NULL
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS backlog_labels (
      card_id text NOT NULL,
      label   text NOT NULL,
      PRIMARY KEY (card_id, label)
    )
    """,
]

SQLITE = [
    """
    CREATE TABLE IF NOT EXISTS backlog_notes (
      id      INTEGER PRIMARY KEY AUTOINCREMENT,
      card_id TEXT NOT NULL,
      author  TEXT,
      kind    TEXT NOT NULL DEFAULT 'note',
      body    TEXT NOT NULL,
      at      TEXT DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')) NOT NULL
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS backlog_labels (
      card_id TEXT NOT NULL,
      label   TEXT NOT NULL,
      PRIMARY KEY (card_id, label)
    ) WITHOUT ROWID
    """,
]

BOTH = [  # the same spelling on both backends
    "CREATE INDEX IF NOT EXISTS backlog_notes_card_idx ON backlog_notes (card_id, id)",
    "CREATE INDEX IF NOT EXISTS backlog_labels_label_idx ON backlog_labels (label, card_id)",
]


def upgrade() -> None:
    bind = op.get_bind()
    for statement in (POSTGRES if bind.dialect.name == "postgresql" else SQLITE) + BOTH:
        bind.exec_driver_sql(statement)
