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

Everything is counted by the database, in two statements that read the
window's events from partial indexes (migration 0002): Python receives a few
hundred aggregated rows whatever the number of events. Below the entry floor: no
textual, rich or click.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    BigInteger, Integer, Text, and_, bindparam, case, cast, column, func, literal, literal_column, null, or_, select, tuple_, union_all,
    values,
)

from mosaic_tui.db.timing import MillisBetween, WholeSecondUTC, plan_aggregates
from mosaic_tui.errors import InvalidInput
from mosaic_tui.repository.checks import STATUSES
from mosaic_tui.repository.statements import EV, B

if TYPE_CHECKING:
    from mosaic_tui.repository import Backlog

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
    from the index alone, and no time arithmetic runs per event. One
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


def _target(n, pct: int):
    """The nearest rank of the ``pct``-th percentile among ``n`` values: ceil(pct/100 * n), in integers."""
    return (n * pct + 99) // 100


# (dimension, metric): the rankings the durations statement makes, each one sort of the window's completions
RANKINGS = [(dim, metric) for dim in ("all", "phase", "agent") for metric in ("cycle", "lead")]


def _durations_statement():
    """The completions of the window ranked by cycle and lead time (ms), overall, per phase and per agent.

    Returns two kinds of rows, a few hundred at most whatever the number of
    completions: ``count`` rows, the completions and how many have a cycle
    and a lead time per (phase, owner); and ``rank`` rows, the completions
    that sit at a p50 or p90 rank of some ranking, with their durations and
    ranks. The ranks wanted are worked out from the counts (``tg``, a
    hundred-odd rows) and each ranked row is kept by ``IN`` lookups there:
    joining every ranked row to its groups' counts instead cost SQLite a
    scan of each group table per row (a third of the statement at 18,000
    completions).
    """
    start = bindparam("start", type_=WholeSecondUTC())
    c = EV.alias("c")
    claim_at = (  # backlog_events_claims_idx: one probe
        select(c.c.at)
        .where(c.c.card_id == EV.c.card_id, c.c.kind == CLAIMED, c.c.id < EV.c.id)
        .order_by(c.c.id.desc()).limit(1)
        .scalar_subquery()
    )
    none = literal_column("''")  # no phase / no owner: '' (an empty phase is no phase), so that groups compare by `=`
    done = (
        select(
            func.coalesce(EV.c.owner, none).label("owner"),
            func.coalesce(B.c.phase, none).label("phase"),
            case((EV.c.old_status == CLAIMED, MillisBetween(EV.c.at, claim_at)), else_=null()).label("cycle"),
            MillisBetween(EV.c.at, B.c.created_at).label("lead"),
        )
        .select_from(EV.outerjoin(B, B.c.id == EV.c.card_id))
        .where(EV.c.at >= start, EV.c.kind == COMPLETED)  # backlog_events_done_idx
        .cte("done")
        .prefix_with("MATERIALIZED")  # computed once: the rankings and the counts below read it
    )
    cnt = (
        select(done.c.phase, done.c.owner, func.count().label("n"),
               *[func.count(done.c[m]).label(m) for m in ("cycle", "lead")])
        .group_by(done.c.phase, done.c.owner)
        .cte("cnt")
        .prefix_with("MATERIALIZED")
    )
    keys = {"all": None, "phase": "phase", "agent": "owner"}
    targets = []
    for dim, metric in RANKINGS:
        key = none if keys[dim] is None else cnt.c[keys[dim]]
        for pct in (50, 90):
            q = select(literal(f"{dim}_{metric}").label("r"), key.label("k"), _target(cast(func.sum(cnt.c[metric]), BigInteger), pct).label("rn"))
            targets.append(q if keys[dim] is None else q.group_by(key))
    tg = union_all(*targets).cte("tg").prefix_with("MATERIALIZED")
    ranks = [
        func.row_number()
        .over(partition_by=None if keys[dim] is None else [done.c[keys[dim]]], order_by=done.c[metric].nulls_last())
        .label(f"{dim}_{metric}_rn")
        for dim, metric in RANKINGS
    ]
    ranked = select(done.c.phase, done.c.owner, done.c.cycle, done.c.lead, *ranks).subquery("ranked")
    wanted = []
    for dim, metric in RANKINGS:
        rn, name = ranked.c[f"{dim}_{metric}_rn"], f"{dim}_{metric}"
        if keys[dim] is None:
            wanted.append(rn.in_(select(tg.c.rn).where(tg.c.r == name)))
        else:
            wanted.append(tuple_(ranked.c[keys[dim]], rn).in_(select(tg.c.k, tg.c.rn).where(tg.c.r == name)))
    rank_rows = select(literal("rank").label("row"), ranked).where(or_(*wanted))
    count_rows = select(literal("count"), cnt.c.phase, cnt.c.owner, cnt.c.n, cnt.c.cycle, cnt.c.lead,
                        *[null()] * (len(RANKINGS) - 1))  # n, cycle, lead where the ranks begin
    return union_all(rank_rows, count_rows)


# --------------------------------------------------------------------------- the figures
def flow(backlog: Backlog, key: str = DEFAULT_WINDOW, *, now: datetime | None = None) -> Flow:
    """The flow figures of ``backlog`` over the window ``key`` ("1h", "1d" or "7d") ending ``now``."""
    win = window(key)
    start, end = win.bounds(now or backlog.now())
    n = win.buckets
    moves = _moves_statement(win.buckets_between(start))
    durations = _durations_statement()

    def tx(conn):
        plan_aggregates(conn)
        return conn.execute(moves).all(), conn.execute(durations, {"start": start}).all()

    move_rows, duration_rows = backlog.db.run(tx, write=False)

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

    # The durations statement returns the counts per (phase, owner), then the rows at some p50/p90 rank.
    counts: dict[tuple[str, str, str | None], int] = defaultdict(int)  # (dim, metric, name) -> durations
    phase_done: dict[str | None, int] = defaultdict(int)
    ranked_rows = []
    for row in duration_rows:
        phase, owner = row[1] or None, row[2] or None  # '' stood for none
        if row[0] == "rank":
            ranked_rows.append((phase, owner, row))
            continue
        done, n = row[3], {"cycle": row[4], "lead": row[5]}
        phase_done[phase] += done
        for dim, metric in RANKINGS:
            if dim == "agent" and owner is None:
                continue  # completed by no one (a person, a script): no agent's figure
            counts[(dim, metric, None if dim == "all" else phase if dim == "phase" else owner)] += n[metric]
    found: dict[tuple[str, str, str | None], dict[str, Any]] = defaultdict(dict)
    for phase, owner, row in ranked_rows:
        r = row._mapping
        for dim, metric in RANKINGS:
            key = (dim, metric, None if dim == "all" else phase if dim == "phase" else owner)
            count, rn = counts.get(key, 0), r[f"{dim}_{metric}_rn"]
            for pct in (50, 90):
                if count and rn == _target(count, pct):
                    found[key]["count"] = count
                    found[key][pct] = r[metric]

    def spread(dim: str, metric: str, name: str | None) -> Spread:
        f = found.get((dim, metric, name))
        return Spread(f["count"], _seconds(f.get(50)), _seconds(f.get(90))) if f else Spread()

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


