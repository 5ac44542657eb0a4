"""One set of rules for editing a card (``checks.check_edit``), on both backends: the same input gets the same
answer from every path that edits -- ``Backlog.edit`` (the repository's verb), ``Backlog.update_card`` (the
board's edit form, its dependency keys), the board form's own check before it closes, ``$EDITOR``'s document
(``apply_document``) where the document can say it, and ``create`` for a phase."""

from __future__ import annotations

import pytest

from mosaic_tui.db.engine import open_database
from mosaic_tui.errors import Conflict, InvalidInput, MosaicError, NotFound
from mosaic_tui.repository import Backlog, check_edit, serialize_card

FIELDS = ("title", "body", "phase", "priority", "acceptance", "depends_on")

# (changes, what the card holds after, or the error's class and message)
CASES = [
    ({"phase": "  M2  "}, {"phase": "M2"}),  # spaces around a phase trimmed (Backlog.edit stored them)
    ({"phase": ""}, {"phase": None}),  # empty: no phase
    ({"phase": "   "}, {"phase": None}),
    ({"phase": None}, {"phase": None}),
    ({"phase": "\x1b[31mred"}, (InvalidInput, "phase must be text without control characters")),  # edit stored it
    ({"phase": "tab\there"}, (InvalidInput, "phase must be text without control characters")),
    ({"phase": "a\x00b"}, (InvalidInput, "phase contains a NUL character")),
    ({"phase": 7}, (InvalidInput, "phase must be text")),
    ({"title": "  spaced title "}, {"title": "  spaced title "}),
    ({"title": ""}, (InvalidInput, "title must not be empty")),
    ({"title": "two\nlines"}, (InvalidInput, "title must be one line")),
    ({"priority": "7"}, {"priority": 7}),
    ({"priority": "seven"}, (InvalidInput, "priority must be an integer, not 'seven'")),
    ({"priority": 2**40}, (InvalidInput, f"priority {2**40} is out of range (a 32-bit integer)")),
    ({"body": "# plan\n\n- one path"}, {"body": "# plan\n\n- one path"}),
    ({"acceptance": {"tests": ["x"]}}, {"acceptance": {"tests": ["x"]}}),
    ({"acceptance": float("nan")}, (InvalidInput, "acceptance is not valid JSON")),
    ({"depends_on": ["dep", "dep"]}, {"depends_on": ["dep"]}),  # the edit path of Backlog.edit refused the field
    ({"depends_on": []}, {"depends_on": []}),
    ({"depends_on": ["c"]}, (InvalidInput, "card 'c' cannot depend on itself")),
    ({"depends_on": ["nope"]}, (InvalidInput, "unknown dependency: nope")),
    ({"depends_on": "dep"}, (InvalidInput, "dependencies must be a list of card ids, not one string")),
    ({"status": "done"}, (InvalidInput, "cannot edit status (only title, body, phase, priority, acceptance, depends_on)")),
    ({"claim_owner": "x", "id": "y"}, (InvalidInput, "cannot edit claim_owner, id (only")),
]


@pytest.fixture
def backlog(db_url):
    b = Backlog(open_database(db_url))
    yield b
    b.close()


def _seed(b: Backlog) -> None:
    b.create("dep", "a dependency")
    b.create("c", "the card", phase="M1", priority=1, body="body", acceptance={"a": 1})


def _state(b: Backlog) -> tuple:
    c = b.get("c")
    return b.last_event_id(), tuple(getattr(c, f) for f in FIELDS), c.updated_at


def _answer(b: Backlog, call) -> tuple:
    """(error class, message) or ("ok", the fields after); a refusal must leave the card and the log alone."""
    before = _state(b)
    try:
        call()
    except MosaicError as exc:
        assert _state(b) == before, "a refused edit wrote something"
        return type(exc).__name__, str(exc)
    c = b.get("c")
    return "ok", {f: getattr(c, f) for f in FIELDS}


def _fresh(b: Backlog) -> None:
    ids = b.ids()
    if ids:
        b.delete(ids)
    _seed(b)


def _form(b: Backlog, changes: dict) -> None:
    """What the board's edit form does on save: its own check (the form stays open on a refusal), then
    ``update_card`` with what the check gave."""
    values, _ = check_edit("c", changes)
    b.update_card("c", **values)


def _paths(b: Backlog, changes: dict):
    yield "Backlog.edit", lambda: b.edit("c", **changes)
    yield "Backlog.update_card", lambda: b.update_card("c", **changes)
    if set(changes) <= {"title", "body", "phase", "priority"}:  # the form's fields
        yield "the board's form", lambda: _form(b, changes)


@pytest.mark.parametrize("changes,expected", CASES, ids=[repr(c)[:40] for c, _ in CASES])
def test_every_edit_path_gives_the_same_answer(backlog, changes, expected):
    answers = {}
    for name, call in _paths(backlog, changes):
        _fresh(backlog)  # each path starts from the same card
        answers[name] = _answer(backlog, call)
    assert len(answers) >= 2 and len(set(map(repr, answers.values()))) == 1, answers
    kind, got = next(iter(answers.values()))
    if isinstance(expected, tuple):
        assert (kind, got[:len(expected[1])]) == (expected[0].__name__, expected[1])
    else:
        assert kind == "ok" and {k: got[k] for k in expected} == expected


def test_the_editor_document_and_the_verb_agree(backlog):
    """``$EDITOR``'s document says a phase and a priority as text: the same rules, the same card."""
    _seed(backlog)
    text = serialize_card(backlog.get("c")).replace("phase: M1", "phase:   M3  ").replace("priority: 1", "priority: 9")
    backlog.apply_document("c", text)
    by_document = backlog.get("c")
    backlog.edit("c", phase="M1", priority=1)
    backlog.edit("c", phase="   M3  ", priority="9")
    by_verb = backlog.get("c")
    assert (by_document.phase, by_document.priority) == (by_verb.phase, by_verb.priority) == ("M3", 9)
    bad = text.replace("phase:   M3  ", "phase: \x1b[1mM3")
    with pytest.raises(InvalidInput, match=r"^line 4: phase must be text without control characters$"):
        backlog.apply_document("c", bad)
    with pytest.raises(InvalidInput, match=r"^phase must be text without control characters$"):
        backlog.edit("c", phase="\x1b[1mM3")


def test_an_edit_that_changes_nothing_writes_nothing_on_every_path(backlog):
    _seed(backlog)
    before = _state(backlog)
    assert backlog.edit("c", title="the card", phase=" M1 ").title == "the card"
    assert backlog.update_card("c", title="the card", phase="M1").done == []
    assert _state(backlog) == before


def test_conflict_and_missing_card_read_the_same_on_both(backlog):
    _seed(backlog)
    seen = backlog.get("c").updated_at
    backlog.edit("c", title="moved on")
    for call in (lambda: backlog.edit("c", expected_updated_at=seen, title="x"),
                 lambda: backlog.update_card("c", expected_updated_at=seen, title="x")):
        with pytest.raises(Conflict, match="^card 'c' was changed by someone else; reload it and try again$"):
            call()
    for call in (lambda: backlog.edit("gone", title="x"), lambda: backlog.update_card("gone", title="x")):
        with pytest.raises(NotFound, match="^no card 'gone'$"):
            call()


def test_create_takes_a_phase_by_the_same_rule(backlog):
    assert backlog.create("p1", "t", phase="  M2 ").phase == "M2"
    assert backlog.create("p2", "t", phase="").phase is None
    with pytest.raises(InvalidInput, match="^phase must be text without control characters$"):
        backlog.create("p3", "t", phase="\x1b[31mM2")
