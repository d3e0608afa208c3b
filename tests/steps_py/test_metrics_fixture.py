"""The committed scikit-learn fixture equals a fresh run of its generator, so the TypeScript cross-check
(tests/steps/metrics.test.ts) always compares against what scikit-learn computes today."""

import importlib.util
import json
from pathlib import Path

FIXTURE_DIR = Path(__file__).resolve().parents[1] / "fixtures" / "metrics"


def _generator():
    spec = importlib.util.spec_from_file_location("make_metrics_fixture", FIXTURE_DIR / "make_fixture.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_fixture_matches_a_fresh_generation():
    generator = _generator()
    committed = (FIXTURE_DIR / "sklearn-metrics.json").read_text(encoding="utf-8")
    assert generator.render() == committed, (
        "tests/fixtures/metrics/sklearn-metrics.json is stale: run "
        ".venv/bin/python tests/fixtures/metrics/make_fixture.py and commit the result"
    )


def test_fixture_covers_ties_thresholds_and_clipping():
    data = json.loads((FIXTURE_DIR / "sklearn-metrics.json").read_text(encoding="utf-8"))
    names = {c["name"] for c in data["cases"]}
    assert {"heavy-ties", "scores-at-threshold", "extreme-probabilities", "nothing-predicted-positive"} <= names
    at_threshold = next(c for c in data["cases"] if c["name"] == "scores-at-threshold")
    # Four rows sit exactly at 0.5; with ">=" they are predicted positive: 2 of them are true positives.
    assert at_threshold["expected"]["confusion"] == {"tp": 4, "fp": 2, "tn": 3, "fn": 1}
    nothing = next(c for c in data["cases"] if c["name"] == "nothing-predicted-positive")
    assert nothing["expected"]["precision"] == 0.0
    for case in data["cases"]:
        assert len(case["labels"]) == len(case["scores"])
