"""The hot path's prepared statements, create()'s unmet_deps, and graph walks without planner statistics."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from conftest import new_pg_database
from sqlalchemy import bindparam, select, update

from mosaic_tui.db.models import Card, build
from mosaic_tui.db.prepared import Prepared
from mosaic_tui.errors import Conflict, NotFound
from mosaic_tui.repository import B, Backlog, card_json


def test_create_returns_the_true_unmet_count(repo):
    repo.create("A", "a")
    repo.create("B", "b")
    repo.complete("B")
    card = repo.create("C", "c", depends_on=["A", "B"])
    assert card.unmet_deps == 1 == repo.get("C").unmet_deps
    assert repo.create("D", "d", depends_on=["B"]).unmet_deps == 0
    assert repo.create("E", "e").unmet_deps == 0


def test_hot_operations_return_what_a_fresh_read_returns(repo):
    """Rows decoded by hand (timestamps, JSON, ints) equal the ones SQLAlchemy decodes."""
    repo.create("A", "first", body="b", phase="P", priority=5, acceptance={"k": [1, "x", None]})
    repo.create("B", "second", depends_on=["A"])
    got = repo.claim("w1", ttl=60)
    assert got.id == "A" and got.claimed_at.tzinfo is not None and got.claimed_at.utcoffset() == timedelta(0)
    assert card_json(got) == card_json(repo.get("A")) and got == repo.get("A")
    beat = repo.heartbeat("A", "w1", ttl=120)
    assert beat == repo.get("A") and beat.claim_ttl_seconds >= 120
    done = repo.complete("A", owner="w1")
    assert done == repo.get("A") and (done.status, done.claim_owner, done.claimed_at) == ("done", None, None)
    assert repo.get("B").unmet_deps == 0
    reopened = repo.reopen("A")
    assert reopened == repo.get("A") and reopened.status == "ready"
    assert repo.get("B").unmet_deps == 1
    blocked = repo.block("B")
    assert blocked == repo.get("B") and blocked.depends_on == ["A"]


def test_refusals_on_the_hot_path_write_nothing(repo):
    repo.create("A", "a")
    repo.claim("w1", ttl=60, id="A")
    before = repo.last_event_id()
    with pytest.raises(Conflict, match="claimed by 'w1', not 'w2'"):
        repo.complete("A", owner="w2")
    with pytest.raises(Conflict, match="claimed by 'w1', not 'w2'"):
        repo.heartbeat("A", "w2")
    with pytest.raises(NotFound):
        repo.claim("w1", id="nope")
    with pytest.raises(NotFound):
        repo.block("nope")
    assert repo.claim("w2", ttl=60, id="A") is None
    assert repo.last_event_id() == before and repo.get("A").claim_owner == "w1"


def test_a_claim_reclaims_ended_leases_in_its_transaction(db_url):
    clock = {"now": datetime(2026, 1, 1, 12, 0, tzinfo=UTC)}
    repo = Backlog.open(db_url, clock=lambda: clock["now"], max_attempts=2)
    try:
        repo.create("A", "a", priority=1)
        repo.create("B", "b")
        assert repo.claim("w1", ttl=10).id == "A"
        clock["now"] += timedelta(seconds=11)
        assert repo.claim("w2", ttl=10).id == "A"  # w1's lease ended: A back to ready, claimed again
        clock["now"] += timedelta(seconds=11)
        assert repo.claim("w3", ttl=10).id == "B"  # A ended its second lease: blocked under the cap
        assert repo.get("A").status == "blocked"
    finally:
        repo.close()


def test_prepared_statements_bind_every_value_and_refuse_in_lists(repo):
    stmt = Prepared(update(B).where(B.c.id == bindparam("card_id")).values(title=bindparam("t")).returning(B.c.id))
    sql = stmt.compiled(repo.db.dialect).sql
    assert "card_id" not in sql or "%(card_id)s" in sql  # a placeholder, never a value
    with pytest.raises(ValueError, match="expanding"):
        Prepared(select(B).where(B.c.id.in_(["a", "b"]))).compiled(repo.db.dialect)


def test_build_makes_what_the_constructor_makes():
    now = datetime(2026, 1, 1, tzinfo=UTC)
    values = dict(id="A", title="t", body=None, phase=None, priority=1, status="ready", depends_on=["x"],
                  claim_owner=None, claim_ttl_seconds=None, claimed_at=None, attempts=0, idempotency_key=None,
                  acceptance={"a": 1}, created_at=now, updated_at=now, unmet_deps=1)
    fast, slow = build(Card, dict(values)), Card(**values)
    assert fast == slow and repr(fast) == repr(slow) and fast.model_dump() == slow.model_dump()
    fast.title = "changed"
    assert fast.title == "changed" != slow.title


# --------------------------------------------------------------------------- Postgres without statistics
@pytest.fixture
def unanalyzed_pg_url(pg_server):
    """A brand-new Postgres database whose tables are never analysed (autovacuum off for them)."""
    with new_pg_database("mosaic_nostats") as url:
        yield url


CHAIN = 10_000


def test_pg_cycle_check_on_a_deep_chain_loaded_in_bulk_before_any_analyze(unanalyzed_pg_url):
    import psycopg

    repo = Backlog.open(unanalyzed_pg_url)
    repo.db.ensure_schema()
    with psycopg.connect(unanalyzed_pg_url) as conn:
        for table in ("backlog", "backlog_deps"):
            conn.execute(f"ALTER TABLE {table} SET (autovacuum_enabled = false)")  # constant names
        # C00000 <- C00001 <- ... <- C09999: each card depends on the one before (by bulk SQL, like an import).
        conn.execute(
            "INSERT INTO backlog (id, title, depends_on, created_at, updated_at) "
            "SELECT 'C' || lpad(i::text, 5, '0'), 'card ' || i, "
            "CASE WHEN i = 0 THEN '[]'::jsonb ELSE jsonb_build_array('C' || lpad((i - 1)::text, 5, '0')) END, "
            "now(), now() FROM generate_series(0, %s) AS i",
            (CHAIN - 1,),
        )
        conn.commit()
        never_analyzed = conn.execute(
            "SELECT count(*) FROM pg_stat_user_tables WHERE relname IN ('backlog', 'backlog_deps') "
            "AND last_analyze IS NULL AND last_autoanalyze IS NULL"
        ).fetchone()[0]
        assert never_analyzed == 2
        assert conn.execute("SELECT count(*) FROM backlog_deps").fetchone()[0] == CHAIN - 1
    try:
        t0 = time.monotonic()
        with pytest.raises(Conflict, match="cycle"):
            repo.link("C00000", f"C{CHAIN - 1:05d}")  # the last card already depends on the first, 9,999 steps away
        cards, edges = repo.graph("C05000")
        elapsed = time.monotonic() - t0
        print(f"link refused + graph: {elapsed:.2f} s")
        assert len(cards) == CHAIN and len(edges) == CHAIN - 1
        assert repo.get("C00000").depends_on == []
        assert elapsed < 10, f"cycle check and graph took {elapsed:.1f} s on a {CHAIN}-deep chain"
    finally:
        repo.close()
