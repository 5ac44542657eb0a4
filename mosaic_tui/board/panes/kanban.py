"""The kanban pane: the four columns, one per status, kept true to the backlog.

From a notice's events it knows which columns reorder (their visible pages
are read again), which held cards changed in place (re-read: a heartbeat, a
link) and how the counts move (by the events' status deltas; counted exactly
on a reload or under a filter). When idle as a look starts, it reads along
with the look, in the look's worker (``_plan_along``/``_read_along``), and
applies the notice at once; otherwise it reads one batch at a time (a
:class:`~mosaic_tui.board.jobs.Job`; notices and the pages the person scrolls
to join the next batch). A recount is a job of its own, dropped if events
moved the counts while it read. Rows are redrawn only where they differ
(:class:`~mosaic_tui.board.panes.columns.CardColumn`).

It owns the selection: the **selected** card (under the focused column's
cursor), the **watched** card (the one the person put the cursor on: someone
else's change to it is told, once) and the card to **select next** (one just
created or saved, selected once it shows).
"""

from __future__ import annotations

import time
from collections.abc import Container, Iterable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from textual import on
from textual.app import ScreenStackError
from textual.containers import Horizontal
from textual.message import Message

from mosaic_tui.board.changes import STATUSES, Changes, Scope, deltas
from mosaic_tui.board.panes.columns import PAGE, STRIP, CardColumn
from mosaic_tui.board.jobs import Job, run_job
from mosaic_tui.board.grooming.marks import Marks
from mosaic_tui.board.panes.base import Drawn
from mosaic_tui.board.draw.text import first_line, literal

if TYPE_CHECKING:
    from mosaic_tui.db.models import Card
    from mosaic_tui.repository.watch.impact import Impact

FLASH_S = 1.5  # how long a card that just changed stays highlighted
LOCATE_LIMIT = 5000  # how far down a column a card is looked for, to select it
HOLD_S = 5.0  # a column keeps the width its rows needed for this long after they last needed it
SOFT_MIN = 10  # on a narrow terminal a column other than the focused and the claimed one may narrow to this


def _tags_of(cards: list[Card], labels: dict[str, list[str]], reasons: dict[str, str]) -> dict[str, tuple]:
    """What each card's state line shows besides the card itself: its labels and the first line of its latest
    block reason."""
    return {c.id: (tuple(labels.get(c.id, ())), first_line(reasons.get(c.id))) for c in cards}


def fit(width: int, wants: list[tuple[int, int]], focused: int | None, hard: Container[int] = ()) -> list[int]:
    """The columns' widths in ``width`` cells, from each one's ``(floor, need)`` (:meth:`CardColumn.wants`).

    Every column gets its floor (if the floors do not fit, the width is shared in their proportion).
    Then the focused column grows towards its three shares of the width (six shares among four
    columns, as far as it needs them), then every column still short of its need grows, evenly, none
    beyond its need; what nobody needs goes to the focused column, unless it is an empty strip (then
    to the others, evenly). On a narrow terminal, where the focused column would not get its three
    shares, the floors of the other columns not in ``hard`` (the claimed column's is: owner and lease)
    give way first, down to ``SOFT_MIN`` cells."""
    n = len(wants)
    if not n:
        return []
    floors = [f for f, _ in wants]
    if focused is not None:
        want = min(wants[focused][1], max(floors[focused], 3 * width // (n + 2)))
        over = sum(floors) - floors[focused] + want - width
        soft = [i for i in range(n) if i != focused and i not in hard and floors[i] > SOFT_MIN]
        while over > 0 and soft:
            for i in list(soft):
                if over <= 0:
                    break
                floors[i] -= 1
                over -= 1
                if floors[i] <= SOFT_MIN:
                    soft.remove(i)
    if sum(floors) >= width:
        total = sum(floors) or 1
        out = [max(1, f * width // total) for f in floors]
        out[focused if focused is not None else 0] += width - sum(out)
        return out
    out = list(floors)
    left = width - sum(out)
    if focused is not None:
        target = want
        give = min(left, max(0, target - out[focused]))
        out[focused] += give
        left -= give
    while left > 0:
        hungry = [i for i in range(n) if out[i] < wants[i][1]]
        if not hungry:
            break
        share = max(1, left // len(hungry))
        for i in hungry:
            give = min(share, wants[i][1] - out[i], left)
            out[i] += give
            left -= give
    if left > 0:
        grow = [focused] if focused is not None and wants[focused] != (STRIP, STRIP) else \
            [i for i in range(n) if wants[i] != (STRIP, STRIP)] or list(range(n))
        for k, i in enumerate(grow):
            out[i] += left // len(grow) + (1 if k < left % len(grow) else 0)
    return out


def reorders(events: Iterable) -> set[str]:
    """The columns whose content or order the events change: they read their visible pages again."""
    out: set[str] = set()
    for ev in events:
        if ev.old_status != ev.new_status:
            out.update(st for st in (ev.old_status, ev.new_status) if st in STATUSES)
            if "done" in (ev.old_status, ev.new_status):
                out.add("ready")  # waiting marks follow their dependencies
        elif ev.kind in ("edited", "created") and ev.new_status in STATUSES:
            out.add(ev.new_status)  # a new priority may move it
    return out


@dataclass
class _Want:
    notices: list[Changes] = field(default_factory=list)
    pages: dict[str, set[int]] = field(default_factory=dict)  # pages scrolled to, by column
    refill: frozenset[str] = frozenset()  # columns read again from the top (their order changed: a new sort)


def _merge(old: _Want, new: _Want) -> _Want:
    pages = {s: old.pages.get(s, set()) | new.pages.get(s, set()) for s in {*old.pages, *new.pages}}
    return _Want(old.notices + new.notices, pages, old.refill | new.refill)


@dataclass(frozen=True)
class _View:
    """What the columns show, taken on the interface thread: what a read needs to know of them."""

    generation: int
    scope: Scope
    started: int  # batches this pane had started then
    visible: dict[str, set[int]]  # column -> the pages on screen
    held: frozenset[str]  # the cards the columns hold
    impact: Impact | None = None  # the ready column is sorted by what its cards unlock (None: claim order)


@dataclass(frozen=True)
class _Batch:
    """What one load reads (made on the interface thread) and, once read, what it found."""

    generation: int
    started: int
    scope: Scope
    full: bool  # counts and visible pages of every column, from scratch
    pages: dict[str, set[int]]  # column -> pages to read
    count: frozenset[str]  # columns to count exactly
    cards: frozenset[str]  # changed cards this pane holds, to re-read (unless a page brings them)
    notices: tuple[Changes, ...]
    counts: dict[str, int] = field(default_factory=dict)
    got: dict[str, dict[int, list[Card]]] = field(default_factory=dict)
    fresh: dict[str, Card] = field(default_factory=dict)
    waits: dict[str, list[str]] = field(default_factory=dict)
    tags: dict[str, tuple] = field(default_factory=dict)  # card id -> (its labels, its block reason's first line)
    impact: Impact | None = None  # as in _View
    refill: frozenset[str] = frozenset()  # columns whose held pages are all replaced


class Kanban(Horizontal):
    """The four columns."""

    class Selected(Message):
        """The selected card is now ``card_id`` (or none)."""

        def __init__(self, card_id: str | None) -> None:
            super().__init__()
            self.card_id = card_id

    def __init__(self, refresher, clock, *, live: bool = True, marks: Marks | None = None, id: str = "columns") -> None:
        super().__init__(id=id)
        self.marks = marks if marks is not None else Marks()
        self.refresher = refresher
        self.backlog = refresher.backlog
        self.clock = clock
        self.live = live
        self.columns = {s: CardColumn(s, id=f"col-{s}") for s in STATUSES}
        for col in self.columns.values():
            col.marks = self.marks
        self.marks.listen(self._marks_changed)
        self.watched: str | None = None
        self.select_next: str | None = None
        self.impact: Impact | None = None  # the last keystones heard (mosaic_tui.board.keystones)
        self.by_impact = False  # the ready column sorted by impact (``s``)
        self.drawn = False
        self._last_column: CardColumn | None = None
        self._widths: list[int] = []  # the columns' widths as last set (``fit``)
        self._held: dict[str, tuple[int, int, float]] = {}  # status -> (floor, need) held until (monotonic)
        self._started = 0  # batches started (a read made along a look before one started is stale)
        self._moved = 0  # batches whose events moved the counts (a recount read meanwhile is older)
        self._job = Job(self, self._read, self._show, merge=_merge, prepare=self._prepare, group="columns")
        self._recount = Job(self, self._count, self._counted, prepare=lambda _: (self._view(), self._moved), group="recount")

    def compose(self):
        yield from self.columns.values()

    def on_mount(self) -> None:
        for col in self.columns.values():
            col.now_fn = self.clock
        self.refresher.notices.subscribe(self, self.changed, plan=self._plan_along, read=self._read_along)
        if self.live:
            self.set_interval(1.0, self._tick)

    def changed(self, changes: Changes) -> None:
        if changes.impact is not None:
            self._heard_impact(changes.impact)
            return
        along = changes.read_along.get(id(self))
        if along is not None and changes.events and along.started == self._started and not self._job.busy \
                and along.generation == self.refresher.generation:
            self._show(replace(along, notices=(changes,)))  # read with the look: nothing changed here since
        elif changes.reload or changes.events:
            self._job.ask(_Want([changes]))
        if changes.recount and not changes.reload:
            self._recount.ask()

    def _heard_impact(self, impact: Impact) -> None:
        """New keystones: rows show what they unlock; a ready column sorted by impact is read again."""
        self.impact = impact
        for col in self.columns.values():
            col.set_unlocks(impact.unlocks)
        self.fit()
        if self.by_impact:
            self._job.ask(_Want(pages={"ready": set()}))

    def sort_by_impact(self, on: bool) -> None:
        """Sort the ready column by what its cards unlock (most first; ties in claim order), or back in claim order."""
        if on == self.by_impact:
            return
        self.by_impact = on
        ready = self.columns["ready"]
        ready.sort_note = " ↓unlocks" if on else ""
        ready.cursor = 0
        ready.scroll_to(y=0, animate=False)
        self._job.ask(_Want(pages={"ready": {0}}, refill=frozenset({"ready"})))

    def _tick(self) -> None:
        """Lease countdowns move with the clock: redraw the claimed rows whose countdown text changed."""
        self.columns["claimed"].redraw_changed_meta()
        self.fit()  # a countdown that reads longer (``9m59s`` after ``10m``) widens the claimed column

    # -- loading -----------------------------------------------------------------------
    def _view(self) -> _View:
        cols = self.columns.values()
        return _View(self.refresher.generation, self.refresher.scope, self._started,
                     {col.status: col.visible_pages() for col in cols}, frozenset().union(*(col.index for col in cols)),
                     self.impact if self.by_impact else None)

    @staticmethod
    def _plan(view: _View, events, wanted: dict[str, set[int]] | None = None) -> _Batch:
        """The batch that brings the columns up to date with ``events`` (and pages scrolled to)."""
        pages = {s: view.visible[s] or {0} for s in reorders(events)}
        for s, more in (wanted or {}).items():
            pages[s] = pages.get(s, set()) | more | view.visible[s]
        count = frozenset(() if view.scope.whole else pages)  # under a filter, reordered columns are counted
        if view.impact is not None and "ready" in pages:
            count |= {"ready"}  # sorted in Python: counted as it is read
        cards = frozenset(ev.card_id for ev in events) & view.held
        return _Batch(view.generation, view.started, view.scope, False, pages, count, cards, (), impact=view.impact)

    def _prepare(self, want: _Want) -> _Batch:
        self._started += 1
        view = self._view()
        notices = want.notices
        reloads = [i for i, n in enumerate(notices) if n.reload]
        if reloads:  # a reload shows everything before it: counts and visible pages of every column
            notices = notices[reloads[-1]:]
            pages = {s: {0} | v for s, v in view.visible.items()}
            return _Batch(view.generation, view.started, view.scope, True, pages, frozenset(STATUSES), frozenset(),
                          tuple(notices), impact=view.impact)
        batch = self._plan(view, [ev for n in notices for ev in n.events], want.pages)
        return replace(batch, notices=tuple(notices), refill=want.refill)

    def _plan_along(self) -> _View | None:
        """Asked as a look starts: what to read along with it, in its worker (None: this pane is busy)."""
        return None if self._job.busy else self._view()

    def _read_along(self, view: _View, events) -> _Batch:
        """In the look's worker, right after its events: one worker and one message for a look."""
        return self._read(self._plan(view, events))

    def _read(self, batch: _Batch) -> _Batch:
        """In the worker: counts, pages (one LIMIT query on an index each), the other changed cards."""
        b, scope = self.backlog, batch.scope
        order = None
        if batch.impact is not None and "ready" in batch.pages:  # ids in claim order, sorted by impact here
            order = batch.impact.by_impact(b.ids(status="ready", **scope.filters))
        every = b.counts(**scope.filters) if len(batch.count) > 1 else None  # one grouped query, not four
        for status in batch.count:
            batch.counts[status] = len(order) if status == "ready" and order is not None else \
                every[status] if every is not None else b.count(status=status, **scope.filters)
        fresh: set[str] = set()
        for status, pages in batch.pages.items():
            n = batch.counts.get(status)
            got = batch.got[status] = {}
            for p in sorted(pages):
                if n is not None and p * PAGE >= max(n, 1):
                    continue
                if status == "ready" and order is not None:
                    cards = got[p] = self._ordered_page(order, p)
                    batch.counts["ready"] = len(order)
                    batch.tags.update(self._tags(cards))
                else:  # the page with its labels and block reasons: one read
                    cards, labels, reasons = b.list_shown(status=status, **scope.filters, limit=PAGE, offset=p * PAGE)
                    got[p] = cards
                    batch.tags.update(_tags_of(cards, labels, reasons))
                fresh.update(c.id for c in cards)
                batch.waits.update(self._waits(cards))
        want = batch.cards - fresh
        if want:
            batch.fresh.update(b.get_many(want))
            batch.waits.update(self._waits(list(batch.fresh.values())))
            batch.tags.update(self._tags(list(batch.fresh.values())))
        return batch

    def _tags(self, cards: list[Card]) -> dict[str, tuple]:
        """For each card, its labels and (blocked) the first line of its latest block reason: what its state
        line shows besides the card itself (two reads by id, whatever the page holds)."""
        if not cards:
            return {}
        labels = self.backlog.labels(c.id for c in cards)
        blocked = [c.id for c in cards if c.status == "blocked"]
        return _tags_of(cards, labels, self.backlog.block_reasons(blocked) if blocked else {})

    def _ordered_page(self, order: list[str], page: int) -> list[Card]:
        """Page ``page`` of ``order`` (ids), read by id; ids deleted since they were listed leave ``order``."""
        while True:
            ids = order[page * PAGE:(page + 1) * PAGE]
            got = self.backlog.get_many(ids)
            if len(got) == len(ids):
                return [got[i] for i in ids]
            gone = set(ids) - set(got)
            order[:] = [i for i in order if i not in gone]

    def _waits(self, cards: list[Card]) -> dict[str, list[str]]:
        """For each waiting ready card, the dependencies that are not done (missing ones included)."""
        waiting = [c for c in cards if c.status == "ready" and c.unmet_deps > 0]
        if not waiting:
            return {}
        deps = self.backlog.get_many({d for c in waiting for d in c.depends_on})
        return {c.id: [d for d in c.depends_on if d not in deps or deps[d].status != "done"] for c in waiting}

    def _show(self, batch: _Batch) -> None:
        if batch.generation != self.refresher.generation:
            return  # a reload came since: it shows all of this
        cols = self.columns
        moved = deltas(ev for n in batch.notices for ev in n.events)
        if any(moved.values()) or batch.full:
            self._moved += 1
        for status, col in cols.items():
            count = batch.counts[status] if status in batch.counts else max(0, col.count + moved[status])
            if batch.full or status in batch.got:
                col.set_data(count, batch.got.get(status, {}), batch.waits, full=batch.full or status in batch.refill,
                             tags=batch.tags)
            else:
                col.set_count(count)
        for card in batch.fresh.values():
            for col in cols.values():
                if card.id in col.index and col.status == card.status and col.status not in batch.got:
                    col.replace_card(card, batch.waits.get(card.id), batch.tags.get(card.id))
        for notice in batch.notices:
            self._flash_and_tell(notice)
        now = self.selected
        if self.watched is not None and (now is None or now.id != self.watched):
            self.watched = None  # it moved away from the cursor: told once, not again for the card now there
        if self.select_next is not None:
            self.select(self.select_next, quiet=True)
        self.fit(fresh=batch.full)
        if batch.full and not self.drawn:
            self.drawn = True
            self.post_message(Drawn(self))

    def _count(self, ask: tuple[_View, int]) -> tuple[_View, int, dict[str, int]]:
        """In a worker: every column's exact count (a recount)."""
        view, moved = ask
        scope = view.scope
        return view, moved, self.backlog.counts(**scope.filters)

    def _counted(self, got: tuple[_View, int, dict[str, int]]) -> None:
        view, moved, counts = got
        if view.generation == self.refresher.generation and moved == self._moved:  # else the counts shown are newer
            for status, col in self.columns.items():
                col.set_count(counts[status])
            self.fit()

    def _flash_and_tell(self, notice: Changes) -> None:
        """Highlight what just changed (unless everything moves), and tell someone else's change to the watched card."""
        if not notice.busy:
            last = {ev.card_id: ev.new_status for ev in notice.events}
            for card_id, status in last.items():
                for col in self.columns.values():
                    if card_id in col.index or col.status == status:
                        col.flash_card(card_id, FLASH_S)
        for ev in notice.others:
            if ev.kind != "heartbeat" and ev.card_id == self.watched:
                who = literal(ev.owner) if ev.owner and ev.kind in ("claimed", "noted") else "another program"
                self.app.notify(f"{literal(ev.card_id)} was {ev.kind} by {who}", severity="warning", markup=False, timeout=6)

    @on(CardColumn.WantPages)
    def _want_pages(self, msg: CardColumn.WantPages) -> None:
        msg.stop()
        msg.column.forget_far_pages()
        self._job.ask(_Want(pages={msg.column.status: set(msg.pages)}))

    # -- the selection ---------------------------------------------------------------------
    def _focused(self):
        """The focused widget, or None while the app is shutting down (no screen left)."""
        try:
            return self.app.focused
        except ScreenStackError:
            return None

    def focused_column(self) -> CardColumn | None:
        f = self._focused()
        return f if isinstance(f, CardColumn) else self._last_column

    @property
    def selected(self) -> Card | None:
        col = self.focused_column()
        return col.selected if col is not None else None

    def selected_or_say(self) -> Card | None:
        """The selected card; else None, and a word to the person (``no card selected in ready``): what every
        key on the selected card does first."""
        col = self.focused_column()
        card = col.selected if col is not None else None
        if card is None:
            self.app.notify(f"no card selected{' in ' + col.status if col else ''}", severity="warning")
        return card

    def _marks_changed(self, ids) -> None:
        for col in self.columns.values():
            for card_id in ids:
                col.refresh_card(card_id)

    def fit(self, *, fresh: bool = False) -> None:
        """Each column as wide as its content needs (:func:`fit`): the claimed
        column never narrower than its owners and lease countdowns, the focused one taking three shares
        of what is left (at 160 columns, 40 characters of a title and more), an empty one a strip.
        Widths are set only when they change (a change lays the screen out again, and redraws every row
        on it): a column that needed more width keeps it until its rows have not needed it for
        ``HOLD_S`` (a claim widens the claimed column at once, its completion narrows it only once the
        claims stop needing the width), so a fleet's claims and completions do not lay the screen out
        twice each. ``fresh`` (a reload, a resize): what the rows need now, nothing held."""
        width = self.content_size.width
        if not width:
            return
        if fresh:
            self._held.clear()
        cols = list(self.columns.values())
        focused = self.focused_column()
        now = time.monotonic()
        wants = []
        for c in cols:
            floor, need = c.wants()
            held = self._held.get(c.status)
            if held is None or now >= held[2] or floor >= held[0] and need >= held[1]:
                held = self._held[c.status] = (floor, need, now + HOLD_S)  # needed now: held from now
            elif floor > held[0] or need > held[1]:
                held = self._held[c.status] = (max(floor, held[0]), max(need, held[1]), now + HOLD_S)
            wants.append(held[:2])
        widths = fit(width, wants, cols.index(focused) if focused in cols else None,
                     hard={i for i, c in enumerate(cols) if c.status == "claimed"})
        if widths != self._widths:
            self._widths = widths
            for col, w in zip(cols, widths):
                col.styles.width = w

    def on_resize(self) -> None:
        self.fit(fresh=True)

    @on(CardColumn.Selected)
    def _column_selected(self, msg: CardColumn.Selected) -> None:
        msg.stop()
        if msg.column is self.focused_column():  # the last one focused, while a screen (the graph) is on top
            self._last_column = msg.column
            self.fit()
            if msg.by_user:
                self.watched = msg.card.id if msg.card is not None else None
            self.post_message(self.Selected(msg.card.id if msg.card is not None else None))

    def focus_board(self) -> None:
        """Give the focus back to the columns (the one last focused)."""
        (self.focused_column() or self.columns["ready"]).focus()

    def move(self, delta: int) -> None:
        """Focus the column ``delta`` to the left or right (wrapping)."""
        cols = list(self.columns.values())
        cur = self.focused_column() or cols[0]
        i = cols.index(cur) if cur in cols else 0
        cols[(i + delta) % len(cols)].focus()

    def select(self, card_id: str, *, quiet: bool = False) -> None:
        """Put the cursor on ``card_id``: at once when a column holds it, else once found in the backlog."""
        for col in self.columns.values():
            found = col.find(card_id)
            if found is not None:
                self.select_next = None
                col.focus()
                col.cursor = found[0]
                return
        if not quiet:
            run_job(self.app, self._locate, card_id, self.refresher.scope, self.impact if self.by_impact else None,
                    then=self._located, group="columns")

    def _locate(self, card_id: str, scope: Scope, impact: Impact | None = None) -> tuple[str, str | None, int | None]:
        card = self.backlog.get(card_id)
        if card.status == "ready" and impact is not None:  # the ready column sorted by impact
            ids = impact.by_impact(self.backlog.ids(status="ready", **scope.filters))
        else:
            ids = [c.id for c in self.backlog.list(status=card.status, **scope.filters, limit=LOCATE_LIMIT)]
        return card_id, card.status, ids.index(card_id) if card_id in ids else None

    def _located(self, found: tuple[str, str, int | None]) -> None:
        card_id, status, row = found
        if row is None:
            self.app.notify(f"{literal(card_id)} is not shown here (filter, phase, or far down {status})", markup=False, timeout=4)
            return
        col = self.columns[status]
        col.focus()
        col.cursor = min(row, max(0, col.count - 1))
