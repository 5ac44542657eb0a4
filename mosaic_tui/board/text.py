"""Plain-text helpers of the board: literal titles, durations, card summaries.

No Textual here; Rich ``Text`` objects only (never markup parsing), so text
such as ``[bold]`` in a title is shown as typed.
"""

from __future__ import annotations

from datetime import datetime

from mosaic_tui.textsafe import escape, escape_block


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


def duration(seconds: float) -> str:
    """A short human duration: 45s, 12m, 3h05m, 2d04h."""
    s = int(abs(seconds))
    if s < 60:
        return f"{s}s"
    m, s = divmod(s, 60)
    if m < 60:
        return f"{m}m{s:02d}s" if m < 10 else f"{m}m"
    h, m = divmod(m, 60)
    if h < 24:
        return f"{h}h{m:02d}m"
    d, h = divmod(h, 24)
    return f"{d}d{h:02d}h"


def lease_left(card, now: datetime) -> float | None:
    """Seconds of lease left (negative once ended), or None when the card holds no lease."""
    if card.status != "claimed" or card.claimed_at is None or card.claim_ttl_seconds is None:
        return None
    return card.claimed_at.timestamp() + card.claim_ttl_seconds - now.timestamp()
