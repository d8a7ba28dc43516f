"""Packaging and documentation hygiene: one version, licenses that cover what ships, ranges in the extras,
a source distribution that carries the test suite, public docs without private names, results plots that
match the measured tables."""

from __future__ import annotations

import json
import re
import sys
from importlib import metadata
from pathlib import Path

import pytest

import snntorch_tssl

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    tomllib = pytest.importorskip("tomli")

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PROJECT = PYPROJECT["project"]


def test_the_version_has_one_source():
    assert "version" not in PROJECT and "version" in PROJECT["dynamic"]
    assert PYPROJECT["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "snntorch_tssl.__version__"}
    try:
        installed = metadata.version("snntorch-tssl")
    except metadata.PackageNotFoundError:
        pytest.skip("the package is not installed")
    assert installed == snntorch_tssl.__version__, "reinstall (pip install -e .) after changing the version"


def test_the_license_covers_the_bundled_mnist_subset():
    assert PROJECT["license"] == "MIT AND CC-BY-SA-3.0"
    notice = "snntorch_tssl/data/MNIST_SMALL_NOTICE.txt"
    assert PROJECT["license-files"] == ["LICENSE", notice]
    assert "Attribution-Share Alike 3.0" in (ROOT / notice).read_text()
    assert not any(c.startswith("License ::") for c in PROJECT["classifiers"]), "the expression replaces them"


def test_metadata_a_packager_needs():
    classifiers = set(PROJECT["classifiers"])
    assert {"Typing :: Typed", "Intended Audience :: Science/Research"} <= classifiers
    assert any(c.startswith("Development Status ::") for c in classifiers)
    low = int(PROJECT["requires-python"].removeprefix(">=3."))
    assert {f"Programming Language :: Python :: 3.{minor}" for minor in range(low, 14)} <= classifiers
    assert set(PROJECT["urls"]) == {"Source", "Documentation", "Issues", "Changelog"}
    assert (ROOT / "snntorch_tssl" / "py.typed").exists()


def requirement_name(requirement: str) -> str:
    return re.split(r"[<>=!~\[; ]", requirement, maxsplit=1)[0].lower()


def test_extras_carry_ranges_and_constraints_carry_the_pins():
    pins = {
        requirement_name(line): line.split("==")[1]
        for line in (ROOT / "requirements" / "constraints.txt").read_text().splitlines()
        if "==" in line and not line.startswith("#")
    }
    for extra, requirements in PROJECT["optional-dependencies"].items():
        for requirement in requirements:
            assert "==" not in requirement, f"{extra}: {requirement} is a pin; pins live in constraints.txt"
    for requirement in PROJECT["optional-dependencies"]["docs"]:
        assert requirement_name(requirement) in pins, f"pin {requirement_name(requirement)} in constraints.txt"
    torch = next(r for r in PROJECT["dependencies"] if requirement_name(r) == "torch")
    assert "<" not in torch, "no upper bound on torch (see the comment in pyproject.toml)"
    assert not any("django" in r for r in PROJECT["optional-dependencies"]["docs"])


def test_the_source_distribution_carries_the_test_suite():
    manifest = (ROOT / "MANIFEST.in").read_text().splitlines()
    for folder in ("tests", "docs", "tutorials", "benchmarks"):
        assert f"graft {folder}" in manifest, f"the tests read {folder}/"
    assert (ROOT / "tests" / "conftest.py").exists() and (ROOT / "tests" / "reference.py").exists()


# Private names: the package's underscore modules and functions, and any project's ``module._name``.
PRIVATE = re.compile(r"\b(?:snntorch_tssl|torch|snntorch)\._[A-Za-z]\w*|`_(?!_)[a-z]\w*")
PAGES = [*sorted((ROOT / "docs").glob("*.md")), ROOT / "docs" / "api.rst", ROOT / "README.md", ROOT / "CHANGELOG.md"]


@pytest.mark.parametrize("page", PAGES, ids=[page.name for page in PAGES])
def test_public_pages_name_no_private_module_or_function(page):
    found = PRIVATE.findall(page.read_text())
    assert not found, f"{page.name} names private objects: {found}"


def test_results_plot_data_matches_the_tables():
    """Every accuracy the plot script draws is a number of the results page's tables."""
    runs = json.loads((ROOT / "docs" / "results" / "accuracy.json").read_text())["runs"]
    page = (ROOT / "docs" / "results.md").read_text()
    for run in runs:
        for value in run["test_accuracy"]:
            assert f"{value:.2f}" in page, f"{run['label']}: {value} is not on docs/results.md"
    assert "_static/results/accuracy.png" in page and (ROOT / "docs" / "_static" / "results" / "accuracy.png").exists()
