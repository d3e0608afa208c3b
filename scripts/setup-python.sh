#!/usr/bin/env bash
# Creates (or refreshes) the project's Python 3.11 environment in .venv from requirements.lock.
# Idempotent: a stamp holding the lock's checksum makes a second run a no-op. Bytecode is compiled at install:
# with PYTHONDONTWRITEBYTECODE set, every process would otherwise recompile its imports (xgboost: +1-2 s).
#   scripts/setup-python.sh           install / sync
#   scripts/setup-python.sh --relock  re-resolve requirements-dev.txt into requirements.lock, then sync
set -euo pipefail
cd "$(dirname "$0")/.."

UV_VERSION=0.9.5
VENV=.venv
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null 2>&1 || PY=python3

if ! "$PY" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else 1)'; then
  echo "setup-python: Python 3.11 is required (Glue 5.0 runs 3.11); found $("$PY" --version 2>&1)" >&2
  exit 1
fi
if ! command -v java >/dev/null 2>&1; then
  echo "setup-python: Java 17 is required by local PySpark (the ETL job); 'java' is not on PATH" >&2
  exit 1
fi

if [ ! -x "$VENV/bin/python" ]; then
  "$PY" -m venv "$VENV"
fi
if ! "$VENV/bin/uv" --version 2>/dev/null | grep -q " $UV_VERSION"; then
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "uv==$UV_VERSION"
fi

if [ "${1:-}" = "--relock" ]; then
  "$VENV/bin/uv" pip compile requirements-dev.txt --python-version 3.11 --generate-hashes -q -o requirements.lock
fi

stamp="$VENV/.requirements.lock.sha256"
want=$(sha256sum requirements.lock | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "setup-python: syncing $VENV with requirements.lock"
  VIRTUAL_ENV="$PWD/$VENV" "$VENV/bin/uv" pip sync --require-hashes --compile-bytecode --python "$VENV/bin/python" requirements.lock
  echo "$want" > "$stamp"
fi
