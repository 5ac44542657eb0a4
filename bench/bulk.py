#!/usr/bin/env python3
"""Bulk block: 1,000 marked cards in ONE transaction vs 1,000 single-card blocks, same run.

A backlog of ``--cards`` ready cards (default 10,000); every tenth is "marked" (1,000). Each
round, on each backend:

* ``bulk``   -- ``Backlog.bulk("block", marked)``: one transaction (row locks in id order, one
  UPDATE per 500 ids, the undo record: before-values, events);
* ``single`` -- ``Backlog.block(id)`` for each marked card: 1,000 transactions (the hot path's
  prepared statement, as an agent's ``block`` would run it);

then the marked cards are unblocked again (not timed) for the next round. Rounds alternate the
order (bulk first, then single first) so neither always meets a warmer cache. On Postgres the
bench also checks that the bulk's rows carry one transaction id (``xmin``).

One JSON line per backend: milliseconds per round (median, min, max) for both, and the ratio.
Postgres: the admin URL ``MOSAIC_TEST_PG_URL`` (default postgresql://postgres@127.0.0.1:5432/test),
a database of its own, dropped after. ``--backends sqlite`` skips it.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import fresh_database, populate  # noqa: E402


def one_backend(backend: str, cards: int, marked_every: int, rounds: int) -> dict:
    from sqlalchemy import text

    from mosaic_tui.repository import Backlog

    with fresh_database(backend) as url:
        populate(url, cards, done_every=0)
        b = Backlog.open(url)
        marked = [f"c{i:06d}" for i in range(0, cards, marked_every)]
        times: dict[str, list[float]] = {"bulk": [], "single": []}
        xmins = None

        def bulk():
            r = b.bulk("block", marked)
            assert len(r.done) == len(marked) and not r.refused

        def single():
            for i in marked:
                b.block(i)

        for n in range(rounds):
            order = [("bulk", bulk), ("single", single)] if n % 2 == 0 else [("single", single), ("bulk", bulk)]
            for name, fn in order:
                t0 = time.perf_counter()
                fn()
                times[name].append((time.perf_counter() - t0) * 1000)
                if name == "bulk" and backend == "pg":
                    with b.db.engine.connect() as conn:
                        xmins = conn.execute(text("SELECT count(DISTINCT xmin::text) FROM backlog WHERE status = 'blocked'")).scalar()
                assert b.count(status="blocked") == len(marked)
                r = b.bulk("unblock", marked)  # reset, not timed
                assert len(r.done) == len(marked)
        b.close()

    def summary(xs):
        return {"median": round(statistics.median(xs), 1), "min": round(min(xs), 1), "max": round(max(xs), 1)}

    out = {
        "backend": backend, "cards": cards, "marked": len(marked), "rounds": rounds,
        "bulkMs": summary(times["bulk"]), "singleMs": summary(times["single"]),
        "singleOverBulk": round(statistics.median(times["single"]) / statistics.median(times["bulk"]), 1),
    }
    if xmins is not None:
        out["bulkTransactions"] = xmins
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backends", default="sqlite,pg")
    ap.add_argument("--cards", type=int, default=10_000)
    ap.add_argument("--every", type=int, default=10, help="mark every Nth card (default: 10 -> 1,000 of 10,000)")
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    for backend in args.backends.split(","):
        print(json.dumps(one_backend(backend.strip(), args.cards, args.every, args.rounds)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
