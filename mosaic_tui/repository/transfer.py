"""Export, import and migrate a whole backlog (repository floor; no click, no textual).

The file format is JSON Lines (``docs/cli.md`` describes it):

* line 1, a header: ``{"format": "mosaic-tui-backlog", "version": 2, "exportedAt": ..., "cards": N, "events": M,
  "notes": K, "labels": L}``
* one line per card: ``{"card": {...}}`` with exactly the keys of ``card_json`` (the fleet's keys), and
  ``"labels": [...]`` beside it when the card has labels;
* one line per note: ``{"note": {...}}`` with the keys of ``note_json``, in id order (each thread's order);
* one line per event: ``{"event": {...}}`` with the keys of ``event_json``.

Version 1 (before notes and labels) still imports: it has neither.

Import also accepts a bare card object per line (``{"id": ..., "title": ...}``),
so a hand-written or ``jq``-made file of cards imports too.

What import does (one transaction, all or nothing):

* every card is validated first with the repository's own checks; any bad line
  is an error naming the line, and nothing is written;
* cards go in verbatim (timestamps, attempts, claim state included), in any
  order: ``unmet_deps`` and the edge table are kept right by the triggers;
* a card whose id already exists and is identical is skipped (so importing the
  same file twice changes nothing); one that differs is kept as it is
  (``on_existing="skip"``, the default), overwritten with the file's version
  (``"replace"``) or refused with nothing written (``"fail"``);
* event history: the database's triggers write a ``created`` event for each
  inserted card; when the file carries the card's history, that history
  replaces the trigger's event. Into a backlog with no events at all, every
  event of the file goes in with its original id (export -> import -> export
  gives the same file); into a backlog that has history already, the events of
  the newly inserted cards are appended with new ids, in their original order
  and with their original times. Skipped and replaced cards keep the target's
  history.
* notes and labels (``mosaic_tui.repository.transfer_side``): labels added, notes appended unless the card
  has them already; never removed.

``migrate`` is an import into another database that refuses a non-empty target
(unless merging) and, inside the same transaction, reads every card back and
compares counts and a SHA-256 checksum per card before it commits; any
difference rolls everything back.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import IO, Any

from sqlalchemy import Connection, func, select, text

from mosaic_tui.db.models import Card
from mosaic_tui.errors import Conflict, InvalidInput, MosaicError
from mosaic_tui.repository import (
    EV,
    B,
    E,
    Backlog,
    card_json,
    check_acceptance,
    check_id,
    check_owner,
    check_status,
    check_text,
    check_title,
    event_json,
    utcnow,
)
from mosaic_tui.repository.rows import card_from_row, event_from_row
from mosaic_tui.repository.transfer_side import (
    bump_sequence,
    check_side,
    labels_value,
    note_row,
    read_side,
    verify_side,
    write_side,
)

FORMAT = "mosaic-tui-backlog"
VERSION = 2  # 2: notes and labels
CHUNK = 500
CARD_KEYS = (
    "id", "title", "body", "phase", "priority", "status", "dependsOn", "claimOwner", "claimTtlSeconds",
    "claimedAt", "attempts", "idempotencyKey", "acceptance", "createdAt", "updatedAt",
)
ON_EXISTING = ("skip", "replace", "fail")
_TRIGGERED = ("created", "noted", "labeled")  # what the triggers write for a card inserted with its notes and labels
_INT32 = 2**31 - 1


class VerifyFailed(MosaicError):
    """The copy read back differs from the source: nothing was committed."""

    code = "verify_failed"


# --------------------------------------------------------------------------- checksums
def canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def card_checksum(card: dict[str, Any]) -> str:
    """SHA-256 of a card's JSON (``card_json`` keys), canonically encoded."""
    return hashlib.sha256(canonical({k: card.get(k) for k in CARD_KEYS}).encode()).hexdigest()


# --------------------------------------------------------------------------- export
def _chunks(items: list, n: int = CHUNK) -> Iterator[list]:
    for i in range(0, len(items), n):
        yield items[i:i + n]


@dataclass
class Snapshot:
    """Every card and event, each card's labels and every note (``note_json``), read in one snapshot."""

    cards: list[dict[str, Any]]
    events: list[dict[str, Any]]
    labels: dict[str, list[str]]
    notes: list[dict[str, Any]]


def snapshot(backlog: Backlog) -> Snapshot:
    """Every card, event, label and note, read in one consistent snapshot."""

    def tx(conn: Connection):
        if conn.dialect.name == "postgresql":  # one snapshot for every query
            conn.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"))
        cards = [card_json(card_from_row(r)) for r in conn.execute(select(B).order_by(B.c.created_at, B.c.id))]
        events = [event_json(event_from_row(r)) for r in conn.execute(select(EV).order_by(EV.c.id))]
        return Snapshot(cards, events, *read_side(conn))

    return backlog.db.run(tx, write=False)


def export_lines(backlog: Backlog) -> Iterator[str]:
    snap = snapshot(backlog)
    header = {
        "format": FORMAT, "version": VERSION, "exportedAt": backlog.now().isoformat(),
        "backend": backlog.backend, "cards": len(snap.cards), "events": len(snap.events),
        "notes": len(snap.notes), "labels": sum(map(len, snap.labels.values())),
    }
    yield json.dumps(header, ensure_ascii=False)
    for c in snap.cards:
        names = snap.labels.get(c["id"])
        yield json.dumps({"card": c, "labels": names} if names else {"card": c}, ensure_ascii=False)
    for n in snap.notes:
        yield json.dumps({"note": n}, ensure_ascii=False)
    for e in snap.events:
        yield json.dumps({"event": e}, ensure_ascii=False)


def write_export(backlog: Backlog, fp: IO[str]) -> dict[str, int]:
    counts = {"cards": 0, "events": 0, "notes": 0, "labels": 0}
    for i, line in enumerate(export_lines(backlog)):
        fp.write(line + "\n")
        if i == 0:
            head = json.loads(line)
            counts = {k: head[k] for k in counts}
    fp.flush()
    return counts


# --------------------------------------------------------------------------- parsing
@dataclass
class Bundle:
    """A parsed export: cards as database rows (validated) and events, or None when the file has none;
    each card's labels (cards without are left out) and the notes as rows, in id order."""

    cards: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] | None = None
    labels: dict[str, list[str]] = field(default_factory=dict)
    notes: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ids(self) -> list[str]:
        return [c["id"] for c in self.cards]


def _ts(value: Any, what: str, *, required: bool) -> datetime | None:
    if value is None:
        if required:
            raise InvalidInput(f"{what} is missing")
        return None
    if not isinstance(value, str):
        raise InvalidInput(f"{what} must be an ISO 8601 timestamp")
    try:
        ts = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"{what} {value!r} is not an ISO 8601 timestamp") from None
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)


def _int(value: Any, what: str, *, minimum: int | None = None, nullable: bool = False) -> int | None:
    if value is None and nullable:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"{what} must be an integer, not {value!r}")
    if minimum is not None and value < minimum:
        raise InvalidInput(f"{what} must be at least {minimum}, not {value}")
    if abs(value) > _INT32:
        raise InvalidInput(f"{what} {value} is out of range (a 32-bit integer)")
    return value


def card_row(d: Any, now: datetime | None = None) -> dict[str, Any]:
    """A card's JSON (fleet keys) as a database row, validated. Missing optional keys take defaults."""
    if not isinstance(d, dict):
        raise InvalidInput("a card must be a JSON object")
    now = now or utcnow()
    card_id = check_id(d.get("id"))
    deps = d.get("dependsOn", [])
    if deps is None:
        deps = []
    if not isinstance(deps, list):
        raise InvalidInput(f"card {card_id!r}: dependsOn must be a list of card ids")
    deps = [check_id(x, "dependency id") for x in deps]
    if card_id in deps:
        raise InvalidInput(f"card {card_id!r} cannot depend on itself")
    phase = check_text(d.get("phase"), "phase")
    owner = d.get("claimOwner")
    key = d.get("idempotencyKey")
    created = _ts(d.get("createdAt"), "createdAt", required=False) or now
    return {
        "id": card_id,
        "title": check_title(d.get("title")),
        "body": check_text(d.get("body"), "body"),
        "phase": phase,
        "priority": _int(d.get("priority", 0), "priority"),
        "status": check_status(d.get("status", "ready")),
        "depends_on": deps,
        "claim_owner": None if owner is None else check_owner(owner),
        "claim_ttl_seconds": _int(d.get("claimTtlSeconds"), "claimTtlSeconds", minimum=1, nullable=True),
        "claimed_at": _ts(d.get("claimedAt"), "claimedAt", required=False),
        "attempts": _int(d.get("attempts", 0), "attempts", minimum=0),
        "idempotency_key": None if key is None else check_id(key, "idempotency key"),
        "acceptance": check_acceptance(d.get("acceptance")),
        "created_at": created,
        "updated_at": _ts(d.get("updatedAt"), "updatedAt", required=False) or created,
    }


def row_json(row: dict[str, Any]) -> dict[str, Any]:
    """The card JSON a row will read back as (the form checksums are taken of)."""
    return card_json(Card(**row))


def event_row(d: Any) -> dict[str, Any]:
    if not isinstance(d, dict):
        raise InvalidInput("an event must be a JSON object")
    kind = d.get("kind")
    if not isinstance(kind, str) or not kind:
        raise InvalidInput("event kind must be non-empty text")
    for k in ("oldStatus", "newStatus"):
        if d.get(k) is not None:
            check_status(d[k])
    owner = d.get("owner")
    return {
        "id": _int(d.get("id"), "event id", minimum=1),
        "card_id": check_id(d.get("cardId")),
        "kind": kind,
        "old_status": d.get("oldStatus"),
        "new_status": d.get("newStatus"),
        "owner": None if owner is None else check_text(owner, "event owner"),
        "at": _ts(d.get("at"), "event time", required=True),
    }


def parse_lines(lines: Iterable[str]) -> Bundle:
    """Read an export (or a file of bare cards). Errors name the line; duplicate differing ids are refused."""
    bundle = Bundle()
    seen: dict[str, tuple[int, str]] = {}
    now = utcnow()
    event_ids: set[int] = set()
    note_ids: set[int] = set()
    for n, raw in enumerate(lines, 1):
        line = raw.strip()
        if not line:
            continue
        try:
            obj = json.loads(line)
        except ValueError as exc:
            raise InvalidInput(f"line {n}: not JSON ({exc.msg})") from None
        if not isinstance(obj, dict):
            raise InvalidInput(f"line {n}: expected a JSON object")
        try:
            if "format" in obj:
                if obj.get("format") != FORMAT:
                    raise InvalidInput(f"not a mosaic-tui backlog export (format {obj.get('format')!r})")
                if not isinstance(obj.get("version"), int) or obj["version"] > VERSION:
                    raise InvalidInput(f"export version {obj.get('version')!r} is newer than this mosaic-tui reads")
                continue
            if "event" in obj:
                ev = event_row(obj["event"])
                if ev["id"] in event_ids:
                    raise InvalidInput(f"event {ev['id']} appears twice")
                event_ids.add(ev["id"])
                if bundle.events is None:
                    bundle.events = []
                bundle.events.append(ev)
                continue
            if "note" in obj:
                note = note_row(obj["note"], _ts)
                if note["id"] in note_ids:
                    raise InvalidInput(f"note {note['id']} appears twice")
                note_ids.add(note["id"])
                bundle.notes.append(note)
                continue
            row = card_row(obj["card"] if "card" in obj else obj, now)
            names = labels_value(obj["labels"]) if obj.get("labels") is not None else []
        except InvalidInput as exc:
            raise InvalidInput(f"line {n}: {exc.message}") from None
        digest = card_checksum(row_json(row))
        if names:
            bundle.labels[row["id"]] = sorted(set(bundle.labels.get(row["id"], [])) | set(names))
        if row["id"] in seen:
            first, other = seen[row["id"]]
            if other != digest:
                raise InvalidInput(f"line {n}: card {row['id']!r} appears twice, differently (first on line {first})")
            continue
        seen[row["id"]] = (n, digest)
        bundle.cards.append(row)
    if bundle.events is not None:
        bundle.events.sort(key=lambda e: e["id"])
    bundle.notes.sort(key=lambda e: e["id"])
    return bundle


# --------------------------------------------------------------------------- import
@dataclass
class ImportResult:
    inserted: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)  # identical already
    kept: list[str] = field(default_factory=list)  # existed and differed: the target's version kept
    events: int = 0
    events_verbatim: bool = False
    verified: bool = False
    notes: int = 0  # notes appended
    notes_there: int = 0  # notes of the file the cards had already
    labels: int = 0  # labels added

    def as_json(self) -> dict[str, Any]:
        return {
            "inserted": len(self.inserted), "replaced": len(self.replaced), "unchanged": len(self.unchanged),
            "kept": len(self.kept), "keptIds": self.kept, "events": self.events,
            "eventIdsKept": self.events_verbatim, "notes": self.notes, "notesAlreadyThere": self.notes_there,
            "labels": self.labels, "verified": self.verified,
        }


def _existing(conn: Connection, ids: list[str]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for part in _chunks(ids):
        for r in conn.execute(select(B).where(B.c.id.in_(part))):
            found[r.id] = card_json(card_from_row(r))
    return found


def _find_cycle(graph: dict[str, list[str]]) -> list[str] | None:
    """A dependency cycle in ``graph`` (card -> its dependencies), iteratively, or None."""
    state: dict[str, int] = {}
    for root in graph:
        if state.get(root):
            continue
        stack: list[tuple[str, Iterator[str]]] = [(root, iter(graph.get(root, ())))]
        path = [root]
        state[root] = 1
        while stack:
            node, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                state[node] = 2
                stack.pop()
                path.pop()
                continue
            s = state.get(nxt, 0)
            if s == 1:
                return path[path.index(nxt):] + [nxt]
            if s == 0:
                state[nxt] = 1
                path.append(nxt)
                stack.append((nxt, iter(graph.get(nxt, ()))))
    return None


def import_in(
    conn: Connection,
    bundle: Bundle,
    *,
    on_existing: str = "skip",
    require_empty: bool = False,
    verify: bool = False,
) -> ImportResult:
    """Import ``bundle`` inside the caller's transaction (see the module's docstring)."""
    if on_existing not in ON_EXISTING:
        raise InvalidInput(f"on_existing must be one of {', '.join(ON_EXISTING)}")
    if conn.dialect.name == "postgresql":
        # No other writer while we compare, insert and verify (plain readers go on).
        conn.execute(text("LOCK TABLE backlog IN SHARE ROW EXCLUSIVE MODE"))
    total_before = conn.execute(select(func.count()).select_from(B)).scalar_one()
    if require_empty and total_before:
        raise Conflict(f"the target backlog is not empty ({total_before} cards); use --merge to add to it")
    events_before = conn.execute(select(func.count()).select_from(EV)).scalar_one()
    result = ImportResult()
    wanted = {row["id"]: row for row in bundle.cards}
    file_json = {cid: row_json(row) for cid, row in wanted.items()}
    existing = _existing(conn, list(wanted))
    to_insert: list[dict[str, Any]] = []
    to_replace: list[dict[str, Any]] = []
    for cid, row in wanted.items():
        if cid not in existing:
            to_insert.append(row)
        elif card_checksum(existing[cid]) == card_checksum(file_json[cid]):
            result.unchanged.append(cid)
        elif on_existing == "replace":
            to_replace.append(row)
        elif on_existing == "skip":
            result.kept.append(cid)
        else:
            raise Conflict(f"card {cid!r} exists already and differs from the imported one")
    writing = {r["id"]: r for r in (*to_insert, *to_replace)}

    # Unknown dependencies, idempotency keys used by another card, cycles: refuse before writing.
    known = set(wanted) | set(existing)
    missing = sorted({d for r in writing.values() for d in r["depends_on"]} - known)
    if missing:
        rest = missing
        found: set[str] = set()
        for part in _chunks(rest):
            found |= set(conn.execute(select(B.c.id).where(B.c.id.in_(part))).scalars())
        missing = [m for m in rest if m not in found]
        if missing:
            raise InvalidInput(f"unknown dependency: {', '.join(missing[:10])}")
    keys = {r["idempotency_key"]: r["id"] for r in writing.values() if r["idempotency_key"] is not None}
    key_list = list(keys)
    for part in _chunks(key_list):
        for cid, key in conn.execute(select(B.c.id, B.c.idempotency_key).where(B.c.idempotency_key.in_(part))):
            if cid != keys[key] and cid not in writing:
                raise Conflict(f"idempotency key {key!r} of card {keys[key]!r} is already used by card {cid!r}")
    if writing:
        graph: dict[str, list[str]] = {}
        for a, b in conn.execute(select(E.c.card_id, E.c.dep_id)):
            if a not in writing:
                graph.setdefault(a, []).append(b)
        for cid, r in writing.items():
            graph[cid] = list(r["depends_on"])
        cycle = _find_cycle(graph)
        if cycle:
            raise Conflict(f"the import would close a dependency cycle: {' -> '.join(cycle[:12])}")
    check_side(conn, bundle.notes, set(wanted))

    # Events first (so trigger-written ids never collide with original ids), then cards.
    verbatim = events_before == 0
    inserted_ids = {r["id"] for r in to_insert}
    history: list[dict[str, Any]] = []
    if bundle.events:
        history = list(bundle.events) if verbatim else [e for e in bundle.events if e["card_id"] in inserted_ids]
        if history:
            if verbatim:
                conn.execute(EV.insert(), history)
                bump_sequence(conn, EV)
            else:
                conn.execute(EV.insert(), [{k: v for k, v in e.items() if k != "id"} for e in history])
    result.events = len(history)
    result.events_verbatim = verbatim and bool(history)
    mark = conn.execute(select(func.coalesce(func.max(EV.c.id), 0))).scalar_one()
    if to_insert:
        conn.execute(B.insert(), to_insert)
    for row in to_replace:
        conn.execute(B.update().where(B.c.id == row["id"]).values(**{k: v for k, v in row.items() if k != "id"}))
    result.notes, result.notes_there, result.labels = write_side(conn, bundle.labels, bundle.notes)
    with_history = sorted({e["card_id"] for e in history} & inserted_ids)
    for part in _chunks(with_history):  # the file's history replaces the triggers' events (created, noted, labeled)
        conn.execute(EV.delete().where(EV.c.id > mark, EV.c.card_id.in_(part), EV.c.kind.in_(_TRIGGERED)))
    result.inserted = [r["id"] for r in to_insert]
    result.replaced = [r["id"] for r in to_replace]

    if verify:
        _verify(conn, file_json, result, total_before, history, verbatim)
        lost = verify_side(conn, bundle.labels, bundle.notes)
        if lost:
            raise VerifyFailed(f"verification failed: {lost}")
        result.verified = True
    return result


def _verify(conn, file_json, result: ImportResult, total_before: int, history, verbatim: bool) -> None:
    total = conn.execute(select(func.count()).select_from(B)).scalar_one()
    if total != total_before + len(result.inserted):
        raise VerifyFailed(f"verification failed: {total} cards in the target, expected {total_before + len(result.inserted)}")
    check = [cid for cid in file_json if cid not in set(result.kept)]
    back = _existing(conn, check)
    bad = [cid for cid in check if cid not in back or card_checksum(back[cid]) != card_checksum(file_json[cid])]
    if bad:
        raise VerifyFailed(f"verification failed: {len(bad)} cards differ after the copy (first: {bad[0]!r})")
    if verbatim and history:
        ids = [e["id"] for e in history]
        got = {}
        for part in _chunks(ids):
            for r in conn.execute(select(EV).where(EV.c.id.in_(part))):
                got[r.id] = event_json(event_from_row(r))
        want = {e["id"]: event_json(_event_from_row(e)) for e in history}
        if got != want:
            raise VerifyFailed("verification failed: the event history differs after the copy")


def _event_from_row(row: dict[str, Any]):
    from mosaic_tui.db.models import Event

    return Event(**row)


def import_bundle(backlog: Backlog, bundle: Bundle, **kw) -> ImportResult:
    """Import in one transaction of ``backlog``'s database: all or nothing."""
    return backlog.db.run(lambda conn: import_in(conn, bundle, **kw))


# --------------------------------------------------------------------------- migrate
def same_database(a: Backlog, b: Backlog) -> bool:
    return a.db.target.same_database(b.db.target)


def migrate(source: Backlog, target: Backlog, *, merge: bool = False, replace: bool = False) -> dict[str, Any]:
    """Copy every card and event of ``source`` into ``target``, verified, in one target transaction.

    Refuses a non-empty target unless ``merge``; when merging, a card that
    exists in both and differs is an error unless ``replace``. On any failure
    the target is left as it was.
    """
    if same_database(source, target):
        raise InvalidInput("the source and the target are the same database")
    snap = snapshot(source)
    bundle = Bundle(cards=[card_row(c) for c in snap.cards], events=[event_row(e) for e in snap.events],
                    labels=snap.labels, notes=[note_row(n, _ts) for n in snap.notes])
    result = target.db.run(lambda conn: import_in(
        conn, bundle, on_existing="replace" if replace else "fail", require_empty=not merge, verify=True,
    ))
    # A last look from a new transaction, after the commit.
    total = target.count()
    return {
        "source": source.db.target.display(), "target": target.db.target.display(),
        "cards": len(snap.cards), "events": len(snap.events), "targetCards": total,
        **result.as_json(),
    }
