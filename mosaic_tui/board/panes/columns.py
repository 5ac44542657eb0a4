"""One kanban column: a ScrollView drawing only its visible rows (Textual's Line API).

A column knows its card count and holds the pages of cards it has been
shown (``PAGE`` cards each, read by the kanban pane in a worker). ``render_line``
draws from those pages through a strip cache, and asks the app for a page it
does not hold yet (``WantPages``); it never has one widget per card.
"""

from __future__ import annotations

import time
from math import ceil
from collections.abc import Container
from typing import TYPE_CHECKING

from rich.cells import cell_len
from rich.style import Style
from rich.text import Text
from textual.cache import LRUCache
from textual.geometry import Region, Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.scrollbar import ScrollBar
from textual.strip import Strip

from mosaic_tui.board.keys import COLUMN, bindings
from mosaic_tui.board.grooming.marks import MARK
from mosaic_tui.board.draw.text import duration, lease_left, literal

if TYPE_CHECKING:
    from mosaic_tui.db.models import Card

PAGE = 50  # cards per page: about two screens of a tall terminal
ROW_H = 2  # lines per card: the title line and the state line
CHROME = 3  # cells around a column's text: two borders and the scrollbar
STRIP = 17  # an empty column's width: ``blocked (0)`` in its border
OWNER_MAX = 40  # an owner name longer than this is cut, not given the width
NEED_MAX = 120  # a column never asks for more than this (a long title shows cut with …)


def _thumb(size: int, virtual: int, window: int, position: float) -> tuple[int, int]:
    """Where a vertical scrollbar draws its thumb, in eighths of a cell (as ``ScrollBarRender`` does)."""
    if not (window and size and virtual) or size == virtual or virtual <= window:
        return (0, 0)
    thumb = max(1, window / (virtual / size))
    start = int((size - thumb) * (position / (virtual - window)) * 8)
    return start, start + ceil(thumb * 8)


class CardColumn(ScrollView, can_focus=True):
    """The cards of one status, drawn line by line."""

    BINDINGS = bindings(COLUMN)  # the key table (mosaic_tui.board.keys)

    COMPONENT_CLASSES = {
        "card--id", "card--title", "card--meta", "card--cursor", "card--cursor-blur",
        "card--waiting", "card--expired", "card--owner", "card--priority", "card--flash", "card--mark",
        "card--unlocks", "card--reason", "card--labels",
    }

    DEFAULT_CSS = """
    CardColumn {
        width: 1fr;
        height: 1fr;
        border: round $panel-lighten-2;
        border-title-color: $text;
        border-title-style: bold;
        scrollbar-size-vertical: 1;
        overflow-x: hidden;
    }
    CardColumn:focus { border: round $accent; }
    CardColumn > .card--mark { color: $secondary; text-style: bold; }
    CardColumn > .card--id { color: $accent; text-style: bold; }
    CardColumn > .card--title { color: $text; }
    CardColumn > .card--meta { color: $text-muted; }
    CardColumn > .card--priority { color: $warning; }
    CardColumn > .card--owner { color: $success; }
    CardColumn > .card--unlocks { color: $secondary; text-style: bold; }
    CardColumn > .card--waiting { color: $warning; text-style: italic; }
    CardColumn > .card--reason { color: $error; text-style: italic; }
    CardColumn > .card--labels { color: $secondary; }
    CardColumn > .card--expired { color: $error; text-style: bold; }
    CardColumn > .card--cursor { background: $accent 40%; }
    CardColumn > .card--cursor-blur { background: $panel-lighten-1; }
    CardColumn > .card--flash { background: $warning 25%; }
    """

    cursor: reactive[int] = reactive(0, always_update=True, init=False)

    class Selected(Message):
        """The cursor of a column now points at ``card`` (or at nothing)."""

        def __init__(self, column: CardColumn, card: Card | None, by_user: bool = False) -> None:
            super().__init__()
            self.column = column
            self.card = card
            self.by_user = by_user  # the person moved the cursor (not a card sliding under it)

    class WantPages(Message):
        """The column needs pages it does not hold to draw its visible rows."""

        def __init__(self, column: CardColumn, pages: set[int]) -> None:
            super().__init__()
            self.column = column
            self.pages = pages

    def __init__(self, status: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.status = status
        self.count = 0
        self.pages: dict[int, list[Card]] = {}
        self.waits: dict[str, list[str]] = {}
        self.tags: dict[str, tuple] = {}  # card id -> (labels, block reason's first line or None)
        self._requested: set[int] = set()
        # card id -> row, for the pages held; rebuilt when they change (interface thread only)
        self.index: dict[str, int] = {}
        self._shown_meta: dict[int, tuple] = {}  # row -> (card id, state-line key) at the last countdown tick
        self._cache: LRUCache[tuple, Strip] = LRUCache(2048)
        self._styles: dict[str, Style] = {}
        self.now_fn = None  # set by the app: () -> datetime
        self.flash: dict[str, float] = {}  # card id -> until (monotonic): just changed, highlighted
        self.marks: Container[str] = frozenset()  # the board's marked card ids (set by the kanban)
        self.unlocks: dict[str, int] = {}  # unfinished card -> cards waiting on it (the keystones room's)
        self.sort_note = ""  # after the count in the title: how the column is sorted, when not in claim order
        self._fade_timer_set = False
        self.border_title = status
        self._version = 0  # bumped whenever what the rows show may have changed (``wants`` is cached on it)
        self._wants: tuple | None = None

    def _set_title(self, title: str) -> None:
        """The border title, repainting only the border's top line.

        Textual's ``border_title`` setter repaints the whole widget; the count
        in the title moves with every look under a busy fleet.
        """
        if title == getattr(self, "_title_text", None):
            return
        self._title_text = title
        if not self.is_mounted or not self.size:
            self.border_title = title
            return
        self._border_title = self.render_str(title).expand_tabs(4).split()[0]  # what the setter stores
        off = self.content_offset
        self.refresh(Region(-off.x, -off.y, self.outer_size.width, 1))

    # -- data -----------------------------------------------------------------------
    def set_data(self, count: int, pages: dict[int, list[Card]], waits: dict[str, list[str]], *, full: bool,
                 tags: dict[str, tuple] | None = None) -> None:
        """New count and pages; redraw only the rows whose card changed (all rows when ``full``). ``tags``:
        card id -> (labels, block reason), for the cards of ``pages`` (and maybe others)."""
        self._version += 1
        old_rows = {} if full else self._row_keys()
        if full:
            self.pages = {}
            self._requested.clear()
        self.count = count
        self.pages.update(pages)
        for cards in pages.values():  # a card read again that waits no longer (a dependency unlinked or done)
            for c in cards:
                if c.id not in waits:
                    self.waits.pop(c.id, None)
        self.waits.update(waits)
        if tags:
            self.tags.update(tags)
        for p in pages:
            self._requested.discard(p)
        self._reindex()
        self._show_count()
        if full:
            self.refresh()
        else:
            new_rows = self._row_keys()
            for row in set(old_rows) | set(new_rows):
                if old_rows.get(row) != new_rows.get(row):
                    self.refresh_lines(row * ROW_H, ROW_H)
        self.post_message(self.Selected(self, self.selected))

    def set_count(self, count: int) -> None:
        """An exact recount: the title and the scroll height follow; rows past the end go blank."""
        if count == self.count:
            return
        old = self.count
        self.count = count
        self._show_count()
        first, last = sorted((old, count))
        self.refresh_lines(first * ROW_H, (last - first) * ROW_H)

    def _show_count(self) -> None:
        """The title, the scroll height and the cursor follow ``count`` (an empty column narrows to a strip:
        its width is the kanban's, ``Kanban.fit``)."""
        self._set_title(f"{self.status} ({self.count:,}){self.sort_note}")
        self.set_class(self.count == 0, "-empty")
        self._size_to_count()
        if self.cursor >= self.count:
            self.cursor = max(0, self.count - 1)

    def set_unlocks(self, unlocks: dict[str, int]) -> None:
        """New keystone counts: redraw the visible state lines whose count changed (and the title's sort note)."""
        old, self.unlocks = self.unlocks, unlocks
        self._version += 1
        self._show_count()
        if not self.count:
            return
        first, last = self._visible_rows()
        for row in range(first, last):
            card = self.card_at(row)
            if card is not None and old.get(card.id) != unlocks.get(card.id):
                self.refresh_lines(row * ROW_H + 1, 1)

    def redraw_changed_meta(self) -> None:
        """Redraw the visible rows whose state line would read differently now (a lease countdown)."""
        if not self.count:
            return
        first, last = self._visible_rows()
        shown = self._shown_meta
        now: dict[int, tuple] = {}
        for row in range(first, last):
            card = self.card_at(row)
            if card is not None:
                now[row] = (card.id, self._meta_key(card))
        for row, key in now.items():
            if shown.get(row) != key:
                self.refresh_lines(row * ROW_H + 1, 1)
        self._shown_meta = now

    def wants(self) -> tuple[int, int]:
        """``(floor, need)`` in cells: the width below which the column hides what it is watched for (the
        claimed column: the owner and the lease countdown of each card on screen; any other: its title
        in the border), and the width its rows on screen read whole in. An empty column: a strip."""
        if not self.count:
            return STRIP, STRIP
        first, last = self._visible_rows()
        tick = int(self.now_fn().timestamp()) if self.status == "claimed" and self.now_fn else 0  # countdowns move
        key = (self._version, first, last, self.size.height, getattr(self, "_title_text", None), tick)
        if self._wants is not None and self._wants[0] == key:
            return self._wants[1]  # a look that changed nothing here costs nothing here
        got = self._measure(first, last)
        self._wants = (key, got)
        return got

    def _measure(self, first: int, last: int) -> tuple[int, int]:
        chrome = 2 + (self.count * ROW_H > self.scrollable_content_region.height)  # borders, a scrollbar if any
        floor = cell_len(getattr(self, "_title_text", None) or self.status) + 6  # ``╭─ done (3) ─╮``
        need = floor
        for row in range(first, last):
            card = self.card_at(row)
            if card is None:
                continue
            if card.status == "claimed":  # the owner (cut at OWNER_MAX) and the lease as shown now, then ``…``
                floor = max(floor, cell_len(self._lease_line(card, OWNER_MAX).plain) + 1 + chrome)
            need = max(need, self._title(card).cell_len + chrome, self._meta(card).cell_len + chrome)
        return floor, min(NEED_MAX, max(need, floor))

    def _reindex(self) -> None:
        self.index = {c.id: p * PAGE + i for p, cards in self.pages.items() for i, c in enumerate(cards)}

    def _size_to_count(self) -> None:
        """The scrollable height follows the count.

        Assigning ``virtual_size`` lays out the whole screen (and repaints all
        of it); a busy fleet changes the counts several times a second. While
        the scrollbar neither appears nor disappears, only the scrollbar needs
        to know, so the size is set without a layout.
        """
        size = Size(self.size.width, self.count * ROW_H)
        old = self.virtual_size
        if size == old:
            return
        height = self.scrollable_content_region.height
        if not (self.is_mounted and height and old.width == size.width and (old.height > height) == (size.height > height)):
            self.virtual_size = size
            return
        self.set_reactive(CardColumn.virtual_size, size)
        bar = self.vertical_scrollbar if self.show_vertical_scrollbar else None
        if bar is not None and _thumb(bar.size.height, old.height, bar.window_size, self.scroll_y) != _thumb(
            bar.size.height, size.height, bar.window_size, self.scroll_y
        ):
            self._scroll_update(size)  # the thumb moves: redraw the scrollbar
            return
        if bar is not None:
            bar.set_reactive(ScrollBar.window_virtual_size, size.height)
        self.scroll_y = self.validate_scroll_y(self.scroll_y)

    def _row_keys(self) -> dict[int, tuple]:
        out = {}
        for p, cards in self.pages.items():
            for i, c in enumerate(cards):
                out[p * PAGE + i] = (c.id, c.updated_at, c.unmet_deps, tuple(self.waits.get(c.id, ())), self.tags.get(c.id))
        return out

    def replace_card(self, card: Card, waits: list[str] | None = None, tags: tuple | None = None) -> bool:
        """Put a re-read ``card`` in place of its old copy; redraw its row only. False if not held here."""
        if tags is not None:
            self.tags[card.id] = tags
        if waits:
            self.waits[card.id] = waits
        else:
            self.waits.pop(card.id, None)
        row = self.index.get(card.id)
        if row is None:
            return False
        self._version += 1
        self.pages[row // PAGE][row % PAGE] = card
        self.refresh_lines(row * ROW_H, ROW_H)
        if row == self.cursor:
            self.post_message(self.Selected(self, card))
        return True

    def flash_card(self, card_id: str, seconds: float) -> None:
        """Highlight a card that just changed, for a moment (its row now, and again when it fades).

        A card this column does not hold yet (its page is being reloaded) is
        marked too, so it shows highlighted when it arrives; the marks fade
        together, with one timer per column.
        """
        now = time.monotonic()
        self.flash[card_id] = now + seconds
        self._refresh_card(card_id)
        if not self._fade_timer_set:
            self._fade_timer_set = True
            self.set_timer(seconds + 0.05, self._unflash)

    def _unflash(self) -> None:
        self._fade_timer_set = False
        now = time.monotonic()
        for card_id, until in list(self.flash.items()):
            if until <= now:
                del self.flash[card_id]
                self._refresh_card(card_id)
        if self.flash:
            self._fade_timer_set = True
            self.set_timer(max(0.05, min(self.flash.values()) - now + 0.05), self._unflash)

    def refresh_card(self, card_id: str) -> None:
        """Redraw a card's row, if this column holds it (its mark changed)."""
        self._refresh_card(card_id)

    def _refresh_card(self, card_id: str) -> None:
        row = self.index.get(card_id)
        if row is not None:
            self.refresh_lines(row * ROW_H, ROW_H)

    def find(self, card_id: str) -> tuple[int, Card] | None:
        row = self.index.get(card_id)
        if row is None:
            return None
        return row, self.pages[row // PAGE][row % PAGE]

    def card_at(self, row: int) -> Card | None:
        page, i = divmod(row, PAGE)
        cards = self.pages.get(page)
        if cards is None or i >= len(cards):
            return None
        return cards[i]

    @property
    def selected(self) -> Card | None:
        return self.card_at(self.cursor) if self.count else None

    def _visible_rows(self) -> tuple[int, int]:
        """The first row on screen and the row after the last (a row of margin)."""
        first = int(self.scroll_offset.y) // ROW_H
        return first, min(self.count, first + max(self.size.height, 1) // ROW_H + 2)

    def visible_pages(self) -> set[int]:
        """The pages holding the rows on screen (and the cursor's)."""
        first, last = self._visible_rows()
        pages = {r // PAGE for r in range(first, max(first + 1, last), PAGE // 2 or 1)}
        pages.add(max(0, last - 1) // PAGE)
        pages.add(self.cursor // PAGE)
        return {p for p in pages if p * PAGE < max(self.count, 1)}

    def forget_far_pages(self) -> None:
        """Keep memory flat while scrolling a huge column: drop pages far from the screen."""
        keep = self.visible_pages()
        self._version += 1
        for p in list(self.pages):
            if all(abs(p - k) > 2 for k in keep):
                del self.pages[p]
        self._reindex()

    def clear_cache(self) -> None:
        self._cache.clear()
        self._styles.clear()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._styles.clear()
        self._cache.clear()

    def _style(self, name: str) -> Style:
        style = self._styles.get(name)
        if style is None:
            style = self._styles[name] = self.get_component_rich_style(name) if name != "base" else self.rich_style
        return style

    # -- drawing ----------------------------------------------------------------------
    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        line = int(self.scroll_offset.y) + y
        row, sub = divmod(line, ROW_H)
        base = self._style("base")
        if row >= self.count:
            if self.count == 0 and line == 0:
                return self._strip(Text(" no cards", style=self._style("card--meta")), width, base)
            return Strip.blank(width, base)
        card = self.card_at(row)
        if card is None:
            page = row // PAGE
            if page not in self._requested:
                self._requested.add(page)
                # Build the message in the callback: made here, its sender would be the screen that
                # is painting, and the message would stop bubbling there before reaching the app.
                self.call_later(self._want, page)
            text = Text(" …" if sub == 0 else "", style=self._style("card--meta"))
            return self._strip(text, width, base)
        selected = row == self.cursor
        focused = self.has_focus
        hot = card.id in self.flash and self.flash[card.id] > time.monotonic()
        marked = card.id in self.marks
        key = (card.id, card.updated_at, card.title, sub, width, selected, focused, hot, marked,
               self._meta_key(card) if sub else None, self.app.theme)
        strip = self._cache.get(key)
        if strip is None:
            text = self._title(card, selected and focused, marked) if sub == 0 else self._meta(card)
            style = base
            if hot:
                style = base + self._style("card--flash")
            if selected:
                style = base + self._style("card--cursor" if focused else "card--cursor-blur")
            strip = self._strip(text, width, style)
            self._cache[key] = strip
        return strip

    def _want(self, page: int) -> None:
        self.post_message(self.WantPages(self, {page}))

    def _strip(self, text: Text, width: int, style: Style) -> Strip:
        text.no_wrap = True
        text.end = ""
        text.truncate(width, overflow="ellipsis", pad=True)
        segments = list(text.render(self.app.console))
        return Strip(segments, width).apply_style(style).crop(0, width)

    def _title(self, card: Card, cursor: bool = False, marked: bool = False) -> Text:
        t = Text()
        t.append("▶" if cursor else " ", self._style("card--id"))  # visible without colours too
        t.append(MARK if marked else " ", self._style("card--mark"))
        t.append(literal(card.id), self._style("card--id"))
        if card.priority:
            t.append(f" p{card.priority}", self._style("card--priority"))
        t.append(" ")
        t.append(literal(card.title), self._style("card--title"))
        return t

    def _meta_key(self, card: Card) -> tuple:
        """What the state line shows, cheaply (the strip cache's key; the Text is made only on a miss)."""
        status = card.status
        unlocks = self.unlocks.get(card.id)
        tags = self.tags.get(card.id)
        if status == "ready":
            return (status, card.unmet_deps, tuple(self.waits.get(card.id, ())), unlocks, card.phase, tags)
        if status == "claimed":
            now = self.now_fn() if self.now_fn else None
            left = lease_left(card, now) if now else None
            shown = None if left is None else (duration(-left), 0) if left <= 0 else (duration(left), 1)
            return (status, card.claim_owner, shown, unlocks, card.phase, tags)
        if status == "blocked":
            return (status, card.attempts, unlocks, card.phase, tags)
        return (status, card.phase, tags)

    def _lease_line(self, card: Card, owner_max: int | None = None) -> Text:
        """A claim's state line up to its lease: ``    @owner · 12m left`` / ``@owner EXPIRED 3m ago``."""
        t = Text("    ")
        now = self.now_fn() if self.now_fn else None
        left = lease_left(card, now) if now else None
        owner = literal(card.claim_owner) or "?"
        t.append(f"@{owner if owner_max is None else owner[:owner_max]}", self._style("card--owner"))
        if left is None:
            pass
        elif left <= 0:
            t.append(f" EXPIRED {duration(-left)} ago", self._style("card--expired"))
        else:
            t.append(f" · {duration(left)} left", self._style("card--meta"))
        return t

    def _meta(self, card: Card) -> Text:
        t = Text("    ")
        labels_reason = self.tags.get(card.id) or ((), None)
        dim = self._style("card--meta")
        if card.status == "ready":
            waits = self.waits.get(card.id)
            if card.unmet_deps > 0 or waits:
                on = ", ".join(literal(w) for w in waits) if waits else f"{card.unmet_deps} unfinished"
                t.append(f"⧗ waits on {on}", self._style("card--waiting"))
            else:
                t.append("claimable", dim)
        elif card.status == "claimed":
            t = self._lease_line(card)
        elif card.status == "blocked":
            reason = labels_reason[1]
            if reason:  # the first line of its latest block reason (`b` with a reason, `block --reason`)
                t.append(f"blocked: {literal(reason)}", self._style("card--reason"))
            else:
                t.append(f"blocked · {card.attempts} attempt{'s' if card.attempts != 1 else ''}", dim)
        else:
            t.append("done", dim)
        unlocks = self.unlocks.get(card.id) if card.status != "done" else None
        if unlocks:
            t.append(" · ", dim)
            t.append(f"unlocks {unlocks:,}", self._style("card--unlocks"))
        if card.phase:
            t.append(f" · {literal(card.phase)}", dim)
        if labels_reason[0]:
            t.append(" " + " ".join(f"#{name}" for name in labels_reason[0]), self._style("card--labels"))
        return t

    # -- cursor -----------------------------------------------------------------------
    def watch_cursor(self, old: int, new: int) -> None:
        self.refresh_lines(old * ROW_H, ROW_H)
        self.refresh_lines(new * ROW_H, ROW_H)
        self.scroll_to_region(Region(0, new * ROW_H, 1, ROW_H), animate=False, force=True)
        self.post_message(self.Selected(self, self.selected, by_user=True))

    def _move(self, delta: int) -> None:
        if self.count:
            self.cursor = max(0, min(self.count - 1, self.cursor + delta))

    def action_cursor_up(self) -> None:
        self._move(-1)

    def action_cursor_down(self) -> None:
        self._move(1)

    def action_page_up(self) -> None:
        self._move(-max(1, self.size.height // ROW_H - 1))

    def action_page_down(self) -> None:
        self._move(max(1, self.size.height // ROW_H - 1))

    def action_first(self) -> None:
        self._move(-self.count)

    def action_last(self) -> None:
        self._move(self.count)

    def on_click(self, event) -> None:
        offset = event.get_content_offset(self)
        if offset is not None and self.count:
            self.cursor = min(self.count - 1, (offset.y + int(self.scroll_offset.y)) // ROW_H)

    def on_focus(self) -> None:
        self.refresh_lines(self.cursor * ROW_H, ROW_H)
        self.post_message(self.Selected(self, self.selected, by_user=True))

    def on_blur(self) -> None:
        self.refresh_lines(self.cursor * ROW_H, ROW_H)

    def on_resize(self) -> None:
        self.virtual_size = Size(self.size.width, self.count * ROW_H)  # a resize lays out anyway
        self._cache.clear()


__all__ = ["PAGE", "ROW_H", "STRIP", "CardColumn"]
