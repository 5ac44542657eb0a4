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

**Pacing** (``--pacing old,new``, ``--fleet N``): the latency is measured
under each of the board's feed pacings in the same run, alternating in
``--rounds`` rounds on the same backlog (``old``: a wait of 100 ms after every
wake-up, ``BoardFeed.BURST = 1``; ``new``: a lone change at once, bursts
paced, ``BURST = 2``), while ``--fleet N`` agents, in a process of their own,
each hold a claim and heartbeat (a Poisson stream of N heartbeats a second in
all, ``--fleet-rate``): the commits a real fleet makes between two claims.
The throughput runs then measure the board process's CPU under the 4 workers
with each pacing (without a board, then with each, alternating).

**Code versions** (``--code main=/work/main,live=/work/wt-live``): each
variant is also run over the ``mosaic_tui`` of each folder (the board in a
process of its own with that folder first on ``PYTHONPATH``; this script, the
writer and the fleet as they are), alternating in the same rounds: a same-run
baseline of one version against another. The board's CPU counts the processes
it started (the keystones' analysis runs in one at a large backlog).

Prints one JSON line per measurement.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import random
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


def fleet(url: str, agents: int, rate: float, seconds: float) -> None:
    """``agents`` agents each claim a card, then heartbeat: ``rate`` heartbeats a second in all, at random
    (a Poisson stream), for ``seconds``; prints ``ready`` once the claims are made."""
    from mosaic_tui.repository import Backlog

    b = Backlog.open(url)
    held = [(f"fleet-{i}", b.claim(f"fleet-{i}", ttl=3600).id) for i in range(agents)]
    print("ready", flush=True)
    rng = random.Random(7)
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        time.sleep(rng.expovariate(rate))
        owner, card = rng.choice(held)
        b.heartbeat(card, owner, ttl=3600)
    for owner, card in held:
        b.release(card, owner)
    b.close()


def set_pacing(pacing: str) -> None:
    """The board's feed pacing for the boards made from now on in this process."""
    from mosaic_tui.board.refresher import BoardFeed

    BoardFeed.BURST = {"old": 1, "new": 2}[pacing]


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


def board_process(url: str, pacing: str = "new", read_url: str | None = None) -> None:
    from mosaic_tui.board import make_app
    from mosaic_tui.repository import Backlog

    set_pacing(pacing)

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


def tree_cpu(pid: int) -> dict[int, float]:
    """CPU seconds of a process and of every process under it (Linux /proc), by pid."""
    parent: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    parent[int(entry)] = int(fh.read().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
    tree, todo = [pid], [pid]
    while todo:
        p = todo.pop()
        kids = [c for c, pp in parent.items() if pp == p]
        tree += kids
        todo += kids
    out = {}
    for p in tree:
        try:
            out[p] = process_cpu(p)
        except OSError:
            continue
    return out


def variant_env(code: str | None) -> dict | None:
    """The environment of a board process over the ``mosaic_tui`` of folder ``code`` (None: as this one)."""
    return None if code is None else {**os.environ, "PYTHONPATH": code}


WARM_S = 0.0  # --warm: seconds a board is open before the workers start (its steady state, not its start)


def throughput(url: str, seconds: float, with_board: str | None, workers: int = 4, cpu: list | None = None,
               code: str | None = None) -> float:
    """Claims per second of ``workers`` processes; with a board (its pacing; over the code of folder ``code``),
    its CPU per second (its own and its processes') goes to ``cpu``."""
    ctx = mp.get_context("spawn")
    board = None
    if with_board:
        board = subprocess.Popen([sys.executable, __file__, "board", url, with_board], stdout=subprocess.PIPE, text=True,
                                 env=variant_env(code))
        assert board.stdout.readline().strip() == "painted"
        time.sleep(WARM_S)  # --warm: the board's first reads (and the processes it starts) behind it
    start = ctx.Barrier(workers + 1)
    out = ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(url, f"w{i}", seconds, start, out)) for i in range(workers)]
    for p in procs:
        p.start()
    start.wait()
    t0 = time.monotonic()
    c0 = tree_cpu(board.pid) if board is not None else {}
    total = sum(out.get() for _ in procs)
    elapsed = time.monotonic() - t0
    if board is not None and cpu is not None:
        c1 = tree_cpu(board.pid)
        cpu.append(sum(c - c0.get(p, 0.0) for p, c in c1.items()) / elapsed)
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


def latency_of(url: str, changes: int, gap: float, view: str, pacing: str, code: str | None) -> tuple[list[float], int]:
    """:func:`latency` under ``pacing``: here, or (``code``) in a process of its own over that folder's code."""
    if code is None:
        set_pacing(pacing)
        return asyncio.run(latency(url, changes, gap, view))
    out = subprocess.run([sys.executable, __file__, "latency", url, str(changes), str(gap), view, pacing],
                         stdout=subprocess.PIPE, text=True, env=variant_env(code), check=True).stdout
    got = json.loads(out.strip().splitlines()[-1])
    return got["seen"], got["missed"]


def run(backend: str, cards: int, changes: int, seconds: float, gap: float, pairs: int,
        views: tuple[str, ...] = ("board",), pacings: tuple[str, ...] = ("new",), agents: int = 0,
        rate: float = 5.0, rounds: int = 1, codes: dict[str, str] | None = None) -> None:
    # a variant: (name, pacing, code folder or None)
    variants = [(p, p, None) for p in pacings] if not codes else [
        (f"{label}/{p}" if len(pacings) > 1 else label, p, folder) for label, folder in codes.items() for p in pacings]
    names = [v[0] for v in variants]
    url, drop = fresh_url(backend)
    try:
        t = time.monotonic()
        populate(url, cards)
        load = time.monotonic() - t
        for view in views:
            lat: dict[str, list[float]] = {n: [] for n in names}
            missed = dict.fromkeys(names, 0)
            loads: list[float] = [os.getloadavg()[0]]
            crowd = None
            if agents:
                crowd = subprocess.Popen([sys.executable, __file__, "fleet", url, str(agents), str(rate),
                                          str(changes * gap * 2 * len(variants) * 2 + 120)], stdout=subprocess.PIPE,
                                         text=True)
                assert crowd.stdout.readline().strip() == "ready"
            try:
                for _ in range(rounds):
                    for name, pacing, code in variants:
                        got, lost = latency_of(url, max(1, changes // rounds), gap, view, pacing, code)
                        print(json.dumps({"case": "latency_round", "variant": name, "seen_ms": [round(x, 1) for x in got],
                                          "missed": lost, "load": os.getloadavg()[0]}), flush=True)
                        lat[name] += got
                        missed[name] += lost
                        loads.append(os.getloadavg()[0])
            finally:
                if crowd is not None:
                    crowd.terminate()
                    crowd.wait()
            for name, pacing, code in variants:
                v = lat[name]
                print(json.dumps({"case": "latency", "view": view, "backend": backend, "cards": cards, "variant": name,
                                  "pacing": pacing, "code": code,
                                  "fleet_agents": agents, "fleet_heartbeats_per_s": rate if agents else 0,
                                  "changes": len(v) + missed[name], "missed_within_gap": missed[name], "gap_s": gap,
                                  "p50_ms": round(statistics.median(v), 1), "p95_ms": round(pct(v, 0.95), 1),
                                  "max_ms": round(max(v), 1), "populate_s": round(load, 1),
                                  "load_min": min(loads), "load_max": max(loads)}), flush=True)
        if pairs <= 0:
            return
        from mosaic_tui.repository import Backlog

        b = Backlog.open(url)
        since = b.last_event_id()
        b.close()
        runs: dict[str | None, list[float]] = {n: [] for n in (None, *names)}
        cpu: dict[str, list[float]] = {n: [] for n in names}
        loads = [os.getloadavg()[0]]
        for _ in range(pairs):
            for name, pacing, code in ((None, None, None), *variants):
                settle(url, since)
                runs[name].append(throughput(url, seconds, pacing, cpu=cpu.get(name), code=code))
                loads.append(os.getloadavg()[0])
        base = statistics.mean(runs[None])
        for name, pacing, code in variants:
            board = statistics.mean(runs[name])
            pair_ratios = [b / a for a, b in zip(runs[None], runs[name])]
            print(json.dumps({"case": "throughput", "backend": backend, "cards": cards, "workers": 4, "pairs": pairs,
                              "variant": name, "pacing": pacing, "code": code,
                              "claims_per_s_without_board": round(base, 1), "claims_per_s_with_board": round(board, 1),
                              "ratio": round(board / base, 3), "median_pair_ratio": round(statistics.median(pair_ratios), 3),
                              "runs": {"without": [round(x, 1) for x in runs[None]], "with": [round(x, 1) for x in runs[name]]},
                              "board_cpu_per_s": [round(x, 3) for x in cpu[name]],
                              "board_cpu_mean": round(statistics.mean(cpu[name]), 3),
                              "load_min": min(loads), "load_max": max(loads)}), flush=True)
    finally:
        drop()


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "writer":
        writer(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]))
        return
    if len(sys.argv) > 1 and sys.argv[1] == "board":
        board_process(sys.argv[2], *sys.argv[3:4])
        return
    if len(sys.argv) > 1 and sys.argv[1] == "fleet":
        fleet(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5]))
        return
    if len(sys.argv) > 1 and sys.argv[1] == "latency":  # one variant's latency, over the code on PYTHONPATH
        set_pacing(sys.argv[6])
        seen, missed = asyncio.run(latency(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), sys.argv[5]))
        print(json.dumps({"seen": seen, "missed": missed}), flush=True)
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
    ap.add_argument("--pacing", default="new",
                    help="the board's feed pacings measured in the same run, comma-separated: old (100 ms after every "
                         "wake-up), new (a lone change at once, bursts paced)")
    ap.add_argument("--fleet", type=int, default=0, help="agents holding a claim and heartbeating during the latency runs")
    ap.add_argument("--fleet-rate", type=float, default=5.0, help="the fleet's heartbeats a second, in all")
    ap.add_argument("--rounds", type=int, default=1, help="latency rounds, the variants alternating within each")
    ap.add_argument("--code", default="",
                    help="code versions to compare in the same run, comma-separated label=folder (a checkout whose "
                         "mosaic_tui the board runs), e.g. main=/work/main,live=/work/wt-live")
    ap.add_argument("--warm", type=float, default=0.0,
                    help="throughput runs: seconds the board is open before the workers start (its first reads done)")
    args = ap.parse_args()
    global WARM_S
    WARM_S = args.warm
    pacings = tuple(p.strip() for p in args.pacing.split(","))
    if any(p not in ("old", "new") for p in pacings):
        ap.error("--pacing: old, new")
    views = tuple(v.strip() for v in args.view.split(","))
    unknown = [v for v in views if v not in ("board", "activity", "agents")]
    if unknown:
        ap.error(f"unknown view {unknown[0]!r} (board, activity, agents)")
    codes = {}
    for item in filter(None, (c.strip() for c in args.code.split(","))):
        label, sep, folder = item.partition("=")
        if not sep or not label or not (Path(folder) / "mosaic_tui").is_dir():
            ap.error(f"--code: label=folder, a folder holding mosaic_tui (not {item!r})")
        codes[label] = str(Path(folder).resolve())
    for backend in (["sqlite", "pg"] if args.backend == "both" else [args.backend]):
        run(backend, args.cards, args.changes, args.seconds, args.gap, args.pairs, views, pacings, args.fleet,
            args.fleet_rate, args.rounds, codes)


if __name__ == "__main__":
    main()
