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

Triggers, so that a note or a label written by any program is an event (and,
on Postgres, a NOTIFY on ``mosaic_backlog``, as every event is):

* a note -> a ``noted`` event (owner: the note's author);
* a label added -> ``labeled``; removed -> ``unlabeled`` (not when the card
  itself is being deleted: its ``deleted`` event says it);
* a card deleted (by us or by a plain ``DELETE``) takes its notes and labels
  with it.

None of these events has an old or a new status: they are not status moves.
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

POSTGRES_TRIGGERS = [
    """
    CREATE OR REPLACE FUNCTION mosaic_side_event(card text, what text, who text) RETURNS void
    LANGUAGE plpgsql AS $$
    DECLARE
      event_id bigint;
    BEGIN
      INSERT INTO backlog_events (card_id, kind, old_status, new_status, owner)
      VALUES (card, what, NULL, NULL, who) RETURNING id INTO event_id;
      PERFORM pg_notify('mosaic_backlog', event_id::text);
    END $$
    """,
    """
    CREATE OR REPLACE FUNCTION mosaic_notes_after() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      PERFORM mosaic_side_event(NEW.card_id, 'noted', NEW.author);
      RETURN NULL;
    END $$
    """,
    """
    CREATE OR REPLACE FUNCTION mosaic_labels_after() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF TG_OP = 'INSERT' THEN
        PERFORM mosaic_side_event(NEW.card_id, 'labeled', NULL);
      ELSIF EXISTS (SELECT 1 FROM backlog WHERE id = OLD.card_id) THEN
        PERFORM mosaic_side_event(OLD.card_id, 'unlabeled', NULL);
      END IF;
      RETURN NULL;
    END $$
    """,
    """
    CREATE OR REPLACE FUNCTION mosaic_backlog_forget() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      DELETE FROM backlog_notes WHERE card_id = OLD.id;
      DELETE FROM backlog_labels WHERE card_id = OLD.id;
      RETURN NULL;
    END $$
    """,
    "DROP TRIGGER IF EXISTS mosaic_notes_after ON backlog_notes",
    "CREATE TRIGGER mosaic_notes_after AFTER INSERT ON backlog_notes FOR EACH ROW EXECUTE FUNCTION mosaic_notes_after()",
    "DROP TRIGGER IF EXISTS mosaic_labels_after ON backlog_labels",
    "CREATE TRIGGER mosaic_labels_after AFTER INSERT OR DELETE ON backlog_labels "
    "FOR EACH ROW EXECUTE FUNCTION mosaic_labels_after()",
    "DROP TRIGGER IF EXISTS mosaic_backlog_forget ON backlog",
    "CREATE TRIGGER mosaic_backlog_forget AFTER DELETE ON backlog FOR EACH ROW EXECUTE FUNCTION mosaic_backlog_forget()",
]

_NOW = "strftime('%Y-%m-%d %H:%M:%f', 'now')"


def _sqlite_event(card: str, kind: str, owner: str) -> str:
    return (
        "INSERT INTO backlog_events (card_id, kind, old_status, new_status, owner, at) "
        f"VALUES ({card}, '{kind}', NULL, NULL, {owner}, {_NOW});"
    )


SQLITE_TRIGGERS = [
    f"""
    CREATE TRIGGER IF NOT EXISTS mosaic_notes_ai AFTER INSERT ON backlog_notes BEGIN
      {_sqlite_event("NEW.card_id", "noted", "NEW.author")}
    END
    """,
    f"""
    CREATE TRIGGER IF NOT EXISTS mosaic_labels_ai AFTER INSERT ON backlog_labels BEGIN
      {_sqlite_event("NEW.card_id", "labeled", "NULL")}
    END
    """,
    f"""
    CREATE TRIGGER IF NOT EXISTS mosaic_labels_ad AFTER DELETE ON backlog_labels
    WHEN EXISTS (SELECT 1 FROM backlog WHERE id = OLD.card_id) BEGIN
      {_sqlite_event("OLD.card_id", "unlabeled", "NULL")}
    END
    """,
    """
    CREATE TRIGGER IF NOT EXISTS mosaic_backlog_forget AFTER DELETE ON backlog BEGIN
      DELETE FROM backlog_notes WHERE card_id = OLD.id;
      DELETE FROM backlog_labels WHERE card_id = OLD.id;
    END
    """,
]

BOTH = [  # the same spelling on both backends
    "CREATE INDEX IF NOT EXISTS backlog_notes_card_idx ON backlog_notes (card_id, id)",
    "CREATE INDEX IF NOT EXISTS backlog_labels_label_idx ON backlog_labels (label, card_id)",
]


def upgrade() -> None:
    bind = op.get_bind()
    pg = bind.dialect.name == "postgresql"
    for statement in (POSTGRES if pg else SQLITE) + BOTH + (POSTGRES_TRIGGERS if pg else SQLITE_TRIGGERS):
        bind.exec_driver_sql(statement)
