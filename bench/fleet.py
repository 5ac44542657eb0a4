#!/usr/bin/env python3
"""The agents query at scale: ``mosaic_tui.repository.watch.fleet.agents()`` on 100,000 cards and 1,000,000 events.

What ``mosaic-tui agents --json`` and the board's agents pane (``a``) read.
The history is bench/flow.py's (every card ten events over the last
``--days`` days, ``--agents`` agents; 5% of the cards still claimed, so each
agent holds a few hundred cards, most of them with an ended lease), loaded the
same way (no triggers while loading). Then, in one process with a warm pool,
``agents(backlog)`` ``--runs`` times, with ``now`` pinned to the end of the
history.

Baseline in the same run and connection: ``SELECT count(*) FROM
backlog_events WHERE at >= now - 1 hour`` (the last hour's events, on the
``at`` index): what merely counting the events the query aggregates costs.
Each line gives the 1-minute load average when it was measured and the CPU
time of a run (this process's, plus the Postgres backend's when the server
is on this machine).

One JSON line per backend. ``--backends sqlite`` for one of them.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import fresh_database  # noqa: E402
from flow import cpu_timed, history, load, timed  # noqa: E402


def bench_backend(backend: str, args) -> dict:
    from sqlalchemy import func, select

    from mosaic_tui.db.models import Event
    from mosaic_tui.repository.watch.fleet import agents
    from mosaic_tui.repository import Backlog

    EV = Event.__table__
    now = datetime.now(UTC).replace(microsecond=0)
    card_rows, events = history(args.cards, args.days, args.agents, now)
    with fresh_database(backend) as url:
        seconds = load(url, backend, card_rows, events)
        del card_rows, events
        b = Backlog.open(url, clock=lambda: now)
        total = b.db.run(lambda c: c.execute(select(func.count()).select_from(EV)).scalar_one(), write=False)
        print(f"# {backend}: loaded {args.cards} cards, {total} events in {seconds:.1f} s", file=sys.stderr)
        server_pid = None
        if backend == "pg":
            pid = b.db.run(lambda c: c.exec_driver_sql("SELECT pg_backend_pid()").scalar_one(), write=False)
            server_pid = pid if Path(f"/proc/{pid}/stat").exists() else None
        since = now - timedelta(hours=1)
        found = agents(b)  # warm-up
        loadavg = os.getloadavg()[0]
        run_s = timed(lambda: agents(b), args.runs)
        run_cpu = cpu_timed(lambda: agents(b), args.runs, server_pid)
        hour = select(func.count()).where(EV.c.at >= since)
        in_hour = b.db.run(lambda c: c.execute(hour).scalar_one(), write=False)
        count_s = timed(lambda: b.db.run(lambda c: c.execute(hour).scalar_one(), write=False), args.runs)
        b.close()
    return {
        "backend": backend, "cards": args.cards, "events": total, "eventsLastHour": in_hour,
        "agents": len(found), "heldCards": sum(len(a.held) for a in found),
        "agentsMedianMs": round(statistics.median(run_s) * 1000, 1), "agentsMaxMs": round(max(run_s) * 1000, 1),
        "agentsCpuMedianMs": round(statistics.median(run_cpu) * 1000, 1) if backend == "sqlite" or server_pid else None,
        "countLastHourMedianMs": round(statistics.median(count_s) * 1000, 1),
        "loadAverage": round(loadavg, 1), "runs": args.runs,
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cards", type=int, default=100_000, help="cards (each has ten events); default 100,000")
    ap.add_argument("--days", type=float, default=30.0)
    ap.add_argument("--agents", type=int, default=20)
    ap.add_argument("--runs", type=int, default=9)
    ap.add_argument("--backends", default="sqlite,pg")
    args = ap.parse_args(argv)
    for backend in args.backends.split(","):
        print(json.dumps(bench_backend(backend.strip(), args)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
