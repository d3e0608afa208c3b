"""monitor/check_drift.py end to end: baseline folder + capture files in, Model Monitor's outputs out."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

import check_drift
from drift_checker import CapturedRequest, write_capture
from monitor_fixtures import WindowSpec, draw_rows

REPO = Path(__file__).resolve().parents[2]
T0 = datetime(2024, 5, 1, 13, 0, tzinfo=timezone.utc)


@pytest.fixture
def baseline_dir(tmp_path, baseline):
    folder = tmp_path / "run" / "baseline"
    folder.mkdir(parents=True)
    (folder / "statistics.json").write_text(json.dumps(baseline.statistics))
    (folder / "constraints.json").write_text(json.dumps(baseline.constraints))
    (tmp_path / "run" / "manifest.json").write_text(json.dumps({"features": ["tenure", "charges", "calls", "plan"]}))
    return folder


def capture(tmp_path: Path, rows: list[list[str]], start: datetime = T0) -> Path:
    root = tmp_path / "capture"
    requests = [CapturedRequest(",".join(row), '{"predictions": [0.2]}', start + timedelta(seconds=3 * i), f"e{i}")
                for i, row in enumerate(rows)]
    write_capture(requests, root, "churn-prod")
    return root


def run(*args: str) -> int:
    return check_drift.main([str(a) for a in args])


def test_a_drifted_window_writes_violations_and_exits_1(tmp_path, baseline_dir, capsys):
    # Seed 7: its charges column happens to sit at p = 0.003 against the baseline in seed 5's window, a genuine
    # 1-in-300 sample that Holm at alpha 0.01 rightly flags; this test is about the files, not that rare event.
    root = capture(tmp_path, draw_rows(1000, seed=7, spec=WindowSpec(tenure_shift=0.5)))
    out = tmp_path / "out"
    code = run("--baseline-dir", baseline_dir, "--capture-dir", root,
               "--manifest", baseline_dir.parent / "manifest.json", "--output", out)
    assert code == 1
    doc = json.loads((out / "constraint_violations.json").read_text())
    assert list(doc) == ["violations"]
    found = [(v["feature_name"], v["constraint_check_type"]) for v in doc["violations"]]
    assert found == [("_c0", "baseline_drift_check")]
    assert set(doc["violations"][0]) == {"feature_name", "constraint_check_type", "description"}
    assert doc["violations"][0]["description"].endswith("(feature tenure)")
    stats = json.loads((out / "statistics.json").read_text())
    assert stats["dataset"]["item_count"] == 1000
    assert "rows=1000 drift verdict: drift; violations=1 (baseline_drift_check=1)" in capsys.readouterr().out


def test_a_clean_window_writes_an_empty_violation_list_and_exits_0(tmp_path, baseline_dir):
    root = capture(tmp_path, draw_rows(1000, seed=5))
    assert run("--baseline-dir", baseline_dir, "--capture-dir", root, "--output", tmp_path / "out") == 0
    assert json.loads((tmp_path / "out" / "constraint_violations.json").read_text()) == {"violations": []}


def test_the_time_window_selects_which_hour_is_checked(tmp_path, baseline_dir):
    clean = draw_rows(500, seed=5)
    drifted = draw_rows(500, seed=6, spec=WindowSpec(tenure_shift=1.0))
    root = capture(tmp_path, clean)
    write_capture([CapturedRequest(",".join(r), "0.1", T0 + timedelta(hours=1, seconds=i), f"d{i}")
                   for i, r in enumerate(drifted)], root, "churn-prod")
    hour = ["--start", "2024-05-01T13:00:00Z", "--end", "2024-05-01T14:00:00Z"]
    assert run("--baseline-dir", baseline_dir, "--capture-dir", root, "--output", tmp_path / "a", *hour) == 0
    assert run("--baseline-dir", baseline_dir, "--capture-dir", root, "--output", tmp_path / "b",
               "--start", "2024-05-01T14:00:00Z") == 1


def test_min_window_and_alpha_flags_reach_the_rule(tmp_path, baseline_dir, capsys):
    root = capture(tmp_path, draw_rows(1000, seed=7, spec=WindowSpec(tenure_shift=0.5)))
    assert run("--baseline-dir", baseline_dir, "--capture-dir", root, "--output", tmp_path / "o",
               "--min-window", "1001") == 0
    assert "drift verdict: insufficient data; violations=0" in capsys.readouterr().out
    assert run("--baseline-dir", baseline_dir, "--capture-dir", root, "--output", tmp_path / "p",
               "--alpha", "1.5") == 2
    assert "strictly between 0 and 1" in capsys.readouterr().err


@pytest.mark.parametrize("break_it, message", [
    (lambda b: (b / "constraints.json").unlink(), "baseline constraints not found"),
    (lambda b: (b / "statistics.json").write_text("{"), "is not valid JSON"),
    (lambda b: (b / "statistics.json").write_text('{"features": []}'), "expected a non-empty \"features\" list"),
])
def test_unusable_baselines_exit_2_with_the_reason(tmp_path, baseline_dir, capsys, break_it, message):
    root = capture(tmp_path, draw_rows(10, seed=5))
    break_it(baseline_dir)
    assert run("--baseline-dir", baseline_dir, "--capture-dir", root, "--output", tmp_path / "o") == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "o" / "constraint_violations.json").exists()


def test_mismatched_statistics_and_constraints_are_refused(tmp_path, baseline_dir, capsys):
    stats = json.loads((baseline_dir / "statistics.json").read_text())
    stats["features"] = stats["features"][:3]
    (baseline_dir / "statistics.json").write_text(json.dumps(stats))
    root = capture(tmp_path, draw_rows(10, seed=5))
    assert run("--baseline-dir", baseline_dir, "--capture-dir", root, "--output", tmp_path / "o") == 2
    assert "must list the same columns in the same order" in capsys.readouterr().err


def test_no_traffic_in_the_window_exits_2(tmp_path, baseline_dir, capsys):
    root = capture(tmp_path, draw_rows(10, seed=5))
    assert run("--baseline-dir", baseline_dir, "--capture-dir", root, "--output", tmp_path / "o",
               "--start", "2030-01-01T00:00:00Z") == 2
    assert "no captured requests" in capsys.readouterr().err


def test_the_script_runs_as_a_program(tmp_path, baseline_dir):
    root = capture(tmp_path, draw_rows(200, seed=5))
    proc = subprocess.run([sys.executable, str(REPO / "monitor" / "check_drift.py"),
                           "--baseline-dir", str(baseline_dir), "--capture-dir", str(root),
                           "--output", str(tmp_path / "o")],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "violations=0" in proc.stdout
