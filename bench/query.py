#!/usr/bin/env python3
"""Benchmark: the query language at 100,000 cards (10,000 labelled), both backends.

1. ``list --where '#infra status:ready'``: ``Backlog.list(where=...)`` in-process (what the CLI and the
   MCP tool run once their process is up), with ``--limit 100`` (the MCP default) and without a limit
   (every match, ~6,000 cards); and the CLI end to end (a process per run, ``--json``). Baselines in
   the same run: the same listing by status alone (``list --status ready``, the index the board pages
   on) and by the old text filter (``--search``), in-process and as a CLI process.
2. The board's label filter: the filter box's query applied (``#infra``) and the four columns read and
   drawn again (headless, in-process; the app settles: counts, first pages, repaint). Baselines in the
   same run: the old kind of filter (free text, ``number 1``) and a reload with no filter; and the
   harness alone (settling with nothing to do).

The backlog: 100,000 cards (60% ready, 10% claimed, 10% blocked, 20% done; seven phases), inserted with
plain SQL; 10,000 of them labelled ``infra`` and 20,000 more rows of other labels (``docs``, ``ops``),
``INSERT INTO backlog_labels`` as the fleet's service would. Medians of ``--runs``, with the load.

Run: ``python bench/query.py [--cards 100000] [--runs 7] [--backends sqlite,pg]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import fresh_database  # noqa: E402

QUERY = "#infra status:ready"


def build(url: str, n: int) -> dict[str, int]:
    from sqlalchemy import text

    from mosaic_tui.db.models import Card
    from mosaic_tui.repository import Backlog

    b = Backlog.open(url)
    b.db.ensure_schema()
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    rows = []
    for i in range(n):
        r = i % 10
        status = "ready" if r < 6 else "claimed" if r == 6 else "blocked" if r == 7 else "done"
        ts = t0 + timedelta(seconds=i)
        rows.append(dict(
            id=f"B{i:06d}", title=f"Card number {i} of the benchmark backlog", body=None, phase=f"P{i % 7}",
            priority=(i * 7919) % 10, status=status, depends_on=[], attempts=1 if status == "claimed" else 0,
            claim_owner=f"agent-{i % 13}" if status == "claimed" else None,
            claim_ttl_seconds=900 if status == "claimed" else None, claimed_at=ts if status == "claimed" else None,
            created_at=ts, updated_at=ts,
        ))
    for k in range(0, n, 10_000):
        with b.db.write() as conn:
            conn.execute(Card.__table__.insert(), rows[k:k + 10_000])
    infra = [10 * k + k % 10 for k in range(n // 10)]  # one card in ten, of every status alike: 10,000 of 100,000
    labels = [{"c": f"B{i:06d}", "l": "infra"} for i in infra]
    labels += [{"c": f"B{i:06d}", "l": "docs"} for i in range(3, n, 10)]
    labels += [{"c": f"B{i:06d}", "l": "ops"} for i in infra]
    with b.db.write() as conn:
        conn.execute(text("INSERT INTO backlog_labels (card_id, label) VALUES (:c, :l)"), labels)
    if b.backend == "postgresql":
        with b.db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE backlog"))
            conn.execute(text("VACUUM ANALYZE backlog_labels"))
    else:
        with b.db.write() as conn:
            conn.execute(text("ANALYZE"))
    counts = {"cards": b.count(), "infra": len([x for x in labels if x["l"] == "infra"]),
              "matches": b.count(where=QUERY)}
    b.close()
    return counts


def ms(fn, runs: int) -> tuple[float, float]:
    fn()  # warm: statement caches, the OS's
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times), min(times)


def cli_ms(url: str, args: list[str], runs: int) -> tuple[float, float]:
    env = dict(os.environ)
    cmd = [sys.executable, "-m", "mosaic_tui", "--db", url, "list", "--json", *args]

    def once():
        r = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if r.returncode != 0:
            raise SystemExit(r.stderr)
        json.loads(r.stdout)

    return ms(once, runs)


async def board_ms(url: str, runs: int) -> dict[str, tuple[float, float]]:
    """Per filter: ms until the four columns hold the new counts and first pages (the kanban's batch for
    the new scope shown: its rows are repainted on the next frame), and ms until the whole board settled
    (every pane's reload: stats, attention badge, keystones, dependency pane, the paint)."""
    from mosaic_tui.board.app import BoardApp
    from mosaic_tui.board.changes import Scope
    from mosaic_tui.repository import Backlog

    backlog = Backlog.open(url)
    app = BoardApp(backlog, poll=None)  # no live feed: the figures are the filter's alone
    out: dict[str, list[float]] = {}
    async with app.run_test(size=(160, 45)) as pilot:
        job = app.kanban._job
        shown_at: list[float] = []
        show = job.show

        def timed_show(batch):
            show(batch)
            if batch.full and batch.generation == app.refresher.generation:
                shown_at.append(time.perf_counter())

        job.show = timed_show

        async def settle():
            for _ in range(3):
                await pilot.pause()
                await app.workers.wait_for_complete()
            await pilot.pause()

        await settle()
        cases = {"label filter #infra": "#infra", "text filter 'number 1' (old kind)": "number 1",
                 "no filter (reload)": ""}
        for _ in range(runs + 1):
            for name, q in cases.items():
                app.set_scope(Scope(None, None))  # from the whole board each time
                await settle()
                shown_at.clear()
                t0 = time.perf_counter()
                app.set_scope(Scope(None).with_filter(q))
                await settle()
                out.setdefault(f"{name}: columns drawn", []).append((shown_at[0] - t0) * 1000)
                out.setdefault(f"{name}: whole board settled", []).append((time.perf_counter() - t0) * 1000)
                assert app.search == (q or None)
            t0 = time.perf_counter()
            await settle()
            out.setdefault("harness alone (settle, nothing to do)", []).append((time.perf_counter() - t0) * 1000)
        app.set_scope(Scope(None).with_filter("#infra"))
        await settle()
        shown = {s: c.count for s, c in app.columns.items()}
    backlog.close()
    print(f"    (the board under #infra: counts {shown})")
    return {k: (statistics.median(v[1:]), min(v[1:])) for k, v in out.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cards", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--backends", default="sqlite,pg")
    args = ap.parse_args()
    from mosaic_tui.repository import Backlog

    for backend in args.backends.split(","):
        with fresh_database("sqlite" if backend == "sqlite" else "postgresql") as url:
            t0 = time.perf_counter()
            counts = build(url, args.cards)
            print(f"\n== {backend}: {counts} (built in {time.perf_counter() - t0:.0f} s); "
                  f"load {os.getloadavg()[0]:.2f}")
            b = Backlog.open(url)
            cases = {
                f"list(where={QUERY!r}, limit=100)": lambda: b.list(where=QUERY, limit=100),
                f"list(where={QUERY!r}) every match": lambda: b.list(where=QUERY),
                f"ids(where={QUERY!r}) every match, ids only": lambda: b.ids(where=QUERY),
                f"count(where={QUERY!r})": lambda: b.count(where=QUERY),
                "baseline list(status='ready', limit=100)": lambda: b.list(status="ready", limit=100),
                "baseline list(status='ready', limit=6000)": lambda: b.list(status="ready", limit=6000),
                "baseline list(status='ready', search='number 1', limit=100)":
                    lambda: b.list(status="ready", search="number 1", limit=100),
                "baseline list(status='ready', search='number 1') every match":
                    lambda: b.list(status="ready", search="number 1"),
            }
            for name, fn in cases.items():
                med, lo = ms(fn, args.runs)
                print(f"  {name:62} {med:8.1f} ms median  {lo:7.1f} min  ({len(fn()) if 'count' not in name else fn()} rows)")
            b.close()
            for name, cli_args in {f"CLI list --where {QUERY!r} --limit 100": ["--where", QUERY, "--limit", "100"],
                                   "CLI baseline list --status ready --limit 100": ["--status", "ready", "--limit", "100"]
                                   }.items():
                med, lo = cli_ms(url, cli_args, max(3, args.runs // 2))
                print(f"  {name:62} {med:8.1f} ms median  {lo:7.1f} min  (a process)")
            for name, (med, lo) in asyncio.run(board_ms(url, args.runs)).items():
                print(f"  board {name:56} {med:8.1f} ms median  {lo:7.1f} min")
            print(f"  load after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
