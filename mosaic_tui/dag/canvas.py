"""Edge paths as box-drawing characters, cell by cell; and the whole layout as plain text.

:func:`edge_cells` turns a :class:`~mosaic_tui.dag.layout.Layout`'s edge
paths into, for each row, the cells they pass with the directions each cell
joins (up/down/left/right) and the edges passing it, so that a renderer can
pick the junction character (``│ ─ ╭ ╮ ╰ ╯ ├ ┤ ┬ ┴ ┼``) and a style per edge.
:func:`render_text` draws the whole layout as plain lines (tests, docs, a quick look).
"""

from __future__ import annotations

from collections.abc import Callable

from mosaic_tui.dag.layout import Layout

UP, DOWN, LEFT, RIGHT = 1, 2, 4, 8
CROSS = 16  # lines crossing without meeting
JUNCTION = {
    UP: "│", DOWN: "│", UP | DOWN: "│",
    LEFT: "─", RIGHT: "─", LEFT | RIGHT: "─",
    DOWN | RIGHT: "╭", DOWN | LEFT: "╮", UP | RIGHT: "╰", UP | LEFT: "╯",
    UP | DOWN | RIGHT: "├", UP | DOWN | LEFT: "┤", DOWN | LEFT | RIGHT: "┬", UP | LEFT | RIGHT: "┴",
    UP | DOWN | LEFT | RIGHT: "┼",
    CROSS: "│",
}
ARROW = "▼"

Cell = tuple[int, tuple[int, ...]]  # (direction mask, indices of the edges passing)


def edge_cells(lay: Layout) -> dict[int, dict[int, Cell]]:
    """Row -> column -> (mask, edge indices) for every cell an edge path passes (starts and ends included).

    Where lines only cross (each passes straight through, some across, some
    down) the mask is ``CROSS``: drawn as the vertical line passing over the
    horizontal one, so that a crossing never looks like a fork or a join.
    """
    per: dict[tuple[int, int], dict[int, int]] = {}

    def mark(x: int, y: int, bits: int, e: int) -> None:
        d = per.setdefault((x, y), {})
        d[e] = d.get(e, 0) | bits

    for e, path in enumerate(lay.edges):
        pts = path.points
        if len(pts) == 1:
            mark(pts[0][0], pts[0][1], 0, e)
        for (x0, y0), (x1, y1) in zip(pts, pts[1:], strict=False):
            if x0 == x1:
                step = 1 if y1 > y0 else -1
                fwd, back = (DOWN, UP) if step == 1 else (UP, DOWN)
                for y in range(y0, y1, step):
                    mark(x0, y, fwd, e)
                    mark(x0, y + step, back, e)
            else:
                step = 1 if x1 > x0 else -1
                fwd, back = (RIGHT, LEFT) if step == 1 else (LEFT, RIGHT)
                for x in range(x0, x1, step):
                    mark(x, y0, fwd, e)
                    mark(x + step, y0, back, e)
    rows: dict[int, dict[int, Cell]] = {}
    for (x, y), owners in per.items():
        mask = 0
        kinds = set()
        for bits in owners.values():
            mask |= bits
            kinds.add(bits)
        if kinds == {UP | DOWN, LEFT | RIGHT}:
            mask = CROSS
        rows.setdefault(y, {})[x] = (mask, tuple(owners))
    return rows


def arrow_cells(lay: Layout) -> set[tuple[int, int]]:
    """The last cell of every edge path, just above its target: drawn as an arrowhead."""
    return {p.points[-1] for p in lay.edges if p.points}


def render_text(lay: Layout, label: Callable[[str], str] = str) -> list[str]:
    """The layout as plain text: rounded boxes with ``label(id)`` on their first inner line, and the edges."""
    grid = [[" "] * lay.width for _ in range(lay.height)]
    for box in lay.nodes.values():
        x, y, w, h = box.x, box.y, box.w, box.h
        grid[y][x] = "╭"
        grid[y][x + w - 1] = "╮"
        grid[y + h - 1][x] = "╰"
        grid[y + h - 1][x + w - 1] = "╯"
        for cx in range(x + 1, x + w - 1):
            grid[y][cx] = grid[y + h - 1][cx] = "─"
        for cy in range(y + 1, y + h - 1):
            grid[cy][x] = grid[cy][x + w - 1] = "│"
        text = label(box.id)[: w - 2]
        if h > 2:
            for i, ch in enumerate(text):
                grid[y + 1][x + 1 + i] = ch
    arrows = arrow_cells(lay)
    for y, row in edge_cells(lay).items():
        for x, (m, _) in row.items():
            if (x, y) in arrows:
                grid[y][x] = ARROW
            elif grid[y][x] == "─":  # an edge leaving a box's bottom border
                grid[y][x] = "┬"
            else:
                grid[y][x] = JUNCTION.get(m, "·")
    return ["".join(r).rstrip() for r in grid]
