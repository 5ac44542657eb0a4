"""``mosaic-tui demo``: a realistic plan and a small simulated fleet working it.

The plan is several phases of cards with a dependency DAG several levels
deep, priorities, markdown bodies and acceptance criteria. The fleet is a few
separate processes (``python -m mosaic_tui.demo agent ...``) that take work
through the same repository claim path as real agents: claim, heartbeat while
"working", then mostly complete, sometimes block a card, and sometimes vanish
mid-claim so that the lease expires and the card is reclaimed. Nothing here
imports textual or click.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from mosaic_tui.errors import InvalidInput, MosaicError
from mosaic_tui.repository import Backlog

PHASES = {
    "M1": ("Foundations", [
        ("Repository skeleton and CI", []),
        ("Schema for the backlog table", []),
        ("Engine and URL handling", []),
        ("Migrations on first use", [1, 2]),
        ("Atomic claim on SQLite", [3]),
        ("Atomic claim on Postgres", [3]),
        ("Lease heartbeats and reclaim", [4, 5]),
        ("Dependency gate with unmet counts", [4, 5]),
    ]),
    "M2": ("Agent CLI", [
        ("Command skeleton with --json", []),
        ("create / show / list", [0, "M1-04"]),
        ("claim / heartbeat / complete", [0, "M1-07"]),
        ("Exit codes and one-line errors", []),
        ("export and import as JSON Lines", [1]),
        ("migrate from SQLite to Postgres", [4]),
        ("Cold-start benchmark", [2]),
        ("Agent loop example in the README", [2, 3]),
    ]),
    "M3": ("Board", [
        ("Kanban columns per status", ["M2-02"]),
        ("Line-API columns for 100k cards", [0]),
        ("Dependency graph pane", [0]),
        ("Stats footer", [0]),
        ("Keyboard actions with refusals", [0]),
        ("Card detail with history", [0, 2]),
        ("Full-screen layered graph", [2]),
        ("Help screen and command palette", [4]),
        ("Snapshot tests", [1, 3, 5, 6]),
    ]),
    "M4": ("Live fleet", [
        ("Event triggers on both backends", ["M1-08"]),
        ("LISTEN/NOTIFY change feed", [0]),
        ("data_version polling on SQLite", [0]),
        ("Incremental redraw from events", [1, 2, "M3-02"]),
        ("Lease countdown and expiry", [3]),
        ("Latency benchmark", [3]),
        ("Demo fleet", [3, "M2-03"]),
        ("Release notes", [5, 6, "M3-09"]),
    ]),
}


# What the demo's agents say when they block a card or finish one (notes: docs/semantics.md).
BLOCK_REASONS = (
    "Needs a person: the acceptance criteria contradict each other.\nSee the second bullet.",
    "Waiting on credentials for the staging database.",
    "The test suite is red on main; not building on it.",
)
SUMMARIES = (
    "Done; tests added for both backends.",
    "Implemented as specified. Left a TODO for the error message wording.",
    "Done. The benchmark moved by less than its noise.",
)


def build_plan(seed: int = 7) -> list[dict]:
    """The demo's cards, in creation order (dependencies first)."""
    rng = random.Random(seed)
    cards = []
    for phase_no, (phase, (theme, items)) in enumerate(PHASES.items()):
        for n, (title, deps) in enumerate(items, start=1):
            card_id = f"{phase}-{n:02d}"
            dep_ids = [d if isinstance(d, str) else f"{phase}-{d + 1:02d}" for d in deps]
            priority = (4 - phase_no) * 10 + rng.randint(0, 9)
            body = (
                f"## {title}\n\nPart of **{theme}** ({phase}).\n\n"
                f"- start from what {', '.join(dep_ids) or 'nothing'} left\n"
                "- keep the change small and tested\n"
                "- write down what you chose in `docs/`\n"
            )
            acceptance = {
                "criteria": [f"{title} works on SQLite and Postgres", "tests pass in CI", "docs updated"],
                "reviewers": rng.choice([1, 1, 2]),
            }
            cards.append(dict(id=card_id, title=title, phase=phase, priority=priority, depends_on=dep_ids,
                              body=body, acceptance=acceptance))
    return cards


def seed(backlog: Backlog, seed_value: int = 7) -> int:
    plan = build_plan(seed_value)
    for card in plan:
        backlog.create(card.pop("id"), card.pop("title"), idempotency_key=None, **card)
    # A few labels and a note, so that `#name` on the rows and the detail's thread show from the start.
    by_phase: dict[str, list[str]] = {}
    for c in backlog.list():
        by_phase.setdefault(c.phase or "", []).append(c.id)
    first = [ids[0] for ids in by_phase.values() if ids]
    if first:
        backlog.label(first[:3], add=["infra"])
        backlog.label(first[1:4], add=["docs"])
        backlog.note(first[0], "Read the body before you start: the acceptance has a reviewer count.\n"
                               "Leave a note here when you find something the next agent needs.", author="lead")
    return len(plan)


def demo_location(path: str | None) -> Path:
    """A fresh file for the demo: a new temporary folder, or the named path if it holds no backlog yet."""
    if path is None:
        folder = Path(tempfile.mkdtemp(prefix="mosaic-demo-"))
        return folder / "backlog.db"
    p = Path(path).expanduser().absolute()
    if p.exists() and p.stat().st_size > 0:
        raise InvalidInput(f"{p} exists already; the demo needs a fresh file (give a new path, or none for a temporary one)")
    return p


# --------------------------------------------------------------------------- the fleet
def start_fleet(url: str, agents: int = 3, pace: float = 1.0) -> list[subprocess.Popen]:
    """Start the simulated agents; the last one stalls now and then (see :func:`agent`)."""
    procs = []
    for i in range(agents):
        stall = "stall" if i == agents - 1 else "steady"
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "mosaic_tui.demo", "agent", url, f"agent-{i + 1}", str(i + 1), str(pace), str(os.getpid()),
             stall],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True,
        ))
    return procs


def stop_fleet(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        if p.poll() is None:
            p.terminate()
    deadline = time.monotonic() + 3
    for p in procs:
        try:
            p.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


STALL_EVERY = 6  # a stalling agent stalls on its second claim, then on every sixth


def agent(url: str, name: str, seed_value: int, pace: float, parent: int, stall: bool = False) -> None:
    """One simulated agent: claim, heartbeat while working, then complete (mostly).

    ``stall``: on its second claim and every sixth after, the agent hangs
    holding the card: no heartbeat for 1.6 leases. Half a lease in, the board's
    "needs attention" badge counts it (silent); once the lease has ended the
    claim shows ``STALE`` until the next claim by anyone reclaims the card.
    Then the agent comes back and takes new work, as a restarted agent would.
    """
    rng = random.Random(seed_value)
    ttl = max(3, int(12 * pace))
    claims = 0
    backlog = Backlog.open(url)
    stop = False

    def _stop(*_):
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)

    def alive() -> bool:
        return not stop and os.getppid() == parent

    def nap(seconds: float) -> bool:
        end = time.monotonic() + seconds * pace
        while time.monotonic() < end:
            if not alive():
                return False
            time.sleep(0.1)
        return True

    words = random.Random(seed_value + 1)  # the notes' texts: apart from rng, so the fates stay as they were
    nap(rng.uniform(0.5, 2.0))
    while alive():
        try:
            card = backlog.claim(name, ttl=ttl)
            if card is None:
                if backlog.stats()["claimable"] == 0 and backlog.count(status=["ready", "claimed"]) == 0:
                    # Everything is done or blocked: reopen a little so the demo keeps moving.
                    done = backlog.list(status="done", limit=50)
                    if done:
                        backlog.reopen(rng.choice(done).id)
                nap(1.5)
                continue
            claims += 1
            if stall and (claims == 2 or claims % STALL_EVERY == 0):  # hangs: no heartbeat, the lease runs out
                nap(1.6 * ttl / pace)
                continue
            fate = rng.random()
            work = rng.uniform(3, 9)
            if fate < 0.08:  # the agent "crashes": no heartbeat, no completion; the lease runs out
                nap(work)
                continue
            beats = int(work // 3)
            for _ in range(beats):
                if not nap(3):
                    break
                backlog.heartbeat(card.id, name, ttl=ttl)
            if not alive():
                break
            if fate < 0.13:
                backlog.block(card.id, reason=words.choice(BLOCK_REASONS), author=name)
            else:
                summary = words.choice(SUMMARIES) if words.random() < 0.5 else None
                backlog.complete(card.id, owner=name, summary=summary)
            nap(rng.uniform(0.5, 2))
        except MosaicError:
            nap(1)
    backlog.close()


if __name__ == "__main__":  # python -m mosaic_tui.demo agent URL NAME SEED PACE PARENT [stall|steady]
    if len(sys.argv) in (7, 8) and sys.argv[1] == "agent":
        _, _, url, name, seed_value, pace, parent, *mode = sys.argv
        agent(url, name, int(seed_value), float(pace), int(parent), stall=mode == ["stall"])
    else:
        sys.exit("usage: python -m mosaic_tui.demo agent URL NAME SEED PACE PARENT_PID [stall|steady]")
