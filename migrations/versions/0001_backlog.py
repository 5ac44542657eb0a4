"""The backlog table (adopted if the fleet made it), dependency edges, unmet counts, events.

Revision ID: 0001
Revises:
Create Date: 2026-11-23

Postgres: the ``backlog`` table and ``backlog_status`` type are created exactly
as in shared/spec/mosaic-backlog.sql when they do not exist, and adopted
untouched when they do. Everything else is an addition that other programs'
plain INSERT/UPDATE statements keep correct, because triggers maintain it:

* ``backlog.unmet_deps`` -- how many of ``depends_on`` are not ``done``; the
  claim's partial index covers only ``status='ready' AND unmet_deps=0``.
* ``backlog_deps`` -- one row per dependency edge, so dependents, the graph and
  cycle checks are index lookups.
* ``backlog_events`` -- one row per change, with NOTIFY ``mosaic_backlog``.
"""

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# --------------------------------------------------------------------------- postgres
PG = [
    """
    DO $$ BEGIN
      IF NOT EXISTS (SELECT 1 FROM pg_type WHERE typname = 'backlog_status') THEN
        CREATE TYPE backlog_status AS ENUM ('ready', 'claimed', 'blocked', 'done');
      END IF;
    END $$
    """,
    """
    CREATE TABLE IF NOT EXISTS backlog (
      id                text PRIMARY KEY NOT NULL,
      title             text NOT NULL,
      body              text,
      phase             text,
      priority          integer DEFAULT 0 NOT NULL,
      status            backlog_status DEFAULT 'ready' NOT NULL,
      depends_on        jsonb DEFAULT '[]'::jsonb NOT NULL,
      claim_owner       text,
      claim_ttl_seconds integer,
      claimed_at        timestamp with time zone,
      attempts          integer DEFAULT 0 NOT NULL,
      idempotency_key   text UNIQUE,
      acceptance        jsonb,
      created_at        timestamp with time zone DEFAULT now() NOT NULL,
      updated_at        timestamp with time zone DEFAULT now() NOT NULL
    )
    """,
    "ALTER TABLE backlog ADD COLUMN IF NOT EXISTS unmet_deps integer DEFAULT 0 NOT NULL",
    """
    CREATE TABLE IF NOT EXISTS backlog_deps (
      card_id text NOT NULL,
      dep_id  text NOT NULL,
      PRIMARY KEY (card_id, dep_id)
    )
    """,
    "CREATE INDEX IF NOT EXISTS backlog_deps_dep_idx ON backlog_deps (dep_id)",
    """
    CREATE TABLE IF NOT EXISTS backlog_events (
      id         bigserial PRIMARY KEY,
      card_id    text NOT NULL,
      kind       text NOT NULL,
      old_status text,
      new_status text,
      owner      text,
      at         timestamp with time zone DEFAULT clock_timestamp() NOT NULL
    )
    """,
    "CREATE INDEX IF NOT EXISTS backlog_events_card_idx ON backlog_events (card_id, id)",
    "CREATE INDEX IF NOT EXISTS backlog_events_at_idx ON backlog_events (at)",
    # depends_on as a set of ids, whatever other programs wrote into it.
    """
    CREATE OR REPLACE FUNCTION mosaic_dep_ids(deps jsonb) RETURNS SETOF text
    LANGUAGE sql IMMUTABLE AS $$
      SELECT DISTINCT x FROM jsonb_array_elements_text(
        CASE WHEN jsonb_typeof(deps) = 'array' THEN deps ELSE '[]'::jsonb END) AS x
    $$
    """,
    # Backfill the additions for rows that already exist (adopting a fleet's table).
    "INSERT INTO backlog_deps (card_id, dep_id) SELECT b.id, d FROM backlog b, mosaic_dep_ids(b.depends_on) d ON CONFLICT DO NOTHING",
    """
    UPDATE backlog b SET unmet_deps = s.n FROM (
      SELECT e.card_id, count(*) AS n FROM backlog_deps e LEFT JOIN backlog d ON d.id = e.dep_id
      WHERE d.status IS DISTINCT FROM 'done' GROUP BY e.card_id) s
    WHERE b.id = s.card_id AND b.unmet_deps <> s.n
    """,
    # Both trigger functions only ever look rows up by key. They run with
    # enable_seqscan off so that a plan cached while the table was small (a bulk
    # load in one transaction) never turns each lookup into a table scan.
    #
    # BEFORE: compute unmet_deps of a row whose dependencies are set. The
    # dependencies are share-locked first, so a concurrent completion of one of
    # them either commits before (and is counted) or waits for us (and then
    # finds our edge and decrements).
    """
    CREATE OR REPLACE FUNCTION mosaic_backlog_before() RETURNS trigger
    LANGUAGE plpgsql SET enable_seqscan = off AS $$
    BEGIN
      IF NEW.depends_on = '[]'::jsonb THEN
        NEW.unmet_deps := 0;
      ELSIF TG_OP = 'INSERT' OR NEW.depends_on IS DISTINCT FROM OLD.depends_on THEN
        PERFORM 1 FROM backlog WHERE id = ANY (ARRAY(SELECT mosaic_dep_ids(NEW.depends_on))) AND id <> NEW.id FOR SHARE;
        -- A key lookup per dependency (a correlated subquery, never a join over done cards).
        NEW.unmet_deps := (SELECT count(*) FROM mosaic_dep_ids(NEW.depends_on) d
                           WHERE (SELECT b.status FROM backlog b WHERE b.id = d) IS DISTINCT FROM 'done');
      END IF;
      RETURN NEW;
    END $$
    """,
    # AFTER: keep edges, dependents' counts and the event history.
    """
    CREATE OR REPLACE FUNCTION mosaic_backlog_after() RETURNS trigger
    LANGUAGE plpgsql SET enable_seqscan = off AS $$
    DECLARE
      old_done boolean := TG_OP <> 'INSERT' AND OLD.status = 'done';
      new_done boolean := TG_OP <> 'DELETE' AND NEW.status = 'done';
      kind text;
      event_id bigint;
    BEGIN
      IF TG_OP = 'UPDATE' AND NEW.id = OLD.id THEN
        IF NEW.depends_on IS DISTINCT FROM OLD.depends_on THEN
          DELETE FROM backlog_deps WHERE card_id = NEW.id AND dep_id NOT IN (SELECT mosaic_dep_ids(NEW.depends_on));
          INSERT INTO backlog_deps (card_id, dep_id) SELECT NEW.id, d FROM mosaic_dep_ids(NEW.depends_on) d ON CONFLICT DO NOTHING;
        END IF;
        IF old_done <> new_done THEN
          UPDATE backlog SET unmet_deps = unmet_deps + CASE WHEN new_done THEN -1 ELSE 1 END
          WHERE id = ANY (ARRAY(SELECT card_id FROM backlog_deps WHERE dep_id = NEW.id));
        END IF;
      ELSE
        IF TG_OP <> 'INSERT' THEN
          DELETE FROM backlog_deps WHERE card_id = OLD.id;
          IF old_done THEN
            UPDATE backlog SET unmet_deps = unmet_deps + 1 WHERE id = ANY (ARRAY(SELECT card_id FROM backlog_deps WHERE dep_id = OLD.id));
          END IF;
        END IF;
        IF TG_OP <> 'DELETE' THEN
          INSERT INTO backlog_deps (card_id, dep_id) SELECT NEW.id, d FROM mosaic_dep_ids(NEW.depends_on) d ON CONFLICT DO NOTHING;
          IF new_done THEN
            UPDATE backlog SET unmet_deps = unmet_deps - 1 WHERE id = ANY (ARRAY(SELECT card_id FROM backlog_deps WHERE dep_id = NEW.id));
          END IF;
        END IF;
      END IF;

      IF TG_OP = 'INSERT' THEN
        kind := 'created';
      ELSIF TG_OP = 'DELETE' THEN
        kind := 'deleted';
      ELSIF NEW.status IS DISTINCT FROM OLD.status THEN
        kind := CASE NEW.status
          WHEN 'claimed' THEN 'claimed' WHEN 'done' THEN 'completed' WHEN 'blocked' THEN 'blocked'
          ELSE CASE OLD.status WHEN 'claimed' THEN 'released' WHEN 'blocked' THEN 'unblocked' ELSE 'reopened' END
        END;
      ELSIF NEW.status = 'claimed' AND NEW.claim_owner IS DISTINCT FROM OLD.claim_owner THEN
        kind := 'claimed';
      ELSIF NEW.status = 'claimed' AND (NEW.claimed_at IS DISTINCT FROM OLD.claimed_at
                                        OR NEW.claim_ttl_seconds IS DISTINCT FROM OLD.claim_ttl_seconds) THEN
        kind := 'heartbeat';
      ELSIF NEW.depends_on IS DISTINCT FROM OLD.depends_on THEN
        kind := CASE
          WHEN (SELECT count(*) FROM mosaic_dep_ids(NEW.depends_on)) > (SELECT count(*) FROM mosaic_dep_ids(OLD.depends_on)) THEN 'linked'
          WHEN (SELECT count(*) FROM mosaic_dep_ids(NEW.depends_on)) < (SELECT count(*) FROM mosaic_dep_ids(OLD.depends_on)) THEN 'unlinked'
          ELSE 'edited' END;
      ELSIF (NEW.title, NEW.body, NEW.phase, NEW.priority, NEW.acceptance, NEW.idempotency_key, NEW.id)
            IS DISTINCT FROM (OLD.title, OLD.body, OLD.phase, OLD.priority, OLD.acceptance, OLD.idempotency_key, OLD.id) THEN
        kind := 'edited';
      END IF;

      IF kind IS NOT NULL THEN
        INSERT INTO backlog_events (card_id, kind, old_status, new_status, owner)
        VALUES (CASE WHEN TG_OP = 'DELETE' THEN OLD.id ELSE NEW.id END, kind,
                CASE WHEN TG_OP = 'INSERT' THEN NULL ELSE OLD.status::text END,
                CASE WHEN TG_OP = 'DELETE' THEN NULL ELSE NEW.status::text END,
                CASE WHEN TG_OP = 'DELETE' THEN OLD.claim_owner
                     WHEN TG_OP = 'INSERT' THEN NEW.claim_owner
                     ELSE COALESCE(NEW.claim_owner, OLD.claim_owner) END)
        RETURNING id INTO event_id;
        PERFORM pg_notify('mosaic_backlog', event_id::text);
      END IF;
      RETURN NULL;
    END $$
    """,
    "DROP TRIGGER IF EXISTS mosaic_backlog_before ON backlog",
    """
    CREATE TRIGGER mosaic_backlog_before BEFORE INSERT OR UPDATE OF depends_on ON backlog
    FOR EACH ROW EXECUTE FUNCTION mosaic_backlog_before()
    """,
    "DROP TRIGGER IF EXISTS mosaic_backlog_after ON backlog",
    """
    CREATE TRIGGER mosaic_backlog_after AFTER INSERT OR DELETE OR UPDATE OF
      id, title, body, phase, priority, status, depends_on, claim_owner, claim_ttl_seconds,
      claimed_at, idempotency_key, acceptance
    ON backlog FOR EACH ROW EXECUTE FUNCTION mosaic_backlog_after()
    """,
    # The claim reads the head of this index and nothing else. (status, unmet_deps lead
    # so that SQLite's planner, which does not weigh partial indexes, prefers it to the
    # per-status index; on Postgres they cost a few bytes per claimable card.)
    """
    CREATE INDEX IF NOT EXISTS backlog_claimable_idx ON backlog (status, unmet_deps, priority DESC, created_at, id)
    WHERE status = 'ready' AND unmet_deps = 0
    """,
    "CREATE INDEX IF NOT EXISTS backlog_status_order_idx ON backlog (status, priority DESC, created_at, id)",
    "CREATE INDEX IF NOT EXISTS backlog_claimed_idx ON backlog (claimed_at) WHERE status = 'claimed'",
]

# --------------------------------------------------------------------------- sqlite
_SQLITE_DEP_IDS = (
    "SELECT DISTINCT j.value FROM json_each(CASE WHEN json_valid({0}) AND json_type({0}) = 'array' "
    "THEN {0} ELSE '[]' END) j"
)
_NOW = "strftime('%Y-%m-%d %H:%M:%f', 'now')"


def _sqlite_event(card: str, kind: str, old: str, new: str, owner: str) -> str:
    return (
        "INSERT INTO backlog_events (card_id, kind, old_status, new_status, owner, at) "
        f"VALUES ({card}, {kind}, {old}, {new}, {owner}, {_NOW});"
    )


_KIND = """CASE
  WHEN NEW.status IS NOT OLD.status THEN CASE NEW.status
      WHEN 'claimed' THEN 'claimed' WHEN 'done' THEN 'completed' WHEN 'blocked' THEN 'blocked'
      ELSE CASE OLD.status WHEN 'claimed' THEN 'released' WHEN 'blocked' THEN 'unblocked' ELSE 'reopened' END END
  WHEN NEW.status = 'claimed' AND NEW.claim_owner IS NOT OLD.claim_owner THEN 'claimed'
  WHEN NEW.status = 'claimed' AND (NEW.claimed_at IS NOT OLD.claimed_at OR NEW.claim_ttl_seconds IS NOT OLD.claim_ttl_seconds) THEN 'heartbeat'
  WHEN NEW.depends_on IS NOT OLD.depends_on THEN CASE
      WHEN (SELECT count(*) FROM ({new_deps})) > (SELECT count(*) FROM ({old_deps})) THEN 'linked'
      WHEN (SELECT count(*) FROM ({new_deps})) < (SELECT count(*) FROM ({old_deps})) THEN 'unlinked'
      ELSE 'edited' END
  WHEN NEW.title IS NOT OLD.title OR NEW.body IS NOT OLD.body OR NEW.phase IS NOT OLD.phase
       OR NEW.priority IS NOT OLD.priority OR NEW.acceptance IS NOT OLD.acceptance
       OR NEW.idempotency_key IS NOT OLD.idempotency_key OR NEW.id IS NOT OLD.id THEN 'edited'
END""".format(new_deps=_SQLITE_DEP_IDS.format("NEW.depends_on"), old_deps=_SQLITE_DEP_IDS.format("OLD.depends_on"))

_UNMET_OF = (
    "(SELECT count(*) FROM backlog_deps e WHERE e.card_id = {0} "
    "AND NOT EXISTS (SELECT 1 FROM backlog d WHERE d.id = e.dep_id AND d.status = 'done'))"
)

SQLITE = [
    """
    CREATE TABLE IF NOT EXISTS backlog (
      id                TEXT PRIMARY KEY NOT NULL,
      title             TEXT NOT NULL,
      body              TEXT,
      phase             TEXT,
      priority          INTEGER DEFAULT 0 NOT NULL,
      status            TEXT DEFAULT 'ready' NOT NULL CHECK (status IN ('ready', 'claimed', 'blocked', 'done')),
      depends_on        TEXT DEFAULT '[]' NOT NULL,
      claim_owner       TEXT,
      claim_ttl_seconds INTEGER,
      claimed_at        TEXT,
      attempts          INTEGER DEFAULT 0 NOT NULL,
      idempotency_key   TEXT UNIQUE,
      acceptance        TEXT,
      created_at        TEXT DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')) NOT NULL,
      updated_at        TEXT DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')) NOT NULL,
      unmet_deps        INTEGER DEFAULT 0 NOT NULL
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS backlog_deps (
      card_id TEXT NOT NULL,
      dep_id  TEXT NOT NULL,
      PRIMARY KEY (card_id, dep_id)
    ) WITHOUT ROWID
    """,
    "CREATE INDEX IF NOT EXISTS backlog_deps_dep_idx ON backlog_deps (dep_id)",
    """
    CREATE TABLE IF NOT EXISTS backlog_events (
      id         INTEGER PRIMARY KEY AUTOINCREMENT,
      card_id    TEXT NOT NULL,
      kind       TEXT NOT NULL,
      old_status TEXT,
      new_status TEXT,
      owner      TEXT,
      at         TEXT NOT NULL
    )
    """,
    "CREATE INDEX IF NOT EXISTS backlog_events_card_idx ON backlog_events (card_id, id)",
    "CREATE INDEX IF NOT EXISTS backlog_events_at_idx ON backlog_events (at)",
    f"""
    CREATE TRIGGER IF NOT EXISTS mosaic_backlog_ai AFTER INSERT ON backlog BEGIN
      INSERT OR IGNORE INTO backlog_deps (card_id, dep_id) SELECT NEW.id, value FROM ({_SQLITE_DEP_IDS.format("NEW.depends_on")});
      UPDATE backlog SET unmet_deps = {_UNMET_OF.format("NEW.id")} WHERE id = NEW.id;
      UPDATE backlog SET unmet_deps = unmet_deps - 1
        WHERE NEW.status = 'done' AND id IN (SELECT card_id FROM backlog_deps WHERE dep_id = NEW.id);
      {_sqlite_event("NEW.id", "'created'", "NULL", "NEW.status", "NEW.claim_owner")}
    END
    """,
    f"""
    CREATE TRIGGER IF NOT EXISTS mosaic_backlog_ad AFTER DELETE ON backlog BEGIN
      DELETE FROM backlog_deps WHERE card_id = OLD.id;
      UPDATE backlog SET unmet_deps = unmet_deps + 1
        WHERE OLD.status = 'done' AND id IN (SELECT card_id FROM backlog_deps WHERE dep_id = OLD.id);
      {_sqlite_event("OLD.id", "'deleted'", "OLD.status", "NULL", "OLD.claim_owner")}
    END
    """,
    f"""
    CREATE TRIGGER IF NOT EXISTS mosaic_backlog_au_deps AFTER UPDATE OF depends_on, id ON backlog BEGIN
      DELETE FROM backlog_deps WHERE card_id = OLD.id;
      INSERT OR IGNORE INTO backlog_deps (card_id, dep_id) SELECT NEW.id, value FROM ({_SQLITE_DEP_IDS.format("NEW.depends_on")});
      UPDATE backlog SET unmet_deps = {_UNMET_OF.format("NEW.id")} WHERE id = NEW.id;
    END
    """,
    """
    CREATE TRIGGER IF NOT EXISTS mosaic_backlog_au_done AFTER UPDATE OF status, id ON backlog
    WHEN (OLD.status = 'done') IS NOT (NEW.status = 'done') OR OLD.id IS NOT NEW.id BEGIN
      UPDATE backlog SET unmet_deps = unmet_deps + 1
        WHERE OLD.status = 'done' AND id IN (SELECT card_id FROM backlog_deps WHERE dep_id = OLD.id);
      UPDATE backlog SET unmet_deps = unmet_deps - 1
        WHERE NEW.status = 'done' AND id IN (SELECT card_id FROM backlog_deps WHERE dep_id = NEW.id);
    END
    """,
    f"""
    CREATE TRIGGER IF NOT EXISTS mosaic_backlog_au_event AFTER UPDATE ON backlog
    WHEN ({_KIND}) IS NOT NULL BEGIN
      {_sqlite_event("NEW.id", _KIND, "OLD.status", "NEW.status", "COALESCE(NEW.claim_owner, OLD.claim_owner)")}
    END
    """,
    """
    CREATE INDEX IF NOT EXISTS backlog_claimable_idx ON backlog (status, unmet_deps, priority DESC, created_at, id)
    WHERE status = 'ready' AND unmet_deps = 0
    """,
    "CREATE INDEX IF NOT EXISTS backlog_status_order_idx ON backlog (status, priority DESC, created_at, id)",
    "CREATE INDEX IF NOT EXISTS backlog_claimed_idx ON backlog (claimed_at) WHERE status = 'claimed'",
]


def upgrade() -> None:
    bind = op.get_bind()
    for statement in PG if bind.dialect.name == "postgresql" else SQLITE:
        bind.exec_driver_sql(statement)
