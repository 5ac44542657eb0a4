#!/usr/bin/env python3
"""Benchmark: the board's keystone counts (``unlocks N``) and critical paths at 100,000 cards, both backends.

What the keystones room reads (``mosaic_tui.repository.watch.impact.impact``): the unfinished
cards and the edges between them (``Backlog.open_work``, one transaction),
then the analysis in Python (exact keystones, critical path per phase). Also
what ``s`` (the ready column sorted by impact) costs per page read: the ready
ids in claim order, sorted by impact, and one page of 50 read by id.

The backlog is ``bench/dag.py``'s plan (epics of ~25 cards, phases of 250,
0-3 dependencies mostly inside the epic, now and then one in the epic
before), loaded with plain SQL in one transaction per 10,000 rows (the
triggers keep ``backlog_deps`` and ``unmet_deps``), 70 % done (a backlog in
mid-flight) and 0 % done (the worst case: everything unfinished).

Baselines in the same run, on the same connection: ``SELECT count(*) FROM
backlog`` (what merely touching every row costs) and the board's normal page
read (``Backlog.list(status="ready", limit=50)``). Medians of ``--runs``;
wall and this process's CPU (on Postgres the server's CPU is not in it), with
the 1-minute load average.

Run: ``python bench/impact.py [--cards 100000] [--runs 5] [--backends sqlite,pg]``
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import fresh_database  # noqa: E402
from dag import plan, timed as timed_s  # noqa: E402

from sqlalchemy import text  # noqa: E402

from mosaic_tui.repository.watch.impact import analyse, impact  # noqa: E402
from mosaic_tui.repository import Backlog  # noqa: E402


def load(backlog: Backlog, n: int, done: float) -> None:
    cards, edges, phase = plan(n, done=done)
    deps: dict[str, list[str]] = {}
    for card, dep in edges:
        deps.setdefault(card, []).append(dep)
    pg = backlog.backend == "postgresql"
    sql = text("INSERT INTO backlog (id, title, status, phase, priority, depends_on, claim_owner, claim_ttl_seconds, "
               "claimed_at) VALUES (:id, :title, "
               + ("CAST(:status AS backlog_status)" if pg else ":status")
               + ", :phase, :priority, " + ("CAST(:deps AS jsonb)" if pg else ":deps")
               + ", :owner, :ttl, :at)")
    now = datetime.now(UTC) if pg else datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    rows = [{"id": cid, "title": c.title, "status": c.status, "phase": phase[cid], "priority": i % 7,
             "deps": json.dumps(deps.get(cid, [])), "owner": c.claim_owner,
             "ttl": 3600 if c.claim_owner else None, "at": now if c.claim_owner else None}
            for i, (cid, c) in enumerate(cards.items())]
    for i in range(0, len(rows), 10_000):
        with backlog.db.engine.begin() as conn:
            conn.execute(sql, rows[i:i + 10_000])
    if pg:
        with backlog.db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE backlog"))
            conn.execute(text("VACUUM ANALYZE backlog_deps"))


def timed(fn, runs: int) -> tuple[float, float]:
    """Medians of wall and CPU time, in milliseconds."""
    wall, cpu = timed_s(fn, runs)
    return wall * 1000, cpu * 1000


def run(backend: str, n: int, done: float, runs: int) -> dict:
    with fresh_database(backend) as url:
        b = Backlog.open(url)
        try:
            b.db.ensure_schema()
            t0 = time.perf_counter()
            load(b, n, done)
            loaded = time.perf_counter() - t0
            nodes, edges = b.open_work()
            found = impact(b)
            ready = b.ids(status="ready")
            count_all = timed(lambda: b.db.run(lambda c: c.execute(text("SELECT count(*) FROM backlog")).scalar_one(),
                                               write=False), runs)
            page = timed(lambda: b.list(status="ready", limit=50), runs)
            read = timed(b.open_work, runs)
            analysis = timed(lambda: analyse(nodes, edges), runs)
            whole = timed(lambda: impact(b), runs)
            sorted_page = timed(lambda: b.get_many(found.by_impact(b.ids(status="ready"))[:50]), runs)
            return {
                "backend": backend, "cards": n, "done": done, "unfinished": found.cards, "edges": found.edges,
                "ready": len(ready), "mostUnlocked": max(found.unlocks.values(), default=0),
                "longestChain": len(found.path()[1]), "loadSeconds": round(loaded, 1),
                "impactMs": whole, "readMs": read, "analysisMs": analysis, "sortedPageMs": sorted_page,
                "baselineCountAllMs": count_all, "baselinePageMs": page, "load1": os.getloadavg()[0],
            }
        finally:
            b.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cards", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--backends", default="sqlite,pg")
    args = ap.parse_args()
    for backend in ["postgresql" if b == "pg" else b for b in args.backends.split(",") if b]:
        for done in (0.7, 0.0):
            r = run(backend, args.cards, done, args.runs)
            fmt = {k: (f"{v[0]:.0f} ms wall / {v[1]:.0f} ms cpu" if isinstance(v, tuple) else v) for k, v in r.items()}
            print(json.dumps(fmt), flush=True)


if __name__ == "__main__":
    main()
