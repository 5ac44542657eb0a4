"""The board app: four columns, the graph pane, the stats footer, and every action.

Database work runs in thread workers that post typed messages back; the
interface thread only draws. Refresh is incremental and lives in one place,
:meth:`BoardApp.check_for_changes`: it reads the events written since the last
one seen, re-reads only the cards they name, and redraws only their rows
(columns whose order changed reload only their visible pages, and redraw only
the rows that differ). The change feed (LISTEN/NOTIFY on Postgres, PRAGMA
data_version on SQLite) calls it the moment another program commits; a slow
timer is the backstop. Counts move by the events' status deltas at once and
are re-counted exactly (with the stats) at most every few seconds, so a single
change elsewhere costs the board a few rows of work, whatever the backlog's size.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import App, ComposeResult, ScreenStackError, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Input, Static

from mosaic_tui.board.columns import PAGE, CardColumn
from mosaic_tui.board.graph import layered, neighbourhood
from mosaic_tui.board.messages import Call
from mosaic_tui.board.text import duration, literal
from mosaic_tui.errors import MosaicError, Unavailable

STATUSES = ("ready", "claimed", "blocked", "done")
POLL_S = 0.5  # the backstop timer when there is no feed; with a feed, FEED_BACKSTOP_S
FEED_BACKSTOP_S = 2.0
RESYNC_S = 5.0  # exact counts and stats, at most this often while changes come in...
RESYNC_BUSY_S = 20.0  # ...or this often while the fleet is busy
RECENT_S = 60.0  # the last hour's claims and completions are re-counted this often (they move with events meanwhile)
FLASH_S = 1.5  # how long a card that just changed stays highlighted
FLASH_MAX = 24  # a look that changed more cards than this highlights none: when everything moves, nothing stands out
MAX_INCREMENTAL = 5000  # more events than this since the last check: reload everything shown
MIN_CHECK_INTERVAL_S = 0.1  # the feed wakes the board at most ten times a second...
CPU_BUDGET = 0.05  # ...and, under a busy fleet, only as often as a twentieth of one core allows (see _pace)
MAX_CHECK_INTERVAL_S = 2.0  # however costly the looks, at least one every two seconds
GRAPH_LIMIT = 2000


def utcnow() -> datetime:
    return datetime.now(UTC)


def guarded(fn):
    """A worker that reports any unexpected failure as one line instead of ending the app with a traceback."""

    @functools.wraps(fn)
    def run(self, *args, **kwargs):
        try:
            return fn(self, *args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - the board must survive anything a worker meets
            app = self if isinstance(self, App) else self.app
            detail = " ".join(str(exc).split())[:300]
            url = getattr(getattr(getattr(app, "backlog", None), "db", None), "target", None)
            if url is not None:
                from mosaic_tui.db.url import scrub

                detail = scrub(detail, url.url)
            app.post_message(ActionRefused(f"unexpected error: {type(exc).__name__}: {detail}"))
            return None

    return run


# --------------------------------------------------------------------------- messages
class Loaded(Message):
    def __init__(self, generation: int, columns: dict[str, tuple[int, dict, dict, int]], stats: dict | None, full: bool, last_event: int | None) -> None:
        super().__init__()
        self.generation = generation
        self.columns = columns
        self.stats = stats
        self.full = full
        self.last_event = last_event


class Looked(Message):
    """What one look found: events, fresh visible pages of the columns they reorder, other changed cards."""

    def __init__(self, generation: int, events: list, *, overflow: bool = False,
                 columns: dict[str, tuple[int | None, dict, int]] | None = None,
                 cards: dict | None = None, waits: dict | None = None) -> None:
        super().__init__()
        self.generation = generation
        self.events = events
        self.overflow = overflow
        self.columns = columns or {}
        self.cards = cards or {}
        self.waits = waits or {}


EDGE_KINDS = frozenset({"linked", "unlinked", "edited", "created", "deleted"})


def reorders(events) -> set[str]:
    """The columns whose content or order the events change: they reload their visible pages."""
    out: set[str] = set()
    for ev in events:
        if ev.old_status != ev.new_status:
            out.update(st for st in (ev.old_status, ev.new_status) if st in STATUSES)
            if "done" in (ev.old_status, ev.new_status):
                out.add("ready")  # waiting marks follow their dependencies
        elif ev.kind in ("edited", "created") and ev.new_status in STATUSES:
            out.add(ev.new_status)  # a new priority may move it
    return out


class GraphLoaded(Message):
    def __init__(self, card_id: str, text: Text, ids: frozenset[str] = frozenset()) -> None:
        super().__init__()
        self.card_id = card_id
        self.text = text
        self.ids = ids


class Disconnected(Message):
    def __init__(self, reason: str) -> None:
        super().__init__()
        self.reason = reason


class Reconnected(Message):
    pass


class FeedStatus(Message):
    def __init__(self, status: str) -> None:
        super().__init__()
        self.status = status


class ActionDone(Message):
    def __init__(self, note: str, card_ids: Iterable[str], own_upto: int | None, focus: str | None = None) -> None:
        super().__init__()
        self.note = note
        self.card_ids = list(card_ids)
        self.own_upto = own_upto
        self.focus = focus


class ActionRefused(Message):
    def __init__(self, reason: str) -> None:
        super().__init__()
        self.reason = reason


KIND_WORDS = {
    "claimed": "claimed", "completed": "completed", "blocked": "blocked", "unblocked": "unblocked",
    "reopened": "reopened", "released": "released", "reclaimed": "reclaimed", "edited": "edited",
    "deleted": "deleted", "created": "created",
}


class BoardApp(App[int]):
    """The kanban board over one backlog."""

    TITLE = "mosaic board"
    CSS = """
    Screen { layout: vertical; }
    #topbar { height: 1; background: $primary-background; color: $text; }
    #topbar.disconnected { background: $error; color: $text; text-style: bold; }
    #main { height: 1fr; }
    #columns { width: 7fr; height: 1fr; }
    #graphpane { width: 3fr; height: 1fr; border: round $panel-lighten-2; border-title-style: bold; overflow-x: hidden; scrollbar-size-vertical: 1; }
    #graph { width: 1fr; text-wrap: nowrap; text-overflow: ellipsis; }
    Screen.narrow #graphpane { display: none; }
    #stats { height: 1; background: $boost; color: $text-muted; padding: 0 1; }
    #filter { dock: bottom; display: none; }
    #filter.shown { display: block; }
    """

    BINDINGS = [
        Binding("left,h", "column(-1)", "Column ←", show=False),
        Binding("right,l", "column(1)", "Column →", show=False),
        Binding("enter", "detail", "Detail"),
        Binding("b", "block", "Block"),
        Binding("u", "unblock", "Unblock"),
        Binding("c", "complete", "Complete"),
        Binding("o", "reopen", "Reopen"),
        Binding("r", "release", "Release"),
        Binding("n", "new", "New"),
        Binding("e", "edit", "Edit"),
        Binding("d", "link", "Dep+"),
        Binding("D", "unlink", "Dep−"),
        Binding("slash", "filter", "Filter"),
        Binding("p", "phase", "Phase"),
        Binding("g", "graph", "Graph"),
        Binding("question_mark", "help", "Help"),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(self, backlog, *, phase: str | None = None, clock: Callable[[], datetime] | None = None, poll: float | None = POLL_S) -> None:
        super().__init__()
        self.backlog = backlog
        self.phase = phase
        self.search: str | None = None
        self.clock = clock or utcnow
        self.poll = poll
        self.generation = 0
        self.last_event: int | None = None
        self.disconnected: str | None = None
        self.stats: dict | None = None
        self.graph_for: str | None = None
        self._graph_busy = False
        self._graph_lines = -1
        self._graph_pending: str | None = None
        self._graph_ids: frozenset[str] = frozenset()  # the cards the graph pane shows
        self._last_look_at = 0.0  # when the last look started (monotonic)
        self._last_look_cards = 0  # how many cards the last look found changed (the feed paces by it)
        self._picked: str | None = None  # the card the person put the cursor on; its changes by others are told
        self._own: dict[str, int] = {}
        self._checking = False
        self._recheck = False
        self._pending_focus: str | None = None
        self._painted = False
        self._seq: dict[str, int] = dict.fromkeys(STATUSES, 0)
        self._cursor = None  # the EventCursor after the last full load
        self.feed_status = "polling" if backlog.db.target.backend == "sqlite" else "connecting"
        self._resync_due: float | None = None  # when exact counts/stats are next wanted
        self._recent_due = 0.0  # when the last hour's figures are next re-counted
        self._looks_applied = 0  # looks whose events moved the counts

    BOARD_ACTIONS = frozenset({
        "column", "detail", "block", "unblock", "complete", "reopen", "release", "new", "edit",
        "link", "unlink", "filter", "phase", "graph", "help",
    })

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Card keys act on the board only, never through a dialog or the full-screen graph."""
        if action in self.BOARD_ACTIONS and len(self.screen_stack) > 1:
            return False
        return True

    # -- layout -----------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        # Kept by reference: a query from the app searches the screen on top (maybe a dialog).
        self._columns = {s: CardColumn(s, id=f"col-{s}") for s in STATUSES}
        self._topbar = Static(id="topbar")
        self._graph = Static(Text("select a card", "dim"), id="graph")
        self._stats = Static(id="stats")
        self._filter = Input(placeholder="filter by text in ids and titles (enter applies, empty clears, escape cancels)", id="filter")
        self._graphpane = VerticalScroll(id="graphpane")
        yield self._topbar
        with Horizontal(id="main"):
            with Horizontal(id="columns"):
                yield from self._columns.values()
            with self._graphpane:
                yield self._graph
        yield self._stats
        yield self._filter
        yield Footer()

    @property
    def columns(self) -> dict[str, CardColumn]:
        return self._columns

    def on_mount(self) -> None:
        self._graphpane.border_title = "dependencies"
        for col in self.columns.values():
            col.now_fn = self.clock
        self._columns["ready"].focus()
        self._apply_width(self.size.width)
        self._draw_topbar()
        self._draw_stats()
        self.full_reload()
        if self.poll:
            self._follow_feed()
            self.set_interval(max(self.poll, FEED_BACKSTOP_S), self._backstop)
            self.set_interval(1.0, self._tick)

    def on_resize(self, event) -> None:
        self._apply_width(event.size.width)

    def _apply_width(self, width: int) -> None:
        self.screen.set_class(width < 110, "narrow")
        if self._painted or self.stats is not None:
            self._draw_stats()

    def _where(self) -> str:
        target = self.backlog.db.target
        if target.backend == "sqlite":
            path = target.path
            return f"sqlite · {path.name if path else ':memory:'}"
        url = target.url
        return f"postgres · {url.host or 'localhost'}/{url.database or ''}"

    def _draw_topbar(self) -> None:
        bar = self._topbar
        t = Text(" mosaic board", "bold")
        t.append(f"  {self._where()}", "dim" if not self.disconnected else "")
        t.append(f"  phase: {literal(self.phase) if self.phase else 'all'}")
        if self.search:
            t.append("  filter: ")
            t.append(f'"{literal(self.search)}"', "bold")
        t.append("  ")
        t.append_text(self._feed_badge())
        if self.disconnected:
            t.append("   ⚠ DISCONNECTED — retrying: ", "bold")
            t.append(literal(self.disconnected))
        bar.set_class(bool(self.disconnected), "disconnected")
        bar.update(t, layout=False)  # one line, always

    def _feed_badge(self) -> Text:
        if self.poll is None:
            return Text("")
        return {
            "live": Text("● live", "bold green"),
            "polling": Text("◌ polling", "yellow"),
            "connecting": Text("◌ connecting", "dim"),
        }.get(self.feed_status, Text("✕ feed lost", "bold red"))

    def _draw_stats(self) -> None:
        s = self.stats
        t = Text()
        if s is None:
            t.append("loading…")
        elif self.size.width < 130:
            c = s["counts"]
            exp = s["expiredClaimCount"]
            age = s["oldestReadyAgeSeconds"]
            t.append(f"R{c['ready']:,} C{c['claimed']:,} B{c['blocked']:,} D{c['done']:,}")
            t.append(f" · claimable {s['claimable']:,}")
            t.append(f" · expired {exp:,}", "bold red" if exp else "")
            t.append(f" · oldest {duration(age) if age is not None else '—'}")
            t.append(f" · 1h: {s.get('claimsLastHour', 0):,}↑ {s.get('completionsLastHour', 0):,}✓")
        else:
            c = s["counts"]
            t.append("backlog ", "bold")
            t.append(f"ready {c['ready']:,} · claimed {c['claimed']:,} · blocked {c['blocked']:,} · done {c['done']:,}")
            t.append(f"  │ claimable {s['claimable']:,}")
            exp = s["expiredClaimCount"]
            t.append(f" · expired leases {exp:,}", "bold red" if exp else "")
            age = s["oldestReadyAgeSeconds"]
            t.append(f" · oldest ready {duration(age) if age is not None else '—'}")
            t.append(f"  │ last hour: {s.get('claimsLastHour', 0):,} claims, {s.get('completionsLastHour', 0):,} completions")
        self._stats.update(t, layout=False)  # one line, always

    # -- loading ----------------------------------------------------------------------
    def full_reload(self) -> None:
        """Counts, visible pages and stats of every column, from scratch (filters changed, too many events)."""
        self.generation += 1
        spec = {s: {0} | col.visible_pages() for s, col in self.columns.items()}
        self._load(self.generation, spec, full=True, with_stats=True, mark_events=True)

    def _waits(self, cards: list) -> dict[str, list[str]]:
        """For each waiting ready card, the dependencies that are not done (missing ones included)."""
        waiting = [c for c in cards if c.status == "ready" and c.unmet_deps > 0]
        if not waiting:
            return {}
        deps = self.backlog.get_many({d for c in waiting for d in c.depends_on})
        return {c.id: [d for d in c.depends_on if d not in deps or deps[d].status != "done"] for c in waiting}

    @work(thread=True, group="load")
    @guarded
    def _load(self, generation: int, spec: dict[str, set[int]], *, full: bool, with_stats: bool, mark_events: bool) -> None:
        b = self.backlog
        try:
            last = b.last_event_id() if mark_events else None
            out = {}
            for status, pages in spec.items():
                seq = self._seq[status] = self._seq[status] + 1
                count = b.count(status=status, phase=self.phase, search=self.search)
                got = {}
                waits: dict[str, list[str]] = {}
                for p in sorted(pages):
                    if p * PAGE >= max(count, 1):
                        continue
                    cards = b.list(status=status, phase=self.phase, search=self.search, limit=PAGE, offset=p * PAGE)
                    got[p] = cards
                    waits.update(self._waits(cards))
                out[status] = (count, got, waits, seq)
            stats = b.stats() if with_stats else None
        except Unavailable as exc:
            self.post_message(Disconnected(str(exc)))
            return
        except MosaicError as exc:
            self.post_message(ActionRefused(str(exc)))
            return
        self.post_message(Loaded(generation, out, stats, full, last))

    @on(Loaded)
    def _loaded(self, msg: Loaded) -> None:
        if msg.generation != self.generation:
            return
        cols = self.columns
        for status, (count, pages, waits, seq) in msg.columns.items():
            col = cols[status]
            if seq < col.applied_seq and not msg.full:
                col.fill_pages(pages, waits)  # a newer count is shown already: only add pages it lacks
                continue
            col.applied_seq = seq
            col.set_data(count, pages, waits, msg.generation, full=msg.full)
        if msg.last_event is not None:
            self.last_event = msg.last_event if self.last_event is None else max(self.last_event, msg.last_event) if not msg.full else msg.last_event
            if msg.full:
                self._cursor = self.backlog.cursor(after=self.last_event)
        if msg.stats is not None:
            self.stats = msg.stats
            self._draw_stats()
        if self._pending_focus is not None:
            for col in cols.values():
                found = col.find(self._pending_focus)
                if found is not None:
                    self._pending_focus = None
                    col.focus()
                    col.cursor = found[0]
                    break
        if msg.full and not self._painted:
            self._painted = True
            self.call_after_refresh(self._first_paint)
        self._follow_selection()

    def _first_paint(self) -> None:
        out = os.environ.get("MOSAIC_BOARD_PAINTED")
        if out:  # the benchmark's probe: note the time of the first full paint, then leave
            with open(out, "w") as fh:
                fh.write(repr(time.time()))
            self.exit(0)

    @on(CardColumn.WantPages)
    def _want_pages(self, msg: CardColumn.WantPages) -> None:
        msg.column.forget_far_pages()
        self._load(self.generation, {msg.column.status: msg.pages | msg.column.visible_pages()}, full=False, with_stats=False, mark_events=False)

    # -- the incremental refresh (the one place that checks for changes) --------------
    def check_for_changes(self) -> None:
        """Look for changes made by anyone since the last event seen; a change feed may call this instead of the timer."""
        if self.last_event is None and not self.disconnected:
            return
        if self._checking:
            self._recheck = True  # look again as soon as the running check is done
            return
        self._checking = True
        self._recheck = False
        self._last_look_at = time.monotonic()
        visible = {s: col.visible_pages() or {0} for s, col in self.columns.items()}
        self._look(self.generation, self.last_event, visible, self.phase is None and not self.search)

    def _check_done(self) -> None:
        self._checking = False
        if self._recheck:
            self._recheck = False
            self.check_for_changes()

    @work(thread=True, group="changes")
    @guarded
    def _look(self, generation: int, since: int | None, visible: dict[str, set[int]], unfiltered: bool) -> None:
        try:
            self._look_now(generation, since, visible, unfiltered)
        finally:
            self.post_message(Call(self._check_done))

    def _look_now(self, generation: int, since: int | None, visible: dict[str, set[int]], unfiltered: bool) -> None:
        """One look, one worker, one message: the events, the visible pages of the columns they
        reorder, and the other changed cards this board holds, read in one go."""
        b = self.backlog
        try:
            if since is None:
                raise Unavailable("not loaded yet")
            if self._cursor is None:
                self._cursor = b.cursor(after=since)
            events = self._cursor.fetch(limit=MAX_INCREMENTAL + 1)
            if len(events) > MAX_INCREMENTAL:
                self.post_message(Looked(generation, events, overflow=True))
                return
            columns: dict[str, tuple[int | None, dict, int]] = {}
            waits: dict[str, list[str]] = {}
            fresh: set[str] = set()
            for status in sorted(reorders(events)):
                seq = self._seq[status] = self._seq[status] + 1
                count = None if unfiltered else b.count(status=status, phase=self.phase, search=self.search)
                got = {}
                for p in sorted(visible[status]):
                    if count is not None and p * PAGE >= max(count, 1):
                        continue
                    cards = b.list(status=status, phase=self.phase, search=self.search, limit=PAGE, offset=p * PAGE)
                    got[p] = cards
                    fresh.update(c.id for c in cards)
                    waits.update(self._waits(cards))
                columns[status] = (count, got, seq)
            # changed cards not re-read with a page: only those this board holds need reading
            held = [col.index for col in self.columns.values()]
            want = {e.card_id for e in events} - fresh
            want = {cid for cid in want if any(cid in index for index in held)}
            cards = b.get_many(want) if want else {}
            waits.update(self._waits(list(cards.values())))
        except Unavailable as exc:
            self.post_message(Disconnected(str(exc)))
            return
        self._last_look_cards = len({e.card_id for e in events})  # read by the feed thread to pace itself
        if self.disconnected:
            self.post_message(Reconnected())
        if events:
            self.post_message(Looked(generation, events, columns=columns, cards=cards, waits=waits))

    @on(Looked)
    def _looked(self, msg: Looked) -> None:
        if msg.generation != self.generation:
            return  # a full reload started since: it shows all of this
        if msg.overflow:
            self.notify(f"more than {MAX_INCREMENTAL} changes since the last look: reloaded", timeout=3)
            self.full_reload()
            return
        self.last_event = max(self.last_event or 0, max(e.id for e in msg.events))
        self._looks_applied += 1
        cols = self.columns
        deltas: dict[str, int] = dict.fromkeys(STATUSES, 0)
        last_status: dict[str, str | None] = {}
        for ev in msg.events:
            last_status[ev.card_id] = ev.new_status
            if ev.old_status != ev.new_status:
                if ev.old_status in deltas:
                    deltas[ev.old_status] -= 1
                if ev.new_status in deltas:
                    deltas[ev.new_status] += 1
            if self.stats is not None and ev.kind in ("claimed", "completed"):
                key = "claimsLastHour" if ev.kind == "claimed" else "completionsLastHour"
                self.stats[key] = self.stats.get(key, 0) + 1
            ours = ev.card_id in self._own and ev.id <= self._own[ev.card_id]
            if not ours and ev.kind != "heartbeat" and ev.card_id == self._picked:
                word = KIND_WORDS.get(ev.kind, ev.kind)
                who = literal(ev.owner) if ev.owner and ev.kind == "claimed" else "another program"
                self.notify(f"{literal(ev.card_id)} was {word} by {who}", severity="warning", markup=False, timeout=6)
        for status, (count, pages, seq) in msg.columns.items():
            col = cols[status]
            if seq < col.applied_seq:
                col.fill_pages(pages, msg.waits)  # a newer load is shown already: only add pages it lacks
                continue
            col.applied_seq = seq
            if count is None:  # the count moves by the events' deltas now; an exact recount follows (_resync)
                count = max(0, col.count + deltas[status])
            col.set_data(count, pages, msg.waits, self.generation, full=False)
        for card in msg.cards.values():
            for col in cols.values():
                if card.id in col.index and col.status == card.status and col.status not in msg.columns:
                    col.replace_card(card, msg.waits.get(card.id))
        if len(last_status) <= FLASH_MAX:
            for card_id, status in last_status.items():
                for col in cols.values():
                    if card_id in col.index or col.status == status:
                        col.flash_card(card_id, FLASH_S)
        if self.stats is not None and self.phase is None and not self.search and any(deltas.values()):
            for s, d in deltas.items():
                self.stats["counts"][s] = max(0, self.stats["counts"][s] + d)
            self.stats["total"] = sum(self.stats["counts"].values())
        if self.stats is not None:
            self._draw_stats()
        self._want_resync()
        now_selected = self.selected_card()
        if self._picked is not None and (now_selected is None or now_selected.id != self._picked):
            self._picked = None  # it moved away from the cursor: said once, not again for the card now there
        if self.graph_for is not None and (
            not self._graph_ids.isdisjoint(last_status) or any(e.kind in EDGE_KINDS for e in msg.events)
        ):
            self._follow_selection(force=True)  # the graph shown holds a card that changed, or edges changed

    def _want_resync(self) -> None:
        """Ask for exact counts and stats soon, but not more than once per RESYNC_S."""
        if self._resync_due is None:
            # under a busy fleet the counts move by the events' exact deltas; the stats (a few scans
            # of the table, on the database's CPU) are re-read less often
            wait = RESYNC_BUSY_S if self._last_look_cards > FLASH_MAX else RESYNC_S
            self._resync_due = time.monotonic() + wait
            self.set_timer(wait, self._resync)

    def _resync(self) -> None:
        """Exact counts and stats, in one read. The last hour's figures (a scan of the hour's events)
        only every RECENT_S; meanwhile they move with the events seen."""
        self._resync_due = None
        recent = time.monotonic() >= self._recent_due
        if recent:
            self._recent_due = time.monotonic() + RECENT_S
        self._reload_stats(self._looks_applied, recent)

    # -- the change feed -------------------------------------------------------------------
    def _follow_feed(self) -> None:
        """Wake the refresh the moment another program commits.

        A daemon thread of its own rather than a Textual worker: it lives as
        long as the board, and awaiting the workers (tests, actions) must not
        wait for it. It holds no lock and no open transaction between waits.
        """
        import threading

        self._feed_stop = threading.Event()
        threading.Thread(target=self._feed_loop, args=(self._feed_stop,), name="mosaic-feed", daemon=True).start()

    def _feed_loop(self, stop) -> None:
        try:
            feed = self.backlog.feed()
        except Exception:  # noqa: BLE001 - no feed: the backstop timer still refreshes
            self.post_message(FeedStatus("lost"))
            return
        status = None
        try:
            while not stop.is_set():
                feed.busy = self._last_look_cards > FLASH_MAX  # looks paced by CPU: no signal per change needed
                changed = feed.wait(0.25)
                if feed.status != status:
                    status = feed.status
                    self.post_message(FeedStatus(status))
                if changed:
                    self.post_message(Call(self.check_for_changes))
                    self._pace(stop)
        except Exception:  # noqa: BLE001 - never a traceback from the feed; the timer stays
            self.post_message(FeedStatus("lost"))
        finally:
            feed.close()

    def _pace(self, stop) -> None:
        """After a wake, wait before the next one: a busy fleet notifies hundreds of times a second.

        At least MIN_CHECK_INTERVAL_S. Then, if the last look was a busy one
        (more than FLASH_MAX cards changed), as long as it takes for the CPU
        this process spent since the wake (the look, the redraw, everything)
        to be at most CPU_BUDGET of the time passed, but never more than
        MAX_CHECK_INTERVAL_S. A quiet fleet's change is shown at once; a busy
        fleet is looked at as often as the budget allows, so an open board
        costs the fleet about a tenth of a core at most. What arrives
        meanwhile is taken at the next look.
        """
        t0, c0 = time.monotonic(), time.process_time()
        stop.wait(MIN_CHECK_INTERVAL_S)
        while not stop.is_set() and self._last_look_cards > FLASH_MAX:
            spent, elapsed = time.process_time() - c0, time.monotonic() - t0
            if spent <= CPU_BUDGET * elapsed or elapsed >= MAX_CHECK_INTERVAL_S:
                return
            stop.wait(min(spent / CPU_BUDGET, MAX_CHECK_INTERVAL_S) - elapsed + 0.001)

    def on_unmount(self) -> None:
        stop = getattr(self, "_feed_stop", None)
        if stop is not None:
            stop.set()

    @on(FeedStatus)
    def _feed_status(self, msg: FeedStatus) -> None:
        if msg.status != self.feed_status:
            self.feed_status = msg.status
            self._draw_topbar()

    @work(thread=True, group="stats", exclusive=True)
    @guarded
    def _reload_stats(self, looks: int | None = None, recent: bool = True) -> None:
        try:
            stats = self.backlog.stats(recent=recent)
        except Unavailable as exc:
            self.post_message(Disconnected(str(exc)))
            return
        self.post_message(Call(self._set_stats, stats, looks))

    def _set_stats(self, stats: dict, looks: int | None = None) -> None:
        """Show fresh stats; with ``looks`` (the looks applied when they were asked for), the column
        counts take them too, unless a look has moved the counts since (then they are newer)."""
        old = self.stats or {}
        for key in ("claimsLastHour", "completionsLastHour"):
            if key not in stats:
                stats[key] = old.get(key, 0)
        self.stats = stats
        if looks is not None and self.phase is None and not self.search:
            if looks == self._looks_applied:
                for status, col in self.columns.items():
                    col.set_count(stats["counts"][status])
            else:  # the columns' counts are newer: the footer says the same as the columns
                stats["counts"] = {status: col.count for status, col in self.columns.items()}
                stats["total"] = sum(stats["counts"].values())
        self._draw_stats()

    @on(Call)
    def _call(self, msg: Call) -> None:
        msg.run()

    @on(Disconnected)
    def _disconnected(self, msg: Disconnected) -> None:
        first = not self.disconnected
        self.disconnected = msg.reason
        self._draw_topbar()
        if first:
            self.notify(msg.reason, title="database unreachable", severity="error", markup=False, timeout=5)

    @on(Reconnected)
    def _reconnected(self) -> None:
        if not self.disconnected:
            return
        self.disconnected = None
        self._draw_topbar()
        self.notify("database reachable again: caught up", timeout=3)
        self.full_reload()

    def _backstop(self) -> None:
        """The timer's look, for a feed that missed something: not when a look ran lately anyway
        (under a busy fleet the paced feed looks all the time)."""
        if time.monotonic() - self._last_look_at >= max(self.poll or 0, FEED_BACKSTOP_S) * 0.9:
            self.check_for_changes()

    def _tick(self) -> None:
        """Lease countdowns move with the clock: redraw the claimed rows whose countdown text changed."""
        self.columns["claimed"].redraw_changed_meta()

    # -- selection and the graph pane -------------------------------------------------
    def _focused_widget(self):
        """The focused widget, or None while the app is shutting down (no screen left)."""
        try:
            return self.focused
        except ScreenStackError:
            return None

    def focused_column(self) -> CardColumn | None:
        f = self._focused_widget()
        if isinstance(f, CardColumn):
            return f
        return getattr(self, "_last_column", None)

    def selected_card(self):
        col = self.focused_column()
        return col.selected if col is not None else None

    @on(CardColumn.Selected)
    def _selected(self, msg: CardColumn.Selected) -> None:
        if msg.column is self._focused_widget():
            self._last_column = msg.column
            if msg.by_user:
                self._picked = msg.card.id if msg.card is not None else None
            self._follow_selection()

    def _follow_selection(self, force: bool = False) -> None:
        card = self.selected_card()
        card_id = card.id if card is not None else None
        if card_id == self.graph_for and not force:
            return
        self.graph_for = card_id
        if card_id is None:
            self._show_graph(Text("no card selected", "dim"))
            return
        if self._graph_busy:
            self._graph_pending = card_id
            return
        self._graph_busy = True
        self._load_graph(card_id)

    def _show_graph(self, text: Text) -> None:
        """Update the pane; re-layout only when its height changes (a layout repaints the whole screen)."""
        graph = self._graph
        lines = text.plain.count("\n")
        graph.update(text, layout=lines != self._graph_lines)
        self._graph_lines = lines

    @work(thread=True, group="graph")
    @guarded
    def _load_graph(self, card_id: str) -> None:
        ids: frozenset[str] = frozenset({card_id})
        try:
            cards, edges = self.backlog.graph(card_id)
            text = neighbourhood(card_id, cards, edges)
            ids = frozenset(cards) | {d for edge in edges for d in edge} | ids
        except Unavailable as exc:
            self.post_message(Disconnected(str(exc)))
            text = Text("database unreachable", "red")
        except MosaicError as exc:
            text = Text(str(exc), "dim")
        self.post_message(GraphLoaded(card_id, text, ids))

    @on(GraphLoaded)
    def _graph_loaded(self, msg: GraphLoaded) -> None:
        self._graph_busy = False
        if msg.card_id == self.graph_for:
            self._graph_ids = msg.ids
            self._show_graph(msg.text)
        pending, self._graph_pending = self._graph_pending, None
        if pending is not None and pending == self.graph_for and pending != msg.card_id:
            self._graph_busy = True
            self._load_graph(pending)

    # -- moving -----------------------------------------------------------------------
    def action_column(self, delta: int) -> None:
        cols = list(self.columns.values())
        cur = self.focused_column() or cols[0]
        i = cols.index(cur) if cur in cols else 0
        cols[(i + delta) % len(cols)].focus()

    # -- actions on the selected card -------------------------------------------------
    def _card_or_say(self):
        card = self.selected_card()
        if card is None:
            col = self.focused_column()
            self.notify(f"no card selected{' in ' + col.status if col else ''}", severity="warning")
        return card

    @work(thread=True, group="action")
    @guarded
    def _do(self, note: str, fn: Callable[[], Any], card_ids: Iterable[str], focus: str | None = None) -> None:
        try:
            fn()
            own = self.backlog.last_event_id()
        except Unavailable as exc:
            self.post_message(Disconnected(str(exc)))
            self.post_message(ActionRefused(str(exc)))
            return
        except MosaicError as exc:
            self.post_message(ActionRefused(str(exc)))
            return
        self.post_message(ActionDone(note, card_ids, own, focus))

    @on(ActionDone)
    def _done(self, msg: ActionDone) -> None:
        self._pending_focus = msg.focus
        for cid in msg.card_ids:
            if msg.own_upto is not None:
                self._own[cid] = msg.own_upto
        self.notify(msg.note, timeout=3, markup=False)
        self.check_for_changes()

    @on(ActionRefused)
    def _refused(self, msg: ActionRefused) -> None:
        self.notify(msg.reason, title="refused", severity="error", markup=False, timeout=6)

    def _status_action(self, verb: str, past: str) -> None:
        card = self._card_or_say()
        if card is None:
            return
        fn = getattr(self.backlog, verb)
        self._do(f"{card.id} {past}", lambda: fn(card.id), [card.id])

    def action_block(self) -> None:
        self._status_action("block", "blocked")

    def action_unblock(self) -> None:
        self._status_action("unblock", "unblocked")

    def action_complete(self) -> None:
        self._status_action("complete", "completed")

    def action_reopen(self) -> None:
        self._status_action("reopen", "reopened")

    def action_release(self) -> None:
        card = self._card_or_say()
        if card is None:
            return
        self._do(f"{card.id} released", lambda: self.backlog.reclaim(card.id), [card.id])

    def action_new(self) -> None:
        from mosaic_tui.board.screens import CardForm

        def made(v: dict | None) -> None:
            if v is None:
                return
            self._do(
                f"{v['id']} created",
                lambda: self.backlog.create(v["id"], v["title"], body=v["body"], phase=v["phase"], priority=v["priority"]),
                [v["id"]],
                focus=v["id"],
            )

        self.push_screen(CardForm(None, phase=self.phase), made)

    def action_edit(self) -> None:
        from mosaic_tui.board.screens import CardForm

        card = self._card_or_say()
        if card is None:
            return
        seen = card.updated_at

        def edited(v: dict | None) -> None:
            if v is None:
                return
            self._do(
                f"{card.id} saved",
                lambda: self.backlog.edit(card.id, expected_updated_at=seen, title=v["title"], body=v["body"], phase=v["phase"], priority=v["priority"]),
                [card.id],
                focus=card.id,
            )

        self.push_screen(CardForm(card), edited)

    def action_link(self) -> None:
        from mosaic_tui.board.screens import PickCardScreen

        card = self._card_or_say()
        if card is None:
            return

        def picked(dep: str | None) -> None:
            if dep:
                self._do(f"{card.id} now depends on {dep}", lambda: self.backlog.link(card.id, dep), [card.id])

        self.push_screen(PickCardScreen(self.backlog, f"{literal(card.id)} depends on…", exclude={card.id, *card.depends_on}), picked)

    def action_unlink(self) -> None:
        card = self._card_or_say()
        if card is None:
            return
        if not card.depends_on:
            self.notify(f"{card.id} has no dependencies to remove", severity="warning", markup=False)
            return
        self._open_unlink(card)

    @work(thread=True, group="action")
    @guarded
    def _open_unlink(self, card) -> None:
        from types import SimpleNamespace

        from mosaic_tui.board.screens import PickCardScreen

        try:
            found = self.backlog.get_many(card.depends_on)
        except MosaicError as exc:
            self.post_message(ActionRefused(str(exc)))
            return
        choices = [found.get(d) or SimpleNamespace(id=d, title="(no such card)", status="missing") for d in card.depends_on]

        def picked(dep: str | None) -> None:
            if dep:
                self._do(f"{card.id} no longer depends on {dep}", lambda: self.backlog.unlink(card.id, dep), [card.id])

        self.post_message(Call(self.push_screen, PickCardScreen(self.backlog, f"remove a dependency of {literal(card.id)}", choices=choices), picked))

    def action_detail(self) -> None:
        card = self._card_or_say()
        if card is not None:
            self._open_detail(card.id)

    @work(thread=True, group="action")
    @guarded
    def _open_detail(self, card_id: str) -> None:
        from mosaic_tui.board.screens import DetailScreen

        try:
            card = self.backlog.get(card_id)
            deps = self.backlog.get_many(card.depends_on)
            events = self.backlog.events(card=card_id)
        except Unavailable as exc:
            self.post_message(Disconnected(str(exc)))
            return
        except MosaicError as exc:
            self.post_message(ActionRefused(str(exc)))
            return
        self.post_message(Call(self.push_screen, DetailScreen(card, deps, events, self.clock())))

    def action_filter(self) -> None:
        box = self._filter
        box.value = self.search or ""
        box.add_class("shown")
        box.focus()

    @on(Input.Submitted, "#filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        self.search = event.value.strip() or None
        self._close_filter()
        self._draw_topbar()
        self.full_reload()

    def _close_filter(self) -> None:
        box = self._filter
        box.remove_class("shown")
        col = self.focused_column() or self.columns["ready"]
        col.focus()

    def on_key(self, event) -> None:
        if event.key == "escape" and self.focused is self._filter:
            event.stop()
            self._close_filter()

    def action_phase(self) -> None:
        self._open_phases()

    @work(thread=True, group="action")
    @guarded
    def _open_phases(self) -> None:
        from mosaic_tui.board.screens import PhaseScreen

        try:
            phases = self.backlog.phases()
        except MosaicError as exc:
            self.post_message(ActionRefused(str(exc)))
            return

        def chosen(v: tuple | None) -> None:
            if v is None:
                return
            self.phase = v[0]
            self._draw_topbar()
            self.full_reload()

        self.post_message(Call(self.push_screen, PhaseScreen(phases, self.phase), chosen))

    def action_graph(self) -> None:
        self._open_graph()

    @work(thread=True, group="action")
    @guarded
    def _open_graph(self) -> None:
        from mosaic_tui.board.screens import GraphScreen

        b = self.backlog
        try:
            total = b.count(phase=self.phase, search=self.search)
            cards = {c.id: c for c in b.list(phase=self.phase, search=self.search, limit=GRAPH_LIMIT)}
            edges = b.edges(list(cards)) if cards else []
            outside = {d for _, d in edges if d not in cards}
            cards.update(b.get_many(outside))
        except Unavailable as exc:
            self.post_message(Disconnected(str(exc)))
            return
        except MosaicError as exc:
            self.post_message(ActionRefused(str(exc)))
            return
        scope = f"phase {literal(self.phase)}" if self.phase else "all phases"
        if self.search:
            scope += f', filter "{literal(self.search)}"'
        text = layered(cards, edges, title=f"Dependency graph · {scope} · dependencies above dependents", truncated=max(0, total - GRAPH_LIMIT))
        self.post_message(Call(self.push_screen, GraphScreen(text)))

    def action_help(self) -> None:
        from mosaic_tui.board.screens import HelpScreen

        self.push_screen(HelpScreen())

    def action_quit(self) -> None:  # type: ignore[override]
        self.exit(0)

    # -- command palette: every action ------------------------------------------------
    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for name, help_, fn in [
            ("Card detail", "Body, acceptance, dependencies, claim, history (enter)", self.action_detail),
            ("Block card", "Block the selected card (b)", self.action_block),
            ("Unblock card", "Put a blocked card back to ready (u)", self.action_unblock),
            ("Complete card", "Mark the selected card done (c)", self.action_complete),
            ("Reopen card", "Put a done card back to ready (o)", self.action_reopen),
            ("Release claim", "Release the selected card's claim (r)", self.action_release),
            ("New card", "Create a card (n)", self.action_new),
            ("Edit card", "Edit title, body, phase, priority (e)", self.action_edit),
            ("Add dependency", "Pick a card the selected one depends on (d)", self.action_link),
            ("Remove dependency", "Remove one of the selected card's dependencies (D)", self.action_unlink),
            ("Filter", "Filter cards by text (/)", self.action_filter),
            ("Choose phase", "Show one phase, or all (p)", self.action_phase),
            ("Full-screen graph", "The dependency graph of the phase / filter, in layers (g)", self.action_graph),
            ("Help", "Keys and what they do (?)", self.action_help),
        ]:
            yield SystemCommand(name, help_, fn)
