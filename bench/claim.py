#!/usr/bin/env python3
"""Claim throughput: the repository's claim path against the raw-SQL limit.

N worker PROCESSES claim-and-complete until nothing is claimable, once through
``mosaic_tui.repository.Backlog`` and once, in the same run and on a freshly
populated copy of the same backlog, through the bare driver (``sqlite3`` /
``psycopg``) issuing the very statements the repository issues (read off
``echo=True``): on SQLite ``BEGIN IMMEDIATE``, the reclaim-expired UPDATE that
claim runs first, the claim's ``WITH pick ... UPDATE ... RETURNING`` and
``COMMIT``; then the owner-checked complete. On Postgres the same statements
with ``FOR UPDATE SKIP LOCKED``.

Cases: backend (sqlite, pg) x cards (1,000 / 20,000 / 100,000) x backlog shape:

* ``plain``   -- every card ready, priorities 0..99;
* ``waiting`` -- half of the highest-priority cards (the top quartile, priority
  >= 75) depend on an unfinished low-priority card (priority < 25, ready), so
  they wait until the drain reaches and completes it;
* ``done90``  -- 90% of the cards are already done.

One JSON line per case on stdout: claims per second, p50/p95 claim latency (ms,
the claim transaction alone), duplicates (must be 0) and cards lost (must be 0)
(must be 0), for the repository and the raw baseline, and their ratio. Exits 1
if any duplicate or lost card is seen. ``--quick`` runs 1,000 cards only, two
workers, at most 300 claims per drain (under a minute). ``--max-claims K`` stops
each drain after K claims (the big backlogs: see docs/performance/claim.md). ``--explain N`` prints the claim's query plan on both backends at N
cards instead of benchmarking.

Postgres: the admin URL ``MOSAIC_TEST_PG_URL`` (default
postgresql://postgres@127.0.0.1:5432/test); each run gets a database of its
own, dropped after. Skip it with ``--backends sqlite``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import fresh_database, pct  # noqa: E402

TS_FMT = "%Y-%m-%d %H:%M:%S.%f"  # mosaic_tui.db.types.SQLITE_TS_FORMAT
SIZES = (1_000, 20_000, 100_000)
SHAPES = ("plain", "waiting", "done90")

COLS = (
    "id, title, body, phase, priority, status, depends_on, claim_owner, claim_ttl_seconds, claimed_at, "
    "attempts, idempotency_key, acceptance, created_at, updated_at, unmet_deps"
)
PG_COLS = ", ".join(f"backlog.{c.strip()}" for c in COLS.split(","))

# --- the repository's statements, as emitted (SQLAlchemy 2.x, echo=True) ----------------------
# The reclaim's first statement (mosaic_tui.db.verbs_sql.ENDED): the ended leases, with what their system notes
# say; an UPDATE and a note per card follow only when one has ended (never in these drains).
SQLITE_RECLAIM = (
    "SELECT backlog.id, backlog.claim_owner, backlog.claim_ttl_seconds, backlog.attempts FROM backlog "
    "WHERE backlog.status = 'claimed' AND "
    "strftime('%Y-%m-%d %H:%M:%f000', backlog.claimed_at, '+' || backlog.claim_ttl_seconds || ' seconds') < :now "
    "ORDER BY backlog.id"
)
SQLITE_CLAIM = (
    "WITH pick AS \n(SELECT backlog.id AS id \nFROM backlog \nWHERE backlog.status = 'ready' AND "
    "backlog.unmet_deps = 0 ORDER BY backlog.priority DESC, backlog.created_at, backlog.id\n LIMIT ? OFFSET ?)\n "
    "UPDATE backlog SET status=?, claim_owner=?, claim_ttl_seconds=?, claimed_at=?, "
    "attempts=(backlog.attempts + ?), updated_at=? FROM pick WHERE backlog.id = pick.id RETURNING " + COLS
)
SQLITE_COMPLETE = (
    "UPDATE backlog SET status=?, claim_owner=?, claim_ttl_seconds=?, claimed_at=?, updated_at=? "
    "WHERE backlog.id = ? AND backlog.status IN (?) AND backlog.claim_owner = ? RETURNING " + COLS
)
PG_RECLAIM = (
    "SELECT backlog.id, backlog.claim_owner, backlog.claim_ttl_seconds, backlog.attempts FROM backlog "
    "WHERE backlog.status = 'claimed' AND (backlog.claimed_at + make_interval(secs => backlog.claim_ttl_seconds)) "
    "< %(now)s ORDER BY backlog.id FOR UPDATE SKIP LOCKED"
)
PG_CLAIM = (
    "WITH pick AS \n(SELECT backlog.id AS id \nFROM backlog \nWHERE backlog.status = 'ready' AND "
    "backlog.unmet_deps = 0 ORDER BY backlog.priority DESC, backlog.created_at, backlog.id \n "
    "LIMIT %(param_1)s::INTEGER FOR UPDATE SKIP LOCKED)\n UPDATE backlog SET status=%(status)s, "
    "claim_owner=%(claim_owner)s::VARCHAR, claim_ttl_seconds=%(claim_ttl_seconds)s::INTEGER, "
    "claimed_at=%(claimed_at)s::TIMESTAMP WITH TIME ZONE, attempts=(backlog.attempts + %(attempts_1)s::INTEGER), "
    "updated_at=%(updated_at)s::TIMESTAMP WITH TIME ZONE FROM pick WHERE backlog.id = pick.id RETURNING " + PG_COLS
)
PG_COMPLETE = (
    "UPDATE backlog SET status=%(status)s, claim_owner=%(claim_owner)s::VARCHAR, "
    "claim_ttl_seconds=%(claim_ttl_seconds)s::INTEGER, claimed_at=%(claimed_at)s::TIMESTAMP WITH TIME ZONE, "
    "updated_at=%(updated_at)s::TIMESTAMP WITH TIME ZONE WHERE backlog.id = %(id_1)s::VARCHAR AND backlog.status "
    "IN (%(status_1_1)s) AND backlog.claim_owner = %(claim_owner_1)s::VARCHAR RETURNING " + PG_COLS
)
# Not timed: is anything claimable, or still in flight (a claimed dependency may unlock more)?
OPEN_WORK = "SELECT count(*) FROM backlog WHERE status = 'claimed' OR (status = 'ready' AND unmet_deps = 0)"
TTL = 900


# --------------------------------------------------------------------------- population
def card_rows(n: int, shape: str, seed: int = 7):
    """(id, priority, status, depends_on json, created_at) for a backlog of ``n`` cards."""
    rng = random.Random(seed)
    base = datetime(2026, 1, 1, tzinfo=UTC)
    prio = [rng.randrange(100) for _ in range(n)]
    ids = [f"C{i:06d}" for i in range(n)]
    deps: dict[int, str] = {}
    status = ["ready"] * n
    if shape == "waiting":
        low = [i for i in range(n) if prio[i] < 25]
        high = [i for i in range(n) if prio[i] >= 75]
        for k, i in enumerate(high[::2]):
            deps[i] = ids[low[k % len(low)]]
    elif shape == "done90":
        for i in rng.sample(range(n), n * 9 // 10):
            status[i] = "done"
    for i in range(n):
        yield ids[i], prio[i], status[i], json.dumps([deps[i]] if i in deps else []), base + timedelta(microseconds=i)


def populate(url: str, backend: str, n: int, shape: str) -> int:
    """Create the schema through the project, then bulk-insert ``n`` cards in one driver transaction."""
    from mosaic_tui.repository import Backlog

    b = Backlog.open(url)
    b.db.ensure_schema()
    b.close()
    rows = list(card_rows(n, shape))
    if backend == "sqlite":
        import sqlite3

        con = sqlite3.connect(url, isolation_level=None)
        con.execute("BEGIN IMMEDIATE")
        con.executemany(
            "INSERT INTO backlog (id, title, priority, status, depends_on, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            ((i, f"card {i}", p, s, d, c.strftime(TS_FMT), c.strftime(TS_FMT)) for i, p, s, d, c in rows),
        )
        con.execute("COMMIT")
        con.execute("ANALYZE")
        con.close()
    else:
        import psycopg

        with psycopg.connect(url) as con:
            with con.cursor() as cur, cur.copy(
                "COPY backlog (id, title, priority, status, depends_on, created_at, updated_at) FROM STDIN"
            ) as cp:
                for i, p, s, d, c in rows:
                    cp.write_row((i, f"card {i}", p, s, d, c, c))
            con.commit()
            con.autocommit = True
            con.execute("VACUUM ANALYZE backlog")
            con.execute("ANALYZE backlog_deps")
    return sum(1 for r in rows if r[2] != "done")


# --------------------------------------------------------------------------- workers
def _take(budget) -> bool:
    """One more claim allowed under --max-claims (a shared countdown; -1 means no cap)."""
    with budget.get_lock():
        if budget.value == 0:
            return False
        if budget.value > 0:
            budget.value -= 1
        return True


def _worker_repo(url, owner, ready, go, out, budget, direct=False):
    from mosaic_tui.repository import Backlog

    os.environ["MOSAIC_PG_DIRECT"] = "1" if direct else "0"  # --prepare: psycopg's auto-prepare on (1) or off (0)
    b = Backlog.open(url)
    b.db.ensure_schema()
    b.count()  # warm the pool and the statement cache
    ids, lat = [], []
    ready.release()
    go.wait()
    while _take(budget):
        t0 = time.perf_counter()
        card = b.claim(owner, ttl=TTL)
        t1 = time.perf_counter()
        if card is None:
            if b.count(status="claimed") + b.count(claimable=True) == 0:
                break
            time.sleep(0.002)
            continue
        lat.append(t1 - t0)
        ids.append(card.id)
        b.complete(card.id, owner=owner)
    b.close()
    out.put((owner, ids, lat))


def _worker_raw(url, backend, owner, ready, go, out, budget):
    ids, lat = [], []
    if backend == "sqlite":
        import sqlite3

        con = sqlite3.connect(url, timeout=60.0, isolation_level=None, check_same_thread=False)
        con.execute("PRAGMA busy_timeout = 60000")
        if con.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            con.execute("PRAGMA journal_mode = WAL")
        con.execute("PRAGMA synchronous = NORMAL")

        def claim():
            now = datetime.now(UTC).strftime(TS_FMT)
            con.execute("BEGIN IMMEDIATE")
            try:
                con.execute(SQLITE_RECLAIM, {"now": now}).fetchall()
                row = con.execute(SQLITE_CLAIM, (1, 0, "claimed", owner, TTL, now, 1, now)).fetchone()
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
            return row

        def complete(card_id):
            now = datetime.now(UTC).strftime(TS_FMT)
            con.execute("BEGIN IMMEDIATE")
            row = con.execute(SQLITE_COMPLETE, ("done", None, None, None, now, card_id, "claimed", owner)).fetchone()
            con.execute("COMMIT")
            assert row is not None

        def open_work():
            con.execute("BEGIN")
            n = con.execute(OPEN_WORK).fetchone()[0]
            con.execute("COMMIT")
            return n
    else:
        import psycopg

        con = psycopg.connect(url, application_name="mosaic-bench-raw")

        def claim():
            now = datetime.now(UTC)
            con.execute(PG_RECLAIM, {"now": now}).fetchall()
            row = con.execute(PG_CLAIM, dict(param_1=1, status="claimed", claim_owner=owner, claim_ttl_seconds=TTL,
                                             claimed_at=now, attempts_1=1, updated_at=now)).fetchone()
            con.commit()
            return row

        def complete(card_id):
            now = datetime.now(UTC)
            row = con.execute(PG_COMPLETE, dict(status="done", claim_owner=None, claim_ttl_seconds=None,
                                                claimed_at=None, updated_at=now, id_1=card_id,
                                                status_1_1="claimed", claim_owner_1=owner)).fetchone()
            con.commit()
            assert row is not None

        def open_work():
            n = con.execute(OPEN_WORK).fetchone()[0]
            con.commit()
            return n

    open_work()
    ready.release()
    go.wait()
    while _take(budget):
        t0 = time.perf_counter()
        row = claim()
        t1 = time.perf_counter()
        if row is None:
            if open_work() == 0:
                break
            time.sleep(0.002)
            continue
        lat.append(t1 - t0)
        ids.append(row[0])
        complete(row[0])
    con.close()
    out.put((owner, ids, lat))


def drain(url: str, backend: str, mode: str, workers: int, max_claims: int | None = None,
          direct: bool = False) -> dict:
    ctx = mp.get_context("forkserver")  # workers fork from a server that has imported these once (start-up is not timed)
    ctx.set_forkserver_preload(["mosaic_tui.repository", "psycopg", "sqlalchemy.dialects.postgresql.psycopg"])
    ready, go, out = ctx.Semaphore(0), ctx.Event(), ctx.Queue()
    budget = ctx.Value("q", -1 if max_claims is None else max_claims)
    procs = []
    for w in range(workers):
        owner = f"{mode}-w{w}"
        args = ((url, owner, ready, go, out, budget, direct) if mode == "repo"
                else (url, backend, owner, ready, go, out, budget))
        p = ctx.Process(target=_worker_repo if mode == "repo" else _worker_raw, args=args, daemon=True)
        p.start()
        procs.append(p)
    for _ in procs:
        if not ready.acquire(timeout=600):
            raise SystemExit("a worker did not start")
    t0 = time.perf_counter()
    go.set()
    results = [out.get(timeout=3600) for _ in procs]
    wall = time.perf_counter() - t0
    for p in procs:
        p.join(timeout=120)
        if p.exitcode is None:  # its results are in; only its exit is slow (a loaded machine): stop it
            p.kill()
            p.join()
        elif p.exitcode != 0:
            raise SystemExit(f"a {mode} worker failed (exit code {p.exitcode})")
    ids = [i for _, got, _ in results for i in got]
    lat = sorted(x for _, _, got in results for x in got)
    return {"claims": len(ids), "ids": ids, "wall": wall, "lat": lat}


def final_counts(url: str, backend: str) -> dict:
    """After a drain: cards done, still claimed, still claimable."""
    sql = (
        "SELECT sum(CASE WHEN status = 'done' THEN 1 ELSE 0 END), "
        "sum(CASE WHEN status = 'claimed' THEN 1 ELSE 0 END), "
        "sum(CASE WHEN status = 'ready' AND unmet_deps = 0 THEN 1 ELSE 0 END) FROM backlog"
    )
    if backend == "sqlite":
        import sqlite3

        con = sqlite3.connect(url)
        row = con.execute(sql).fetchone()
        con.close()
    else:
        import psycopg

        with psycopg.connect(url) as con:
            row = con.execute(sql).fetchone()
    return dict(zip(("done", "claimed", "claimable"), (int(x or 0) for x in row)))


def run_mode(backend, n, shape, mode, workers, max_claims=None, *, via=None, direct=False):
    """One drain on a fresh database of its own (bench/_common.py), removed afterwards.

    ``via``: the workers reach the database through this (e.g. a PgBouncer's ``url``), not directly.
    """
    with fresh_database(backend) as url:
        t = time.perf_counter()
        open_cards = populate(url, backend, n, shape)
        populate_s = time.perf_counter() - t
        r = drain(via(url) if via else url, backend, mode, workers, max_claims, direct)
        end = final_counts(url, backend)
        distinct = len(set(r["ids"]))
        capped = max_claims is not None and r["claims"] >= max_claims
        # Lost: a claimed card not done, a claim not matched by a completion, or (full drain) a card never claimed.
        r["lost"] = end["claimed"] + abs(end["done"] - (n - open_cards) - distinct) + (
            0 if capped else end["claimable"] + (open_cards - distinct)
        )
        r["capped"] = capped
        r["populate_s"] = populate_s
        return r


def summary(r):
    ids = r["ids"]
    return {
        "claims": r["claims"],
        "claims_per_s": round(r["claims"] / r["wall"], 1) if r["wall"] > 0 else None,
        "p50_ms": round(pct(r["lat"], 0.50) * 1000, 3) if r["lat"] else None,
        "p95_ms": round(pct(r["lat"], 0.95) * 1000, 3) if r["lat"] else None,
        "duplicates": len(ids) - len(set(ids)),
        "lost": r["lost"],
        "drained": not r["capped"],
        "wall_s": round(r["wall"], 2),
        "populate_s": round(r["populate_s"], 2),
    }


def bench_case(backend, n, shape, workers, max_claims=None):
    repo = summary(run_mode(backend, n, shape, "repo", workers, max_claims))
    raw = summary(run_mode(backend, n, shape, "raw", workers, max_claims))
    ratio = round(repo["claims_per_s"] / raw["claims_per_s"], 3) if repo["claims_per_s"] and raw["claims_per_s"] else None
    return {
        "case": f"{backend}/{n}/{shape}",
        "backend": backend,
        "cards": n,
        "shape": shape,
        "workers": workers,
        "repo": repo,
        "raw": raw,
        "ratio": ratio,
        "duplicates": repo["duplicates"] + raw["duplicates"],
        "lost": repo["lost"] + raw["lost"],
        "load": round(os.getloadavg()[0], 2),
    }


# --------------------------------------------------------------------------- pairs: prepare, pooler
def _median(values):
    return round(statistics.median(values), 3) if values else None


def bench_pairs(kind: str, n: int, workers: int, pairs: int, max_claims=None) -> int:
    """The repository's Postgres drain two ways, in alternating pairs (so that the machine's load
    falls on both alike); one JSON line per drain, then one summary line. Returns the failures.

    ``prepare``: psycopg's auto-prepare off (mosaic-tui's default) against on (``MOSAIC_PG_DIRECT=1``:
    psycopg's default, a server-side prepared statement after 5 runs), on a direct connection.
    ``pooler``: direct against through a PgBouncer in transaction mode (tests/pooler.py; 4 server
    connections), auto-prepare off both ways.
    """
    ways = {"prepare": (("prepare off", False, False), ("prepare on", True, False)),
            "pooler": (("direct", False, False), ("pgbouncer", False, True))}[kind]
    bouncer = None
    if kind == "pooler":
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
        from pooler import PgBouncer

        bouncer = PgBouncer(pool_mode="transaction", pool_size=4)
    rates: dict[str, list] = {w[0]: [] for w in ways}
    p50s: dict[str, list] = {w[0]: [] for w in ways}
    bad = 0
    try:
        for i in range(pairs):
            order = ways if i % 2 == 0 else ways[::-1]
            for label, direct, pooled in order:
                r = summary(run_mode("pg", n, "plain", "repo", workers, max_claims,
                                     via=bouncer.url if pooled else None, direct=direct))
                rates[label].append(r["claims_per_s"])
                p50s[label].append(r["p50_ms"])
                bad += bool(r["duplicates"] or r["lost"])
                print(json.dumps({"bench": kind, "way": label, "pair": i, "cards": n, "workers": workers, **r,
                                  "load": round(os.getloadavg()[0], 2)}), flush=True)
    finally:
        if bouncer is not None:
            bouncer.close()
    (a, _, _), (b, _, _) = ways
    out = {"bench": kind, "summary": True, "cards": n, "workers": workers, "pairs": pairs,
           **{f"{w} claims/s (median)": _median(rates[w]) for w in rates},
           **{f"{w} p50 ms (median)": _median(p50s[w]) for w in p50s}}
    if rates[a] and rates[b]:
        out[f"{a} / {b}"] = round(statistics.median(rates[a]) / statistics.median(rates[b]), 3)
    print(json.dumps(out), flush=True)
    return bad


def _backend_cpu_s(pid: int) -> float | None:
    """CPU seconds (user + system) a local Postgres backend has used, from /proc; None if not local."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def bench_prepare_cpu(pairs_per_block: int = 1000, blocks: int = 3) -> dict:
    """CPU per claim-and-complete in one process on a direct connection, auto-prepare off against on.

    CPU time, not wall time: the client's (``time.process_time``) and its server backend's (from
    /proc, when the server is on this machine), so the figure holds on a busy machine. Blocks of
    ``pairs_per_block`` pairs, alternating off/on, on one backlog.
    """
    from mosaic_tui.repository import Backlog
    from sqlalchemy import text

    n = pairs_per_block * blocks * 2 + 100
    per: dict[str, dict[str, list]] = {w: {"client": [], "server": [], "wall": []} for w in ("prepare off", "prepare on")}
    with fresh_database("pg") as url:
        populate(url, "pg", n, "plain")
        for i in range(blocks * 2):
            way = ("prepare off", "prepare on")[(i + i // 2) % 2]  # off, on, on, off, off, on, ...
            os.environ["MOSAIC_PG_DIRECT"] = "0" if way == "prepare off" else "1"
            b = Backlog.open(url)
            pid = b.db.run(lambda c: c.execute(text("SELECT pg_backend_pid()")).scalar(), write=False)
            for _ in range(10):  # warm: past psycopg's threshold of 5 runs
                card = b.claim("cpu", ttl=TTL)
                b.complete(card.id, owner="cpu")
            s0, c0, w0 = _backend_cpu_s(pid), time.process_time(), time.perf_counter()
            for _ in range(pairs_per_block):
                card = b.claim("cpu", ttl=TTL)
                b.complete(card.id, owner="cpu")
            w1, c1, s1 = time.perf_counter(), time.process_time(), _backend_cpu_s(pid)
            assert b.db.run(lambda c: c.execute(text("SELECT pg_backend_pid()")).scalar(), write=False) == pid
            b.close()
            per[way]["client"].append((c1 - c0) / pairs_per_block * 1000)
            per[way]["wall"].append((w1 - w0) / pairs_per_block * 1000)
            if s0 is not None and s1 is not None:
                per[way]["server"].append((s1 - s0) / pairs_per_block * 1000)
    os.environ.pop("MOSAIC_PG_DIRECT", None)
    out = {"bench": "prepare-cpu", "pairs_per_block": pairs_per_block, "blocks": blocks}
    for way, d in per.items():
        for k, v in d.items():
            if v:
                out[f"{way} {k} ms/pair"] = _median(v)
    if per["prepare on"]["server"] and per["prepare off"]["server"]:
        on = _median(per["prepare on"]["server"]) + _median(per["prepare on"]["client"])
        off = _median(per["prepare off"]["server"]) + _median(per["prepare off"]["client"])
        out["cpu per pair, off / on"] = round(off / on, 3)
    out["load"] = round(os.getloadavg()[0], 2)
    return out


# --------------------------------------------------------------------------- EXPLAIN
def explain(backends, n):
    for backend in backends:
        with fresh_database(backend) as url:
            populate(url, backend, n, "waiting")
            print(f"== {backend}, {n} cards (shape 'waiting') ==")
            now = datetime.now(UTC)
            if backend == "sqlite":
                import sqlite3

                con = sqlite3.connect(url)
                for label, sql, params in (
                    ("reclaim", SQLITE_RECLAIM, {"now": now.strftime(TS_FMT)}),
                    ("claim", SQLITE_CLAIM, (1, 0, "claimed", "x", TTL, now.strftime(TS_FMT), 1, now.strftime(TS_FMT))),
                ):
                    print(f"-- {label}")
                    for row in con.execute("EXPLAIN QUERY PLAN " + sql, params):
                        print("  ", row[-1])
                con.close()
            else:
                import psycopg

                with psycopg.connect(url) as con:
                    for label, sql, params in (
                        ("reclaim", PG_RECLAIM, {"now": now}),
                        ("claim", PG_CLAIM, dict(param_1=1, status="claimed", claim_owner="x", claim_ttl_seconds=TTL,
                                                 claimed_at=now, attempts_1=1, updated_at=now)),
                    ):
                        print(f"-- {label}")
                        for (line,) in con.execute("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + sql, params):
                            print("  ", line)
                    con.rollback()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="1,000 cards, 2 workers, at most 300 claims per drain (under a minute)")
    ap.add_argument("--workers", type=int, default=None, help="worker processes (default 4; --quick: 2)")
    ap.add_argument("--sizes", default=None, help="comma-separated card counts (default 1000,20000,100000)")
    ap.add_argument("--shapes", default=",".join(SHAPES), help="comma-separated: plain,waiting,done90")
    ap.add_argument("--backends", default="sqlite,pg", help="comma-separated: sqlite,pg")
    ap.add_argument("--max-claims", type=int, default=None,
                    help="stop each drain after this many claims (default: drain completely)")
    ap.add_argument("--explain", type=int, metavar="N", default=None, help="print the claim's plans at N cards")
    ap.add_argument("--prepare", action="store_true",
                    help="Postgres: the repository's drain with psycopg's auto-prepare off (ours) against on, direct")
    ap.add_argument("--pooler", action="store_true",
                    help="Postgres: the repository's drain direct against through a PgBouncer (transaction mode)")
    ap.add_argument("--pairs", type=int, default=3, help="with --prepare / --pooler: alternating pairs of drains")
    args = ap.parse_args(argv)

    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    if not set(backends) <= {"sqlite", "pg"}:
        ap.error("--backends takes sqlite and/or pg")
    shapes = [s.strip() for s in args.shapes.split(",") if s.strip()]
    if not set(shapes) <= set(SHAPES):
        ap.error(f"--shapes takes {', '.join(SHAPES)}")
    sizes = [int(s) for s in args.sizes.split(",")] if args.sizes else ([1_000] if args.quick else list(SIZES))
    workers = args.workers or (2 if args.quick else 4)
    if args.quick and args.max_claims is None:
        args.max_claims = 300

    if args.explain:
        explain(backends, args.explain)
        return 0
    if args.prepare:
        print(json.dumps(bench_prepare_cpu()), flush=True)
    if args.prepare or args.pooler:
        n = sizes[0] if args.sizes else 5_000
        w = args.workers or (32 if args.pooler else 4)
        return 1 if bench_pairs("pooler" if args.pooler else "prepare", n, w, args.pairs, args.max_claims) else 0
    bad = 0
    for backend in backends:
        for n in sizes:
            for shape in shapes:
                line = bench_case(backend, n, shape, workers, args.max_claims)
                print(json.dumps(line), flush=True)
                if line["duplicates"] or line["lost"]:
                    bad += 1
                    print(f"FAIL {line['case']}: duplicates={line['duplicates']} lost={line['lost']}",
                          file=sys.stderr, flush=True)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
