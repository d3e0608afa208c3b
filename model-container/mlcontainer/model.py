"""Loading the trained artifact for serving, and the fast prediction path.

Reading (`read_artifact`) is stdlib-only so the serving supervisor can do it before forking workers, with the
privileges it starts with; parsing (`load_model`) needs XGBoost and runs in each worker. Either step reports a
failure as `ModelUnavailable` instead of raising: a model that does not load must fail /ping, not the server.
"""

from __future__ import annotations

import ctypes
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Union

log = logging.getLogger("mlcontainer.model")

METADATA_FILE = "metadata.json"
DEFAULT_MODEL_FILE = "model.ubj"


@dataclass(frozen=True)
class Artifact:
    """The raw files of /opt/ml/model, read but not parsed."""

    model_dir: Path
    metadata: dict
    model_bytes: bytes


@dataclass(frozen=True)
class ModelUnavailable:
    reason: str


@dataclass(frozen=True)
class LoadedModel:
    features: tuple[str, ...]
    feature_index: dict[str, int]
    metadata: dict
    predictor: "Predictor"

    @property
    def feature_count(self) -> int:
        return len(self.features)


ModelState = Union[LoadedModel, ModelUnavailable]


def _listing(model_dir: Path) -> str:
    try:
        names = sorted(p.name for p in model_dir.iterdir())
    except OSError:
        return "folder missing or unreadable"
    return "contains: " + (", ".join(names[:10]) + (" …" if len(names) > 10 else "") if names else "nothing")


def read_artifact(model_dir: Path) -> Artifact | ModelUnavailable:
    """Read metadata.json and the model file it names; no XGBoost needed."""
    meta_path = model_dir / METADATA_FILE
    try:
        metadata = json.loads(meta_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return ModelUnavailable(f"{meta_path} not found ({model_dir} {_listing(model_dir)})")
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        return ModelUnavailable(f"{meta_path} is unreadable: {exc}")
    if not isinstance(metadata, dict):
        return ModelUnavailable(f"{meta_path} must hold a JSON object")
    name = metadata.get("modelFile", DEFAULT_MODEL_FILE)
    if not isinstance(name, str) or not name or Path(name).name != name:
        return ModelUnavailable(f"metadata.json: modelFile must be a file name inside {model_dir}, got {name!r}")
    try:
        model_bytes = (model_dir / name).read_bytes()
    except OSError as exc:
        return ModelUnavailable(f"model file {model_dir / name} is unreadable: {exc} ({_listing(model_dir)})")
    return Artifact(model_dir=model_dir, metadata=metadata, model_bytes=model_bytes)


def _features(metadata: dict) -> tuple[str, ...]:
    features = metadata.get("features")
    if not isinstance(features, list) or not features or not all(isinstance(f, str) for f in features):
        raise ValueError("metadata.json: 'features' must be a non-empty list of names")
    if len(set(features)) != len(features):
        raise ValueError("metadata.json: feature names must be unique")
    count = metadata.get("featureCount", len(features))
    if count != len(features):
        raise ValueError(f"metadata.json: featureCount {count} != {len(features)} feature names")
    return tuple(features)


def load_model(artifact: Artifact | ModelUnavailable) -> ModelState:
    """Parse the artifact into a ready predictor, or say why it cannot serve."""
    if isinstance(artifact, ModelUnavailable):
        return artifact
    try:
        import numpy as np

        from .xgb_import import import_xgboost

        xgb = import_xgboost(hide=("sklearn", "pandas"))
        features = _features(artifact.metadata)
        booster = xgb.Booster(model_file=bytearray(artifact.model_bytes))
        # One thread per worker: the server runs one worker per core, more threads would only contend.
        booster.set_param({"nthread": 1})
        objective = json.loads(booster.save_config())["learner"]["objective"]["name"]
        if objective != "binary:logistic":
            raise ValueError(f"model objective is {objective!r}; this server serves binary:logistic models")
        if booster.num_features() != len(features):
            raise ValueError(
                f"model expects {booster.num_features()} features but metadata.json lists {len(features)}"
            )
        predictor = make_predictor(booster, len(features))
        probe = predictor(np.zeros((1, len(features)), dtype=np.float32))
        if probe.shape != (1,) or not 0.0 <= float(probe[0]) <= 1.0:
            raise ValueError(f"model returned {probe!r} for a probe row; expected one probability")
    except Exception as exc:  # noqa: BLE001 - any load failure must become a failing /ping, not a crash
        return ModelUnavailable(f"model in {artifact.model_dir} failed to load: {type(exc).__name__}: {exc}")
    return LoadedModel(
        features=features,
        feature_index={name: i for i, name in enumerate(features)},
        metadata=artifact.metadata,
        predictor=predictor,
    )


Predictor = Callable[[Any], Any]


class DensePredictor:
    """XGBoost's C entry point for dense input, called with everything that does not change precomputed.

    `Booster.inplace_predict` rebuilds its JSON arguments and a proxy DMatrix on every call, and that proxy
    re-reads the cgroup CPU quota files each time: ~150 µs per single-row call here, against ~40 µs for the same
    C function (XGBoosterPredictFromDense, part of the public C API) with a reused proxy. Results are identical;
    `make_predictor` checks that before using it. One instance per thread: the proxy and out-params are shared
    state (XGBoost's prediction itself is thread-safe for tree models).
    """

    _CONFIG = (
        b'{"type":0,"training":false,"iteration_begin":0,"iteration_end":0,'
        b'"missing":NaN,"strict_shape":false,"cache_id":0}'
    )

    def __init__(self, booster: Any, feature_count: int) -> None:
        import numpy as np
        from xgboost.core import _LIB, _check_call

        self._np = np
        self._booster = booster  # keeps the handle alive
        self._handle = booster.handle
        self._fn = _LIB.XGBoosterPredictFromDense
        self._check = _check_call
        self._features = feature_count
        self._proxy = ctypes.c_void_p()
        _check_call(_LIB.XGProxyDMatrixCreate(ctypes.byref(self._proxy)))
        self._free = _LIB.XGDMatrixFree
        self._shape = ctypes.POINTER(ctypes.c_uint64)()
        self._dims = ctypes.c_uint64()
        self._out = ctypes.POINTER(ctypes.c_float)()
        self._args = (ctypes.byref(self._shape), ctypes.byref(self._dims), ctypes.byref(self._out))

    def __del__(self) -> None:
        if getattr(self, "_proxy", None) is not None and self._proxy.value:
            self._free(self._proxy)
            self._proxy = None

    def clone(self) -> "DensePredictor":
        return DensePredictor(self._booster, self._features)

    def __call__(self, rows: Any) -> Any:
        """Probabilities (float32, one per row) for a C-contiguous float32 matrix."""
        np = self._np
        n = rows.shape[0]
        interface = b'{"data":[%d,true],"shape":[%d,%d],"strides":null,"typestr":"<f4","version":3}' % (
            rows.ctypes.data, n, rows.shape[1])
        self._check(self._fn(self._handle, interface, self._CONFIG, self._proxy, *self._args))
        if self._dims.value != 1 or self._shape[0] != n:
            raise RuntimeError(f"unexpected prediction shape (dims={self._dims.value}) for {n} rows")
        # Copy out of XGBoost's thread-local buffer before the next call reuses it.
        out = np.empty(n, dtype=np.float32)
        ctypes.memmove(out.ctypes.data, self._out, 4 * n)
        return out


class InplacePredictor:
    """The public-API path, used when the fast path is unavailable or disagrees with it."""

    def __init__(self, booster: Any) -> None:
        self._booster = booster

    def clone(self) -> "InplacePredictor":
        return self

    def __call__(self, rows: Any) -> Any:
        return self._booster.inplace_predict(rows)


def make_predictor(booster: Any, feature_count: int) -> Any:
    """The fast predictor if it reproduces `inplace_predict` exactly on probe rows, else `inplace_predict`."""
    import numpy as np

    reference = InplacePredictor(booster)
    rng = np.random.default_rng(0)
    probe = np.ascontiguousarray(rng.normal(0, 10, size=(64, feature_count)), dtype=np.float32)
    try:
        fast = DensePredictor(booster, feature_count)
        if np.array_equal(fast(probe), reference(probe)) and np.array_equal(fast(probe[:1]), reference(probe[:1])):
            return fast
        log.warning("fast prediction path disagrees with inplace_predict; using inplace_predict")
    except Exception as exc:  # noqa: BLE001 - a future XGBoost may change the C API; fall back, do not fail
        log.warning("fast prediction path unavailable (%s); using inplace_predict", exc)
    return reference
