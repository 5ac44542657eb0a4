"""The activity timeline (``t``): the newest events first, live, one line each, coloured by kind.

``12:03:04  agent-3    claimed    M1-05   Atomic claim on SQLite (p45)``

It opens on the newest ``KEEP`` events of the log (:func:`mosaic_tui.repository.watch.activity.recent`),
then hears the refresher's notices: each brings the events of one look
(every writer's, this board's and other programs'), already paced by the
feed, so a busy fleet costs one prepend per look, never a read per event.
Titles of cards it has not seen yet are looked up in a worker, in one batch.
The list keeps the newest ``KEEP`` lines and draws only the visible ones
(the Line API). While you read older lines (the cursor is not on the first
line) new ones arrive above without moving what you read.

Keys: ``o`` only the selected line's agent, ``c`` only its card, ``x`` everyone
again, ``H`` heartbeats shown or hidden (hidden at first: they are most of a
busy fleet's events), ``escape`` (or ``t``) back. Times are UTC.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.geometry import Size
from textual.reactive import reactive
from textual.screen import Screen
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widgets import Footer, Static

from mosaic_tui.repository.watch.activity import Activity, note_texts, recent, titles
from mosaic_tui.board.jobs import Job
from mosaic_tui.board.draw.text import first_line, literal

KEEP = 1000
KIND_STYLE = {
    "created": "dodger_blue2", "claimed": "yellow", "heartbeat": "grey50", "released": "magenta",
    "blocked": "bold red", "unblocked": "cyan", "completed": "bold green", "reopened": "cyan",
    "linked": "grey70", "unlinked": "grey70", "edited": "grey70", "deleted": "red",
    "noted": "bold cyan", "labeled": "grey70", "unlabeled": "grey70",
}
OWNER_W, KIND_W, ID_W = 12, 10, 8


@dataclass(frozen=True)
class Filter:
    owner: str | None = None
    card: str | None = None
    heartbeats: bool = False

    def admits(self, ev) -> bool:
        return ((self.owner is None or ev.owner == self.owner) and (self.card is None or ev.card_id == self.card)
                and (self.heartbeats or ev.kind != "heartbeat"))


def _fit(s: str, n: int) -> str:
    return (s if len(s) <= n else s[: n - 1] + "…").ljust(n)


def line(a: Activity) -> Text:
    """One event as a line of the timeline."""
    ev = a.event
    t = Text(f"{ev.at:%H:%M:%S}  ", "dim")
    t.append(_fit(literal(ev.owner) or "—", OWNER_W) + " ", "bold" if ev.owner else "dim")
    t.append(_fit(ev.kind, KIND_W) + " ", KIND_STYLE.get(ev.kind, ""))
    t.append(_fit(literal(ev.card_id), ID_W) + " ", "bold")
    if a.note is not None:  # a note or a reason as it is written: its kind, its first line
        kind, text = a.note
        if kind != "note":
            t.append(f"{kind}: ", "bold red" if kind == "block" else "bold")
        t.append(first_line(text) or "", "italic")
    elif a.title is None:
        t.append("…", "dim")  # being looked up
    elif not a.title:
        t.append("(deleted)", "dim")
    else:
        t.append(literal(a.title))
        if a.priority:
            t.append(f" (p{a.priority})", "dim")
    return t


class EventList(ScrollView, can_focus=True):
    """The lines, newest first; a cursor; only the visible lines are drawn."""

    BINDINGS = [
        Binding("up,k", "move(-1)", "Up", show=False), Binding("down,j", "move(1)", "Down", show=False),
        Binding("pageup", "page(-1)", show=False), Binding("pagedown", "page(1)", show=False),
        Binding("home", "move(-1000000)", show=False), Binding("end", "move(1000000)", show=False),
    ]
    DEFAULT_CSS = "EventList { height: 1fr; scrollbar-size-vertical: 1; }"
    cursor = reactive(0, always_update=True)

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.lines: list[Activity] = []
        self._texts: dict[int, list[Segment]] = {}  # event id -> its segments (titles fixed once known)

    def set_lines(self, lines: list[Activity]) -> None:
        self.lines = lines[:KEEP]
        self._texts.clear()
        self.cursor = 0
        self.virtual_size = Size(self.size.width, len(self.lines))
        self.scroll_to(y=0, animate=False)
        self.refresh()

    def prepend(self, new: list[Activity]) -> None:
        """Newer lines on top; the reader's line stays where it is unless they are at the top."""
        if not new:
            return
        reading = self.cursor > 0
        self.lines = (new + self.lines)[:KEEP]
        self.virtual_size = Size(self.size.width, len(self.lines))
        if reading:
            self.cursor = min(self.cursor + len(new), len(self.lines) - 1)
            self.scroll_to(y=self.scroll_offset.y + len(new), animate=False)
        self.refresh()

    def renote(self, found: dict[int, tuple[str, str]]) -> None:
        """The texts of ``noted`` events, once read."""
        changed = False
        for i, a in enumerate(self.lines):
            if a.event.id in found and a.note is None:
                self.lines[i] = Activity(a.event, a.title, a.priority, found[a.event.id])
                self._texts.pop(a.event.id, None)
                changed = True
        if changed:
            self.refresh()

    def retitle(self, known: dict[str, tuple[str, int]]) -> None:
        changed = False
        for i, a in enumerate(self.lines):
            if a.title is None and a.event.card_id in known:
                title, priority = known[a.event.card_id]
                self.lines[i] = Activity(a.event, title, priority, a.note)
                self._texts.pop(a.event.id, None)
                changed = True
        if changed:
            self.refresh()

    @property
    def selected(self) -> Activity | None:
        return self.lines[self.cursor] if 0 <= self.cursor < len(self.lines) else None

    def render_line(self, y: int) -> Strip:
        index = self.scroll_offset.y + y
        width = self.scrollable_content_region.width
        if index >= len(self.lines):
            return Strip.blank(width)
        a = self.lines[index]
        segments = self._texts.get(a.event.id)
        if segments is None:
            segments = list(line(a).render(self.app.console, end=""))
            self._texts[a.event.id] = segments
            if len(self._texts) > 2 * KEEP:
                self._texts.clear()
        strip = Strip(segments).crop_extend(0, width, None)
        if index == self.cursor and self.has_focus:
            strip = strip.apply_style(Style(reverse=True))
        return strip

    def watch_cursor(self, _old: int, new: int) -> None:
        top, height = self.scroll_offset.y, self.scrollable_content_region.height
        if new < top:
            self.scroll_to(y=new, animate=False)
        elif height and new >= top + height:
            self.scroll_to(y=new - height + 1, animate=False)
        self.refresh()

    def action_move(self, by: int) -> None:
        if self.lines:
            self.cursor = max(0, min(len(self.lines) - 1, self.cursor + by))

    def action_page(self, by: int) -> None:
        self.action_move(by * max(1, self.scrollable_content_region.height - 1))

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()


class TimelineScreen(Screen):
    """Every event, newest first, live; filter to one agent or one card."""

    BINDINGS = [
        Binding("o", "only_agent", "This agent"),
        Binding("c", "only_card", "This card"),
        Binding("x", "everyone", "Everything"),
        Binding("H", "heartbeats", "Heartbeats"),
        Binding("escape,t", "close", "Back"),
    ]
    DEFAULT_CSS = "TimelineScreen #timeline-title { height: 1; background: $primary-background; padding: 0 1; }"

    def __init__(self, backlog, *, notices=None, owner: str | None = None, card: str | None = None) -> None:
        super().__init__()
        self.backlog = backlog
        self.notices = notices
        self.filter = Filter(owner, card)
        self.known: dict[str, tuple[str, int]] = {}  # card id -> (title, priority)
        self._pending: set[str] = set()  # ids whose titles are being looked up
        self.loaded = False
        # Reads in workers; a failure goes to the board's one error path.
        self._job = Job(self, self._read, lambda found: self._loaded(*found), group="timeline")
        self._titles_job = Job(self, self._read_titles, lambda found: self._titled(*found),
                               merge=lambda old, new: sorted(set(old) | set(new)), group="timeline-titles")
        self._notes_job = Job(self, lambda evs: note_texts(self.backlog, evs), self._noted,
                              merge=lambda old, new: old + new, group="timeline-notes")

    def compose(self) -> ComposeResult:
        yield Static(id="timeline-title")
        yield EventList(id="events")
        yield Footer()

    def on_mount(self) -> None:
        self._title()
        if self.notices is not None:
            self.notices.subscribe(self, self.changed)
        self.query_one(EventList).focus()
        self.reload()

    @property
    def events(self) -> EventList:
        return self.query_one(EventList)

    def _title(self) -> None:
        f = self.filter
        t = Text(" activity", "bold")
        t.append("  newest first  ")
        if f.owner is not None:
            t.append("agent ")
            t.append(literal(f.owner), "bold reverse")
        elif f.card is not None:
            t.append("card ")
            t.append(literal(f.card), "bold reverse")
        else:
            t.append("everyone", "bold")
        t.append(f"  · heartbeats {'shown' if f.heartbeats else 'hidden'} · UTC", "dim")
        self.query_one("#timeline-title", Static).update(t)

    # -- reading ------------------------------------------------------------------
    def reload(self) -> None:
        self._job.ask(self.filter)

    def _read(self, f: Filter) -> tuple[Filter, list[Activity]]:
        """In the worker."""
        return f, recent(self.backlog, limit=KEEP, owner=f.owner, card=f.card, heartbeats=f.heartbeats)

    def _loaded(self, f: Filter, found: list[Activity]) -> None:
        if f != self.filter or not self.is_attached:
            return  # overtaken by another filter
        for a in found:
            self.known[a.event.card_id] = (a.title or "", a.priority or 0)
        self.events.set_lines(found)
        self.loaded = True

    def changed(self, changes) -> None:
        """A notice: prepend its events that pass the filter (they come oldest first)."""
        if not self.is_attached:
            return  # closed meanwhile
        if getattr(changes, "reload", False) and not getattr(changes, "events", ()):
            self.reload()
            return
        self.add(getattr(changes, "events", ()))

    def add(self, events: Iterable) -> None:
        if not self.loaded:
            return  # the first read will include them
        shown = {a.event.id for a in self.events.lines[:64]}
        new = []
        for ev in events:
            if self.filter.admits(ev) and ev.id not in shown:
                title, priority = self.known.get(ev.card_id, (None, None))
                new.append(Activity(ev, title, priority))
        new.sort(key=lambda a: a.event.id, reverse=True)
        self.events.prepend(new)
        noted = [a.event for a in new if a.event.kind == "noted"]
        if noted:
            self._notes_job.ask(noted)
        missing = {a.event.card_id for a in new if a.title is None} - self._pending
        if missing:
            self._pending |= missing
            self._titles_job.ask(sorted(missing))

    def _noted(self, found: dict[int, tuple[str, str]]) -> None:
        if self.is_attached:
            self.events.renote(found)

    def _read_titles(self, ids: list[str]) -> tuple[list[str], dict[str, tuple[str, int]]]:
        """In the worker."""
        return ids, titles(self.backlog, ids)

    def _titled(self, ids: list[str], found: dict[str, tuple[str, int]]) -> None:
        if not self.is_attached:
            return
        self._pending -= set(ids)
        found = {i: found.get(i, ("", 0)) for i in ids}  # not found: deleted since
        self.known.update(found)
        self.events.retitle(found)

    # -- keys ---------------------------------------------------------------------
    def _refilter(self, f: Filter) -> None:
        if f != self.filter:
            self.filter = f
            self.loaded = False
            self._title()
            self.reload()

    def action_only_agent(self) -> None:
        a = self.events.selected
        if a is None or not a.event.owner:
            self.app.notify("this event has no agent", timeout=2)
            return
        self._refilter(Filter(a.event.owner, None, self.filter.heartbeats))

    def action_only_card(self) -> None:
        a = self.events.selected
        if a is not None:
            self._refilter(Filter(None, a.event.card_id, self.filter.heartbeats))

    def action_everyone(self) -> None:
        self._refilter(Filter(None, None, self.filter.heartbeats))

    def action_heartbeats(self) -> None:
        f = self.filter
        self._refilter(Filter(f.owner, f.card, not f.heartbeats))

    def action_close(self) -> None:
        self.dismiss()
