"""The status changes' rules, written once: which statuses each change accepts, what it sets, and
why it refuses. The single-card operations (``Backlog.block``, ``Backlog.complete`` ...), the bulk ones
(``Backlog.bulk``) and the CLI's one-shot ``complete`` (:mod:`mosaic_tui.repository.verbs`) all read them,
so one card and a thousand, in a long-lived process or a one-shot one, follow the same rules.

Imports only light modules of the standard library and :mod:`mosaic_tui.errors` (the one-shot path loads it).
A card here is anything with a ``Card``'s attributes (a ``Card``, or the one-shot path's ``CardRow``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple

from mosaic_tui.errors import InvalidInput

if TYPE_CHECKING:
    from mosaic_tui.db.models import Card

#: The values that clear a card's claim.
CLEAR_CLAIM = {"claim_owner": None, "claim_ttl_seconds": None, "claimed_at": None}


class Rule(NamedTuple):  # not a dataclass: the one-shot path would import dataclasses (and inspect) for it
    """One status change: ``allowed`` statuses, the ``values`` it sets, and its refusals.

    ``refuse(card, owner)`` is the single operation's message (``card 'A' is done; ...``);
    ``reason(card, owner)`` the short form a bulk result lists (``A is done``).
    """

    verb: str  # block
    past: str  # blocked (the CLI's and the board's notices)
    allowed: tuple[str, ...]
    values: dict[str, Any]
    refuse: Callable[[Card, str | None], str]
    reason: Callable[[Card, str | None], str]
    owned: bool = False  # applies only while ``owner`` holds the claim


def _not(status: str) -> Callable[[Card, str | None], str]:
    return lambda c, _o: f"{c.id} is not {status} (it is {c.status})"


def _not_owned_long(c: Card, owner: str | None) -> str:
    if c.status != "claimed":
        return f"card {c.id!r} is not claimed (it is {c.status}); {owner!r} does not hold it"
    return f"card {c.id!r} is claimed by {c.claim_owner!r}, not {owner!r}"


def _not_owned(c: Card, owner: str | None) -> str:
    if c.status != "claimed":
        return f"{c.id} is not claimed by {owner} (it is {c.status})"
    return f"{c.id} is claimed by {c.claim_owner}, not {owner}"


RULES: dict[str, Rule] = {
    "block": Rule(
        "block", "blocked", ("ready", "claimed"), {"status": "blocked", **CLEAR_CLAIM},
        lambda c, _o: f"card {c.id!r} is already blocked" if c.status == "blocked"
        else f"card {c.id!r} is done; reopen it before blocking it",
        lambda c, _o: f"{c.id} is already blocked" if c.status == "blocked" else f"{c.id} is done",
    ),
    "unblock": Rule(
        "unblock", "unblocked", ("blocked",), {"status": "ready"},
        lambda c, _o: f"card {c.id!r} is not blocked (it is {c.status})", _not("blocked"),
    ),
    "complete": Rule(
        "complete", "completed", ("ready", "claimed", "blocked"), {"status": "done", **CLEAR_CLAIM},
        lambda c, _o: f"card {c.id!r} is already done", lambda c, _o: f"{c.id} is already done",
    ),
    "complete_owned": Rule(
        "complete", "completed", ("claimed",), {"status": "done", **CLEAR_CLAIM},
        _not_owned_long, _not_owned, owned=True,
    ),
    "reopen": Rule(
        "reopen", "reopened", ("done",), {"status": "ready"},
        lambda c, _o: f"card {c.id!r} is not done (it is {c.status})", _not("done"),
    ),
    "release": Rule(
        "release", "released", ("claimed",), {"status": "ready", **CLEAR_CLAIM},
        lambda c, _o: f"card {c.id!r} is not claimed (it is {c.status})", _not("claimed"),
    ),
    "release_owned": Rule(
        "release", "released", ("claimed",), {"status": "ready", **CLEAR_CLAIM},
        lambda c, o: f"card {c.id!r} is not claimed (it is {c.status})" if c.status != "claimed"
        else f"card {c.id!r} is claimed by {c.claim_owner!r}, not {o!r}",
        _not_owned, owned=True,
    ),
}


def rule_for(action: str, owner: str | None = None) -> Rule:
    """The rule of ``action`` (``complete`` / ``release`` with an owner: only while that owner holds the claim)."""
    if action in ("complete", "release") and owner is not None:
        return RULES[f"{action}_owned"]
    rule = RULES.get(action)
    if rule is None or rule.owned:
        raise InvalidInput(f"unknown action {action!r} (one of: block, unblock, complete, reopen, release)")
    if owner is not None:
        raise InvalidInput(f"only complete and release take an owner, not {action}")
    return rule


def allows(rule: Rule, card: Card, owner: str | None) -> bool:
    """Would ``rule`` change ``card`` (the same test as its UPDATE's WHERE)?"""
    return card.status in rule.allowed and (not rule.owned or card.claim_owner == owner)
