"""Notes and labels: what people and agents say about a card, and the names they file it under.

A mixin of :class:`~mosaic_tui.repository.backlog.Backlog` (it uses the Backlog's ``db`` and ``now``).

* **Notes** (``backlog_notes``): an append-only thread per card. Each note has an
  author (an agent's owner, a person's name, or none for the system), a kind
  (:data:`~mosaic_tui.repository.checks.NOTE_KINDS`: ``note``; ``block``,
  ``release`` and ``complete`` for the reason or summary given with those
  changes; ``system`` for what the backlog itself says, e.g. a reclaimed
  lease), its text (at most 16 KiB, never empty) and when (the repository's
  clock). A note is written by the hot path's own statement
  (:func:`mosaic_tui.repository.verbs.add_note`), so a reason given with a
  status change is in that change's transaction.
* **Labels** (``backlog_labels``): one row per (card, label); names follow
  :data:`~mosaic_tui.repository.checks.LABEL_RULE`; a card's labels come back sorted.

The triggers of migration 0003 turn both into events (``noted``, ``labeled``,
``unlabeled``), and delete a card's notes and labels with the card.
"""

from __future__ import annotations

import getpass
from collections.abc import Iterable
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Connection, func, select

from mosaic_tui.db.verbs_sql import to_utc
from mosaic_tui.db.models import Note
from mosaic_tui.errors import InvalidInput, NotFound
from mosaic_tui.repository import verbs
from mosaic_tui.repository.checks import check_id, check_note, check_note_kind, check_owner
from mosaic_tui.repository.labeling import LABELS, check_label_change, labels_of, write_labels
from mosaic_tui.repository.rows import card_from_row
from mosaic_tui.repository.tables import B
from mosaic_tui.repository.grooming.undo import chunks

__all__ = ["LABELS", "LATEST_NOTES", "NOTES", "Annotating", "CardView", "NoteRecord", "note_json", "of_card", "person",
           "view_json"]

NOTES = Note.__table__
#: How many notes ``show --json`` (and the MCP ``show``-like answers) carry: the latest ones, oldest first.
LATEST_NOTES = 20


class NoteRecord(NamedTuple):
    id: int
    card_id: str
    author: str | None
    kind: str
    body: str
    at: datetime


def note_json(n: NoteRecord) -> dict[str, Any]:
    return {"id": n.id, "cardId": n.card_id, "author": n.author, "kind": n.kind, "body": n.body, "at": verbs.iso(n.at)}


class CardView(NamedTuple):
    """What ``show`` shows: the card, its labels (sorted), its latest notes (oldest first) and how many it has."""

    card: Any
    labels: list[str]
    notes: list[NoteRecord]
    note_count: int


def view_json(v: CardView) -> dict[str, Any]:
    """``show --json`` (and the MCP ``show``): the card's keys, then ``labels``, ``notes``, ``noteCount``."""
    return {**verbs.card_json(v.card), "labels": v.labels, "notes": [note_json(n) for n in v.notes],
            "noteCount": v.note_count}


def person() -> str:
    """Who a person is when they do not say (a note from the board or the CLI without --owner): their login."""
    try:
        name = getpass.getuser().strip()
    except Exception:  # noqa: BLE001 - no login name (a container without passwd entry): a plain word
        name = ""
    try:
        return check_owner(name)
    except InvalidInput:
        return "person"


def _record(row) -> NoteRecord:
    return NoteRecord(row[0], row[1], row[2], row[3], row[4], to_utc(row[5]))


def _require(conn: Connection, ids: list[str]) -> None:
    """NotFound naming the missing cards; the found ones key-share locked (Postgres) until commit."""
    found: set[str] = set()
    for part in chunks(ids):
        found |= set(conn.execute(select(B.c.id).where(B.c.id.in_(part)).with_for_update(key_share=True)).scalars())
    missing = [i for i in ids if i not in found]
    if missing:
        raise NotFound("no card " + ", ".join(repr(i) for i in missing[:5]) + (" ..." if len(missing) > 5 else ""))


def _block_reasons_of(conn: Connection, ids: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in chunks(ids):
        latest = (select(func.max(NOTES.c.id)).where(NOTES.c.card_id.in_(part), NOTES.c.kind == "block")
                  .group_by(NOTES.c.card_id))
        out.update(conn.execute(select(NOTES.c.card_id, NOTES.c.body).where(NOTES.c.id.in_(latest))).all())
    return out


def of_card(card_id: str) -> tuple:
    """``card_id`` as a range of one value, for a read in the order of the index on (card_id, id).

    With ``card_id = :id`` a planner drops card_id from the order (it is fixed), and Postgres may then
    walk the primary key from the newest note of any card, filtering (16 ms at 100,000 notes, growing
    with the table); as a range, only the index on (card_id, id) gives the order: 20 entries read
    (0.05 ms), on both backends.
    """
    return NOTES.c.card_id >= card_id, NOTES.c.card_id <= card_id


def _thread(conn: Connection, card_id: str, limit: int | None) -> tuple[list[NoteRecord], int]:
    """The latest ``limit`` notes of the card, oldest first (read backwards on (card_id, id)), and the count."""
    q = select(NOTES).where(*of_card(card_id)).order_by(NOTES.c.card_id.desc(), NOTES.c.id.desc())
    if limit is not None:
        q = q.limit(limit)
    rows = [_record(r) for r in conn.execute(q)]
    total = len(rows)
    if limit is not None and total == limit:
        total = conn.execute(select(func.count()).select_from(NOTES).where(NOTES.c.card_id == card_id)).scalar_one()
    return rows[::-1], total


class Annotating:
    """Notes and labels (the mixin's half of :class:`~mosaic_tui.repository.backlog.Backlog`)."""

    # -- notes ------------------------------------------------------------------
    def note(self, card_id: str, body: str, *, author: str | None = None, kind: str = "note") -> NoteRecord:
        """Append a note to card ``card_id``: its record. Empty, NUL or over 16 KiB: invalid input, nothing written."""
        check_id(card_id)
        body = check_note(body)
        kind = check_note_kind(kind)
        if author is not None:
            author = check_owner(author)
        now = self.now()
        row = self.db.run(lambda tx: verbs.add_note(tx, card_id, body, author=author, kind=kind, now=now), driver=True)
        return _record(row)

    def notes(self, card_id: str, *, limit: int | None = None) -> list[NoteRecord]:
        """Card ``card_id``'s notes, oldest first (with ``limit``: the latest ``limit`` of them); NotFound if no card."""
        return self.thread(card_id, limit=limit)[0]

    def thread(self, card_id: str, *, limit: int | None = LATEST_NOTES) -> tuple[list[NoteRecord], int]:
        """The latest ``limit`` notes (all: None), oldest first, and how many there are in all; one transaction."""
        check_id(card_id)
        if limit is not None and limit < 0:
            raise InvalidInput("limit must not be negative")

        def tx(conn: Connection):
            if conn.execute(select(B.c.id).where(B.c.id == card_id)).first() is None:
                raise NotFound(f"no card {card_id!r}")
            return _thread(conn, card_id, limit)

        return self.db.run(tx, write=False)

    def view(self, card_id: str) -> CardView:
        """The card, its labels and its latest :data:`LATEST_NOTES` notes, read in one transaction (``show``)."""
        check_id(card_id)

        def tx(conn: Connection) -> CardView:
            row = conn.execute(select(B).where(B.c.id == card_id)).first()
            if row is None:
                raise NotFound(f"no card {card_id!r}")
            notes, total = _thread(conn, card_id, LATEST_NOTES)
            return CardView(card_from_row(row), labels_of(conn, [card_id])[card_id], notes, total)

        return self.db.run(tx, write=False)

    def block_reasons(self, ids: Iterable[str]) -> dict[str, str]:
        """The text of each card's latest ``block`` note (cards without one are left out)."""
        ids = list(dict.fromkeys(ids))
        return self.db.run(lambda conn: _block_reasons_of(conn, ids), write=False) if ids else {}

    # -- labels -----------------------------------------------------------------
    def label(self, ids: Iterable[str], add: Iterable[str] = (), remove: Iterable[str] = ()) -> dict[str, list[str]]:
        """Add and remove labels on every card of ``ids``, one transaction: each card's labels after, sorted.

        An invalid name, a label both added and removed, or no label at all is invalid input; an unknown card
        is not found; either way nothing is written. Adding a label a card has, or removing one it has not,
        changes nothing (and writes no event)."""
        ids = [check_id(i) for i in dict.fromkeys(ids)]
        add, remove = check_label_change(add, remove)
        if not ids:
            raise InvalidInput("no card given")

        def tx(conn: Connection) -> dict[str, list[str]]:
            _require(conn, ids)
            write_labels(conn, ids, add, remove)
            return labels_of(conn, ids)

        return self.db.run(tx)

    def labels(self, ids: Iterable[str]) -> dict[str, list[str]]:
        """Each card's labels, sorted ([] for a card without, or that does not exist)."""
        ids = list(dict.fromkeys(ids))
        return self.db.run(lambda conn: labels_of(conn, ids), write=False) if ids else {}

    def all_labels(self) -> list[tuple[str, int]]:
        """Every label in use and on how many cards, by name."""
        q = select(LABELS.c.label, func.count()).group_by(LABELS.c.label).order_by(LABELS.c.label)
        return [tuple(r) for r in self.db.run(lambda conn: conn.execute(q).all(), write=False)]
