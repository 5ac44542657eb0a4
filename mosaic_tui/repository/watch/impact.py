"""Impact: which unfinished cards hold up the most work, and the longest chain of it per phase.

One read, :func:`impact`: the unfinished cards and the edges between them
(``Backlog.open_work``, one transaction), then :mod:`mosaic_tui.dag.analysis`
in Python:

- ``unlocks[card]``: how many unfinished cards transitively wait on it
  (exact: a card reached along two paths counts once; across phases);
- ``critical[phase]``: the longest chain of unfinished work inside each phase
  (cards without a phase are a group of their own, ``None``), first to do
  first; edges between phases are not followed;
- ``longest``: the longest chain of unfinished work in the whole backlog,
  following edges across phases (what the board names with no phase chosen).

Why Python and not a recursive query: an exact count of everything that waits
on every card is a transitive closure; in SQL it is one row per (card,
descendant) pair (hundreds of millions on a 100,000-card plan), while the
bitsets of ``keystones`` do it in a few hundred milliseconds (``bench/dag.py``).
The board reads it in a worker, paced (:mod:`mosaic_tui.board.keystones`); at
a large backlog in a process of its own (:func:`impact_of`), so that half a
second of Python does not share the board's interpreter lock with the
interface thread. Below the entry floor: no textual, rich or click.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from mosaic_tui.dag.analysis import keystones_paths_and_longest

if TYPE_CHECKING:
    from mosaic_tui.repository import Backlog


@dataclass(frozen=True)
class Impact:
    """Keystones and critical paths of the unfinished work at one moment."""

    unlocks: dict[str, int] = field(default_factory=dict)  # unfinished card -> unfinished cards waiting on it
    critical: dict[Hashable, list[str]] = field(default_factory=dict)  # phase -> longest chain, first to do first
    cards: int = 0  # unfinished cards read
    edges: int = 0  # edges between them
    status_of: dict[str, str] = field(default_factory=dict)  # unfinished card -> its status
    phase_of: dict[str, str | None] = field(default_factory=dict)  # unfinished card -> its phase
    longest: list[str] = field(default_factory=list)  # the longest chain in the whole backlog, across phases

    def path(self, phase: str | None = None, *, whole: bool = True) -> tuple[Hashable, list[str]]:
        """(phases, chain): the critical path of ``phase``; with ``whole`` and no phase, the longest chain of
        unfinished work in the whole backlog, across phases, and the phases it runs through in its order
        (``"M1"``, or ``"M1 → M2 → M4"``; None when none of its cards has a phase)."""
        if phase is not None or not whole:
            return phase, self.critical.get(phase, [])
        crossed: list[str] = []
        for card in self.longest:
            p = self.phase_of.get(card)
            if p is not None and (not crossed or crossed[-1] != p):
                crossed.append(p)
        return (" → ".join(crossed) if crossed else None), self.longest

    def top(self, n: int | None = None, *, phase: str | None = None) -> list[tuple[str, int]]:
        """The keystones: (card, unlocks) with unlocks > 0, most first, ties in claim order; of ``phase`` only."""
        get = self.unlocks.get
        found = [(i, get(i, 0)) for i in self.status_of if get(i) and (phase is None or self.phase_of.get(i) == phase)]
        found.sort(key=lambda ik: -ik[1])  # stable: claim order within a count
        return found if n is None else found[:n]

    def by_impact(self, ids: Iterable[str]) -> list[str]:
        """``ids`` (in claim order) sorted by what they unlock, most first; ties keep claim order."""
        get = self.unlocks.get
        return sorted(ids, key=lambda i: -get(i, 0))


def analyse(nodes: list[tuple], edges: list[tuple[str, str]]) -> Impact:
    """:class:`Impact` from ``(id, status, phase, created_at)`` rows in claim order and ``(dependency, card)`` edges.

    The analysis takes the cards in creation order: dependencies are mostly
    created before their dependents, which keeps the keystones' bitsets narrow
    (at 100,000 cards in claim order they cost twice as much). Ties between
    critical paths of equal length go to the one created first.
    """
    statuses = {n[0]: n[1] for n in nodes}  # claim order: what ``top`` lists ties in
    phases = {n[0]: n[2] for n in nodes}
    ids = [n[0] for n in sorted(nodes, key=lambda n: (n[3], n[0]))]
    unlocks, critical, longest = keystones_paths_and_longest(ids, statuses, edges, phases)
    return Impact(unlocks, critical, len(ids), len(edges), statuses, phases, longest)


def impact(backlog: Backlog) -> Impact:
    """Read the unfinished work and analyse it."""
    nodes, edges = backlog.open_work()
    return analyse(nodes, edges)


def serve(nice: int = 0) -> None:
    """Read the impact for another process (the board's keystones room), in a process of its own:
    ``python -c "from mosaic_tui.repository.watch.impact import serve; serve(10)"``. Each request is the
    pickled ``(url, read_url)`` of the backlog on stdin (the read goes to the replica when there is one); each answer a pickled :class:`Impact`, or the exception the read raised, on stdout. The backlog is opened on the first request and kept; ``nice``: this process's
    CPU priority is lowered by so much (the asking process's interface comes first). Ends with stdin."""
    import os
    import pickle
    import sys

    from mosaic_tui.repository import Backlog

    if nice:
        os.nice(nice)
    out = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    sys.stdout = sys.stderr  # the answers alone go to the asking process
    backlog = None
    while True:
        try:
            url, read_url = pickle.load(sys.stdin.buffer)
        except EOFError:
            break
        try:
            if backlog is None:
                backlog = Backlog.open(url, read_url=read_url)
            answer = pickle.dumps(impact(backlog), pickle.HIGHEST_PROTOCOL)
        except Exception as exc:  # noqa: BLE001 - said to the asking process, which has the one error path
            try:
                answer = pickle.dumps(exc)
            except Exception:  # noqa: BLE001 - an exception that does not pickle: its words
                answer = pickle.dumps(RuntimeError(f"{type(exc).__name__}: {exc}"))
        out.write(answer)
        out.flush()
    if backlog is not None:
        backlog.close()


def impact_json(found: Impact, *, top: int | None = 10, phase: str | None = None) -> dict:
    """``mosaic-tui impact --json``: critical paths longest first (of ``phase`` only, if given) and the top keystones."""
    paths = [(k, v) for k, v in found.critical.items() if v and (phase is None or k == phase)]
    paths.sort(key=lambda kv: (-len(kv[1]), kv[0] is None, str(kv[0])))
    return {
        "unfinished": found.cards,
        "edges": found.edges,
        "criticalPaths": [{"phase": k, "length": len(v), "cards": v} for k, v in paths],
        "keystones": [{"id": i, "status": found.status_of.get(i), "phase": found.phase_of.get(i), "unlocks": n}
                      for i, n in found.top(top, phase=phase)],
    }
