"""CLI cold start: `mosaic-tui claim|heartbeat|complete --json` end to end, one process per call, as an agent
runs them; and the MCP round trip beside it.

Times many runs of the real console script against a populated embedded
(SQLite) backlog and against Postgres -- each round claims a card, then
heartbeats it, then completes it, one process each -- and, in the same run and
interleaved with them (so they share the machine's load), in a shuffled order
each round:

* the baseline `python -c "import sqlmodel, psycopg"` (the libraries any Python
  client of the backlog must import: the issue's yardstick);
* the floor `python -c pass` (the interpreter alone), and `python -c "import
  psycopg"` (the Postgres driver alone, which the Postgres rows must import);
* the same claim through the full CLI (click, SQLAlchemy, SQLModel, the
  repository), as every command ran before the one-shot path: what it saves.

Then, per backend, the MCP round trip (bench/mcp_roundtrip.py's measurement):
the median of --calls `claim` tool calls to one running `mosaic-tui mcp`
server, against the claim process above.

Prints the median and the 90th percentile of each, in milliseconds, and the load average.

    python bench/cli_coldstart.py [--runs 40] [--cards 3000] [--calls 100] [--pg URL] [--no-pg] [--no-mcp] [--update-docs]

--update-docs rewrites the "## CLI cold start" page docs/performance/cli-cold-start.md.
Postgres: MOSAIC_BENCH_PG_URL or MOSAIC_TEST_PG_URL or postgresql://postgres@127.0.0.1:5432/test
(a scratch database is created next to it and dropped afterwards).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import fresh_database, pct  # noqa: E402
from mcp_roundtrip import measure as mcp_measure  # noqa: E402
from mcp_roundtrip import populate, script  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "performance" / "cli-cold-start.md"
SECTION = "## CLI cold start"
BASELINE = 'baseline: python -c "import sqlmodel, psycopg"'
FLOOR = 'floor: python -c "pass"'
DRIVER = 'the Postgres driver alone: python -c "import psycopg"'
FULL_CLI = "import sys; from mosaic_tui.cli import commands; sys.exit(commands.run(sys.argv[1:]))"


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, str]:
    t0 = time.perf_counter()
    r = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    dt = (time.perf_counter() - t0) * 1000
    if r.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd[:4])}...: {r.stderr.strip()}")
    return dt, r.stdout


def quantiles(xs: list[float]) -> tuple[float, float]:
    """The median and the 90th percentile."""
    return statistics.median(xs), pct(xs, 0.9)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=40)
    ap.add_argument("--cards", type=int, default=3000)
    ap.add_argument("--calls", type=int, default=100, help="MCP tool calls per backend")
    ap.add_argument("--pg", default=os.environ.get("MOSAIC_BENCH_PG_URL")
                    or os.environ.get("MOSAIC_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test"))
    ap.add_argument("--no-pg", action="store_true")
    ap.add_argument("--no-mcp", action="store_true")
    ap.add_argument("--update-docs", action="store_true")
    args = ap.parse_args()
    if args.cards < 2 * args.runs + (0 if args.no_mcp else 2 * args.calls + 20):
        sys.exit("--cards must cover every claim of the run")

    exe = script()
    tmp = Path(tempfile.mkdtemp(prefix="mosaic-bench-"))
    env = {**os.environ, "MOSAIC_HOME": str(tmp / "home")}
    for key in ("DATABASE_URL", "MOSAIC_LISTEN_URL", "MOSAIC_MAX_ATTEMPTS", "MOSAIC_PG_DIRECT"):
        env.pop(key, None)
    rng = random.Random(14)
    with contextlib.ExitStack() as cleanup:  # fresh databases (bench/_common.py) and tmp, removed on the way out
        cleanup.callback(shutil.rmtree, tmp, ignore_errors=True)
        urls = {"embedded SQLite": cleanup.enter_context(fresh_database("sqlite"))}
        if not args.no_pg:
            urls["Postgres"] = cleanup.enter_context(fresh_database("pg", admin=args.pg))
        for url in urls.values():
            populate(url, args.cards)

        samples: dict[str, list[float]] = {}

        def agent_round(label: str, url: str, i: int) -> None:
            """claim, heartbeat, complete: one process each, on the card the claim took."""
            dt, out = timed([exe, "claim", "--owner", f"bench-{i}", "--json", "--db", url], env)
            card = json.loads(out)
            if card is None:
                sys.exit("the backlog ran out of claimable cards: raise --cards")
            samples.setdefault(f"mosaic-tui claim --json ({label})", []).append(dt)
            for verb in ("heartbeat", "complete"):
                dt, _ = timed([exe, verb, card["id"], "--owner", f"bench-{i}", "--json", "--db", url], env)
                samples.setdefault(f"mosaic-tui {verb} --json ({label})", []).append(dt)

        def full_claim(label: str, url: str, i: int) -> None:
            dt, _ = timed([sys.executable, "-c", FULL_CLI, "claim", "--owner", f"full-{i}", "--json", "--db", url], env)
            samples.setdefault(f"the same claim through the full CLI ({label})", []).append(dt)

        def plain(name: str, code: str):
            def run(_i: int) -> None:
                samples.setdefault(name, []).append(timed([sys.executable, "-c", code], env)[0])
            return run

        blocks = [plain(BASELINE, "import sqlmodel, psycopg"), plain(FLOOR, "pass")]
        if "Postgres" in urls:
            blocks.append(plain(DRIVER, "import psycopg"))
        for label, url in urls.items():
            blocks.append(lambda i, label=label, url=url: agent_round(label, url, i))
            blocks.append(lambda i, label=label, url=url: full_claim(label, url, i))
        for block in blocks:  # warm the page cache once (not counted)
            block(-1)
        samples.clear()
        load_before = os.getloadavg()
        for i in range(args.runs):  # interleaved, in a new order each round: every case sees the same load
            rng.shuffle(blocks)
            for block in blocks:
                block(i)
        load_after = os.getloadavg()

        mcp: dict[str, dict[str, list[float]]] = {}
        if not args.no_mcp:
            import anyio

            for label, url in urls.items():
                mcp[label] = anyio.run(mcp_measure, exe, url, env, args.calls, 0)
        load_end = os.getloadavg()

    base = statistics.median(samples[BASELINE])
    order = [f"mosaic-tui {verb} --json ({label})" for label in urls for verb in ("claim", "heartbeat", "complete")]
    order += [f"the same claim through the full CLI ({label})" for label in urls]
    order += [BASELINE] + ([DRIVER] if DRIVER in samples else []) + [FLOOR]
    lines = ["| command | median ms | p90 ms | vs baseline |", "|---|---:|---:|---:|"]
    for name in order:
        med, p90 = quantiles(samples[name])
        lines.append(f"| {name} | {med:.0f} | {p90:.0f} | {med / base:.2f}x |")
    table = "\n".join(lines)
    info = (f"{args.runs} runs each, interleaved in a shuffled order; {args.cards} cards per backlog; "
            f"Python {platform.python_version()}, {os.cpu_count()} CPUs; load average {load_before[0]:.2f} before, "
            f"{load_after[0]:.2f} after; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    mcp_table = ""
    if mcp:
        rows = ["| backend | MCP `claim` tool call, median ms (p90) | MCP `show` tool call, median ms (p90) "
                "| `claim --json` process, median ms | process / tool call |", "|---|---:|---:|---:|---:|"]
        for label, got in mcp.items():
            claim_med, claim_p90 = quantiles(got["mcp claim"])
            show_med, show_p90 = quantiles(got["mcp show"])
            cli = statistics.median(samples[f"mosaic-tui claim --json ({label})"])
            rows.append(f"| {label} | {claim_med:.1f} ({claim_p90:.1f}) | {show_med:.1f} ({show_p90:.1f}) "
                        f"| {cli:.0f} | {cli / claim_med:.0f}x |")
        mcp_table = "\n".join(rows)
        info_mcp = (f"{args.calls} calls of each tool per backend, to one running server, right after the "
                    f"processes above; load average {load_end[0]:.2f} at the end")
        mcp_table += f"\n\n{info_mcp}."
    print(table)
    print()
    print(info)
    if mcp_table:
        print()
        print(mcp_table)
    if args.update_docs:
        update_docs(table, info, mcp_table)


def update_docs(table: str, info: str, mcp_table: str) -> None:
    mcp_part = f"""
The MCP round trip beside it (`bench/mcp_roundtrip.py`'s measurement, run by
this benchmark): a tool call to a running `mosaic-tui mcp` server pays no
start-up at all.

{mcp_table}
""" if mcp_table else ""
    body = f"""{SECTION}

Measured by `python bench/cli_coldstart.py --update-docs`: wall time of one
`mosaic-tui claim|heartbeat|complete --owner O --json --db URL` process, start
to exit (an agent runs one process per command), against a populated backlog;
each round claims a card, heartbeats it and completes it. The baseline is the
import of the libraries any Python client of this backlog needs (`python -c
"import sqlmodel, psycopg"`), run interleaved with it in the same run; the
floor is the interpreter alone (and the interpreter with the Postgres driver,
which the Postgres rows cannot do without); "the same claim through the full
CLI" is the claim as every command ran before the one-shot path (click,
SQLAlchemy, SQLModel, the repository), started the same way.

{table}

{info}.
{mcp_part}
What the hot verbs load (`mosaic_tui.cli.oneshot`, `docs/cli.md` "Cold start"):
the interpreter, the standard library's `json`, `datetime` and `sqlite3`, the
driver (`psycopg` on Postgres: its import alone is a row of the table, and
most of the difference between the two backends), and a dozen small modules of
ours; no click, SQLAlchemy, SQLModel, pydantic, Alembic or Textual
(`tests/test_oneshot.py` keeps it so). The work
itself: one connection, one transaction (the schema version, the reclaim of
ended leases, the claim; or the heartbeat; or the completion), commit. A
first use, and every other command, takes the full CLI.

The machine is shared with other engineers' test runs (2 cores; the load
average is in the line under the table); the interleaving gives every row the
same load, so the ratios hold better than the absolute times.
"""
    DOC.parent.mkdir(exist_ok=True)
    # The page is the section: its title one level up.
    text = body.replace(SECTION, "#" + SECTION.lstrip("#"), 1) if body.startswith(SECTION) else body
    DOC.write_text(text.rstrip("\n") + "\n", encoding="utf-8")
    print(f"updated {DOC}")


if __name__ == "__main__":
    main()
