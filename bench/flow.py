#!/usr/bin/env python3
"""Flow figures at scale: ``mosaic_tui.repository.watch.flow.flow(window)`` on 100,000 cards and ~1,000,000 events, against the old code.

Seeds a fresh database per backend directly at revision 0003 (no triggers
while loading: on Postgres ``session_replication_role = replica`` and COPY,
on SQLite the triggers are dropped for the load and created again after),
then migrates it to the head as a backlog with that history would be, and
times that migration (0004: the flow side tables' backfill). Then, per window
(1h, 1d, 7d), ``flow(backlog, w)`` and, as the baseline in the same process
on the same database, interleaved, the code before the side tables
(the flow module at ``--baseline-ref``, ``mosaic_tui/flow.py`` then, read with ``git show``, with
migration 0002's done index it read made again), ``--runs`` times each, with a
warm connection pool, as the board's Flow screen calls it. ``sameFigures``:
``flow_json`` of both, compared whole.

``--shape week`` (default, :func:`week_history`): a large fleet's week, every
event in the last seven days, a third of them completions, 100 agents.
``--shape month`` (:func:`history`): ten events per card over ``--days``
days, mostly heartbeats, 80% completed once.

``--index-cost`` measures instead what the flow indexes (0002) cost the hot
path: claim + heartbeat + complete cycles per second with them and, as the
baseline in the same run, without them (dropped), interleaved.
``--trigger-cost`` the same for migration 0004: with its triggers, and
without them (dropped, 0002's done index made again: the hot path as before).

``--screen`` also opens the board's Flow screen headless (160x45) for each
window, with the new code and the baseline's, and times it from the push to
the figures drawn.

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


def week_history(cards: int, agents: int, now: datetime, seed: int = 11):
    """A large fleet's week: (card rows, event rows sorted by time), every event in the last seven days.

    About ten events per card and a third of them completions (100,000 cards:
    ~1,000,000 events, ~333,000 completions, what 100 agents finishing a card
    every 3 minutes write in a week): each card is created, then goes through
    three or four rounds of claimed -> completed, reopened between rounds. For
    variety that the figures must get right: 3% of the rounds are released
    once (a lease ran out) and claimed again, by another agent, before the
    completion (the cycle counts from the last claim); 2% of the completions
    are made from ``ready`` by no one (no cycle time, no agent); 4% of the
    cards are still claimed now and 2% blocked; one card in 16 has no phase.
    """
    rng = random.Random(seed)
    week = 7 * 86400
    card_rows, events = [], []
    for i in range(cards):
        cid = f"c{i:06d}"
        rounds = 4 if rng.random() < 1 / 3 else 3
        fate = rng.random()
        plan = []  # (gap before, kind, old, new, owner)
        for r in range(rounds):
            owner = f"agent-{rng.randrange(agents) + 1}"
            last = r == rounds - 1
            if rng.random() < 0.02:  # done by a person, straight from ready
                plan.append((rng.expovariate(1 / 1800), "completed", "ready", "done", None))
            else:
                plan.append((rng.expovariate(1 / 1800), "claimed", "ready", "claimed", owner))
                if rng.random() < 0.03:
                    other = f"agent-{rng.randrange(agents) + 1}"
                    plan.append((rng.uniform(900, 1800), "released", "claimed", "ready", owner))
                    plan.append((rng.expovariate(1 / 600), "claimed", "ready", "claimed", other))
                    owner = other
                if last and fate < 0.04:
                    break  # still claimed
                if last and fate < 0.06:
                    plan.append((rng.uniform(300, 2400), "blocked", "claimed", "blocked", owner))
                    break
                plan.append((rng.uniform(300, 2400), "completed", "claimed", "done", owner))
            if not last:
                plan.append((rng.expovariate(1 / 7200), "reopened", "done", "ready", None))
        life = sum(p[0] for p in plan)
        if fate < 0.04:  # still claimed: the last claim a few minutes ago
            created = now - timedelta(seconds=life + rng.uniform(0, 600))
        else:
            created = now - timedelta(seconds=life + rng.uniform(0, max(0.0, week - life - 60)))
        t = created
        ev = [(t, cid, "created", None, "ready", None)]
        for gap, kind, old, new, owner in plan:
            t += timedelta(seconds=gap)
            ev.append((t, cid, kind, old, new, owner))
        status = ev[-1][4]
        card_owner = ev[-1][5] if status == "claimed" else None
        claimed_at = ev[-1][0] if status == "claimed" else None
        events.extend(ev)
        phase = None if i % 16 == 15 else PHASES[i % len(PHASES)]
        card_rows.append((cid, f"card number {i}", phase, i % 10, status, card_owner,
                          900 if card_owner else None, claimed_at, rounds, created, t))
    events.sort(key=lambda e: e[0])
    return card_rows, events


def _migrate_to(url: str, revision: str) -> None:
    from alembic import command
    from alembic.config import Config

    from mosaic_tui.db import schema
    from mosaic_tui.db.engine import open_database

    db = open_database(url)
    cfg = Config()
    cfg.set_main_option("script_location", str(schema.migrations_dir()))
    with db.engine.connect() as conn, conn.begin():
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
    db.dispose()


def load(url: str, backend: str, card_rows, events) -> tuple[float, float]:
    """Bulk-load the rows, bypassing the triggers, into a backlog at revision 0003 (before the flow side
    tables), then migrate it to the head as a backlog with that history would be: returns the seconds of
    the load and of the migration (migration 0004's backfill)."""
    from mosaic_tui.repository import Backlog

    t0 = time.perf_counter()
    _migrate_to(url, "0003")
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
    loaded = time.perf_counter() - t0
    t0 = time.perf_counter()
    b = Backlog.open(url)
    b.db.ensure_schema()  # migration 0004: the side tables and their backfill, under the migration lock
    b.close()
    return loaded, time.perf_counter() - t0


#: The code before the flow side tables (the commit this branch started from): the baseline, run in the
#: same process on the same database. It read migration 0002's done index (and on SQLite its flow index),
#: which 0004 drops; the benchmark makes them again for the baseline (the new code reads neither there).
BASELINE_REF = "7d6a1cb952cbbe30e74d5bd937d155557791765c"
BASELINE_PATH = "mosaic_tui/flow.py"  # where the flow module was at BASELINE_REF (repository/watch/flow.py now)
FLOW_IDX = ("CREATE INDEX IF NOT EXISTS backlog_events_flow_idx ON backlog_events (at, kind, old_status, new_status, "
            "owner) WHERE kind <> 'heartbeat'")
DONE_IDX = ("CREATE INDEX IF NOT EXISTS backlog_events_done_idx ON backlog_events (at, card_id, id, owner, old_status) "
            "WHERE kind = 'completed'")


def baseline_module(ref: str):
    """The flow module as it was at ``ref`` (``git show`` of BASELINE_PATH), as a module of its own."""
    import subprocess
    import types

    root = Path(__file__).resolve().parent.parent
    source = subprocess.run(["git", "-C", str(root), "show", f"{ref}:{BASELINE_PATH}"],
                            check=True, capture_output=True, text=True).stdout
    module = types.ModuleType("flow_before")
    module.__file__ = f"{ref[:7]}:{BASELINE_PATH}"
    sys.modules["flow_before"] = module  # dataclasses look their module up
    exec(compile(source, module.__file__, "exec"), module.__dict__)
    return module


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


def screen_open_s(b, key: str, flow_fn=None) -> float:
    """Seconds from pushing the board's Flow screen (headless, 160x45) to its figures drawn
    (with ``flow_fn`` in place of the screen's ``flow``: the baseline's)."""
    import asyncio

    from textual import on
    from textual.app import App

    from mosaic_tui.board.screens import flow as flow_screen
    from mosaic_tui.board.screens.flow import FlowScreen
    from mosaic_tui.board.jobs import Call

    if flow_fn is not None:
        real = flow_screen.flow
        flow_screen.flow = flow_fn
        try:
            return screen_open_s(b, key)
        finally:
            flow_screen.flow = real

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

    from mosaic_tui.repository.watch.flow import WINDOWS, flow

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


FLOW_INDEXES = ("backlog_events_claims_idx",)  # 0002's that 0004 left on both backends (and flow_idx on Postgres)
#: Migration 0004's triggers: without them (and with 0002's done index again) the hot path is as before 0004.
TRIGGERS_0004 = {
    "sqlite": [("mosaic_flow_done_ai", None), ("mosaic_flow_done_ad", None), ("mosaic_flow_claim_ad", None),
               ("mosaic_flow_moves_ai", None), ("mosaic_flow_moves_ad", None), ("mosaic_flow_card_ai", None),
               ("mosaic_flow_card_ad", None), ("mosaic_flow_card_au", None)],
    "postgresql": [("mosaic_flow_event_insert", "backlog_events"), ("mosaic_flow_event_delete", "backlog_events"),
                   ("mosaic_flow_card_update", "backlog"), ("mosaic_flow_card_insert_delete", "backlog")],
}


def _without_flow_indexes(conn, backend: str) -> None:
    from sqlalchemy import text

    for name in FLOW_INDEXES:
        conn.execute(text(f"DROP INDEX {name}"))


def _as_before_0004(conn, backend: str) -> None:
    from sqlalchemy import text

    for name, table in TRIGGERS_0004["postgresql" if backend == "pg" else "sqlite"]:
        conn.execute(text(f"DROP TRIGGER {name}" + (f" ON {table}" if table else "")))
    conn.execute(text(DONE_IDX))
    conn.execute(text(FLOW_IDX))  # dropped by 0004 on SQLite only


def index_cost(backend: str, rounds: int, cycles: int = 1500, *, before=_without_flow_indexes) -> dict:
    """What the flow's additions cost the hot path: claim + heartbeat + complete cycles per second in one
    process, on a fresh backlog of 3,000 ready cards, with them and (baseline) without (``before`` takes
    them away: by default migration 0002's indexes; ``--trigger-cost``: migration 0004's triggers),
    interleaved, ``rounds`` times each."""
    from _common import populate
    from mosaic_tui.repository import Backlog

    def run(drop: bool) -> float:
        with fresh_database(backend) as url:
            populate(url, 2 * cycles, done_every=0)
            b = Backlog.open(url)
            if drop:
                with b.db.engine.begin() as conn:
                    before(conn, backend)
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
    return {"backend": backend, "without": before.__name__, "cyclesPerSecondWithout": round(w, 1),
            "cyclesPerSecondWith": round(i, 1), "ratio": round(i / w, 3), "rounds": rounds}


def bench_backend(backend: str, args) -> list[dict]:
    from sqlalchemy import func, select, text

    from mosaic_tui.db.models import Event
    from mosaic_tui.repository.watch.flow import WINDOWS, flow, flow_json
    from mosaic_tui.repository import Backlog

    before = baseline_module(args.baseline_ref)
    EV = Event.__table__
    now = datetime.now(UTC).replace(microsecond=0)
    if args.shape == "week":
        card_rows, events = week_history(args.cards, args.agents, now)
    else:
        card_rows, events = history(args.cards, args.days, args.agents, now)
    results = []
    with fresh_database(backend) as url:
        seconds, migration = load(url, backend, card_rows, events)
        del card_rows, events
        b = Backlog.open(url, clock=lambda: now)
        b.db.run(lambda c: (c.execute(text(DONE_IDX)), c.execute(text(FLOW_IDX))))  # the baseline's (BASELINE_REF)
        if backend == "pg":
            with b.db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
                c.execute(text("ANALYZE backlog_events"))
        total = b.db.run(lambda c: c.execute(select(func.count()).select_from(EV)).scalar_one(), write=False)
        done = b.db.run(lambda c: c.execute(select(func.count()).where(EV.c.kind == "completed")).scalar_one(), write=False)
        print(f"# {backend}: loaded {args.cards} cards, {total} events ({done} completions) in {seconds:.1f} s; "
              f"migration 0004 (backfill) {migration:.1f} s", file=sys.stderr)
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
            f = flow(b, key)  # warm-up, and the same figures as the baseline's:
            same = flow_json(f) == before.flow_json(before.flow(b, key))
            loadavg = os.getloadavg()[0]
            new_s, old_s, new_cpu, old_cpu = [], [], [], []
            for _ in range(args.runs):  # interleaved, so that both see the same machine
                new_s += timed(lambda key=key: flow(b, key), 1)
                old_s += timed(lambda key=key: before.flow(b, key), 1)
                new_cpu += cpu_timed(lambda key=key: flow(b, key), 1, server_pid)
                old_cpu += cpu_timed(lambda key=key: before.flow(b, key), 1, server_pid)
            count_all = timed(lambda: b.db.run(lambda c: c.execute(select(func.count()).select_from(EV)).scalar_one(),
                                               write=False), args.runs)
            screen_s = screen_old_s = None
            if args.screen:
                screen_s, screen_old_s = [], []
                for _ in range(max(1, args.runs // 2)):
                    screen_s.append(screen_open_s(b, key))
                    screen_old_s.append(screen_open_s(b, key, before.flow))
            in_window = b.db.run(lambda c, s=start: c.execute(select(func.count()).where(EV.c.at >= s)).scalar_one(), write=False)
            cpu = backend == "sqlite" or server_pid is not None
            row = {
                "backend": backend, "shape": args.shape, "cards": args.cards, "events": total, "window": key,
                "eventsInWindow": in_window, "completionsInWindow": sum(f.completions), "sameFigures": same,
                "flowMedianMs": round(statistics.median(new_s) * 1000, 1),
                "flowMaxMs": round(max(new_s) * 1000, 1),
                "flowCpuMedianMs": round(statistics.median(new_cpu) * 1000, 1) if cpu else None,
                "beforeMedianMs": round(statistics.median(old_s) * 1000, 1),
                "beforeCpuMedianMs": round(statistics.median(old_cpu) * 1000, 1) if cpu else None,
                "speedup": round(statistics.median(old_s) / statistics.median(new_s), 1),
                "loadAverage": round(loadavg, 1),
                "screenOpenMedianMs": round(statistics.median(screen_s) * 1000, 1) if screen_s else None,
                "screenOpenBeforeMedianMs": round(statistics.median(screen_old_s) * 1000, 1) if screen_old_s else None,
                "countAllMedianMs": round(statistics.median(count_all) * 1000, 1),
                "migrationSeconds": round(migration, 1),
                "underOneSecond": max(new_s) < 1.0,
            }
            print(json.dumps(row), flush=True)
            results.append(row)
        b.close()
    return results


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cards", type=int, default=100_000, help="cards (each has about ten events); default 100,000")
    ap.add_argument("--shape", choices=("week", "month"), default="week",
                    help="week (default): a large fleet's week, a third of the events completions (week_history); "
                         "month: ten events a card over --days days, mostly heartbeats (history)")
    ap.add_argument("--days", type=float, default=30.0, help="--shape month: the history's span in days (default 30)")
    ap.add_argument("--agents", type=int, default=100)
    ap.add_argument("--baseline-ref", default=BASELINE_REF, help="the commit whose flow module (BASELINE_PATH) is the baseline")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--backends", default="sqlite,pg")
    ap.add_argument("--explain", action="store_true", help="print the query plans instead of timing")
    ap.add_argument("--index-cost", action="store_true",
                    help="instead: claim/heartbeat/complete cycles per second with migration 0002's indexes and without")
    ap.add_argument("--trigger-cost", action="store_true",
                    help="instead: claim/heartbeat/complete cycles per second with migration 0004's triggers and without")
    ap.add_argument("--screen", action="store_true",
                    help="also time the board's Flow screen, headless: push to figures drawn")
    args = ap.parse_args(argv)
    if args.index_cost or args.trigger_cost:
        before = _as_before_0004 if args.trigger_cost else _without_flow_indexes
        for backend in args.backends.split(","):
            print(json.dumps(index_cost(backend.strip(), args.runs, before=before)), flush=True)
        return 0
    ok = True
    for backend in args.backends.split(","):
        for row in bench_backend(backend.strip(), args):
            ok &= row["underOneSecond"] and row["sameFigures"]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
