"""The notice every pane hears: what changed since the last one (the refresher publishes it).

:class:`Changes` is one notice; :class:`Notices` is who hears it (a
subscription like Posting's ``Signal``: a pane subscribes on mount, with a
callback; the refresher publishes on the interface thread and every callback
runs at once, in subscription order). :class:`Scope` is what the board is
filtered to. No drawing here.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mosaic_tui.repository import STATUSES
from mosaic_tui.repository.query import Node, parse, to_text

if TYPE_CHECKING:
    from textual.dom import DOMNode

    from mosaic_tui.db.models import EventRecord

#: The events that may change the dependency graph's edges (the dependency pane and the drawn graph read again).
EDGE_KINDS = frozenset({"linked", "unlinked", "edited", "created", "deleted"})


@dataclass(frozen=True)
class Scope:
    """What the board shows: one phase (or all) and a query (``docs/query.md``; None: every card), maybe
    from a saved view."""

    phase: str | None = None
    query: Node | None = None
    view: str | None = None  # the saved view the query came from (``v``), shown in the top bar

    @property
    def whole(self) -> bool:
        """The whole backlog: counts can move by the events' deltas."""
        return self.phase is None and self.query is None

    @property
    def filters(self) -> dict[str, Any]:
        """The repository's list / count filters of this scope (``Backlog.list(**scope.filters)``)."""
        return {"phase": self.phase, "where": self.query}

    def with_filter(self, text: str) -> Scope:
        """The scope the filter box asks for (the phase chosen with ``p`` stays; an empty box clears the
        query). Raises :class:`~mosaic_tui.repository.query.QueryError` for a bad query."""
        return Scope(self.phase, parse(text))

    def filter_text(self) -> str:
        """What the filter box shows for this scope: the query, printed back."""
        return to_text(self.query)


@dataclass(frozen=True)
class Changes:
    """One notice: what changed in the backlog since the last notice.

    ``events``: the events read by this look, oldest first (none for a
    notice that only says ``reload``, ``recount`` or ``offline``).
    ``cards``: the ids they name. ``others``: those not written by this
    board's own actions (someone else's changes, to be told). ``reload``:
    read everything again (a new scope, the database back, too many events).
    ``recount``: exact counts and figures are due. ``busy``: the look found
    more cards changed than a person can follow (nothing is highlighted).
    ``offline``: why the database cannot be reached, or None.
    ``read_along``: what panes read in the look's worker, right after its
    events (see :class:`Notices`), by ``id(pane)``. ``impact``: new
    keystones and critical paths (:class:`mosaic_tui.repository.watch.impact.Impact`), from
    the keystones room; such a notice says nothing else.
    """

    generation: int
    scope: Scope
    events: tuple[EventRecord, ...] = ()
    cards: frozenset[str] = frozenset()
    others: tuple[EventRecord, ...] = ()
    reload: bool = False
    recount: bool = False
    busy: bool = False
    offline: str | None = None
    read_along: Mapping[int, Any] = field(default_factory=dict)  # id(pane) -> what it read along with the look
    impact: Any = None  # an Impact (mosaic_tui.board.keystones), alone in its notice


def deltas(events: Iterable[EventRecord]) -> dict[str, int]:
    """How many cards each status gained (or lost) by ``events``."""
    out = dict.fromkeys(STATUSES, 0)
    for ev in events:
        if ev.old_status != ev.new_status:
            if ev.old_status in out:
                out[ev.old_status] -= 1
            if ev.new_status in out:
                out[ev.new_status] += 1
    return out


@dataclass
class _Subscription:
    node: weakref.ref
    callback: weakref.WeakMethod
    plan: Callable[[], Any] | None = None
    read: Callable[[Any, tuple], Any] | None = None

    def alive(self) -> bool:
        node = self.node()
        return node is not None and self.callback() is not None and node.is_attached


@dataclass
class Notices:
    """Who hears the notices: ``subscribe(node, callback)``, ``publish(changes)``.

    Nodes are held weakly and dropped once unmounted. Unlike Textual's
    ``Signal``, a callback's exception is not swallowed: a pane's bug fails
    loudly in the tests.

    **Reading along.** A pane may also give ``plan`` and ``read``: as a look
    starts, ``plan()`` (interface thread) says what the pane would read, or
    None; in the look's worker, right after the events, ``read(plan, events)``
    reads it; the notice carries the result (``changes.read_along[id(pane)]``).
    A look then costs one worker and one message, whatever the panes read.
    """

    _subscribers: list[_Subscription] = field(default_factory=list)

    def subscribe(self, node: DOMNode, callback: Callable[[Changes], None], *,
                  plan: Callable[[], Any] | None = None, read: Callable[[Any, tuple], Any] | None = None) -> None:
        self._subscribers.append(_Subscription(weakref.ref(node), weakref.WeakMethod(callback), plan, read))

    def unsubscribe(self, node: DOMNode) -> None:
        self._subscribers = [s for s in self._subscribers if s.node() is not node]

    def plans(self) -> list[tuple[int, Callable[[Any, tuple], Any], Any]]:
        """(id(pane), read, plan) for each pane that reads along with the next look (interface thread)."""
        out = []
        for sub in self._subscribers:
            if sub.plan is not None and sub.alive():
                plan = sub.plan()
                if plan is not None:
                    out.append((id(sub.node()), sub.read, plan))
        return out

    def publish(self, changes: Changes) -> None:
        for sub in list(self._subscribers):
            if sub.alive():
                sub.callback()(changes)
        self._subscribers = [s for s in self._subscribers if s.alive()]
