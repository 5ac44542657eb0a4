"""The drawn dependency graph: boxes and box-drawing edges in a ScrollView (Textual's Line API).

The picture is a :class:`Scene`, built off the interface thread from cards
and edges (:func:`build_scene`: the layout of :mod:`mosaic_tui.dag`, the
keystones and the critical path). :class:`DagView` draws it row by row in
``render_line`` through a strip cache — one widget for the whole graph, never
one per card — and moves a selection between the boxes along the layout.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from itertools import groupby
from typing import Any

from rich.segment import Segment
from rich.style import Style
from textual.cache import LRUCache
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from mosaic_tui.board import keys
from mosaic_tui.board.draw.text import literal
from mosaic_tui.dag import Analysis, Layout, from_card_edges, layout
from mosaic_tui.dag.analysis import keystones_and_paths
from mosaic_tui.dag.canvas import ARROW, JUNCTION, edge_cells

GLYPH = {"ready": "○", "claimed": "◐", "blocked": "✖", "done": "✓", None: "?", "waiting": "⧗"}
STATUS_COLOUR = {"ready": "cyan", "claimed": "yellow", "blocked": "red", "done": "green", None: "bright_red"}
FULL_WIDTH = 22  # a box: 20 columns inside
BOX = "╭╮╰╯─│"
SELECTED_BOX = "┏┓┗┛━┃"


@dataclass
class Node:
    id: str
    title: str
    status: str | None  # None: a dependency naming no card
    owner: str | None
    waiting: bool = False  # ready, but a dependency is not done
    phase: str | None = None

    @property
    def glyph(self) -> str:
        return GLYPH["waiting"] if self.waiting else GLYPH.get(self.status, "?")


@dataclass
class Scene:
    """Everything drawn, computed once per graph and mode (pure data; built in a worker)."""

    compact: bool
    nodes: dict[str, Node]
    lay: Layout
    analysis: Analysis
    cells: dict[int, dict[int, tuple[int, tuple[int, ...]]]]
    arrows: set[tuple[int, int]]
    band: dict[int, list[str]]  # row -> ids of the boxes covering it
    critical_edges: set[int]
    critical_set: set[str] = field(default_factory=set)
    up: dict[str, list[str]] = field(default_factory=dict)  # id -> its dependencies
    down: dict[str, list[str]] = field(default_factory=dict)  # id -> its dependents
    paths: dict[str | None, list[str]] = field(default_factory=dict)  # phase -> its critical path (all lit)

    def lines(self, node_id: str) -> list[str]:
        """The text inside a box, one string per inner row."""
        n = self.nodes[node_id]
        box = self.lay.nodes[node_id]
        inner = box.w - 2
        head = f"{n.glyph} {literal(n.id)}"
        if self.compact:
            return [_fit(head, inner)]
        if n.owner and n.status == "claimed":
            head += f" @{literal(n.owner)}"
        return [_fit(head, inner), _fit(literal(n.title), inner)]

    def related(self, sel: str | None) -> tuple[set[str], set[str]]:
        """The selected card's upstream (everything it needs) and downstream (everything it unlocks)."""
        if sel is None or sel not in self.nodes:
            return set(), set()
        return _reach(sel, self.up), _reach(sel, self.down)


def _fit(s: str, width: int) -> str:
    return s if len(s) <= width else s[: max(0, width - 1)] + "…"


def _reach(start: str, nbrs: dict[str, list[str]]) -> set[str]:
    seen: set[str] = set()
    queue = deque([start])
    while queue:
        for w in nbrs.get(queue.popleft(), ()):
            if w not in seen and w != start:
                seen.add(w)
                queue.append(w)
    return seen


def build_scene(cards: dict[str, Any], edges: list[tuple[str, str]], *, compact: bool) -> Scene:
    """The scene for ``cards`` (id -> card) and ``edges`` as the repository gives them: ``(card, dependency)``."""
    nodes = {cid: Node(c.id, c.title, c.status, c.claim_owner, phase=getattr(c, "phase", None)) for cid, c in cards.items()}
    for card, dep in edges:  # a dependency naming no card is drawn too: it blocks for ever
        for i in (card, dep):
            if i not in nodes:
                nodes[i] = Node(i, "(no such card)", None, None)
    drawn = from_card_edges(edges)
    ids = list(nodes)
    if compact:
        widths = {i: min(FULL_WIDTH, len(literal(i)) + 4) for i in ids}
        lay = layout(ids, drawn, widths, node_height=3, hsep=2)
    else:
        lay = layout(ids, drawn, dict.fromkeys(ids, FULL_WIDTH), node_height=4, hsep=2)
    statuses = {i: n.status for i, n in nodes.items()}
    unlocks, paths = keystones_and_paths(ids, statuses, drawn, {i: n.phase for i, n in nodes.items()})  # a path per phase
    longest = max(paths.values(), key=len, default=[])  # named on top (ties: the phase drawn first)
    analysis = Analysis(unlocks, longest)
    crit_pairs = {pair for chain in paths.values() for pair in zip(chain, chain[1:], strict=False)}
    critical_edges = {e for e, p in enumerate(lay.edges) if (p.source, p.target) in crit_pairs}
    band: dict[int, list[str]] = {}
    for box in lay.nodes.values():
        for y in range(box.y, box.y + box.h):
            band.setdefault(y, []).append(box.id)
    up: dict[str, list[str]] = {}
    down: dict[str, list[str]] = {}
    for p in lay.edges:
        up.setdefault(p.target, []).append(p.source)
        down.setdefault(p.source, []).append(p.target)
    for n in nodes.values():
        n.waiting = n.status == "ready" and any(nodes[d].status != "done" for d in up.get(n.id, ()))
    arrows = {p.points[-1] for p in lay.edges}
    return Scene(compact, nodes, lay, analysis, edge_cells(lay), arrows, band, critical_edges,
                 set().union(*paths.values()), up, down, paths)


class DagView(ScrollView, can_focus=True):
    """The graph drawn line by line; arrows / hjkl move the selection along the layout."""

    BINDINGS = keys.bindings(keys.GRAPH_VIEW)  # arrows / hjkl, enter: from the board's one key table
    COMPONENT_CLASSES = {"dag--edge", "dag--related", "dag--critical", "dag--selected", "dag--dim"}
    DEFAULT_CSS = """
    DagView { height: 1fr; scrollbar-size: 1 1; }
    DagView > .dag--edge { color: $text-muted; }
    DagView > .dag--related { color: $accent; text-style: bold; }
    DagView > .dag--critical { color: magenta; text-style: bold; }
    DagView > .dag--selected { background: $accent 25%; }
    DagView > .dag--dim { text-style: dim; }
    """

    class Selected(Message):
        """The selection moved to ``card_id`` (None: the graph is empty)."""

        def __init__(self, view: DagView, card_id: str | None) -> None:
            super().__init__()
            self.view = view
            self.card_id = card_id

    class Open(Message):
        """Enter on a card: open its detail."""

        def __init__(self, card_id: str) -> None:
            super().__init__()
            self.card_id = card_id

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.scene: Scene | None = None
        self.selected: str | None = None
        self._up: set[str] = set()
        self._down: set[str] = set()
        self._cache: LRUCache[int, Strip] = LRUCache(1024)
        self._styles: dict[str, Style] = {}
        self._combos: dict[tuple, Style] = {}
        self._edge_keys: dict[tuple[int, ...], str] = {}  # for the current selection

    # -- data -------------------------------------------------------------------------
    def show(self, scene: Scene, prefer: str | None = None) -> None:
        """Draw ``scene``, keeping the selection when its card is still there."""
        old = self.selected
        self.scene = scene
        want = prefer if prefer in scene.nodes else old if old in scene.nodes else None
        if want is None:
            crit = scene.analysis.critical
            want = crit[0] if crit else next((layer[0] for layer in scene.lay.layers if layer), None)
        self.virtual_size = Size(scene.lay.width, scene.lay.height)
        self._select(want, force=True)

    def _select(self, card_id: str | None, *, force: bool = False) -> None:
        if card_id == self.selected and not force:
            return
        self.selected = card_id
        self._up, self._down = self.scene.related(card_id) if self.scene else (set(), set())
        self._cache.clear()
        self._edge_keys.clear()
        self.refresh()
        self.call_after_refresh(self.reveal)
        self.post_message(self.Selected(self, card_id))

    def reveal(self) -> None:
        """Pan so that the selected box, with a margin, is in sight."""
        if self.scene is None or self.selected is None:
            return
        box = self.scene.lay.nodes[self.selected]
        self.scroll_to_region(Region(box.x - 2, box.y - 1, box.w + 4, box.h + 2), animate=False, force=True)

    # -- navigation -------------------------------------------------------------------
    def action_move(self, where: str) -> None:
        if self.scene is None or self.selected is None:
            return
        lay = self.scene.lay
        box = lay.nodes[self.selected]
        layer = lay.layers[box.layer]
        if where in ("left", "right"):
            i = layer.index(self.selected) + (1 if where == "right" else -1)
            if 0 <= i < len(layer):
                self._select(layer[i])
            return
        step = 1 if where == "down" else -1
        li = box.layer + step
        while 0 <= li < len(lay.layers) and not lay.layers[li]:
            li += step
        if 0 <= li < len(lay.layers):
            centre = box.x + box.w / 2
            self._select(min(lay.layers[li], key=lambda v: abs(lay.nodes[v].x + lay.nodes[v].w / 2 - centre)))

    def select(self, card_id: str) -> bool:
        if self.scene is None or card_id not in self.scene.nodes:
            return False
        self._select(card_id)
        return True

    def action_open(self) -> None:
        if self.selected is not None and self.scene and self.scene.nodes[self.selected].status is not None:
            self.post_message(self.Open(self.selected))

    # -- drawing ----------------------------------------------------------------------
    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._styles.clear()
        self._combos.clear()
        self._cache.clear()

    def _style(self, name: str) -> Style:
        st = self._styles.get(name)
        if st is None:
            if name == "base":
                st = self.rich_style
            elif name == "dag--selected":  # its background only (blended as CSS does), the text keeps its colour
                full = self.get_component_rich_style(name)
                st = Style(bgcolor=full.bgcolor, bold=True)
            elif name.startswith("dag--"):
                st = self.get_component_rich_style(name, partial=True)
            else:
                st = Style.parse(name)
            self._styles[name] = st
        return st

    def render_line(self, y: int) -> Strip:
        sx, sy = self.scroll_offset
        width = self.size.width
        row = sy + y
        strip = self._cache.get(row)
        if strip is None:
            strip = self._draw_row(row)
            self._cache[row] = strip
        return strip.crop_extend(sx, sx + width, self.rich_style)

    def _edge_key(self, owners: tuple[int, ...]) -> str:
        """What an edge cell is drawn as: ``related`` (to the selection), ``critical`` or ``edge`` (dimmed)."""
        key = self._edge_keys.get(owners)
        if key is None:
            sc = self.scene
            assert sc is not None
            sel, up, down = self.selected, self._up, self._down
            key = "edge"
            for e in owners:
                p = sc.lay.edges[e]
                if (p.target == sel or p.target in up) and p.source in up or (p.source == sel or p.source in down) and p.target in down:
                    key = "related"
                    break
                if e in sc.critical_edges:
                    key = "critical"
            self._edge_keys[owners] = key
        return key

    def _resolve(self, key: tuple) -> Style:
        """The style of a cell key: ("edge", kind) or (part, status, on the critical path, selected, near)."""
        st = self._combos.get(key)
        if st is None:
            base = self._style("base")
            if key[0] == "edge":
                kind = key[1]
                st = base + (self._style(f"dag--{kind}") if kind != "edge" else self._style("dag--edge") + self._style("dag--dim"))
            else:
                part, status, on_path, selected, near = key
                colour = self._style(STATUS_COLOUR.get(status, "bright_red"))
                st = base + (self._style("dag--critical") if part == "border" and on_path else colour)
                if not near:
                    st += self._style("dag--dim")
                if selected:
                    st += self._style("dag--selected")
            self._combos[key] = st
        return st

    def _draw_row(self, row: int) -> Strip:
        """One row of the whole picture: cells as characters and style keys, then runs of one style as segments."""
        sc = self.scene
        if sc is None or row >= sc.lay.height:
            return Strip([])
        w = sc.lay.width
        blank = ("edge", "none")
        chars = [" "] * w
        keys: list[tuple] = [blank] * w
        bottoms: dict[int, tuple] = {}
        for nid in sc.band.get(row, ()):
            box = sc.lay.nodes[nid]
            node = sc.nodes[nid]
            selected = nid == self.selected
            near = selected or nid in self._up or nid in self._down
            on_path = nid in sc.critical_set
            border = ("border", node.status, on_path, selected, near)
            tl, tr, bl, br, hz, vt = SELECTED_BOX if selected else BOX
            x0, x1 = box.x, box.x + box.w - 1
            if row == box.y or row == box.y + box.h - 1:
                top = row == box.y
                chars[x0:x1 + 1] = [tl if top else bl] + [hz] * (box.w - 2) + [tr if top else br]
                keys[x0:x1 + 1] = [border] * box.w
                if not top:
                    for x in range(x0 + 1, x1):
                        bottoms[x] = border
            else:
                k = row - box.y - 1
                lines = sc.lines(nid)
                text = (lines[k] if k < len(lines) else "").ljust(box.w - 2)
                chars[x0:x1 + 1] = [vt, *text, vt]
                keys[x0:x1 + 1] = [border] + [("text", node.status, False, selected, near)] * (box.w - 2) + [border]
        arrows = sc.arrows
        for x, (mask, owners) in sc.cells.get(row, {}).items():
            if x in bottoms:
                chars[x] = "┳" if chars[x] == "━" else "┬"
                continue
            keys[x] = ("edge", self._edge_key(owners))
            chars[x] = ARROW if (x, row) in arrows else JUNCTION.get(mask, "·")
        segments: list[Segment] = []
        start = 0
        base = self._style("base")
        for k, run in groupby(keys):
            end = start + sum(1 for _ in run)
            segments.append(Segment("".join(chars[start:end]), base if k is blank else self._resolve(k)))
            start = end
        return Strip(segments, w)
