"""Failures the job reports to its caller: a failed quality gate or unusable input."""

from __future__ import annotations

from typing import Any


class EtlFailure(Exception):
    """The run is not published. ``checks`` lists every failed check (name, value, limit, message)."""

    kind = "error"

    def __init__(self, message: str, checks: list[dict[str, Any]] | None = None):
        super().__init__(message)
        self.message = message
        self.checks = checks or []


class InputError(EtlFailure):
    """The input cannot be read as the schema describes (empty, no header, missing columns)."""

    kind = "input"


class GateFailure(EtlFailure):
    """The input was read, but the data quality gate rejected it."""

    kind = "gate"


class InternalError(EtlFailure):
    """An unexpected error (a bug, a Spark or Java failure): reported in one line, the run not published."""

    kind = "internal"
