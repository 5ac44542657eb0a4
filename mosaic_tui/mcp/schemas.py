"""The MCP tools' schemas (entry floor): their outputs in the CLI's JSON keys, and their inputs as pydantic
models (a call whose arguments do not fit is ``invalid_input``). What the tools run: :mod:`mosaic_tui.mcp.tools`."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from mosaic_tui.repository import DEFAULT_TTL, LATEST_NOTES, STATUSES


# --------------------------------------------------------------------------- output schemas (the CLI's JSON keys)
_STR_OR_NULL = {"type": ["string", "null"]}
_TIME = {"type": "string", "format": "date-time"}
STATUS_ENUM = list(STATUSES)

CARD = {
    "type": "object",
    "description": "A card, with the keys of `mosaic-tui show ID --json`.",
    "properties": {
        "id": {"type": "string"},
        "title": {"type": "string"},
        "body": {**_STR_OR_NULL, "description": "Markdown body."},
        "phase": _STR_OR_NULL,
        "priority": {"type": "integer", "description": "Higher is claimed first."},
        "status": {"type": "string", "enum": STATUS_ENUM},
        "dependsOn": {"type": "array", "items": {"type": "string"}, "description": "Ids this card waits on."},
        "claimOwner": _STR_OR_NULL,
        "claimTtlSeconds": {"type": ["integer", "null"], "description": "The lease ends at claimedAt + claimTtlSeconds."},
        "claimedAt": {"type": ["string", "null"], "format": "date-time"},
        "attempts": {"type": "integer", "description": "How many times the card was claimed."},
        "idempotencyKey": _STR_OR_NULL,
        "acceptance": {"description": "Acceptance criteria: any JSON value, or null."},
        "createdAt": _TIME,
        "updatedAt": _TIME,
    },
    "required": ["id", "title", "body", "phase", "priority", "status", "dependsOn", "claimOwner",
                 "claimTtlSeconds", "claimedAt", "attempts", "idempotencyKey", "acceptance", "createdAt", "updatedAt"],
}
EVENT = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "cardId": {"type": "string"},
        "kind": {"type": "string", "description": "created, claimed, heartbeat, released (claimed -> ready), blocked, "
                                                 "unblocked, completed, reopened, linked, unlinked, edited, deleted; "
                                                 "noted, labeled, unlabeled (no status change)"},
        "oldStatus": _STR_OR_NULL,
        "newStatus": _STR_OR_NULL,
        "owner": _STR_OR_NULL,
        "at": _TIME,
    },
    "required": ["id", "cardId", "kind", "oldStatus", "newStatus", "owner", "at"],
}
_COUNT = {"type": "integer", "minimum": 0}
_LABELS = {"type": "array", "items": {"type": "string"}, "description": "The card's labels, sorted."}
NOTE = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "cardId": {"type": "string"},
        "author": {**_STR_OR_NULL, "description": "An agent's owner or a person; null: the system."},
        "kind": {"type": "string", "enum": ["note", "block", "release", "complete", "system"]},
        "body": {"type": "string"},
        "at": _TIME,
    },
    "required": ["id", "cardId", "author", "kind", "body", "at"],
}
LISTED_CARD = {**CARD, "description": "A card with its labels.", "properties": {**CARD["properties"], "labels": _LABELS},
               "required": [*CARD["required"], "labels"]}
SHOWN_CARD = {
    **CARD, "description": "A card, with the keys of `mosaic-tui show ID --json`: its labels and latest notes too.",
    "properties": {**CARD["properties"], "labels": _LABELS,
                   "notes": {"type": "array", "items": NOTE, "description": f"The latest {LATEST_NOTES}, oldest first."},
                   "noteCount": {**_COUNT, "description": "How many notes the card has in all."}},
    "required": [*CARD["required"], "labels", "notes", "noteCount"],
}
STATS = {
    "type": "object",
    "properties": {
        "counts": {"type": "object", "properties": {s: _COUNT for s in STATUS_ENUM}, "required": STATUS_ENUM},
        "total": _COUNT,
        "claimable": {**_COUNT, "description": "Cards a claim would take now (ready, every dependency done)."},
        "oldestReadyAgeSeconds": {"type": ["integer", "null"]},
        "expiredClaimCount": {**_COUNT, "description": "Claims whose lease has ended (reclaim puts them back)."},
        "claimsLastHour": _COUNT,
        "completionsLastHour": _COUNT,
    },
    "required": ["counts", "total", "claimable", "oldestReadyAgeSeconds", "expiredClaimCount"],
}


def _obj(key: str, schema: dict) -> dict:
    return {"type": "object", "properties": {key: schema}, "required": [key]}


CLAIM_OUT = _obj("card", {"anyOf": [CARD, {"type": "null"}]})
CARDS_OUT = _obj("cards", {"type": "array", "items": LISTED_CARD})
NOTES_OUT = _obj("notes", {"type": "array", "items": NOTE})
LABELS_OUT = _obj("labels", {"type": "object", "additionalProperties": _LABELS,
                             "description": "Each card's labels after the change, sorted."})
EVENTS_OUT = _obj("events", {"type": "array", "items": EVENT})
RECLAIM_OUT = _obj("reclaimed", {"type": "array", "items": {"type": "string"}})
DB_OUT = {
    "type": "object",
    "properties": {
        "backend": {"type": "string", "enum": ["sqlite", "postgresql"]},
        "url": {"type": "string", "description": "The URL, password hidden."},
        "source": {"type": "string", "enum": ["flag", "DATABASE_URL", "default"]},
        "path": _STR_OR_NULL,
        "schemaVersion": _STR_OR_NULL,
    },
    "required": ["backend", "url", "source", "path", "schemaVersion"],
}

_IDS = {"type": "array", "items": {"type": "string"}}
IMPACT_OUT = {
    "type": "object",
    "properties": {
        "unfinished": {**_COUNT, "description": "Unfinished cards (ready, claimed, blocked)."},
        "edges": {**_COUNT, "description": "Dependency edges between them."},
        "criticalPaths": {"type": "array", "description": "Per phase, longest first: its longest chain of unfinished cards.",
                          "items": {"type": "object", "properties": {"phase": _STR_OR_NULL, "length": _COUNT,
                                                                     "cards": {**_IDS, "description": "First to do first."}},
                                    "required": ["phase", "length", "cards"]}},
        "keystones": {"type": "array", "description": "Cards others wait on, most waiting first.",
                      "items": {"type": "object", "properties": {"id": {"type": "string"}, "status": {"type": "string"},
                                                                 "phase": _STR_OR_NULL, "unlocks": _COUNT},
                                "required": ["id", "status", "phase", "unlocks"]}},
    },
    "required": ["unfinished", "edges", "criticalPaths", "keystones"],
}

_SECONDS = {"type": ["number", "null"]}
AGENTS_OUT = _obj("agents", {
    "type": "array", "description": "Stale first, then longest-working.",
    "items": {"type": "object", "properties": {
        "owner": {"type": "string"},
        "cards": {"type": "array", "items": {"type": "object", "properties": {"id": {"type": "string"},
                                                                             "title": {"type": "string"}}}},
        "stale": {"type": "boolean", "description": "The lease has ended and the card is not reclaimed yet."},
        "leaseLeftSeconds": _SECONDS, "workingSeconds": _SECONDS, "claimsLastHour": _COUNT,
        "completionsLastHour": _COUNT, "medianCycleSeconds": _SECONDS, "lastEventAgoSeconds": _SECONDS,
    }, "required": ["owner", "cards", "stale", "leaseLeftSeconds", "workingSeconds", "claimsLastHour",
                    "completionsLastHour", "medianCycleSeconds", "lastEventAgoSeconds"]},
})
_SPREAD = {"type": "object", "properties": {"count": _COUNT, "p50Seconds": _SECONDS, "p90Seconds": _SECONDS}}
FLOW_OUT = {
    "type": "object",
    "properties": {
        "window": {"type": "string", "enum": ["1h", "1d", "7d"]}, "start": _TIME, "end": _TIME,
        "bucketSeconds": {"type": "integer"},
        "cumulativeFlow": {"type": "object", "description": "Cards per status at each instant of `at`."},
        "throughput": {"type": "object", "description": "Claims and completions per bucket."},
        "claims": _COUNT, "completions": _COUNT, "cycleTime": _SPREAD, "leadTime": _SPREAD,
        "phases": {"type": "array", "items": {"type": "object"}}, "agents": {"type": "array", "items": {"type": "object"}},
    },
    "required": ["window", "start", "end", "bucketSeconds", "cumulativeFlow", "throughput", "claims", "completions",
                 "cycleTime", "leadTime", "phases", "agents"],
}

# --------------------------------------------------------------------------- input models
CardId = Annotated[str, Field(description="The card's id.")]
Owner = Annotated[str | None, Field(
    description="Who acts: an agent's name. Default: the owner the server was started with (--owner / MOSAIC_AGENT).")]
Ttl = Annotated[int, Field(ge=1, le=2**31 - 1, description="Lease length in seconds, counted from now.")]
Status = Literal[STATUSES]  # Literal of a tuple: one value per status


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ClaimIn(_In):
    owner: Owner = None
    ttl: Ttl = DEFAULT_TTL
    id: str | None = Field(None, description="Claim this card only (if it is claimable now). Default: the first claimable card.")


class HeartbeatIn(_In):
    id: CardId
    owner: Owner = None
    ttl: Ttl = DEFAULT_TTL


class OwnedIn(_In):
    id: CardId
    owner: Owner = None
    anyOwner: bool = Field(False, description="Grooming: act whoever holds the claim (owner is then ignored).")


class IdIn(_In):
    id: CardId


Reason = Annotated[str | None, Field(description="Why, for the people and agents who read the card next: a note "
                                                 "on the card (at most 16 KiB), written with the change.")]


class CompleteIn(OwnedIn):
    summary: str | None = Field(None, description="What was done, for whoever reads the card next: a note on the "
                                                  "card (at most 16 KiB), written with the completion.")


class ReleaseIn(OwnedIn):
    reason: Reason = None


class BlockIn(_In):
    id: CardId
    reason: Reason = None
    owner: Owner = None


class NoteIn(_In):
    id: CardId
    body: str = Field(description="The note's text (markdown welcome; not empty; at most 16 KiB).")
    owner: Owner = None


class NotesIn(_In):
    id: CardId
    limit: int | None = Field(None, ge=1, description="Only the latest this many notes. Default: all.")


_LABEL_NAME = Annotated[str, Field(description="A label: 1-32 of a-z 0-9 . _ - starting with a letter or digit.")]


class LabelIn(_In):
    ids: list[str] = Field(min_length=1, description="The cards.")
    add: list[_LABEL_NAME] = Field(default_factory=list, description="Labels to add.")
    remove: list[_LABEL_NAME] = Field(default_factory=list, description="Labels to remove.")


class ReclaimIn(_In):
    id: str | None = Field(None, description="Release this card's claim whether or not its lease has ended. "
                                             "Default: every claim whose lease has ended.")


class ListIn(_In):
    status: list[Status] | None = Field(None, description="Only cards of these statuses.")
    phase: str | None = Field(None, description="Only cards of this phase.")
    claimable: bool = Field(False, description="Only cards a claim could take now.")
    search: str | None = Field(None, description="Only cards whose id or title contains this text (any case).")
    label: str | None = Field(None, description="Only cards with this label.")
    where: str | None = Field(None, description="Only cards this query matches, e.g. '#infra status:ready -@agent-2 "
                              "unlocks>3 age>2h \"free text\"' (fields status phase owner label id is priority attempts "
                              "unlocks age idle; -term negates; OR; parentheses).")
    view: str | None = Field(None, description="Only cards of this saved view (.mosaic/views.toml in the server's "
                             "directory or above, else the user's views.toml); with `where`, both must hold.")
    limit: int = Field(100, ge=1, le=10_000, description="At most this many cards.")
    offset: int = Field(0, ge=0, description="Skip this many cards first (paging).")

    @field_validator("status", mode="before")
    @classmethod
    def _one_or_comma_separated(cls, value: Any) -> Any:  # "ready" and "ready,claimed" too, as the CLI takes them
        if isinstance(value, str):
            return [p.strip() for p in value.split(",") if p.strip()]
        return value


class CreateIn(_In):
    id: CardId
    title: str = Field(description="One line.")
    dependsOn: list[str] = Field(default_factory=list, description="Ids of existing cards this card waits on.")
    priority: int = Field(0, description="An integer; higher is claimed first.")
    phase: str | None = Field(None, description="The phase (e.g. M1).")
    body: str | None = Field(None, description="Markdown body.")
    acceptance: Any = Field(None, description="Acceptance criteria: any JSON value.")
    idempotencyKey: str | None = Field(None, description="A second create with this key returns the first card unchanged.")


class EdgeIn(_In):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    from_: str = Field(alias="from", description="The card that waits.")
    to: str = Field(description="The card it waits on.")


class NoArgs(_In):
    pass


class ImpactIn(_In):
    phase: str | None = Field(None, description="Only this phase's keystones and critical path.")
    top: int = Field(10, ge=1, le=100_000, description="How many keystones to return.")


class FlowIn(_In):
    window: Literal["1h", "1d", "7d"] = Field("1d", description="The last hour, day or week.")


class EventsIn(_In):
    cardId: str | None = Field(None, description="Only the events of this card.")
    since: int | None = Field(None, ge=0, description="Only events after this event id (page with the last id you got).")
    limit: int = Field(100, ge=1, le=10_000, description="At most this many events, oldest first.")
