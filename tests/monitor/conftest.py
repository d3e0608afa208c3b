"""Fixtures of the drift checker tests."""

from __future__ import annotations

import pytest

from drift_checker import Baseline, build_statistics, columns_from_rows, suggest_constraints
from monitor_fixtures import draw_rows


@pytest.fixture(scope="session")
def baseline() -> Baseline:
    statistics = build_statistics(columns_from_rows(draw_rows(5000, seed=1)))
    return Baseline(statistics, suggest_constraints(statistics))
