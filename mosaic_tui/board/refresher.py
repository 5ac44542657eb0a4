"""The refresher: turns the events written since the last look into one notice of changes.

A **look** reads the events after the cursor, in a worker, one look at a
time (a look asked for meanwhile runs right after it, once). Each look
publishes one :class:`~mosaic_tui.board.changes.Changes` notice to the
panes. The refresher owns:

- the event cursor (handed to the running look, returned with its result:
  one thread holds it at a time) and the generation (which reload the
  panes' data belongs to);
- the scope (phase, filter): a new one is a **reload**;
- the board's own events (its actions' changes are not announced);
- **busy**: the last look changed more than ``BUSY_CARDS`` cards (the feed
  paces by it, the panes highlight nothing);
- the **recount** schedule: exact counts and figures, ``RECOUNT_S`` after a
  look with events (``RECOUNT_BUSY_S`` while busy), once per period;
- the connection: ``lost(reason)`` publishes an ``offline`` notice; while
  offline, a look is a reload, and the first that succeeds brings everything back.

It never draws and knows no pane. :class:`BoardFeed` is the board's live
feed: the feed thread's pacing as the board wants it (a lone change at once,
bursts paced).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from mosaic_tui.board.changes import Changes, Notices, Scope
from mosaic_tui.board.jobs import Job
from mosaic_tui.db.live import MAX_WAKE_INTERVAL_S, MIN_WAKE_INTERVAL_S, LiveFeed

if TYPE_CHECKING:
    from mosaic_tui.repository import Backlog, EventCursor

BUSY_CARDS = 24  # a look that changed more cards is busy: nothing highlighted, looks paced by CPU
MAX_INCREMENTAL = 5000  # more events than this since the last look: reload instead
RECOUNT_S = 5.0  # exact counts and figures at most this often while changes come in...
RECOUNT_BUSY_S = 20.0  # ...or this often while the fleet is busy
BUSY_QUIET_S = MAX_WAKE_INTERVAL_S  # the feed paces as before until this long after the last busy look


@dataclass(frozen=True)
class _Ask:
    reload: bool = False
    scope: Scope | None = None  # a reload's new scope (None: keep)


@dataclass(frozen=True)
class _Look:
    """What a look reads with (made on the interface thread) and what it found (in the worker)."""

    reload: bool
    scope: Scope
    cursor: EventCursor | None
    recount: bool = False
    plans: tuple = ()  # (id(pane), read, plan): what panes read along
    events: tuple = ()
    along: dict = field(default_factory=dict)  # id(pane) -> what it read


def _merge(old: _Ask, new: _Ask) -> _Ask:
    if old.reload or new.reload:
        return _Ask(True, new.scope or old.scope)
    return new


class BoardFeed(LiveFeed):
    """The board's live feed: a lone change is looked at at once, only bursts are paced.

    :class:`~mosaic_tui.db.live.LiveFeed` waits ``MIN_WAKE_INTERVAL_S`` after every wake-up, so a
    claim committed just after another change (an agent's heartbeat, say) waited up to 100 ms to be
    looked at. Here the wake-ups draw on a bucket of ``BURST`` tokens refilled at one per
    ``MIN_WAKE_INTERVAL_S``: a change after a quiet moment, and the one right behind it, wake the
    board at once; a steady stream is still looked at ten times a second at most, as before (the same
    looks); and within ``BUSY_QUIET_S`` of a busy look the pacing is the old one, CPU budget
    included, so a busy fleet costs the board what it did (without that, the small looks between the
    busy ones went unpaced: 60% more CPU under 4 workers in the benchmark). ``BURST = 1`` is the old
    pacing (the benchmark measures both in one run)."""

    BURST = 2

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._tokens = float(self.BURST)
        self._filled = time.monotonic()
        self._busy_at = float("-inf")  # when a look was last seen busy

    def pace(self) -> None:
        now = time.monotonic()
        if self.busy:
            self._busy_at = now
        self._tokens = max(-1.0, min(self.BURST, self._tokens + (now - self._filled) / MIN_WAKE_INTERVAL_S) - 1)  # this wake-up
        self._filled = now
        if self.BURST <= 1 or now - self._busy_at < BUSY_QUIET_S:
            super().pace()  # the old pacing; and while the fleet is busy, exactly as before (the same CPU)
        elif self._tokens < 0:  # the bucket ran dry: a burst, wait for the next token
            time.sleep(-self._tokens * MIN_WAKE_INTERVAL_S)


class Refresher:
    """Looks for changes and tells the panes; one look at a time."""

    def __init__(self, app, backlog: Backlog, scope: Scope, *, busy: Callable[[bool], None] | None = None) -> None:
        self.app = app
        self.backlog = backlog
        self.scope = scope
        self.notices = Notices()
        self.generation = 0
        self.offline: str | None = None
        self.busy = False
        self._tell_busy = busy  # the feed paces by it
        self._cursor: EventCursor | None = None  # None while a look holds it, or before the first reload
        self._own: dict[str, int] = {}  # card id -> the last event id of this board's own change to it
        self._recount_timer = False  # a recount is scheduled
        self._recount = False  # a recount is due with the next look
        self._job = Job(app, self._read, self._publish, merge=_merge, prepare=self._prepare, group="look")

    # -- asking ----------------------------------------------------------------------
    def look(self) -> None:
        """Read what changed since the last look (the one verb: the feed, the backstop, actions ask it)."""
        self._job.ask(_Ask())

    def reload(self, scope: Scope | None = None) -> None:
        """Everything again, from scratch (optionally under a new scope)."""
        self._job.ask(_Ask(True, scope))

    def own(self, card_ids: Iterable[str], upto: int | None) -> None:
        """This board changed these cards, up to event ``upto``: their events are not someone else's."""
        if upto is not None:
            for cid in card_ids:
                self._own[cid] = upto

    def lost(self, reason: str) -> bool:
        """The database cannot be reached (the error path says so); True when it was reachable until now."""
        first = self.offline is None
        self.offline = reason
        self.notices.publish(Changes(self.generation, self.scope, offline=reason))
        return first

    # -- the look ----------------------------------------------------------------------
    def _prepare(self, ask: _Ask) -> _Look:
        cursor, self._cursor = self._cursor, None  # the look holds it now
        reload = ask.reload or cursor is None or self.offline is not None
        if reload:
            return _Look(True, ask.scope or self.scope, cursor)
        recount, self._recount = self._recount, False
        return _Look(False, self.scope, cursor, recount, tuple(self.notices.plans()))

    def _read(self, look: _Look) -> _Look:
        """In the worker: one light query for the events (or, for a reload, where the log ends now),
        then what the panes read along."""
        if look.reload:
            return replace(look, cursor=self.backlog.cursor(after=self.backlog.last_event_id()))
        events = tuple(look.cursor.fetch(limit=MAX_INCREMENTAL + 1))
        along = {} if not events or len(events) > MAX_INCREMENTAL else {
            key: read(plan, events) for key, read, plan in look.plans}
        return replace(look, events=events, along=along)

    def _publish(self, look: _Look) -> None:
        self._cursor = look.cursor
        if self.offline is not None and not look.reload:
            self.reload()  # the database went away while this look ran: everything again, now it answers
            return
        self.offline = None
        if look.reload:
            self.generation += 1
            self.scope = look.scope
            self._set_busy(False)
            self.notices.publish(Changes(self.generation, self.scope, reload=True, recount=True))
            return
        events = look.events
        if len(events) > MAX_INCREMENTAL:
            self.app.notify(f"more than {MAX_INCREMENTAL} changes since the last look: reloaded", timeout=3)
            self.reload()
            return
        cards = frozenset(ev.card_id for ev in events)
        self._set_busy(len(cards) > BUSY_CARDS)
        recount = look.recount
        if events:
            self._want_recount()
        elif not recount:
            return
        own = self._own
        others = tuple(ev for ev in events if not (ev.card_id in own and ev.id <= own[ev.card_id]))
        if own and events:
            seen = look.cursor.last
            self._own = {cid: upto for cid, upto in own.items() if upto > seen}
        self.notices.publish(Changes(self.generation, self.scope, events, cards, others, recount=recount, busy=self.busy,
                                     read_along=look.along))

    def _set_busy(self, busy: bool) -> None:
        if busy != self.busy and self._tell_busy is not None:
            self._tell_busy(busy)
        self.busy = busy

    # -- the recount -------------------------------------------------------------------
    def _want_recount(self) -> None:
        """Exact counts and figures soon, but not more than once per period."""
        if not self._recount_timer:
            self._recount_timer = True
            self.app.set_timer(RECOUNT_BUSY_S if self.busy else RECOUNT_S, self._recount_now)

    def _recount_now(self) -> None:
        self._recount_timer = False
        self._recount = True
        self.look()
