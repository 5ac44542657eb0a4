"""A long Rich text shown line by line (Textual's Line API): only the lines on screen are rendered.

For the drawn graph's layered list (above ``DRAW_LIMIT`` cards): thousands of
lines, where a ``Static`` renders every line on each layout (~150 ms at 2,000
lines, and again on resize), this renders the visible ones through a strip
cache. Scrolls with the arrow keys, PgUp/PgDn, Home/End (``ScrollView``'s
bindings) and the mouse.
"""

from __future__ import annotations

from rich.text import Text
from textual.cache import LRUCache
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip


class TextView(ScrollView, can_focus=True):
    """``set_text(text)``; ``plain``: what it shows, as plain text."""

    DEFAULT_CSS = """
    TextView { height: 1fr; scrollbar-size-vertical: 1; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._lines: list[Text] = []
        self._cache: LRUCache[tuple[int, int, int], Strip] = LRUCache(1024)

    def set_text(self, text: Text) -> None:
        """Show ``text`` (its lines kept as they are: no wrapping), from the top."""
        lines = list(text.split("\n", allow_blank=True))
        for line in lines:
            line.end = ""
        self._lines = lines
        self._cache.clear()
        self.virtual_size = Size(max((line.cell_len for line in lines), default=0), len(lines))
        self.scroll_to(0, 0, animate=False, immediate=True)
        self.refresh()

    # Scrolling jumps (no animation: a smooth page scroll repaints the screen for each of its frames).
    def action_page_down(self) -> None:
        self.scroll_page_down(animate=False)

    def action_page_up(self) -> None:
        self.scroll_page_up(animate=False)

    def action_scroll_home(self) -> None:
        self.scroll_home(animate=False)

    def action_scroll_end(self) -> None:
        self.scroll_end(animate=False)

    @property
    def plain(self) -> str:
        return "\n".join(line.plain for line in self._lines)

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._cache.clear()

    def render_line(self, y: int) -> Strip:
        x, top = self.scroll_offset
        index = top + y
        width = self.scrollable_content_region.width
        if index >= len(self._lines):
            return Strip.blank(width, self.rich_style)
        key = (index, x, width)
        strip = self._cache.get(key)
        if strip is None:
            segments = list(self._lines[index].render(self.app.console))
            strip = Strip(segments).crop(x, x + width).extend_cell_length(width).apply_style(self.rich_style)
            self._cache[key] = strip
        return strip


__all__ = ["TextView"]
