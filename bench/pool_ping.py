#!/usr/bin/env python3
"""How often a long-lived process pings its pooled Postgres connections (``engine.IDLE_PING_S``).

A claim loop (``--claims`` claims and as many completes, back to back) on one
Backlog, then ``--idle-reads`` reads each after 1.1 s idle; the dialect's
``do_ping`` calls are counted. Pinging at every checkout (SQLAlchemy's
``pool_pre_ping``) would cost one round trip per call; the idle ping none in the
loop, one per idle read. One JSON line; figures in docs/performance/failover.md.
"""

from __future__ import annotations

import argparse
import json
import time

from _common import fresh_database

from mosaic_tui.repository import Backlog


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--claims", type=int, default=200)
    ap.add_argument("--idle-reads", type=int, default=3)
    args = ap.parse_args()
    with fresh_database("pg") as url:
        b = Backlog.open(url)
        dialect, pings = b.db.engine.dialect, [0]
        ping = dialect.do_ping

        def counted(conn):
            pings[0] += 1
            return ping(conn)

        dialect.do_ping = counted
        for i in range(args.claims):
            b.create(f"p{i}", "x")
        pings[0], t0 = 0, time.perf_counter()
        for _ in range(args.claims):
            b.complete(b.claim("a").id, "a")
        loop_s, loop_pings, pings[0] = time.perf_counter() - t0, pings[0], 0
        for _ in range(args.idle_reads):
            time.sleep(1.1)
            b.list()
        b.close()
    print(json.dumps({"claims": args.claims, "loop_s": round(loop_s, 2), "loop_pings": loop_pings,
                      "checkouts_in_loop": 2 * args.claims, "idle_reads": args.idle_reads, "idle_pings": pings[0]}))


if __name__ == "__main__":
    main()
