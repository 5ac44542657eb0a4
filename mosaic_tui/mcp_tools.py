"""The MCP server's tools (entry floor): names, descriptions, input and output schemas, and what each runs.

Kept apart from the SDK wiring (``mosaic_tui.mcp_server``): every tool is a
plain function ``run(backlog, args, default_owner) -> (structured, text)``,
blocking, run in a worker thread by the server. ``structured`` is the tool's
``structuredContent`` (always a JSON object, as MCP requires); ``text`` is
exactly what ``mosaic-tui <command> --json`` prints (a card, ``null``, a list),
so a client that reads only text content gets the CLI's JSON. The JSON keys
are the CLI's (``card_json``, ``event_json``, ``stats``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from mosaic_tui.errors import InvalidInput
from mosaic_tui.repository import (
    DEFAULT_TTL, LATEST_NOTES, STATUSES, Backlog, card_json, event_json, note_json, person, view_json,
)
from mosaic_tui.repository.views import where_of

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


# --------------------------------------------------------------------------- what each tool runs
Result = tuple[dict[str, Any], Any]


def owner_of(given: str | None, default: str | None) -> str:
    owner = given if given is not None else default
    if owner is None:
        raise InvalidInput("no owner: pass owner, or start the server with --owner NAME (or MOSAIC_AGENT=NAME)")
    return owner


def _card(card) -> Result:
    j = card_json(card)
    return j, j


def _claim(b: Backlog, a: ClaimIn, me: str | None) -> Result:
    card = b.claim(owner_of(a.owner, me), a.ttl, a.id)
    j = None if card is None else card_json(card)
    return {"card": j}, j


def _author(given: str | None, default: str | None) -> str:
    """Who writes a note: ``owner``, else the server's own, else the login of whoever runs the server."""
    return given if given is not None else default if default is not None else person()


def _complete(b: Backlog, a: CompleteIn, me: str | None) -> Result:
    owner = None if a.anyOwner else owner_of(a.owner, me)
    author = None if a.summary is None else _author(owner or a.owner, me)
    return _card(b.complete(a.id, owner, summary=a.summary, author=author))


def _release(b: Backlog, a: ReleaseIn, me: str | None) -> Result:
    owner = None if a.anyOwner else owner_of(a.owner, me)
    author = None if a.reason is None else _author(owner or a.owner, me)
    return _card(b.release(a.id, owner, reason=a.reason, author=author))


def _block(b: Backlog, a: BlockIn, me: str | None) -> Result:
    return _card(b.block(a.id, reason=a.reason, author=None if a.reason is None else _author(a.owner, me)))


def _show(b: Backlog, a: IdIn, _me) -> Result:
    j = view_json(b.view(a.id))
    return j, j


def _note(b: Backlog, a: NoteIn, me: str | None) -> Result:
    j = note_json(b.note(a.id, a.body, author=_author(a.owner, me)))
    return j, j


def _notes(b: Backlog, a: NotesIn, _me) -> Result:
    found = [note_json(n) for n in b.notes(a.id, limit=a.limit)]
    return {"notes": found}, found


def _label(b: Backlog, a: LabelIn, _me) -> Result:
    labels = b.label(a.ids, add=a.add, remove=a.remove)
    return {"labels": labels}, labels


def _reclaim(b: Backlog, a: ReclaimIn, _me) -> Result:
    j = {"reclaimed": b.reclaim(a.id)}
    return j, j


def _list(b: Backlog, a: ListIn, _me) -> Result:
    where = where_of(a.where, a.view)
    found = b.list(status=a.status, phase=a.phase, claimable=a.claimable, search=a.search, where=where,
                   limit=a.limit, offset=a.offset, label=a.label)
    labels = b.labels(c.id for c in found)
    cards = [{**card_json(c), "labels": labels[c.id]} for c in found]
    return {"cards": cards}, cards


def _create(b: Backlog, a: CreateIn, _me) -> Result:
    return _card(b.create(a.id, a.title, body=a.body, phase=a.phase, priority=a.priority, depends_on=a.dependsOn,
                          acceptance=a.acceptance, idempotency_key=a.idempotencyKey))


def _events(b: Backlog, a: EventsIn, _me) -> Result:
    evs = [event_json(e) for e in b.events(card=a.cardId, since=a.since, limit=a.limit)]
    return {"events": evs}, evs


def _stats(b: Backlog, _a, _me) -> Result:
    s = b.stats()
    return s, s


def _impact(b: Backlog, a: ImpactIn, _me) -> Result:
    from mosaic_tui.impact import impact, impact_json

    j = impact_json(impact(b), top=a.top, phase=a.phase)
    return j, j


def _agents(b: Backlog, _a, _me) -> Result:
    from mosaic_tui.fleet import agent_json, agents

    now = b.now()
    found = [agent_json(a, now) for a in agents(b, now=now)]
    return {"agents": found}, found


def _flow(b: Backlog, a: FlowIn, _me) -> Result:
    from mosaic_tui.flow import flow, flow_json

    j = flow_json(flow(b, a.window))
    return j, j


def _db(b: Backlog, _a, _me) -> Result:
    t = b.db.target
    j = {"backend": t.backend, "url": t.display(), "source": t.source, "path": str(t.path) if t.path else None,
         "schemaVersion": b.schema_version()}
    return j, j


# --------------------------------------------------------------------------- the tools
@dataclass(frozen=True)
class ToolSpec:
    name: str
    description: str
    params: type[BaseModel]
    output: dict[str, Any]
    run: Callable[[Backlog, Any, str | None], Result]
    read_only: bool = False
    idempotent: bool = False
    destructive: bool = False


_OWNER_NOTE = " `owner` defaults to the server's own (--owner / MOSAIC_AGENT)."
_ERRORS = (" A failure is a tool error {\"error\": {\"code\", \"message\"}}, code one of not_found, conflict, "
           "invalid_input, unavailable (the database is unreachable: retry later), internal.")

TOOLS: tuple[ToolSpec, ...] = (
    ToolSpec(
        "claim",
        "Take the next card to work on: the first claimable card (ready, every dependency done; highest priority, "
        "then oldest) is marked claimed by `owner` with a lease of `ttl` seconds, atomically (no two agents ever get "
        "the same card). Call it when you are free for work. Returns {\"card\": CARD}; {\"card\": null} means "
        "nothing is claimable now (not an error): stop, or try again later. Keep the lease alive with `heartbeat` "
        "while you work (before ttl runs out), then call `complete`; call `release` if you give up. Ended leases "
        "are reclaimed first, so a dead agent's card comes back by itself." + _OWNER_NOTE,
        ClaimIn, CLAIM_OUT, _claim,
    ),
    ToolSpec(
        "heartbeat",
        "Extend your lease on a card you hold: it now ends `ttl` seconds from now. Call it periodically while "
        "working (e.g. every ttl/3 seconds). Returns the card. Conflict if the card is not claimed by `owner` any "
        "more (its lease ended and someone else took it, or it was blocked): stop working on it." + _OWNER_NOTE,
        HeartbeatIn, CARD, lambda b, a, me: _card(b.heartbeat(a.id, owner_of(a.owner, me), a.ttl)),
        idempotent=True,
    ),
    ToolSpec(
        "complete",
        "Mark a card you hold done (its claim is cleared; cards waiting on it may become claimable). Call it when "
        "the work is finished, then `claim` again. Returns the card. Conflict if `owner` does not hold the claim "
        "(a stale worker cannot complete). anyOwner=true (grooming) completes a ready, claimed or blocked card "
        "whoever holds it. `summary`: what you did, for whoever reads the card next (a note)." + _OWNER_NOTE,
        CompleteIn, CARD, _complete,
    ),
    ToolSpec(
        "release",
        "Give a card you hold back to the queue (status ready, claim cleared) without completing it: call it when "
        "you cannot finish the work. Returns the card. Conflict if `owner` does not hold it. anyOwner=true "
        "(grooming) releases whoever holds it. `reason`: why you gave up and what you found, for the next agent "
        "(a note)." + _OWNER_NOTE,
        ReleaseIn, CARD, _release,
    ),
    ToolSpec(
        "reclaim",
        "Put every claim whose lease has ended back to ready (or, with `id`, release that card's claim whatever "
        "its lease). Returns {\"reclaimed\": [ids]}. Rarely needed: `claim` reclaims ended leases by itself.",
        ReclaimIn, RECLAIM_OUT, _reclaim,
    ),
    ToolSpec(
        "show",
        "Read one card: title, body, status, dependencies, who holds it and since when, its labels and its latest "
        f"{LATEST_NOTES} notes (read them before you start: earlier agents and people leave what they found). "
        "Returns the card with `labels`, `notes` and `noteCount`.",
        IdIn, SHOWN_CARD, _show, read_only=True, idempotent=True,
    ),
    ToolSpec(
        "list",
        "List cards in claim order (priority high first, then oldest), filtered by status, phase, claimable, "
        "a search text, a label, a query (`where`) or a saved view (`view`); at most `limit` (default 100), `offset` "
        "to page. Returns {\"cards\": [CARD]}, each with its `labels`.",
        ListIn, CARDS_OUT, _list, read_only=True, idempotent=True,
    ),
    ToolSpec(
        "create",
        "Create a card (status ready). `dependsOn` lists existing cards it waits on; a dependency cycle is "
        "refused (conflict), as is an existing id. With `idempotencyKey`, a repeated create returns the first card "
        "unchanged. Returns the card.",
        CreateIn, CARD, _create,
    ),
    ToolSpec(
        "link",
        "Make card `from` wait on card `to` (a dependency edge). Linking twice changes nothing; a link that would "
        "close a cycle is refused (conflict). Returns the `from` card.",
        EdgeIn, CARD, lambda b, a, me: _card(b.link(a.from_, a.to)), idempotent=True,
    ),
    ToolSpec(
        "unlink",
        "Card `from` no longer waits on card `to`. Not found if there is no such edge. Returns the `from` card.",
        EdgeIn, CARD, lambda b, a, me: _card(b.unlink(a.from_, a.to)),
    ),
    ToolSpec(
        "block",
        "Block a card (it cannot be claimed until unblocked; a claim on it is cleared): call it when the work "
        "cannot proceed (e.g. it needs a person). `reason`: why (a note; the board shows its first line on the "
        "card). Returns the card.",
        BlockIn, CARD, _block,
    ),
    ToolSpec(
        "unblock",
        "Put a blocked card back to ready. Returns the card.",
        IdIn, CARD, lambda b, a, me: _card(b.unblock(a.id)),
    ),
    ToolSpec(
        "reopen",
        "Put a done card back to ready (e.g. its work turned out incomplete). Returns the card.",
        IdIn, CARD, lambda b, a, me: _card(b.reopen(a.id)),
    ),
    ToolSpec(
        "note",
        "Leave a note on a card: what you found, tried or decided, for the people and agents who read it next "
        "(the card's thread is append-only). Returns the note." + _OWNER_NOTE,
        NoteIn, NOTE, _note,
    ),
    ToolSpec(
        "notes",
        "Read a card's notes, oldest first (block and release reasons, completion summaries, system notes such "
        "as a reclaimed lease, and plain notes). Returns {\"notes\": [NOTE]}.",
        NotesIn, NOTES_OUT, _notes, read_only=True, idempotent=True,
    ),
    ToolSpec(
        "label",
        "Add and remove labels on cards (one change for all of them). Returns {\"labels\": {id: [labels]}}.",
        LabelIn, LABELS_OUT, _label, idempotent=True,
    ),
    ToolSpec(
        "stats",
        "The backlog at a glance: counts per status, how many cards are claimable now, the oldest ready card's "
        "age, ended leases, claims and completions in the last hour.",
        NoArgs, STATS, _stats, read_only=True, idempotent=True,
    ),
    ToolSpec(
        "events",
        "The change history, oldest first: who moved which card from what status to what, when. `since` an "
        "event id to read only newer ones (page with the last id you got), `cardId` for one card's history. "
        "Returns {\"events\": [EVENT]}.",
        EventsIn, EVENTS_OUT, _events, read_only=True, idempotent=True,
    ),
    ToolSpec(
        "impact",
        "What holds up the most work: the keystones (unfinished cards others wait on, with how many unfinished "
        "cards wait on each, directly or through others) and each phase's critical path (its longest chain of "
        "unfinished cards, first to do first). Use it to choose among claimable cards, or to see what a blocked "
        "card is holding up. Returns {\"unfinished\", \"edges\", \"criticalPaths\", \"keystones\"}.",
        ImpactIn, IMPACT_OUT, _impact, read_only=True, idempotent=True,
    ),
    ToolSpec(
        "agents",
        "Who holds what and who is stuck: one entry per owner that holds a claim or acted in the last hour (stale "
        "first, then longest-working), with the cards held, lease left, working time, claims and completions in "
        "the hour, median cycle time. Returns {\"agents\": [...]}, the list `mosaic-tui agents --json` prints.",
        NoArgs, AGENTS_OUT, _agents, read_only=True, idempotent=True,
    ),
    ToolSpec(
        "flow",
        "How work flowed over the last hour, day or week (`window`): cards per status over time (cumulative "
        "flow), claims and completions per bucket, cycle and lead time p50/p90 overall, per phase and per agent. "
        "Returns what `mosaic-tui flow --json` prints.",
        FlowIn, FLOW_OUT, _flow, read_only=True, idempotent=True,
    ),
    ToolSpec(
        "db",
        "Which backlog this server uses: backend, URL (password hidden), where the URL came from, schema version.",
        NoArgs, DB_OUT, _db, read_only=True, idempotent=True,
    ),
)
BY_NAME = {t.name: t for t in TOOLS}


def input_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON schema without pydantic's generated titles (the property names say it)."""
    return _untitled(model.model_json_schema(by_alias=True))


def _untitled(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: (_untitled_props(v) if k == "properties" else _untitled(v))
                for k, v in node.items() if not (k == "title" and isinstance(v, str))}
    if isinstance(node, list):
        return [_untitled(v) for v in node]
    return node


def _untitled_props(props: dict[str, Any]) -> dict[str, Any]:
    return {name: _untitled(schema) for name, schema in props.items()}


def description(spec: ToolSpec) -> str:
    return spec.description + _ERRORS
