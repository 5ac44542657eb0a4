"""Notes and labels through export, import and migrate: SQLite -> Postgres -> SQLite identical, an older
export without them still imports, a card's notes already there are not written twice, bad documents are
refused with one line and nothing written."""

from __future__ import annotations

import json

import pytest
from test_transfer import cards_of, dump, events_of, populate

from mosaic_tui.repository import Backlog, note_json, transfer
from mosaic_tui.errors import InvalidInput
from mosaic_tui.repository.notes import NOTES


def annotate(b: Backlog) -> None:
    """Labels on three cards; threads of every kind, with and without an author, several lines, escapes."""
    b.label(["root", "mid"], add=["infra", "m1"])
    b.label(["stuck"], add=["needs.review"])
    b.note("mid", "first try\nfailed at \x1b[2J step 2 ✓", author="agent-2")
    b.note("stuck", "waits on the fleet team", author="ann", kind="block")
    b.note("mid", "second try worked", author="agent-2", kind="complete")
    b.note("root", "said by nobody", kind="system")


def notes_of(b: Backlog) -> list[dict]:
    return [note_json(n) for c in sorted(cards_of(b)) for n in b.notes(c)]


def side_of(b: Backlog) -> tuple:
    return b.labels(sorted(cards_of(b))), sorted(notes_of(b), key=lambda n: n["id"])


def test_notes_and_labels_go_sqlite_to_postgres_and_back_unchanged(sqlite_url, pg_url, tmp_path):
    src = populate(sqlite_url)
    annotate(src)
    text = dump(src)
    head = json.loads(text.splitlines()[0])
    assert head["version"] == 2 and head["notes"] == 4 and head["labels"] == 5
    pg = Backlog.open(pg_url)
    result = transfer.import_bundle(pg, transfer.parse_lines(text.splitlines()))
    assert (result.notes, result.notes_there, result.labels) == (4, 0, 5)
    back = Backlog.open(str(tmp_path / "back.db"))
    transfer.import_bundle(back, transfer.parse_lines(dump(pg).splitlines()))
    for b in (pg, back):
        assert side_of(b) == side_of(src)  # labels; notes with their ids, authors, kinds, texts, times
        assert [n["kind"] for n in notes_of(b) if n["cardId"] == "mid"] == ["note", "complete"]  # thread order
        assert events_of(b) == events_of(src)  # no trigger-written noted / labeled events added
        assert dump(b).splitlines()[1:] == text.splitlines()[1:]
    pg.note("mid", "after the import", author="bob")  # ids go on after the imported ones
    assert pg.notes("mid")[-1].id > max(n["id"] for n in notes_of(src))
    for b in (src, pg, back):
        b.close()


def test_migrate_carries_notes_and_labels_verified(sqlite_url, pg_url):
    src = populate(sqlite_url)
    annotate(src)
    target = Backlog.open(pg_url)
    got = transfer.migrate(src, target)
    assert got["verified"] and got["notes"] == 4 and got["labels"] == 5
    assert side_of(target) == side_of(src) and events_of(target) == events_of(src)
    src.close()
    target.close()


def test_an_older_export_without_notes_and_labels_still_imports(db_url, tmp_path):
    src = populate(str(tmp_path / "src.db"))
    annotate(src)
    lines = []
    for line in dump(src).splitlines():
        obj = json.loads(line)
        if "format" in obj:  # as version 1 wrote it
            obj = {k: v for k, v in obj.items() if k not in ("notes", "labels")} | {"version": 1}
        elif "note" in obj:
            continue
        obj.pop("labels", None)
        lines.append(json.dumps(obj))
    dst = Backlog.open(db_url)
    result = transfer.import_bundle(dst, transfer.parse_lines(lines))
    assert len(result.inserted) == 6 and (result.notes, result.labels) == (0, 0)
    assert cards_of(dst) == cards_of(src) and side_of(dst) == ({c: [] for c in sorted(cards_of(src))}, [])
    src.close()
    dst.close()


def test_import_appends_only_the_notes_a_card_lacks_and_adds_labels(db_url, tmp_path):
    src = populate(str(tmp_path / "src.db"))
    annotate(src)
    lines = dump(src).splitlines()
    dst = Backlog.open(db_url)
    transfer.import_bundle(dst, transfer.parse_lines(lines))
    dst.note("mid", "ours, written in the target", author="carol")
    dst.label(["mid"], add=["local"], remove=["infra"])
    events = len(dst.events())
    again = transfer.import_bundle(dst, transfer.parse_lines(lines))  # the same file again
    assert (again.notes, again.notes_there, again.labels) == (0, 4, 1)  # only infra on mid comes back
    assert [n.body for n in dst.notes("mid")] == ["first try\nfailed at \x1b[2J step 2 ✓", "second try worked",
                                                  "ours, written in the target"]
    assert dst.labels(["mid"]) == {"mid": ["infra", "local", "m1"]}  # import adds, never removes
    assert [e.kind for e in dst.events()[events:]] == ["labeled"]  # a real change to a card that was there

    # a card that exists with part of its thread: the missing notes are appended, in the file's order
    other = Backlog.open(str(tmp_path / "other.db"))
    other.create("mid", "A different mid")
    other.note("mid", "second try worked", author="agent-2", kind="complete")
    at = src.notes("mid")[1].at  # the same time as the source's, so it is the same note
    other.db.run(lambda conn: conn.execute(NOTES.update().values(at=at)))
    result = transfer.import_bundle(other, transfer.parse_lines(lines))
    assert result.kept == ["mid"] and (result.notes, result.notes_there) == (3, 1)
    assert [n.body for n in other.notes("mid")] == ["second try worked", "first try\nfailed at \x1b[2J step 2 ✓"]
    assert other.notes("mid")[1].at == src.notes("mid")[0].at  # original times kept
    for b in (src, dst, other):
        b.close()


CARD = {"id": "a", "title": "A"}


@pytest.mark.parametrize("line, said", [
    ({"card": CARD, "labels": ["Infra"]}, "line 2: invalid label 'Infra'"),
    ({"card": CARD, "labels": "infra"}, "line 2: labels must be a list of label names"),
    ({**CARD, "labels": ["ok", "no way"]}, "line 2: invalid label 'no way'"),
    ({"note": {"id": 1, "cardId": "a", "kind": "gossip", "body": "x", "at": "2026-03-01T00:00:00+00:00"}},
     "line 2: unknown note kind 'gossip'"),
    ({"note": {"id": 1, "cardId": "a", "body": "  ", "at": "2026-03-01T00:00:00+00:00"}}, "line 2: note 1's body must not be empty"),
    ({"note": {"id": 1, "cardId": "a", "body": "x"}}, "line 2: note time is missing"),
    ({"note": {"id": 0, "cardId": "a", "body": "x", "at": "2026-03-01T00:00:00+00:00"}}, "line 2: note id must be a positive"),
    ({"note": {"id": 1, "cardId": "a", "body": "x", "at": "2026-03-01T00:00:00+00:00", "author": "a\x1bb"}},
     "line 2: owner 'a\\x1bb' contains control characters"),
    ({"note": "x"}, "line 2: a note must be a JSON object"),
])
def test_a_bad_note_or_label_is_refused_naming_its_line(line, said):
    with pytest.raises(InvalidInput) as exc:
        transfer.parse_lines([json.dumps({"format": "mosaic-tui-backlog", "version": 2}), json.dumps(line)])
    assert exc.value.message.startswith(said) and "\n" not in exc.value.message


def test_bad_documents_write_nothing(db_url, run_cli, tmp_path):
    dst = Backlog.open(db_url)
    dst.create("here", "Already here")
    dst.note("here", "a note")
    before = (cards_of(dst), side_of(dst), events_of(dst))
    note = {"cardId": "nowhere", "body": "x", "at": "2026-03-01T00:00:00+00:00"}
    docs = {
        "unknown card": ([{"card": {"id": "new", "title": "New"}, "labels": ["x"]}, {"note": {"id": 1, **note}}],
                         "note 1 is of card 'nowhere', which is neither in the file nor in the backlog"),
        "twice": ([{"card": {"id": "new", "title": "New"}}, {"note": {"id": 1, **note, "cardId": "new"}},
                   {"note": {"id": 1, **note, "cardId": "here"}}], "line 3: note 1 appears twice"),
        "newer": ([{"format": "mosaic-tui-backlog", "version": 3}], "line 1: export version 3 is newer"),
    }
    for lines, said in docs.values():
        path = tmp_path / "doc.jsonl"
        path.write_text("".join(json.dumps(x) + "\n" for x in lines))
        code, out, err = run_cli("import", str(path))
        assert code != 0 and out == "" and said in err and len(err.strip().splitlines()) == 1, err
        assert "Traceback" not in err
    assert (cards_of(dst), side_of(dst), events_of(dst)) == before
    dst.close()
