"""Flow figures over a window (the last hour, day or week), from the event log, aggregated in SQL.

What ``flow(backlog, "1d")`` returns (one :class:`Flow`):

* a **cumulative flow diagram**: cards per status at the start of the window
  and at the end of each of its buckets. The database returns only the
  current count per status and, per bucket, how many events moved a card from
  one status to another; the counts at the start are the current counts minus
  every move since, and each bucket adds its moves. (So cards that other
  programs wrote before our triggers existed are counted too.)
* **throughput**: claims and completions per bucket.
* **cycle time** (from the claim a completion ended to the completion) and
  **lead time** (from the card's creation to its completion), p50 and p90,
  for the whole backlog, per phase and per agent, over the completions in
  the window. Percentiles are nearest-rank: p50 is the smallest duration that
  at least half of the durations do not exceed.

The moves are counted by the database: from the window's events (partial
indexes, migration 0002), or on SQLite for the day and the week from the
half-hour counts a trigger keeps (``backlog_flow_moves``, migration 0004).
Each completion's cycle and lead time are kept as it happens by triggers
(``backlog_flow_done``, migration 0004, whoever writes the completion); the
window's are read in one statement and ranked in Python (a sort of integers:
a week of a large fleet, 330,000 completions, in a fraction of a second). One
read transaction, so the counts and the durations are of one snapshot. Below
the entry floor: no textual, rich or click.
"""

from __future__ import annotations

import json
from bisect import bisect_right
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import repeat
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    BigInteger, Integer, Text, and_, bindparam, cast, column, func, literal, literal_column, null, select, union_all, values,
)

from mosaic_tui.db.timing import WholeSecondUTC, plan_aggregates
from mosaic_tui.errors import InvalidInput
from mosaic_tui.repository.checks import STATUSES
from mosaic_tui.repository.tables import DONE, EV, MOVES, B

if TYPE_CHECKING:
    from mosaic_tui.repository import Backlog

SLOT_SECONDS = 1800  # backlog_flow_moves' slots: every bucket of the day and the week is whole slots
FOREVER = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)


@dataclass(frozen=True)
class Window:
    """A span of time ending now, cut into ``buckets`` buckets of ``step`` seconds aligned on the clock."""

    key: str
    label: str
    step: int
    buckets: int

    def bounds(self, now: datetime) -> tuple[datetime, datetime]:
        """(start, end): the start of the first bucket and ``now``. The last bucket is the current one."""
        now = now if now.tzinfo else now.replace(tzinfo=UTC)
        epoch = int(now.timestamp() // self.step) * self.step - (self.buckets - 1) * self.step
        return datetime.fromtimestamp(epoch, UTC), now

    def buckets_between(self, start: datetime) -> list[tuple[datetime, datetime]]:
        """Each bucket's [lo, hi) from ``start``; the last one is open-ended: an event stamped after
        ``now`` (another clock, a late commit) counts as now."""
        los = [start + timedelta(seconds=self.step * i) for i in range(self.buckets)]
        return list(zip(los, [*los[1:], FOREVER]))


WINDOWS: dict[str, Window] = {
    w.key: w for w in (
        Window("1h", "last hour", 60, 60),  # one-minute buckets
        Window("1d", "last day", 1800, 48),  # half-hour buckets
        Window("7d", "last week", 3 * 3600, 56),  # three-hour buckets
    )
}
DEFAULT_WINDOW = "1d"


def window(key: str) -> Window:
    try:
        return WINDOWS[key]
    except KeyError:
        raise InvalidInput(f"unknown window {key!r} (one of: {', '.join(WINDOWS)})") from None


@dataclass(frozen=True)
class Spread:
    """How many durations, and their p50 and p90 in seconds (None when there are none)."""

    count: int = 0
    p50: float | None = None
    p90: float | None = None


@dataclass(frozen=True)
class Group:
    """The figures of one phase or one agent over the window."""

    name: str | None
    claims: int = 0
    completions: int = 0
    cycle: Spread = Spread()
    lead: Spread = Spread()


@dataclass(frozen=True)
class Flow:
    window: Window
    start: datetime
    end: datetime
    instants: list[datetime]  # the start, then the end of each bucket (the last one is ``end``)
    cfd: dict[str, list[int]]  # status -> cards at each instant
    claims: list[int]  # per bucket
    completions: list[int]  # per bucket
    cycle: Spread = Spread()
    lead: Spread = Spread()
    phases: list[Group] = field(default_factory=list)
    agents: list[Group] = field(default_factory=list)

    @property
    def bucket_starts(self) -> list[datetime]:
        return self.instants[:-1]


# --------------------------------------------------------------------------- the statements
# Literals, not parameters: the planners must see the partial indexes' predicates
# (migrations/versions/0002_flow_indexes.py) in the queries to use them.
NOT_HEARTBEAT = EV.c.kind != literal_column("'heartbeat'")
CLAIMED = literal_column("'claimed'")
COMPLETED = literal_column("'completed'")
COUNTED = EV.c.kind.in_([CLAIMED, COMPLETED])


def _moves_statement(bounds: list[tuple[datetime, datetime]]):
    """Per bucket, the window's moves, claims and completions by (kind, old, new, owner); then the count per status now.

    The buckets are a ``VALUES`` list of whole-second bounds joined to the
    events, so each bucket is one range of ``backlog_events_flow_idx``, read
    from the index alone (Postgres; SQLite reads only the hour here, through
    the ``at`` index), and no time arithmetic runs per event. One
    statement, so that on Postgres (READ COMMITTED) the counts and the events
    are read from one snapshot.
    """
    bk = (
        values(column("i", Integer), column("lo", WholeSecondUTC()), column("hi", WholeSecondUTC()), name="bk")
        .data([(i, lo, hi) for i, (lo, hi) in enumerate(bounds)])
        .cte("bk")
    )
    in_bucket = and_(EV.c.at >= bk.c.lo, EV.c.at < bk.c.hi)
    events = (
        select(literal("event"), bk.c.i, EV.c.kind, EV.c.old_status, EV.c.new_status, EV.c.owner, func.count())
        .select_from(bk.join(EV, in_bucket))
        .where(NOT_HEARTBEAT, EV.c.old_status.is_distinct_from(EV.c.new_status) | COUNTED)
        .group_by(bk.c.i, EV.c.kind, EV.c.old_status, EV.c.new_status, EV.c.owner)
    )
    counts = select(literal("now"), null(), cast(B.c.status, Text), null(), null(), null(), func.count()).group_by(B.c.status)
    return union_all(events, counts)


def _slot_moves_statement(bounds: list[tuple[datetime, datetime]]):
    """SQLite, windows of whole half hours: :func:`_moves_statement` read from ``backlog_flow_moves``.

    The same rows (owners only on claims and completions, the only ones the
    figures read them from), summed from the half-hour counts that a trigger
    keeps (migration 0004): a week is ~300 slots of a few hundred keys,
    where the events are a million rows that SQLite would group by sorting.
    """
    forever = 1 << 62
    bk = (
        values(column("i", Integer), column("lo", BigInteger), column("hi", BigInteger), name="bk")
        .data([(i, int(lo.timestamp()) // SLOT_SECONDS, forever if hi == FOREVER else int(hi.timestamp()) // SLOT_SECONDS)
               for i, (lo, hi) in enumerate(bounds)])
        .cte("bk")
    )
    none = literal_column("''")
    events = (
        select(literal("event"), bk.c.i, MOVES.c.kind, func.nullif(MOVES.c.old_status, none),
               func.nullif(MOVES.c.new_status, none), func.substr(func.nullif(MOVES.c.owner, none), 2), func.sum(MOVES.c.n))
        .select_from(bk.join(MOVES, and_(MOVES.c.slot >= bk.c.lo, MOVES.c.slot < bk.c.hi)))
        .group_by(bk.c.i, MOVES.c.kind, MOVES.c.old_status, MOVES.c.new_status, MOVES.c.owner)
        .having(func.sum(MOVES.c.n) > 0)
    )
    counts = select(literal("now"), null(), cast(B.c.status, Text), null(), null(), null(), func.count()).group_by(B.c.status)
    return union_all(events, counts)


def _target(n, pct: int):
    """The nearest rank of the ``pct``-th percentile among ``n`` values: ceil(pct/100 * n), in integers."""
    return (n * pct + 99) // 100


def _completions(conn, start: datetime) -> list[tuple[str | None, str | None, list, list]]:
    """The window's completions as cells: (phase, owner, their cycle times, their lead times), in ms.

    Read from ``backlog_flow_done`` (kept by triggers, migration 0004), in the
    fewest rows each backend returns quickly -- the lines that differ:
    Postgres groups them by (phase, owner) with a hash, a few hundred rows of
    arrays; SQLite groups by sorting (~1 us a row), so it returns the window
    in three JSON arrays (cell key, cycle, lead), one row, and Python makes
    the cells.
    """
    window = DONE.c.at >= bindparam("start", type_=WholeSecondUTC())
    if conn.dialect.name == "postgresql":
        q = (select(DONE.c.phase, DONE.c.owner, func.array_agg(DONE.c.cycle_ms), func.array_agg(DONE.c.lead_ms))
             .where(window).group_by(DONE.c.phase, DONE.c.owner))
        return [tuple(r) for r in conn.execute(q, {"start": start})]
    # One key per (phase, owner), unambiguous whatever the names hold: the length of the phase, ':', the
    # phase, the owner ('' for none, which the figures read as none anyway).
    phase, owner = func.coalesce(DONE.c.phase, ""), func.coalesce(DONE.c.owner, "")
    key = func.length(phase).concat(":").concat(phase).concat(owner)
    q = select(func.json_group_array(key), func.json_group_array(DONE.c.cycle_ms),
               func.json_group_array(DONE.c.lead_ms)).where(window)
    keys, cycles, leads = (json.loads(a) for a in conn.execute(q, {"start": start}).one())
    cells: dict[str, tuple[list, list]] = {}
    for k, c, lead in zip(keys, cycles, leads):
        try:
            cell = cells[k]
        except KeyError:
            cell = cells[k] = ([], [])
        cell[0].append(c)
        cell[1].append(lead)
    out = []
    for k, (c, lead) in cells.items():
        n, rest = k.split(":", 1)
        out.append((rest[: int(n)], rest[int(n):], c, lead))
    return out


def _kth(runs: list[list[int]], k: int) -> int:
    """The ``k``-th smallest (from 1) of the values of the sorted lists ``runs``: the smallest value that
    at least ``k`` of them do not exceed, found by halving the range of values (no merge of the runs)."""
    lo, hi = min(r[0] for r in runs), max(r[-1] for r in runs)
    while lo < hi:
        mid = (lo + hi) // 2
        if sum(map(bisect_right, runs, repeat(mid))) >= k:
            hi = mid
        else:
            lo = mid + 1
    return lo


def _spreads(cells) -> tuple[dict[tuple[str, str, str | None], Spread], dict[str | None, int]]:
    """Nearest-rank p50 and p90 of cycle and lead time overall, per phase and per agent, from the cells;
    and the completions per phase. Keys: (dimension, metric, name)."""
    pools: dict[tuple[str, str, str | None], list[list[int]]] = defaultdict(list)  # sorted runs, one per cell
    phase_done: dict[str | None, int] = defaultdict(int)
    for phase, owner, cycles, leads in cells:
        phase, owner = phase or None, owner or None  # an empty phase is no phase, as an empty owner is no one
        phase_done[phase] += len(cycles)
        groups = [("all", None), ("phase", phase)] + ([("agent", owner)] if owner is not None else [])
        for metric, values_ in (("cycle", cycles), ("lead", leads)):
            run = sorted(v for v in values_ if v is not None) if None in values_ else sorted(values_)
            if run:
                for dim, name in groups:  # completed by no one (a person, a script): no agent's figure
                    pools[(dim, metric, name)].append(run)
    out = {}
    for key, runs in pools.items():
        n = sum(map(len, runs))
        out[key] = Spread(n, _seconds(_kth(runs, _target(n, 50))), _seconds(_kth(runs, _target(n, 90))))
    return out, phase_done


# --------------------------------------------------------------------------- the figures
def flow(backlog: Backlog, key: str = DEFAULT_WINDOW, *, now: datetime | None = None) -> Flow:
    """The flow figures of ``backlog`` over the window ``key`` ("1h", "1d" or "7d") ending ``now``."""
    win = window(key)
    start, end = win.bounds(now or backlog.now())
    n = win.buckets
    bounds = win.buckets_between(start)
    slots = backlog.backend == "sqlite" and win.step % SLOT_SECONDS == 0
    moves = _slot_moves_statement(bounds) if slots else _moves_statement(bounds)

    def tx(conn):
        plan_aggregates(conn)
        return conn.execute(moves).all(), _completions(conn, start)

    move_rows, cells = backlog.db.run(tx, write=False)

    current = dict.fromkeys(STATUSES, 0)
    delta = [dict.fromkeys(STATUSES, 0) for _ in range(n)]
    claims, completions = [0] * n, [0] * n
    per_agent: dict[str, dict[str, int]] = defaultdict(lambda: {"claimed": 0, "completed": 0})
    for source, bucket, kind, old, new, owner, count in move_rows:
        if source == "now":
            current[kind] = count
            continue
        b = int(bucket)
        if old != new:
            if old in current:
                delta[b][old] -= count
            if new in current:
                delta[b][new] += count
        if kind in ("claimed", "completed"):
            (claims if kind == "claimed" else completions)[b] += count
            if owner is not None:
                per_agent[owner][kind] += count

    cfd = {}
    for status in STATUSES:
        level = current[status] - sum(d[status] for d in delta)
        points = [level]
        for d in delta:
            level += d[status]
            points.append(level)
        cfd[status] = points
    instants = [start + timedelta(seconds=win.step * i) for i in range(n)] + [end]

    found, phase_done = _spreads(cells)

    def spread(dim: str, metric: str, name: str | None) -> Spread:
        return found.get((dim, metric, name), Spread())

    def group(dim: str, name: str | None, claims_: int, completions_: int) -> Group:
        return Group(name, claims_, completions_, spread(dim, "cycle", name), spread(dim, "lead", name))

    phases = [group("phase", p, 0, phase_done[p]) for p in sorted(phase_done, key=lambda p: (p is None, p or ""))]
    agents = sorted(
        (group("agent", a, c["claimed"], c["completed"]) for a, c in per_agent.items()),
        key=lambda g: (-g.completions, -g.claims, g.name),
    )
    return Flow(win, start, end, instants, cfd, claims, completions,
                spread("all", "cycle", None), spread("all", "lead", None), phases, agents)


def _seconds(ms: Any) -> float | None:
    return None if ms is None else int(ms) / 1000.0


# --------------------------------------------------------------------------- JSON
def _iso(ts: datetime) -> str:
    return ts.astimezone(UTC).isoformat()


def _spread_json(s: Spread) -> dict[str, Any]:
    return {"count": s.count, "p50Seconds": s.p50, "p90Seconds": s.p90}


def flow_json(f: Flow) -> dict[str, Any]:
    """The figures with camelCase keys, as ``mosaic-tui flow --json`` prints them."""
    return {
        "window": f.window.key,
        "start": _iso(f.start),
        "end": _iso(f.end),
        "bucketSeconds": f.window.step,
        "cumulativeFlow": {"at": [_iso(t) for t in f.instants], **{s: f.cfd[s] for s in STATUSES}},
        "throughput": {
            "bucketStarts": [_iso(t) for t in f.bucket_starts],
            "claims": f.claims,
            "completions": f.completions,
        },
        "claims": sum(f.claims),
        "completions": sum(f.completions),
        "cycleTime": _spread_json(f.cycle),
        "leadTime": _spread_json(f.lead),
        "phases": [
            {"phase": g.name, "completions": g.completions, "cycleTime": _spread_json(g.cycle),
             "leadTime": _spread_json(g.lead)}
            for g in f.phases
        ],
        "agents": [
            {"owner": g.name, "claims": g.claims, "completions": g.completions, "cycleTime": _spread_json(g.cycle),
             "leadTime": _spread_json(g.lead)}
            for g in f.agents
        ],
    }


