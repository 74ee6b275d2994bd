"""pyproject.toml keeps a fresh install green: a true Python floor, and bounded ranges everywhere."""

from __future__ import annotations

import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import Version

PYPROJECT = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text(encoding="utf-8"))
PROJECT = PYPROJECT["project"]
FLOOR = Version(PROJECT["requires-python"].removeprefix(">="))
SELF = PROJECT["name"]

# Extras measured side by side in benchmarks/ are never installed by CI, so they are not held to this.
CHECKED_EXTRAS = [name for name in PROJECT["optional-dependencies"] if name not in ("bench", "model")]


def _requirements() -> list[Requirement]:
    found = [Requirement(line) for line in PROJECT["dependencies"]]
    for extra in CHECKED_EXTRAS:
        found += [Requirement(line) for line in PROJECT["optional-dependencies"][extra]]
    return [req for req in found if req.name != SELF]


def test_requires_python_is_a_plain_floor() -> None:
    assert PROJECT["requires-python"] == f">={FLOOR}"


def test_linters_check_the_declared_floor() -> None:
    assert PYPROJECT["tool"]["mypy"]["python_version"] == f"{FLOOR.major}.{FLOOR.minor}"
    assert PYPROJECT["tool"]["ruff"]["target-version"] == f"py{FLOOR.major}{FLOOR.minor}"


@pytest.mark.parametrize("requirement", _requirements(), ids=str)
def test_every_range_has_a_ceiling(requirement: Requirement) -> None:
    # An open range admits releases nobody has run the suite against; they break a fresh clone.
    operators = {spec.operator for spec in requirement.specifier}
    assert operators & {"<", "<=", "==", "~=", "==="}, f"{requirement} has no upper bound"


@pytest.mark.parametrize("requirement", _requirements(), ids=str)
def test_installed_versions_are_inside_the_ranges_and_support_the_floor(requirement: Requirement) -> None:
    installed = metadata.distribution(requirement.name)
    assert requirement.specifier.contains(installed.version, prereleases=True), (
        f"{requirement.name} {installed.version} is installed, outside {requirement}"
    )
    # A dependency that needs a newer Python than ours means our floor is not true.
    needs = installed.metadata.get("Requires-Python")
    if needs:
        assert SpecifierSet(needs).contains(FLOOR), (
            f"{requirement.name} {installed.version} needs Python {needs}; requires-python says >={FLOOR}"
        )
