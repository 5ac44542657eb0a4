"""CLI cold start: `mosaic-tui claim --json` end to end, one process per claim, as an agent runs it.

Times many runs of the real console script against a populated embedded
(SQLite) backlog and against Postgres, and, in the same run and interleaved
with them (so they share the machine's load), the baseline
`python -c "import sqlmodel, psycopg"` (the libraries any Python client of the
backlog must import) and `python -c pass` (the interpreter alone). Prints the
median and the 90th percentile of each, in milliseconds, and the load average.

    python bench/cli_coldstart.py [--runs 40] [--cards 5000] [--pg URL] [--update-docs]

--update-docs rewrites the "## CLI cold start" section of docs/performance.md.
Postgres: MOSAIC_BENCH_PG_URL or MOSAIC_TEST_PG_URL or postgresql://postgres@127.0.0.1:5432/test
(a scratch database is created next to it and dropped afterwards).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import fresh_database  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "performance.md"
SECTION = "## CLI cold start"


def script() -> str:
    direct = Path(sysconfig.get_path("scripts")) / "mosaic-tui"
    if direct.exists():
        return str(direct)
    found = shutil.which("mosaic-tui")
    if not found:
        sys.exit("mosaic-tui is not installed (pip install -e . --no-deps)")
    return found


def populate(url: str, cards: int) -> None:
    """``cards`` ready cards (a tenth of them waiting on another), in one bulk import."""
    from mosaic_tui import transfer
    from mosaic_tui.repository import Backlog

    rows = []
    for i in range(cards):
        card = {"id": f"B-{i:06d}", "title": f"Bench card {i}", "priority": i % 7}
        if i % 10 == 9:
            card["dependsOn"] = [f"B-{i - 1:06d}"]
        rows.append(card)
    import json

    b = Backlog.open(url)
    transfer.import_bundle(b, transfer.parse_lines(json.dumps(r) for r in rows))
    b.close()


def timed(cmd: list[str], env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    r = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    dt = time.perf_counter() - t0
    if r.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd[:3])}...: {r.stderr.strip()}")
    if "claim" in cmd and (r.stdout.strip() == "null" or not r.stdout.startswith("{")):
        sys.exit("the backlog ran out of claimable cards: raise --cards")
    return dt * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=40)
    ap.add_argument("--cards", type=int, default=5000)
    ap.add_argument("--pg", default=os.environ.get("MOSAIC_BENCH_PG_URL")
                    or os.environ.get("MOSAIC_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test"))
    ap.add_argument("--no-pg", action="store_true")
    ap.add_argument("--update-docs", action="store_true")
    args = ap.parse_args()

    exe = script()
    tmp = Path(tempfile.mkdtemp(prefix="mosaic-bench-"))
    env = {**os.environ, "MOSAIC_HOME": str(tmp / "home")}
    env.pop("DATABASE_URL", None)
    with contextlib.ExitStack() as cleanup:  # fresh databases (bench/_common.py) and tmp, removed on the way out
        cleanup.callback(shutil.rmtree, tmp, ignore_errors=True)
        sqlite_url = cleanup.enter_context(fresh_database("sqlite"))
        populate(sqlite_url, args.cards)
        cases: dict[str, list[str]] = {
            "mosaic-tui claim --json (embedded SQLite)": [exe, "claim", "--owner", "bench", "--json", "--db", sqlite_url],
        }
        if not args.no_pg:
            pg_url = cleanup.enter_context(fresh_database("pg", admin=args.pg))
            populate(pg_url, args.cards)
            cases["mosaic-tui claim --json (Postgres)"] = [exe, "claim", "--owner", "bench", "--json", "--db", pg_url]
        cases['baseline: python -c "import sqlmodel, psycopg"'] = [sys.executable, "-c", "import sqlmodel, psycopg"]
        cases['floor: python -c "pass"'] = [sys.executable, "-c", "pass"]

        for cmd in cases.values():  # warm the page cache once
            timed(cmd, env)
        samples: dict[str, list[float]] = {k: [] for k in cases}
        load_before = os.getloadavg()
        for _ in range(args.runs):  # interleaved: every case sees the same load
            for name, cmd in cases.items():
                samples[name].append(timed(cmd, env))
        load_after = os.getloadavg()

    base = statistics.median(samples['baseline: python -c "import sqlmodel, psycopg"'])
    lines = [
        "| command | median ms | p90 ms | vs baseline |",
        "|---|---:|---:|---:|",
    ]
    for name, xs in samples.items():
        xs = sorted(xs)
        p90 = xs[min(len(xs) - 1, int(round(0.9 * (len(xs) - 1))))]
        med = statistics.median(xs)
        lines.append(f"| {name} | {med:.0f} | {p90:.0f} | {med / base:.2f}x |")
    table = "\n".join(lines)
    info = (f"{args.runs} runs each, interleaved; {args.cards} cards per backlog; Python {platform.python_version()}, "
            f"{os.cpu_count()} CPUs; load average {load_before[0]:.2f} before, {load_after[0]:.2f} after; "
            f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print(table)
    print()
    print(info)
    if args.update_docs:
        update_docs(table, info)


def update_docs(table: str, info: str) -> None:
    body = f"""{SECTION}

Measured by `python bench/cli_coldstart.py --update-docs`: wall time of one
`mosaic-tui claim --owner bench --json --db URL` process, start to exit (an
agent runs one process per command), against a populated backlog. The
baseline is the import of the libraries any Python client of this backlog
needs (`python -c "import sqlmodel, psycopg"`), run interleaved with it in
the same run; the floor is the interpreter alone.

{table}

{info}.

What the claim path does and does not load: click and the CLI module, the
repository (SQLAlchemy Core, SQLModel, the driver), one query to check the
schema version (no Alembic unless a migration is due), one claim
transaction. Textual and Alembic are never imported (a test,
`test_the_claim_path_imports_neither_textual_nor_alembic`, keeps it so). The
difference from the baseline is click, the CLI, the engine set-up, the
connection and the claim itself.
"""
    DOC.parent.mkdir(exist_ok=True)
    text = DOC.read_text(encoding="utf-8") if DOC.exists() else "# Performance\n"
    start = text.find(SECTION)
    if start == -1:
        text = text.rstrip("\n") + "\n\n" + body
    else:
        nxt = text.find("\n## ", start + len(SECTION))
        rest = text[nxt + 1:] if nxt != -1 else ""
        text = text[:start] + body + ("\n" + rest if rest else "")
    DOC.write_text(text.rstrip("\n") + "\n", encoding="utf-8")
    print(f"updated {DOC}")


if __name__ == "__main__":
    main()
