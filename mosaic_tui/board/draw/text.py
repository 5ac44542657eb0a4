"""Plain-text helpers of the board: literal titles, durations, card summaries.

No Textual here; Rich ``Text`` objects only (never markup parsing), so text
such as ``[bold]`` in a title is shown as typed.
"""

from __future__ import annotations

from datetime import datetime

from mosaic_tui.repository.verbs import duration  # the one short duration (the reclaim note's too)
from mosaic_tui.textsafe import escape, escape_block

__all__ = ["duration", "first_line", "lease_left", "literal", "literal_block"]


def literal(s: str | None) -> str:
    """``s`` with every control (and invisible direction) character shown as a visible escape."""
    return escape(s)


def literal_block(s: str | None) -> str:
    """Like :func:`literal` but keeps newlines and tabs (for bodies shown as several lines)."""
    return escape_block(s)


def first_line(s: str | None) -> str | None:
    """The first line of ``s`` that is not blank, stripped (None for none): a reason on a card's row."""
    for line in (s or "").splitlines():
        if line.strip():
            return line.strip()
    return None


def lease_left(card, now: datetime) -> float | None:
    """Seconds of lease left (negative once ended), or None when the card holds no lease."""
    if card.status != "claimed" or card.claimed_at is None or card.claim_ttl_seconds is None:
        return None
    return card.claimed_at.timestamp() + card.claim_ttl_seconds - now.timestamp()
