"""The console script's front door: the agent's hot verbs with ``--json``, without click, SQLAlchemy
or SQLModel.

An agent runs ``mosaic-tui claim|heartbeat|complete ... --json`` as one
process per call, so the start-up is most of what it waits for. This module
reads those command lines itself (the same options, in any order, before or
after the command name, ``--opt value`` or ``--opt=value``) and runs the verb
through :func:`mosaic_tui.repository.verbs.run_once`: the driver alone, the same
statements, checks, refusals and JSON as the full CLI, the same errors and exit
codes (:func:`mosaic_tui.cli.output.report`), passwords scrubbed.

Everything else goes to the full CLI (:func:`mosaic_tui.cli.group.run`,
click) with the command line unchanged: another command, no ``--json``,
``--help``, an option or a value this reader is not sure to read as click
does, and -- before anything is written -- a backlog that only the full path
can serve exactly so (a SQLite file that does not exist yet, a schema to
migrate, an unusual URL). So the full CLI stays the reference; this path only
ever takes the common case, and says the same things.
"""

from __future__ import annotations

import re
import sys
from typing import Any

from mosaic_tui.cli import output as out

# verb -> (its options with a value, how many IDs it takes, the options it requires)
HOT: dict[str, tuple[frozenset[str], int, frozenset[str]]] = {
    "claim": (frozenset({"--owner", "--ttl", "--id"}), 0, frozenset({"--owner"})),
    "heartbeat": (frozenset({"--owner", "--ttl"}), 1, frozenset({"--owner"})),
    "complete": (frozenset({"--owner"}), 1, frozenset()),
}
_COMMON = frozenset({"--db", "--wait", "--read-url"})  # (claims go to --db: --read-url is only checked)  # every command's, before or after the command name
_GROUP = frozenset({"--listen-url"})  # only before the command name
_WAIT = re.compile(r"\d{1,4}(\.\d{1,6})?")


def parse(argv: list[str]) -> tuple[str, dict[str, Any], dict[str, Any]] | None:
    """``(verb, its arguments, the common options)`` for a hot verb with --json, or None: the full CLI."""
    verb: str | None = None
    given: dict[str, str] = {}
    ids: list[str] = []
    as_json = False
    i = 0
    while i < len(argv):
        token = argv[i]
        i += 1
        if token == "--json":
            as_json = True
            continue
        if not token.startswith("-"):
            if verb is None:
                if token not in HOT:
                    return None
                verb = token
            else:
                ids.append(token)
            continue
        name, eq, value = token.partition("=")
        allowed = _COMMON | (_GROUP if verb is None else HOT[verb][0])
        if name not in allowed or name in given:  # unknown (also --help, --, -x) or repeated: click's to say
            return None
        if not eq:
            if i >= len(argv) or argv[i].startswith("-"):
                return None
            value = argv[i]
            i += 1
        given[name] = value
    if verb is None or not as_json:
        return None
    options, n_ids, required = HOT[verb]
    if len(ids) != n_ids or not required <= set(given):
        return None
    wait = given.get("--wait")
    if wait is not None:
        if not _WAIT.fullmatch(wait) or float(wait) > 3600:
            return None
        wait = float(wait)
    common = {"db": given.get("--db"), "wait": wait, "listen_url": given.get("--listen-url"),
              "read_url": given.get("--read-url")}
    if verb == "claim":
        args = {"owner": given["--owner"], "ttl": given.get("--ttl", "900"), "card_id": given.get("--id")}
    elif verb == "heartbeat":
        args = {"card_id": ids[0], "owner": given["--owner"], "ttl": given.get("--ttl", "900")}
    else:
        args = {"card_id": ids[0], "owner": given.get("--owner")}
    return verb, args, common


def attempt(argv: list[str]) -> int | None:
    """Run ``argv`` here if it is a hot verb with --json: its exit code; None when the full CLI must."""
    parsed = parse(argv)
    if parsed is None:
        return None
    verb, args, common = parsed
    secrets = out.passwords(*argv, *out.url_variables())
    try:
        from mosaic_tui.repository.verbs import NeedsFullPath, run_once
    except ImportError:  # pragma: no cover - a broken install: the full CLI says what is missing
        return None
    try:
        card = run_once(verb, args, **common)
    except (NeedsFullPath, ImportError):  # nothing written yet (a driver is imported before connecting)
        return None
    except (Exception, KeyboardInterrupt) as exc:  # noqa: BLE001 - never a traceback
        return out.report(exc, secrets, as_json=True)
    try:
        out.emit_json(card)
    except BrokenPipeError:
        return out.stdout_gone()
    return 0


def run(argv: list[str]) -> int:
    """One command: here if it is a hot verb with --json, else through the full CLI."""
    code = attempt(argv)
    if code is None:
        from mosaic_tui.cli.commands import run as full

        code = full(argv)
    return code


def main(argv: list[str] | None = None) -> None:
    """The console script (``mosaic-tui``) and ``python -m mosaic_tui``."""
    sys.exit(run(sys.argv[1:] if argv is None else list(argv)))
