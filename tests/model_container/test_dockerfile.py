"""Static checks of model-container/Dockerfile (no Docker engine here to build it)."""

from __future__ import annotations

import json
import re
import shlex
import stat
import subprocess
from pathlib import Path

from mc_helpers import CONTAINER, REPO

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


def image_inputs() -> list[str]:
    """The build context's files, from the one implementation (infra/lib/image-context.ts)."""
    ts_node = REPO / "node_modules" / ".bin" / "ts-node"
    out = subprocess.run([str(ts_node), "--transpile-only", "scripts/image-context.ts", "--list"], cwd=REPO,
                         check=True, capture_output=True, text=True).stdout
    return out.split()


def test_base_image_is_slim_python_311_pinned_by_digest() -> None:
    (arg,) = [a for a in args_of("ARG") if a.startswith("PYTHON_IMAGE=")]
    image = arg.split("=", 1)[1]
    assert re.fullmatch(r"python:3\.11\.\d+-slim(-[a-z]+)?@sha256:[0-9a-f]{64}", image), image
    assert args_of("FROM") == ["${PYTHON_IMAGE}"]
    # A `# syntax=` directive would pull a BuildKit frontend image by tag at every build.
    assert not re.match(r"#\s*syntax=", DOCKERFILE.read_text())


def test_entrypoint_and_cmd_are_exec_form() -> None:
    for name in ("ENTRYPOINT", "CMD"):
        for args in args_of(name):
            assert isinstance(json.loads(args), list), f"{name} {args} is shell form"
    assert json.loads(args_of("CMD")[-1]) == ["serve"]
    assert not args_of("ENTRYPOINT"), "SageMaker's train/serve argument must reach PATH lookup, not an entrypoint"


def test_every_copied_source_is_in_the_build_context() -> None:
    """The context holds only the content-tagged files: a COPY of anything else would fail the build."""
    files = image_inputs()
    assert "model-container/Dockerfile" in files and "monitor/drift_checker/checks.py" in files
    for sources, _ in copies():
        for source in sources:
            source = source.rstrip("/")
            assert any(f == source or f.startswith(source + "/") for f in files), f"COPY {source} is not in the build context"


def test_programs_on_path_are_the_repository_programs() -> None:
    path_dirs = env_vars()["PATH"].split(":")
    (program_copy,) = [(src, dest) for src, dest in copies() if src == ["model-container/bin/"]]
    destination = program_copy[1].rstrip("/")
    assert destination in path_dirs
    programs = sorted(p.name for p in (CONTAINER / "bin").iterdir())
    assert {"train", "serve"} <= set(programs)
    for name in programs:
        script = CONTAINER / "bin" / name
        assert script.read_text().startswith("#!/usr/bin/env python3\n"), name
        assert script.stat().st_mode & stat.S_IXUSR, f"bin/{name} is not executable"
    assert re.search(rf"chmod 0?755 {re.escape(destination)}/\*", " ".join(args_of("RUN")))
    # bin/ finds its packages one folder up (sys.path): the image keeps that layout for both packages
    for package, source in [("mlcontainer", "model-container/mlcontainer"), ("drift_checker", "monitor/drift_checker")]:
        (package_copy,) = [dest for src, dest in copies() if src == [source]]
        assert Path(package_copy) == Path(destination).parent / package, package


def test_installs_the_hash_pinned_lock() -> None:
    (lock_copy,) = [dest for src, dest in copies() if src == ["model-container/requirements.lock"]]
    (install,) = [run for run in args_of("RUN") if "pip install" in run]
    assert "--require-hashes" in install.split()
    assert re.search(rf"--requirement {re.escape(lock_copy)}$", install)
    # requirements.txt is the lock's source, not an input of the image
    assert not [src for src, _ in copies() if "model-container/requirements.txt" in src]


def test_runtime_environment() -> None:
    env = env_vars()
    assert env["PYTHONUNBUFFERED"] == "1"
    assert env["SERVE_RUN_AS"] == "model"
    assert any(re.search(r"useradd .*\bmodel$", run) for run in args_of("RUN"))
    assert args_of("EXPOSE") == ["8080"]
    assert "com.amazonaws.sagemaker.capabilities.accept-bind-to-port=true" in " ".join(args_of("LABEL"))
    # SageMaker needs root for /opt/ml (see the Dockerfile comment): no USER switch in the image itself
    assert args_of("USER") == []
