"""Needs attention (stale and silent claims) and the timeline's newest-first events, on both backends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from mosaic_tui.repository.watch.activity import needs_attention, recent, titles
from mosaic_tui.repository import Backlog

T0 = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)


def test_stale_and_silent_claims(db_url):
    clock = {"now": T0}
    b = Backlog.open(db_url, clock=lambda: clock["now"])
    for i in range(4):
        b.create(f"C{i}", f"card {i}")
    b.claim("quick", ttl=100, id="C0")  # heartbeats: fine
    b.claim("hung", ttl=100, id="C1")  # never heard of again
    b.claim("slow", ttl=100, id="C2")  # heartbeats once, then goes quiet
    clock["now"] = T0 + timedelta(seconds=40)
    b.heartbeat("C0", "quick", ttl=100)
    b.heartbeat("C2", "slow", ttl=100)  # lease now ends at 140 s; half of it is 50 s of silence
    clock["now"] = T0 + timedelta(seconds=80)
    b.heartbeat("C0", "quick", ttl=100)
    a = needs_attention(b)
    assert (a.stale, a.silent, a.count) == (0, 1, 1)  # hung: 80 s quiet of a 100 s lease; slow: 40 of 100
    assert [(q.card_id, q.owner, q.state, q.silent_seconds) for q in a.claims] == [("C1", "hung", "silent", 80.0)]
    clock["now"] = T0 + timedelta(seconds=101)
    a = needs_attention(b)
    assert (a.stale, a.silent) == (1, 1)  # hung's lease ended; slow is 61 s quiet of 100
    assert [(q.card_id, q.state) for q in a.claims] == [("C1", "stale"), ("C2", "silent")]  # stale first
    b.reclaim()  # the stale claim goes back to ready: no longer anyone's concern
    a = needs_attention(b)
    assert (a.stale, a.silent) == (0, 1) and a.claims[0].card_id == "C2"
    assert needs_attention(b, now=T0 + timedelta(seconds=60)).count == 0
    b.close()


def test_recent_is_newest_first_with_filters(repo):
    repo.create("A", "Alpha", priority=3)
    repo.create("B", "Beta")
    repo.claim("ag1", id="A")
    repo.heartbeat("A", "ag1")
    repo.claim("ag2", id="B")
    repo.complete("A", owner="ag1")
    everything = recent(repo)
    assert [(a.event.card_id, a.event.kind) for a in everything] == [
        ("A", "completed"), ("B", "claimed"), ("A", "heartbeat"), ("A", "claimed"), ("B", "created"), ("A", "created")]
    assert everything[0].title == "Alpha" and everything[0].priority == 3
    assert everything[0].event.at.tzinfo is not None
    assert [a.event.kind for a in recent(repo, owner="ag1")] == ["completed", "heartbeat", "claimed"]
    assert [a.event.kind for a in recent(repo, card="B")] == ["claimed", "created"]
    assert [a.event.kind for a in recent(repo, owner="ag1", heartbeats=False)] == ["completed", "claimed"]
    assert [a.event.kind for a in recent(repo, limit=2)] == ["completed", "claimed"]
    assert [a.event.kind for a in recent(repo, before=everything[1].event.id, limit=1)] == ["heartbeat"]
    assert titles(repo, ["A", "nope", "A"]) == {"A": ("Alpha", 3)}
