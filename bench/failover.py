#!/usr/bin/env python3
"""Postgres in production: a failover, a read replica's effect on the primary, and the lag the board shows.

On a primary + streaming standby of its own (``tests/standby.py``: initdb, pg_basebackup, free ports,
run as the ``postgres`` user when root), never the shared server:

1. **failover**: ``--agents`` agent loops (one-shot ``mosaic-tui claim``/``complete`` processes through the
   multi-host URL, ``target_session_attrs=read-write``) drain a backlog; mid-drain the primary is stopped
   as a crash would (``pg_ctl stop -m immediate``) and the standby promoted ``--promote-after`` seconds
   later (default 2: what an HA manager takes to notice). Figures: from the
   stop to the first successful claim, and to every agent having claimed again; failed calls per agent
   meanwhile; 0 lost and 0 doubled checked. Baseline, same run: the agents' usual gap between two claims
   before the stop. Two modes: ``--wait 30`` (the call rides the failover) and without (exit 5, the agent
   retries after 0.2 s).
2. **load**: a writer changes a card every 0.1 s; the primary's transactions/s (``pg_stat_database``)
   and its server processes' CPU while 0 boards watch (the baseline), 4 boards, and 4 boards with
   ``--read-url`` on the standby. The boards are the real app, headless (``run_test``), one process each.
3. **lag**: with the standby applying WAL 0 ms and 500 ms late (``recovery_min_apply_delay``), a write
   per 0.2 s; for each, the lag the board shows (``Replicas.lag()``, read 50 ms after the commit)
   against the measured one (commit -> the row visible on the replica).

    python bench/failover.py [--cards 200] [--promote-after 2] [--agents 4] [--seconds 8] [--only failover,load,lag]
Prints one JSON line per figure (docs/performance/failover.md gives them).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
import standby  # noqa: E402

sys.path.insert(0, str(ROOT / "bench"))
from live import board_process  # noqa: E402 - the real board, headless, printing "painted"

MT = str(Path(sys.executable).parent / "mosaic-tui")


def pct(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))] if values else None


# --------------------------------------------------------------------------- 1. failover
def agent(url: str, name: str, wait: bool, log: list, stop: threading.Event) -> None:
    extra = ["--wait", "30"] if wait else []
    while not stop.is_set():
        sent = time.monotonic()
        r = subprocess.run([MT, "claim", "--owner", name, "--json", "--ttl", "300", *extra, "--db", url],
                           capture_output=True, text=True, timeout=120)
        now = time.monotonic()
        if r.returncode != 0:
            log.append(("error", now, sent))
            time.sleep(0.2)
            continue
        card = json.loads(r.stdout)
        if card is None:
            return
        log.append(("claim", now, card["id"], sent))
        while True:
            r = subprocess.run([MT, "complete", card["id"], "--owner", name, "--json", *extra, "--db", url],
                               capture_output=True, text=True, timeout=120)
            if r.returncode in (0, 4):  # 4: its commit was sent before the connection was lost
                log.append(("done", time.monotonic(), card["id"]))
                break
            log.append(("error", time.monotonic(), None))
            time.sleep(0.2)


def failover(cards: int, agents: int, wait: bool, promote_after: float) -> dict:
    from mosaic_tui.repository import Backlog

    with standby.pair(synchronous=True) as p:
        url = p.multi_url
        b = Backlog.open(url)
        for i in range(cards):
            b.create(f"f{i:04d}", f"card {i}")
        b.close()
        logs = {f"a{i}": [] for i in range(agents)}
        stop = threading.Event()
        threads = [threading.Thread(target=agent, args=(url, k, wait, logs[k], stop)) for k in logs]
        for t in threads:
            t.start()
        while sum(1 for lst in logs.values() for e in lst if e[0] == "done") < cards // 3:
            time.sleep(0.05)
        t_stop = time.monotonic()
        p.stop_primary()
        time.sleep(promote_after)  # what an HA manager takes to see the primary gone and promote
        p.promote()
        t_promoted = time.monotonic()
        for t in threads:
            t.join(600)
        stop.set()
        after = Backlog.open(url)
        left = [c.id for c in after.list() if c.status != "done"]
        after.close()
    done = [e[2] for lst in logs.values() for e in lst if e[0] == "done"]
    # the first claim each agent got that was sent after the stop (one already under way may finish before it)
    first_after = {k: min((e[1] for e in lst if e[0] == "claim" and e[3] > t_stop), default=None)
                   for k, lst in logs.items()}
    gaps = []
    for lst in logs.values():
        claims = [e[1] for e in lst if e[0] == "claim" and e[1] < t_stop]  # the usual pace, before the stop
        gaps += [b - a for a, b in zip(claims, claims[1:], strict=False)]
    return {
        "figure": "failover", "wait": wait, "agents": agents, "cards": cards,
        "promote_after_s": promote_after, "promoted_at_s": round(t_promoted - t_stop, 2),
        "first_claim_after_stop_s": round(min(v for v in first_after.values() if v) - t_stop, 2),
        "every_agent_claimed_again_s": round(max(v for v in first_after.values() if v) - t_stop, 2),
        "errors_per_agent": {k: sum(1 for e in lst if e[0] == "error") for k, lst in logs.items()},
        "baseline_claim_gap_p50_s": round(pct(gaps, 0.5), 2), "baseline_claim_gap_p95_s": round(pct(gaps, 0.95), 2),
        "lost": len(left), "doubled": len(done) - len(set(done)),
    }


# --------------------------------------------------------------------------- 2. load
def server_cpu(datadir: Path) -> float:
    """CPU seconds of a server's processes (the postmaster and its children), from /proc."""
    pid = int((datadir / "postmaster.pid").read_text().split()[0])
    total = 0.0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(entry) == pid or int(fields[1]) == pid:
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def writer(url: str, seconds: float) -> int:
    from mosaic_tui.repository import Backlog

    b = Backlog.open(url)
    n, end = 0, time.monotonic() + seconds
    while time.monotonic() < end:
        card = b.claim("writer", ttl=60)
        if card is not None:
            b.release(card.id, owner="writer")
        n += 1
        time.sleep(0.1)
    b.close()
    return n


def load(p, seconds: float, boards: int, read: bool) -> dict:
    procs = []
    for _ in range(boards):
        args = [sys.executable, __file__, "board", p.primary_url] + ([p.standby_url] if read else [])
        procs.append(subprocess.Popen(args, stdout=subprocess.PIPE, text=True))
    for proc in procs:
        assert proc.stdout.readline().strip() == "painted"
    time.sleep(1.0)
    x0 = p.sql(p.primary_port, "SELECT xact_commit FROM pg_stat_database WHERE datname = 'mosaic'")[0][0]
    c0, t0 = server_cpu(p.primary_dir), time.monotonic()
    writes = writer(p.primary_url, seconds)
    elapsed = time.monotonic() - t0
    c1 = server_cpu(p.primary_dir)
    for proc in procs:
        proc.terminate()
        proc.wait()
    time.sleep(1.2)  # backends report their statistics when they end
    x1 = p.sql(p.primary_port, "SELECT xact_commit FROM pg_stat_database WHERE datname = 'mosaic'")[0][0]
    return {"figure": "primary load", "boards": boards, "read_url": read, "writer_changes": writes,
            "primary_xact_per_s": round((x1 - x0) / elapsed, 1), "primary_cpu_cores": round((c1 - c0) / elapsed, 3)}


# --------------------------------------------------------------------------- 3. lag
def lag(p, delay_ms: int, samples: int) -> dict:
    import psycopg

    from mosaic_tui.repository import Backlog

    p.sql(p.standby_port, f"ALTER SYSTEM SET recovery_min_apply_delay = '{delay_ms}ms'", dbname="postgres")
    p.sql(p.standby_port, "SELECT pg_reload_conf()", dbname="postgres")
    time.sleep(0.5)
    b = Backlog.open(p.primary_url, read_url=p.standby_url)
    replica = psycopg.connect(p.standby_url, autocommit=True)
    shown, measured = [], []
    for i in range(samples):
        cid = f"lag{delay_ms}_{i}"
        b.create(cid, "lag probe")
        t0 = time.monotonic()
        sampler = threading.Timer(0.05, lambda: shown.append(b.db.replicas.lag()))  # what the board would show
        sampler.start()
        while not replica.execute("SELECT 1 FROM backlog WHERE id = %s", (cid,)).fetchone():
            time.sleep(0.002)
        measured.append(time.monotonic() - t0)
        sampler.join()
        time.sleep(0.2)
    replica.close()
    b.close()
    shown = [s for s in shown if s is not None]
    return {"figure": "replica lag", "apply_delay_ms": delay_ms, "samples": samples,
            "shown_p50_s": round(pct(shown, 0.5), 3), "shown_p95_s": round(pct(shown, 0.95), 3),
            "measured_p50_s": round(pct(measured, 0.5), 3), "measured_p95_s": round(pct(measured, 0.95), 3)}


# --------------------------------------------------------------------------- main
def main() -> None:
    if len(sys.argv) >= 3 and sys.argv[1] == "board":
        board_process(sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else None)
        return
    ap = argparse.ArgumentParser()
    ap.add_argument("--cards", type=int, default=200)
    ap.add_argument("--agents", type=int, default=4)
    ap.add_argument("--seconds", type=float, default=8.0)
    ap.add_argument("--promote-after", type=float, default=2.0)
    ap.add_argument("--only", default="failover,load,lag")
    args = ap.parse_args()
    only = set(args.only.split(","))
    results = []

    def say(r: dict) -> None:
        results.append(r)
        print(json.dumps(r), flush=True)

    if "failover" in only:
        for wait in (True, False):
            say(failover(args.cards, args.agents, wait, args.promote_after))
    if only & {"load", "lag"}:
        with standby.pair() as p:
            from mosaic_tui.repository import Backlog

            b = Backlog.open(p.primary_url)
            for i in range(200):
                b.create(f"c{i:04d}", f"card {i}")
            b.close()
            p.wait_replayed()
            if "load" in only:
                for boards, read in ((0, False), (4, False), (4, True), (0, False), (4, True), (4, False)):
                    say(load(p, args.seconds, boards, read))
            if "lag" in only:
                for delay in (0, 500):
                    say(lag(p, delay, 25))


if __name__ == "__main__":
    main()
