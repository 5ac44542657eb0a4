"""Notes and labels across real processes, on both backends: writers racing on one card and on its
delete, and ``events --follow`` (a process of its own) carrying notes and labels as they are written."""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import subprocess
import sys
import threading
import time
from collections import Counter

from mosaic_tui.errors import NotFound
from mosaic_tui.repository import Backlog
from tests.conftest import reap, run_sql

CTX = mp.get_context("spawn")
WORKERS = 4
EACH = 40


def _writer(url, name, start, results):
    b = Backlog.open(url)
    b.db.ensure_schema()
    start.wait()
    ids = []
    for i in range(EACH):
        ids.append(b.note("hot", f"{name} says {i}", author=name).id)
        if i % 10 == 0:
            b.label(["hot"], add=[name])
        elif i % 10 == 1:
            b.label(["hot"], remove=[name])
    results.put((name, ids))
    b.close()


def test_writers_racing_on_one_card_keep_every_note_in_order(db_url):
    b = Backlog.open(db_url)
    b.create("hot", "everyone writes here")
    start = CTX.Event()
    results = CTX.Queue()
    procs = [CTX.Process(target=_writer, args=(db_url, f"w{i}", start, results)) for i in range(WORKERS)]
    for p in procs:
        p.start()
    start.set()
    try:
        got = dict(results.get(timeout=180) for _ in procs)
    finally:
        reap(procs)
    assert all(p.exitcode == 0 for p in procs)
    notes = b.notes("hot")
    assert len(notes) == WORKERS * EACH == len({n.id for n in notes})
    for name, ids in got.items():  # each writer's notes in the thread in the order it wrote them
        mine = [n for n in notes if n.author == name]
        assert [n.id for n in mine] == ids and [n.body for n in mine] == [f"{name} says {i}" for i in range(EACH)]
    kinds = Counter(e.kind for e in b.events(card="hot"))
    assert kinds["noted"] == WORKERS * EACH and kinds["labeled"] == kinds["unlabeled"] == WORKERS * EACH // 10
    assert b.labels(["hot"])["hot"] == []
    b.close()


def _noter(url, start, results):
    b = Backlog.open(url)
    b.db.ensure_schema()
    start.wait()
    written = refused = 0
    for i in range(400):
        try:
            b.note(f"d{i % 20}", "racing the delete")
            b.label([f"d{i % 20}"], add=["x"])
            written += 1
        except NotFound:
            refused += 1
    results.put((written, refused))
    b.close()


def test_a_note_racing_a_delete_never_outlives_its_card(db_url):
    b = Backlog.open(db_url)
    for i in range(20):
        b.create(f"d{i}", f"card {i}")
    start = CTX.Event()
    results = CTX.Queue()
    procs = [CTX.Process(target=_noter, args=(db_url, start, results)) for _ in range(2)]
    for p in procs:
        p.start()
    start.set()
    # The deletes begin once the noters are writing (a spawned process takes a while to start on a loaded
    # machine; deleting before that would race nothing).
    try:
        deadline = time.monotonic() + 120
        while not run_sql(b, "SELECT count(*) FROM backlog_notes")[0][0]:
            assert time.monotonic() < deadline, "the noters never wrote"
            time.sleep(0.02)
        for i in range(20):
            b.delete([f"d{i}"])
            time.sleep(0.02)
        outcomes = [results.get(timeout=180) for _ in procs]
    finally:
        reap(procs)
    assert all(w + r == 400 for w, r in outcomes) and sum(r for _, r in outcomes) > 0
    orphans = run_sql(b, "SELECT count(*) FROM backlog_notes n WHERE NOT EXISTS (SELECT 1 FROM backlog b WHERE b.id = n.card_id)")
    orphan_labels = run_sql(b, "SELECT count(*) FROM backlog_labels l WHERE NOT EXISTS (SELECT 1 FROM backlog b WHERE b.id = l.card_id)")
    assert orphans[0][0] == 0 and orphan_labels[0][0] == 0
    b.close()


def test_events_follow_carries_notes_and_labels_as_they_are_written(db_url):
    b = Backlog.open(db_url)
    b.create("A", "a")
    last = b.last_event_id()
    env = {**os.environ, "PYTHONPATH": os.environ.get("PYTHONPATH", "")}
    proc = subprocess.Popen([sys.executable, "-m", "mosaic_tui", "events", "--follow", "--json", "--since", str(last),
                             "--db", db_url], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    lines: list[dict] = []

    def read():
        for line in proc.stdout:
            lines.append(json.loads(line))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        time.sleep(1.5)  # the follower is listening
        b.note("A", "live note", author="agent-1")
        b.label(["A"], add=["infra"])
        b.label(["A"], remove=["infra"])
        deadline = time.monotonic() + 60
        while len(lines) < 3 and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        proc.terminate()
        proc.wait(10)
        b.close()
    assert [(e["kind"], e["cardId"], e["owner"], e["oldStatus"], e["newStatus"]) for e in lines] == [
        ("noted", "A", "agent-1", None, None), ("labeled", "A", None, None, None), ("unlabeled", "A", None, None, None)]
