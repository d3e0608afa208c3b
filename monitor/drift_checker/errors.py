"""Errors the drift checker raises; each message names what is wrong and what is allowed."""

from __future__ import annotations


class DriftCheckError(ValueError):
    """Input the checker cannot use: a malformed baseline, capture file or argument."""
