"""Builders for the drift checker tests: windows of a small synthetic dataset, with drift knobs."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

PLANS = ("monthly", "annual", "lifetime")
PLAN_PROBS = (0.6, 0.3, 0.1)


@dataclass(frozen=True)
class WindowSpec:
    """How a window differs from the baseline's distribution."""

    tenure_shift: float = 0.0  # in standard deviations of tenure (std 20)
    plan_probs: tuple[float, float, float] = PLAN_PROBS


def draw_rows(n: int, seed: int, spec: WindowSpec = WindowSpec()) -> list[list[str]]:
    """Rows of four columns: tenure (Fractional), charges (Fractional), calls (Integral), plan (String)."""
    rng = np.random.default_rng(seed)
    tenure = rng.normal(40.0, 20.0, n) + spec.tenure_shift * 20.0
    charges = rng.gamma(4.0, 15.0, n)
    calls = rng.poisson(2.0, n)
    plan = rng.choice(PLANS, size=n, p=spec.plan_probs)
    return [[f"{t:.1f}", f"{c:.2f}", str(k), str(p)] for t, c, k, p in zip(tenure, charges, calls, plan)]
