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

Everything is counted by the database (two statements, each a scan of the
window's events on the ``(at, ...)`` index); Python receives a few hundred
aggregated rows whatever the number of events. Below the entry floor: no
textual, rich or click.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Text, bindparam, case, cast, func, literal, literal_column, null, select, union_all

from mosaic_tui.db.models import STATUSES, Card, Event
from mosaic_tui.db.timing import EpochSecond, MillisBetween, WholeSecondUTC
from mosaic_tui.errors import InvalidInput

if TYPE_CHECKING:
    from mosaic_tui.repository import Backlog

B = Card.__table__
EV = Event.__table__


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
def _moves_statement(start_s: int, step: int):
    """Current counts per status, and per bucket the events' (kind, old, new) counts, and per agent claims/completions.

    One statement, so that on Postgres (READ COMMITTED) the counts and the
    events are read from one snapshot.
    """
    start = bindparam("start", type_=WholeSecondUTC())
    in_window = EV.c.at >= start
    # Literal integers (ours, not input): the same expression in SELECT and GROUP BY.
    bucket = ((EpochSecond(EV.c.at) - literal_column(str(start_s))) // literal_column(str(step))).label("bucket")
    kind = case((EV.c.kind.in_(["claimed", "completed"]), EV.c.kind), else_=null())
    moved = EV.c.old_status.is_distinct_from(EV.c.new_status)
    events = (
        select(literal("event"), bucket, kind, EV.c.old_status, EV.c.new_status, func.count())
        .where(in_window, moved | EV.c.kind.in_(["claimed", "completed"]))
        .group_by(bucket, kind, EV.c.old_status, EV.c.new_status)
    )
    agents = (
        select(literal("agent"), null(), EV.c.kind, EV.c.owner, null(), func.count())
        .where(in_window, EV.c.kind.in_(["claimed", "completed"]), EV.c.owner.is_not(None))
        .group_by(EV.c.kind, EV.c.owner)
    )
    counts = select(literal("now"), null(), cast(B.c.status, Text), null(), null(), func.count()).group_by(B.c.status)
    return union_all(events, agents, counts)


def _durations_statement():
    """p50/p90 of cycle and lead times (milliseconds) over the window's completions: all, per phase, per agent."""
    start = bindparam("start", type_=WholeSecondUTC())
    c = EV.alias("c")
    claim_at = (
        select(c.c.at)
        .where(c.c.card_id == EV.c.card_id, c.c.id < EV.c.id, c.c.kind == "claimed")
        .order_by(c.c.id.desc()).limit(1)
        .scalar_subquery()
    )
    done = (
        select(
            EV.c.owner.label("owner"),
            B.c.phase.label("phase"),
            case((EV.c.old_status == "claimed", MillisBetween(EV.c.at, claim_at)), else_=null()).label("cycle"),
            MillisBetween(EV.c.at, B.c.created_at).label("lead"),
        )
        .select_from(EV.outerjoin(B, B.c.id == EV.c.card_id))
        .where(EV.c.kind == "completed", EV.c.at >= start)
        .cte("done")
    )
    branches = []
    for dim, key in (("all", null()), ("phase", done.c.phase), ("agent", done.c.owner)):
        for metric, value in (("cycle", done.c.cycle), ("lead", done.c.lead), ("done", literal(0))):
            if dim == "agent" and metric == "done":
                continue  # the agents' completions come with their claims
            q = select(literal(dim).label("dim"), cast(key, Text).label("key"), literal(metric).label("metric"),
                       value.label("v")).select_from(done)
            if metric != "done":
                q = q.where(value.is_not(None))
            if dim == "agent":
                q = q.where(done.c.owner.is_not(None))
            branches.append(q)
    long = union_all(*branches).subquery("long")
    part = [long.c.dim, long.c.key, long.c.metric]
    ranked = select(
        *part, long.c.v,
        func.row_number().over(partition_by=part, order_by=long.c.v).label("rn"),
        func.count().over(partition_by=part).label("n"),
    ).subquery("ranked")
    n = ranked.c.n

    def at_rank(pct: int):
        # nearest rank: ceil(pct/100 * n), in integers
        return func.max(case((ranked.c.rn == (n * pct + 99) // 100, ranked.c.v), else_=null()))

    return select(ranked.c.dim, ranked.c.key, ranked.c.metric, func.max(n), at_rank(50), at_rank(90)).group_by(
        ranked.c.dim, ranked.c.key, ranked.c.metric
    )


# --------------------------------------------------------------------------- the figures
def _now(backlog: Backlog) -> datetime:
    now = backlog.clock()
    return now if now.tzinfo else now.replace(tzinfo=UTC)


def flow(backlog: Backlog, key: str = DEFAULT_WINDOW, *, now: datetime | None = None) -> Flow:
    """The flow figures of ``backlog`` over the window ``key`` ("1h", "1d" or "7d") ending ``now``."""
    win = window(key)
    start, end = win.bounds(now or _now(backlog))
    start_s, n = int(start.timestamp()), win.buckets
    moves = _moves_statement(start_s, win.step)
    durations = _durations_statement()

    def tx(conn):
        return conn.execute(moves, {"start": start}).all(), conn.execute(durations, {"start": start}).all()

    move_rows, duration_rows = backlog.db.run(tx, write=False)

    current = dict.fromkeys(STATUSES, 0)
    delta = [dict.fromkeys(STATUSES, 0) for _ in range(n)]
    claims, completions = [0] * n, [0] * n
    agent_counts: dict[str, dict[str, int]] = defaultdict(lambda: {"claimed": 0, "completed": 0})
    for source, bucket, kind, old, new, count in move_rows:
        if source == "now":
            current[kind] = count
        elif source == "agent":
            agent_counts[old][kind] += count
        else:
            b = min(max(int(bucket), 0), n - 1)  # a stamp past `now` (clock skew, a late commit) counts as now
            if old != new:
                if old in current:
                    delta[b][old] -= count
                if new in current:
                    delta[b][new] += count
            if kind == "claimed":
                claims[b] += count
            elif kind == "completed":
                completions[b] += count

    cfd = {}
    for status in STATUSES:
        level = current[status] - sum(d[status] for d in delta)
        points = [level]
        for d in delta:
            level += d[status]
            points.append(level)
        cfd[status] = points
    instants = [start + timedelta(seconds=win.step * i) for i in range(n)] + [end]

    spreads: dict[tuple[str, str | None], dict[str, Spread]] = defaultdict(dict)
    done_count: dict[str | None, int] = {}
    for dim, name, metric, count, p50, p90 in duration_rows:
        if metric == "done":
            if dim == "phase":
                done_count[name] = count
            continue
        spreads[(dim, name)][metric] = Spread(count, _seconds(p50), _seconds(p90))

    def group(dim: str, name: str | None, claims_: int, completions_: int) -> Group:
        s = spreads.get((dim, name), {})
        return Group(name, claims_, completions_, s.get("cycle", Spread()), s.get("lead", Spread()))

    phases = [group("phase", p, 0, done_count[p]) for p in sorted(done_count, key=lambda p: (p is None, p or ""))]
    agents = sorted(
        (group("agent", a, c["claimed"], c["completed"]) for a, c in agent_counts.items()),
        key=lambda g: (-g.completions, -g.claims, g.name),
    )
    overall = spreads.get(("all", None), {})
    return Flow(win, start, end, instants, cfd, claims, completions,
                overall.get("cycle", Spread()), overall.get("lead", Spread()), phases, agents)


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


