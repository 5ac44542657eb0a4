#!/usr/bin/env python3
"""``show`` of a card with many notes, against the same card without any, in the same run.

Per backend: a fresh backlog with 1,000 cards; card ``big`` gets 10,000 notes
(``--notes``), card ``plain`` none; 90,000 more notes are spread over the other
cards so the notes table is not the one card's alone. Timed, in-process and
warm (the median and p95 of ``--repeat`` runs, ms): ``Backlog.view`` -- what
``show`` reads, in one transaction: the card, its labels, its latest 20 notes
and their count -- and ``view_json``; then the whole command, ``mosaic-tui show
ID --json`` as a process (median of 5), for both cards. One JSON line per
backend; ``--write`` puts the table in docs/performance/notes.md.

Postgres: ``MOSAIC_TEST_PG_URL`` (default postgresql://postgres@127.0.0.1:5432/test),
a database of its own, dropped after. ``--backends sqlite`` skips it.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import fresh_database  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def load(url: str, backend: str, n_big: int, n_other: int, cards: int = 1000) -> None:
    """The cards by the repository, the notes by the driver in one transaction (the trigger fires per row)."""
    from mosaic_tui.repository import Backlog

    b = Backlog.open(url)
    b.create("big", "a card with a long thread")
    b.create("plain", "a card without notes")
    for i in range(cards - 2):
        b.create(f"c{i:04d}", f"card {i}")
    b.label(["big", "plain"], add=["infra"])
    rows = [("big", f"agent-{i % 7}", "note", f"note {i}: " + "x" * 200) for i in range(n_big)]
    rows += [(f"c{i % (cards - 2):04d}", "agent-1", "note", f"other {i}") for i in range(n_other)]
    b.close()
    if backend == "sqlite":
        import sqlite3

        con = sqlite3.connect(url)
        with con:
            con.executemany("INSERT INTO backlog_notes (card_id, author, kind, body, at) VALUES "
                            "(?, ?, ?, ?, strftime('%Y-%m-%d %H:%M:%f', 'now'))", rows)
            con.execute("ANALYZE")
        con.close()
    else:
        import psycopg

        with psycopg.connect(url) as con:
            with con.cursor() as cur:
                cur.executemany("INSERT INTO backlog_notes (card_id, author, kind, body) VALUES (%s, %s, %s, %s)", rows)
            con.commit()
            con.execute("ANALYZE")


def timed(fn, repeat: int) -> tuple[float, float]:
    fn()  # warm
    ms = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        ms.append((time.perf_counter() - t) * 1000)
    ms.sort()
    return round(statistics.median(ms), 2), round(ms[int(len(ms) * 0.95) - 1], 2)


def cli_ms(url: str, card: str, runs: int = 5) -> float:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    ms = []
    for _ in range(runs):
        t = time.perf_counter()
        r = subprocess.run([sys.executable, "-m", "mosaic_tui", "show", card, "--json", "--db", url],
                           capture_output=True, text=True, env=env, timeout=60)
        ms.append((time.perf_counter() - t) * 1000)
        assert r.returncode == 0, r.stderr
        shown = json.loads(r.stdout)
        assert len(shown["notes"]) == (20 if card == "big" else 0)
    return round(statistics.median(ms), 1)


def run(backend: str, n_big: int, n_other: int, repeat: int) -> dict:
    from mosaic_tui.repository import Backlog, view_json

    with fresh_database(backend) as url:
        load(url, backend, n_big, n_other)
        b = Backlog.open(url)
        try:
            big = b.view("big")
            assert big.note_count == n_big and len(big.notes) == 20 and big.notes[-1].body.startswith(f"note {n_big - 1}:")
            out = {"backend": backend, "notes_on_card": n_big, "notes_in_table": n_big + n_other}
            for card in ("big", "plain"):
                p50, p95 = timed(lambda c=card: view_json(b.view(c)), repeat)
                out[card] = {"view_p50_ms": p50, "view_p95_ms": p95, "cli_ms": cli_ms(url, card)}
            # all of a long thread, for scale: what `notes ID --json` reads
            out["all_notes_ms"] = timed(lambda: b.notes("big"), 5)[0]
        finally:
            b.close()
    return out


def write(results: list[dict]) -> None:
    page = ROOT / "docs" / "performance" / "notes.md"
    rows = ["| backend | card | `show` read (view + JSON), p50 / p95 | `mosaic-tui show ID --json` (a process) |",
            "|---|---|---|---|"]
    for r in results:
        for card, what in (("plain", "no notes (baseline)"), ("big", f"{r['notes_on_card']:,} notes")):
            c = r[card]
            rows.append(f"| {r['backend']} | {what} | {c['view_p50_ms']} / {c['view_p95_ms']} ms | {c['cli_ms']} ms |")
    table = "\n".join(rows)
    text = page.read_text(encoding="utf-8") if page.exists() else ""
    start, end = "<!-- bench/notes.py: begin -->", "<!-- bench/notes.py: end -->"
    block = f"{start}\n{table}\n{end}"
    if start in text:
        text = text[: text.index(start)] + block + text[text.index(end) + len(end):]
    else:
        text += "\n" + block + "\n"
    page.write_text(text, encoding="utf-8")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--backends", default="sqlite,pg")
    ap.add_argument("--notes", type=int, default=10_000, help="notes on the big card")
    ap.add_argument("--other", type=int, default=90_000, help="notes spread over the other cards")
    ap.add_argument("--repeat", type=int, default=50)
    ap.add_argument("--write", action="store_true", help="write the table into docs/performance/notes.md")
    args = ap.parse_args(argv)
    results = []
    for backend in args.backends.split(","):
        r = run(backend, args.notes, args.other, args.repeat)
        print(json.dumps(r), flush=True)
        results.append(r)
    if args.write:
        write(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
