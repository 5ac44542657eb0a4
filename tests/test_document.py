"""The card document for $EDITOR (pure functions): round trip, errors naming the line, the error banner."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mosaic_tui.db.models import Card
from mosaic_tui.errors import InvalidInput
from mosaic_tui.repository import DocumentError, parse_card, serialize_card, with_error

T = datetime(2026, 1, 5, tzinfo=UTC)


def card(**kw) -> Card:
    values = dict(id="M1-03", title="Agent CLI", body=None, phase=None, priority=0, status="ready", depends_on=[],
                  acceptance=None, created_at=T, updated_at=T)
    values.update(kw)
    return Card(**values)


def fields(c: Card) -> dict:
    return {"title": c.title, "phase": c.phase, "priority": c.priority, "depends_on": c.depends_on,
            "body": c.body, "acceptance": c.acceptance}


def test_document_reads_as_documented():
    c = card(body="# Heading\n\n- item\n--- not a marker", phase="M1", priority=3, depends_on=["M1-01", "M1-02"],
             acceptance={"tests": ["cli"]})
    doc = serialize_card(c)
    lines = doc.splitlines()
    assert lines[2:7] == ["title: Agent CLI", "phase: M1", "priority: 3", "depends on: M1-01, M1-02",
                          "--- body (markdown) ---"]
    assert parse_card(doc) == fields(c)


line_text = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=0, max_size=30)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)


@settings(max_examples=200, deadline=None)
@given(
    title=line_text.filter(lambda s: s.strip()).map(str.strip),
    phase=st.none() | line_text.filter(lambda s: s.strip()).map(str.strip),
    priority=st.integers(-2**31 + 1, 2**31 - 1),
    deps=st.lists(st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,8}", fullmatch=True), max_size=4, unique=True),
    body=st.none() | st.lists(line_text, min_size=1, max_size=5).map("\n".join).filter(lambda s: s.strip()).map(str.rstrip),
    acceptance=json_values,
)
def test_round_trip(title, phase, priority, deps, body, acceptance):
    c = card(title=title, phase=phase, priority=priority, depends_on=deps, body=body, acceptance=acceptance)
    assert parse_card(serialize_card(c)) == fields(c)


@pytest.mark.parametrize("edit,message", [
    (lambda d: d.replace("priority: 0", "priority: high"), "line 5: priority must be an integer, not 'high'"),
    (lambda d: d.replace("title: Agent CLI", "title:   "), "line 3: title must not be empty"),
    (lambda d: d.replace("phase: ", "colour: red\nphase: "), "line 4: expected 'field: value'"),
    (lambda d: d.replace("phase: ", "title: again\nphase: "), "line 4: title is given twice (also on line 3)"),
    (lambda d: d.replace("--- body (markdown) ---\n", ""), "is missing"),
    (lambda d: d.replace("title: Agent CLI\n", ""), "the title line is missing"),
    (lambda d: d + '{"a": 1,\n  oops}\n', "line 10: acceptance is not valid JSON"),
    (lambda d: d.replace("depends on: ", "depends on: ok, bad\x1bid"), "line 6: dependency id 'bad\\x1bid' contains control"),
    (lambda d: d + "\x00", "NUL"),
])
def test_errors_name_the_line(edit, message):
    doc = edit(serialize_card(card()))
    with pytest.raises(DocumentError) as info:
        parse_card(doc)
    assert isinstance(info.value, InvalidInput) and message in str(info.value)


def test_lenient_spellings_and_defaults():
    doc = "Title: x\nDEPENDS  ON: a b,c\n# a comment\n---  body ---\nhello\n\n\n---acceptance---\n\n"
    assert parse_card(doc) == {"title": "x", "phase": None, "priority": 0, "depends_on": ["a", "b", "c"],
                               "body": "hello", "acceptance": None}
    # No acceptance line: acceptance is left as it is (absent), the rest is body.
    got = parse_card("title: y\n--- body ---\nline one\r\nline two\r\n")
    assert got["body"] == "line one\nline two" and "acceptance" not in got


def test_with_error_puts_one_banner_on_top_with_the_line_shifted():
    doc = serialize_card(card()).replace("priority: 0", "priority: x")
    with pytest.raises(DocumentError) as info:
        parse_card(doc)
    again = with_error(doc, info.value)
    assert again.startswith("# ERROR: line 6: priority must be an integer")
    assert again.splitlines()[5] == "priority: x"  # line 6 of the new text is the bad line
    with pytest.raises(DocumentError) as info2:
        parse_card(again)  # still wrong: the banner is replaced, not stacked, and the line still matches
    third = with_error(again, info2.value)
    assert third.count("# ERROR:") == 1 and third.splitlines()[5] == "priority: x"
    assert third.startswith("# ERROR: line 6:")
