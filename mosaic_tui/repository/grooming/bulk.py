"""Grooming: changes to many cards at once, each in ONE transaction, every one undoable.

* :meth:`Grooming.bulk` -- block / unblock / complete / reopen / release many cards, by the same
  rules as the single-card operations (``mosaic_tui.repository.rules``);
* :meth:`Grooming.shift_priority`, :meth:`Grooming.set_phase` -- priority +/- n, a phase;
* :meth:`Grooming.relabel` -- add and remove labels (the cards' values stay; its undo puts the labels back);
* :meth:`Grooming.move` / :meth:`Grooming.move_many` -- one place up / down in claim order;
* :meth:`Grooming.delete` -- delete cards (optionally unlinking their dependents);
* :meth:`Grooming.update_card` / :meth:`Grooming.apply_document` -- a conflict-checked edit
  (the ``$EDITOR`` document of ``mosaic_tui.repository.grooming.document``).

Each locks its cards in id order first (:class:`~mosaic_tui.repository.grooming.undo.Tracker`); cards
whose state refuses are left unchanged and listed with a reason; the
:class:`~mosaic_tui.repository.grooming.undo.Result` carries the :class:`~mosaic_tui.repository.grooming.undo.Change`
an undo needs. (A mixin of :class:`~mosaic_tui.repository.backlog.Backlog`: it uses the
Backlog's ``db``, ``now`` and ``_reaches``.)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, or_, select, update

from mosaic_tui.db.models import Card
from mosaic_tui.db.sql import lock_graph
from mosaic_tui.errors import Conflict, InvalidInput, NotFound
from mosaic_tui.repository.checks import (
    INT32,
    check_edit,
    check_id,
    check_note,
    check_owner,
    check_phase,
    check_priority,
    check_status,
)
from mosaic_tui.repository.grooming.document import parse_card
from mosaic_tui.repository.labeling import change_text, check_label_change, labels_of, write_labels
from mosaic_tui.repository.verbs import add_note
from mosaic_tui.repository.rules import allows, rule_for
from mosaic_tui.repository.rows import card_from_row
from mosaic_tui.repository.tables import B
from mosaic_tui.repository.grooming.undo import Result, Tracker, chunks, dependents

DIRECTIONS = ("up", "down")


def check_ids(ids: Iterable[str]) -> list[str]:
    """Ids given for a bulk action: each checked, duplicates dropped (first kept), at least one."""
    if isinstance(ids, str):
        ids = [ids]
    out = list(dict.fromkeys(check_id(i) for i in ids))
    if not out:
        raise InvalidInput("no card ids given")
    return out


def _order_key(card: Card) -> tuple:
    return (-card.priority, card.created_at, card.id)


def _no_card(card_id: str) -> str:
    return f"{card_id} does not exist"


def _judge(t: Tracker, ids: list[str], result: Result, refuse=None) -> list[str]:
    """The ids to act on, in the order given; a card that does not exist, or that ``refuse(card)`` gives a
    reason for, goes to ``result.refused`` with it instead (what every bulk action does first)."""
    going = []
    for i in ids:
        card = t.cards.get(i)
        why = _no_card(i) if card is None else refuse(card) if refuse is not None else None
        if why:
            result.refused[i] = why
        else:
            going.append(i)
    return going


class Grooming:
    """Bulk actions, reorder, delete and the conflict-checked edit (see the module's docstring)."""

    # -- status changes on many cards ------------------------------------------
    def bulk(self, action: str, ids: Iterable[str], *, owner: str | None = None, reason: str | None = None,
             author: str | None = None) -> Result:
        """``action`` (block, unblock, complete, reopen, release) on every card of ``ids``, one transaction.

        Cards whose status refuses (by the same rule as the single operation) or that do not exist
        are left unchanged and listed in ``refused`` with a reason (``M1-03 is done``). ``reason``: a
        note of the action's kind (block, release, complete) by ``author`` on every card changed.
        """
        if owner is not None:
            owner = check_owner(owner)
        rule = rule_for(action, owner)
        ids = check_ids(ids)
        if reason is not None:
            if rule.verb not in ("block", "release", "complete"):
                raise InvalidInput(f"{rule.verb} takes no reason")
            reason = check_note(reason, f"the {rule.verb} note")
            author = check_owner(author) if author is not None else owner
        now = self.now()
        result = Result(rule.verb, rule.past)

        def tx(conn: Connection) -> Result:
            result.done, result.refused = [], {}
            t = Tracker(conn, ids)
            going = _judge(t, ids, result, lambda card: None if allows(rule, card, owner) else rule.reason(card, owner))
            changed: set[str] = set()
            for part in chunks(going):
                cond = and_(B.c.id.in_(part), B.c.status.in_(rule.allowed))
                if rule.owned:
                    cond = and_(cond, B.c.claim_owner == owner)
                changed |= set(conn.execute(update(B).where(cond).values(**rule.values, updated_at=now).returning(B.c.id)).scalars())
            result.done = [i for i in going if i in changed]
            if reason is not None:
                for i in result.done:
                    add_note(conn, i, reason, author=author, kind=rule.verb, now=now)
            result.change = t.finish(_label(rule.verb, result.done), result.done)
            return result

        return self.db.run(tx)

    # -- priority and phase ------------------------------------------------------
    def shift_priority(self, ids: Iterable[str], delta: int) -> Result:
        """Raise (delta > 0) or lower every card's priority by ``delta``; one that would leave the
        32-bit range is refused."""
        delta = check_priority(delta)
        ids = check_ids(ids)
        now = self.now()
        verb, past = ("raise", "raised") if delta >= 0 else ("lower", "lowered")
        result = Result(f"{verb} priority", f"{past} the priority of")

        def tx(conn: Connection) -> Result:
            result.done, result.refused = [], {}
            t = Tracker(conn, ids)
            result.done = _judge(t, ids, result, lambda card: None if -INT32 <= card.priority + delta <= INT32
                                 else f"{card.id} is at the end of the priority range")
            for part in chunks(result.done):
                conn.execute(update(B).where(B.c.id.in_(part)).values(priority=B.c.priority + delta, updated_at=now))
            result.change = t.finish(f"priority {delta:+d} on {_count(result.done)}", result.done)
            return result

        return self.db.run(tx)

    def set_phase(self, ids: Iterable[str], phase: str | None) -> Result:
        """Put every card in ``phase`` (None or empty: no phase)."""
        phase = check_phase(phase)
        ids = check_ids(ids)
        now = self.now()
        shown = (phase or "").replace("{", "{{").replace("}", "}}")  # the summary formats it
        result = Result("set phase", f"put {{}} in phase {shown}" if phase else "cleared the phase of")

        def tx(conn: Connection) -> Result:
            result.done, result.refused = [], {}
            t = Tracker(conn, ids)
            result.done = _judge(t, ids, result)
            going = [i for i in result.done if t.cards[i].phase != phase]
            for part in chunks(going):
                conn.execute(update(B).where(B.c.id.in_(part)).values(phase=phase, updated_at=now))
            result.change = t.finish(f"phase {phase or '(none)'} on {_count(going)}", going)
            return result

        return self.db.run(tx)

    # -- labels ----------------------------------------------------------------------
    def relabel(self, ids: Iterable[str], add: Iterable[str] = (), remove: Iterable[str] = ()) -> Result:
        """Add ``add`` to and take ``remove`` from every card of ``ids``, one transaction, undoable.

        An invalid name, a label both added and removed, or none at all: invalid input, nothing written.
        A card that does not exist is refused; one that has the labels already is done, unchanged.
        """
        add, remove = check_label_change(add, remove)
        ids = check_ids(ids)
        terms = change_text(add, remove)
        result = Result("label", f"relabeled {{}} ({terms})")

        def tx(conn: Connection) -> Result:
            result.done, result.refused = [], {}
            t = Tracker(conn, ids)
            result.done = _judge(t, ids, result)
            before = labels_of(conn, result.done)
            write_labels(conn, result.done, add, remove)
            after = labels_of(conn, result.done)
            changed = {i: (tuple(before[i]), tuple(after[i])) for i in result.done if before[i] != after[i]}
            result.change = t.finish(f"labels {terms} on {_count(list(changed))}", changed, labels=changed)
            return result

        return self.db.run(tx)

    # -- reorder -------------------------------------------------------------------
    def move(self, card_id: str, direction: str, *, seen_status: str, **scope: Any) -> Result:
        """Move one card one place ``up`` or ``down`` in claim order within its status column.

        Refused with :class:`Conflict` when its status is no longer ``seen_status`` (an agent
        claimed it meanwhile) or when it is already first / last. ``scope``: the same filters as
        :meth:`list` (``phase``, ``search``, ``owner``): the card passes its neighbour in that view.
        """
        result = self.move_many([card_id], direction, seen={card_id: seen_status}, **scope)
        if result.refused:
            raise Conflict(result.refused[card_id])
        return result

    def move_many(
        self,
        ids: Iterable[str],
        direction: str,
        *,
        seen: Mapping[str, str] | None = None,
        phase: str | None = None,
        search: str | None = None,
        owner: str | None = None,
        where: Any = None,
    ) -> Result:
        """Move every card one place ``up`` / ``down`` in claim order within its status column, by the
        least change of its own priority that does it (``docs/semantics.md``, *Reorder*).

        Cards are taken from the front in the direction of the move (top first for ``up``), so
        neighbouring marked cards move together and keep their order; a card never passes another
        of ``ids`` that could not move. ``seen``: the status the caller saw per card; a card whose
        status changed since is refused (``M1-03 was claimed by agent-3 meanwhile``).
        """
        if direction not in DIRECTIONS:
            raise InvalidInput(f"direction must be up or down, not {direction!r}")
        ids = check_ids(ids)
        seen = dict(seen or {})
        for s in seen.values():
            check_status(s)
        up = direction == "up"
        now = self.now()
        result = Result(f"move {direction}", f"moved {direction}")
        within = None if where is None else self.condition(where)  # read before the write transaction

        def tx(conn: Connection) -> Result:
            result.done, result.refused = [], {}
            t = Tracker(conn, ids)
            present = [t.cards[i] for i in ids if i in t.cards]
            present.sort(key=_order_key, reverse=not up)
            stuck: set[str] = set()
            for i in ids:
                if i not in t.cards:
                    result.refused[i] = _no_card(i)
            for card in present:
                i = card.id
                if i in seen and seen[i] != card.status:
                    who = f" by {card.claim_owner}" if card.status == "claimed" and card.claim_owner else ""
                    result.refused[i] = f"{i} was {_STATUS_WORD[card.status]}{who} meanwhile; not moved"
                    stuck.add(i)
                    continue
                cur = card_from_row(conn.execute(select(B).where(B.c.id == i)).one())
                other = self._neighbour(conn, cur, up, phase=phase, search=search, owner=owner, within=within)
                if other is None:
                    result.refused[i] = f"{i} is already {'first' if up else 'last'} in {cur.status}"
                    stuck.add(i)
                    continue
                if other.id in stuck:
                    result.refused[i] = f"{i} stays {'below' if up else 'above'} {other.id} (selected too, cannot move)"
                    stuck.add(i)
                    continue
                priority = _passing_priority(cur, other, up)
                if not -INT32 <= priority <= INT32:
                    result.refused[i] = f"{i} is at the end of the priority range"
                    stuck.add(i)
                    continue
                conn.execute(update(B).where(B.c.id == i).values(priority=priority, updated_at=now))
                result.done.append(i)
            done = set(result.done)
            result.done = [i for i in ids if i in done]
            result.change = t.finish(f"move {direction} {_count(result.done)}", result.done)
            return result

        return self.db.run(tx)

    def _neighbour(self, conn: Connection, card: Card, up: bool, **scope: Any) -> Card | None:
        """The card right before (``up``) or after ``card`` in claim order, same status, within ``scope``."""
        p, c, i = B.c.priority, B.c.created_at, B.c.id
        if up:  # sorts before: higher priority, or same priority and older, or same time and smaller id
            cond = or_(p > card.priority, and_(p == card.priority, or_(c < card.created_at, and_(c == card.created_at, i < card.id))))
            order = (p.asc(), c.desc(), i.desc())
        else:
            cond = or_(p < card.priority, and_(p == card.priority, or_(c > card.created_at, and_(c == card.created_at, i > card.id))))
            order = (p.desc(), c.asc(), i.asc())
        q = self._list_query(card.status, scope.get("phase"), False, scope.get("search"), scope.get("owner"))
        if scope.get("within") is not None:
            q = q.where(scope["within"])
        row = conn.execute(q.where(cond).order_by(*order).limit(1)).first()
        return None if row is None else card_from_row(row)

    # -- delete ----------------------------------------------------------------------
    def delete(self, ids: Iterable[str], *, unlink_dependents: bool = False) -> Result:
        """Delete cards, one transaction; the event log keeps a ``deleted`` event for each.

        Refused: a claimed card (release it first), and one that other cards depend on -- unless
        ``unlink_dependents``, which removes it from their dependencies in the same transaction
        (those cards get an ``unlinked`` event). Cards deleted together may depend on each other.
        """
        ids = check_ids(ids)
        result = Result("delete", "deleted")
        now = self.now()

        def tx(conn: Connection) -> Result:
            result.done, result.refused, result.unlinked, result.notes = [], {}, {}, []
            lock_graph(conn)  # no link to a card while it is being deleted
            users = dependents(conn, ids)
            t = Tracker(conn, ids)
            if unlink_dependents:
                t.lock(u for us in users.values() for u in us)
            users = dependents(conn, ids)  # again, under the locks
            going = _judge(t, ids, result, lambda card: f"{card.id} is claimed by {card.claim_owner}; release it first"
                           if card.status == "claimed" else None)
            if not unlink_dependents:
                again = True
                while again:  # refusing one card may leave another with a dependent that stays
                    again = False
                    keep = set(going)
                    for i in list(going):
                        outside = [u for u in users.get(i, []) if u not in keep]
                        if outside:
                            result.refused[i] = f"{i} is needed by {', '.join(outside)}"
                            going.remove(i)
                            again = True
            gone = set(going)
            touched: list[str] = []
            if unlink_dependents:
                unlinks: dict[str, list[str]] = {}
                for i in going:
                    for u in users.get(i, []):
                        if u not in gone:
                            unlinks.setdefault(u, []).append(i)
                t.lock(unlinks)
                for u, away in sorted(unlinks.items()):
                    deps = [d for d in t.cards[u].depends_on or [] if d not in gone]
                    conn.execute(update(B).where(B.c.id == u).values(depends_on=deps, updated_at=now))
                    result.unlinked[u] = away
                    touched.append(u)
                if unlinks:
                    result.notes.append(f"unlinked {len(unlinks)} dependent{'s' if len(unlinks) != 1 else ''}")
            for part in chunks(sorted(gone)):
                conn.execute(B.delete().where(B.c.id.in_(part)))
            result.done = going
            result.change = t.finish(f"delete {_count(going)}", going + touched)
            return result

        return self.db.run(tx)

    # -- the conflict-checked edit ------------------------------------------------
    def update_card(
        self,
        card_id: str,
        *,
        expected_updated_at: datetime | None = None,
        **changes: Any,
    ) -> Result:
        """Change title, body, phase, priority, acceptance and/or ``depends_on`` in one transaction.

        The rules are ``checks.check_edit``'s (:meth:`edit`'s too). Refused (:class:`Conflict`) if the card
        changed since ``expected_updated_at``, or if the new dependencies would close a cycle; unknown
        dependencies are invalid input. Only what differs is written. Undoable (the result's ``change``).
        """
        return self._edit(card_id, expected_updated_at, changes)[0]

    def _edit(self, card_id: str, expected_updated_at: datetime | None, changes: dict[str, Any], *,
              read_back: bool = False) -> tuple[Result, Card | None]:
        """The one edit: :meth:`update_card`'s result, and with ``read_back`` the card after it (:meth:`edit`)."""
        values, deps = check_edit(card_id, changes)
        now = self.now()
        result = Result("edit", "edited")

        def tx(conn: Connection) -> tuple[Result, Card | None]:
            if deps is not None:
                lock_graph(conn)
            t = Tracker(conn, [card_id])
            card = t.cards.get(card_id)
            if card is None:
                raise NotFound(f"no card {card_id!r}")
            if expected_updated_at is not None and card.updated_at != expected_updated_at:
                raise Conflict(f"card {card_id!r} was changed by someone else; reload it and try again")
            new = {k: v for k, v in values.items() if getattr(card, k) != v}
            if deps is not None and deps != list(card.depends_on or []):
                found = set(conn.execute(select(B.c.id).where(B.c.id.in_(deps))).scalars()) if deps else set()
                missing = [d for d in deps if d not in found and d not in (card.depends_on or [])]
                if missing:
                    raise InvalidInput(f"unknown dependency: {', '.join(missing)}")
                for d in (d for d in deps if d not in (card.depends_on or [])):
                    if self._reaches(conn, [d], card_id):
                        raise Conflict(f"{card_id!r} cannot depend on {d!r}: {d!r} already depends on {card_id!r}, a cycle")
                new["depends_on"] = deps
            if new:
                conn.execute(update(B).where(B.c.id == card_id).values(**new, updated_at=now))
            result.done = [card_id] if new else []
            result.change = t.finish(f"edit {card_id}", result.done)
            return result, self._fetch(conn, card_id) if read_back else None

        return self.db.run(tx)

    def apply_document(self, card_id: str, text: str, *, expected_updated_at: datetime | None = None) -> Result:
        """Apply an edited card document (``mosaic_tui.repository.grooming.document``): parse errors are
        :class:`InvalidInput` naming the line, nothing written; then :meth:`update_card`."""
        fields = parse_card(text)
        return self.update_card(card_id, expected_updated_at=expected_updated_at, **fields)


_STATUS_WORD = {"ready": "put back to ready", "claimed": "claimed", "blocked": "blocked", "done": "completed"}


def _count(ids: list[str]) -> str:
    return ids[0] if len(ids) == 1 else f"{len(ids)} cards"


def _label(verb: str, ids: list[str]) -> str:
    return f"{verb} {_count(ids)}"


def _passing_priority(card: Card, other: Card, up: bool) -> int:
    """The priority nearest ``card``'s own that puts it right past ``other`` (before it when ``up``)."""
    older = (card.created_at, card.id) < (other.created_at, other.id)
    if up:  # before other: its priority if card wins the tie (older), else one more
        return other.priority if older else other.priority + 1
    return other.priority if not older else other.priority - 1
