"""Plain-text helpers of the board: literal titles, durations, card summaries.

No Textual here; Rich ``Text`` objects only (never markup parsing), so text
such as ``[bold]`` in a title is shown as typed.
"""

from __future__ import annotations

import re
from datetime import datetime

_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff]")
_NAMED = {"\n": "\\n", "\t": "\\t", "\r": "\\r", "\x1b": "\\e"}


def _escape(m: re.Match) -> str:
    ch = m.group()
    if ch in _NAMED:
        return _NAMED[ch]
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def literal(s: str | None) -> str:
    """``s`` with every control (and invisible direction) character shown as a visible escape."""
    if not s:
        return ""
    return _CONTROL.sub(_escape, s)


def literal_block(s: str | None) -> str:
    """Like :func:`literal` but keeps newlines and tabs (for bodies shown as several lines)."""
    if not s:
        return ""
    return "\n".join(literal(line).replace("\\t", "    ") for line in s.replace("\r\n", "\n").split("\n"))


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
