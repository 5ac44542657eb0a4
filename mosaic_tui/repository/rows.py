"""Shapes of what the repository returns: cards and events from rows, their JSON (the Mosaic
fleet's keys), timestamps in UTC ISO 8601, a card's lease end. (A card's JSON, ``iso`` and
``utcnow`` live in :mod:`mosaic_tui.repository.verbs`, which the CLI's one-shot path shares.)"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from mosaic_tui.db.models import Card, EventRecord, build
from mosaic_tui.repository.verbs import card_json, iso, utcnow
from mosaic_tui.repository.tables import B, EV

__all__ = ["card_from_row", "card_json", "card_of", "event_from_row", "event_json", "iso", "lease_end", "utcnow"]

EVENT_AT = EV.c.at.type


def event_json(ev: EventRecord) -> dict[str, Any]:
    return {
        "id": ev.id,
        "cardId": ev.card_id,
        "kind": ev.kind,
        "oldStatus": ev.old_status,
        "newStatus": ev.new_status,
        "owner": ev.owner,
        "at": iso(ev.at),
    }


def lease_end(card: Card) -> datetime | None:
    if card.status != "claimed" or card.claimed_at is None or card.claim_ttl_seconds is None:
        return None
    return card.claimed_at + timedelta(seconds=card.claim_ttl_seconds)


def card_of(values: dict[str, Any]) -> Card:
    """A card from its decoded values by column name (e.g. ``Prepared.decode``)."""
    if not isinstance(values["depends_on"], list):
        values["depends_on"] = []
    return build(Card, values)


CARD_COLUMNS = tuple(c.name for c in B.c)


def card_from_row(row) -> Card:
    """A card from a row of every column in table order (``select(B)``, ``returning(*B.c)``)."""
    if len(row) != len(CARD_COLUMNS):
        raise ValueError("a card row must hold every column of the backlog table")
    return card_of(dict(zip(CARD_COLUMNS, row)))


def event_from_row(row) -> EventRecord:
    """An event from a row of every column in table order: a SQLAlchemy row (``at`` already a datetime)
    or a raw driver row (``at`` as the driver gives it; SQLite: text)."""
    return EventRecord(row[0], row[1], row[2], row[3], row[4], row[5], EVENT_AT.process_result_value(row[6], None))
