"""Benchmark: the drawn graph's layout, its first draw, and keystones / critical path at 100,000 cards.

Graphs are made like a plan: cards in epics of ~25 (phases of 10 epics); a
card needs 0-3 earlier cards of its epic (the last few, mostly) and now and
then one of the epic before. The same seed gives the same graph.

- **layout** (``mosaic_tui.dag.layout``, as the screen calls it, full and
  compact boxes) at 30 / 300 / 1,000 cards;
- **first draw**: in-process, headless (Pilot): from pushing the graph
  screen with the cards in hand to its first full picture (layout in the
  worker, analysis, drawing); baseline: today's ``g``, the layered list of
  the same cards (its text made, pushed, drawn). The database read before
  either is not counted (the board's reads: ``bench/board_paint.py``);
- **analysis** at 100,000 cards: keystones (exact ``unlocks N``) and the
  critical path per phase, for a backlog where 70 % of the cards are done and
  for one where none is, and for one chain of 100,000 (the worst case of
  the bitsets).

Baseline in the same run, on the same graph: a plain topological sort
(Kahn's, over the same integer graph), the least any graph pass can cost.
Times are medians of ``--runs``, wall clock and CPU (this process), since the
machine may be shared.

Run: ``python bench/dag.py [--runs 5] [--sizes 30,300,1000] [--big 100000]``.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

from mosaic_tui.dag import critical_paths, from_card_edges, keystones, layout
from mosaic_tui.dag.graph import Digraph


@dataclass(frozen=True)
class Card:
    id: str
    title: str
    status: str
    claim_owner: str | None = None


def plan(n: int, *, done: float, seed: int = 1) -> tuple[dict[str, Card], list[tuple[str, str]], dict[str, str]]:
    """Cards by id, edges ``(card, dependency)`` as the repository gives them, and phase by id."""
    rng = random.Random(seed)
    ids = [f"P{i // 250:03d}-{i % 250:03d}" for i in range(n)]
    cards: dict[str, Card] = {}
    edges: list[tuple[str, str]] = []
    for i, cid in enumerate(ids):
        epic = i // 25
        start = epic * 25
        for _ in range(rng.choice([0, 1, 1, 1, 2, 2, 3])):
            if i > start:
                j = max(start, i - 1 - int(rng.expovariate(0.5)))
                edges.append((cid, ids[j]))
        if start >= 25 and rng.random() < 0.1:
            edges.append((cid, ids[rng.randrange(start - 25, start)]))
        status = "done" if rng.random() < done else rng.choice(["ready", "ready", "ready", "claimed", "blocked"])
        cards[cid] = Card(cid, f"card number {i}", status, "agent-1" if status == "claimed" else None)
    return cards, sorted(set(edges)), {cid: cid[:4] for cid in ids}


def timed(fn: Callable[[], object], runs: int) -> tuple[float, float]:
    wall, cpu = [], []
    for _ in range(runs):
        w, c = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - w)
        cpu.append(time.process_time() - c)
    return statistics.median(wall), statistics.median(cpu)


def ms(t: tuple[float, float]) -> str:
    return f"{t[0] * 1000:9.1f} ms wall {t[1] * 1000:9.1f} ms cpu"


def topo_baseline(ids, drawn) -> Callable[[], object]:
    return lambda: Digraph(ids, drawn).topo()


def bench_layout(sizes: list[int], runs: int) -> None:
    print("layout (dependencies -> dependents), 0 % done")
    for n in sizes:
        cards, edges, _ = plan(n, done=0.0)
        ids, drawn = list(cards), from_card_edges(edges)
        full = timed(lambda: layout(ids, drawn, dict.fromkeys(ids, 22), node_height=4), runs)
        compact = timed(lambda: layout(ids, drawn, {i: len(i) + 4 for i in ids}, node_height=3), runs)
        base = timed(topo_baseline(ids, drawn), runs)
        lay = layout(ids, drawn, dict.fromkeys(ids, 22), node_height=4)
        print(f"  {n:>6,} cards {len(edges):>6,} edges  full {ms(full)} | compact {ms(compact)} | topo sort {ms(base)}"
              f"  ({lay.width}x{lay.height} cells, {lay.crossings} crossings)")


def bench_first_draw(sizes: list[int], runs: int) -> None:
    from textual.app import App

    from mosaic_tui.board.dag_screen import DagScreen

    from mosaic_tui.board.graph import layered
    from mosaic_tui.board.screens import GraphScreen

    async def once(cards, edges, listed: bool) -> tuple[float, float]:
        app = App()
        async with app.run_test(size=(160, 45)) as pilot:
            await pilot.pause()
            w, c = time.perf_counter(), time.process_time()
            if listed:  # today's `g`: the layered list of the same cards (its text made here too)
                await app.push_screen(GraphScreen(layered(cards, edges, title="Dependency graph")))
            else:
                screen = DagScreen(cards, edges)
                await app.push_screen(screen)
                while screen.view.scene is None:  # the layout worker, then its message
                    await app.workers.wait_for_complete()
                    await pilot.pause()
            await pilot.pause()
            return time.perf_counter() - w, time.process_time() - c

    def median(pairs: list[tuple[float, float]]) -> tuple[float, float]:
        return statistics.median(p[0] for p in pairs), statistics.median(p[1] for p in pairs)

    print("first draw of the graph screen (in-process, headless, cards in hand: push -> drawn)")
    for n in sizes:
        if n > 300:
            continue
        cards, edges, _ = plan(n, done=0.3)
        drawn = median([asyncio.run(once(cards, edges, False)) for _ in range(runs)])
        listed = median([asyncio.run(once(cards, edges, True)) for _ in range(runs)])
        print(f"  {n:>6,} cards  drawn graph {ms(drawn)} | today's layered list (baseline) {ms(listed)}")


def bench_analysis(big: int, runs: int) -> None:
    print(f"analysis at {big:,} cards")
    for done in (0.7, 0.0):
        cards, edges, phase = plan(big, done=done)
        ids, drawn = list(cards), from_card_edges(edges)
        statuses = {i: c.status for i, c in cards.items()}
        ks = timed(lambda: keystones(ids, statuses, drawn), runs)
        cp = timed(lambda: critical_paths(ids, statuses, drawn, phase), runs)
        base = timed(topo_baseline(ids, drawn), runs)
        top = max(keystones(ids, statuses, drawn).values(), default=0)
        longest = max(map(len, critical_paths(ids, statuses, drawn, phase).values()), default=0)
        print(f"  {int(done * 100):>3} % done, {len(edges):,} edges: keystones {ms(ks)} | critical paths per phase {ms(cp)}"
              f" | topo sort {ms(base)}  (most unlocked {top:,}; longest chain {longest})")
    ids = [f"c{i:06d}" for i in range(big)]
    drawn = list(zip(ids, ids[1:], strict=False))
    statuses = dict.fromkeys(ids, "ready")
    ks = timed(lambda: keystones(ids, statuses, drawn), max(1, runs // 2))
    base = timed(topo_baseline(ids, drawn), max(1, runs // 2))
    print(f"  one chain of {big:,} (worst case): keystones {ms(ks)} | topo sort {ms(base)}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--sizes", default="30,300,1000")
    ap.add_argument("--big", type=int, default=100_000)
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    bench_layout(sizes, args.runs)
    bench_first_draw(sizes, args.runs)
    bench_analysis(args.big, args.runs)


if __name__ == "__main__":
    main()
