"""Saved views: named queries (``docs/query.md``) in TOML files.

Two files: the user's, ``views.toml`` in the data dir (``MOSAIC_HOME`` or the platform's), and the
project's, ``.mosaic/views.toml`` in the current directory or the nearest parent that has one (as
git finds ``.git``). A project view takes precedence over a user view of the same name (as gh-dash's
repository config does); the project's views come first, then the user's others, each in file
order. A file::

    [[view]]
    name = "infra, ready"
    query = "#infra status:ready"
    order = "impact"        # the ready column's order: "claim" (the default) or "impact"

A bad file (TOML, an unknown field, a bad query) raises :class:`ViewError`, one line naming the file
and the line. Below the entry floor.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from mosaic_tui.db.url import data_dir
from mosaic_tui.errors import InvalidInput, NotFound
from mosaic_tui.repository.query import And, Node, QueryError, parse

FILE_NAME = "views.toml"
PROJECT_DIR = ".mosaic"
ORDERS = ("claim", "impact")
FIELDS = ("name", "query", "order")


class ViewError(InvalidInput):
    """A views file that cannot be read: ``file, line N: what``."""


@dataclass(frozen=True)
class View:
    name: str
    query: str
    order: str | None = None  # the ready column's order, or None: leave it as it is
    source: str = "user"  # "project" or "user"
    path: str = ""

    @property
    def node(self) -> Node | None:
        return parse(self.query)


def user_file() -> Path:
    return data_dir() / FILE_NAME


def project_file(cwd: str | os.PathLike | None = None) -> Path | None:
    """``.mosaic/views.toml`` in ``cwd`` or its nearest parent that has one (None: no project file)."""
    here = Path(cwd or os.getcwd()).resolve()
    for d in (here, *here.parents):
        f = d / PROJECT_DIR / FILE_NAME
        if f.is_file():
            return f
    return None


def _line_of(text: str, index: int, key: str | None) -> int:
    """The line of the ``index``-th ``[[view]]`` (or of ``key`` inside it), 1-based."""
    lines = text.splitlines()
    heads = [i for i, ln in enumerate(lines) if re.match(r"\s*\[\[\s*view\s*\]\]", ln)]
    if index >= len(heads):
        return 1
    start = heads[index]
    if key is None:
        return start + 1
    end = heads[index + 1] if index + 1 < len(heads) else len(lines)
    for i in range(start, end):
        if re.match(rf"\s*[\"']?{re.escape(key)}[\"']?\s*=", lines[i]):
            return i + 1
    return start + 1


def read_file(path: Path, source: str) -> list[View]:
    """The views of one file, in order. Raises :class:`ViewError`."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise ViewError(f"{path}: cannot read: {e.strerror or e}") from None
    except UnicodeDecodeError:
        raise ViewError(f"{path}: not UTF-8 text") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        m = re.search(r"\(at line (\d+), column (\d+)\)", str(e))
        what = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(e))
        where = f"line {m.group(1)}, column {m.group(2)}" if m else "line ?"
        raise ViewError(f"{path}, {where}: {what}") from None
    extra = [k for k in data if k != "view"]
    if extra:
        line = next((i + 1 for i, ln in enumerate(text.splitlines()) if extra[0] in ln), 1)
        raise ViewError(f"{path}, line {line}: unknown field {extra[0]!r} (views are [[view]] tables)")
    raw = data.get("view", [])
    if not isinstance(raw, list) or not all(isinstance(v, dict) for v in raw):
        raise ViewError(f"{path}, line 1: 'view' must be [[view]] tables")
    out, seen = [], set()
    for i, v in enumerate(raw):
        for key in v:
            if key not in FIELDS:
                raise ViewError(f"{path}, line {_line_of(text, i, key)}: unknown field {key!r} in a view "
                                f"(fields: {', '.join(FIELDS)})")
        for key in ("name", "query"):
            if not isinstance(v.get(key), str):
                raise ViewError(f"{path}, line {_line_of(text, i, key if key in v else None)}: "
                                f"a view needs a {key} (text)")
        name = v["name"].strip()
        if not name or any(ord(c) < 32 for c in name):
            raise ViewError(f"{path}, line {_line_of(text, i, 'name')}: a view's name is one line of text")
        if name in seen:
            raise ViewError(f"{path}, line {_line_of(text, i, 'name')}: a second view named {name!r}")
        seen.add(name)
        order = v.get("order")
        if order is not None and order not in ORDERS:
            raise ViewError(f"{path}, line {_line_of(text, i, 'order')}: order must be claim or impact, not {order!r}")
        try:
            parse(v["query"])
        except QueryError as e:
            raise ViewError(f"{path}, line {_line_of(text, i, 'query')}: view {name!r}: {e}") from None
        out.append(View(name, v["query"], order, source, str(path)))
    return out


def load(cwd: str | os.PathLike | None = None) -> list[View]:
    """The views: the project's first (they win on a name), then the user's others."""
    project = project_file(cwd)
    views = read_file(project, "project") if project else []
    user = user_file()
    if user.is_file() and (project is None or user.resolve() != project.resolve()):
        names = {v.name for v in views}
        views += [v for v in read_file(user, "user") if v.name not in names]
    return views


def find(name: str, cwd: str | os.PathLike | None = None) -> View:
    views = load(cwd)
    for v in views:
        if v.name == name:
            return v
    known = ", ".join(repr(v.name) for v in views) or "none (see docs/query.md, Saved views)"
    raise NotFound(f"no view named {name!r}; views: {known}")


def where_of(where: str | None, view: str | None, cwd: str | os.PathLike | None = None) -> Node | None:
    """The query of ``--where`` and ``--view`` together (both must hold; either may be absent): what
    ``list`` runs on the CLI and in the MCP tool. A bad query or view file raises before any read."""
    node = parse(where)
    if view is None:
        return node
    saved = find(view, cwd).node
    return saved if node is None else node if saved is None else And((saved, node))


__all__ = ["FILE_NAME", "ORDERS", "View", "ViewError", "find", "load", "project_file", "read_file", "user_file", "where_of"]
