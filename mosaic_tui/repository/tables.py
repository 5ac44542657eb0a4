"""The repository's SQLAlchemy handles, written once for both backends: the tables, the claim order,
the claimable predicate, and the event cursor's prepared read. (The hot verbs' statements are SQL
text in :mod:`mosaic_tui.db.verbs_sql`, shared with the CLI's one-shot path.)"""

from __future__ import annotations

from sqlalchemy import and_, bindparam, literal_column, select

from mosaic_tui.db.models import Card, Edge, Event, FlowDone, FlowMoves
from mosaic_tui.db.prepared import Prepared
from mosaic_tui.repository.rules import CLEAR_CLAIM

__all__ = ["B", "CLAIMABLE", "CLAIMED", "CLEAR_CLAIM", "DONE", "E", "EV", "EVENTS_AFTER", "LIST_ORDER", "MOVES", "READY"]

B = Card.__table__
E = Edge.__table__
EV = Event.__table__
DONE = FlowDone.__table__  # the flow side tables (migration 0004)
MOVES = FlowMoves.__table__  # SQLite only
# Literals, not parameters: the planners of both backends must see the
# partial index's predicate in the query to use the index.
READY = literal_column("'ready'")
CLAIMED = literal_column("'claimed'")
CLAIMABLE = and_(B.c.status == READY, B.c.unmet_deps == literal_column("0"))
LIST_ORDER = (B.c.priority.desc(), B.c.created_at, B.c.id)

EVENT_AT = EV.c.at.type
EVENTS_AFTER = Prepared(  # the board's and `events --follow`'s read, a few times a second under a busy fleet
    select(EV).where(EV.c.id > bindparam("after", type_=EV.c.id.type)).order_by(EV.c.id)
    .limit(bindparam("limit", type_=EV.c.id.type))
)
