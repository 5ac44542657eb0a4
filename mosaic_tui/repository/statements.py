"""The repository's SQL, written once for both backends: table handles, the claim order, and the
hot path's prepared statements (compiled once per dialect, run straight through the driver; see
:mod:`mosaic_tui.db.prepared`)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, bindparam, literal_column, select, update

from mosaic_tui.db.models import Card, Edge, Event
from mosaic_tui.db.prepared import Prepared
from mosaic_tui.db.sql import LeaseEnd
from mosaic_tui.db.types import UTCDateTime

B = Card.__table__
E = Edge.__table__
EV = Event.__table__
# Literals, not parameters: the planners of both backends must see the
# partial index's predicate in the query to use the index.
READY = literal_column("'ready'")
CLAIMED = literal_column("'claimed'")
STATUS_LITERALS = {
    "ready": READY,
    "claimed": CLAIMED,
    "blocked": literal_column("'blocked'"),
    "done": literal_column("'done'"),
}
CLAIMABLE = and_(B.c.status == READY, B.c.unmet_deps == literal_column("0"))
LIST_ORDER = (B.c.priority.desc(), B.c.created_at, B.c.id)
CLEAR_CLAIM = {"claim_owner": None, "claim_ttl_seconds": None, "claimed_at": None}

# --------------------------------------------------------------------------- the hot path's statements
# Written once, for both backends, and run as Prepared statements (compiled
# once per dialect, straight through the driver): see mosaic_tui.db.prepared.
NOW = bindparam("now", type_=UTCDateTime())
CARD_ID = bindparam("card_id", type_=B.c.id.type)
OWNER = bindparam("owner", type_=B.c.claim_owner.type)

FETCH = Prepared(select(B).where(B.c.id == CARD_ID))
FETCH_LOCKED = Prepared(select(B).where(B.c.id == CARD_ID).with_for_update())


def _reclaim_statement(to_status: str, capped: bool) -> Prepared:
    """Ended leases back to ``to_status`` (those claimed ``max_attempts`` times or more, if ``capped``)."""
    expired = (
        select(B.c.id)
        .where(B.c.status == CLAIMED, LeaseEnd(B) < NOW)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    cond = B.c.id.in_(expired)
    if capped:
        cond = and_(cond, B.c.attempts >= bindparam("max_attempts", type_=B.c.attempts.type))
    return Prepared(update(B).where(cond).values(status=to_status, updated_at=NOW, **CLEAR_CLAIM).returning(B.c.id))


RECLAIM = _reclaim_statement("ready", capped=False)
RECLAIM_CAPPED = _reclaim_statement("blocked", capped=True)


def _claim_statement(by_id: bool) -> Prepared:
    pick = select(B.c.id).where(CLAIMABLE)
    if by_id:
        pick = pick.where(B.c.id == CARD_ID)
    pick = pick.order_by(*LIST_ORDER).limit(1).with_for_update(skip_locked=True).cte("pick")
    return Prepared(
        update(B)
        .where(B.c.id == pick.c.id)
        .values(status="claimed", claim_owner=OWNER, claim_ttl_seconds=bindparam("ttl", type_=B.c.claim_ttl_seconds.type),
                claimed_at=NOW, attempts=B.c.attempts + 1, updated_at=NOW)
        .returning(*B.c)
    )


EVENT_AT = EV.c.at.type
EVENTS_AFTER = Prepared(  # the board's and `events --follow`'s read, a few times a second under a busy fleet
    select(EV).where(EV.c.id > bindparam("after", type_=EV.c.id.type)).order_by(EV.c.id)
    .limit(bindparam("limit", type_=EV.c.id.type))
)

CLAIM = _claim_statement(by_id=False)
CLAIM_BY_ID = _claim_statement(by_id=True)

HEARTBEAT = Prepared(
    update(B).where(B.c.id == CARD_ID)
    .values(claim_ttl_seconds=bindparam("ttl", type_=B.c.claim_ttl_seconds.type), updated_at=NOW)
    .returning(*B.c)
)
HEARTBEAT_UNSTAMPED = Prepared(  # a claimed card without claimed_at (written by another program)
    update(B).where(B.c.id == CARD_ID)
    .values(claimed_at=NOW, claim_ttl_seconds=bindparam("ttl", type_=B.c.claim_ttl_seconds.type), updated_at=NOW)
    .returning(*B.c)
)

_TRANSITIONS: dict[tuple, Prepared] = {}


def transition_statement(allowed: tuple[str, ...], values: dict[str, Any], owned: bool) -> Prepared:
    """``UPDATE backlog SET values WHERE id = :card_id AND status IN (allowed) [AND claim_owner = :owner]``, once per shape."""
    key = (allowed, tuple(values.items()), owned)
    stmt = _TRANSITIONS.get(key)
    if stmt is None:
        cond = and_(B.c.id == CARD_ID, B.c.status.in_([STATUS_LITERALS[s] for s in allowed]))
        if owned:
            cond = and_(cond, B.c.claim_owner == OWNER)
        stmt = _TRANSITIONS[key] = Prepared(update(B).where(cond).values(**values, updated_at=NOW).returning(*B.c))
    return stmt
