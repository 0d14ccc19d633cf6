"""benchmarks/judge_blaze.py: issue 22's ship rule on figures with a known verdict."""

from __future__ import annotations

import copy

from benchmark_scripts import load_benchmark

STATS = {"vertices": {"max": 1.3, "p99": 1.0}, "vertices_2d": {"max": 0.8, "p99": 0.6}, "visibility": {"max": 0.002}}
BUDGETS = {"coreml/fp16": {"max_px": 2.9, "p99_px": 2.0, "visibility": 5e-3}}


def figures(over: int = 12, top: float = 22.3) -> dict:
    return {
        "real": {"pck@0.1": 0.69, "pck@0.2": 0.82, "iou": 0.56, "arms": 0.56},
        "v2d_px": 16.2,
        "sens": {
            "synthetic_photo": {"inputs_over": over, "inputs": 64, "max_px": top, "p999_px": 9.2},
            "photo": {"max_px": 8.6, "p99_px": 2.0},
        },
        "parity": {"coreml/fp16@2t": STATS, "coreml/fp16@1t": STATS},
    }


def verdict(cand: dict, ship: dict) -> dict[str, bool]:
    return {name: ok for name, ok, _ in load_benchmark("judge_blaze").rule(cand, ship, BUDGETS)}


def test_the_shipped_figures_again_are_not_steadier_so_do_not_ship() -> None:
    checks = verdict(figures(), figures())
    failed = [k for k, ok in checks.items() if not ok]
    assert failed == ["one grey level, synthetic bodies"]
    assert checks["release budget coreml/fp16@1t"] and checks["release budget coreml/fp16@2t"]


def test_a_steadier_candidate_within_every_slack_ships() -> None:
    cand = figures(over=6, top=15.0)
    cand["sens"]["synthetic_photo"]["p999_px"] = 8.0
    # Each at the edge of its slack: 0.01 lower on real photos, 0.04 on the arms, 1 px on synthetic bodies.
    cand["real"] = {"pck@0.1": 0.68, "pck@0.2": 0.81, "iou": 0.55, "arms": 0.52}
    cand["v2d_px"] = 17.2
    assert all(verdict(cand, figures()).values())


def test_each_check_fails_on_its_own() -> None:
    base = figures(over=6, top=15.0)
    base["sens"]["synthetic_photo"]["p999_px"] = 8.0
    cases = {
        "real silhouette IoU": ("real", "iou", 0.54),
        "real arm joints PCK@0.1": ("real", "arms", 0.50),
        "synthetic v2d": (None, "v2d_px", 17.3),
    }
    for check, (group, key, value) in cases.items():
        cand = copy.deepcopy(base)
        (cand[group] if group else cand)[key] = value
        assert [k for k, ok in verdict(cand, figures()).items() if not ok] == [check]
    cand = copy.deepcopy(base)
    cand["sens"]["photo"]["p99_px"] = 2.01
    assert [k for k, ok in verdict(cand, figures()).items() if not ok] == ["one grey level, photo crops"]
    cand = copy.deepcopy(base)
    cand["parity"]["coreml/fp16@1t"] = {**STATS, "vertices": {"max": 3.0, "p99": 1.0}}
    assert [k for k, ok in verdict(cand, figures()).items() if not ok] == ["release budget coreml/fp16@1t"]
    cand = copy.deepcopy(base)
    cand["parity"] = {}
    assert [k for k, ok in verdict(cand, figures()).items() if not ok] == ["release budget coreml/fp16"]
