"""Hyperparameter specification and validation.

SageMaker writes every hyperparameter value as a string; the job must fail fast, with a reason a person can act
on, before any data is read. All problems are reported at once so one retry fixes them all.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Union

from .errors import ConfigError

Value = Union[int, float, str]

# Keys SageMaker itself may add to hyperparameters.json: the tuning job adds the objective metric, the Python
# SDK's estimators add sagemaker_* bookkeeping. Rejecting them would break automatic model tuning.
RESERVED_PREFIXES = ("_tuning_objective_metric", "sagemaker_")

# A plain decimal number, nothing else: Python's float() and int() also take "1_0" (= 10), "0x10" is refused
# by float() but "1_000.5" is not; a typo must not become another value.
_PLAIN_NUMBER = re.compile(r"^[+-]?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][+-]?[0-9]+)?$")
# XGBoost stores its real-valued tree parameters (eta, gamma, min_child_weight, lambda, alpha, ...) as C++
# float (TrainParam in dmlc/xgboost src/tree/param.h): a larger value fails inside XGBoost, after the data is read.
FLOAT32_MAX = 3.4028234663852886e38
FLOAT32_TINY = 1.401298464324817e-45  # smallest positive float32 (subnormal); anything smaller becomes 0


@dataclass(frozen=True)
class Param:
    name: str
    kind: type  # int, float or str
    default: Value
    low: float | None = None
    high: float | None = None
    low_open: bool = False  # True: the lower bound itself is not allowed
    choices: tuple[str, ...] = ()
    help: str = ""

    def describe_range(self) -> str:
        if self.choices:
            return "one of " + ", ".join(self.choices)
        left = "(" if self.low_open or self.low is None else "["
        low = "-inf" if self.low is None else _fmt(self.low)
        high = "inf)" if self.high is None else _fmt(self.high) + "]"
        return f"{left}{low}, {high}"


def _fmt(number: float) -> str:
    return str(int(number)) if float(number).is_integer() else str(number)


SPEC: tuple[Param, ...] = (
    Param("num_round", int, 300, 1, 10_000, help="maximum boosting rounds (early stopping usually ends sooner)"),
    Param("early_stopping_rounds", int, 20, 1, 1_000,
          help="stop when the early-stopping metric on validation has not improved for this many rounds"),
    # Log loss by default: the served output is a probability, and log loss keeps rewarding sharper, calibrated
    # probabilities after AUC saturates (on small, easy data AUC reaches 1.0 within a few rounds and stopping on
    # it leaves the probabilities far from 0 and 1).
    Param("early_stopping_metric", str, "logloss", choices=("logloss", "auc"),
          help="validation metric early stopping watches: logloss (lower is better) or auc (higher is better)"),
    Param("min_rounds", int, 20, 1, 10_000,
          help="the model keeps at least this many rounds (capped at num_round): no stop and no best round before"),
    Param("eta", float, 0.1, 0, 1, low_open=True, help="learning rate"),
    Param("max_depth", int, 6, 1, 16, help="maximum tree depth"),
    Param("min_child_weight", float, 1.0, 0, None, help="minimum hessian sum in a leaf"),
    Param("subsample", float, 1.0, 0, 1, low_open=True, help="row sampling ratio per tree"),
    Param("colsample_bytree", float, 1.0, 0, 1, low_open=True, help="feature sampling ratio per tree"),
    Param("gamma", float, 0.0, 0, None, help="minimum loss reduction to split"),
    Param("lambda", float, 1.0, 0, None, help="L2 regularisation on leaf weights"),
    Param("alpha", float, 0.0, 0, None, help="L1 regularisation on leaf weights"),
    Param("scale_pos_weight", float, 1.0, 0, None, low_open=True,
          help="weight of positive rows (negatives/positives balances the classes)"),
    Param("max_bin", int, 256, 2, 1024, help="histogram bins per feature (tree_method hist/approx)"),
    Param("tree_method", str, "hist", choices=("hist", "approx", "exact"), help="tree construction algorithm"),
    Param("seed", int, 42, 0, 2**31 - 1, help="random seed (sampling)"),
)
SPEC_BY_NAME: dict[str, Param] = {p.name: p for p in SPEC}
ALLOWED = tuple(sorted(SPEC_BY_NAME))


def defaults() -> dict[str, Value]:
    return {p.name: p.default for p in SPEC}


def _coerce(param: Param, raw: object) -> Value:
    """Convert one raw value; raises ValueError with the reason (without the name)."""
    if isinstance(raw, bool) or not isinstance(raw, (str, int, float)):
        raise ValueError(f"must be a string (got JSON {type(raw).__name__})")
    text = raw.strip() if isinstance(raw, str) else repr(raw)
    # The SageMaker Python SDK JSON-encodes string values of framework estimators ("\"hist\"").
    if len(text) >= 2 and text[0] == text[-1] == '"':
        text = json.loads(text)
    if param.kind is str:
        if text not in param.choices:
            raise ValueError(f"must be {param.describe_range()}")
        return text
    try:
        number = float(text)
    except ValueError:
        raise ValueError(f"must be {'an integer' if param.kind is int else 'a number'}") from None
    if not math.isfinite(number):
        raise ValueError("must be finite")
    if not _PLAIN_NUMBER.match(text):
        raise ValueError("must be a plain decimal number such as 10 or 0.5 (no '_', spaces or hex digits)")
    if param.kind is float and (abs(number) > FLOAT32_MAX or 0 < abs(number) < FLOAT32_TINY):
        raise ValueError(f"is outside XGBoost's float32 range (magnitude up to {FLOAT32_MAX:.7g}, "
                         f"non-zero values from {FLOAT32_TINY:.7g})")
    if param.kind is int:
        # Tuning jobs may render an integer as "6.0"; a real fraction is a mistake worth reporting.
        if not number.is_integer():
            raise ValueError("must be an integer")
        value: Value = int(number)
    else:
        value = number
    too_low = param.low is not None and (number <= param.low if param.low_open else number < param.low)
    too_high = param.high is not None and number > param.high
    if too_low or too_high:
        raise ValueError(f"must be in {param.describe_range()}")
    return value


def parse_hyperparameters(raw: Mapping[str, object]) -> dict[str, Value]:
    """Validate SageMaker's hyperparameters (strings) into typed values, defaults filled in."""
    problems: list[str] = []
    resolved = defaults()
    unknown = []
    for key in sorted(raw):
        if key.startswith(RESERVED_PREFIXES):
            continue
        param = SPEC_BY_NAME.get(key)
        if param is None:
            unknown.append(key)
            continue
        try:
            resolved[key] = _coerce(param, raw[key])
        except ValueError as exc:
            problems.append(f"{key}={raw[key]!r} {exc}")
    if unknown:
        problems.append(f"unknown hyperparameter(s) {', '.join(unknown)}; allowed: {', '.join(ALLOWED)}")
    if problems:
        raise ConfigError("invalid hyperparameters: " + "; ".join(problems))
    return resolved


def xgboost_params(hp: Mapping[str, Value], nthread: int) -> dict[str, object]:
    """The booster parameters for binary classification; early stopping (train.py) watches
    `early_stopping_metric` on the validation set by name, so the order of eval_metric does not matter."""
    return {
        "objective": "binary:logistic",
        "eval_metric": ["logloss", "auc"],
        "eta": hp["eta"],
        "max_depth": hp["max_depth"],
        "min_child_weight": hp["min_child_weight"],
        "subsample": hp["subsample"],
        "colsample_bytree": hp["colsample_bytree"],
        "gamma": hp["gamma"],
        "lambda": hp["lambda"],
        "alpha": hp["alpha"],
        "scale_pos_weight": hp["scale_pos_weight"],
        "max_bin": hp["max_bin"],
        "tree_method": hp["tree_method"],
        "seed": hp["seed"],
        "nthread": nthread,
        "verbosity": 1,
    }
