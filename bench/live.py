"""Live board benchmarks, on both backends, with a populated backlog.

1. latency: another process claims a card and completes it, over and over,
   while a board is open; for each claim, the time from the writer's
   commit to the moment the board's column holds the new state (and has asked
   for a repaint). p50 and p95.
2. throughput: 4 worker processes claim-and-complete for a fixed time, with
   no board open, then with a board open and following the feed; runs
   alternate (A B A B ..., --pairs pairs; Postgres is vacuumed and
   checkpointed before each) and the ratio of the means is reported, with
   the median of the pairs' ratios, and the board process's CPU (cores) while
   the workers ran.

    python bench/live.py [--cards 100000] [--changes 100] [--seconds 8] [--pairs 4] [--backend sqlite|pg|both]
                         [--view board|activity]

``--view activity`` measures the latency to the activity timeline (``t``)
instead of the claimed column, ``--view agents`` to the agents pane (``a``:
the writer's row naming the card it holds); several views, comma-separated
(``--view activity,agents,board``), are measured one after the other on the
same backlog, in one run (``--pairs 0``: the latency only). The agents pane
reads at most once a second (``MIN_READ_S``): with ``--gap`` under a second
a claim can wait for that pacing, or be completed before the pane reads.

Prints one JSON line per measurement.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import fresh_url, populate  # noqa: E402


def pct(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


# --------------------------------------------------------------------------- latency
def writer(url: str, changes: int, gap: float) -> None:
    """Claim a card, print the commit time, complete it; ``changes`` times, ``gap`` seconds apart.

    Only the claims are measured: the claimed column then holds one card, on
    screen (a done card may land on a page the board does not show).
    """
    from mosaic_tui.repository import Backlog

    b = Backlog.open(url)
    for _ in range(changes):
        card = b.claim("bench-writer", ttl=3600)
        print(json.dumps({"card": card.id, "status": "claimed", "t": time.time()}), flush=True)
        time.sleep(gap)
        b.complete(card.id, owner="bench-writer")
        time.sleep(gap)
    b.close()


def shown(app, view: str, card: str) -> bool:
    """Does the board show ``card`` claimed: in the claimed column, or (``activity``) as a line of the
    activity timeline (``t``)?"""
    if view == "activity":
        lines = app.screen.events.lines
        return any(a.event.card_id == card and a.event.kind == "claimed" for a in lines[:8])
    if view == "agents":  # the rows drawn: (owner, the cells' text); the card cell starts with the card's id
        return any(owner == "bench-writer" and cells[1].split(" ", 1)[0] == card
                   for owner, cells in app.query_one("#agents")._shown)
    return app.columns["claimed"].find(card) is not None


async def latency(url: str, changes: int, gap: float, view: str = "board") -> tuple[list[float], int]:
    """Latencies (ms) of the claims the board showed, and how many it never showed within ``gap``."""
    from mosaic_tui.board import make_app
    from mosaic_tui.repository import Backlog

    backlog = Backlog.open(url)
    app = make_app(backlog)
    lines: list[dict] = []
    async with app.run_test(size=(160, 45)) as pilot:
        while not getattr(app, "painted", getattr(app, "_painted", False)):
            await pilot.pause(0.05)
        if view == "activity":
            await pilot.press("t")
            while not getattr(app.screen, "loaded", False):
                await pilot.pause(0.05)
        elif view == "agents":
            await pilot.press("a")
            while not app.query_one("#agents").display:
                await pilot.pause(0.05)
        await pilot.pause(0.5)
        proc = subprocess.Popen([sys.executable, __file__, "writer", url, str(changes), str(gap)],
                                stdout=subprocess.PIPE, text=True)

        def read():
            for line in proc.stdout:
                lines.append(json.loads(line))

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        seen: list[float] = []
        missed = 0
        i = 0
        deadline = time.monotonic() + changes * gap * 4 + 60
        while i < changes and time.monotonic() < deadline:
            if i < len(lines):
                change = lines[i]
                if shown(app, view, change["card"]):
                    seen.append((time.time() - change["t"]) * 1000)
                    i += 1
                    continue
                if time.time() - change["t"] > gap:  # completed again before the board showed the claim
                    missed += 1
                    i += 1
                    continue
            await pilot.pause(0.002)
        proc.wait()
    backlog.close()
    if i < changes:
        raise SystemExit(f"the board followed only {i} of {changes} changes")
    return seen, missed


# --------------------------------------------------------------------------- throughput
def _worker(url: str, name: str, seconds: float, start, out) -> None:
    from mosaic_tui.repository import Backlog

    b = Backlog.open(url)
    b.db.ensure_schema()
    start.wait()
    n = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        card = b.claim(name, ttl=600)
        if card is None:
            break
        b.complete(card.id, owner=name)
        n += 1
    out.put(n)
    b.close()


def board_process(url: str, read_url: str | None = None) -> None:
    from mosaic_tui.board import make_app
    from mosaic_tui.repository import Backlog

    async def main():
        app = make_app(Backlog.open(url, read_url=read_url))
        async with app.run_test(size=(160, 45)) as pilot:
            while not getattr(app, "painted", getattr(app, "_painted", False)):
                await pilot.pause(0.05)
            print("painted", flush=True)
            while True:
                await pilot.pause(1)

    asyncio.run(main())


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system) a process has used so far (Linux /proc)."""
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def throughput(url: str, seconds: float, with_board: bool, workers: int = 4, cpu: list | None = None) -> float:
    """Claims per second of ``workers`` processes; with a board, its CPU per second goes to ``cpu``."""
    ctx = mp.get_context("spawn")
    board = None
    if with_board:
        board = subprocess.Popen([sys.executable, __file__, "board", url], stdout=subprocess.PIPE, text=True)
        assert board.stdout.readline().strip() == "painted"
    start = ctx.Barrier(workers + 1)
    out = ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(url, f"w{i}", seconds, start, out)) for i in range(workers)]
    for p in procs:
        p.start()
    start.wait()
    t0 = time.monotonic()
    c0 = process_cpu(board.pid) if board is not None else 0.0
    total = sum(out.get() for _ in procs)
    elapsed = time.monotonic() - t0
    if board is not None and cpu is not None:
        cpu.append((process_cpu(board.pid) - c0) / elapsed)
    for p in procs:
        p.join()
    if board is not None:
        board.terminate()
        board.wait()
    return total / elapsed


def settle(url: str, since_event: int) -> None:
    """Every throughput run starts from the same state: the cards the runs before completed are
    ready again (so the runs never drain the backlog), and on Postgres the dead rows are vacuumed
    and the dirty pages written (else autovacuum and checkpoints land in some runs only)."""
    from sqlalchemy import text

    from mosaic_tui.repository import Backlog

    b = Backlog.open(url)
    with b.db.engine.begin() as conn:
        conn.execute(text(
            "UPDATE backlog SET status = 'ready', claim_owner = NULL, claimed_at = NULL, claim_ttl_seconds = NULL, "
            "attempts = 0 WHERE status = 'done' AND id IN (SELECT card_id FROM backlog_events WHERE id > :since AND kind = 'completed')"
        ), {"since": since_event})
    b.close()
    if "://" not in url:
        return
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE backlog")
        conn.execute("VACUUM ANALYZE backlog_events")
        conn.execute("CHECKPOINT")


def run(backend: str, cards: int, changes: int, seconds: float, gap: float, pairs: int,
        views: tuple[str, ...] = ("board",)) -> None:
    url, drop = fresh_url(backend)
    try:
        t = time.monotonic()
        populate(url, cards)
        load = time.monotonic() - t
        for view in views:
            load_before = os.getloadavg()[0]
            lat, missed = asyncio.run(latency(url, changes, gap, view))
            print(json.dumps({"case": "latency", "view": view, "backend": backend, "cards": cards,
                              "changes": len(lat) + missed, "missed_within_gap": missed, "gap_s": gap,
                              "p50_ms": round(statistics.median(lat), 1), "p95_ms": round(pct(lat, 0.95), 1),
                              "max_ms": round(max(lat), 1), "populate_s": round(load, 1),
                              "load_before": load_before, "load": os.getloadavg()[0]}), flush=True)
        if pairs <= 0:
            return
        from mosaic_tui.repository import Backlog

        b = Backlog.open(url)
        since = b.last_event_id()
        b.close()
        runs = {False: [], True: []}
        cpu: list[float] = []
        for _ in range(pairs):
            for with_board in (False, True):
                settle(url, since)
                runs[with_board].append(throughput(url, seconds, with_board, cpu=cpu))
        base, board = statistics.mean(runs[False]), statistics.mean(runs[True])
        pair_ratios = [b / a for a, b in zip(runs[False], runs[True])]
        print(json.dumps({"case": "throughput", "backend": backend, "cards": cards, "workers": 4, "pairs": pairs,
                          "claims_per_s_without_board": round(base, 1), "claims_per_s_with_board": round(board, 1),
                          "ratio": round(board / base, 3), "median_pair_ratio": round(statistics.median(pair_ratios), 3),
                          "runs": {str(k): [round(x, 1) for x in v] for k, v in runs.items()},
                          "board_cpu_per_s": [round(x, 3) for x in cpu],
                          "load": os.getloadavg()[0]}), flush=True)
    finally:
        drop()


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "writer":
        writer(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]))
        return
    if len(sys.argv) > 1 and sys.argv[1] == "board":
        board_process(sys.argv[2])
        return
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cards", type=int, default=100_000)
    ap.add_argument("--changes", type=int, default=100)
    ap.add_argument("--seconds", type=float, default=8.0)
    ap.add_argument("--gap", type=float, default=0.5, help="seconds between the writer's changes")
    ap.add_argument("--pairs", type=int, default=4, help="throughput runs without and with a board, alternating")
    ap.add_argument("--backend", choices=["sqlite", "pg", "both"], default="both")
    ap.add_argument("--view", default="board",
                    help="where the latency is seen, comma-separated: board (the claimed column), activity (the "
                         "timeline, t), agents (the agents pane, a); measured one after the other on one backlog")
    args = ap.parse_args()
    views = tuple(v.strip() for v in args.view.split(","))
    unknown = [v for v in views if v not in ("board", "activity", "agents")]
    if unknown:
        ap.error(f"unknown view {unknown[0]!r} (board, activity, agents)")
    for backend in (["sqlite", "pg"] if args.backend == "both" else [args.backend]):
        run(backend, args.cards, args.changes, args.seconds, args.gap, args.pairs, views)


if __name__ == "__main__":
    main()
