"""Notes and labels, on both backends: the repository, the CLI, the events they write, bad input,
a card the fleet's service created by plain SQL, reclaimed leases, deleting a card."""

from __future__ import annotations

import io
import json
import sys
from datetime import timedelta

import pytest

from mosaic_tui import cli
from fixtures import FixedClock
from mosaic_tui.db.engine import open_database
from mosaic_tui.errors import InvalidInput, NotFound
from mosaic_tui.repository import MAX_NOTE_BYTES, Backlog
from tests.conftest import run_sql


@pytest.fixture
def clock():
    return FixedClock()


@pytest.fixture
def b(db_url, clock):
    backlog = Backlog(open_database(db_url), clock=clock)
    yield backlog
    backlog.close()


@pytest.fixture
def mt(capsys, monkeypatch, db_url):
    """``mosaic-tui ARGS --db URL`` in this process: (exit code, stdout, stderr)."""

    def run(*args, stdin: str | None = None):
        if stdin is not None:
            monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        capsys.readouterr()
        code = cli.run([*args, "--db", db_url])
        got = capsys.readouterr()
        return code, got.out, got.err

    return run


def side_events(b, card=None):
    return [(e.card_id, e.kind, e.old_status, e.new_status, e.owner) for e in b.events(card=card)
            if e.kind in ("noted", "labeled", "unlabeled")]


def count(b, table: str) -> int:
    return run_sql(b, f"SELECT count(*) FROM {table}")[0][0]


# --------------------------------------------------------------------------- notes
def test_a_thread_is_append_only_oldest_first_with_authors_kinds_and_the_clock(b, clock):
    b.create("A", "first")
    first = b.note("A", "looked at it", author="agent-1")
    clock.advance(60)
    b.note("A", "line one\nline two", author="ann")
    thread = b.notes("A")
    assert [(n.author, n.kind, n.body) for n in thread] == [
        ("agent-1", "note", "looked at it"), ("ann", "note", "line one\nline two")]
    assert thread[0].id == first.id < thread[1].id
    assert thread[1].at - thread[0].at == timedelta(seconds=60) and thread[0].at == clock() - timedelta(seconds=60)
    assert side_events(b, "A") == [("A", "noted", None, None, "agent-1"), ("A", "noted", None, None, "ann")]


def test_show_returns_the_latest_notes_and_the_count(b):
    b.create("A", "first")
    for i in range(25):
        b.note("A", f"n{i}", author="x")
    shown, total = b.thread("A", limit=20)
    assert total == 25 and [n.body for n in shown] == [f"n{i}" for i in range(5, 25)]
    assert b.thread("A", limit=None)[1] == 25 and len(b.notes("A", limit=3)) == 3


@pytest.mark.parametrize("body, words", [
    ("", "must not be empty"), ("  \n\t ", "must not be empty"), ("a\x00b", "NUL"),
    ("x" * (MAX_NOTE_BYTES + 1), "16 KiB"), ("é" * (MAX_NOTE_BYTES // 2 + 1), "16 KiB"),
])
def test_bad_notes_are_refused_and_nothing_is_written(b, body, words):
    b.create("A", "first")
    with pytest.raises(InvalidInput, match=words):
        b.note("A", body)
    with pytest.raises(InvalidInput, match=words):
        b.block("A", reason=body)
    assert b.get("A").status == "ready"  # the block was not written either
    assert count(b, "backlog_notes") == 0 and side_events(b) == []


def test_a_note_of_exactly_16_kib_is_kept_as_written(b):
    b.create("A", "first")
    body = "\x1b[2J\x07" + "y" * (MAX_NOTE_BYTES - 7) + "\r\n"
    assert len(body.encode()) == MAX_NOTE_BYTES
    assert b.note("A", body).body == body and b.notes("A")[0].body == body


def test_a_note_on_a_missing_card_is_not_found(b):
    with pytest.raises(NotFound):
        b.note("nope", "hello")
    assert count(b, "backlog_notes") == 0


# --------------------------------------------------------------------------- reasons
def test_reasons_are_notes_written_with_the_change(b):
    for i in "ABCD":
        b.create(i, i)
    b.block("A", reason="needs a person", author="ann")
    b.claim("agent-1", id="B")
    b.release("B", "agent-1", reason="the API is down")
    b.claim("agent-2", id="C")
    b.complete("C", "agent-2", summary="done: see PR 12")
    assert [(n.author, n.kind, n.body) for n in b.notes("A")] == [("ann", "block", "needs a person")]
    assert [(n.author, n.kind) for n in b.notes("B")] == [("agent-1", "release")]
    assert [(n.author, n.kind) for n in b.notes("C")] == [("agent-2", "complete")]
    assert b.block_reasons(["A", "B", "D"]) == {"A": "needs a person"}


def test_list_shown_is_the_list_with_its_labels_and_block_reasons_in_one_read(b):
    """What a board row shows besides the card (``Backlog.list_shown``): the same cards as ``list``, the same
    labels as ``labels``, the same reasons as ``block_reasons``, for the page asked only."""
    for i in "ABCDE":
        b.create(i, i)
    b.block("A", reason="needs a person", author="ann")
    b.block("B")
    b.label(["A", "C"], add=["ui", "p1"])
    cards, labels, reasons = b.list_shown(status=["ready", "blocked"], limit=3, offset=1)
    assert [c.id for c in cards] == [c.id for c in b.list(status=["ready", "blocked"], limit=3, offset=1)]
    ids = [c.id for c in cards]
    assert labels == b.labels(ids) and reasons == b.block_reasons(ids)
    assert b.list_shown(status="blocked") == (b.list(status="blocked"), b.labels(["A", "B"]), {"A": "needs a person"})
    assert b.list_shown(status="claimed") == ([], {}, {})


def test_a_refused_change_writes_no_reason(b):
    b.create("A", "first")
    b.complete("A")
    with pytest.raises(Exception, match="done"):
        b.block("A", reason="why not")
    with pytest.raises(Exception, match="not claimed"):
        b.complete("A", "agent-1", summary="finished")
    assert count(b, "backlog_notes") == 0


def test_bulk_block_writes_the_reason_on_each_card_it_changed(b):
    for i in "ABC":
        b.create(i, i)
    b.complete("C")
    result = b.bulk("block", ["A", "B", "C"], reason="frozen for the release", author="ann")
    assert result.done == ["A", "B"] and set(result.refused) == {"C"}
    assert b.block_reasons(["A", "B", "C"]) == {"A": "frozen for the release", "B": "frozen for the release"}
    with pytest.raises(InvalidInput, match="takes no reason"):
        b.bulk("unblock", ["A"], reason="x")


def test_a_reclaimed_lease_leaves_a_system_note(db_url, clock):
    b = Backlog(open_database(db_url), clock=clock, max_attempts=5)
    try:
        b.create("A", "first")
        b.claim("agent-3", ttl=900)
        clock.advance(901)
        assert b.reclaim() == ["A"]
        b.claim("agent-4", ttl=90)
        clock.advance(100)
        assert b.claim("agent-5", ttl=60).id == "A"  # the claim reclaims first
        notes = b.notes("A")
        assert [(n.author, n.kind, n.body) for n in notes] == [
            (None, "system", "agent-3's lease ended after 15m; attempt 1 of 5"),
            (None, "system", "agent-4's lease ended after 1m30s; attempt 2 of 5"),
        ]
    finally:
        b.close()


def test_a_lease_ending_at_the_cap_says_blocked(db_url, clock):
    b = Backlog(open_database(db_url), clock=clock, max_attempts=1)
    try:
        b.create("A", "first")
        b.claim("agent-3", ttl=60)
        clock.advance(61)
        assert b.reclaim() == ["A"] and b.get("A").status == "blocked"
        assert b.notes("A")[0].body == "agent-3's lease ended after 1m00s; attempt 1 of 1; blocked: no attempts left"
    finally:
        b.close()


# --------------------------------------------------------------------------- labels
def test_labels_are_added_removed_sorted_and_events(b):
    b.create("A", "a")
    b.create("B", "b")
    assert b.label(["A", "B"], add=["infra", "docs"]) == {"A": ["docs", "infra"], "B": ["docs", "infra"]}
    assert b.label(["A"], add=["infra"], remove=["docs", "never"]) == {"A": ["infra"]}  # no-ops change nothing
    assert b.labels(["A", "B", "Z"]) == {"A": ["infra"], "B": ["docs", "infra"], "Z": []}
    assert [c.id for c in b.list(label="docs")] == ["B"]
    assert b.all_labels() == [("docs", 1), ("infra", 2)]
    kinds = [(c, k) for c, k, *_ in side_events(b)]
    assert sorted(kinds) == sorted([("A", "labeled"), ("A", "labeled"), ("B", "labeled"), ("B", "labeled"),
                                    ("A", "unlabeled")])


@pytest.mark.parametrize("name", ["Infra", "", "-x", "a" * 33, "a b", "a/b", "é", ".x"])
def test_an_invalid_label_is_named_and_nothing_is_written(b, name):
    b.create("A", "a")
    with pytest.raises(InvalidInput, match="invalid label"):
        b.label(["A"], add=["ok", name])
    assert count(b, "backlog_labels") == 0


def test_labels_on_an_unknown_card_write_nothing(b):
    b.create("A", "a")
    with pytest.raises(NotFound, match="'Z'"):
        b.label(["A", "Z"], add=["ok"])
    with pytest.raises(InvalidInput, match="both added and removed"):
        b.label(["A"], add=["x"], remove=["x"])
    assert count(b, "backlog_labels") == 0 and side_events(b) == []


def test_label_names_at_the_edges_of_the_rule(b):
    b.create("A", "a")
    names = ["0", "a" * 32, "v1.2_x-y"]
    assert b.label(["A"], add=names)["A"] == sorted(names)


# --------------------------------------------------------------------------- the fleet's cards, deleting
def test_notes_and_labels_on_a_card_the_fleet_service_inserted_by_plain_sql(b):
    b.count()  # the schema is in place (on Postgres the fleet's service had made the table itself)
    run_sql(b, "INSERT INTO backlog (id, title) VALUES ('F-1', 'from the fleet')")
    b.note("F-1", "picked up from the service", author="agent-1")
    assert b.label(["F-1"], add=["fleet"]) == {"F-1": ["fleet"]}
    # the service's plain SQL goes on working beside them
    run_sql(b, "UPDATE backlog SET status = 'blocked' WHERE id = 'F-1'")
    assert b.get("F-1").status == "blocked" and [c.id for c in b.list(label="fleet")] == ["F-1"]
    assert [n.body for n in b.notes("F-1")] == ["picked up from the service"]


def test_deleting_a_card_deletes_its_notes_and_labels_even_by_plain_sql(b):
    for i in "AB":
        b.create(i, i)
        b.note(i, "hello")
        b.label([i], add=["x", "y"])
    b.delete(["A"])
    run_sql(b, "DELETE FROM backlog WHERE id = 'B'")
    assert count(b, "backlog_notes") == 0 and count(b, "backlog_labels") == 0
    kinds = [e.kind for e in b.events()]
    assert kinds.count("unlabeled") == 0 and kinds.count("deleted") == 2  # the card's own event says it


def test_a_note_after_a_change_does_not_stand_in_the_way_of_its_undo(b):
    b.create("A", "a")
    result = b.bulk("block", ["A"])
    b.note("A", "why was this blocked?", author="agent-1")
    b.label(["A"], add=["triage"])
    b.undo_change(result.change)
    assert b.get("A").status == "ready"


def test_flow_does_not_count_a_note_as_a_move(b, clock):
    from datetime import UTC, datetime

    from mosaic_tui.repository.watch.flow import flow

    b.create("A", "a")
    soon = datetime.now(UTC) + timedelta(minutes=5)  # event times are the database's clock
    before = flow(b, "1h", now=soon)
    b.note("A", "a thought")
    b.label(["A"], add=["x"])
    after = flow(b, "1h", now=soon)
    assert after.cfd == before.cfd and after.cfd["ready"][-1] == 1 and after.claims == before.claims


# --------------------------------------------------------------------------- the CLI
def test_cli_note_notes_show_and_list(mt):
    assert mt("create", "A", "first")[0] == 0
    code, out, err = mt("note", "A", "found the bug\nin parse()", "--owner", "agent-1", "--json")
    assert code == 0 and json.loads(out)["author"] == "agent-1" and json.loads(out)["kind"] == "note"
    assert mt("note", "A", "-", stdin="from stdin\x1b[31m")[0] == 0
    assert mt("label", "A", "+infra", "+docs", "-old")[0] == 0
    assert mt("block", "A", "--reason", "waits on the API")[0] == 0
    shown = json.loads(mt("show", "A", "--json")[1])
    assert shown["labels"] == ["docs", "infra"] and shown["noteCount"] == 3
    assert [(n["kind"], n["body"]) for n in shown["notes"]] == [
        ("note", "found the bug\nin parse()"), ("note", "from stdin\x1b[31m"), ("block", "waits on the API")]
    listed = json.loads(mt("list", "--label", "infra", "--json")[1])
    assert [c["id"] for c in listed] == ["A"] and listed[0]["labels"] == ["docs", "infra"]
    assert json.loads(mt("list", "--label", "nope", "--json")[1]) == []
    code, out, _ = mt("show", "A")
    assert "\x1b" not in out and "from stdin\\e[31m" in out and "#docs #infra" in out and "[block]" in out
    assert [n["body"] for n in json.loads(mt("notes", "A", "--json", "--limit", "1")[1])] == ["waits on the API"]


def test_cli_reasons_and_summary(mt):
    for i in "ABC":
        mt("create", i, i)
    assert mt("claim", "--owner", "agent-1", "--id", "A", "--json")[0] == 0
    assert mt("complete", "A", "--owner", "agent-1", "--summary", "shipped", "--json")[0] == 0
    assert mt("claim", "--owner", "agent-2", "--id", "B", "--json")[0] == 0
    assert mt("release", "B", "--owner", "agent-2", "--reason", "-", stdin="gave up: flaky CI")[0] == 0
    notes = {i: json.loads(mt("notes", i, "--json")[1]) for i in "AB"}
    assert [(n["author"], n["kind"], n["body"]) for n in notes["A"]] == [("agent-1", "complete", "shipped")]
    assert [(n["author"], n["kind"], n["body"]) for n in notes["B"]] == [("agent-2", "release", "gave up: flaky CI")]


@pytest.mark.parametrize("args, stdin, words", [
    (("note", "A", ""), None, "must not be empty"),
    (("note", "A", "-"), "x" * (MAX_NOTE_BYTES + 1), "16 KiB"),
    (("block", "A", "--reason", ""), None, "must not be empty"),
    (("label", "A", "+Infra"), None, "invalid label 'Infra'"),
    (("label", "A", "+ok", "+bad/name"), None, "invalid label 'bad/name'"),
    (("label", "+x"), None, "no card given"),
    (("label", "A"), None, "no label given"),
])
def test_cli_bad_input_is_one_line_exit_2_and_writes_nothing(mt, args, stdin, words):
    mt("create", "A", "first")
    code, out, err = mt(*args, "--json", stdin=stdin)
    assert code == 2 and out == "" and len(err.splitlines()) == 1 and words in err
    assert json.loads(err)["error"]["code"] == "invalid_input"
    shown = json.loads(mt("show", "A", "--json")[1])
    assert shown["status"] == "ready" and shown["notes"] == [] and shown["labels"] == []


def test_cli_unknown_card_is_not_found(mt):
    assert mt("note", "Z", "hi")[0] == 3 and mt("label", "Z", "+x")[0] == 3 and mt("notes", "Z")[0] == 3


def test_events_show_notes_and_labels_without_a_status_arrow(mt):
    mt("create", "A", "first")
    mt("note", "A", "hi", "--owner", "agent-1")
    mt("label", "A", "+x")
    evs = json.loads(mt("events", "--json")[1])
    assert [(e["kind"], e["oldStatus"], e["newStatus"], e["owner"]) for e in evs[1:]] == [
        ("noted", None, None, "agent-1"), ("labeled", None, None, None)]
    rows = mt("events")[1].splitlines()
    assert "noted" in rows[2] and "->" not in rows[2]


# --------------------------------------------------------------------------- MCP
def test_mcp_note_notes_label_and_reasons(db_url, tmp_path):
    import anyio

    from tests.test_mcp import call, connect, error

    seed = Backlog.open(db_url)
    for i in "ABC":
        seed.create(i, i)
    seed.close()

    async def main():
        async with connect(db_url, tmp_path, owner="agent-1") as s:
            tools = {t.name for t in (await s.list_tools()).tools}
            assert {"note", "notes", "label"} <= tools
            n = await call(s, "note", id="A", body="found it\nin parse()")
            assert (n["author"], n["kind"], n["body"]) == ("agent-1", "note", "found it\nin parse()")
            assert (await call(s, "label", ids=["A", "B"], add=["infra"]))["labels"] == {"A": ["infra"], "B": ["infra"]}
            await call(s, "block", id="B", reason="needs a person")
            await call(s, "claim", id="C")
            await call(s, "release", id="C", reason="gave up: flaky")
            await call(s, "claim", id="C")
            await call(s, "complete", id="C", summary="shipped")
            shown = await call(s, "show", id="A")
            listed = await call(s, "list", label="infra")
            notes_c = await call(s, "notes", id="C")
            bad = [await error(s, "note", id="A", body=""), await error(s, "label", ids=["A"], add=["Bad"]),
                   await error(s, "note", id="A", body="x" * (MAX_NOTE_BYTES + 1)), await error(s, "note", id="Z", body="x")]
            return shown, listed, notes_c, bad

    shown, listed, notes_c, bad = anyio.run(main)
    assert shown["labels"] == ["infra"] and shown["noteCount"] == 1 and shown["notes"][0]["body"] == "found it\nin parse()"
    assert [c["id"] for c in listed["cards"]] == ["A", "B"] and listed["cards"][0]["labels"] == ["infra"]
    assert [(n["kind"], n["body"], n["author"]) for n in notes_c["notes"]] == [
        ("release", "gave up: flaky", "agent-1"), ("complete", "shipped", "agent-1")]
    assert [e["code"] for e in bad] == ["invalid_input", "invalid_input", "invalid_input", "not_found"]
    assert "invalid label 'Bad'" in bad[1]["message"] and "16 KiB" in bad[2]["message"]
    b = Backlog.open(db_url)
    try:
        assert [n.body for n in b.notes("A")] == ["found it\nin parse()"] and b.block_reasons(["B"]) == {"B": "needs a person"}
    finally:
        b.close()
