"""Flow figures (mosaic_tui.repository.watch.flow) against a history computed by hand, on both backends.

The history (times UTC, 2026-01-01; the clock says 12:00:30, so the 1h window
starts at 11:01:00 and has sixty one-minute buckets, bucket i = 11:01 + i min):

    10:00:00     A created (M1)                    before the window
    10:30:00     B created (M1)                    before
    10:50:00     A claimed by ag1                  before
    11:00:59.999 G created                         before (a millisecond)
    11:01:00     F created (M1)                    bucket 0 (on the boundary; six-digit fraction)
    11:05:00     F blocked                         bucket 4
    11:10:00     C created (M2)                    bucket 9
    11:15:00     A heartbeat ag1                   (moves nothing)
    11:20:00     D created (no phase)              bucket 19
    11:25:30     A completed by ag1                bucket 24  cycle 2130 s, lead 5130 s
    11:30:00     B claimed by ag2                  bucket 29
    11:31:00     C claimed by ag1                  bucket 30
    11:40:00     B released (ag2's lease ran out)  bucket 39
    11:40:00     E created (M2)                    bucket 39
    11:45:00     B claimed by ag1                  bucket 44
    11:50:00     E deleted                         bucket 49
    11:55:00     C completed by ag1                bucket 54  cycle 1440 s, lead 2700 s
    12:00:00.000 D completed (from ready, no one)  bucket 59  (no cycle), lead 2400 s
    12:00:10     B completed by ag1                bucket 59  cycle 910 s (ag1's claim, not ag2's), lead 5410 s
    12:00:40     H created                         after `now`: counted in the last bucket

Now: A B C D done, F blocked, G H ready. At 11:01:00: A claimed, B G ready.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from conftest import run_sql
from mosaic_tui.errors import InvalidInput
from mosaic_tui.repository.watch.flow import WINDOWS, Spread, flow, flow_json, window
from mosaic_tui.repository import Backlog

NOW = datetime(2026, 1, 1, 12, 0, 30, tzinfo=UTC)

CARDS = {  # id: (phase, status now, created at)
    "A": ("M1", "done", "10:00:00.000"),
    "B": ("M1", "done", "10:30:00.000"),
    "C": ("M2", "done", "11:10:00.000"),
    "D": (None, "done", "11:20:00.000"),
    "F": ("M1", "blocked", "11:01:00.000000"),
    "G": (None, "ready", "11:00:59.999"),
    "H": (None, "ready", "12:00:40.000"),
}
EVENTS = [  # (time, card, kind, old, new, owner)
    ("10:00:00.000", "A", "created", None, "ready", None),
    ("10:30:00.000", "B", "created", None, "ready", None),
    ("10:50:00.000", "A", "claimed", "ready", "claimed", "ag1"),
    ("11:00:59.999", "G", "created", None, "ready", None),
    ("11:01:00.000000", "F", "created", None, "ready", None),
    ("11:05:00.000", "F", "blocked", "ready", "blocked", None),
    ("11:10:00.000", "C", "created", None, "ready", None),
    ("11:15:00.000", "A", "heartbeat", "claimed", "claimed", "ag1"),
    ("11:20:00.000", "D", "created", None, "ready", None),
    ("11:25:30.000", "A", "completed", "claimed", "done", "ag1"),
    ("11:30:00.000", "B", "claimed", "ready", "claimed", "ag2"),
    ("11:31:00.000", "C", "claimed", "ready", "claimed", "ag1"),
    ("11:40:00.000", "B", "released", "claimed", "ready", "ag2"),
    ("11:40:00.000", "E", "created", None, "ready", None),
    ("11:45:00.000", "B", "claimed", "ready", "claimed", "ag1"),
    ("11:50:00.000", "E", "deleted", "ready", None, None),
    ("11:55:00.000", "C", "completed", "claimed", "done", "ag1"),
    ("12:00:00.000", "D", "completed", "ready", "done", None),
    ("12:00:10.000", "B", "completed", "claimed", "done", "ag1"),
    ("12:00:40.000", "H", "created", None, "ready", None),
]


def _ts(hms: str, backend: str) -> str:
    return f"2026-01-01 {hms}" if backend == "sqlite" else f"2026-01-01 {hms}+00"


@pytest.fixture
def history(db_url):
    b = seed_history(db_url)
    yield b
    b.close()


def seed_history(db_url: str) -> Backlog:
    """The backlog above: cards made through the repository, then their history replaced by the pinned one."""
    b = Backlog.open(db_url, clock=lambda: NOW)
    sqlite = b.backend == "sqlite"
    status = ":status" if sqlite else "CAST(:status AS backlog_status)"
    for card, (phase, now_status, created) in CARDS.items():
        b.create(card, f"card {card}", phase=phase)
        run_sql(b, f"UPDATE backlog SET status = {status}, created_at = :created WHERE id = :id",
                {"status": now_status, "created": _ts(created, b.backend), "id": card})
    run_sql(b, "DELETE FROM backlog_events")
    at = ":at" if sqlite else "CAST(:at AS timestamptz)"
    for i, (hms, card, kind, old, new, owner) in enumerate(EVENTS, start=1):
        run_sql(b, f"INSERT INTO backlog_events (id, card_id, kind, old_status, new_status, owner, at) "
                   f"VALUES (:id, :card, :kind, :old, :new, :owner, {at})",
                {"id": i, "card": card, "kind": kind, "old": old, "new": new, "owner": owner,
                 "at": _ts(hms, b.backend)})
    if not sqlite:
        run_sql(b, "SELECT setval(pg_get_serial_sequence('backlog_events', 'id'), (SELECT max(id) FROM backlog_events))")
    return b


def _steps(start: int, changes: dict[int, int], n: int = 61) -> list[int]:
    """A level that starts at ``start`` and becomes ``v`` at point ``i`` for each ``i: v``."""
    out, level = [], start
    for i in range(n):
        level = changes.get(i, level)
        out.append(level)
    return out


def _marks(at: dict[int, int], n: int = 60) -> list[int]:
    return [at.get(i, 0) for i in range(n)]


def test_hour_matches_the_hand_computed_history(history):
    f = flow(history, "1h")
    assert f.start == datetime(2026, 1, 1, 11, 1, tzinfo=UTC) and f.end == NOW
    assert len(f.instants) == 61 and f.instants[1] == datetime(2026, 1, 1, 11, 2, tzinfo=UTC) and f.instants[-1] == NOW
    # Point 0 is the window's start; point i + 1 the end of bucket i.
    assert f.cfd["ready"] == _steps(2, {1: 3, 5: 2, 10: 3, 20: 4, 30: 3, 31: 2, 40: 4, 45: 3, 50: 2, 60: 2})
    assert f.cfd["claimed"] == _steps(1, {25: 0, 30: 1, 31: 2, 40: 1, 45: 2, 55: 1, 60: 0})
    assert f.cfd["blocked"] == _steps(0, {5: 1})
    assert f.cfd["done"] == _steps(0, {25: 1, 55: 2, 60: 4})
    assert f.claims == _marks({29: 1, 30: 1, 44: 1})
    assert f.completions == _marks({24: 1, 54: 1, 59: 2})
    # cycle: A 2130, C 1440, B 910 (nearest rank: p50 = 2nd of 3, p90 = 3rd); lead: D 2400, C 2700, A 5130, B 5410
    assert f.cycle == Spread(3, 1440.0, 2130.0)
    assert f.lead == Spread(4, 2700.0, 5410.0)
    assert [(g.name, g.completions, g.cycle, g.lead) for g in f.phases] == [
        ("M1", 2, Spread(2, 910.0, 2130.0), Spread(2, 5130.0, 5410.0)),
        ("M2", 1, Spread(1, 1440.0, 1440.0), Spread(1, 2700.0, 2700.0)),
        (None, 1, Spread(), Spread(1, 2400.0, 2400.0)),
    ]
    assert [(g.name, g.claims, g.completions, g.cycle, g.lead) for g in f.agents] == [
        ("ag1", 2, 3, Spread(3, 1440.0, 2130.0), Spread(3, 5130.0, 5410.0)),
        ("ag2", 1, 0, Spread(), Spread()),
    ]


def test_day_window_starts_before_the_history(history):
    f = flow(history, "1d")
    # 48 half-hour buckets ending with the current one (12:00-12:30): the window starts at 12:30 the day before
    assert f.start == datetime(2025, 12, 31, 12, 30, tzinfo=UTC) and len(f.claims) == 48
    assert {s: f.cfd[s][0] for s in f.cfd} == {"ready": 0, "claimed": 0, "blocked": 0, "done": 0}
    assert {s: f.cfd[s][-1] for s in f.cfd} == {"ready": 2, "claimed": 0, "blocked": 1, "done": 4}
    # buckets: 10:00-10:30 is 43, 10:30-11:00 is 44, 11:00-11:30 is 45, 11:30-12:00 is 46, 12:00- is 47
    assert f.claims == _marks({44: 1, 46: 3}, 48)
    assert f.completions == _marks({45: 1, 46: 1, 47: 2}, 48)
    assert f.cfd["ready"][44] == 1 and f.cfd["claimed"][45] == 1  # end of 10:00-10:30: A and B ready, then A claimed
    assert f.cycle == Spread(3, 1440.0, 2130.0) and f.lead == Spread(4, 2700.0, 5410.0)
    assert [(g.name, g.claims, g.completions) for g in f.agents] == [("ag1", 3, 3), ("ag2", 1, 0)]


def test_json_keys_are_camel_case(history):
    j = flow_json(flow(history, "1h"))
    assert j["window"] == "1h" and j["bucketSeconds"] == 60 and j["start"] == "2026-01-01T11:01:00+00:00"
    assert j["claims"] == 3 and j["completions"] == 4
    assert j["cycleTime"] == {"count": 3, "p50Seconds": 1440.0, "p90Seconds": 2130.0}
    assert len(j["cumulativeFlow"]["at"]) == 61 and j["cumulativeFlow"]["done"][-1] == 4
    assert len(j["throughput"]["bucketStarts"]) == 60 and j["throughput"]["completions"][59] == 2
    assert j["agents"][0] == {"owner": "ag1", "claims": 2, "completions": 3,
                              "cycleTime": {"count": 3, "p50Seconds": 1440.0, "p90Seconds": 2130.0},
                              "leadTime": {"count": 3, "p50Seconds": 5130.0, "p90Seconds": 5410.0}}
    assert j["phases"][2] == {"phase": None, "completions": 1,
                              "cycleTime": {"count": 0, "p50Seconds": None, "p90Seconds": None},
                              "leadTime": {"count": 1, "p50Seconds": 2400.0, "p90Seconds": 2400.0}}


def test_an_empty_backlog_has_flat_lines(repo):
    f = flow(repo, "7d")
    assert len(f.claims) == 56 and sum(f.claims) == sum(f.completions) == 0
    assert all(set(v) == {0} for v in f.cfd.values())
    assert f.cycle == Spread() and f.phases == [] and f.agents == []


def test_live_changes_show_in_the_last_bucket(repo):
    """Through the repository and its triggers (the database's clock): the window ending now sees them."""
    for i in range(3):
        repo.create(f"K{i}", f"card {i}", phase="P")
    repo.claim("bot")
    c = repo.claim("bot")
    repo.complete(c.id, owner="bot")
    f = flow(repo, "1h")
    assert f.claims[-1] == 2 and f.completions[-1] == 1
    assert {s: v[-1] for s, v in f.cfd.items()} == {"ready": 1, "claimed": 1, "blocked": 0, "done": 1}
    assert [(g.name, g.claims, g.completions, g.cycle.count) for g in f.agents] == [("bot", 2, 1, 1)]
    assert f.phases[0].name == "P" and f.phases[0].completions == 1 and f.lead.count == 1


def test_an_unknown_window_is_refused():
    with pytest.raises(InvalidInput, match="unknown window '2h'"):
        window("2h")
    assert list(WINDOWS) == ["1h", "1d", "7d"]


def test_python_receives_aggregates_not_events(history):
    """The moves come as grouped rows, from the events (the hour) or SQLite's half-hour counts (the day);
    the durations one per completion: 700 more heartbeats and edits in the window add no row and change no
    figure."""
    from mosaic_tui.repository.watch.flow import _completions, _moves_statement, _slot_moves_statement

    start = datetime(2026, 1, 1, 11, 1, tzinfo=UTC)
    day = WINDOWS["1d"].buckets_between(datetime(2025, 12, 31, 12, 30, tzinfo=UTC))

    def rows():
        moves = [_moves_statement(WINDOWS["1h"].buckets_between(start))]
        if history.backend == "sqlite":
            moves.append(_slot_moves_statement(day))
        return history.db.run(lambda c: ([len(c.execute(m).all()) for m in moves],
                                         sum(len(cell[2]) for cell in _completions(c, start))), write=False)

    before, figures = rows(), flow(history, "1h")
    at = ":at" if history.backend == "sqlite" else "CAST(:at AS timestamptz)"
    for i in range(700):
        kind, status = ("heartbeat", "claimed") if i < 500 else ("edited", "ready")
        run_sql(history, f"INSERT INTO backlog_events (card_id, kind, old_status, new_status, owner, at) "
                         f"VALUES ('G', :kind, :s, :s, 'ag9', {at})",
                {"kind": kind, "s": status, "at": _ts(f"11:{33 + i % 20}:00.000", history.backend)})
    assert rows() == before and before[1] == 4
    assert flow(history, "1h") == figures
