"""Notes and labels in an export and an import (the side tables' half of ``mosaic_tui.repository.transfer``).

In the file (format version 2, ``docs/cli.md``):

* a card's labels ride on its line: ``{"card": {...}, "labels": ["docs", "infra"]}`` (no key: none; a bare
  card object may carry ``"labels"`` too);
* each note is a line ``{"note": {"id", "cardId", "author", "kind", "body", "at"}}`` (``note_json``), after
  the cards, in id order: the thread's order.

What import does with them (inside the import's one transaction; ``docs/semantics.md``, *Export and import*):

* labels are added, never removed: a card ends with its labels in the target plus the file's;
* notes are appended, never edited or removed: a note of the file that the card has already (same author,
  kind, text and time) is not written again, so importing the same file twice adds nothing; the others go
  at the end of the card's thread, in the file's order, with their original times;
* into a backlog with no notes at all, notes keep their ids (export -> import -> export gives the same file);
* a note or labels of a card that is neither in the file nor in the backlog: refused, nothing written;
* the triggers' ``noted`` / ``labeled`` events for a newly inserted card whose history the file carries are
  dropped (the file's history has them); for a card that was there already they stay (something was added
  to it now).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy import Connection, Table, func, select, text

from mosaic_tui.db.sql import insert_or_nothing
from mosaic_tui.db.verbs_sql import to_utc
from mosaic_tui.errors import InvalidInput
from mosaic_tui.repository.checks import check_id, check_label, check_note, check_note_kind, check_owner
from mosaic_tui.repository.labeling import LABELS
from mosaic_tui.repository.notes import NOTES, NoteRecord, note_json
from mosaic_tui.repository.tables import B

CHUNK = 500


def _chunks(items: list, n: int = CHUNK):
    for i in range(0, len(items), n):
        yield items[i:i + n]


# --------------------------------------------------------------------------- export
def read_side(conn: Connection) -> tuple[dict[str, list[str]], list[dict[str, Any]]]:
    """Every card's labels (sorted) and every note (``note_json``, in id order), in the caller's snapshot."""
    labels: dict[str, list[str]] = {}
    for card_id, label in conn.execute(select(LABELS.c.card_id, LABELS.c.label).order_by(LABELS.c.card_id, LABELS.c.label)):
        labels.setdefault(card_id, []).append(label)
    notes = [note_json(NoteRecord(r[0], r[1], r[2], r[3], r[4], to_utc(r[5])))
             for r in conn.execute(select(NOTES).order_by(NOTES.c.id))]
    return labels, notes


# --------------------------------------------------------------------------- parsing
def labels_value(value: Any) -> list[str]:
    """A card line's ``labels``: a list of label names, checked, sorted, each once."""
    if not isinstance(value, list):
        raise InvalidInput("labels must be a list of label names")
    return sorted({check_label(n) for n in value})


def note_row(d: Any, ts) -> dict[str, Any]:
    """A note line's object as a row, checked (``ts``: the transfer's timestamp reader)."""
    if not isinstance(d, dict):
        raise InvalidInput("a note must be a JSON object")
    note_id = d.get("id")
    if isinstance(note_id, bool) or not isinstance(note_id, int) or note_id < 1:
        raise InvalidInput(f"note id must be a positive integer, not {note_id!r}")
    author = d.get("author")
    return {
        "id": note_id,
        "card_id": check_id(d.get("cardId")),
        "author": None if author is None else check_owner(author),
        "kind": check_note_kind(d.get("kind", "note")),
        "body": check_note(d.get("body"), f"note {note_id}'s body"),
        "at": ts(d.get("at"), "note time", required=True),
    }


# --------------------------------------------------------------------------- import
def check_side(conn: Connection, notes: list[dict[str, Any]], known: set[str]) -> None:
    """Before anything is written: every card the file's notes belong to is in the file (``known``) or in the
    backlog (labels ride on card lines: always of a card of the file)."""
    others = sorted({n["card_id"] for n in notes} - known)
    found: set[str] = set()
    for part in _chunks(others):
        found |= set(conn.execute(select(B.c.id).where(B.c.id.in_(part))).scalars())
    missing = [i for i in others if i not in found]
    if missing:
        first = next(n for n in notes if n["card_id"] == missing[0])
        raise InvalidInput(f"note {first['id']} is of card {missing[0]!r}, which is neither in the file nor in the backlog")


def _key(card_id, author, kind, body, at) -> tuple:
    return card_id, author, kind, body, to_utc(at)


def write_side(conn: Connection, labels: dict[str, list[str]], notes: list[dict[str, Any]]) -> tuple[int, int, int]:
    """Add the file's labels and append its notes not already there: (notes added, notes already there,
    labels added)."""
    before = conn.execute(select(func.count()).select_from(LABELS)).scalar_one()
    pairs = [{"card_id": c, "label": n} for c, names in labels.items() for n in names]
    for part in _chunks(pairs):
        conn.execute(insert_or_nothing(conn, LABELS, "card_id", "label"), part)
    added_labels = conn.execute(select(func.count()).select_from(LABELS)).scalar_one() - before
    if not notes:
        return 0, 0, added_labels
    verbatim = conn.execute(select(func.count()).select_from(NOTES)).scalar_one() == 0
    there: Counter = Counter()
    if not verbatim:
        ids = sorted({n["card_id"] for n in notes})
        for part in _chunks(ids):
            q = select(NOTES.c.card_id, NOTES.c.author, NOTES.c.kind, NOTES.c.body, NOTES.c.at).where(NOTES.c.card_id.in_(part))
            there.update(_key(*r) for r in conn.execute(q))
    going: list[dict[str, Any]] = []
    for n in notes:
        k = _key(n["card_id"], n["author"], n["kind"], n["body"], n["at"])
        if there[k] > 0:
            there[k] -= 1
        else:
            going.append(n if verbatim else {k2: v for k2, v in n.items() if k2 != "id"})
    for part in _chunks(going):
        conn.execute(NOTES.insert(), part)
    if verbatim:
        bump_sequence(conn, NOTES)
    return len(going), len(notes) - len(going), added_labels


_BUMP = text("SELECT setval(pg_get_serial_sequence(:table, 'id'), "
             "GREATEST(:top, nextval(pg_get_serial_sequence(:table, 'id'))))")


def bump_sequence(conn: Connection, table: Table) -> None:
    """Postgres: move ``table``'s id sequence past every id in it (never backwards). Run where nothing else
    writes the table meanwhile (import and migrate hold the backlog's lock)."""
    if conn.dialect.name == "postgresql":
        top = conn.execute(select(func.coalesce(func.max(table.c.id), 0))).scalar_one()
        conn.execute(_BUMP, {"table": table.name, "top": top})


def verify_side(conn: Connection, labels: dict[str, list[str]], notes: list[dict[str, Any]]) -> str | None:
    """What differs after the copy (None: every label and every note of the file is in the target)."""
    ids = sorted(labels)
    have: set[tuple[str, str]] = set()
    for part in _chunks(ids):
        have |= set(map(tuple, conn.execute(select(LABELS.c.card_id, LABELS.c.label).where(LABELS.c.card_id.in_(part)))))
    lost = [(c, n) for c, names in labels.items() for n in names if (c, n) not in have]
    if lost:
        return f"{len(lost)} labels missing after the copy (first: {lost[0][1]!r} of {lost[0][0]!r})"
    there: Counter = Counter()
    for part in _chunks(sorted({n["card_id"] for n in notes})):
        q = select(NOTES.c.card_id, NOTES.c.author, NOTES.c.kind, NOTES.c.body, NOTES.c.at).where(NOTES.c.card_id.in_(part))
        there.update(_key(*r) for r in conn.execute(q))
    want = Counter(_key(n["card_id"], n["author"], n["kind"], n["body"], n["at"]) for n in notes)
    short = want - there
    if short:
        return f"{sum(short.values())} notes missing after the copy (first of card {next(iter(short))[0]!r})"
    return None
