"""Reference server for benchmarks/serve_benchmark.py: the stack of SageMaker's own scikit-learn container.

That container serves Flask under gunicorn with sync workers (one per core), decodes CSV with numpy and JSON
with the json module, and returns JSON. This app does the same with the same model, written the idiomatic way
(not handicapped: C-accelerated np.loadtxt, XGBoost's inplace_predict with one thread per worker).

    MODEL_DIR=/opt/ml/model gunicorn -w 2 -k sync -b 127.0.0.1:8081 --chdir benchmarks reference_flask_app:app
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import numpy as np
import xgboost as xgb
from flask import Flask, Response, request

MODEL_DIR = Path(os.environ.get("MODEL_DIR", "/opt/ml/model"))


def load_booster(model_dir: Path) -> tuple[xgb.Booster, dict]:
    metadata = json.loads((model_dir / "metadata.json").read_text())
    booster = xgb.Booster(model_file=str(model_dir / metadata.get("modelFile", "model.ubj")))
    booster.set_param({"nthread": 1})
    return booster, metadata


booster, metadata = load_booster(MODEL_DIR)
app = Flask(__name__)


@app.get("/ping")
def ping() -> Response:
    return Response("{}", status=200, mimetype="application/json")


@app.post("/invocations")
def invocations() -> Response:
    content_type = (request.content_type or "").split(";")[0].strip()
    if content_type == "text/csv":
        rows = np.loadtxt(io.BytesIO(request.get_data()), delimiter=",", dtype=np.float32, ndmin=2)
    elif content_type == "application/json":
        rows = np.asarray(request.get_json()["instances"], dtype=np.float32)
    else:
        return Response(json.dumps({"error": "unsupported_media_type"}), status=415, mimetype="application/json")
    predictions = booster.inplace_predict(rows)
    if request.headers.get("Accept", "").startswith("text/csv"):
        return Response("\n".join(str(p) for p in predictions.tolist()) + "\n", mimetype="text/csv")
    return Response(json.dumps({"predictions": predictions.tolist()}), mimetype="application/json")
