"""What the fleet is doing: the newest events with their cards, and the claims that need attention.

Below the entry floor (no textual, rich or click); the board's activity
timeline and its "needs attention" badge read through these.

**Needs attention** is a claim whose holder has gone quiet:

* ``stale`` -- its lease has ended and no one has reclaimed the card yet (the
  next claim or ``reclaim`` will);
* ``silent`` -- its holder has not heartbeated for half its lease: a
  heartbeat (and the claim itself) stamps ``updated_at`` and moves the lease's
  end to ``now + ttl``, so the holder is silent once more time has passed
  since ``updated_at`` than remains until the lease's end.

One query over the claimed cards (the partial ``backlog_claimed_idx``), so
its cost follows the number of claims, not the size of the backlog.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import and_, bindparam, case, func, literal_column, or_, select

from mosaic_tui.db.models import EventRecord
from mosaic_tui.db.sql import LeaseEnd
from mosaic_tui.db.timing import MillisBetween
from mosaic_tui.db.types import UTCDateTime
from mosaic_tui.repository.tables import CLAIMED, EV, B

if TYPE_CHECKING:
    from mosaic_tui.repository import Backlog


@dataclass(frozen=True)
class Quiet:
    """One claim that needs attention."""

    card_id: str
    owner: str | None
    state: str  # "stale" or "silent"
    silent_seconds: float  # since the holder's last heartbeat (or claim)


@dataclass(frozen=True)
class Attention:
    stale: int = 0
    silent: int = 0
    claims: tuple[Quiet, ...] = ()  # stale first, then the longest silent; at most ``limit``

    @property
    def count(self) -> int:
        return self.stale + self.silent


def needs_attention(backlog: Backlog, *, now: datetime | None = None, limit: int = 50) -> Attention:
    """The claims whose lease has ended unreclaimed (stale) or whose holder is past half its lease unheard (silent)."""
    now = now or backlog.now()
    at = bindparam("now", now, type_=UTCDateTime())
    ended = LeaseEnd(B) < at
    silent = MillisBetween(at, B.c.updated_at) > MillisBetween(LeaseEnd(B), at)
    state = case((ended, literal_column("'stale'")), else_=literal_column("'silent'")).label("state")
    quiet = select(B.c.id, B.c.claim_owner, state, MillisBetween(at, B.c.updated_at).label("quiet_ms")).where(
        B.c.status == CLAIMED, B.c.claimed_at.is_not(None), or_(ended, silent)
    )
    sub = quiet.subquery()
    counts = select(sub.c.state, func.count()).group_by(sub.c.state)
    page = select(sub).order_by(sub.c.state.desc(), sub.c.quiet_ms.desc(), sub.c.id).limit(limit)

    def tx(conn):
        return dict(conn.execute(counts).all()), conn.execute(page).all()

    n, rows = backlog.db.run(tx, write=False)
    claims = tuple(Quiet(r[0], r[1], r[2], max(0.0, int(r[3]) / 1000)) for r in rows)
    return Attention(n.get("stale", 0), n.get("silent", 0), claims)


# --------------------------------------------------------------------------- the timeline
@dataclass(frozen=True)
class Activity:
    """An event with what a timeline line shows of its card: title "" once the card is deleted
    (None: not looked up yet); for a ``noted`` event, ``note``: the note's kind and text (None: not
    looked up yet, or gone with its card)."""

    event: EventRecord
    title: str | None
    priority: int | None
    note: tuple[str, str] | None = None


def recent(
    backlog: Backlog,
    *,
    limit: int = 200,
    owner: str | None = None,
    card: str | None = None,
    before: int | None = None,
    heartbeats: bool = True,
) -> list[Activity]:
    """The newest events first (before event id ``before`` if given), optionally of one owner or one card.

    Walks the event ids downwards (the primary key; ``card``: the card's
    index) and looks each event's card up by key: ``limit`` rows of work,
    whatever the size of the log (a rare owner's filter reads further back).
    """
    q = (
        select(*EV.c, B.c.title, B.c.priority)
        .select_from(EV.outerjoin(B, B.c.id == EV.c.card_id))
        .order_by(EV.c.id.desc())
        .limit(limit)
    )
    conds = []
    if owner is not None:
        conds.append(EV.c.owner == owner)
    if card is not None:
        conds.append(EV.c.card_id == card)
    if before is not None:
        conds.append(EV.c.id < before)
    if not heartbeats:
        conds.append(EV.c.kind != literal_column("'heartbeat'"))
    if conds:
        q = q.where(and_(*conds))
    rows = backlog.db.run(lambda conn: conn.execute(q).all(), write=False)
    found = [Activity(EventRecord(*r[:7]), r[7] or "", r[8]) for r in rows]  # Core rows: `at` already a datetime
    notes = note_texts(backlog, [a.event for a in found])
    return [Activity(a.event, a.title, a.priority, notes.get(a.event.id)) if a.event.id in notes else a for a in found]


def note_texts(backlog: Backlog, events) -> dict[int, tuple[str, str]]:
    """``{event id: (kind, text)}`` of the notes the ``noted`` events among ``events`` announced.

    A note and its event are written together, both in id order, and a card's notes go with the card;
    so the k-th ``noted`` event of a card since its last ``created`` event announced its k-th note. One
    read of the card's events and of its first notes per card (only the cards of ``events``).
    """
    from mosaic_tui.repository.notes import NOTES as N, of_card
    wanted: dict[str, set[int]] = {}
    for ev in events:
        if ev.kind == "noted":
            wanted.setdefault(ev.card_id, set()).add(ev.id)
    if not wanted:
        return {}

    def tx(conn) -> dict[int, tuple[str, str]]:
        out: dict[int, tuple[str, str]] = {}
        for card_id, ids in wanted.items():
            born = conn.execute(select(func.coalesce(func.max(EV.c.id), 0)).where(
                EV.c.card_id == card_id, EV.c.kind == literal_column("'created'"))).scalar_one()
            noted = conn.execute(select(EV.c.id).where(
                EV.c.card_id == card_id, EV.c.kind == literal_column("'noted'"), EV.c.id > born,
                EV.c.id <= max(ids)).order_by(EV.c.id)).scalars().all()
            ranks = {ev_id: k for k, ev_id in enumerate(noted) if ev_id in ids}
            if not ranks:
                continue
            notes = conn.execute(select(N.c.kind, func.substr(N.c.body, 1, 500)).where(*of_card(card_id))
                                 .order_by(N.c.card_id, N.c.id).limit(max(ranks.values()) + 1)).all()
            for ev_id, k in ranks.items():
                if k < len(notes):
                    out[ev_id] = (notes[k][0], notes[k][1])
        return out

    return backlog.db.run(tx, write=False)


def titles(backlog: Backlog, ids: list[str]) -> dict[str, tuple[str, int]]:
    """``{id: (title, priority)}`` of the named cards that exist (for events that arrive live)."""
    ids = list(dict.fromkeys(ids))
    out: dict[str, tuple[str, int]] = {}

    def tx(conn):
        for i in range(0, len(ids), 500):
            for r in conn.execute(select(B.c.id, B.c.title, B.c.priority).where(B.c.id.in_(ids[i:i + 500]))):
                out[r[0]] = (r[1], r[2])
        return out

    return backlog.db.run(tx, write=False) if ids else out
