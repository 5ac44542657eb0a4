"""The agent's hot verbs, written once: claim, heartbeat, complete and the other status changes.

Each verb checks its input at once (nothing written, nothing connected) and
returns the function of its transaction, which runs the statements of
:mod:`mosaic_tui.db.verbs_sql` on a driver transaction (or a SQLAlchemy
``Connection`` inside its transaction) and returns the card's raw row. Two callers run the very same functions:

* :class:`~mosaic_tui.repository.Backlog`, in its engine's pooled connections
  (``Database.run(driver=True)``), and builds a ``Card`` from the row;
* :func:`run_once`, the CLI's one-shot path, through :mod:`mosaic_tui.db.connections`:
  the driver alone, no SQLAlchemy, no SQLModel, no pydantic (an agent's
  ``claim --json`` pays the start-up of a process each time).

So both paths check the same things, run the same statements and refuse with
the same words; the card's JSON (:func:`card_json`) is one function too.
Imports only the standard library and the light modules of the floor below.
"""

from __future__ import annotations

import math
import os
from collections import namedtuple
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from mosaic_tui.db import url

from mosaic_tui.db import connections

from mosaic_tui.db import verbs_sql
from mosaic_tui.db.connections import NeedsFullPath
from mosaic_tui.db.verbs_sql import Tx
from mosaic_tui.errors import Conflict, InvalidInput, NotFound
from mosaic_tui.repository.checks import INT32, check_id, check_note, check_owner, check_ttl
from mosaic_tui.repository.rules import Rule, rule_for

__all__ = ["DEFAULT_TTL", "NeedsFullPath", "apply", "card_json", "claim", "complete", "heartbeat", "run_once",
           "transition"]

DEFAULT_TTL = 900
#: A card as a plain row: attribute access like a ``Card`` (``card_json`` and the refusals read either).
CardRow = namedtuple("CardRow", verbs_sql.CARD_COLUMNS)


def utcnow() -> datetime:
    return datetime.now(UTC)


def iso(ts: datetime | None) -> str | None:
    return ts.astimezone(UTC).isoformat() if ts is not None else None


def card_json(card) -> dict[str, Any]:
    """A card (a ``Card`` or a :data:`CardRow`) with the Mosaic fleet's JSON keys."""
    return {
        "id": card.id,
        "title": card.title,
        "body": card.body,
        "phase": card.phase,
        "priority": card.priority,
        "status": card.status,
        "dependsOn": list(card.depends_on or []),
        "claimOwner": card.claim_owner,
        "claimTtlSeconds": card.claim_ttl_seconds,
        "claimedAt": iso(card.claimed_at),
        "attempts": card.attempts,
        "idempotencyKey": card.idempotency_key,
        "acceptance": card.acceptance,
        "createdAt": iso(card.created_at),
        "updatedAt": iso(card.updated_at),
    }


def card_values(backend: str, row: tuple) -> dict[str, Any]:
    """A raw card row as Python values by column name (a ``depends_on`` that is not a list reads as [])."""
    values = verbs_sql.decode_card(backend, row)
    if not isinstance(values["depends_on"], list):
        values["depends_on"] = []
    return values


def max_attempts_from_env(given: int | None = None) -> int | None:
    """The attempts cap: ``given``, else ``MOSAIC_MAX_ATTEMPTS``, else None (no cap)."""
    if given is None and os.environ.get("MOSAIC_MAX_ATTEMPTS"):
        try:
            given = int(os.environ["MOSAIC_MAX_ATTEMPTS"])
        except ValueError:
            raise InvalidInput("MOSAIC_MAX_ATTEMPTS must be an integer") from None
    if given is not None and given < 1:
        raise InvalidInput("the attempts cap must be at least 1")
    return given


# --------------------------------------------------------------------------- inside a transaction
def fetched(tx: Tx, card_id: str, *, lock: bool = False) -> CardRow:
    """Card ``card_id`` (locked for update if ``lock``), or NotFound."""
    row = verbs_sql.first(tx, verbs_sql.FETCH_LOCKED if lock else verbs_sql.FETCH, card_id=card_id)
    if row is None:
        raise NotFound(f"no card {card_id!r}")
    return CardRow(**card_values(tx.backend, row))


def duration(seconds: float) -> str:
    """A short human duration: 45s, 12m, 3h05m, 2d04h (the board's, and the reclaim note's)."""
    s = int(abs(seconds))
    if s < 60:
        return f"{s}s"
    m, s = divmod(s, 60)
    if m < 60:
        return f"{m}m{s:02d}s" if m < 10 else f"{m}m"
    h, m = divmod(m, 60)
    if h < 24:
        return f"{h}h{m:02d}m"
    d, h = divmod(h, 24)
    return f"{d}d{h:02d}h"


def reclaim_note(owner: str | None, ttl: int | None, attempts: int, max_attempts: int | None) -> str:
    """The system note of a reclaimed lease: ``agent-3's lease ended after 15m; attempt 2 of 5``."""
    who = f"{owner}'s lease" if owner else "the lease"
    text = f"{who} ended after {'?' if ttl is None else duration(ttl)}; attempt {attempts}" + (f" of {max_attempts}" if max_attempts else "")
    if max_attempts is not None and attempts >= max_attempts:
        text += "; blocked: no attempts left"
    return text


def add_note(tx: Tx, card_id: str, body: str, *, author: str | None, kind: str, now: datetime) -> tuple:
    """Append a note to card ``card_id`` (NotFound if there is none); its raw row. Inputs checked by the caller."""
    tx = verbs_sql.as_tx(tx)
    if verbs_sql.first(tx, verbs_sql.CARD_KEPT, card_id=card_id) is None:
        raise NotFound(f"no card {card_id!r}")
    return verbs_sql.first(tx, verbs_sql.ADD_NOTE, card_id=card_id, author=author, kind=kind, body=body, now=now)


def reclaim_expired(tx: Tx, now: datetime, max_attempts: int | None) -> list[str]:
    """Ended leases back to ready (to blocked under the attempts cap), each with a system note saying so."""
    tx = verbs_sql.as_tx(tx)
    ended = verbs_sql.rows(tx, verbs_sql.ENDED, now=now)
    released: list[str] = []
    for card_id, owner, ttl, attempts in ended:
        capped = max_attempts is not None and attempts >= max_attempts
        if verbs_sql.first(tx, verbs_sql.RECLAIM_CAPPED if capped else verbs_sql.RECLAIM, card_id=card_id, now=now) is None:
            continue
        verbs_sql.first(tx, verbs_sql.ADD_NOTE, card_id=card_id, author=None, kind="system", now=now,
                     body=reclaim_note(owner, ttl, attempts, max_attempts))
        released.append(card_id)
    return sorted(released)


def with_note(fn: Callable[[Tx], tuple], card_id: str, body: str | None, *, author: str | None, kind: str,
              clock: Clock | None = None) -> Callable[[Tx], tuple]:
    """``fn`` (a verb's transaction on ``card_id``), then, if ``body``, a note of ``kind`` on the card, in the
    same transaction (the note is written only if the verb was). ``body`` is checked now."""
    if body is None:
        return fn
    body = check_note(body, f"the {kind} note")
    if author is not None:
        author = check_owner(author)
    now = (clock or utcnow)()

    def tx(t: Tx) -> tuple:
        row = fn(t)
        add_note(t, card_id, body, author=author, kind=kind, now=now)
        return row

    return tx


# --------------------------------------------------------------------------- the verbs
Clock = Callable[[], datetime]


def claim(owner: str, ttl: Any = DEFAULT_TTL, card_id: str | None = None, *, clock: Clock | None = None,
          max_attempts: int | None = None) -> Callable[[Tx], tuple | None]:
    """Take the first claimable card (or ``card_id`` if it is claimable) for ``owner``: its row, or None.

    Ended leases are reclaimed first, in the same transaction, so a lease that
    ran out returns its card to the queue without a separate reclaimer.
    """
    owner = check_owner(owner)
    ttl = check_ttl(ttl)
    if card_id is not None:
        check_id(card_id)
    now = (clock or utcnow)()  # utcnow looked up now: a test may freeze it for both paths
    stmt = verbs_sql.CLAIM if card_id is None else verbs_sql.CLAIM_BY_ID

    def tx(t: Tx) -> tuple | None:
        t = verbs_sql.as_tx(t)
        reclaim_expired(t, now, max_attempts)
        row = verbs_sql.first(t, stmt, owner=owner, ttl=ttl, now=now, card_id=card_id)
        if row is None and card_id is not None:
            fetched(t, card_id)  # NotFound if there is no such card
        return row

    return tx


def heartbeat(card_id: str, owner: str, ttl: Any = DEFAULT_TTL, *,
              clock: Clock | None = None) -> Callable[[Tx], tuple]:
    """Extend the owner's lease to now + ttl, keeping claimed_at (the lease stays claimed_at + ttl)."""
    check_id(card_id)
    owner = check_owner(owner)
    ttl = check_ttl(ttl)
    now = (clock or utcnow)()  # utcnow looked up now: a test may freeze it for both paths

    def tx(t: Tx) -> tuple:
        t = verbs_sql.as_tx(t)
        card = fetched(t, card_id, lock=True)
        if card.status != "claimed":
            raise Conflict(f"card {card_id!r} is not claimed (it is {card.status})")
        if card.claim_owner != owner:
            raise Conflict(f"card {card_id!r} is claimed by {card.claim_owner!r}, not {owner!r}")
        if card.claimed_at is None:
            return verbs_sql.first(t, verbs_sql.HEARTBEAT_UNSTAMPED, card_id=card_id, ttl=ttl, now=now)
        new_ttl = math.ceil(max(0.0, (now - card.claimed_at).total_seconds())) + ttl
        if new_ttl > INT32:
            raise InvalidInput("the lease would be too long")
        return verbs_sql.first(t, verbs_sql.HEARTBEAT, card_id=card_id, ttl=new_ttl, now=now)

    return tx


def transition(card_id: str, allowed: Sequence[str], values: dict[str, Any], refuse: Callable[[Any], str],
               owner: str | None = None, *, clock: Clock | None = None,
               read_back: bool = False) -> Callable[[Tx], tuple]:
    """Move a card between statuses atomically (held by ``owner`` if given), or explain why not (Conflict).

    ``values``: column -> a status or None. ``read_back``: the row as read again after the update.
    """
    check_id(card_id)
    stmt = verbs_sql.transition(tuple(allowed), tuple(values.items()), owned=owner is not None)
    now = (clock or utcnow)()  # utcnow looked up now: a test may freeze it for both paths

    def tx(t: Tx) -> tuple:
        t = verbs_sql.as_tx(t)
        row = verbs_sql.first(t, stmt, card_id=card_id, now=now, owner=owner)
        if row is None:
            raise Conflict(refuse(fetched(t, card_id)))
        return verbs_sql.first(t, verbs_sql.FETCH, card_id=card_id) if read_back else row

    return tx


def apply(card_id: str, rule: Rule, owner: str | None = None, *, clock: Clock | None = None,
          read_back: bool = False) -> Callable[[Tx], tuple]:
    """A status change of :mod:`mosaic_tui.repository.rules` on one card (held by ``owner`` if the rule is an
    owned one), refused with the rule's words."""
    if rule.owned:
        owner = check_owner(owner)
    return transition(card_id, rule.allowed, rule.values, lambda c: rule.refuse(c, owner),
                      owner if rule.owned else None, clock=clock, read_back=read_back)


def complete(card_id: str, owner: str | None = None, *, clock: Clock | None = None) -> Callable[[Tx], tuple]:
    """Mark the card done (its claim cleared); with ``owner``, only while ``owner`` holds the claim."""
    return apply(card_id, rule_for("complete", owner), owner, clock=clock)


# --------------------------------------------------------------------------- the one-shot path
_VERBS = {"claim": claim, "heartbeat": heartbeat, "complete": complete}


def run_once(verb: str, args: dict[str, Any], *, db: str | None = None, wait: float | None = None,
             listen_url: str | None = None, read_url: str | None = None) -> dict[str, Any] | None:
    """``verb`` ("claim", "heartbeat" or "complete") with ``args`` (its keyword arguments) on the backlog
    at ``db`` (else ``DATABASE_URL``, else the default), without SQLAlchemy: the card's JSON (None: nothing
    to claim). The same checks, in the same order, as ``Backlog.open(db)`` then the verb; NeedsFullPath
    (nothing written) where only the full path can answer exactly so."""
    where = url.resolve(db)
    if where.backend == "postgresql":
        url.resolve_listen(listen_url)  # a listen or read URL the full path would refuse is refused here too
        url.resolve_read(read_url)
        connections.pg_direct()  # a bad MOSAIC_PG_DIRECT is refused before anything else, as the engine does
    max_attempts = max_attempts_from_env()
    if verb == "claim":
        args = {**args, "max_attempts": max_attempts}
    fn = _VERBS[verb](**args)
    row = connections.run(where, fn, wait=wait)
    return None if row is None else card_json(CardRow(**card_values(where.backend, row)))
