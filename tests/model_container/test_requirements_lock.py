"""model-container/requirements.lock (what the image installs, with --require-hashes) agrees with
model-container/requirements.txt (what we ask for) and with the project's own lock (what tests run against)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from mc_helpers import CONTAINER, REPO

REQUIREMENTS = CONTAINER / "requirements.txt"
LOCK = CONTAINER / "requirements.lock"
COMPILE = ("uv pip compile model-container/requirements.txt --python-version 3.11 --generate-hashes "
           "-o model-container/requirements.lock")


def canonical(name: str) -> str:
    """PEP 503 normalised project name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def requirements(text: str) -> dict[str, str]:
    """`name==version` lines of a requirements file (comments and blank lines dropped)."""
    pins: dict[str, str] = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        match = re.fullmatch(r"([A-Za-z0-9_.-]+)==([0-9][0-9A-Za-z.+!-]*)", line)
        assert match, f"requirements.txt: {line!r} is not pinned as name==version"
        pins[canonical(match[1])] = match[2]
    return pins


@dataclass
class Locked:
    version: str
    hashes: list[str] = field(default_factory=list)
    via: list[str] = field(default_factory=list)


def lock_entries(text: str) -> dict[str, Locked]:
    """Entries of a `uv pip compile --generate-hashes` lock: version, hashes and `# via` annotations."""
    entries: dict[str, Locked] = {}
    current: Locked | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if match := re.match(r"^([A-Za-z0-9_.-]+)==(\S+?)\s*\\?$", raw):
            current = entries.setdefault(canonical(match[1]), Locked(match[2]))
        elif current and (match := re.match(r"--hash=(sha256:[0-9a-f]{64})", line)):
            current.hashes.append(match[1])
        elif current and line.startswith("# via"):
            rest = line[len("# via"):].strip()
            if rest:
                current.via.append(rest)
        elif current and line.startswith("#   "):
            current.via.append(line[1:].strip())
    return entries


def disagreements(requirements_text: str, lock_text: str) -> list[str]:
    """Why the lock does not match the requirements (empty when it does)."""
    wanted = requirements(requirements_text)
    locked = lock_entries(lock_text)
    problems = []
    for name, version in wanted.items():
        if name not in locked:
            problems.append(f"{name}=={version} is required but not locked")
        elif locked[name].version != version:
            problems.append(f"{name}: required {version}, locked {locked[name].version}")
    for name, entry in locked.items():
        direct = "-r model-container/requirements.txt" in entry.via
        if direct and name not in wanted:
            problems.append(f"{name}=={entry.version} is locked as a requirement but no longer required")
        if not entry.hashes:
            problems.append(f"{name}=={entry.version} has no hash (pip --require-hashes refuses it)")
        if not entry.via:
            problems.append(f"{name}=={entry.version} is locked but nothing needs it")
        for parent in entry.via:
            if not parent.startswith("-r ") and canonical(parent) not in locked:
                problems.append(f"{name} is needed by {parent}, which is not locked")
    return problems


FIX = f"recompile the lock: .venv/bin/{COMPILE}"


def test_lock_matches_the_requirements() -> None:
    problems = disagreements(REQUIREMENTS.read_text(), LOCK.read_text())
    assert not problems, f"{'; '.join(problems)} — {FIX}"


def test_lock_was_made_by_the_documented_command() -> None:
    assert f"#    {COMPILE}" in LOCK.read_text().splitlines()[:3]
    assert "requirements.lock" in REQUIREMENTS.read_text(), "requirements.txt says how to relock"


def test_the_drift_checker_dependencies_are_in_the_image() -> None:
    assert requirements(REQUIREMENTS.read_text())["scipy"] == "1.17.1"


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda req, lock: (req.replace("pandas==2.2.2", "pandas==2.2.3"), lock), r"pandas: required 2\.2\.3, locked 2\.2\.2"),
        (lambda req, lock: (req + "requests==2.32.3\n", lock), r"requests==2\.32\.3 is required but not locked"),
        (lambda req, lock: (req.replace("orjson==3.10.18\n", ""), lock), r"orjson==3\.10\.18 is locked as a requirement but no longer required"),
        (lambda req, lock: (req, re.sub(r"(orjson==3\.10\.18) \\\n(\s+--hash=\S+( \\)?\n)+", r"\1\n", lock)), r"orjson==3\.10\.18 has no hash"),
    ],
    ids=["version bumped", "package added", "package removed", "hashes dropped"],
)
def test_a_disagreement_is_found_and_named(change, expected: str) -> None:
    requirements_text, lock_text = change(REQUIREMENTS.read_text(), LOCK.read_text())
    problems = disagreements(requirements_text, lock_text)
    assert any(re.search(expected, p) for p in problems), problems


def test_the_image_and_the_project_environment_pin_the_same_versions() -> None:
    """Local train/serve/drift runs (the .venv, from the root lock) use what the image installs."""
    image = lock_entries(LOCK.read_text())
    project = lock_entries((REPO / "requirements.lock").read_text())
    for name in requirements(REQUIREMENTS.read_text()):
        assert name in project, f"{name} is in the image but not in the project's requirements.lock"
        assert project[name].version == image[name].version, (
            f"{name}: image {image[name].version}, project {project[name].version}; relock both")
