"""A Postgres primary and a streaming standby of the tests' (and benchmarks') own.

Built in a temporary folder with the server's binaries (``initdb``, then
``pg_basebackup -R`` for the standby), run as the ``postgres`` user when the
tests run as root (``.ci/run`` does; Postgres refuses root), each on a free
loopback port of its own, started with ``pg_ctl`` and removed when closed. Never
the suite's server on 5432. ``MOSAIC_TEST_PG_BIN`` may name the binaries' folder.

:class:`Pair` gives the URLs (``primary_url``, ``standby_url``, ``multi_url``:
both hosts, ``target_session_attrs=read-write``), ``stop_primary()`` (as a crash
would: ``pg_ctl stop -m immediate``) and ``promote()``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from pooler import free_port

HINT = "the Postgres server binaries (initdb, pg_ctl, pg_basebackup): set MOSAIC_TEST_PG_BIN to their folder"


def bindir() -> Path | None:
    named = os.environ.get("MOSAIC_TEST_PG_BIN")
    candidates = [Path(named)] if named else sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
    for c in candidates:
        if (c / "initdb").is_file() and (c / "pg_basebackup").is_file():
            return c
    return None


def _as_postgres(cmd: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return cmd
    return ["runuser", "-u", "postgres", "--", *cmd]


class Pair:
    """A primary (``primary_port``) and a streaming standby (``standby_port``), database ``mosaic``."""

    def __init__(self, *, synchronous: bool = False) -> None:
        self.bin = bindir()
        if self.bin is None:
            raise FileNotFoundError(f"no Postgres server binaries: {HINT}")
        self.dir = Path(tempfile.mkdtemp(prefix="mosaic-standby-"))
        if os.geteuid() == 0:
            shutil.chown(self.dir, user="postgres")
        self.primary_dir, self.standby_dir = self.dir / "primary", self.dir / "standby"
        self.primary_port = self.standby_port = 0  # each picked just before its server starts (_start_new)
        self.synchronous = synchronous
        self._running: set[Path] = set()
        try:
            self._build()
        except BaseException:
            self.close()
            raise

    # -- building ---------------------------------------------------------------------
    def _run(self, *cmd: str, timeout: float = 60) -> None:
        subprocess.run(_as_postgres([str(self.bin / cmd[0]), *cmd[1:]]), check=True, timeout=timeout,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=self.dir)

    def _build(self) -> None:
        self._run("initdb", "-D", str(self.primary_dir), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                  "--no-sync", "--no-instructions")
        conf = [
            "listen_addresses = '127.0.0.1'", f"unix_socket_directories = '{self.dir}'",
            "wal_level = replica", "max_wal_senders = 5", "hot_standby = on", "fsync = off",
            "full_page_writes = off", "shared_buffers = 16MB", "max_connections = 60", "wal_keep_size = 64MB",
            "hot_standby_feedback = on", "wal_receiver_status_interval = 1s", "logging_collector = off",
            "track_counts = on",
        ]
        with (self.primary_dir / "postgresql.conf").open("a") as fh:
            fh.write("\n".join(conf) + "\n")
        with (self.primary_dir / "pg_hba.conf").open("a") as fh:
            fh.write("host replication all 127.0.0.1/32 trust\n")
        self._start_new(self.primary_dir, "primary_port")
        self.sql(self.primary_port, "CREATE DATABASE mosaic", dbname="postgres")
        self._run("pg_basebackup", "-D", str(self.standby_dir), "-h", "127.0.0.1", "-p", str(self.primary_port),
                  "-U", "postgres", "-R", "-X", "stream", "--no-sync", "-c", "fast")
        self._start_new(self.standby_dir, "standby_port")
        self.wait_streaming()
        if self.synchronous:  # only now: a commit would otherwise wait for a standby that does not exist yet
            self.sql(self.primary_port, "ALTER SYSTEM SET synchronous_standby_names = '*'", dbname="postgres")
            self.sql(self.primary_port, "SELECT pg_reload_conf()", dbname="postgres")

    def _start_new(self, datadir: Path, which: str) -> None:
        """Start a new server on a free port (set as ``self.<which>``), picked just before; should another
        program have bound it in between, on another one (at most three tries)."""
        for attempt in range(3):
            port = free_port()
            while port in (self.primary_port, self.standby_port):
                port = free_port()
            setattr(self, which, port)
            try:
                self._start(datadir, port)
                return
            except subprocess.CalledProcessError:
                log = datadir.parent / f"{datadir.name}.log"
                if attempt == 2 or "could not bind" not in log.read_text(errors="replace"):
                    raise

    def _start(self, datadir: Path, port: int) -> None:
        self._run("pg_ctl", "-D", str(datadir), "-o", f"-p {port}", "-l", str(datadir.parent / f"{datadir.name}.log"),
                  "-w", "-t", "60", "start")
        self._running.add(datadir)

    # -- using --------------------------------------------------------------------------
    @staticmethod
    def url(port: int, dbname: str = "mosaic") -> str:
        return f"postgresql://postgres@127.0.0.1:{port}/{dbname}"

    @property
    def primary_url(self) -> str:
        return self.url(self.primary_port)

    @property
    def standby_url(self) -> str:
        return self.url(self.standby_port)

    @property
    def multi_url(self) -> str:
        """Both servers, libpq's multi-host form: the writable one, whichever it is."""
        return (f"postgresql://postgres@127.0.0.1:{self.primary_port},127.0.0.1:{self.standby_port}/mosaic"
                "?target_session_attrs=read-write")

    def sql(self, port: int, statement: str, params: tuple = (), *, dbname: str = "mosaic"):
        import psycopg

        with psycopg.connect(self.url(port, dbname), autocommit=True, connect_timeout=5) as conn:
            cur = conn.execute(statement, params)
            return cur.fetchall() if cur.description else None

    def wait_streaming(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(Exception):
                if self.sql(self.primary_port, "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'",
                            dbname="postgres")[0][0]:
                    return
            time.sleep(0.1)
        raise RuntimeError("the standby did not start streaming")

    def wait_replayed(self, timeout: float = 30.0) -> None:
        """Until the standby has replayed everything the primary has written so far."""
        lsn = self.sql(self.primary_port, "SELECT pg_current_wal_lsn()::text", dbname="postgres")[0][0]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.sql(self.standby_port, "SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (lsn,),
                        dbname="postgres")[0][0]:
                return
            time.sleep(0.02)
        raise RuntimeError("the standby did not catch up")

    def stop_primary(self) -> None:
        """As a crash would: ``pg_ctl stop -m immediate``."""
        self._run("pg_ctl", "-D", str(self.primary_dir), "-m", "immediate", "-w", "stop")
        self._running.discard(self.primary_dir)

    def start_primary(self) -> None:
        """The stopped primary back (as itself, not as a standby: for the tests that do not promote)."""
        self._start(self.primary_dir, self.primary_port)

    def wait_writable(self, port: int, timeout: float = 30.0) -> None:
        """Until the server at ``port`` accepts writes (a promoted standby: out of recovery)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(Exception):
                if not self.sql(port, "SELECT pg_is_in_recovery()", dbname="postgres")[0][0]:
                    return
            time.sleep(0.05)
        raise RuntimeError("the server did not become writable")

    def promote(self) -> None:
        self._run("pg_ctl", "-D", str(self.standby_dir), "-w", "-t", "60", "promote")

    def counters(self, port: int, dbname: str = "mosaic") -> dict[str, int]:
        """The server's own statistics for ``dbname``: committed transactions, and scans of the backlog."""
        row = self.sql(port, "SELECT xact_commit FROM pg_stat_database WHERE datname = %s", (dbname,))[0]
        scans = self.sql(port, "SELECT coalesce(sum(seq_scan + coalesce(idx_scan, 0)), 0) FROM pg_stat_user_tables",
                         dbname=dbname)[0]
        return {"xact_commit": int(row[0]), "scans": int(scans[0])}

    def close(self) -> None:
        for datadir in list(self._running):
            with contextlib.suppress(Exception):
                self._run("pg_ctl", "-D", str(datadir), "-m", "immediate", "-w", "stop")
        self._running.clear()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> Pair:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


@contextlib.contextmanager
def pair(**kw) -> Iterator[Pair]:
    p = Pair(**kw)
    try:
        yield p
    finally:
        p.close()
