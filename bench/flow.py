#!/usr/bin/env python3
"""Flow figures at scale: ``mosaic_tui.flow.flow(window)`` on 100,000 cards and 1,000,000 events.

Seeds a fresh database per backend directly (no triggers while loading: on
Postgres ``session_replication_role = replica`` and COPY, on SQLite the
triggers are dropped for the load and created again after), then times
``flow(backlog, w)`` for each window (1h, 1d, 7d), ``--runs`` times each, in
one process with a warm connection pool, as the board's Flow screen calls it.

The history: every card has exactly ten events (so cards x 10 events), spread
over the last ``--days`` days (default 30), by ``--agents`` agents (default
20), in eight phases: 80% created, claimed, seven heartbeats, completed; 5%
the same but blocked at the end; 10% claimed, heartbeats, then released (a
lease ran out) and back to ready; 5% still claimed, heartbeating until now.
The cards' rows agree with their histories.

``--index-cost`` measures instead what the flow indexes cost the hot path:
claim + heartbeat + complete cycles per second with them and, as the
baseline in the same run, without them (dropped), interleaved.

``--screen`` also opens the board's Flow screen headless (160x45) for each
window and times it from the push to the figures drawn.

Baselines in the same run, on the same connection: ``SELECT count(*) FROM
backlog_events`` (the whole log) and ``SELECT count(*) ... WHERE at >= start``
(the window's events, on the ``at`` index): what merely counting costs.

Wall times depend on what else the machine runs: each line also gives the
1-minute load average when it was measured and the CPU time of a run (this
process's, where SQLite works, plus on Postgres the CPU time of the server
backend that ran the statements, read from /proc when the server is on this
machine): what a run costs when it has a core to itself.

One JSON line per (backend, window) on stdout; ``--explain`` prints the
query plans instead. Postgres: the admin URL ``MOSAIC_TEST_PG_URL`` (default
postgresql://postgres@127.0.0.1:5432/test); the database is made for the run
and dropped after. Skip a backend with ``--backends sqlite``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import fresh_database  # noqa: E402

TS_FMT = "%Y-%m-%d %H:%M:%S.%f"  # mosaic_tui.db.types.SQLITE_TS_FORMAT
PHASES = [f"P{i}" for i in range(1, 9)]


def history(cards: int, days: float, agents: int, now: datetime, seed: int = 11):
    """(card rows, event rows sorted by time): every card exactly ten events, all at or before ``now``."""
    rng = random.Random(seed)
    span_total = days * 86400
    card_rows, events = [], []
    for i in range(cards):
        cid = f"c{i:06d}"
        fate = rng.random()
        owner = f"agent-{rng.randrange(agents) + 1}"
        wait = rng.expovariate(1 / 3600)  # ready -> claimed, mean one hour
        beat = rng.uniform(120, 420)  # heartbeat every 2-7 minutes
        if fate < 0.05:  # still claimed: created, claimed, eight heartbeats, the last one just now
            life = wait + 8 * beat
            end = now - timedelta(seconds=rng.uniform(0, 60))
            created = end - timedelta(seconds=life)
        else:
            life = wait + 8 * beat + rng.uniform(60, 1800)
            created = now - timedelta(seconds=life + rng.uniform(0, span_total - life))
        t = created
        ev = [(t, cid, "created", None, "ready", None)]
        t += timedelta(seconds=wait)
        ev.append((t, cid, "claimed", "ready", "claimed", owner))
        beats = 8 if fate < 0.05 else 7
        for _ in range(beats):
            t += timedelta(seconds=beat)
            ev.append((t, cid, "heartbeat", "claimed", "claimed", owner))
        if fate < 0.05:
            status, claimed_at, card_owner = "claimed", ev[1][0], owner
        else:
            t += timedelta(seconds=rng.uniform(60, 1800))
            if fate < 0.10:
                ev.append((t, cid, "blocked", "claimed", "blocked", owner))
                status = "blocked"
            elif fate < 0.20:
                ev.append((t, cid, "released", "claimed", "ready", owner))
                status = "ready"
            else:
                ev.append((t, cid, "completed", "claimed", "done", owner))
                status = "done"
            claimed_at, card_owner = None, None
        events.extend(ev)
        card_rows.append((cid, f"card number {i}", PHASES[i % len(PHASES)], i % 10, status, card_owner,
                          900 if card_owner else None, claimed_at, 1, created, t))
    events.sort(key=lambda e: e[0])
    return card_rows, events


def load(url: str, backend: str, card_rows, events) -> float:
    """Bulk-load the rows, bypassing the triggers; returns the seconds it took."""
    from mosaic_tui.repository import Backlog

    t0 = time.perf_counter()
    b = Backlog.open(url)
    b.db.ensure_schema()
    b.close()
    if backend == "sqlite":
        import sqlite3

        con = sqlite3.connect(url)
        triggers = con.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'backlog'").fetchall()
        for name, _ in triggers:
            con.execute(f'DROP TRIGGER "{name}"')
        f = TS_FMT
        con.executemany(
            "INSERT INTO backlog (id, title, phase, priority, status, claim_owner, claim_ttl_seconds, claimed_at, "
            "attempts, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(*r[:7], r[7].strftime(f) if r[7] else None, r[8], r[9].strftime(f), r[10].strftime(f)) for r in card_rows],
        )
        con.executemany(
            "INSERT INTO backlog_events (card_id, kind, old_status, new_status, owner, at) VALUES (?, ?, ?, ?, ?, ?)",
            ((e[1], e[2], e[3], e[4], e[5], e[0].strftime(f)) for e in events),
        )
        for _, sql in triggers:
            con.execute(sql)
        con.commit()
        con.close()
    else:
        import psycopg

        with psycopg.connect(url) as con:
            con.execute("SET session_replication_role = replica")  # no triggers while loading
            with con.cursor().copy(
                "COPY backlog (id, title, phase, priority, status, claim_owner, claim_ttl_seconds, claimed_at, "
                "attempts, created_at, updated_at) FROM STDIN"
            ) as cp:
                for r in card_rows:
                    cp.write_row(r)
            with con.cursor().copy("COPY backlog_events (card_id, kind, old_status, new_status, owner, at) FROM STDIN") as cp:
                for e in events:
                    cp.write_row((e[1], e[2], e[3], e[4], e[5], e[0]))
            con.commit()
        with psycopg.connect(url, autocommit=True) as con:
            con.execute("VACUUM ANALYZE backlog")
            con.execute("VACUUM ANALYZE backlog_events")
    return time.perf_counter() - t0


def timed(fn, runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def _proc_cpu(pid: int) -> float:
    """CPU seconds (user + system) of process ``pid`` so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_timed(fn, runs: int, server_pid: int | None) -> list[float]:
    """CPU seconds per run: this process's (SQLite works in-process) plus, on Postgres, the server
    backend's that runs the statements (its parallel workers, if any, are not counted)."""
    out = []
    for _ in range(runs):
        c0 = time.process_time()
        s0 = _proc_cpu(server_pid) if server_pid else 0.0
        fn()
        s1 = _proc_cpu(server_pid) if server_pid else 0.0
        out.append(time.process_time() - c0 + s1 - s0)
    return out


def screen_open_s(b, key: str) -> float:
    """Seconds from pushing the board's Flow screen (headless, 160x45) to its figures drawn."""
    import asyncio

    from textual import on
    from textual.app import App

    from mosaic_tui.board.flowscreen import FlowScreen
    from mosaic_tui.board.jobs import Call

    class ScreenApp(App):
        @on(Call)
        def _call(self, msg: Call) -> None:  # a worker's result, run on the interface thread (as the board does)
            msg.run()

    async def run() -> float:
        app = ScreenApp()
        async with app.run_test(size=(160, 45)) as pilot:
            screen = FlowScreen(b, window=key)
            t0 = time.perf_counter()
            await app.push_screen(screen)
            deadline = time.monotonic() + 60
            while screen.figures is None:
                if time.monotonic() > deadline:
                    raise SystemExit("the Flow screen drew no figures within 60 s")
                await asyncio.sleep(0.02)  # coarse: a tight poll would compete with the worker for the CPU
            await pilot.pause()  # drawn
            return time.perf_counter() - t0

    return asyncio.run(run())


def explain(b) -> None:
    """Run flow() for each window, catch the statements it sends, and print their plans."""
    from sqlalchemy import event

    from mosaic_tui.flow import WINDOWS, flow

    seen: list[tuple[str, object]] = []

    def catch(_conn, _cursor, statement, parameters, _context, _many):
        if "backlog_events" in statement:
            seen.append((statement, parameters))

    event.listen(b.db.engine, "before_cursor_execute", catch)
    for key in WINDOWS:
        seen.clear()
        flow(b, key)
        for statement, parameters in list(seen):
            prefix = "EXPLAIN ANALYZE " if b.backend == "postgresql" else "EXPLAIN QUERY PLAN "
            raw = b.db.engine.raw_connection()
            try:
                cur = raw.cursor()
                cur.execute(prefix + statement, parameters)
                rows = cur.fetchall()
            finally:
                raw.close()
            print(f"--- {b.backend} {key}: {statement[:60]}...")
            for r in rows:
                print("   ", " | ".join(str(c) for c in r))
    event.remove(b.db.engine, "before_cursor_execute", catch)


FLOW_INDEXES = ("backlog_events_flow_idx", "backlog_events_done_idx", "backlog_events_claims_idx")


def index_cost(backend: str, rounds: int, cycles: int = 1500) -> dict:
    """What migration 0002's indexes cost the hot path: claim + heartbeat + complete cycles per second
    in one process, on a fresh backlog of 3,000 ready cards, with the indexes and (baseline) without,
    interleaved, ``rounds`` times each."""
    from sqlalchemy import text

    from _common import populate
    from mosaic_tui.repository import Backlog

    def run(drop: bool) -> float:
        with fresh_database(backend) as url:
            populate(url, 2 * cycles, done_every=0)
            b = Backlog.open(url)
            if drop:
                with b.db.engine.begin() as conn:
                    for name in FLOW_INDEXES:
                        conn.execute(text(f"DROP INDEX {name}"))
            t0 = time.perf_counter()
            for _ in range(cycles):
                card = b.claim("w", ttl=900)
                b.heartbeat(card.id, "w")
                b.complete(card.id, owner="w")
            b.close()
            return cycles / (time.perf_counter() - t0)

    without, with_ = [], []
    for _ in range(rounds):
        without.append(run(True))
        with_.append(run(False))
    w, i = statistics.median(without), statistics.median(with_)
    return {"backend": backend, "indexCost": True, "cyclesPerSecondWithout": round(w, 1),
            "cyclesPerSecondWith": round(i, 1), "ratio": round(i / w, 3), "rounds": rounds}


def bench_backend(backend: str, args) -> list[dict]:
    from sqlalchemy import func, select

    from mosaic_tui.db.models import Event
    from mosaic_tui.flow import WINDOWS, flow
    from mosaic_tui.repository import Backlog

    EV = Event.__table__
    now = datetime.now(UTC).replace(microsecond=0)
    card_rows, events = history(args.cards, args.days, args.agents, now)
    results = []
    with fresh_database(backend) as url:
        seconds = load(url, backend, card_rows, events)
        del card_rows, events
        b = Backlog.open(url, clock=lambda: now)
        total = b.db.run(lambda c: c.execute(select(func.count()).select_from(EV)).scalar_one(), write=False)
        print(f"# {backend}: loaded {args.cards} cards, {total} events in {seconds:.1f} s", file=sys.stderr)
        if args.explain:
            explain(b)
            b.close()
            return []
        server_pid = None
        if backend == "pg":  # the pool hands this process one connection, its backend does the work
            pid = b.db.run(lambda c: c.exec_driver_sql("SELECT pg_backend_pid()").scalar_one(), write=False)
            server_pid = pid if Path(f"/proc/{pid}/stat").exists() else None  # a server on this machine
        for key, win in WINDOWS.items():
            start, _ = win.bounds(now)
            f = flow(b, key)  # warm-up (and a sanity check below)
            loadavg = os.getloadavg()[0]
            flow_s = timed(lambda key=key: flow(b, key), args.runs)
            flow_cpu = cpu_timed(lambda key=key: flow(b, key), args.runs, server_pid)
            count_all = timed(lambda: b.db.run(lambda c: c.execute(select(func.count()).select_from(EV)).scalar_one(),
                                               write=False), args.runs)
            screen_s = [screen_open_s(b, key) for _ in range(max(1, args.runs // 2))] if args.screen else None
            in_window = b.db.run(lambda c, s=start: c.execute(select(func.count()).where(EV.c.at >= s)).scalar_one(), write=False)
            count_win = timed(lambda s=start: b.db.run(
                lambda c: c.execute(select(func.count()).where(EV.c.at >= s)).scalar_one(), write=False), args.runs)
            row = {
                "backend": backend, "cards": args.cards, "events": total, "window": key,
                "eventsInWindow": in_window, "completionsInWindow": sum(f.completions),
                "flowMedianMs": round(statistics.median(flow_s) * 1000, 1),
                "flowMaxMs": round(max(flow_s) * 1000, 1),
                "flowCpuMedianMs": round(statistics.median(flow_cpu) * 1000, 1) if backend == "sqlite" or server_pid else None,
                "loadAverage": round(loadavg, 1),
                "screenOpenMedianMs": round(statistics.median(screen_s) * 1000, 1) if screen_s else None,
                "countAllMedianMs": round(statistics.median(count_all) * 1000, 1),
                "countWindowMedianMs": round(statistics.median(count_win) * 1000, 1),
                "ratioToCountAll": round(statistics.median(flow_s) / statistics.median(count_all), 2),
                "underOneSecond": max(flow_s) < 1.0,
            }
            print(json.dumps(row), flush=True)
            results.append(row)
        b.close()
    return results


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cards", type=int, default=100_000, help="cards (each has ten events); default 100,000")
    ap.add_argument("--days", type=float, default=30.0, help="the history's span in days (default 30)")
    ap.add_argument("--agents", type=int, default=20)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--backends", default="sqlite,pg")
    ap.add_argument("--explain", action="store_true", help="print the query plans instead of timing")
    ap.add_argument("--index-cost", action="store_true",
                    help="instead: claim/heartbeat/complete cycles per second with migration 0002's indexes and without")
    ap.add_argument("--screen", action="store_true",
                    help="also time the board's Flow screen, headless: push to figures drawn")
    args = ap.parse_args(argv)
    if args.index_cost:
        for backend in args.backends.split(","):
            print(json.dumps(index_cost(backend.strip(), args.runs)), flush=True)
        return 0
    ok = True
    for backend in args.backends.split(","):
        for row in bench_backend(backend.strip(), args):
            ok &= row["underOneSecond"]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
