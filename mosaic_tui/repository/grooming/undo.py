"""Undo and redo, built on the event log.

Every grooming operation (``mosaic_tui.repository.grooming.bulk``) runs in one transaction that
first locks its cards in id order (:class:`Tracker`), and ends by recording a :class:`Change`:
the cards' values before and after, the events the change itself wrote, and per card the last
event once it was made. Undoing a change writes the before-values back -- but only if no event
by anyone else touched those cards since (an agent's claim or heartbeat, another board's edit, a
plain UPDATE by the fleet's own service: the triggers log them all). Otherwise the undo is
refused and says who changed what; their change stays.

:class:`History` is the board's bounded undo / redo stack; it only calls
:meth:`Restoring.undo_change`, so anything that groups changes (a board, a server) gets the same rules.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, func, select, update

from mosaic_tui.db.models import Card, EventRecord
from mosaic_tui.db.sql import lock_graph
from mosaic_tui.errors import Conflict
from mosaic_tui.repository.labeling import labels_of, set_labels
from mosaic_tui.repository.rows import CARD_COLUMNS, event_from_row
from mosaic_tui.repository.tables import EV, B, E

CHUNK = 500  # ids per IN list (SQLite's variable limit is far above; plans stay small)
#: What an undo puts back on a card that still exists (attempts, the idempotency key and
#: created_at never go back; updated_at becomes now).
TRACKED = ("title", "body", "phase", "priority", "status", "depends_on", "claim_owner",
           "claim_ttl_seconds", "claimed_at", "acceptance")
#: What an undo of a delete re-creates (unmet_deps is the triggers').
STORED = tuple(c for c in CARD_COLUMNS if c != "unmet_deps")


def chunks(ids: list[str], n: int = CHUNK) -> Iterator[list[str]]:
    for i in range(0, len(ids), n):
        yield ids[i:i + n]


class Row(dict):
    """A card's stored values read inside a grooming transaction, by key or as attributes
    (``row.status``): a plain dict, a fraction of the cost of a :class:`Card` for a thousand cards."""

    __slots__ = ()

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


def row_of(values) -> Row:
    row = Row(zip(CARD_COLUMNS, values))
    if not isinstance(row["depends_on"], list):
        row["depends_on"] = []
    del row["unmet_deps"]
    return row


def values_of(card: Card | Row) -> dict[str, Any]:
    """A card's stored values (what a :class:`Change` keeps)."""
    if isinstance(card, dict):
        return {c: card[c] for c in STORED}
    return {c: getattr(card, c) for c in STORED}


@dataclass(frozen=True)
class Change:
    """What one grooming action changed.

    ``before`` / ``after``: per card id, its stored values (None: the card did not exist /
    no longer exists). ``marks``: per card, the id of the last event on it once the change was
    made. ``events``: the event ids the change itself wrote. ``labels``: a change of labels
    (:meth:`~mosaic_tui.repository.grooming.bulk.Grooming.relabel`), per card its labels before and
    after; undoing it puts the labels back and leaves the cards' values alone.
    """

    label: str
    before: dict[str, dict[str, Any] | None]
    after: dict[str, dict[str, Any] | None]
    marks: dict[str, int]
    events: frozenset[int]
    labels: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = field(default_factory=dict)

    @property
    def ids(self) -> list[str]:
        return list(self.before)


@dataclass
class Result:
    """What a grooming action did: ``done`` ids, ``refused`` {id: reason}, and the :class:`Change`
    to undo it (None when nothing changed). ``notes``: what else happened (dependents unlinked)."""

    action: str  # block, delete, move up, ...
    past: str  # blocked, deleted, moved up, ... ("{}" marks where the cards go: "put {} in phase M2")
    done: list[str] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)
    change: Change | None = None
    notes: list[str] = field(default_factory=list)
    unlinked: dict[str, list[str]] = field(default_factory=dict)  # dependent -> the deleted ids it no longer needs

    @property
    def ok(self) -> bool:
        return not self.refused

    def summary(self, *, limit: int = 3) -> str:
        """One line: ``blocked 12 cards; 2 refused: M1-03 is done, M1-04 is already blocked``."""
        n = len(self.done)
        what = self.done[0] if n == 1 else f"{n} cards"
        head = self.past.format(what) if "{}" in self.past else f"{self.past} {what}"
        if not self.refused:
            return head + (f"; {'; '.join(self.notes)}" if self.notes else "")
        if n == 0:
            head = "nothing " + (self.past.format("").replace("  ", " ") if "{}" in self.past else self.past)
        reasons = list(self.refused.values())
        more = f", and {len(reasons) - limit} more" if len(reasons) > limit else ""
        return f"{head}; {len(reasons)} refused: {', '.join(reasons[:limit])}{more}"

    def json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"action": self.action, "done": list(self.done), "refused": dict(self.refused)}
        if self.unlinked:
            out["unlinked"] = {k: list(v) for k, v in self.unlinked.items()}
        return out


# --------------------------------------------------------------------------- reading inside a transaction
def lock_cards(conn: Connection, ids: Iterable[str]) -> dict[str, Row]:
    """The cards of ``ids`` that exist, their rows locked in id order (``FOR UPDATE`` on Postgres, so two
    bulk actions, or one and an agent, never wait on each other in a circle; SQLite's write transaction
    is already exclusive)."""
    out: dict[str, Row] = {}
    for part in chunks(sorted(set(ids))):
        for values in conn.execute(select(B).where(B.c.id.in_(part)).order_by(B.c.id).with_for_update()):
            row = row_of(values)
            out[row["id"]] = row
    return out


def read_cards(conn: Connection, ids: Iterable[str]) -> dict[str, Row]:
    out: dict[str, Row] = {}
    for part in chunks(sorted(set(ids))):
        for values in conn.execute(select(B).where(B.c.id.in_(part))):
            row = row_of(values)
            out[row["id"]] = row
    return out


def last_events(conn: Connection, ids: Iterable[str]) -> dict[str, int]:
    """Per card id, the id of its newest event (0 when it has none)."""
    ids = sorted(set(ids))
    out = dict.fromkeys(ids, 0)
    for part in chunks(ids):
        q = select(EV.c.card_id, func.max(EV.c.id)).where(EV.c.card_id.in_(part)).group_by(EV.c.card_id)
        out.update({cid: n for cid, n in conn.execute(q)})
    return out


def events_after(conn: Connection, marks: dict[str, int]) -> list[EventRecord]:
    """The events on each card of ``marks`` after its mark, in id order."""
    found: list[EventRecord] = []
    ids = sorted(marks)
    for part in chunks(ids):
        low = min(marks[i] for i in part)
        q = select(EV).where(EV.c.card_id.in_(part), EV.c.id > low).order_by(EV.c.id)
        found += [ev for ev in map(event_from_row, conn.execute(q)) if ev.id > marks[ev.card_id]]
    found.sort(key=lambda ev: ev.id)
    return found


def dependents(conn: Connection, ids: Iterable[str]) -> dict[str, list[str]]:
    """Per id, the cards that depend on it (sorted)."""
    out: dict[str, list[str]] = {}
    for part in chunks(sorted(set(ids))):
        for card_id, dep_id in conn.execute(select(E.c.card_id, E.c.dep_id).where(E.c.dep_id.in_(part)).order_by(E.c.card_id)):
            out.setdefault(dep_id, []).append(card_id)
    return out


class Tracker:
    """One grooming transaction's bookkeeping: lock the cards, remember them, record the :class:`Change`.

    Its own events are those on its cards after ``start``, the newest event id when it began: event
    ids only grow (a sequence, AUTOINCREMENT), and while it holds a card's row lock nobody else
    writes that card (so nobody else's event on it can come after ``start``).
    """

    def __init__(self, conn: Connection, ids: Iterable[str]):
        self.conn = conn
        self.start: int = conn.execute(select(func.coalesce(func.max(EV.c.id), 0))).scalar_one()
        self.cards: dict[str, Row] = {}
        self._locked: set[str] = set()
        self.lock(ids)

    def lock(self, ids: Iterable[str]) -> None:
        """Lock more cards (those not locked yet) and remember how they are now."""
        new = sorted(set(ids) - self._locked)
        if not new:
            return
        self._locked.update(new)
        self.cards.update(lock_cards(self.conn, new))

    def finish(self, label: str, changed: Iterable[str],
               labels: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] | None = None) -> Change | None:
        """The :class:`Change` of the cards in ``changed`` (None when there are none); ``labels``: a
        change of labels, per card (before, after)."""
        changed = list(dict.fromkeys(changed))
        if not changed:
            return None
        after = read_cards(self.conn, changed)
        own = events_after(self.conn, dict.fromkeys(changed, self.start))
        marks: dict[str, int] = {}
        for ev in own:
            marks[ev.card_id] = ev.id
        quiet = [i for i in changed if i not in marks]  # changed nothing the log records
        if quiet:
            marks.update(last_events(self.conn, quiet))
        return Change(
            label=label,
            before={i: values_of(self.cards[i]) if i in self.cards else None for i in changed},
            after={i: values_of(after[i]) if i in after else None for i in changed},
            marks={i: marks[i] for i in changed},
            events=frozenset(ev.id for ev in own),
            labels=dict(labels or {}),
        )


# --------------------------------------------------------------------------- what others did
#: Events that change none of a card's stored values (a note, a label): they never stand in an undo's way.
SIDE_KINDS = frozenset({"noted", "labeled", "unlabeled"})
#: What stands in the way of undoing a change of labels: someone else's label change, the card deleted or re-created.
LABEL_KINDS = frozenset({"labeled", "unlabeled", "deleted", "created"})
_WAS = {
    "claimed": "claimed", "heartbeat": "renewed", "released": "released", "blocked": "blocked",
    "unblocked": "unblocked", "completed": "completed", "reopened": "reopened", "linked": "linked",
    "unlinked": "unlinked", "edited": "edited", "deleted": "deleted", "created": "created again",
}


def describe(ev: EventRecord) -> str:
    """``M1-03 was claimed by agent-3``."""
    who = f" by {ev.owner}" if ev.owner and ev.kind in {"claimed", "heartbeat", "completed"} else ""
    return f"{ev.card_id} was {_WAS.get(ev.kind, ev.kind)}{who}"


def refuse_if_touched(conn: Connection, change: Change, own: Collection[int], what: str) -> None:
    """Conflict if an event not in ``own`` touched a card of ``change`` after its mark."""
    if change.labels:  # only the labels go back: only a change of them (or of the card's existence) counts
        foreign = [ev for ev in events_after(conn, change.marks)
                   if ev.id not in own and ev.id not in change.events and ev.kind in LABEL_KINDS]
    else:
        foreign = [ev for ev in events_after(conn, change.marks)
                   if ev.id not in own and ev.id not in change.events and ev.kind not in SIDE_KINDS]
    if foreign:
        first = describe(foreign[0])
        more = f" (and {len(foreign) - 1} more changes by others)" if len(foreign) > 1 else ""
        raise Conflict(f"cannot {what} {change.label}: {first} since{more}; nothing changed")


# --------------------------------------------------------------------------- putting values back
class Restoring:
    """The undo half of :class:`~mosaic_tui.repository.backlog.Backlog` (a mixin: it uses the
    Backlog's ``db``, ``now`` and ``_reaches``)."""

    def undo_change(self, change: Change, *, own: Collection[int] = (), redo: bool = False) -> tuple[Change, list[str]]:
        """Put the cards of ``change`` back as they were before it, in one transaction.

        Refused (:class:`Conflict`, nothing written) if any event not in ``own`` (the caller's own
        later changes, e.g. a :class:`History`'s) touched those cards after the change. Returns the
        inverse change (undoing it is a redo) and notes on what could not be put back exactly
        (a re-created card's dependencies that no longer exist, an idempotency key taken since).
        """
        what = "redo" if redo else "undo"
        label = change.label if redo else f"undo of {change.label}"
        if redo and change.label.startswith("undo of "):
            label = change.label[len("undo of "):]

        if change.labels:
            return self.db.run(lambda conn: _undo_labels(conn, change, own, what, label))

        def tx(conn: Connection):
            lock_graph(conn)  # an undo may put dependency edges back: no cycle may slip in meanwhile
            tracker = Tracker(conn, change.before)
            refuse_if_touched(conn, change, own, what)
            notes = self._restore(conn, change.before, tracker.cards)
            inverse = tracker.finish(label, change.before)
            assert inverse is not None
            return inverse, notes

        return self.db.run(tx)

    def _restore(self, conn: Connection, target: dict[str, dict | None], current: dict[str, Row]) -> list[str]:
        now = self.now()
        notes: list[str] = []
        creating = [i for i, v in target.items() if v is not None and i not in current]
        deleting = [i for i, v in target.items() if v is None and i in current]
        updating = [i for i, v in target.items() if v is not None and i in current]
        gone = set(deleting)
        # Whoever still depends on a card we delete (and is not put back without it) stops the undo.
        for dep_id, users in dependents(conn, deleting).items():
            for user in users:
                if user in gone:
                    continue
                if user not in target or dep_id in (target[user] or {}).get("depends_on", []):
                    raise Conflict(f"cannot put {dep_id} away again: {user} depends on it now; nothing changed")
        for i in deleting:
            if current[i].status == "claimed":
                raise Conflict(f"cannot put {i} away again: it is claimed by {current[i].claim_owner}; nothing changed")
        exists = set(current) | set(creating)
        missing_deps = {
            d for i in creating + updating for d in target[i]["depends_on"] or [] if d not in exists
        }
        if missing_deps:
            missing_deps -= set(read_cards(conn, missing_deps))
        keys = [target[i]["idempotency_key"] for i in creating if target[i]["idempotency_key"]]
        taken = set()
        if keys:
            taken = set(conn.execute(select(B.c.idempotency_key).where(B.c.idempotency_key.in_(keys))).scalars())
        added: dict[str, list[str]] = {}
        for i in creating:
            row = dict(target[i])
            deps = [d for d in row["depends_on"] or [] if d not in missing_deps]
            if len(deps) != len(row["depends_on"] or []):
                notes.append(f"{i} re-created without {', '.join(sorted(set(row['depends_on']) - set(deps)))} (deleted since)")
            if row["idempotency_key"] in taken:
                notes.append(f"{i} re-created without its idempotency key (another card has it now)")
                row["idempotency_key"] = None
            row.update(depends_on=deps, updated_at=now)
            conn.execute(B.insert().values(**row))
            if deps:
                added[i] = deps
        for i in updating:
            want, card = target[i], current[i]
            values = {k: want[k] for k in TRACKED if want[k] != getattr(card, k)}
            if "depends_on" in values:
                old = set(card.depends_on or [])
                new_deps = [d for d in values["depends_on"] or [] if d not in missing_deps or d in old]
                values["depends_on"] = new_deps
                if [d for d in new_deps if d not in old]:
                    added[i] = [d for d in new_deps if d not in old]
            if values:
                conn.execute(update(B).where(B.c.id == i).values(**values, updated_at=now))
        for part in chunks(sorted(gone)):
            conn.execute(B.delete().where(B.c.id.in_(part)))
        for i, deps in added.items():
            if self._reaches(conn, deps, i):
                raise Conflict(f"cannot put {i} back: its dependencies would close a cycle now; nothing changed")
        return notes


def _undo_labels(conn: Connection, change: Change, own: Collection[int], what: str,
                 label: str) -> tuple[Change, list[str]]:
    """Undo (or redo) a change of labels: each card's labels as they were before it, in the caller's transaction.
    Refused, nothing written, if someone else changed those cards' labels since (an event, or labels not as
    the change left them: a writer that took no lock on the card)."""
    tracker = Tracker(conn, change.labels)
    refuse_if_touched(conn, change, own, what)
    now = labels_of(conn, change.labels)
    for card_id, (_, after) in change.labels.items():
        if card_id not in tracker.cards:
            raise Conflict(f"cannot {what} {change.label}: {card_id} was deleted since; nothing changed")
        if tuple(now[card_id]) != tuple(after):
            raise Conflict(f"cannot {what} {change.label}: the labels of {card_id} were changed since; nothing changed")
    set_labels(conn, {i: before for i, (before, _) in change.labels.items()}, now)
    inverse = tracker.finish(label, change.labels, labels={i: (a, b) for i, (b, a) in change.labels.items()})
    assert inverse is not None
    return inverse, []


# --------------------------------------------------------------------------- the stack
class History:
    """A bounded undo / redo stack of :class:`Change` s on one backlog (the board keeps one).

    ``record`` a new change (the redo stack empties); ``undo`` / ``redo`` apply the top one
    through :meth:`Restoring.undo_change`. Events written by this history's own changes never
    count as someone else's. An undo refused because someone else changed the cards is dropped
    (it could never succeed; their change stays); a failure to reach the database keeps it.
    """

    def __init__(self, backlog, limit: int = 100):
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self.backlog = backlog
        self.limit = limit
        self._undo: deque[Change] = deque(maxlen=limit)
        self._redo: deque[Change] = deque(maxlen=limit)
        self.own: set[int] = set()

    def __len__(self) -> int:
        return len(self._undo)

    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        return bool(self._redo)

    def peek(self) -> Change | None:
        return self._undo[-1] if self._undo else None

    def record(self, change: Change | None) -> None:
        if change is None:
            return
        self._undo.append(change)
        self._redo.clear()
        self.own |= change.events

    def _step(self, take: deque, put: deque, redo: bool) -> tuple[Change, list[str]]:
        what = "redo" if redo else "undo"
        if not take:
            raise Conflict(f"nothing to {what}")
        change = take[-1]
        try:
            inverse, notes = self.backlog.undo_change(change, own=self.own, redo=redo)
        except Conflict:
            take.pop()
            raise
        take.pop()
        put.append(inverse)
        self.own |= inverse.events
        return inverse, notes

    def undo(self) -> tuple[Change, list[str]]:
        """Undo the newest change; returns what the undo did (its label says what) and notes."""
        return self._step(self._undo, self._redo, redo=False)

    def redo(self) -> tuple[Change, list[str]]:
        return self._step(self._redo, self._undo, redo=True)
