"""The fleet: who holds what, who is stuck, how fast each agent works (the repository floor).

One read, :func:`agents`, aggregated in SQL over ``backlog`` and
``backlog_events`` on both backends (the event log the triggers write, so
other programs' agents count too). Only the seconds between two timestamps
are spelled differently per backend (:class:`mosaic_tui.db.timing.Seconds`). No textual, no rich.

Meant to become ``Backlog.agents()`` once the repository is a package.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, bindparam, case, func, literal_column, select

from mosaic_tui.db.sql import LeaseEnd
from mosaic_tui.db.timing import Seconds
from mosaic_tui.db.types import UTCDateTime
from mosaic_tui.repository.tables import CLAIMED, EV, B

if TYPE_CHECKING:
    from mosaic_tui.repository import Backlog

WINDOW_S = 3600  # "the last hour": who acted, claims, completions, cycle times

_AT = UTCDateTime()


@dataclass(frozen=True)
class Held:
    """A card an agent holds: its id, title, when it was claimed and when the lease ends."""

    id: str
    title: str
    claimed_at: datetime | None
    lease_end: datetime | None


@dataclass(frozen=True)
class Agent:
    """One owner that holds a claim or acted in the window."""

    owner: str
    held: tuple[Held, ...]  # longest-held first
    claims: int  # claims in the window
    completions: int  # completions in the window
    median_cycle_s: float | None  # claim -> complete, over the window's completions
    last_event_at: datetime | None

    def stale(self, now: datetime) -> list[Held]:
        """Held cards whose lease has ended (not reclaimed yet)."""
        return [h for h in self.held if h.lease_end is not None and h.lease_end <= now]

    @property
    def card(self) -> Held | None:
        """The card the agent is on: a stale one first, else the one it has held longest."""
        return self.held[0] if self.held else None

    def working_s(self, now: datetime) -> float | None:
        """Seconds on the current card (since its claim)."""
        card = self.card
        if card is None or card.claimed_at is None:
            return None
        return max(0.0, (now - card.claimed_at).total_seconds())

    def lease_left_s(self, now: datetime) -> float | None:
        """Seconds until the first of its leases ends (negative: ended that long ago)."""
        ends = [h.lease_end for h in self.held if h.lease_end is not None]
        return None if not ends else (min(ends) - now).total_seconds()


def _dt(value: Any) -> datetime | None:
    """A timestamp from an aggregate (SQLite gives text back, Postgres a datetime)."""
    return _AT.process_result_value(value, None)


def order(now: datetime):
    """The sort key of the agents view at ``now``: stale first, then longest-working, then most recently active."""
    def key(a: Agent):
        stale = bool(a.stale(now))
        working = a.working_s(now)
        last = a.last_event_at.timestamp() if a.last_event_at else 0.0
        return (not stale, -(working if working is not None else -1.0), -last, a.owner)

    return key


def agents(backlog: Backlog, *, window_s: int = WINDOW_S, now: datetime | None = None) -> list[Agent]:
    """Every owner that holds a claim or acted in the last ``window_s`` seconds, stale first, then
    longest-working (then most recently active).

    Held cards come from ``backlog``; claims, completions, the median cycle time (each completion
    paired with the card's claim before it) and the last event from ``backlog_events``.
    """
    now = now or backlog.now()
    since = now - timedelta(seconds=window_s)
    owner = EV.c.owner.is_not(None)

    held_q = (
        select(B.c.claim_owner, B.c.id, B.c.title, B.c.claimed_at, LeaseEnd(B))
        .where(B.c.status == CLAIMED, B.c.claim_owner.is_not(None))
        .order_by(B.c.claim_owner, B.c.claimed_at, B.c.id)
    )
    acted_q = (
        select(
            EV.c.owner,
            func.sum(case((EV.c.kind == "claimed", 1), else_=0)),
            func.sum(case((EV.c.kind == "completed", 1), else_=0)),
            func.max(EV.c.at),
        )
        .where(EV.c.at >= since, owner, EV.c.kind != literal_column("'noted'"))  # a person's note is no agent's act
        .group_by(EV.c.owner)
    )
    # a holder that has not acted in the window: its last event on the cards it holds. Only for
    # those: an owner that acted in the window has its last event there (later than any before it),
    # so a busy fleet's holders cost no read of their cards' histories.
    held_last_q = (
        select(B.c.claim_owner, func.max(EV.c.at))
        .join(EV, and_(EV.c.card_id == B.c.id, EV.c.owner == B.c.claim_owner))
        .where(B.c.status == CLAIMED, B.c.claim_owner.not_in(bindparam("acted", expanding=True)))
        .group_by(B.c.claim_owner)
    )
    k = EV.alias("k")
    claim_at = (
        select(k.c.at)
        .where(k.c.card_id == EV.c.card_id, k.c.kind == "claimed", k.c.id < EV.c.id)
        .order_by(k.c.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    cycles = (
        select(EV.c.owner.label("owner"), Seconds(EV.c.at, claim_at).label("secs"))
        .where(EV.c.kind == "completed", EV.c.at >= since, owner)
        .cte("cycles")
    )
    ranked = (
        select(
            cycles.c.owner,
            cycles.c.secs,
            func.row_number().over(partition_by=cycles.c.owner, order_by=cycles.c.secs).label("rn"),
            func.count().over(partition_by=cycles.c.owner).label("n"),
        )
        .where(cycles.c.secs.is_not(None))
        .cte("ranked")
    )
    median_q = (
        select(ranked.c.owner, func.avg(ranked.c.secs))
        .where(ranked.c.rn.in_([(ranked.c.n + 1) // 2, (ranked.c.n + 2) // 2]))
        .group_by(ranked.c.owner)
    )

    def tx(conn):
        acted_rows = conn.execute(acted_q).all()
        return (
            conn.execute(held_q).all(),
            acted_rows,
            conn.execute(held_last_q, {"acted": [row[0] for row in acted_rows]}).all(),
            conn.execute(median_q).all(),
        )

    held_rows, acted_rows, held_last_rows, median_rows = backlog.db.run(tx, write=False)
    held: dict[str, list[Held]] = {}
    for who, cid, title, claimed_at, lease_end in held_rows:
        held.setdefault(who, []).append(Held(cid, title, _dt(claimed_at), _dt(lease_end)))
    acted = {who: (int(c or 0), int(d or 0), _dt(last)) for who, c, d, last in acted_rows}
    held_last = {who: _dt(last) for who, last in held_last_rows}
    medians = {who: round(float(m), 3) for who, m in median_rows if m is not None}  # to the millisecond (julianday is a float)

    out = []
    for who in set(held) | set(acted):
        cards = held.get(who, [])
        cards.sort(key=lambda h: (not (h.lease_end is not None and h.lease_end <= now),
                                  h.claimed_at or now, h.id))
        claims, completions, last = acted.get(who, (0, 0, None))
        lasts = [t for t in (last, held_last.get(who)) if t is not None]
        out.append(Agent(who, tuple(cards), claims, completions, medians.get(who), max(lasts) if lasts else None))
    out.sort(key=order(now))
    return out


def agent_json(agent: Agent, now: datetime) -> dict[str, Any]:
    """An agent as JSON (camelCase, like the CLI's other shapes)."""
    left = agent.lease_left_s(now)
    return {
        "owner": agent.owner,
        "cards": [{"id": h.id, "title": h.title} for h in agent.held],
        "stale": bool(agent.stale(now)),
        "leaseLeftSeconds": None if left is None else round(left),
        "workingSeconds": None if agent.working_s(now) is None else round(agent.working_s(now)),
        "claimsLastHour": agent.claims,
        "completionsLastHour": agent.completions,
        "medianCycleSeconds": None if agent.median_cycle_s is None else round(agent.median_cycle_s, 1),
        "lastEventAgoSeconds": None if agent.last_event_at is None else round((now - agent.last_event_at).total_seconds()),
    }
