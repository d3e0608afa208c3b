"""Static checks of model-container/Dockerfile (no Docker engine here to build it)."""

from __future__ import annotations

import json
import re
import shlex
import stat
from pathlib import Path

import pytest
from mc_helpers import CONTAINER

DOCKERFILE = CONTAINER / "Dockerfile"


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with comments dropped and continuation lines joined."""
    logical: list[str] = []
    pending = ""
    for line in DOCKERFILE.read_text().splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    assert not pending, "dangling line continuation"
    return [(parts[0].upper(), parts[1].strip() if len(parts) > 1 else "")
            for parts in (line.strip().split(None, 1) for line in logical)]


def args_of(name: str) -> list[str]:
    return [args for instruction, args in instructions() if instruction == name]


def env_vars() -> dict[str, str]:
    variables: dict[str, str] = {}
    for args in args_of("ENV"):
        for token in shlex.split(args):
            key, _, value = token.partition("=")
            variables[key] = value
    return variables


def copies() -> list[tuple[list[str], str]]:
    result = []
    for args in args_of("COPY"):
        tokens = [t for t in shlex.split(args) if not t.startswith("--")]
        result.append((tokens[:-1], tokens[-1]))
    return result


def test_base_image_is_a_pinned_slim_python_311() -> None:
    (arg,) = [a for a in args_of("ARG") if a.startswith("PYTHON_IMAGE=")]
    image = arg.split("=", 1)[1]
    assert re.fullmatch(r"python:3\.11\.\d+-slim(-[a-z]+)?(@sha256:[0-9a-f]{64})?", image), image
    assert args_of("FROM") == ["${PYTHON_IMAGE}"]


def test_entrypoint_and_cmd_are_exec_form() -> None:
    for name in ("ENTRYPOINT", "CMD"):
        for args in args_of(name):
            assert isinstance(json.loads(args), list), f"{name} {args} is shell form"
    assert json.loads(args_of("CMD")[-1]) == ["serve"]
    assert not args_of("ENTRYPOINT"), "SageMaker's train/serve argument must reach PATH lookup, not an entrypoint"


def test_train_and_serve_on_path_are_the_repository_programs() -> None:
    path_dirs = env_vars()["PATH"].split(":")
    (program_copy,) = [(src, dest) for src, dest in copies() if any(s.startswith("bin/") for s in src)]
    sources, destination = program_copy
    assert sorted(sources) == ["bin/serve", "bin/train"]
    assert destination.rstrip("/") in path_dirs
    for source in sources:
        script = CONTAINER / source
        assert script.read_text().startswith("#!/usr/bin/env python3\n")
        assert script.stat().st_mode & stat.S_IXUSR, f"{source} is not executable"
        assert re.search(rf"chmod 0?755 .*{destination.rstrip('/')}/{Path(source).name}", " ".join(args_of("RUN")))
    # bin/ finds its package one folder up: the image must keep that layout
    (package_copy,) = [(src, dest) for src, dest in copies() if src == ["mlcontainer"]]
    assert Path(package_copy[1]).parent == Path(destination).parent
    assert Path(package_copy[1]).name == "mlcontainer"


def test_installs_the_pinned_requirements() -> None:
    (req_copy,) = [(src, dest) for src, dest in copies() if src == ["requirements.txt"]]
    installed_from = req_copy[1]
    assert any(re.search(rf"pip install .*--requirement {re.escape(installed_from)}\b", run) for run in args_of("RUN"))
    requirements = [line.split("#")[0].strip() for line in (CONTAINER / "requirements.txt").read_text().splitlines()]
    requirements = [r for r in requirements if r]
    assert requirements and all(re.fullmatch(r"[A-Za-z0-9_.-]+==[0-9][0-9A-Za-z.]*", r) for r in requirements)
    names = {r.split("==")[0].lower() for r in requirements}
    assert {"xgboost-cpu", "numpy", "pandas", "uvicorn", "httptools", "uvloop", "orjson"} <= names


def test_runtime_environment() -> None:
    env = env_vars()
    assert env["PYTHONUNBUFFERED"] == "1"
    assert env["SERVE_RUN_AS"] == "model"
    assert any(re.search(r"useradd .*\bmodel$", run) for run in args_of("RUN"))
    assert args_of("EXPOSE") == ["8080"]
    assert "com.amazonaws.sagemaker.capabilities.accept-bind-to-port=true" in " ".join(args_of("LABEL"))
    # SageMaker needs root for /opt/ml (see the Dockerfile comment): no USER switch in the image itself
    assert args_of("USER") == []


@pytest.mark.parametrize("ignored", ["**/__pycache__", "**/*.pyc"])
def test_dockerignore_keeps_caches_out(ignored: str) -> None:
    assert ignored in (CONTAINER / ".dockerignore").read_text().splitlines()
