"""The :class:`Backlog`: every operation of the backlog, each one transaction, the same code on
SQLite and Postgres (the meaning of each is ``shared/spec/semantics.md``; choices it leaves open
are in ``docs/semantics.md``)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, func, literal_column, select, update
from sqlalchemy.exc import IntegrityError

from mosaic_tui.db.engine import Database, open_database
from mosaic_tui.db.models import Card, EventRecord
from mosaic_tui.db.sql import LeaseEnd, insert_or_nothing, lock_graph, plan_graph_walk
from mosaic_tui.errors import Conflict, InvalidInput, NotFound
from mosaic_tui.dag.analysis import keystones
from mosaic_tui.repository import query
from mosaic_tui.repository import verbs
from mosaic_tui.repository.checks import (
    STATUSES,
    check_acceptance,
    check_dependencies,
    check_id,
    check_label,
    check_owner,
    check_phase,
    check_priority,
    check_status,
    check_text,
    check_title,
)
from mosaic_tui.repository.cursor import EventCursor
from mosaic_tui.repository.verbs import DEFAULT_TTL
from mosaic_tui.repository.rows import card_from_row, card_of, event_from_row
from mosaic_tui.repository.tables import CLAIMABLE, CLAIMED, EV, LIST_ORDER, READY, B, E
from mosaic_tui.repository.grooming.bulk import Grooming
from mosaic_tui.repository.labeling import labels_of
from mosaic_tui.repository.notes import Annotating, _block_reasons_of
from mosaic_tui.repository.rules import Rule, rule_for
from mosaic_tui.repository.grooming.undo import Restoring



def _claim_figures(conn: Connection, now: datetime) -> tuple[int, int]:
    """(claimable cards, claims whose lease has ended): the one home of both counts."""
    claimable = conn.execute(select(func.count()).select_from(B).where(CLAIMABLE)).scalar_one()
    expired = conn.execute(select(func.count()).select_from(B).where(B.c.status == CLAIMED, LeaseEnd(B) < now)).scalar_one()
    return claimable, expired


class Backlog(Grooming, Restoring, Annotating):
    """Every operation of the backlog, each one transaction, same code on both backends.

    The grooming operations (bulk actions, reorder, delete, the document edit) are in
    :class:`~mosaic_tui.repository.grooming.bulk.Grooming`; undo in :class:`~mosaic_tui.repository.grooming.undo.Restoring`;
    notes and labels in :class:`~mosaic_tui.repository.notes.Annotating`.
    """

    def __init__(
        self,
        db: Database,
        *,
        clock: Callable[[], datetime] | None = None,
        max_attempts: int | None = None,
    ):
        self.db = db
        self.clock = verbs.utcnow if clock is None else clock
        self.max_attempts = verbs.max_attempts_from_env(max_attempts)

    @classmethod
    def open(cls, url: str | None = None, *, wait: float | None = None, listen_url: str | None = None,
             read_url: str | None = None, **kw) -> Backlog:
        """``wait``: seconds to retry a full server when connecting (and to ride a failover); ``listen_url``:
        the change feed's URL; ``read_url``: a read replica for the reads."""
        return cls(open_database(url, wait=wait, listen_url=listen_url, read_url=read_url), **kw)

    @property
    def backend(self) -> str:
        return self.db.backend

    def close(self) -> None:
        self.db.dispose()

    def now(self) -> datetime:
        """Now, by this backlog's clock (``clock=``; the wall clock by default), in UTC: the one "now" of every
        operation and every read of the repository floor (flow, fleet, activity), so a fixed clock reaches all."""
        now = self.clock()
        return now if now.tzinfo else now.replace(tzinfo=UTC)

    # -- helpers ------------------------------------------------------------
    @staticmethod
    def _fetch(conn: Connection, card_id: str, *, lock: bool = False) -> Card:
        q = select(B).where(B.c.id == card_id)
        if lock:
            q = q.with_for_update()
        row = conn.execute(q).first()
        if row is None:
            raise NotFound(f"no card {card_id!r}")
        return card_from_row(row)

    def _run_verb(self, fn) -> Card | None:
        """Run a hot verb's transaction (:mod:`mosaic_tui.repository.verbs`) on the driver; its Card, built after."""
        row = self.db.run(fn, driver=True)
        return None if row is None else card_of(verbs.card_values(self.backend, row))

    @staticmethod
    def _missing(conn: Connection, ids: Iterable[str]) -> list[str]:
        ids = list(dict.fromkeys(ids))
        if not ids:
            return []
        found = set(conn.execute(select(B.c.id).where(B.c.id.in_(ids))).scalars())
        return [i for i in ids if i not in found]

    # -- create / read ------------------------------------------------------
    def create(
        self,
        id: str,
        title: str,
        *,
        body: str | None = None,
        phase: str | None = None,
        priority: int = 0,
        depends_on: Iterable[str] = (),
        acceptance: Any = None,
        idempotency_key: str | None = None,
    ) -> Card:
        check_id(id)
        title = check_title(title)
        body = check_text(body, "body")
        phase = check_phase(phase)
        priority = check_priority(priority)
        deps = check_dependencies(id, depends_on)
        acceptance = check_acceptance(acceptance)
        if idempotency_key is not None:
            idempotency_key = check_id(idempotency_key, "idempotency key")
        now = self.now()
        values = dict(
            id=id, title=title, body=body, phase=phase, priority=priority, status="ready",
            depends_on=deps, attempts=0, idempotency_key=idempotency_key, acceptance=acceptance,
            created_at=now, updated_at=now,
        )

        def existing(conn: Connection) -> Card | None:
            row = conn.execute(select(B).where(B.c.idempotency_key == idempotency_key)).first()
            return card_from_row(row) if row is not None else None

        def tx(conn: Connection) -> Card:
            if idempotency_key is not None and (card := existing(conn)) is not None:
                return card  # nothing written
            missing = self._missing(conn, deps)
            if missing:
                raise InvalidInput(f"unknown dependency: {', '.join(missing)}")
            if deps:
                lock_graph(conn)
                if self._reaches(conn, deps, id):
                    raise Conflict(f"card {id!r} would close a dependency cycle")
            try:
                if idempotency_key is None:
                    row = conn.execute(B.insert().values(**values).returning(*B.c)).first()
                else:
                    stmt = insert_or_nothing(conn, B, "idempotency_key").values(**values).returning(*B.c)
                    row = conn.execute(stmt).first()
            except IntegrityError:
                raise Conflict(f"a card with id {id!r} already exists") from None
            if row is None:  # lost an idempotency race: the winner's card, unchanged
                card = existing(conn)
                assert card is not None
                return card
            card = card_from_row(row)
            if deps:  # SQLite's AFTER INSERT trigger counts unmet_deps after RETURNING produced the row
                card.unmet_deps = conn.execute(select(B.c.unmet_deps).where(B.c.id == id)).scalar_one()
            return card

        return self.db.run(tx)

    def get(self, card_id: str) -> Card:
        check_id(card_id)
        return self.db.run(lambda conn: self._fetch(conn, card_id), write=False)

    def get_many(self, ids: Iterable[str]) -> dict[str, Card]:
        ids = list(dict.fromkeys(ids))
        if not ids:
            return {}
        rows = self.db.run(lambda conn: conn.execute(select(B).where(B.c.id.in_(ids))).all(), write=False)
        return {c.id: c for c in map(card_from_row, rows)}

    def _list_query(self, status, phase, claimable, search, owner=None, where=None, label=None, *, paged=False):
        q = select(B)
        if where is not None:
            q = q.where(self.condition(where, paged=paged))
        if label is not None:
            q = q.where(self.condition(query.Term("label", ":", check_label(label)), paged=paged))  # as `#label`
        if owner is not None:
            q = q.where(B.c.claim_owner == owner)
        if status is not None:
            statuses = [status] if isinstance(status, str) else list(status)
            for s in statuses:
                check_status(s)
            q = q.where(B.c.status.in_(statuses))
        if phase is not None:
            q = q.where(B.c.phase == phase)
        if claimable:
            q = q.where(CLAIMABLE)
        if search:
            q = q.where(query.text_match(search))
        return q

    def condition(self, where: str | query.Node | None, *, paged: bool = False):
        """The SQL condition of a query (text or parsed, ``docs/query.md``); ``unlocks`` is counted now if named;
        ``paged``: for a page in claim order (see :func:`~mosaic_tui.repository.query.condition`)."""
        node = query.parse(where) if isinstance(where, str) else where
        unlocks = None
        if "unlocks" in query.fields_used(node):
            unlocks = self.unlocks()
        return query.condition(node, self.now(), unlocks, paged=paged)

    def unlocks(self) -> dict[str, int]:
        """For each unfinished card that others wait on, how many unfinished cards transitively wait on it."""
        nodes, edges = self.open_work()
        return keystones([n[0] for n in sorted(nodes, key=lambda n: (n[3], n[0]))], {n[0]: n[1] for n in nodes}, edges)

    def list(
        self,
        *,
        status: str | Sequence[str] | None = None,
        phase: str | None = None,
        claimable: bool = False,
        search: str | None = None,
        owner: str | None = None,
        where: str | query.Node | None = None,
        limit: int | None = None,
        offset: int = 0,
        label: str | None = None,
    ) -> list[Card]:
        """Cards in claim order: priority high first, then oldest first (then id); ``owner``: claimed by;
        ``where``: a query (``docs/query.md``; a bad one raises :class:`~mosaic_tui.repository.query.QueryError`);
        ``label``: only cards with that label (what ``where="#label"`` finds)."""
        q = self._list_select(status, phase, claimable, search, owner, where, label, limit, offset)
        return [card_from_row(r) for r in self.db.run(lambda conn: conn.execute(q).all(), write=False)]

    def _list_select(self, status, phase, claimable, search, owner, where, label, limit, offset):
        q = self._list_query(status, phase, claimable, search, owner, where, label, paged=limit is not None).order_by(*LIST_ORDER)
        if limit is not None:
            q = q.limit(limit)
        return q.offset(offset) if offset else q

    def list_shown(self, *, status: str | Sequence[str] | None = None, phase: str | None = None, search: str | None = None,
                   owner: str | None = None, where: str | query.Node | None = None, limit: int | None = None,
                   offset: int = 0, label: str | None = None) -> tuple[list[Card], dict[str, list[str]], dict[str, str]]:
        """:meth:`list`'s cards with what a board's row shows besides each card, in one transaction (one read,
        not three): their labels (:meth:`labels`) and the latest block reason of the blocked ones
        (:meth:`block_reasons`)."""
        q = self._list_select(status, phase, False, search, owner, where, label, limit, offset)

        def tx(conn: Connection):
            cards = [card_from_row(r) for r in conn.execute(q).all()]
            ids = [c.id for c in cards]
            blocked = [c.id for c in cards if c.status == "blocked"]
            return cards, labels_of(conn, ids) if ids else {}, _block_reasons_of(conn, blocked) if blocked else {}

        return self.db.run(tx, write=False)

    def ids(self, *, status: str | Sequence[str] | None = None, phase: str | None = None, search: str | None = None,
            owner: str | None = None, where: str | query.Node | None = None) -> list[str]:
        """The ids of ``list``'s cards, all of them, in claim order (a column sorted otherwise in Python)."""
        q = self._list_query(status, phase, False, search, owner, where).with_only_columns(B.c.id).order_by(*LIST_ORDER)
        return list(self.db.run(lambda conn: conn.execute(q).scalars().all(), write=False))

    def open_work(self) -> tuple[list[tuple[str, str, str | None, datetime]], list[tuple[str, str]]]:
        """The unfinished cards ``(id, status, phase, created_at)`` in claim order and the dependency edges
        between them as ``(dependency, card)``, read in one transaction (what keystones and critical paths are
        made of)."""
        dep, card = B.alias("dep"), B.alias("card")
        nodes_q = (select(B.c.id, B.c.status, B.c.phase, B.c.created_at).where(B.c.status != literal_column("'done'"))
                   .order_by(*LIST_ORDER))
        edges_q = (select(E.c.dep_id, E.c.card_id).join(card, card.c.id == E.c.card_id).join(dep, dep.c.id == E.c.dep_id)
                   .where(card.c.status != literal_column("'done'"), dep.c.status != literal_column("'done'")))

        def tx(conn: Connection):
            return [tuple(r) for r in conn.execute(nodes_q)], [tuple(r) for r in conn.execute(edges_q)]

        return self.db.run(tx, write=False)

    def count(self, *, status=None, phase=None, claimable=False, search=None, owner=None, where=None) -> int:
        q = self._list_query(status, phase, claimable, search, owner, where).with_only_columns(func.count(), maintain_column_froms=True).order_by(None)
        return self.db.run(lambda conn: conn.execute(q).scalar_one(), write=False)

    def counts(self, *, phase=None, search=None, owner=None, where=None) -> dict[str, int]:
        """Cards per status (every status, 0 included) under the same filters as ``count``: one query."""
        q = (self._list_query(None, phase, False, search, owner, where)
             .with_only_columns(B.c.status, func.count(), maintain_column_froms=True).group_by(B.c.status).order_by(None))
        found = dict(self.db.run(lambda conn: conn.execute(q).all(), write=False))
        return {s: found.get(s, 0) for s in STATUSES}

    # -- claims (the hot verbs: mosaic_tui.repository.verbs, shared with the CLI's one-shot path) ----------
    def claim(self, owner: str, ttl: int = DEFAULT_TTL, id: str | None = None) -> Card | None:
        """Take the first claimable card (or the named one) for ``owner``; None when there is none.

        Ended leases are reclaimed first, in the same transaction, so a lease
        that ran out returns its card to the queue without a separate reclaimer.
        """
        return self._run_verb(verbs.claim(owner, ttl, id, clock=self.now, max_attempts=self.max_attempts))

    def heartbeat(self, card_id: str, owner: str, ttl: int = DEFAULT_TTL) -> Card:
        """Extend the owner's lease to now + ttl, keeping claimed_at (the lease stays claimed_at + ttl)."""
        return self._run_verb(verbs.heartbeat(card_id, owner, ttl, clock=self.now))

    def reclaim(self, id: str | None = None) -> list[str]:
        """Release every claim whose lease has ended, or the named claim whatever its lease."""
        now = self.now()
        if id is None:
            return self.db.run(lambda tx: verbs.reclaim_expired(tx, now, self.max_attempts), driver=True)
        return [self._release(id).id]

    def release(self, card_id: str, owner: str | None = None, *, reason: str | None = None,
                author: str | None = None) -> Card:
        """``reclaim(card_id)``, then the card as it is now: one transaction.

        With ``owner``: only while ``owner`` holds the claim (an agent giving back its own card).
        ``reason``: a ``release`` note by ``author`` (default: ``owner``), in the same transaction.
        """
        owner = None if owner is None else check_owner(owner)
        return self._release(card_id, read_back=True, owner=owner, reason=reason, author=author or owner)

    def _release(self, card_id: str, *, read_back: bool = False, owner: str | None = None, reason: str | None = None,
                 author: str | None = None) -> Card:
        return self._apply_rule(card_id, rule_for("release", owner), owner, read_back=read_back, reason=reason,
                                author=author)

    # -- status changes (their rules: mosaic_tui.repository.rules) ------------
    def _apply_rule(self, card_id: str, rule: Rule, owner: str | None = None, *, read_back: bool = False,
                    reason: str | None = None, author: str | None = None) -> Card:
        """The rule's change on one card; ``reason``: a note of the rule's kind by ``author``, same transaction."""
        fn = verbs.apply(card_id, rule, owner, clock=self.now, read_back=read_back)
        return self._run_verb(verbs.with_note(fn, card_id, reason, author=author, kind=rule.verb, clock=self.now))

    def block(self, card_id: str, *, reason: str | None = None, author: str | None = None) -> Card:
        """Block the card; ``reason``: a ``block`` note by ``author``, in the same transaction."""
        return self._apply_rule(card_id, rule_for("block"), reason=reason, author=author)

    def unblock(self, card_id: str) -> Card:
        return self._apply_rule(card_id, rule_for("unblock"))

    def complete(self, card_id: str, owner: str | None = None, *, summary: str | None = None,
                 author: str | None = None) -> Card:
        """Mark the card done; ``summary``: a ``complete`` note by ``author`` (default: ``owner``), same transaction."""
        return self._apply_rule(card_id, rule_for("complete", owner), owner, reason=summary, author=author or owner)

    def reopen(self, card_id: str) -> Card:
        return self._apply_rule(card_id, rule_for("reopen"))

    def edit(
        self,
        card_id: str,
        *,
        expected_updated_at: datetime | None = None,
        **changes: Any,
    ) -> Card:
        """Change title, body, phase, priority, acceptance and/or ``depends_on``; refuse if the card changed
        since ``expected_updated_at``. The board's edit (:meth:`update_card`): the same rules
        (``checks.check_edit``), the same transaction; the card as it is after."""
        return self._edit(card_id, expected_updated_at, changes, read_back=True)[1]

    # -- the dependency graph -----------------------------------------------
    @staticmethod
    def _reaches(conn: Connection, starts: Sequence[str], target: str) -> bool:
        """Does any of ``starts`` depend, directly or not, on ``target``? (iterative, any depth)"""
        plan_graph_walk(conn)
        up = select(E.c.dep_id.label("id")).where(E.c.card_id.in_(list(starts))).cte("up", recursive=True)
        up = up.union(select(E.c.dep_id).join(up, E.c.card_id == up.c.id))
        hit = conn.execute(select(literal_column("1")).select_from(up).where(up.c.id == target).limit(1)).first()
        return hit is not None or target in starts

    def link(self, from_id: str, to_id: str) -> Card:
        """``from_id`` depends on ``to_id``. Linking twice is a no-op."""
        check_id(from_id, "from id")
        check_id(to_id, "to id")
        if from_id == to_id:
            raise InvalidInput(f"card {from_id!r} cannot depend on itself")
        now = self.now()

        def tx(conn: Connection) -> Card:
            lock_graph(conn)
            card = self._fetch(conn, from_id, lock=True)
            self._fetch(conn, to_id)
            if to_id in card.depends_on:
                return card
            if self._reaches(conn, [to_id], from_id):
                raise Conflict(f"{from_id!r} cannot depend on {to_id!r}: {to_id!r} already depends on {from_id!r}, a cycle")
            row = conn.execute(
                update(B).where(B.c.id == from_id).values(depends_on=[*card.depends_on, to_id], updated_at=now).returning(*B.c)
            ).first()
            return card_from_row(row)

        return self.db.run(tx)

    def unlink(self, from_id: str, to_id: str) -> Card:
        check_id(from_id, "from id")
        check_id(to_id, "to id")
        now = self.now()

        def tx(conn: Connection) -> Card:
            lock_graph(conn)
            card = self._fetch(conn, from_id, lock=True)
            if to_id not in card.depends_on:
                raise NotFound(f"card {from_id!r} does not depend on {to_id!r}")
            deps = [d for d in card.depends_on if d != to_id]
            row = conn.execute(update(B).where(B.c.id == from_id).values(depends_on=deps, updated_at=now).returning(*B.c)).first()
            return card_from_row(row)

        return self.db.run(tx)

    def graph(self, card_id: str) -> tuple[dict[str, Card], list[tuple[str, str]]]:
        """The card, everything it needs (recursively) and everything it unlocks (recursively).

        Returns the cards by id and the edges ``(card, dependency)`` among them;
        an edge to an unknown id is kept (its card is absent).
        """
        check_id(card_id)

        def tx(conn: Connection):
            self._fetch(conn, card_id)
            plan_graph_walk(conn)
            up = select(E.c.card_id, E.c.dep_id).where(E.c.card_id == card_id).cte("up", recursive=True)
            up = up.union(select(E.c.card_id, E.c.dep_id).join(up, E.c.card_id == up.c.dep_id))
            down = select(E.c.card_id, E.c.dep_id).where(E.c.dep_id == card_id).cte("down", recursive=True)
            down = down.union(select(E.c.card_id, E.c.dep_id).join(down, E.c.dep_id == down.c.card_id))
            edges = {tuple(r) for r in conn.execute(select(up.c.card_id, up.c.dep_id))}
            edges |= {tuple(r) for r in conn.execute(select(down.c.card_id, down.c.dep_id))}
            ids = {card_id} | {a for a, _ in edges} | {b for _, b in edges}
            cards = {}
            ids_list = list(ids)
            for i in range(0, len(ids_list), 500):
                for r in conn.execute(select(B).where(B.c.id.in_(ids_list[i:i + 500]))):
                    c = card_from_row(r)
                    cards[c.id] = c
            return cards, sorted(edges)

        return self.db.run(tx, write=False)

    def phases(self) -> list[str]:
        """The distinct phases in use, sorted (cards without a phase are not counted)."""
        q = select(B.c.phase).where(B.c.phase.is_not(None)).distinct().order_by(B.c.phase)
        return list(self.db.run(lambda conn: conn.execute(q).scalars().all(), write=False))

    def edges(self, ids: Iterable[str] | None = None) -> list[tuple[str, str]]:
        """Dependency edges ``(card, dependency)``, all of them or those leaving ``ids``."""
        q = select(E.c.card_id, E.c.dep_id).order_by(E.c.card_id, E.c.dep_id)
        if ids is not None:
            q = q.where(E.c.card_id.in_(list(ids)))
        return [tuple(r) for r in self.db.run(lambda conn: conn.execute(q).all(), write=False)]

    # -- stats & events -----------------------------------------------------
    def claim_figures(self) -> dict[str, int]:
        """``claimable`` and ``expiredClaimCount`` as :meth:`stats` counts them, alone: two index scans (the
        claim's partial index, the claimed cards'), a few milliseconds at 100,000 cards -- what the board's
        footer reads along with a look that moved a card."""
        now = self.now()
        claimable, expired = self.db.run(lambda conn: _claim_figures(conn, now), write=False)
        return {"claimable": claimable, "expiredClaimCount": expired}

    def stats(self, *, recent: bool = True) -> dict[str, Any]:
        """Counts and health figures; ``recent=False`` leaves out the last hour's claims and completions
        (the costliest part: a scan of the hour's events)."""
        now = self.now()
        hour_ago = now - timedelta(hours=1)

        def tx(conn: Connection) -> dict[str, Any]:
            counts = dict.fromkeys(STATUSES, 0)
            for status, n in conn.execute(select(B.c.status, func.count()).group_by(B.c.status)):
                counts[status] = n
            claimable, expired = _claim_figures(conn, now)
            oldest = conn.execute(select(func.min(B.c.created_at)).where(B.c.status == READY)).scalar()
            if not recent:
                return counts, claimable, oldest, expired, None
            last_hour = dict(
                conn.execute(
                    select(EV.c.kind, func.count())
                    .where(EV.c.at >= hour_ago, EV.c.kind.in_(["claimed", "completed"]))
                    .group_by(EV.c.kind)
                ).all()
            )
            return counts, claimable, oldest, expired, last_hour

        counts, claimable, oldest, expired, last_hour = self.db.run(tx, write=False)
        if isinstance(oldest, str):  # aggregate over a typed column comes back raw on SQLite
            oldest = datetime.fromisoformat(oldest).replace(tzinfo=UTC)
        out = {
            "counts": counts,
            "total": sum(counts.values()),
            "claimable": claimable,
            "oldestReadyAgeSeconds": None if oldest is None else max(0, int((now - oldest).total_seconds())),
            "expiredClaimCount": expired,
        }
        if last_hour is not None:
            out["claimsLastHour"] = last_hour.get("claimed", 0)
            out["completionsLastHour"] = last_hour.get("completed", 0)
        return out

    def events(self, *, card: str | None = None, since: int | None = None, limit: int | None = None) -> list[EventRecord]:
        q = select(EV).order_by(EV.c.id)
        if card is not None:
            q = q.where(EV.c.card_id == check_id(card))
        if since is not None:
            q = q.where(EV.c.id > since)
        if limit is not None:
            q = q.limit(limit)
        return [event_from_row(r) for r in self.db.run(lambda conn: conn.execute(q).all(), write=False)]

    def last_event_id(self) -> int:
        return self.db.run(lambda conn: conn.execute(select(func.coalesce(func.max(EV.c.id), 0))).scalar_one(), write=False)

    def feed(self):
        """A change feed on this backlog (see ``mosaic_tui.db.feed``); close it when done."""
        from mosaic_tui.db.feed import open_feed

        return open_feed(self.db.target, self.db.listen, self.db.replica.target if self.db.replica else None)

    def cursor(self, after: int | None = None) -> EventCursor:
        """An event cursor starting after event ``after`` (default: the newest now)."""
        return EventCursor(self, after)

    def schema_version(self) -> str | None:
        from mosaic_tui.db.schema import current_version

        return self.db.run(current_version, write=False)
