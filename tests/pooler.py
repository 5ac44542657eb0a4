"""A PgBouncer of the tests' (and benchmarks') own: started from a config in a temporary folder.

Debian's ``pgbouncer`` package provides the binary (``.ci/run`` installs it);
we never use its system service or its port 6432. Each :class:`PgBouncer`
listens on a free loopback port of its own, points at the test server
(``MOSAIC_TEST_PG_URL``'s host and port) and stops when closed.
``MOSAIC_TEST_PGBOUNCER`` may name the binary.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy.engine import make_url

PG_ADMIN_URL = os.environ.get("MOSAIC_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
HINT = "install Debian's pgbouncer (apt-get install -y pgbouncer) or set MOSAIC_TEST_PGBOUNCER to its binary"


def need() -> None:
    """Skip the calling test when PgBouncer is not installed (fail it under MOSAIC_REQUIRE_PG=1)."""
    if binary() is None:
        from conftest import missing

        missing(f"the pooler tests need PgBouncer: {HINT}")


def binary() -> str | None:
    """The pgbouncer binary, or None when it is not installed."""
    named = os.environ.get("MOSAIC_TEST_PGBOUNCER")
    if named:
        return named if os.access(named, os.X_OK) else None
    found = shutil.which("pgbouncer")
    if found:
        return found
    for candidate in ("/usr/sbin/pgbouncer", "/usr/local/sbin/pgbouncer", "/usr/local/bin/pgbouncer"):
        if os.access(candidate, os.X_OK):
            return candidate
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PgBouncer:
    """One PgBouncer process in front of the test server.

    ``pool_mode``: ``transaction`` (server connections shared between
    transactions: the fleet's setting) or ``session``. ``pool_size`` server
    connections per database/user pair (small, so that they are shared);
    ``max_client_conn`` client connections in all.
    """

    def __init__(self, *, pool_mode: str = "transaction", pool_size: int = 4, max_client_conn: int = 200,
                 users: tuple[str, ...] = ()):
        exe = binary()
        if exe is None:
            raise FileNotFoundError(f"pgbouncer is not installed: {HINT}")
        server = make_url(PG_ADMIN_URL)
        self.server_user = server.username or "postgres"
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="mosaic-pgbouncer-"))
        users = (self.server_user, *users)
        (self.dir / "users.txt").write_text("".join(f'"{u}" ""\n' for u in dict.fromkeys(users)))
        (self.dir / "pgbouncer.ini").write_text(
            "[databases]\n"
            f"* = host={server.host or '127.0.0.1'} port={server.port or 5432}\n"
            "[pgbouncer]\n"
            "listen_addr = 127.0.0.1\n"
            f"listen_port = {self.port}\n"
            "unix_socket_dir =\n"
            "auth_type = trust\n"
            f"auth_file = {self.dir / 'users.txt'}\n"
            f"pool_mode = {pool_mode}\n"
            f"default_pool_size = {pool_size}\n"
            "min_pool_size = 0\n"
            "reserve_pool_size = 0\n"
            f"max_client_conn = {max_client_conn}\n"
            f"logfile = {self.dir / 'pgbouncer.log'}\n"
            f"pidfile = {self.dir / 'pgbouncer.pid'}\n"
            f"admin_users = {self.server_user}\n"
            "ignore_startup_parameters = extra_float_digits,options\n"
            "server_login_retry = 1\n"
            "query_wait_timeout = 60\n"
        )
        cmd = [exe, str(self.dir / "pgbouncer.ini")]
        if os.geteuid() == 0:  # PgBouncer refuses to run as root
            import pwd

            user = "postgres" if _has_user("postgres") else "nobody"
            cmd[1:1] = ["-u", user]
            os.chmod(self.dir, 0o777)
            shutil.chown(self.dir / "users.txt", user=pwd.getpwnam(user).pw_uid)
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self._wait_ready()

    def _wait_ready(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                out = self.proc.stdout.read().decode(errors="replace") if self.proc.stdout else ""
                self.close()
                raise RuntimeError(f"pgbouncer exited ({self.proc.returncode}): {out.strip()[-500:]}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                return
            time.sleep(0.05)
        self.close()
        raise RuntimeError("pgbouncer did not start listening")

    def url(self, database_url: str) -> str:
        """``database_url`` (a database on the test server) as reached through this PgBouncer."""
        return make_url(database_url).set(host="127.0.0.1", port=self.port).render_as_string(hide_password=False)

    def show(self, what: str) -> list[dict]:
        """``SHOW <what>`` on PgBouncer's admin console (e.g. SERVERS, POOLS), as dicts."""
        import psycopg

        conn = psycopg.connect(f"host=127.0.0.1 port={self.port} dbname=pgbouncer user={self.server_user}",
                               autocommit=True)
        try:
            res = conn.pgconn.exec_(f"SHOW {what}".encode())  # the console speaks the simple protocol only
            names = [res.fname(i).decode() for i in range(res.nfields)]
            return [{n: (v.decode() if (v := res.get_value(r, i)) is not None else None) for i, n in enumerate(names)}
                    for r in range(res.ntuples)]
        finally:
            conn.close()

    def log(self) -> str:
        try:
            return (self.dir / "pgbouncer.log").read_text(errors="replace")
        except OSError:
            return ""

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # immediate shutdown
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout:
            self.proc.stdout.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> PgBouncer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _has_user(name: str) -> bool:
    import pwd

    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


@contextlib.contextmanager
def pgbouncer(**kw) -> Iterator[PgBouncer]:
    with PgBouncer(**kw) as bouncer:
        yield bouncer
