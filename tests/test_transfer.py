"""Export, import and migrate (mosaic_tui.repository.transfer): round trips across backends, all or nothing."""

from __future__ import annotations

import io
import json
import random
from datetime import UTC, datetime, timedelta

import pytest

from mosaic_tui.repository import transfer
from mosaic_tui.db.engine import open_database
from mosaic_tui.errors import Conflict, InvalidInput
from mosaic_tui.repository import Backlog, card_json, event_json


class Clock:
    def __init__(self):
        self.now = datetime(2026, 3, 1, 8, 30, 15, 123456, tzinfo=UTC)

    def __call__(self):
        self.now += timedelta(seconds=7, microseconds=31)
        return self.now


def populate(url: str) -> Backlog:
    """A backlog with every field set somewhere: claims, attempts, blocked, done, JSON, unicode, a chain."""
    b = Backlog(open_database(url), clock=Clock())
    b.create("root", "Root task", body="# heading\n\nbody ünïcode ✓", phase="M1", priority=5,
             acceptance={"tests": ["a", "b"], "nested": {"x": 1.5, "y": None}}, idempotency_key="key-root")
    b.create("mid", "Middle \x1b[1m bold", depends_on=["root"], phase="M1", priority=2)
    b.create("leaf", "Leaf", depends_on=["mid", "root"], acceptance=[1, 2, 3])
    b.create("solo", "Solo", priority=9, acceptance="just text")
    b.create("stuck", "Stuck")
    b.create("wip", "Work in progress", priority=1)
    b.claim("agent-1", 60, "root")
    b.complete("root", "agent-1")
    b.claim("agent-2", 120, "solo")
    b.reclaim("solo")
    b.claim("agent-3", 300, "solo")  # attempts 2, claimed
    b.heartbeat("solo", "agent-3", 600)
    b.block("stuck")
    b.claim("agent-4", 45, "wip")
    return b


def dump(b: Backlog) -> str:
    buf = io.StringIO()
    transfer.write_export(b, buf)
    return buf.getvalue()


def cards_of(b: Backlog) -> dict[str, dict]:
    return {c.id: card_json(c) for c in b.list()}


def events_of(b: Backlog) -> list[dict]:
    return [event_json(e) for e in b.events()]


def claimable(b: Backlog) -> list[str]:
    return [c.id for c in b.list(claimable=True)]


@pytest.fixture
def source(tmp_path):
    b = populate(str(tmp_path / "source.db"))
    yield b
    b.close()


@pytest.mark.parametrize("direction", ["sqlite->pg", "pg->sqlite"])
def test_export_import_round_trip_into_the_other_backend(direction, sqlite_url, pg_url):
    src_url, dst_url = (sqlite_url, pg_url) if direction == "sqlite->pg" else (pg_url, sqlite_url)
    src = populate(src_url)
    dst = Backlog.open(dst_url)
    text = dump(src)
    lines = text.splitlines()
    head = json.loads(lines[0])
    assert head["format"] == "mosaic-tui-backlog" and head["cards"] == 6 and head["events"] == len(src.events())
    result = transfer.import_bundle(dst, transfer.parse_lines(lines))
    assert len(result.inserted) == 6 and result.events_verbatim
    # identical card for card (every field), same history with the same ids, same claimable set
    assert cards_of(dst) == cards_of(src)
    assert events_of(dst) == events_of(src)
    assert claimable(dst) == claimable(src) == ["mid"]
    assert [json.loads(x) for x in dump(dst).splitlines()[1:]] == [json.loads(x) for x in lines[1:]]
    # new events continue after the imported ones
    dst.create("after", "After the import")
    assert dst.events()[-1].id > max(e.id for e in src.events())
    src.close()
    dst.close()


def test_import_in_any_order_keeps_waiting_right(db_url, source):
    lines = dump(source).splitlines()
    random.Random(7).shuffle(lines)
    dst = Backlog.open(db_url)
    transfer.import_bundle(dst, transfer.parse_lines(reversed(lines)))
    assert cards_of(dst) == cards_of(source)
    assert claimable(dst) == claimable(source)
    assert {c.id: c.unmet_deps for c in dst.list()} == {c.id: c.unmet_deps for c in source.list()}
    dst.close()


def test_import_is_idempotent(db_url, source):
    lines = dump(source).splitlines()
    dst = Backlog.open(db_url)
    transfer.import_bundle(dst, transfer.parse_lines(lines))
    before_cards, before_events = cards_of(dst), events_of(dst)
    again = transfer.import_bundle(dst, transfer.parse_lines(lines))
    assert again.inserted == [] and len(again.unchanged) == 6 and again.events == 0
    assert cards_of(dst) == before_cards and events_of(dst) == before_events
    dst.close()


def test_import_into_a_backlog_with_history_appends_the_new_cards_history(db_url, source):
    dst = Backlog.open(db_url)
    dst.create("own", "Already here")
    dst.create("root", "A different root")
    result = transfer.import_bundle(dst, transfer.parse_lines(dump(source).splitlines()))
    assert result.kept == ["root"] and len(result.inserted) == 5 and not result.events_verbatim
    assert dst.get("root").title == "A different root"  # the target's card is kept
    # the history of each new card is the source's (kinds, statuses, times), appended after ours
    for cid in result.inserted:
        mine = [(e["kind"], e["newStatus"], e["at"]) for e in events_of(dst) if e["cardId"] == cid]
        theirs = [(e["kind"], e["newStatus"], e["at"]) for e in events_of(source) if e["cardId"] == cid]
        assert mine == theirs
    assert [e.card_id for e in dst.events()[:2]] == ["own", "root"]
    dst.close()


def test_import_existing_cards_replace_and_fail(db_url, source):
    lines = dump(source).splitlines()
    dst = Backlog.open(db_url)
    dst.create("wip", "Local version")
    with pytest.raises(Conflict, match="'wip' exists already"):
        transfer.import_bundle(dst, transfer.parse_lines(lines), on_existing="fail")
    assert dst.count() == 1  # all or nothing
    result = transfer.import_bundle(dst, transfer.parse_lines(lines), on_existing="replace")
    assert result.replaced == ["wip"]
    assert card_json(dst.get("wip")) == card_json(source.get("wip"))
    dst.close()


@pytest.mark.parametrize("bad, message", [
    ('{"id": "z", "title": ""}', "line 8: title must not be empty"),
    ('{"id": "z", "title": "t", "dependsOn": ["nowhere"]}', "unknown dependency: nowhere"),
    ('{"id": "z", "title": "t", "priority": "high"}', "line 8: priority must be an integer"),
    ('{"id": "z", "title": "t", "createdAt": "yesterday"}', "line 8: createdAt 'yesterday' is not an ISO 8601"),
    ('{"id": "a\\u0007", "title": "t"}', "control characters"),
    ("not json", "line 8: not JSON"),
    ('{"id": "z", "title": "t", "dependsOn": ["z"]}', "line 8: card 'z' cannot depend on itself"),
    ('{"card": {"id": "wip", "title": "another"}}', "appears twice, differently"),
])
def test_a_bad_line_writes_nothing(db_url, source, bad, message):
    lines = [x for x in dump(source).splitlines() if '"event"' not in x][:7] + [bad]
    assert len(lines) == 8
    dst = Backlog.open(db_url)
    with pytest.raises((InvalidInput, Conflict), match=message):
        transfer.import_bundle(dst, transfer.parse_lines(lines))
    assert dst.count() == 0 and dst.events() == []
    dst.close()


def test_a_file_of_bare_cards_imports_with_defaults(db_url):
    dst = Backlog.open(db_url)
    lines = [
        json.dumps({"id": "b", "title": "B", "dependsOn": ["a"], "priority": 3}),
        json.dumps({"id": "a", "title": "A", "status": "done"}),
    ]
    result = transfer.import_bundle(dst, transfer.parse_lines(lines))
    assert result.inserted == ["b", "a"] and result.events == 0
    assert claimable(dst) == ["b"] and dst.get("a").status == "done"
    assert sorted(e.card_id for e in dst.events()) == ["a", "b"]  # the triggers' created events stay
    dst.close()


def test_a_cycle_is_refused(db_url):
    dst = Backlog.open(db_url)
    dst.create("c", "C")
    lines = [json.dumps({"id": "a", "title": "A", "dependsOn": ["b"]}),
             json.dumps({"id": "b", "title": "B", "dependsOn": ["c", "a"]})]
    with pytest.raises(Conflict, match="dependency cycle: (a -> b -> a|b -> a -> b)"):
        transfer.import_bundle(dst, transfer.parse_lines(lines))
    assert dst.count() == 1
    dst.close()


def test_another_format_is_refused():
    with pytest.raises(InvalidInput, match="not a mosaic-tui backlog export"):
        transfer.parse_lines(['{"format": "other", "version": 1}'])


def test_migrate_sqlite_to_postgres_preserves_every_field(source, pg_url):
    target = Backlog.open(pg_url)
    result = transfer.migrate(source, target)
    assert result["inserted"] == 6 and result["verified"] and result["targetCards"] == 6
    got, want = cards_of(target), cards_of(source)
    assert got == want
    solo = got["solo"]
    assert solo["status"] == "claimed" and solo["attempts"] == 2 and solo["claimOwner"] == "agent-3"
    assert solo["claimedAt"] == want["solo"]["claimedAt"] and solo["claimTtlSeconds"] == want["solo"]["claimTtlSeconds"]
    assert got["root"]["createdAt"] == want["root"]["createdAt"] and not got["root"]["createdAt"].endswith(":00+00:00")
    assert events_of(target) == events_of(source)
    target.close()


def test_migrate_refuses_a_non_empty_target_and_merges_when_told(source, pg_url):
    target = Backlog.open(pg_url)
    target.create("theirs", "Already in the target")
    before_cards, before_events = cards_of(target), events_of(target)
    with pytest.raises(Conflict, match="not empty"):
        transfer.migrate(source, target)
    assert cards_of(target) == before_cards and events_of(target) == before_events
    result = transfer.migrate(source, target, merge=True)
    assert result["inserted"] == 6 and result["targetCards"] == 7
    assert {k: v for k, v in cards_of(target).items() if k != "theirs"} == cards_of(source)
    # merging again is a no-op; a card that differs is refused unless replacing
    assert transfer.migrate(source, target, merge=True)["inserted"] == 0
    source.edit("leaf", title="Leaf, renamed")
    snapshot = cards_of(target)
    with pytest.raises(Conflict, match="'leaf' exists already and differs"):
        transfer.migrate(source, target, merge=True)
    assert cards_of(target) == snapshot
    assert transfer.migrate(source, target, merge=True, replace=True)["replaced"] == 1
    assert target.get("leaf").title == "Leaf, renamed"
    target.close()


def test_a_failed_verification_leaves_the_target_unchanged(source, pg_url, monkeypatch):
    target = Backlog.open(pg_url)
    target.create("theirs", "Already in the target")
    before_cards, before_events = cards_of(target), events_of(target)
    real = transfer._existing

    def tampered(conn, ids):  # the read-back of one card disagrees with what was written
        found = real(conn, ids)
        if "leaf" in found:
            found["leaf"] = {**found["leaf"], "attempts": 99}
        return found

    monkeypatch.setattr(transfer, "_existing", tampered)
    with pytest.raises(transfer.VerifyFailed, match="differ after the copy"):
        transfer.migrate(source, target, merge=True)
    monkeypatch.undo()
    assert cards_of(target) == before_cards and events_of(target) == before_events
    target.close()


def test_migrate_into_itself_is_refused(source, tmp_path):
    same = Backlog.open(f"sqlite:///{tmp_path / 'source.db'}")
    with pytest.raises(InvalidInput, match="same database"):
        transfer.migrate(source, same, merge=True)
    same.close()


def test_checksum_ignores_key_order_but_not_values():
    a = {"id": "x", "acceptance": {"a": 1, "b": 2}, "title": "t"}
    b = {"title": "t", "acceptance": {"b": 2, "a": 1}, "id": "x"}
    assert transfer.card_checksum(a) == transfer.card_checksum(b)
    assert transfer.card_checksum(a) != transfer.card_checksum({**a, "title": "u"})
