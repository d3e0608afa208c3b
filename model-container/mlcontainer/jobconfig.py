"""The training job's configuration files under /opt/ml/input/config: what SageMaker declared, validated."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from .errors import ConfigError

REQUIRED_CHANNELS = ("train", "validation")
OPTIONAL_CHANNELS = ("manifest",)
CSV_CHANNELS = REQUIRED_CHANNELS
# Pipe mode streams records through a FIFO; this algorithm reads files, which File and FastFile both provide.
FILE_INPUT_MODES = ("File", "FastFile")


@dataclass(frozen=True)
class ResourceConfig:
    current_host: str
    hosts: tuple[str, ...]


def read_json_object(path: Path, what: str, *, required: bool) -> dict | None:
    """A config file's JSON object, None if it is optional and absent; ConfigError otherwise."""
    if not path.is_file():
        if required:
            raise ConfigError(f"{what} not found at {path}")
        return None
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{what} at {path} is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise ConfigError(f"{what} at {path} must be a JSON object, got {type(value).__name__}")
    return value


def _media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def validate_input_data_config(config: dict, data_dir: Path) -> tuple[str, ...]:
    """Check the declared channels against what this algorithm reads; returns the channels to use."""
    problems: list[str] = []
    missing = [c for c in REQUIRED_CHANNELS if c not in config]
    if missing:
        problems.append(
            f"required channel(s) {', '.join(missing)} not declared in inputdataconfig.json "
            f"(declared: {', '.join(sorted(config)) or 'none'}; required: {', '.join(REQUIRED_CHANNELS)}; "
            f"optional: {', '.join(OPTIONAL_CHANNELS)})"
        )
    used = [c for c in (*REQUIRED_CHANNELS, *OPTIONAL_CHANNELS) if c in config]
    for channel in used:
        spec = config[channel]
        if not isinstance(spec, dict):
            problems.append(f"channel {channel}: expected an object, got {type(spec).__name__}")
            continue
        mode = spec.get("TrainingInputMode", "File")
        if mode not in FILE_INPUT_MODES:
            problems.append(f"channel {channel}: TrainingInputMode {mode!r} is not supported (use File or FastFile)")
        content_type = spec.get("ContentType")
        if channel in CSV_CHANNELS and content_type is not None and _media_type(str(content_type)) != "text/csv":
            problems.append(f"channel {channel}: ContentType {content_type!r} is not supported (use text/csv)")
        if not (data_dir / channel).is_dir():
            problems.append(f"channel {channel}: declared but its data folder {data_dir / channel} does not exist")
    if problems:
        raise ConfigError("invalid input data configuration: " + "; ".join(problems))
    return tuple(used)


def parse_resource_config(config: dict | None) -> ResourceConfig:
    """The job's hosts; more than one means distributed training (see distributed.py)."""
    if config is None:
        return ResourceConfig(current_host="local", hosts=("local",))
    hosts = config.get("hosts", [])
    current = config.get("current_host", "")
    if not isinstance(hosts, list) or not all(isinstance(h, str) for h in hosts) or not isinstance(current, str):
        raise ConfigError("resourceconfig.json: 'hosts' must be a list of strings and 'current_host' a string")
    if len(hosts) > 1:
        if len(set(hosts)) != len(hosts) or current not in hosts:
            raise ConfigError(
                f"resourceconfig.json: 'hosts' ({', '.join(hosts)}) must be distinct and include "
                f"'current_host' ({current or 'missing'})"
            )
        return ResourceConfig(current_host=current, hosts=tuple(hosts))
    return ResourceConfig(current_host=current or "local", hosts=tuple(hosts) or (current or "local",))


def available_cpus() -> int:
    """Cores this process may run on (the container's cpuset), not the host's core count."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)
