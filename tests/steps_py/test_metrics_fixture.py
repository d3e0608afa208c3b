"""The committed scikit-learn fixture equals a fresh run of its generator, so the TypeScript cross-check
(tests/steps/metrics.test.ts) always compares against what scikit-learn computes today.

"Equals" means: the same structure, names, labels, thresholds, counts and library versions exactly, and the
same numbers within tolerances that only floating-point rounding can use. The committed numbers are one CPU's
rounding: numpy picks exp/log and summation kernels by instruction set (AVX-512, AVX2, SSE) and they differ in
the last bits, so a byte-for-byte comparison fails on other hardware without anything being wrong.
"""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

FIXTURE_DIR = Path(__file__).resolve().parents[1] / "fixtures" / "metrics"

# Scores are inputs drawn through numpy's exp: its SIMD and scalar paths differ by a few ulp (measured 3.1e-16
# relative with AVX-512 disabled). 1e-12 allows that and no change a person would make to the generator.
SCORE_REL = 1e-12
# Metrics are sums or means of at most 2,000 non-negative terms (log loss, Brier, the steps of the ROC and PR
# curves) or ratios of counts: the worst-case rounding error of such a sum is n * 2^-53 = 2.2e-13 relative.
# 1e-9, the tolerance of the TypeScript cross-check, is over 4,000 times that. A real regression moves a metric
# far more: a tie counted as an order, or a pair swapped, moves the ROC AUC by at least 0.5/(n_pos * n_neg),
# 1.4e-6 (1.7e-6 relative) in the largest case; clipping probabilities at 1e-15 instead of float64's eps moves
# the extreme case's log loss from 18.217 to 17.465; a row counted on the other side of the threshold changes
# the confusion counts, which are compared exactly.
METRIC_REL = 1e-9


def _generator():
    spec = importlib.util.spec_from_file_location("make_metrics_fixture", FIXTURE_DIR / "make_fixture.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _committed() -> dict:
    return json.loads((FIXTURE_DIR / "sklearn-metrics.json").read_text(encoding="utf-8"))


def _differences(fresh: Any, committed: Any, where: str = "") -> list[str]:
    """Where two parsed fixtures differ: anything but a float exactly; floats within the tolerance of their
    place (scores: SCORE_REL, everything else computed: METRIC_REL)."""
    if type(fresh) is not type(committed):
        return [f"{where}: {type(committed).__name__} {committed!r} became {type(fresh).__name__} {fresh!r}"]
    if isinstance(committed, dict):
        if sorted(fresh) != sorted(committed):
            return [f"{where}: keys {sorted(committed)} became {sorted(fresh)}"]
        return [d for k in committed for d in _differences(fresh[k], committed[k], f"{where}.{k}")]
    if isinstance(committed, list):
        if len(fresh) != len(committed):
            return [f"{where}: {len(committed)} items became {len(fresh)}"]
        return [d for i, (a, b) in enumerate(zip(fresh, committed)) for d in _differences(a, b, f"{where}[{i}]")]
    if isinstance(committed, float):
        rel = SCORE_REL if ".scores[" in where else METRIC_REL
        if math.isclose(fresh, committed, rel_tol=rel, abs_tol=0.0):
            return []
        return [f"{where}: {committed!r} became {fresh!r} (relative difference above {rel})"]
    return [] if fresh == committed else [f"{where}: {committed!r} became {fresh!r}"]


def test_committed_fixture_matches_a_fresh_generation():
    fresh = json.loads(_generator().render())
    differences = _differences(fresh, _committed())
    assert not differences, (
        "tests/fixtures/metrics/sklearn-metrics.json is stale: run "
        ".venv/bin/python tests/fixtures/metrics/make_fixture.py and commit the result\n" + "\n".join(differences[:20])
    )


def test_committed_expectations_are_scikit_learns_answers_for_the_committed_inputs():
    # Independent of how the inputs regenerate: what the TypeScript check reads is self-consistent.
    generator = _generator()
    data = _committed()
    for case in data["cases"]:
        y, p = np.array(case["labels"]), np.array(case["scores"])
        expected = generator.metrics_of(y, p, case["threshold"])
        assert not _differences(expected, case["expected"], case["name"]), case["name"]
    for sample in data["percentiles"]:
        assert math.isclose(np.percentile(sample["values"], 50), sample["p50"], rel_tol=METRIC_REL)
        assert math.isclose(np.percentile(sample["values"], 99), sample["p99"], rel_tol=METRIC_REL)


def test_the_comparison_refuses_real_changes():
    committed = _committed()
    assert not _differences(json.loads(json.dumps(committed)), committed)
    case = committed["cases"][0]

    def changed(edit) -> list[str]:
        copy = json.loads(json.dumps(committed))
        edit(copy["cases"][0])
        return _differences(copy, committed)

    n_pairs = sum(case["labels"]) * (len(case["labels"]) - sum(case["labels"]))
    assert changed(lambda c: c["expected"].update(rocAuc=c["expected"]["rocAuc"] + 1 / n_pairs))
    assert changed(lambda c: c["expected"]["confusion"].update(tp=c["expected"]["confusion"]["tp"] + 1))
    assert changed(lambda c: c["scores"].__setitem__(0, c["scores"][0] + 1e-9))
    assert changed(lambda c: c["labels"].__setitem__(0, 1 - c["labels"][0]))
    assert changed(lambda c: c.update(name="renamed"))
    assert changed(lambda c: c["expected"].pop("brier"))
    assert changed(lambda c: c["scores"].append(0.5))
    # Rounding noise passes: the last bits of a metric and of a score.
    assert not changed(lambda c: c["expected"].update(rocAuc=c["expected"]["rocAuc"] * (1 + 4e-16)))
    assert not changed(lambda c: c["scores"].__setitem__(3, c["scores"][3] * (1 + 4e-16)))


def test_fixture_covers_ties_thresholds_and_clipping():
    data = _committed()
    names = {c["name"] for c in data["cases"]}
    assert {"heavy-ties", "scores-at-threshold", "extreme-probabilities", "nothing-predicted-positive"} <= names
    at_threshold = next(c for c in data["cases"] if c["name"] == "scores-at-threshold")
    # Four rows sit exactly at 0.5; with ">=" they are predicted positive: 2 of them are true positives.
    assert at_threshold["expected"]["confusion"] == {"tp": 4, "fp": 2, "tn": 3, "fn": 1}
    nothing = next(c for c in data["cases"] if c["name"] == "nothing-predicted-positive")
    assert nothing["expected"]["precision"] == 0.0
    for case in data["cases"]:
        assert len(case["labels"]) == len(case["scores"])
