"""Every operation and error of shared/spec/semantics.md, on both backends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from mosaic_tui.db.engine import open_database
from mosaic_tui.errors import Conflict, InvalidInput, NotFound
from mosaic_tui.repository import Backlog, card_json, lease_end


class Clock:
    def __init__(self, start=datetime(2026, 1, 5, 12, 0, tzinfo=UTC)):
        self.now = start

    def __call__(self):
        return self.now

    def advance(self, seconds):
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def bl(db_url, clock):
    b = Backlog(open_database(db_url), clock=clock)
    yield b
    b.close()


def sql(b: Backlog, statement: str, **params):
    """Plain SQL, as another program writing the same table would."""
    b.db.ensure_schema()
    with b.db.engine.begin() as conn:
        return conn.execute(text(statement), params)


def ids(cards):
    return [c.id for c in cards]


# --------------------------------------------------------------------------- create
def test_create_and_get_roundtrip(bl, clock):
    card = bl.create("A4-07", "Wire the claim", body="**md**", phase="M1", priority=3,
                     acceptance={"tests": ["a", "b"], "n": 1}, idempotency_key="k-1")
    got = bl.get("A4-07")
    assert card_json(got) == card_json(card)
    j = card_json(got)
    assert j["status"] == "ready" and j["attempts"] == 0 and j["dependsOn"] == []
    assert j["acceptance"] == {"tests": ["a", "b"], "n": 1}
    assert j["createdAt"] == "2026-01-05T12:00:00+00:00"
    assert set(j) == {"id", "title", "body", "phase", "priority", "status", "dependsOn", "claimOwner",
                      "claimTtlSeconds", "claimedAt", "attempts", "idempotencyKey", "acceptance",
                      "createdAt", "updatedAt"}


@pytest.mark.parametrize("kwargs, message", [
    (dict(id="", title="t"), "card id must not be empty"),
    (dict(id="a\x1bb", title="t"), "control characters"),
    (dict(id="A", title="   "), "title must not be empty"),
    (dict(id="A", title="t", priority="high"), "priority must be an integer"),
    (dict(id="A", title="t", depends_on=["nope"]), "unknown dependency: nope"),
    (dict(id="A", title="t", depends_on=["A"]), "cannot depend on itself"),
])
def test_create_rejects_bad_input_and_writes_nothing(bl, kwargs, message):
    with pytest.raises(InvalidInput, match=message):
        bl.create(**kwargs)
    assert bl.stats()["total"] == 0
    assert bl.events() == []


def test_create_duplicate_id_is_a_conflict(bl):
    bl.create("A", "first")
    with pytest.raises(Conflict, match="already exists"):
        bl.create("A", "second")
    assert bl.get("A").title == "first"


def test_idempotency_key_returns_first_card_unchanged(bl, clock):
    first = bl.create("A", "first", idempotency_key="same")
    clock.advance(5)
    again = bl.create("B", "other title", idempotency_key="same", depends_on=["A"])
    assert card_json(again) == card_json(first)
    assert ids(bl.list()) == ["A"]
    assert [e.kind for e in bl.events()] == ["created"]


# --------------------------------------------------------------------------- list
def test_list_order_and_filters(bl, clock):
    bl.create("low", "low", priority=1, phase="M1")
    clock.advance(1)
    bl.create("high-old", "h", priority=5, phase="M2")
    clock.advance(1)
    bl.create("high-new", "h", priority=5, phase="M1", depends_on=["low"])
    clock.advance(1)
    bl.create("blocked", "b", priority=9)
    bl.block("blocked")
    assert ids(bl.list()) == ["blocked", "high-old", "high-new", "low"]
    assert ids(bl.list(status="ready")) == ["high-old", "high-new", "low"]
    assert ids(bl.list(phase="M1")) == ["high-new", "low"]
    assert ids(bl.list(claimable=True)) == ["high-old", "low"]
    assert ids(bl.list(status="ready", phase="M1", claimable=True)) == ["low"]
    assert ids(bl.list(search="HIGH")) == ["high-old", "high-new"]
    assert ids(bl.list(limit=2, offset=1)) == ["high-old", "high-new"]
    assert bl.count(status="ready") == 3
    with pytest.raises(InvalidInput, match="unknown status"):
        bl.list(status="doing")


def test_get_unknown_is_not_found(bl):
    with pytest.raises(NotFound, match="no card 'X'"):
        bl.get("X")


# --------------------------------------------------------------------------- claim
def test_claim_takes_highest_priority_then_oldest(bl, clock):
    bl.create("a", "a", priority=1)
    clock.advance(1)
    bl.create("b", "b", priority=2)
    clock.advance(1)
    bl.create("c", "c", priority=2)
    card = bl.claim("agent-1", ttl=60)
    assert card.id == "b" and card.status == "claimed" and card.claim_owner == "agent-1"
    assert card.claim_ttl_seconds == 60 and card.claimed_at == clock.now and card.attempts == 1
    assert ids([bl.claim("agent-2"), bl.claim("agent-3")]) == ["c", "a"]
    assert bl.get("a").claim_ttl_seconds == 900  # the default TTL
    assert bl.claim("agent-4") is None


def test_claim_respects_dependencies(bl):
    bl.create("dep", "dep", priority=0)
    bl.create("top", "top", priority=10, depends_on=["dep"])
    assert bl.claim("w").id == "dep"
    assert bl.claim("w") is None  # top waits on dep, which is claimed, not done
    bl.complete("dep", owner="w")
    assert bl.claim("w").id == "top"


def test_claim_by_id(bl):
    bl.create("a", "a", priority=5)
    bl.create("b", "b")
    bl.create("c", "c", depends_on=["a"])
    assert bl.claim("w", id="b").id == "b"
    assert bl.claim("w", id="b") is None  # already claimed
    assert bl.claim("w", id="c") is None  # waiting on a
    with pytest.raises(NotFound):
        bl.claim("w", id="zzz")
    with pytest.raises(InvalidInput, match="ttl must be more than 0"):
        bl.claim("w", ttl=0)
    with pytest.raises(InvalidInput, match="owner must not be empty"):
        bl.claim("")


def test_attempts_count_every_claim(bl):
    bl.create("a", "a")
    bl.claim("w1")
    bl.reclaim("a")
    assert bl.claim("w2").attempts == 2


# --------------------------------------------------------------------------- leases
def test_lease_ends_and_is_reclaimed(bl, clock):
    bl.create("a", "a")
    bl.claim("w1", ttl=30)
    clock.advance(29)
    assert bl.reclaim() == []
    assert bl.stats()["expiredClaimCount"] == 0
    clock.advance(2)
    assert bl.stats()["expiredClaimCount"] == 1
    assert bl.reclaim() == ["a"]
    card = bl.get("a")
    assert card.status == "ready" and card.claim_owner is None and card.claimed_at is None
    assert card.claim_ttl_seconds is None


def test_heartbeat_keeps_the_lease(bl, clock):
    bl.create("a", "a")
    claimed = bl.claim("w1", ttl=30)
    clock.advance(20)
    hb = bl.heartbeat("a", "w1", ttl=30)
    # The lease stays readable as claimed_at + claim_ttl_seconds, now + ttl.
    assert hb.claimed_at == claimed.claimed_at
    assert lease_end(hb) == clock.now + timedelta(seconds=30)
    clock.advance(25)
    assert bl.reclaim() == []
    clock.advance(10)
    assert bl.reclaim() == ["a"]


def test_heartbeat_errors(bl):
    bl.create("a", "a")
    with pytest.raises(Conflict, match="not claimed"):
        bl.heartbeat("a", "w1")
    bl.claim("w1")
    with pytest.raises(Conflict, match="claimed by 'w1', not 'w2'"):
        bl.heartbeat("a", "w2")
    with pytest.raises(NotFound):
        bl.heartbeat("nope", "w1")
    with pytest.raises(InvalidInput, match="ttl"):
        bl.heartbeat("a", "w1", ttl=-5)


def test_stale_owner_cannot_complete_after_reclaim(bl, clock):
    bl.create("a", "a")
    bl.claim("slow", ttl=10)
    clock.advance(11)
    assert bl.claim("fast").id == "a"  # claim reclaims the ended lease first
    with pytest.raises(Conflict, match="claimed by 'fast', not 'slow'"):
        bl.complete("a", owner="slow")
    assert bl.get("a").status == "claimed"
    assert bl.complete("a", owner="fast").status == "done"


def test_reclaim_by_id_releases_whatever_the_lease(bl):
    bl.create("a", "a")
    bl.create("b", "b")
    bl.claim("w", id="a", ttl=3600)
    assert bl.reclaim("a") == ["a"]
    assert bl.get("a").status == "ready"
    with pytest.raises(Conflict, match="not claimed"):
        bl.reclaim("b")
    with pytest.raises(NotFound):
        bl.reclaim("zzz")


def test_release_returns_the_card_back_to_ready(bl):
    bl.create("a", "a")
    bl.create("b", "b")
    bl.claim("w", id="a", ttl=3600)
    before = bl.last_event_id()
    card = bl.release("a")
    assert (card.status, card.claim_owner, card.claim_ttl_seconds, card.claimed_at, card.attempts) == (
        "ready", None, None, None, 1)
    assert card_json(card) == card_json(bl.get("a"))
    assert [e.kind for e in bl.events(since=before)] == ["released"]
    with pytest.raises(Conflict, match=r"not claimed \(it is ready\)"):
        bl.release("b")
    with pytest.raises(NotFound):
        bl.release("zzz")
    with pytest.raises(InvalidInput):
        bl.release(" a")
    assert len(bl.events(since=before)) == 1  # the refusals wrote nothing


def test_release_by_owner_only_while_the_owner_holds_the_claim(bl):
    bl.create("a", "a")
    bl.claim("w1", id="a", ttl=3600)
    before = bl.last_event_id()
    with pytest.raises(Conflict, match="claimed by 'w1', not 'w2'"):
        bl.release("a", owner="w2")
    assert bl.get("a").claim_owner == "w1"
    assert bl.events(since=before) == []  # the refusal wrote nothing
    card = bl.release("a", owner="w1")
    assert (card.status, card.claim_owner) == ("ready", None)
    with pytest.raises(Conflict, match=r"not claimed \(it is ready\)"):
        bl.release("a", owner="w1")
    with pytest.raises(InvalidInput):
        bl.release("a", owner="")


def test_attempts_cap_blocks_a_card_that_keeps_failing(db_url, clock):
    bl = Backlog(open_database(db_url), clock=clock, max_attempts=2)
    bl.create("a", "a")
    for _ in range(2):
        bl.claim("w", ttl=5)
        clock.advance(6)
        bl.reclaim()
    card = bl.get("a")
    assert card.status == "blocked" and card.attempts == 2 and card.claim_owner is None
    assert bl.claim("w") is None
    bl.close()


# --------------------------------------------------------------------------- status changes
def test_block_unblock_complete_reopen(bl):
    bl.create("a", "a")
    bl.claim("w")
    blocked = bl.block("a")
    assert blocked.status == "blocked" and blocked.claim_owner is None and blocked.claimed_at is None
    with pytest.raises(Conflict, match="already blocked"):
        bl.block("a")
    assert bl.claim("w") is None
    assert bl.unblock("a").status == "ready"
    with pytest.raises(Conflict, match="not blocked"):
        bl.unblock("a")
    assert bl.complete("a").status == "done"
    with pytest.raises(Conflict, match="already done"):
        bl.complete("a")
    with pytest.raises(Conflict, match="reopen it"):
        bl.block("a")
    assert bl.reopen("a").status == "ready"
    with pytest.raises(Conflict, match="not done"):
        bl.reopen("a")
    for op in (bl.block, bl.unblock, bl.complete, bl.reopen):
        with pytest.raises(NotFound):
            op("missing")


def test_complete_with_owner_guard(bl):
    bl.create("a", "a")
    with pytest.raises(Conflict, match="not claimed"):
        bl.complete("a", owner="w")
    bl.claim("w")
    with pytest.raises(Conflict, match="not 'x'"):
        bl.complete("a", owner="x")
    done = bl.complete("a", owner="w")
    assert done.status == "done" and done.claim_owner is None and done.claim_ttl_seconds is None


def test_edit_detects_a_concurrent_change(bl, clock):
    card = bl.create("a", "a")
    clock.advance(1)
    bl.edit("a", title="renamed", priority=4, phase="M2", body="b")
    with pytest.raises(Conflict, match="changed by someone else"):
        bl.edit("a", title="stale", expected_updated_at=card.updated_at)
    got = bl.get("a")
    assert (got.title, got.priority, got.phase, got.body) == ("renamed", 4, "M2", "b")
    with pytest.raises(InvalidInput):
        bl.edit("a", title="")


# --------------------------------------------------------------------------- links
def test_link_unlink_and_cycles(bl):
    for i in "abcd":
        bl.create(i, i)
    assert bl.link("a", "b").depends_on == ["b"]
    assert bl.link("a", "b").depends_on == ["b"]  # twice: a no-op
    bl.link("b", "c")
    with pytest.raises(Conflict, match="cycle"):
        bl.link("c", "a")
    with pytest.raises(InvalidInput, match="itself"):
        bl.link("d", "d")
    with pytest.raises(NotFound):
        bl.link("a", "zzz")
    with pytest.raises(NotFound):
        bl.link("zzz", "a")
    assert ids(bl.list(claimable=True)) == ["c", "d"]
    assert bl.unlink("b", "c").depends_on == []
    assert "b" in ids(bl.list(claimable=True))
    with pytest.raises(NotFound, match="does not depend"):
        bl.unlink("b", "c")
    bl.link("c", "a")  # no longer a cycle
    cards, edges = bl.graph("a")
    assert set(cards) == {"a", "b", "c"} and set(edges) == {("a", "b"), ("c", "a")}


def test_link_to_an_unfinished_card_makes_it_wait(bl):
    bl.create("a", "a")
    bl.create("b", "b")
    bl.link("a", "b")
    assert ids(bl.list(claimable=True)) == ["b"]
    bl.complete("b")
    assert ids(bl.list(claimable=True)) == ["a"]
    bl.reopen("b")
    assert ids(bl.list(claimable=True)) == ["b"]


# --------------------------------------------------------------------------- stats
def test_stats(bl, clock):
    bl.create("a", "a")
    clock.advance(100)
    bl.create("b", "b", depends_on=["a"])
    bl.create("c", "c")
    bl.create("d", "d")
    bl.block("d")
    bl.claim("w", id="c", ttl=10)
    clock.advance(50)
    s = bl.stats()
    assert s["counts"] == {"ready": 2, "claimed": 1, "blocked": 1, "done": 0}
    assert s["total"] == 4 and s["claimable"] == 1
    assert s["oldestReadyAgeSeconds"] == 150
    assert s["expiredClaimCount"] == 1


def test_stats_of_an_empty_backlog(bl):
    s = bl.stats()
    assert s["total"] == 0 and s["oldestReadyAgeSeconds"] is None and s["claimable"] == 0


# --------------------------------------------------------------------------- other programs
def test_plain_sql_writes_are_seen(bl):
    """Another program writes the table with plain SQL that knows nothing of our additions."""
    bl.create("dep", "dep")
    bl.create("top", "top", priority=10, depends_on=["dep"])
    sql(bl, "UPDATE backlog SET status = 'done' WHERE id = 'dep'")
    assert bl.claim("w").id == "top"
    sql(bl, "INSERT INTO backlog (id, title, depends_on) VALUES ('ext', 'external', '[\"top\"]')")
    assert bl.get("ext").unmet_deps == 1
    assert ids(bl.list(claimable=True)) == []
    sql(bl, "UPDATE backlog SET status = 'done', claim_owner = NULL WHERE id = 'top'")
    assert ids(bl.list(claimable=True)) == ["ext"]
    sql(bl, "DELETE FROM backlog WHERE id = 'top'")
    assert ids(bl.list(claimable=True)) == []  # a dependency that no longer exists is unmet
    kinds = [(e.card_id, e.kind) for e in bl.events()]
    assert ("dep", "completed") in kinds and ("ext", "created") in kinds and ("top", "deleted") in kinds


def test_dependency_inserted_after_its_dependent(bl):
    sql(bl, "INSERT INTO backlog (id, title, depends_on) VALUES ('later', 'l', '[\"first\"]')")
    assert bl.get("later").unmet_deps == 1
    sql(bl, "INSERT INTO backlog (id, title, status) VALUES ('first', 'f', 'done')")
    assert ids(bl.list(claimable=True)) == ["later"]


def test_every_change_leaves_an_event(bl, clock):
    bl.create("a", "a")
    bl.create("b", "b")
    bl.claim("w", id="a")
    clock.advance(60)
    bl.heartbeat("a", "w")
    bl.reclaim("a")
    bl.block("a")
    bl.unblock("a")
    bl.complete("a")
    bl.reopen("a")
    bl.link("a", "b")
    bl.unlink("a", "b")
    bl.edit("a", title="new")
    kinds = [e.kind for e in bl.events(card="a")]
    assert kinds == ["created", "claimed", "heartbeat", "released", "blocked", "unblocked",
                     "completed", "reopened", "linked", "unlinked", "edited"]
    evs = bl.events(card="a")
    assert [e.id for e in evs] == sorted(e.id for e in evs)
    claimed = evs[1]
    assert (claimed.old_status, claimed.new_status, claimed.owner) == ("ready", "claimed", "w")


def test_the_backlogs_clock_is_the_now_of_every_read(db_url):
    """One clock: the operations, stats, flow, the agents view, needs-attention, an export and the board read
    ``Backlog.now()``. The clock stands 10 minutes ahead of the wall clock (events are stamped by the
    database), so any of them reading the wall clock instead gives other figures."""
    from mosaic_tui.repository import transfer
    from mosaic_tui.repository.watch.activity import needs_attention
    from mosaic_tui.repository.watch.fleet import agent_json, agents
    from mosaic_tui.repository.watch.flow import flow

    clock = Clock(datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=10))
    b = Backlog(open_database(db_url), clock=clock)
    b.create("a", "A")
    b.claim("ann", ttl=100)
    clock.advance(120)  # the lease ended 20 s ago by the backlog's clock; by the wall clock it has 700 s left
    t = clock.now
    assert b.now() == t and b.stats()["expiredClaimCount"] == 1
    assert flow(b, "1h").end == t
    (ann,) = agents(b)
    assert agent_json(ann, b.now())["leaseLeftSeconds"] == -20 and ann.stale(b.now())
    assert needs_attention(b).stale == 1
    assert next(transfer.export_lines(b)).count(f'"exportedAt": "{t.isoformat()}"') == 1
    from mosaic_tui.board import make_app

    assert make_app(b).clock() == t  # the board's countdowns too, unless it is given a clock of its own
    naive = Backlog(b.db, clock=lambda: t.replace(tzinfo=None))  # a naive clock reads as UTC
    assert naive.now() == t
    b.close()
