"""Where the backlog lives and moving it: ``export``, ``import``, ``migrate``, ``db``."""

from __future__ import annotations

import os
import sys

import click

from mosaic_tui.cli import output as out
from mosaic_tui.cli.group import Open, cli, common, json_mode, state


@cli.command("export", short_help="Write the whole backlog as JSON Lines.")
@common
@click.argument("file", required=False, metavar="[FILE]")
def export_(file: str | None) -> None:
    """Write the whole backlog (cards with their labels, notes, events) as JSON Lines to FILE or stdout."""
    from mosaic_tui.repository import transfer
    from mosaic_tui.errors import InvalidInput

    with Open() as b:
        if file is None or file == "-":
            transfer.write_export(b, sys.stdout)
            return
        tmp = f"{file}.tmp-{os.getpid()}"  # written whole, then renamed: never a half export under FILE
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with open(fd, "w", encoding="utf-8") as fh:
                counts = transfer.write_export(b, fh)
            os.replace(tmp, file)
        except BaseException as exc:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            if isinstance(exc, OSError):
                raise InvalidInput(f"cannot write {file}: {exc.strerror or exc}") from None
            raise
    if json_mode():
        out.emit_json({"exported": {**counts, "file": file}})
    else:
        out.say(f"exported {_counted(counts)} to {out.safe(file)}")


def _n(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _counted(counts: dict) -> str:
    """``5 cards, 8 events, 1 note and 0 labels``: what an export or a migrate carried."""
    return (f"{_n(counts['cards'], 'card')}, {_n(counts['events'], 'event')}, {_n(counts['notes'], 'note')} and "
            f"{_n(counts['labels'], 'label')}")


@cli.command("import", short_help="Read an export back in (all or nothing).")
@common
@click.argument("file", metavar="FILE")
@click.option("--on-existing", type=click.Choice(["skip", "replace", "fail"]), default="skip", show_default=True,
              help="A card whose id exists already and differs: keep the backlog's (skip), overwrite it "
                   "(replace) or refuse the whole import (fail). Identical cards are always skipped.")
def import_(file: str, on_existing: str) -> None:
    """Read an export (FILE, or - for stdin) into the backlog, in one transaction: all or nothing."""
    from mosaic_tui.repository import transfer
    from mosaic_tui.errors import InvalidInput

    try:
        if file == "-":
            bundle = transfer.parse_lines(sys.stdin)
        else:
            with open(file, encoding="utf-8") as fh:
                bundle = transfer.parse_lines(fh)
    except OSError as exc:
        raise InvalidInput(f"cannot read {file}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise InvalidInput(f"{file} is not UTF-8 text") from None
    with Open() as b:
        result = transfer.import_bundle(b, bundle, on_existing=on_existing)
    if json_mode():
        out.emit_json({"imported": result.as_json()})
        return
    parts = [f"imported {_n(len(result.inserted), 'card')}", _n(result.events, "event")]
    if result.replaced:
        parts.append(f"replaced {len(result.replaced)}")
    if result.unchanged:
        parts.append(f"{len(result.unchanged)} already there")
    if result.kept:
        parts.append(f"kept {len(result.kept)} existing that differ: {out.safe(', '.join(result.kept[:10]))}")
    if result.notes or result.labels:
        parts.append(f"{_n(result.notes, 'note')} and {_n(result.labels, 'label')} added")
    if result.notes_there:
        parts.append(f"{_n(result.notes_there, 'note')} already there")
    out.say(", ".join(parts))


@cli.command(short_help="Copy the backlog into another database, verified.")
@common
@click.option("--to", "to_url", required=True, metavar="URL", help="The target database (e.g. a Postgres server).")
@click.option("--merge", is_flag=True, help="Allow a non-empty target: add what it lacks, refuse cards that differ.")
@click.option("--replace", is_flag=True, help="With --merge: overwrite target cards that differ.")
def migrate(to_url: str, merge: bool, replace: bool) -> None:
    """Copy this backlog (--db) into another database and verify the copy before reporting success.

    Cards and events are written in one transaction of the target; every card is
    read back and compared (counts and a SHA-256 checksum per card) before it
    commits, so a failed migrate leaves the target unchanged.
    """
    from mosaic_tui.repository import transfer
    from mosaic_tui.repository import Backlog

    if replace and not merge:
        raise click.UsageError("--replace only makes sense with --merge")
    state().note(to_url)
    with Open() as src:
        target = Backlog.open(to_url, wait=state().wait)
        try:
            result = transfer.migrate(src, target, merge=merge, replace=replace)
        finally:
            target.close()
    if json_mode():
        out.emit_json({"migrated": result})
    else:
        out.say(f"migrated {_counted({**result, 'cards': result['inserted']})} "
                f"from {out.safe(result['source'])} to {out.safe(result['target'])}; "
                f"verified {_n(result['cards'], 'card')} by checksum"
                + (f" ({result['unchanged']} were there already)" if result["unchanged"] else ""))


@cli.command(short_help="Which backlog: backend, URL, file, schema version.")
@common
def db() -> None:
    """Which backlog: backend, URL (password hidden), file, schema version."""
    with Open() as b:
        target = b.db.target
        version = b.schema_version()
    info = {
        "backend": target.backend, "url": target.display(), "source": target.source,
        "path": str(target.path) if target.path else None, "schemaVersion": version,
    }
    if json_mode():
        out.emit_json(info)
        return
    out.say(f"backend:        {info['backend']}")
    out.say(f"url:            {out.safe(info['url'])}  (from {info['source']})")
    if info["path"]:
        out.say(f"file:           {out.safe(info['path'])}")
    out.say(f"schema version: {version}")
