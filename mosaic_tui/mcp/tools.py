"""The MCP server's tools (entry floor): names, descriptions, input and output schemas, and what each runs.

Kept apart from the SDK wiring (``mosaic_tui.mcp.server``): every tool is a
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
from typing import Any

from pydantic import BaseModel

from mosaic_tui.errors import InvalidInput
from mosaic_tui.mcp.schemas import (  # the tools' input models and output schemas
    AGENTS_OUT, BlockIn, CARD, CARDS_OUT, CLAIM_OUT, ClaimIn, CompleteIn, CreateIn, DB_OUT, EVENTS_OUT,
    EdgeIn, EventsIn, FLOW_OUT, FlowIn, HeartbeatIn, IMPACT_OUT, IdIn, ImpactIn, LABELS_OUT, LabelIn, ListIn,
    NOTE, NOTES_OUT, NoArgs, NoteIn, NotesIn, RECLAIM_OUT, ReclaimIn, ReleaseIn, SHOWN_CARD, STATS,
)
from mosaic_tui.repository import (
    LATEST_NOTES, Backlog, card_json, event_json, note_json, person, view_json,
)
from mosaic_tui.repository.views import where_of

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
    from mosaic_tui.repository.watch.impact import impact, impact_json

    j = impact_json(impact(b), top=a.top, phase=a.phase)
    return j, j


def _agents(b: Backlog, _a, _me) -> Result:
    from mosaic_tui.repository.watch.fleet import agent_json, agents

    now = b.now()
    found = [agent_json(a, now) for a in agents(b, now=now)]
    return {"agents": found}, found


def _flow(b: Backlog, a: FlowIn, _me) -> Result:
    from mosaic_tui.repository.watch.flow import flow, flow_json

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
