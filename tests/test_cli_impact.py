"""`mosaic-tui impact [--phase P] [--top N] [--json]`: keystones and critical paths for scripts, on both backends."""

from __future__ import annotations

import json




def test_impact_json_is_the_hand_count(run_cli, board):
    code, out, err = run_cli("impact", "--json")
    assert code == 0 and err == ""
    j = json.loads(out)
    assert (j["unfinished"], j["edges"]) == (10, 6)
    assert j["criticalPaths"] == [
        {"phase": "M1", "length": 4, "cards": ["M1-02", "M1-04", "M1-05", "M1-07"]},
        {"phase": "M2", "length": 2, "cards": ["M2-02", "M2-03"]},
    ]
    # most first; M1-03, M1-05 and M2-02 unlock one each: in claim order (priority 3, 2, 1)
    assert [(k["id"], k["unlocks"]) for k in j["keystones"]] == [
        ("M1-02", 4), ("M1-04", 2), ("M1-03", 1), ("M1-05", 1), ("M2-02", 1)]
    assert j["keystones"][0] == {"id": "M1-02", "status": "claimed", "phase": "M1", "unlocks": 4}
    code, out, _ = run_cli("impact", "--json", "--phase", "M2", "--top", "1")
    assert json.loads(out) == {"unfinished": 10, "edges": 6,
                               "criticalPaths": [{"phase": "M2", "length": 2, "cards": ["M2-02", "M2-03"]}],
                               "keystones": [{"id": "M2-02", "status": "ready", "phase": "M2", "unlocks": 1}]}


def test_impact_for_people_and_bad_input(run_cli, board):
    code, out, _ = run_cli("impact")
    lines = out.splitlines()
    assert code == 0 and lines[0].split() == ["PHASE", "CRITICAL", "PATH", "CARDS"]
    assert lines[1].split() == ["M1", "4", "M1-02", "->", "M1-04", "->", "M1-05", "->", "M1-07"]
    assert ["M1-02", "claimed", "M1", "4"] in [ln.split() for ln in lines]
    code, out, _ = run_cli("impact", "--phase", "M9")
    assert code == 0 and out.strip() == "nothing unfinished in phase M9"
    code, out, err = run_cli("impact", "--top", "-3")
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1 and "--top" in err
