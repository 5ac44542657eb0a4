"""Where the backlog lives: the one reader of database URLs, and the one password scrubber.

Precedence: an explicit URL (the ``--db`` flag) > ``DATABASE_URL`` > the
embedded default, a SQLite file at ``<data dir>/fleet/backlog.db`` where the
data dir is ``MOSAIC_HOME`` or the platform's user data dir for ``mosaic``.

Every path reads a URL here -- the one-shot CLI path (:mod:`mosaic_tui.db.connections`),
the SQLAlchemy engine, the change feed, ``mcp``, ``serve``, migrations -- and
connects to Postgres with the same libpq keywords (:attr:`Target.connect_kwargs`),
so a URL means the same thing everywhere. Postgres, as libpq reads it:

* ``postgresql://user:pw@h1:5441,h2:5442/db?target_session_attrs=read-write``
  (several hosts, each with its port; IPv6 in brackets), ``postgres://`` and
  ``postgresql+<driver>://`` alike;
* the hosts in the query: ``?host=h1,h2&port=5441,5442`` (libpq) or
  ``?host=h1:5441&host=h2:5442`` (SQLAlchemy's form);
* any libpq keyword in the query (``sslmode``, ``sslrootcert``, ``service``,
  ``connect_timeout``, ``options``...); an unknown one is refused;
* the keyword/value form ``host=h1,h2 port=5441 dbname=fleet``, ``service=fleet``;
* what the URL leaves out, libpq takes from the ``PG*`` environment variables
  (``PGHOST``, ``PGPASSWORD``, ``PGSERVICE``...) and its service and password files.

SQLite: ``sqlite:///path`` or a plain file path. Imports only the standard library
(the one-shot path reads its URL here too).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

from mosaic_tui.errors import InvalidInput

__all__ = ["Target", "data_dir", "default_sqlite_path", "parse", "redact", "resolve", "resolve_listen",
           "resolve_read", "scrub", "secrets"]

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")
#: libpq's connection keywords (PostgreSQL 17's; an older libpq refuses the newest itself).
LIBPQ_KEYWORDS = frozenset("""
    host hostaddr port dbname user password passfile require_auth channel_binding connect_timeout
    client_encoding options application_name fallback_application_name keepalives keepalives_idle
    keepalives_interval keepalives_count tcp_user_timeout replication gssencmode sslmode sslnegotiation
    requiressl sslcompression sslcert sslkey sslcertmode sslpassword sslrootcert sslcrl sslcrldir sslsni
    requirepeer ssl_min_protocol_version ssl_max_protocol_version krbsrvname gsslib gssdelegation service
    target_session_attrs load_balance_hosts
""".split())
_KEYWORD_FORM = re.compile(r"^\s*([a-z_]+)\s*=")
_CONNINFO_PAIR = re.compile(r"\s*([a-z_]+)\s*=\s*('(?:[^'\\]|\\.)*'|(?:(?:[^\s'\\]|\\.)(?:[^\s\\]|\\.)*)?)")
_URL = re.compile(r"^(?P<scheme>[^:]+)://(?:(?P<userinfo>[^@/?]*)@)?(?P<netloc>[^/?]*)(?:/(?P<db>[^?]*))?"
                  r"(?:\?(?P<query>.*))?$", re.S)


def data_dir() -> Path:
    home = os.environ.get("MOSAIC_HOME")
    if home:
        return Path(home).expanduser()
    from platformdirs import user_data_dir

    return Path(user_data_dir("mosaic", appauthor=False))


def default_sqlite_path() -> Path:
    return data_dir() / "fleet" / "backlog.db"


class Target:
    """A resolved backlog location.

    ``connect_kwargs``: Postgres, the libpq keywords to connect with (before
    our own connect arguments); ``raw``: the text it was read from, password
    included (only ever handed to a child process or a test); ``display()``:
    the URL for people, password as ``***``; ``short()``: hosts and database,
    for one-line messages. (A plain class: ``dataclasses`` would cost the
    one-shot path the import of ``inspect``.)
    """

    __slots__ = ("backend", "source", "raw", "path", "password", "connect_kwargs", "_display")

    def __init__(self, backend: str, source: str, raw: str, display: str, *, path: Path | None = None,
                 password: str | None = None, connect_kwargs: dict[str, Any] | None = None):
        self.backend = backend  # "sqlite" | "postgresql"
        self.source = source  # "flag" | "DATABASE_URL" | "default" | "MOSAIC_LISTEN_URL" | "MOSAIC_READ_URL"
        self.raw = raw
        self.path = path
        self.password = password
        self.connect_kwargs = connect_kwargs or {}
        self._display = display

    def display(self) -> str:
        return self._display

    def hosts(self) -> list[tuple[str, str]]:
        """Postgres: ``[(host, port)]`` as the URL gives them (else ``PGHOST``/``PGPORT``, else libpq's default)."""
        kw = self.connect_kwargs
        hosts = (kw.get("host") or kw.get("hostaddr") or os.environ.get("PGHOST") or "localhost").split(",")
        ports = str(kw.get("port") or os.environ.get("PGPORT") or "5432").split(",")
        if len(ports) == 1:
            ports = ports * len(hosts)
        return [(h or "localhost", p or "5432") for h, p in zip(hosts, ports, strict=False)]

    @property
    def database(self) -> str | None:
        return self.connect_kwargs.get("dbname") or (os.environ.get("PGDATABASE") if self.backend != "sqlite" else None)

    def short(self) -> str:
        """``h1:5441,h2:5442/db`` (Postgres) or the file (SQLite): which database, in few characters."""
        if self.backend == "sqlite":
            return str(self.path)
        if "service" in self.connect_kwargs and "host" not in self.connect_kwargs:
            return f"service {self.connect_kwargs['service']}"
        return ",".join(f"[{h}]:{p}" if ":" in h else f"{h}:{p}" for h, p in self.hosts()) + "/" + (self.database or "")

    def same_database(self, other: Target) -> bool:
        if self.backend != other.backend:
            return False
        if self.backend == "sqlite":
            return self.path is not None and other.path is not None and self.path.resolve() == other.path.resolve()
        return (self.hosts(), self.database) == (other.hosts(), other.database)

    def __repr__(self) -> str:
        return f"Target({self.backend!r}, {self._display!r})"


# --------------------------------------------------------------------------- reading
def _sqlite(path: Path, source: str, raw: str) -> Target:
    return Target("sqlite", source, raw, "sqlite:///" + quote(str(path), safe=" +/"), path=path)


def _split_hostport(item: str) -> tuple[str, str]:
    """``h``, ``h:5432``, ``[::1]:5432`` -> (host, port)."""
    if item.startswith("["):
        end = item.find("]")
        if end < 0:
            raise ValueError("an IPv6 address without its closing ]")
        host, rest = item[1:end], item[end + 1:]
        if rest and not rest.startswith(":"):
            raise ValueError(f"unexpected {rest!r} after an IPv6 address")
        return host, rest[1:]
    if item.startswith("/"):  # a Unix socket's directory
        return item, ""
    host, _, port = item.partition(":")
    return host, port


def _hosts(items: list[str], ports: str | None) -> tuple[str, str]:
    """libpq's ``host`` and ``port`` values for a list of ``host[:port]`` and an optional port list."""
    hosts, own = zip(*(_split_hostport(i) for i in items), strict=True)
    port_list = ports.split(",") if ports else list(own)
    if ports and any(own):
        raise ValueError("a port both with a host and in port=")
    if len(port_list) not in (1, len(hosts)):
        raise ValueError(f"{len(hosts)} hosts but {len(port_list)} ports")
    for p in port_list:
        if p and not (p.isdigit() and 0 < int(p) < 65536):
            raise ValueError(f"port {p!r} is not a number from 1 to 65535")
    return ",".join(hosts), (",".join(port_list) if any(port_list) else "")


def _pg_url(raw: str) -> dict[str, str]:
    m = _URL.match(raw)
    if m is None:
        raise ValueError("not a URL")
    kw: dict[str, str] = {}
    if m["userinfo"] is not None:
        user, colon, password = m["userinfo"].partition(":")
        if user:
            kw["user"] = unquote(user)
        if colon and password:  # as libpq: an empty password is no password
            kw["password"] = unquote(password)
    query_hosts: list[str] = []
    query_ports: str | None = None
    for pair in (m["query"] or "").split("&"):
        if not pair:
            continue
        key, eq, value = pair.partition("=")
        key, value = unquote(key), unquote(value.replace("+", " "))
        if not eq:
            raise ValueError(f"query parameter {key!r} without a value")
        if key not in LIBPQ_KEYWORDS:
            raise ValueError(f"unknown connection parameter {key!r}")
        if key == "host":
            query_hosts += value.split(",")
        elif key == "port":
            query_ports = value
        else:
            kw[key] = value
    netloc = [unquote(h) for h in m["netloc"].split(",")] if m["netloc"] else []
    if netloc and query_hosts:
        raise ValueError("hosts both before the path and in ?host=")
    items = netloc or query_hosts
    if items:
        host, port = _hosts(items, query_ports)
        if host.strip(","):
            kw["host"] = host
        if port:
            kw["port"] = port
    elif query_ports:
        kw["port"] = _hosts([""], query_ports)[1]
    if m["db"]:
        kw["dbname"] = unquote(m["db"])
    return kw


def _conninfo(raw: str) -> dict[str, str]:
    """libpq's keyword/value form: ``host=h port=5432 dbname='my db'``."""
    kw: dict[str, str] = {}
    pos, raw = 0, raw.strip()
    while pos < len(raw):
        m = _CONNINFO_PAIR.match(raw, pos)
        if m is None or m.end() == pos:
            raise ValueError(f"cannot read {raw[pos:pos + 20]!r}")
        key, value = m[1], m[2]
        if key not in LIBPQ_KEYWORDS:
            raise ValueError(f"unknown connection parameter {key!r}")
        if value.startswith("'"):
            value = value[1:-1]
        kw[key] = re.sub(r"\\(.)", r"\1", value)
        pos = m.end()
        while pos < len(raw) and raw[pos].isspace():
            pos += 1
    if "host" in kw or "port" in kw:
        host, port = _hosts(kw.get("host", "").split(","), kw.get("port"))
        kw.pop("host", None), kw.pop("port", None)
        if host.strip(","):
            kw["host"] = host
        if port:
            kw["port"] = port
    return kw


def _display(kw: dict[str, str]) -> str:
    """The URL for people: libpq's URL form, the password as ``***``."""
    out = "postgresql://"
    if "user" in kw or "password" in kw:
        out += quote(kw.get("user", ""), safe="") + (":***" if "password" in kw else "") + "@"
    if "host" in kw:
        hosts = kw["host"].split(",")
        ports = kw.get("port", "").split(",") if kw.get("port") else [""] * len(hosts)
        if len(ports) == 1:
            ports = ports * len(hosts)
        if all(not h.startswith("/") for h in hosts):
            out += ",".join(("[" + h + "]" if ":" in h else quote(h, safe=".-_")) + (":" + p if p else "")
                            for h, p in zip(hosts, ports, strict=False))
    if "dbname" in kw:
        out += "/" + quote(kw["dbname"], safe="")
    rest = {k: v for k, v in kw.items() if k not in ("user", "password", "dbname")}
    if "host" in rest and not any(h.startswith("/") for h in kw["host"].split(",")):
        rest.pop("host"), rest.pop("port", None)
    if rest:
        out += "?" + "&".join(f"{k}={'***' if k == 'sslpassword' else quote(v, safe='/,:.-_')}"
                              for k, v in sorted(rest.items()))
    return out


def parse(raw: str, source: str = "flag") -> Target:
    """``raw`` (a --db value, ``DATABASE_URL``, a listen or read URL) as every path reads it."""
    raw = raw.strip()
    if not raw:
        raise InvalidInput("empty database URL")
    keyword = _KEYWORD_FORM.match(raw)
    if keyword and keyword[1] in LIBPQ_KEYWORDS and not _SCHEME.match(raw):
        try:
            kw = _conninfo(raw)
        except ValueError as exc:
            raise InvalidInput(f"not a connection string ({exc}): {scrub(raw)}") from None
        return Target("postgresql", source, raw, _display(kw), password=kw.get("password"), connect_kwargs=kw)
    if not _SCHEME.match(raw) and not raw.startswith("sqlite:"):
        # A plain file path means an embedded SQLite file.
        return _sqlite(Path(raw).expanduser().absolute(), source, raw)
    scheme = raw.split(":", 1)[0].lower()
    name = scheme.split("+", 1)[0]
    if name in ("postgres", "postgresql"):
        try:
            kw = _pg_url(raw)
        except ValueError as exc:
            raise InvalidInput(f"not a database URL ({exc}): {scrub(raw)}") from None
        return Target("postgresql", source, raw, _display(kw), password=kw.get("password"), connect_kwargs=kw)
    if name == "sqlite":
        if scheme not in ("sqlite", "sqlite+pysqlite"):
            raise InvalidInput(f"unsupported SQLite driver in {scrub(raw)} (use sqlite:///path)")
        m = re.match(r"^[^:]+://(?P<host>[^/]*)(?:/(?P<db>[^?]*))?(?:\?(?P<q>.*))?$", raw)
        if m is None or m["host"] or m["q"]:
            raise InvalidInput(f"not a SQLite URL: {scrub(raw)} (use sqlite:///path)")
        db = unquote(m["db"] or "")
        if not db or db == ":memory:":
            raise InvalidInput("an in-memory SQLite database cannot hold a backlog; give a file path")
        return _sqlite(Path(db).expanduser().absolute(), source, raw)
    raise InvalidInput(
        f"unsupported database {scrub(raw)}: use postgresql://..., postgres://..., sqlite:///path or a file path"
    )


def resolve(explicit: str | None = None) -> Target:
    """Resolve the backlog's location from a flag, the environment or the default."""
    if explicit:
        return parse(explicit, "flag")
    if os.environ.get("DATABASE_URL"):
        return parse(os.environ["DATABASE_URL"], "DATABASE_URL")
    path = default_sqlite_path()
    return _sqlite(path, "default", str(path))


def _resolve_pg(explicit: str | None, env: str, flag: str) -> Target | None:
    if explicit:
        raw, source = explicit, "flag"
    elif os.environ.get(env):
        raw, source = os.environ[env], env
    else:
        return None
    target = parse(raw, source)
    if target.backend != "postgresql":
        what = flag if source == "flag" else source
        raise InvalidInput(f"{what} must be a postgresql:// URL, not {target.display()}")
    return target


def resolve_listen(explicit: str | None = None) -> Target | None:
    """The URL of the change feed's listening connection: the ``--listen-url`` flag >
    ``MOSAIC_LISTEN_URL`` > None (listen where the backlog is).

    Under a transaction pooler LISTEN cannot work; this points the one
    listening connection at the server itself or at the pooler's session mode.
    """
    return _resolve_pg(explicit, "MOSAIC_LISTEN_URL", "--listen-url")


def resolve_read(explicit: str | None = None) -> Target | None:
    """A read replica: the ``--read-url`` flag > ``MOSAIC_READ_URL`` > None (read where the backlog is)."""
    return _resolve_pg(explicit, "MOSAIC_READ_URL", "--read-url")


# --------------------------------------------------------------------------- the one scrubber
_USERINFO = re.compile(r"(://[^:/@\s]*):([^@\s]+)@")
_PASSWORD_KW = re.compile(r"\b((?:ssl)?password\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s&]+)", re.I)


def secrets(*texts: str | None) -> set[str]:
    """The passwords a URL or connection string carries, raw and percent-encoded, and ``PGPASSWORD``'s."""
    found: set[str] = set()
    if os.environ.get("PGPASSWORD"):
        found.add(os.environ["PGPASSWORD"])
    for text in texts:
        if not text:
            continue
        for m in _USERINFO.finditer(text):
            found |= {m[2], unquote(m[2])}
        for m in _PASSWORD_KW.finditer(text):
            value = m[2].strip("'")
            found |= {value, unquote(value)}
    found |= {quote(p, safe="") for p in found}
    return {p for p in found if p and p != "***"}


def scrub(text: str, hidden: set[str] | Target | None = None) -> str:
    """``text`` on one line with every password in ``hidden`` (or a Target's) as ``***``, and any
    password a URL or a ``password=`` in it still carries."""
    if isinstance(hidden, Target):
        hidden = secrets(hidden.raw)
    for p in sorted(hidden or (), key=len, reverse=True):
        text = text.replace(p, "***")
    text = _USERINFO.sub(r"\1:***@", text)
    text = _PASSWORD_KW.sub(r"\1***", text)
    return " ".join(text.split())


def redact(raw: str) -> str:
    """A URL as the user wrote it, with any password replaced by ``***`` (whether or not it parses)."""
    return scrub(raw, secrets(raw))
