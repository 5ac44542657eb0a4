"""Completions' cycle and lead times, kept as they happen (both backends); SQLite: moves per half hour.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07

The flow figures (``mosaic_tui.repository.watch.flow``) over a busy week read hundreds of
thousands of completions; working out each one's cycle time (a probe for the
claim it ended) and lead time (a lookup of its card) at every read cost
seconds. Triggers now keep them as they happen, whoever writes (our code, the
fleet's plain SQL, an import), in side tables; ``backlog`` keeps its columns.

* ``backlog_flow_done`` -- one row per completion event: its time, id, card,
  owner, the card's phase, ``cycle_ms`` (from the claim it ended, the latest
  claim event of the card before it; NULL when it was not completed from
  ``claimed``) and ``lead_ms`` (from the card's creation). Written when the
  completion event is; the card's phase and lead time follow the card (a
  change of its phase or ``created_at``, its deletion: phase and lead time
  NULL, as the figures treated a deleted card's completions); deleting the
  event deletes it; deleting a claim event recomputes the cycle times after it.
  The durations are computed by the same expression the figures used
  (``mosaic_tui.db.timing.MillisBetween``), so they are the same integers.
* ``backlog_flow_moves`` (SQLite only) -- the events that move a card or count
  as a claim or a completion, counted per half hour (``slot`` = Unix seconds //
  1800) and (kind, old status, new status, owner of claims and completions
  as '+' and the name; '' for none). SQLite groups by sorting, at ~1 us a row: a week of a large
  fleet is a million events, a second. One writer at a time there, so one
  counter row per key costs nothing but its upsert. Postgres groups the
  window's events with a hash in a few hundred milliseconds, and a shared
  counter row would serialize (and could deadlock) concurrent writers, the
  fleet's included: it keeps reading the events.

``backlog_events_done_idx`` (0002) is dropped: nothing reads completions from
the events any more; on SQLite ``backlog_events_flow_idx`` (0002) too: only the
hour's moves still come from the events there, through the ``at`` index, so
that a claim pays for the half-hour count instead of that index entry. On a
backlog that already has a million events the backfill takes 3-14 seconds,
once, under the migration lock (docs/performance/flow.md).
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

SLOT_SECONDS = 1800  # mosaic_tui.repository.watch.flow.SLOT_SECONDS

# later - earlier in whole milliseconds: the text of mosaic_tui.db.timing.MillisBetween on each backend
MILLIS = {
    "postgresql": "CAST(round(extract(epoch FROM ({0} - {1})) * 1000) AS BIGINT)",
    "sqlite": "CAST(round((julianday({0}) - julianday({1})) * 86400000.0) AS INTEGER)",
}
# The claim a completion ended: the card's latest claim event before it (backlog_events_claims_idx, one probe).
CLAIM_AT = (
    "(SELECT c.at FROM backlog_events c WHERE c.card_id = {card} AND c.kind = 'claimed' AND c.id < {event} "
    "ORDER BY c.id DESC LIMIT 1)"
)


def _cycle(backend: str, at: str, old_status: str, card: str, event: str) -> str:
    return f"CASE WHEN {old_status} = 'claimed' THEN {MILLIS[backend].format(at, CLAIM_AT.format(card=card, event=event))} END"


def _lead(backend: str, at: str, card: str) -> str:
    return MILLIS[backend].format(at, f"(SELECT created_at FROM backlog WHERE id = {card})")


def _record(backend: str, e: str) -> str:
    """Insert the row of completion event ``e`` (NEW in a trigger)."""
    return (
        "INSERT INTO backlog_flow_done (event_id, card_id, at, owner, phase, cycle_ms, lead_ms) "
        f"VALUES ({e}.id, {e}.card_id, {e}.at, {e}.owner, (SELECT phase FROM backlog WHERE id = {e}.card_id), "
        f"{_cycle(backend, f'{e}.at', f'{e}.old_status', f'{e}.card_id', f'{e}.id')}, "
        f"{_lead(backend, f'{e}.at', f'{e}.card_id')})"
    )


# A card's rows, found through its completion events (backlog_events_card_idx) and the table's key: no
# index of the side table by card, which every completion would pay for.
_ROWS_OF = "(at, event_id) IN (SELECT e.at, e.id FROM backlog_events e WHERE e.card_id = {card} AND e.kind = 'completed'{more})"


def _follow_card(backend: str, card: str) -> str:
    """Give the completions of card id ``card`` its phase and lead time now (NULL when no such card)."""
    return (
        "UPDATE backlog_flow_done SET "
        f"phase = (SELECT phase FROM backlog WHERE id = {card}), lead_ms = {_lead(backend, 'backlog_flow_done.at', card)} "
        f"WHERE {_ROWS_OF.format(card=card, more='')}"
    )


def _recycle(backend: str, card: str, after: str) -> str:
    """Recompute the cycle times of card ``card``'s completions after event id ``after`` (a claim event went)."""
    old = "(SELECT e.old_status FROM backlog_events e WHERE e.id = backlog_flow_done.event_id)"
    return (
        f"UPDATE backlog_flow_done SET cycle_ms = "
        f"{_cycle(backend, 'backlog_flow_done.at', old, 'backlog_flow_done.card_id', 'backlog_flow_done.event_id')} "
        f"WHERE {_ROWS_OF.format(card=card, more=f' AND e.id > {after}')}"
    )


def _backfill(backend: str) -> str:
    return (
        "INSERT INTO backlog_flow_done (event_id, card_id, at, owner, phase, cycle_ms, lead_ms) "
        f"SELECT e.id, e.card_id, e.at, e.owner, b.phase, {_cycle(backend, 'e.at', 'e.old_status', 'e.card_id', 'e.id')}, "
        f"{MILLIS[backend].format('e.at', 'b.created_at')} "
        "FROM backlog_events e LEFT JOIN backlog b ON b.id = e.card_id "
        "WHERE e.kind = 'completed'"
    )


# --------------------------------------------------------------------------- postgres
PG = [
    """
    CREATE TABLE IF NOT EXISTS backlog_flow_done (
      event_id bigint PRIMARY KEY,
      card_id  text NOT NULL,
      at       timestamp with time zone NOT NULL,
      owner    text,
      phase    text,
      cycle_ms bigint,
      lead_ms  bigint
    )
    """,
    f"""
    CREATE OR REPLACE FUNCTION mosaic_flow_event() RETURNS trigger
    LANGUAGE plpgsql SET enable_seqscan = off AS $$
    BEGIN
      IF TG_OP = 'INSERT' THEN
        {_record("postgresql", "NEW")};
      ELSIF OLD.kind = 'completed' THEN
        DELETE FROM backlog_flow_done WHERE at = OLD.at AND event_id = OLD.id;
      ELSE
        {_recycle("postgresql", "OLD.card_id", "OLD.id")};
      END IF;
      RETURN NULL;
    END $$
    """,
    "DROP TRIGGER IF EXISTS mosaic_flow_event_insert ON backlog_events",
    """
    CREATE TRIGGER mosaic_flow_event_insert AFTER INSERT ON backlog_events
    FOR EACH ROW WHEN (NEW.kind = 'completed') EXECUTE FUNCTION mosaic_flow_event()
    """,
    "DROP TRIGGER IF EXISTS mosaic_flow_event_delete ON backlog_events",
    """
    CREATE TRIGGER mosaic_flow_event_delete AFTER DELETE ON backlog_events
    FOR EACH ROW WHEN (OLD.kind IN ('completed', 'claimed')) EXECUTE FUNCTION mosaic_flow_event()
    """,
    f"""
    CREATE OR REPLACE FUNCTION mosaic_flow_card() RETURNS trigger
    LANGUAGE plpgsql SET enable_seqscan = off AS $$
    BEGIN
      IF TG_OP <> 'INSERT' THEN
        {_follow_card("postgresql", "OLD.id")};
      END IF;
      IF TG_OP <> 'DELETE' AND (TG_OP = 'INSERT' OR NEW.id <> OLD.id) THEN
        {_follow_card("postgresql", "NEW.id")};
      END IF;
      RETURN NULL;
    END $$
    """,
    "DROP TRIGGER IF EXISTS mosaic_flow_card_update ON backlog",
    "DROP TRIGGER IF EXISTS mosaic_flow_card_insert_delete ON backlog",
    # An update fires it only when the card's id, phase or creation time really changed.
    """
    CREATE TRIGGER mosaic_flow_card_update AFTER UPDATE OF id, phase, created_at ON backlog
    FOR EACH ROW WHEN ((NEW.id, NEW.phase, NEW.created_at) IS DISTINCT FROM (OLD.id, OLD.phase, OLD.created_at))
    EXECUTE FUNCTION mosaic_flow_card()
    """,
    """
    CREATE TRIGGER mosaic_flow_card_insert_delete AFTER INSERT OR DELETE ON backlog
    FOR EACH ROW EXECUTE FUNCTION mosaic_flow_card()
    """,
]

# --------------------------------------------------------------------------- sqlite
# The slot of an event's time, its fraction cut off first: SQLite parses a time to the millisecond, rounding,
# so that '11:29:59.9996' would count in the 11:30 slot while the text, which the windows compare, is before it.
_SLOT = f"(CAST(strftime('%s', substr({{0}}.at, 1, 19)) AS INTEGER) / {SLOT_SECONDS})"
_MOVES_WHEN = "{0}.kind <> 'heartbeat' AND ({0}.old_status IS NOT {0}.new_status OR {0}.kind IN ('claimed', 'completed'))"


def _moves_key(e: str) -> str:
    return (
        f"{_SLOT.format(e)}, {e}.kind, COALESCE({e}.old_status, ''), COALESCE({e}.new_status, ''), "
        f"CASE WHEN {e}.kind IN ('claimed', 'completed') AND {e}.owner IS NOT NULL THEN '+' || {e}.owner ELSE '' END"
    )


SQLITE = [
    """
    CREATE TABLE IF NOT EXISTS backlog_flow_done (
      at       TEXT NOT NULL,
      event_id INTEGER NOT NULL,
      card_id  TEXT NOT NULL,
      owner    TEXT,
      phase    TEXT,
      cycle_ms INTEGER,
      lead_ms  INTEGER,
      PRIMARY KEY (at, event_id)
    ) WITHOUT ROWID
    """,
    """
    CREATE TABLE IF NOT EXISTS backlog_flow_moves (
      slot       INTEGER NOT NULL,
      kind       TEXT NOT NULL,
      old_status TEXT NOT NULL,
      new_status TEXT NOT NULL,
      owner      TEXT NOT NULL,
      n          INTEGER NOT NULL,
      PRIMARY KEY (slot, kind, old_status, new_status, owner)
    ) WITHOUT ROWID
    """,
    f"""
    CREATE TRIGGER IF NOT EXISTS mosaic_flow_done_ai AFTER INSERT ON backlog_events WHEN NEW.kind = 'completed' BEGIN
      {_record("sqlite", "NEW")};
    END
    """,
    """
    CREATE TRIGGER IF NOT EXISTS mosaic_flow_done_ad AFTER DELETE ON backlog_events WHEN OLD.kind = 'completed' BEGIN
      DELETE FROM backlog_flow_done WHERE at = OLD.at AND event_id = OLD.id;
    END
    """,
    f"""
    CREATE TRIGGER IF NOT EXISTS mosaic_flow_claim_ad AFTER DELETE ON backlog_events WHEN OLD.kind = 'claimed' BEGIN
      {_recycle("sqlite", "OLD.card_id", "OLD.id")};
    END
    """,
    f"""
    CREATE TRIGGER IF NOT EXISTS mosaic_flow_moves_ai AFTER INSERT ON backlog_events WHEN {_MOVES_WHEN.format("NEW")} BEGIN
      INSERT INTO backlog_flow_moves (slot, kind, old_status, new_status, owner, n) VALUES ({_moves_key("NEW")}, 1)
        ON CONFLICT DO UPDATE SET n = n + 1;
    END
    """,
    f"""
    CREATE TRIGGER IF NOT EXISTS mosaic_flow_moves_ad AFTER DELETE ON backlog_events WHEN {_MOVES_WHEN.format("OLD")} BEGIN
      UPDATE backlog_flow_moves SET n = n - 1 WHERE (slot, kind, old_status, new_status, owner) = ({_moves_key("OLD")});
    END
    """,
    f"""
    CREATE TRIGGER IF NOT EXISTS mosaic_flow_card_ai AFTER INSERT ON backlog BEGIN
      {_follow_card("sqlite", "NEW.id")};
    END
    """,
    f"""
    CREATE TRIGGER IF NOT EXISTS mosaic_flow_card_ad AFTER DELETE ON backlog BEGIN
      {_follow_card("sqlite", "OLD.id")};
    END
    """,
    f"""
    CREATE TRIGGER IF NOT EXISTS mosaic_flow_card_au AFTER UPDATE OF id, phase, created_at ON backlog
    WHEN NEW.id IS NOT OLD.id OR NEW.phase IS NOT OLD.phase OR NEW.created_at IS NOT OLD.created_at BEGIN
      {_follow_card("sqlite", "OLD.id")};
      {_follow_card("sqlite", "NEW.id")};
    END
    """,
    # The hour's moves, the only ones SQLite still reads from the events, come through the `at` index (an hour
    # is tens of thousands of events at most): 0002's index of every event but heartbeats would cost each of
    # them an entry for nothing, on top of the half-hour count.
    "DROP INDEX IF EXISTS backlog_events_flow_idx",
    f"""
    INSERT INTO backlog_flow_moves (slot, kind, old_status, new_status, owner, n)
    SELECT {_moves_key("e")}, count(*) FROM backlog_events e WHERE {_MOVES_WHEN.format("e")}
    GROUP BY 1, 2, 3, 4, 5
    """,
]

# Made after the backfill. SQLite's table is itself ordered by time (its key): one tree for a completion to
# write, not a table and an index.
PG_INDEXES = ["CREATE INDEX IF NOT EXISTS backlog_flow_done_at_idx ON backlog_flow_done (at)"]
BOTH = ["DROP INDEX IF EXISTS backlog_events_done_idx"]  # the same spelling on both backends


def upgrade() -> None:
    bind = op.get_bind()
    backend = "postgresql" if bind.dialect.name == "postgresql" else "sqlite"
    pg = backend == "postgresql"
    for statement in [*(PG if pg else SQLITE), _backfill(backend), *(PG_INDEXES if pg else []), *BOTH]:
        bind.exec_driver_sql(statement)
    if backend == "postgresql":
        bind.exec_driver_sql("ANALYZE backlog_flow_done")
