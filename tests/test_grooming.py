"""Grooming on both backends: bulk actions, reorder, delete, the document edit, undo / redo."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from mosaic_tui.db.engine import open_database
from mosaic_tui.errors import Conflict, InvalidInput, NotFound
from mosaic_tui.repository import Backlog, History, serialize_card


class Clock:
    def __init__(self):
        self.now = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)

    def __call__(self):
        self.now += timedelta(seconds=1)  # every card a second younger than the one before
        return self.now


@pytest.fixture
def bl(db_url):
    b = Backlog(open_database(db_url), clock=Clock())
    yield b
    b.close()


def sql(b: Backlog, statement: str, **params):
    """Plain SQL, as the fleet's own service writing the same table would."""
    b.db.ensure_schema()
    with b.db.engine.begin() as conn:
        return conn.execute(text(statement), params)


def state(b: Backlog) -> dict[str, tuple]:
    return {c.id: (c.status, c.claim_owner, c.priority, c.phase, tuple(c.depends_on)) for c in b.list()}


def order(b: Backlog, status: str = "ready") -> list[str]:
    return [c.id for c in b.list(status=status)]


def kinds(b: Backlog, card: str) -> list[str]:
    return [e.kind for e in b.events(card=card)]


# --------------------------------------------------------------------------- bulk status changes
def test_bulk_block_refuses_by_the_single_rules_and_changes_the_rest_only(bl):
    for i in range(5):
        bl.create(f"c{i}", f"card {i}")
    bl.complete("c1")
    bl.block("c2")
    bl.claim("agent-3", id="c3")
    before = state(bl)
    r = bl.bulk("block", ["c0", "c1", "c2", "c3", "nope", "c0"])
    assert r.done == ["c0", "c3"]
    assert r.refused == {"c1": "c1 is done", "c2": "c2 is already blocked", "nope": "nope does not exist"}
    after = state(bl)
    assert after["c0"][:2] == ("blocked", None) and after["c3"][:2] == ("blocked", None)  # claim cleared
    assert {k: v for k, v in after.items() if k not in {"c0", "c3"}} == {k: v for k, v in before.items() if k not in {"c0", "c3"}}
    assert r.summary() == "blocked 2 cards; 3 refused: c1 is done, c2 is already blocked, nope does not exist"
    assert r.json() == {"action": "block", "done": ["c0", "c3"], "refused": r.refused}


@pytest.mark.parametrize("action,start,end,refusal", [
    ("unblock", "blocked", "ready", "x is not blocked (it is ready)"),
    ("complete", "ready", "done", "x is already done"),
    ("reopen", "done", "ready", "x is not done (it is ready)"),
    ("release", "claimed", "ready", "x is not claimed (it is ready)"),
])
def test_each_bulk_action_follows_its_rule(bl, action, start, end, refusal):
    bl.create("x", "X")
    bl.create("y", "Y")
    if action == "complete":
        bl.complete("y")
        refusal = "y is already done"
    if start == "blocked":
        bl.block("y")
    elif start == "done":
        bl.complete("y")
    elif start == "claimed":
        bl.claim("w", id="y")
    r = bl.bulk(action, ["x", "y"] if action != "complete" else ["y", "x"])
    if action == "complete":
        assert r.done == ["x"] and r.refused == {"y": refusal} and bl.get("x").status == "done"
    else:
        assert r.done == ["y"] and r.refused == {"x": refusal} and bl.get("y").status == end


def test_bulk_complete_with_owner_needs_that_owners_claim(bl):
    for i in range(3):
        bl.create(f"c{i}", "t")
    bl.claim("w1", id="c0")
    bl.claim("w2", id="c1")
    r = bl.bulk("complete", ["c0", "c1", "c2"], owner="w1")
    assert r.done == ["c0"]
    assert r.refused == {"c1": "c1 is claimed by w2, not w1", "c2": "c2 is not claimed by w1 (it is ready)"}
    assert [bl.get(i).status for i in ("c0", "c1", "c2")] == ["done", "claimed", "ready"]


def test_bulk_input_errors_write_nothing(bl):
    bl.create("a", "A")
    with pytest.raises(InvalidInput):
        bl.bulk("block", [])
    with pytest.raises(InvalidInput):
        bl.bulk("block", ["a", "bad\x1bid"])
    with pytest.raises(InvalidInput, match="unknown action"):
        bl.bulk("explode", ["a"])
    with pytest.raises(InvalidInput, match="only complete and release take an owner"):
        bl.bulk("block", ["a"], owner="w")
    assert bl.get("a").status == "ready" and kinds(bl, "a") == ["created"]


def test_bulk_of_many_cards_is_one_transaction_all_or_nothing(bl, monkeypatch):
    ids = [f"c{i:04d}" for i in range(1200)]  # more than one IN chunk
    sql(bl, "INSERT INTO backlog (id, title) VALUES " + ",".join(f"('{i}', 't')" for i in ids))
    r = bl.bulk("block", ids)
    assert len(r.done) == 1200 and not r.refused and bl.count(status="blocked") == 1200
    assert len(r.change.before) == 1200
    if bl.backend == "postgresql":  # every row written by the same transaction
        assert sql(bl, "SELECT count(DISTINCT xmin::text) FROM backlog").scalar() == 1
    # A failure inside the transaction, after the updates, leaves everything as it was.
    import mosaic_tui.repository.grooming.undo as undo_mod

    def fail(*_a, **_k):
        raise RuntimeError("boom")

    monkeypatch.setattr(undo_mod.Tracker, "finish", fail)
    with pytest.raises(RuntimeError):
        bl.bulk("unblock", ids)
    assert bl.count(status="blocked") == 1200


# --------------------------------------------------------------------------- priority and phase
def test_shift_priority_and_set_phase(bl):
    bl.create("a", "A", priority=1)
    bl.create("b", "B", priority=2**31 - 1)
    r = bl.shift_priority(["a", "b"], 1)
    assert r.done == ["a"] and r.refused == {"b": "b is at the end of the priority range"}
    assert bl.get("a").priority == 2
    r = bl.shift_priority(["a"], -3)
    assert bl.get("a").priority == -1 and r.summary() == "lowered the priority of a"
    r = bl.set_phase(["a", "b", "zz"], "M2")
    assert r.done == ["a", "b"] and r.refused == {"zz": "zz does not exist"}
    assert {c.phase for c in bl.list()} == {"M2"}
    bl.set_phase(["a"], "  ")
    assert bl.get("a").phase is None
    with pytest.raises(InvalidInput):
        bl.set_phase(["a"], "M\x1b")


# --------------------------------------------------------------------------- reorder
def make_column(bl, spec):
    """Cards in creation order (older first) with the given priorities."""
    for cid, p in spec:
        bl.create(cid, cid, priority=p)


def test_move_up_by_the_least_priority_change(bl):
    make_column(bl, [("a", 5), ("b", 3), ("c", 3), ("d", 1)])
    assert order(bl) == ["a", "b", "c", "d"]
    bl.move("d", "up", seen_status="ready")  # d is younger than c: it needs c's priority + 1 ...
    assert bl.get("d").priority == 4 and order(bl) == ["a", "d", "b", "c"]  # ... which passes b too (a tie)


def test_move_up_ties_and_exact_one_place(bl):
    make_column(bl, [("old", 1), ("a", 5), ("b", 3)])
    assert order(bl) == ["a", "b", "old"]
    r = bl.move("old", "up", seen_status="ready")  # old is older than b: b's own priority is enough
    assert bl.get("old").priority == 3 and order(bl) == ["a", "old", "b"] and r.done == ["old"]
    bl.move("old", "down", seen_status="ready")  # and back: b is younger, so old needs b's priority - 1
    assert bl.get("old").priority == 2 and order(bl) == ["a", "b", "old"]
    bl.move("a", "down", seen_status="ready")  # a is older than b: it needs b's priority - 1 = old's ...
    assert bl.get("a").priority == 2 and order(bl) == ["b", "old", "a"]  # ... and old is older still


def test_move_at_the_ends_and_changed_state_are_refused(bl):
    make_column(bl, [("a", 2), ("b", 1)])
    with pytest.raises(Conflict, match="a is already first in ready"):
        bl.move("a", "up", seen_status="ready")
    with pytest.raises(Conflict, match="b is already last in ready"):
        bl.move("b", "down", seen_status="ready")
    bl.claim("agent-3", id="b")
    with pytest.raises(Conflict, match="b was claimed by agent-3 meanwhile; not moved"):
        bl.move("b", "up", seen_status="ready")
    assert bl.get("b").priority == 1 and bl.get("a").priority == 2
    with pytest.raises(InvalidInput):
        bl.move("a", "sideways", seen_status="ready")


def test_move_stays_in_the_status_column_and_the_view(bl):
    make_column(bl, [("r1", 9), ("d1", 5), ("r2", 1)])
    bl.complete("d1")
    bl.move("r2", "up", seen_status="ready")
    assert order(bl) == ["r2", "r1"] and bl.get("r2").priority == 10  # passes r1, not the done card
    bl.set_phase(["r1"], "M1")
    bl.create("m", "m", phase="M1", priority=0)
    bl.set_phase(["r2"], "M1")
    bl.create("other", "o", phase="M2", priority=5)
    # In the M1 view, m's neighbour above is r1 (p9), not the M2 card in between.
    bl.move("m", "up", seen_status="ready", phase="M1")
    assert bl.get("m").priority == 10 and order(bl) == ["r2", "m", "r1", "other"]


def test_move_many_moves_a_block_together_and_never_jumps_a_stuck_one(bl):
    make_column(bl, [(c, 10 - n) for n, c in enumerate("pqrst")])
    assert order(bl) == list("pqrst")
    r = bl.move_many(["r", "s"], "up")
    assert r.done == ["r", "s"] and order(bl) == list("prsqt")
    r = bl.move_many(["p", "r"], "up")  # p is first: stays; r would pass p (selected, stuck): stays
    assert r.done == [] and r.refused == {"p": "p is already first in ready", "r": "r stays below p (selected too, cannot move)"}
    r = bl.move_many(["q", "t"], "down")  # t is last, q is right above it: neither moves
    assert r.refused == {"t": "t is already last in ready", "q": "q stays above t (selected too, cannot move)"}
    assert order(bl) == list("prsqt")
    r = bl.move_many(["s", "q"], "down")  # bottom first: q passes t (p5), then s passes t (p5) ...
    assert r.done == ["s", "q"] and order(bl) == list("prtqs")  # ... and at p5 the older q sorts first


# --------------------------------------------------------------------------- delete
def test_delete_refuses_claimed_and_depended_on_and_logs_deleted(bl):
    bl.create("base", "B")
    bl.create("top", "T", depends_on=["base"])
    bl.create("held", "H")
    bl.create("free", "F")
    bl.claim("agent-1", id="held")
    r = bl.delete(["base", "held", "free"])
    assert r.done == ["free"]
    assert r.refused == {"base": "base is needed by top", "held": "held is claimed by agent-1; release it first"}
    with pytest.raises(NotFound):
        bl.get("free")
    assert kinds(bl, "free") == ["created", "deleted"]
    ev = bl.events(card="free")[-1]
    assert (ev.old_status, ev.new_status) == ("ready", None)
    # Deleted together with its dependent: allowed.
    r = bl.delete(["base", "top"])
    assert sorted(r.done) == ["base", "top"] and not r.refused


def test_delete_with_unlink_dependents(bl):
    bl.create("base", "B")
    bl.create("other", "O")
    bl.create("top", "T", depends_on=["base", "other"])
    bl.create("top2", "T2", depends_on=["base"])
    r = bl.delete(["base"], unlink_dependents=True)
    assert r.done == ["base"] and r.unlinked == {"top": ["base"], "top2": ["base"]}
    assert bl.get("top").depends_on == ["other"] and bl.get("top2").depends_on == []
    assert bl.get("top2").unmet_deps == 0 and bl.claim("w", id="top2") is not None
    assert kinds(bl, "top")[-1] == "unlinked" and kinds(bl, "base")[-1] == "deleted"
    assert bl.edges() == [("top", "other")]


def test_refusing_one_delete_can_refuse_what_it_needs(bl):
    bl.create("a", "A")
    bl.create("b", "B", depends_on=["a"])
    bl.complete("a")
    assert bl.claim("w", id="b") is not None
    r = bl.delete(["a", "b"])  # b is claimed, so it stays, so a is still needed
    assert r.done == [] and r.refused == {"b": "b is claimed by w; release it first", "a": "a is needed by b"}


def test_deleted_event_written_by_plain_sql_delete_too(bl):
    """The trigger logs a delete by any program (the fleet's service deletes with plain SQL)."""
    bl.create("x", "X")
    bl.create("y", "Y", depends_on=["x"])
    bl.complete("x")
    sql(bl, "DELETE FROM backlog WHERE id = 'x'")
    assert kinds(bl, "x") == ["created", "completed", "deleted"]
    assert bl.get("y").unmet_deps == 1  # a vanished dependency is unmet


# --------------------------------------------------------------------------- update_card / document
def test_update_card_checks_conflicts_deps_and_cycles(bl):
    bl.create("a", "A")
    bl.create("b", "B", depends_on=["a"])
    card = bl.get("a")
    r = bl.update_card("a", expected_updated_at=card.updated_at, title="A2", priority=4, body="x")
    assert r.done == ["a"] and bl.get("a").title == "A2"
    with pytest.raises(Conflict, match="changed by someone else"):
        bl.update_card("a", expected_updated_at=card.updated_at, title="A3")
    with pytest.raises(Conflict, match="cycle"):
        bl.update_card("a", depends_on=["b"])
    with pytest.raises(InvalidInput, match="unknown dependency: zz"):
        bl.update_card("a", depends_on=["zz"])
    with pytest.raises(InvalidInput, match="cannot depend on itself"):
        bl.update_card("a", depends_on=["a"])
    assert bl.get("a").title == "A2" and bl.get("a").depends_on == []
    r = bl.update_card("b", depends_on=[])
    assert bl.get("b").depends_on == [] and kinds(bl, "b")[-1] == "unlinked"


def test_apply_document_round_trip_and_errors(bl):
    bl.create("dep", "D")
    bl.create("c", "Card", body="# heading\n\ntext", phase="M1", priority=2, acceptance={"t": [1]})
    card = bl.get("c")
    doc = serialize_card(card)
    edited = doc.replace("title: Card", "title: Card renamed").replace("depends on: ", "depends on: dep")
    bl.apply_document("c", edited, expected_updated_at=card.updated_at)
    got = bl.get("c")
    assert (got.title, got.depends_on, got.body, got.phase, got.priority, got.acceptance) == (
        "Card renamed", ["dep"], "# heading\n\ntext", "M1", 2, {"t": [1]})
    with pytest.raises(Conflict):
        bl.apply_document("c", doc, expected_updated_at=card.updated_at)
    with pytest.raises(InvalidInput, match="line 5: priority must be an integer"):
        bl.apply_document("c", doc.replace("priority: 2", "priority: high"))
    assert bl.get("c").title == "Card renamed"


# --------------------------------------------------------------------------- undo / redo
def test_undo_and_redo_a_bulk_block_restore_claims_exactly(bl):
    for i in range(3):
        bl.create(f"c{i}", "t")
    bl.claim("agent-7", ttl=600, id="c1")
    claimed = bl.get("c1")
    h = History(bl)
    r = bl.bulk("block", ["c0", "c1", "c2"])
    h.record(r.change)
    assert {c.status for c in bl.list()} == {"blocked"}
    undone, notes = h.undo()
    assert undone.label == "undo of block 3 cards" and notes == []
    back = bl.get("c1")
    assert (back.status, back.claim_owner, back.claimed_at, back.claim_ttl_seconds) == (
        "claimed", "agent-7", claimed.claimed_at, 600)
    assert bl.get("c0").status == "ready" and h.can_redo
    redone, _ = h.redo()
    assert redone.label == "block 3 cards" and {c.status for c in bl.list()} == {"blocked"}
    h.undo()
    assert bl.heartbeat("c1", "agent-7").status == "claimed"  # the agent's claim lives on


def test_undo_refuses_when_someone_else_touched_the_card(bl):
    bl.create("a", "A")
    bl.create("b", "B")
    h = History(bl)
    h.record(bl.bulk("block", ["a", "b"]).change)
    bl.unblock("b")  # someone else (not through this history)
    bl.claim("agent-3", id="b")
    with pytest.raises(Conflict, match="cannot undo block 2 cards: b was unblocked since .and 1 more"):
        h.undo()
    assert bl.get("a").status == "blocked" and bl.get("b").claim_owner == "agent-3"  # nothing changed
    assert not h.can_undo  # dropped: it could never succeed


def test_undo_refuses_a_change_by_plain_sql(bl):
    bl.create("a", "A", priority=1)
    bl.create("b", "B", priority=2)
    h = History(bl)
    h.record(bl.move("a", "up", seen_status="ready").change)
    sql(bl, "UPDATE backlog SET claim_owner = 'fleet', status = 'claimed', claimed_at = now(), claim_ttl_seconds = 60 WHERE id = 'a'"
        if bl.backend == "postgresql" else
        "UPDATE backlog SET claim_owner = 'fleet', status = 'claimed', claimed_at = '2026-01-05 12:00:00.000000', claim_ttl_seconds = 60 WHERE id = 'a'")
    with pytest.raises(Conflict, match="a was claimed by fleet since"):
        h.undo()
    assert bl.get("a").priority == 2  # still moved (a is older than b: b's priority was enough)


def test_own_later_changes_do_not_block_an_earlier_undo(bl):
    bl.create("a", "A")
    h = History(bl)
    h.record(bl.bulk("block", ["a"]).change)
    h.record(bl.update_card("a", title="new").change)
    h.record(bl.shift_priority(["a"], 1).change)
    h.undo()
    h.undo()
    h.undo()
    a = bl.get("a")
    assert (a.status, a.title, a.priority) == ("ready", "A", 0)
    h.redo()
    assert bl.get("a").status == "blocked"
    h.record(bl.shift_priority(["a"], 1).change)  # a new action empties the redo stack
    assert not h.can_redo


def test_undo_of_delete_recreates_the_card_and_its_links(bl):
    bl.create("dep", "D")
    bl.create("gone", "Gone", body="b", phase="M1", priority=7, depends_on=["dep"], acceptance={"a": 1},
              idempotency_key="key-1")
    bl.create("user", "U", depends_on=["gone"])
    original = bl.get("gone")
    h = History(bl)
    r = bl.delete(["gone"], unlink_dependents=True)
    h.record(r.change)
    assert bl.get("user").depends_on == []
    _, notes = h.undo()
    g = bl.get("gone")
    assert (g.title, g.body, g.phase, g.priority, g.depends_on, g.acceptance, g.idempotency_key, g.created_at) == (
        "Gone", "b", "M1", 7, ["dep"], {"a": 1}, "key-1", original.created_at)
    assert bl.get("user").depends_on == ["gone"] and bl.get("user").unmet_deps == 1 and notes == []
    assert kinds(bl, "gone")[-2:] == ["deleted", "created"]
    h.redo()
    with pytest.raises(NotFound):
        bl.get("gone")


def test_undo_of_delete_where_a_dependency_went_meanwhile(bl):
    bl.create("dep", "D")
    bl.create("gone", "G", depends_on=["dep"])
    h = History(bl)
    h.record(bl.delete(["gone"]).change)
    bl.delete(["dep"])  # someone else, but on another card: the undo may go on
    _, notes = h.undo()
    assert bl.get("gone").depends_on == [] and notes == ["gone re-created without dep (deleted since)"]


def test_redo_of_delete_refused_when_someone_depends_on_it_now(bl):
    bl.create("x", "X")
    bl.create("y", "Y")
    h = History(bl)
    h.record(bl.delete(["x"]).change)
    h.undo()
    bl.link("y", "x")  # an event on y, not on x: the redo itself must notice
    with pytest.raises(Conflict, match="y depends on it now"):
        h.redo()
    assert bl.get("x").status == "ready"


def test_undo_that_would_close_a_cycle_is_refused(bl):
    bl.create("y", "Y")
    bl.create("x", "X", depends_on=["y"])
    bl.create("d", "D", depends_on=["x"])
    h = History(bl)
    h.record(bl.delete(["x"], unlink_dependents=True).change)
    bl.link("y", "d")  # fine while x is away; an event on y, which the delete did not touch
    with pytest.raises(Conflict, match="would close a cycle"):
        h.undo()  # x -> y -> d -> x
    with pytest.raises(NotFound):
        bl.get("x")
    assert bl.get("d").depends_on == []


def test_history_is_bounded(bl):
    bl.create("a", "A")
    h = History(bl, limit=50)
    for _ in range(60):
        h.record(bl.shift_priority(["a"], 1).change)
    assert len(h) == 50
    for _ in range(50):
        h.undo()
    assert bl.get("a").priority == 10 and not h.can_undo
    with pytest.raises(Conflict, match="nothing to undo"):
        h.undo()
