"""Labels inside a transaction: read a card's labels, add and remove them, check a change.

The one home of the label SQL, shared by :meth:`~mosaic_tui.repository.notes.Annotating.label` (the CLI's
``label``, the MCP ``label``), the grooming change :meth:`~mosaic_tui.repository.grooming.bulk.Grooming.relabel`
(the board's ``L``, undoable) with its undo, and import (``mosaic_tui.repository.transfer``). Names follow
:data:`~mosaic_tui.repository.checks.LABEL_RULE`; a card's labels come back sorted. Imports neither the
notes nor the grooming modules (both import it).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from sqlalchemy import Connection, delete, select

from mosaic_tui.db.models import Label
from mosaic_tui.db.sql import insert_or_nothing
from mosaic_tui.errors import InvalidInput
from mosaic_tui.repository.checks import check_label

LABELS = Label.__table__
_CHUNK = 500


def _parts(ids: list[str]) -> Iterator[list[str]]:
    for i in range(0, len(ids), _CHUNK):
        yield ids[i:i + _CHUNK]


def check_label_change(add: Iterable[str], remove: Iterable[str]) -> tuple[list[str], list[str]]:
    """The labels to add and to remove, each checked and sorted: at least one, none both added and removed."""
    add = sorted({check_label(n) for n in add})
    remove = sorted({check_label(n) for n in remove})
    if not add and not remove:
        raise InvalidInput("no label given: +name adds, -name removes")
    both = sorted(set(add) & set(remove))
    if both:
        raise InvalidInput(f"label {both[0]!r} is both added and removed")
    return add, remove


def label_terms(text: str) -> tuple[list[str], list[str]]:
    """``+infra -docs`` (the board's prompt): the labels to add and to remove, checked as
    :func:`check_label_change`. A word without ``+`` or ``-`` is invalid input naming it."""
    add: list[str] = []
    remove: list[str] = []
    for word in (text or "").split():
        if word[0] == "+":
            add.append(word[1:])
        elif word[0] == "-":
            remove.append(word[1:])
        else:
            raise InvalidInput(f"{word!r}: write +{word} to add the label, -{word} to remove it")
    return check_label_change(add, remove)


def change_text(add: Iterable[str], remove: Iterable[str]) -> str:
    """``+infra -docs``: a change as the prompt takes it (what notices and undo labels say)."""
    return " ".join([*(f"+{n}" for n in add), *(f"-{n}" for n in remove)])


def labels_of(conn: Connection, ids: Iterable[str]) -> dict[str, list[str]]:
    """Each card's labels, sorted ([] for a card without any, or that does not exist)."""
    ids = list(dict.fromkeys(ids))
    out: dict[str, list[str]] = {i: [] for i in ids}
    for part in _parts(ids):
        q = select(LABELS.c.card_id, LABELS.c.label).where(LABELS.c.card_id.in_(part)).order_by(LABELS.c.card_id, LABELS.c.label)
        for card_id, label in conn.execute(q):
            out[card_id].append(label)
    return out


def write_labels(conn: Connection, ids: list[str], add: list[str], remove: list[str]) -> None:
    """Add ``add`` to and take ``remove`` from every card of ``ids`` (a label a card has already, or lacks,
    is left alone and writes no event); the triggers of migration 0003 write ``labeled`` / ``unlabeled``."""
    if add and ids:
        conn.execute(insert_or_nothing(conn, LABELS, "card_id", "label"),
                     [{"card_id": i, "label": n} for i in ids for n in add])
    if remove:
        for part in _parts(ids):
            conn.execute(delete(LABELS).where(LABELS.c.card_id.in_(part), LABELS.c.label.in_(remove)))


def set_labels(conn: Connection, wanted: dict[str, Iterable[str]], now: dict[str, list[str]] | None = None) -> None:
    """Give each card of ``wanted`` exactly those labels (``now``: their labels as read already)."""
    now = labels_of(conn, wanted) if now is None else now
    for card_id, names in wanted.items():
        want, have = set(names), set(now.get(card_id, ()))
        write_labels(conn, [card_id], sorted(want - have), sorted(have - want))
