"""MCP round trip: a tool call to a running `mosaic-tui mcp` server vs a `mosaic-tui claim --json` process.

One server per backend (embedded SQLite, Postgres), started through the console
script and driven by the MCP SDK's own stdio client, as an agent's MCP client
does. In the same run, interleaved so they share the machine's load:

* `claim` and `show` tool calls (wall time from the client's call to its
  parsed, schema-checked result);
* `mosaic-tui claim --json` as a process (start to exit), the CLI's way;
* the repository call itself, in process (`Backlog.claim`, `Backlog.get`):
  the floor under both, so the difference is the MCP transport's cost.

Prints the median and the 90th percentile of each, in milliseconds.

    python bench/mcp_roundtrip.py [--calls 100] [--cli-runs 30] [--cards 3000] [--pg URL] [--no-pg] [--update-docs]

--update-docs rewrites the "## MCP round trip" page docs/performance/mcp.md.
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

import anyio

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import fresh_database, pct  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "performance" / "mcp.md"
SECTION = "## MCP round trip"


def script() -> str:
    direct = Path(sysconfig.get_path("scripts")) / "mosaic-tui"
    if direct.exists():
        return str(direct)
    found = shutil.which("mosaic-tui")
    if not found:
        sys.exit("mosaic-tui is not installed (pip install -e . --no-deps)")
    return found


def populate(url: str, cards: int) -> None:
    from mosaic_tui.repository import transfer
    from mosaic_tui.repository import Backlog

    import json

    rows = ({"id": f"B-{i:06d}", "title": f"Bench card {i}", "priority": i % 7} for i in range(cards))
    b = Backlog.open(url)
    transfer.import_bundle(b, transfer.parse_lines(json.dumps(r) for r in rows))
    b.close()


def ms(t0: float) -> float:
    return (time.perf_counter() - t0) * 1000


async def measure(exe: str, url: str, env: dict[str, str], calls: int, cli_runs: int) -> dict[str, list[float]]:
    from mcp import ClientSession, StdioServerParameters, stdio_client

    from mosaic_tui.repository import Backlog

    samples: dict[str, list[float]] = {"mcp claim": [], "mcp show": [], "cli claim": [], "in-process claim": [],
                                       "in-process show": []}
    params = StdioServerParameters(command=exe, args=["mcp", "--db", url, "--owner", "bench"], env=env)
    direct = Backlog.open(url)
    with open(os.devnull, "w") as errlog:
        async with stdio_client(params, errlog=errlog) as (r, w), ClientSession(r, w) as s:
            await s.initialize()
            for _ in range(3):  # warm: connections, the schema check, the client's schema cache
                card = (await s.call_tool("claim", {})).structured_content["card"]
                await s.call_tool("show", {"id": card["id"]})
                direct.get(direct.claim("bench-direct").id)
            every = max(1, calls // max(1, cli_runs))
            for i in range(calls):
                t0 = time.perf_counter()
                res = await s.call_tool("claim", {})
                samples["mcp claim"].append(ms(t0))
                card = res.structured_content["card"]
                if res.is_error or card is None:
                    sys.exit(f"the MCP claim failed or the backlog ran out: {res.content[0].text[:200]}")
                t0 = time.perf_counter()
                await s.call_tool("show", {"id": card["id"]})
                samples["mcp show"].append(ms(t0))
                t0 = time.perf_counter()
                got = direct.claim("bench-direct")
                samples["in-process claim"].append(ms(t0))
                t0 = time.perf_counter()
                direct.get(got.id)
                samples["in-process show"].append(ms(t0))
                if i % every == 0 and len(samples["cli claim"]) < cli_runs:
                    t0 = time.perf_counter()
                    p = subprocess.run([exe, "claim", "--owner", "bench-cli", "--json", "--db", url],
                                       env=env, capture_output=True, text=True)
                    samples["cli claim"].append(ms(t0))
                    if p.returncode != 0 or not p.stdout.startswith("{"):
                        sys.exit(f"mosaic-tui claim failed: {p.stderr.strip()[:200]}")
    direct.close()
    return samples


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--calls", type=int, default=100)
    ap.add_argument("--cli-runs", type=int, default=30)
    ap.add_argument("--cards", type=int, default=3000)
    ap.add_argument("--pg", default=os.environ.get("MOSAIC_BENCH_PG_URL")
                    or os.environ.get("MOSAIC_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test"))
    ap.add_argument("--no-pg", action="store_true")
    ap.add_argument("--update-docs", action="store_true")
    args = ap.parse_args()
    if args.cards < 2 * args.calls + args.cli_runs + 20:
        sys.exit("--cards must cover every claim of the run")

    exe = script()
    tmp = Path(tempfile.mkdtemp(prefix="mosaic-bench-"))
    env = {**os.environ, "MOSAIC_HOME": str(tmp / "home")}
    env.pop("DATABASE_URL", None)
    results: dict[str, dict[str, list[float]]] = {}
    load_before = os.getloadavg()
    with contextlib.ExitStack() as cleanup:
        cleanup.callback(shutil.rmtree, tmp, ignore_errors=True)
        backends = ["sqlite"] + ([] if args.no_pg else ["pg"])
        for backend in backends:
            url = cleanup.enter_context(fresh_database(backend, admin=None if backend == "sqlite" else args.pg))
            populate(url, args.cards)
            label = "embedded SQLite" if backend == "sqlite" else "Postgres"
            results[label] = anyio.run(measure, exe, url, env, args.calls, args.cli_runs)
    load_after = os.getloadavg()

    lines = ["| backend | call | n | median ms | p90 ms | CLI claim / this |", "|---|---|---:|---:|---:|---:|"]
    names = {"mcp claim": "MCP `claim` tool call", "mcp show": "MCP `show` tool call",
             "cli claim": "`mosaic-tui claim --json` process", "in-process claim": "in-process `Backlog.claim` (floor)",
             "in-process show": "in-process `Backlog.get` (floor)"}
    for label, samples in results.items():
        cli = statistics.median(samples["cli claim"])
        for key in ("mcp claim", "mcp show", "cli claim", "in-process claim", "in-process show"):
            xs = samples[key]
            p90, med = pct(xs, 0.9), statistics.median(xs)
            lines.append(f"| {label} | {names[key]} | {len(xs)} | {med:.1f} | {p90:.1f} | {cli / med:.0f}x |")
    table = "\n".join(lines)
    info = (f"{args.calls} tool calls of each kind per backend, {args.cli_runs} CLI processes interleaved with them; "
            f"{args.cards} cards per backlog; Python {platform.python_version()}, {os.cpu_count()} CPUs; "
            f"load average {load_before[0]:.2f} before, {load_after[0]:.2f} after; "
            f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print(table)
    print()
    print(info)
    if args.update_docs:
        update_docs(table, info)


def update_docs(table: str, info: str) -> None:
    body = f"""{SECTION}

Measured by `python bench/mcp_roundtrip.py --update-docs`: an agent's call
through `mosaic-tui mcp` (one long-lived server process, started by the
client) against one `mosaic-tui claim --json` process per call, as a shell
agent runs the CLI, in the same run and interleaved. A tool call's time is
from the MCP SDK client's `call_tool` to its parsed result (which the client
checks against the tool's output schema); the process's time is start to
exit. The in-process repository call is the floor under both.

{table}

{info}.

What a tool call costs on top of the repository call: a JSON-RPC message each
way over the server's stdin/stdout, input validation (pydantic), a hop to a
worker thread (the stdio loop never waits on the database), the JSON of the
result, and on Postgres, for a pooled connection idle a second or more, a `SELECT 1` that
tests it first (`engine.IDLE_PING_S`: a server that outlives a database restart, a failover
or a dropped connection; a call within the second pays none). What the CLI pays instead is a Python start-up and imports per
call (`## CLI cold start`). On a loaded machine (the load average is in the
line under the table) every figure grows; read the last column, measured in
the same run.
"""
    # The page is the section: its title one level up.
    text = body.replace(SECTION, "#" + SECTION.lstrip("#"), 1) if body.startswith(SECTION) else body
    DOC.write_text(text.rstrip("\n") + "\n", encoding="utf-8")
    print(f"updated {DOC}")


if __name__ == "__main__":
    main()
