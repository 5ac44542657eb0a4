"""The dependency graph as text: a card's upstream and downstream trees, and a layered whole graph.

Pure functions over cards and edges ``(card, dependency)`` returning Rich
``Text`` built from literal strings (never markup).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from rich.text import Text

from mosaic_tui.board.draw.text import literal

STATUS_STYLE = {
    "ready": "bold cyan",
    "claimed": "bold yellow",
    "blocked": "bold red",
    "done": "green",
    None: "bold magenta",
}
MAX_TREE_LINES = 400


def _status(cards: dict, cid: str) -> str | None:
    c = cards.get(cid)
    return c.status if c is not None else None


def _node(t: Text, cards: dict, cid: str, *, unmet: bool, width_title: int = 60) -> None:
    st = _status(cards, cid)
    card = cards.get(cid)
    mark = "✓" if st == "done" else ("✗" if unmet else "•")
    t.append(f"{mark} ", STATUS_STYLE.get(st, "bold magenta"))
    t.append(literal(cid), "bold reverse" if unmet and st != "done" else "bold")
    t.append(f" [{st or 'missing'}]", STATUS_STYLE.get(st, "bold magenta"))
    if card is not None:
        title = literal(card.title)
        if len(title) > width_title:
            title = title[: width_title - 1] + "…"
        t.append(" " + title, "dim" if st == "done" else "")


def _tree(t: Text, root: str, children: dict[str, list[str]], cards: dict, *, up: bool) -> int:
    """Draw the tree below ``root`` (iteratively, any depth); a node met twice is drawn once."""
    seen = {root}
    lines = 0
    stack: list[tuple[str, str, bool]] = [(c, "", i == len(children[root]) - 1) for i, c in reversed(list(enumerate(children[root])))]
    while stack:
        cid, prefix, last = stack.pop()
        if lines >= MAX_TREE_LINES:
            t.append(f"{prefix}… (more)\n", "dim")
            break
        t.append(prefix + ("└─ " if last else "├─ "), "dim")
        unmet = up and _status(cards, cid) != "done"
        _node(t, cards, cid, unmet=unmet)
        lines += 1
        if cid in seen:
            t.append("  (shown above)\n", "dim")
            continue
        t.append("\n")
        seen.add(cid)
        kids = children.get(cid, [])
        sub = prefix + ("   " if last else "│  ")
        for i, k in reversed(list(enumerate(kids))):
            stack.append((k, sub, i == len(kids) - 1))
    return lines


def blocking_chains(card_id: str, cards: dict, edges: Iterable[tuple[str, str]], limit: int = 8) -> list[list[str]]:
    """Paths from the card through unfinished dependencies down to the ones that block first."""
    deps: dict[str, list[str]] = defaultdict(list)
    for a, b in edges:
        deps[a].append(b)
    chains: list[list[str]] = []
    stack = [[card_id]]
    while stack and len(chains) < limit:
        path = stack.pop()
        unmet = [d for d in sorted(deps.get(path[-1], [])) if _status(cards, d) != "done" and d not in path]
        if not unmet:
            if len(path) > 1:
                chains.append(path)
            continue
        for d in reversed(unmet):
            stack.append([*path, d])
    return chains


def _section(t: Text, heading: str, card_id: str, children: dict[str, list[str]], cards: dict, *, up: bool) -> None:
    """``heading``, then the tree below ``card_id`` (``up``: what it needs; else what it unlocks), or ``nothing``."""
    t.append(heading, "bold underline")
    if children[card_id]:
        t.append("\n")
        _tree(t, card_id, children, cards, up=up)
    else:
        t.append("\n  nothing\n", "dim")


def neighbourhood(card_id: str, cards: dict, edges: list[tuple[str, str]]) -> Text:
    """What ``card_id`` needs (upstream) and unlocks (downstream), recursively."""
    t = Text(no_wrap=True, overflow="ellipsis")
    needs: dict[str, list[str]] = defaultdict(list)
    unlocks: dict[str, list[str]] = defaultdict(list)
    for a, b in sorted(edges):
        needs[a].append(b)
        unlocks[b].append(a)
    _node(t, cards, card_id, unmet=False)
    t.append("\n\n")
    _section(t, "Needs", card_id, needs, cards, up=True)
    chains = blocking_chains(card_id, cards, edges)
    t.append("\n")
    if chains:
        t.append("Blocked by", "bold underline")
        t.append("\n")
        for chain in chains:
            t.append("  ")
            for i, cid in enumerate(chain[1:]):
                if i:
                    t.append(" ← ", "dim")
                t.append(literal(cid), "bold red")
                t.append(f" ({_status(cards, cid) or 'missing'})", "dim")
            t.append("\n")
    elif _status(cards, card_id) == "ready":
        t.append("Every dependency is done", "green")
        t.append("\n")
    t.append("\n")
    _section(t, "Unlocks", card_id, unlocks, cards, up=False)
    return t


def layers(ids: Iterable[str], edges: Iterable[tuple[str, str]]) -> list[list[str]]:
    """Longest-path layering: a card sits one layer below its deepest dependency (iterative)."""
    ids = list(ids)
    present = set(ids)
    deps: dict[str, list[str]] = defaultdict(list)
    dependents: dict[str, list[str]] = defaultdict(list)
    indeg = dict.fromkeys(ids, 0)
    for a, b in edges:
        if a in present and b in present:
            deps[a].append(b)
            dependents[b].append(a)
            indeg[a] += 1
    level = dict.fromkeys(ids, 0)
    queue = [i for i in ids if indeg[i] == 0]
    while queue:
        nxt = []
        for n in queue:
            for m in dependents[n]:
                level[m] = max(level[m], level[n] + 1)
                indeg[m] -= 1
                if indeg[m] == 0:
                    nxt.append(m)
        queue = nxt
    out: dict[int, list[str]] = defaultdict(list)
    for i in ids:
        out[level[i]].append(i)
    return [out[k] for k in sorted(out)]


def layered(cards: dict, edges: list[tuple[str, str]], *, title: str, truncated: int = 0) -> Text:
    """The whole graph, layer by layer: dependencies above their dependents."""
    t = Text(no_wrap=True, overflow="ellipsis")
    t.append(title, "bold")
    t.append("\n")
    if truncated:
        t.append(f"showing {len(cards):,} cards; {truncated:,} more not shown\n", "dim")
    if not cards:
        t.append("\nno cards\n", "dim")
        return t
    deps: dict[str, list[str]] = defaultdict(list)
    for a, b in sorted(edges):
        deps[a].append(b)
    for n, layer in enumerate(layers(sorted(cards), edges)):
        t.append(f"\n── layer {n} " + ("(needs nothing)" if n == 0 else "") + "\n", "bold blue")
        for cid in layer:
            t.append("  ")
            unmet = any(_status(cards, d) != "done" for d in deps.get(cid, []))
            _node(t, cards, cid, unmet=unmet and _status(cards, cid) != "done", width_title=40)
            if deps.get(cid):
                t.append("  ← ", "dim")
                for i, d in enumerate(deps[cid]):
                    if i:
                        t.append(", ", "dim")
                    t.append(literal(d), "green" if _status(cards, d) == "done" else "bold red")
            t.append("\n")
    return t
