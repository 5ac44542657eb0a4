"""The tables, as SQLModel classes.

The schema itself is created by the migrations in ``migrations/`` (raw DDL per
backend, so that the Postgres ``backlog`` table is exactly the fleet's); these
classes describe it for queries. ``backlog`` columns are the contract of
``shared/spec/mosaic-backlog.sql``; ``unmet_deps`` and the side tables are
this project's additions, all maintained by triggers.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import BigInteger, Column, Enum, Integer, Text
from sqlalchemy.orm import configure_mappers
from sqlmodel import Field, SQLModel

from mosaic_tui.db.verbs_sql import CARD_COLUMNS, STATUSES
from mosaic_tui.db.types import UTCDateTime, json_type

status_type = Enum(*STATUSES, name="backlog_status", native_enum=True, create_constraint=False, validate_strings=False)


class Card(SQLModel, table=True):
    __tablename__ = "backlog"

    id: str = Field(sa_column=Column(Text, primary_key=True, nullable=False))
    title: str = Field(sa_column=Column(Text, nullable=False))
    body: str | None = Field(default=None, sa_column=Column(Text))
    phase: str | None = Field(default=None, sa_column=Column(Text))
    priority: int = Field(default=0, sa_column=Column(Integer, nullable=False, default=0))
    status: str = Field(default="ready", sa_column=Column(status_type, nullable=False, default="ready"))
    depends_on: list[str] = Field(default_factory=list, sa_column=Column(json_type(), nullable=False))
    claim_owner: str | None = Field(default=None, sa_column=Column(Text))
    claim_ttl_seconds: int | None = Field(default=None, sa_column=Column(Integer))
    claimed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    attempts: int = Field(default=0, sa_column=Column(Integer, nullable=False, default=0))
    idempotency_key: str | None = Field(default=None, sa_column=Column(Text, unique=True))
    acceptance: Any | None = Field(default=None, sa_column=Column(json_type(none_as_null=True)))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    # Ours: how many ids in depends_on do not name a done card (trigger-maintained).
    unmet_deps: int = Field(default=0, sa_column=Column(Integer, nullable=False, default=0))


class Edge(SQLModel, table=True):
    """One dependency edge, ``card_id`` depends on ``dep_id`` (trigger-maintained from depends_on)."""

    __tablename__ = "backlog_deps"

    card_id: str = Field(sa_column=Column(Text, primary_key=True))
    dep_id: str = Field(sa_column=Column(Text, primary_key=True, index=True))


class Event(SQLModel, table=True):
    """One change to a card, written by the database's triggers."""

    __tablename__ = "backlog_events"

    id: int = Field(sa_column=Column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True))
    card_id: str = Field(sa_column=Column(Text, nullable=False))
    kind: str = Field(sa_column=Column(Text, nullable=False))
    old_status: str | None = Field(default=None, sa_column=Column(Text))
    new_status: str | None = Field(default=None, sa_column=Column(Text))
    owner: str | None = Field(default=None, sa_column=Column(Text))
    at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class Note(SQLModel, table=True):
    """One note of a card's append-only thread (migration 0003); ``kind``: note, block, release, complete, system."""

    __tablename__ = "backlog_notes"

    id: int = Field(sa_column=Column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True))
    card_id: str = Field(sa_column=Column(Text, nullable=False))
    author: str | None = Field(default=None, sa_column=Column(Text))
    kind: str = Field(sa_column=Column(Text, nullable=False))
    body: str = Field(sa_column=Column(Text, nullable=False))
    at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class Label(SQLModel, table=True):
    """One label on one card (migration 0003)."""

    __tablename__ = "backlog_labels"

    card_id: str = Field(sa_column=Column(Text, primary_key=True))
    label: str = Field(sa_column=Column(Text, primary_key=True))


class FlowDone(SQLModel, table=True):
    """One completion event with its cycle and lead time (ms) and its card's phase, written by triggers
    (migration 0004) for the flow figures."""

    __tablename__ = "backlog_flow_done"

    at: datetime = Field(sa_column=Column(UTCDateTime(), primary_key=True))
    event_id: int = Field(sa_column=Column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True))
    card_id: str = Field(sa_column=Column(Text, nullable=False))
    owner: str | None = Field(default=None, sa_column=Column(Text))
    phase: str | None = Field(default=None, sa_column=Column(Text))
    cycle_ms: int | None = Field(default=None, sa_column=Column(BigInteger))
    lead_ms: int | None = Field(default=None, sa_column=Column(BigInteger))


class FlowMoves(SQLModel, table=True):
    """SQLite only: the events that move a card or count as a claim or a completion, counted per half hour
    (migration 0004; '' for none, an owner as '+name')."""

    __tablename__ = "backlog_flow_moves"

    slot: int = Field(sa_column=Column(BigInteger, primary_key=True))
    kind: str = Field(sa_column=Column(Text, primary_key=True))
    old_status: str = Field(sa_column=Column(Text, primary_key=True))
    new_status: str = Field(sa_column=Column(Text, primary_key=True))
    owner: str = Field(sa_column=Column(Text, primary_key=True))
    n: int = Field(sa_column=Column(BigInteger, nullable=False))


class EventRecord(NamedTuple):
    """An event as the event cursor returns it: the columns of :class:`Event`, read-only, without the ORM.

    A board following a busy fleet reads a thousand events a second; a tuple
    costs a fraction of a model instance.
    """

    id: int
    card_id: str
    kind: str
    old_status: str | None
    new_status: str | None
    owner: str | None
    at: datetime


assert CARD_COLUMNS == tuple(c.name for c in Card.__table__.c), "verbs_sql.CARD_COLUMNS follows the Card columns"
assert EventRecord._fields == tuple(c.name for c in Event.__table__.c), "EventRecord follows the Event columns"


def build(model: type[SQLModel], values: dict[str, Any]) -> Any:
    """An instance of the table model ``model`` from every column's value, already in Python form.

    What ``model(**values)`` makes (an instance the ORM knows, equal to it),
    without the per-attribute instrumentation events of ``__init__``: ~15x
    cheaper, which matters for the claim path and for large listings.
    """
    manager = model._sa_class_manager
    if not manager.mapper.configured:
        configure_mappers()  # what the first model(...) call would do
    obj = manager.new_instance()
    obj.__dict__.update(values)
    object.__setattr__(obj, "__pydantic_fields_set__", set(values))
    object.__setattr__(obj, "__pydantic_extra__", None)
    object.__setattr__(obj, "__pydantic_private__", None)
    return obj
