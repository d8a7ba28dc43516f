"""The documentation cannot drift from the code.

- every public name (each ``__all__`` of the package and its public
  subpackages) is in the API reference; its docstring has an ``Example::``
  and, for the modules that compute something (rules, neurons, layers,
  losses, targets), the equation it computes;
- every docstring example of the core API (rules, neurons, layers, losses,
  targets) runs;
- every Python block of the guide pages runs, top to bottom, as a reader
  would paste it.

The Sphinx build itself (warnings as errors) runs in ``.ci/run``.
"""

from __future__ import annotations

import importlib
import inspect
import re
import textwrap
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")

DOCS = Path(__file__).resolve().parent.parent / "docs"
GUIDE_PAGES = ["index.md", "installation.md", "quickstart.md", "switch.md"]
#: Modules whose public names compute something: their docstrings state it as an equation, and their
#: examples run here (the examples of data and experiments need datasets or write runs).
EQUATION_MODULES = ("snntorch_tssl", "snntorch_tssl.rules", "snntorch_tssl.functional", "snntorch_tssl.spikegen")
#: The registry's functions look rules up by name: they compute nothing to state as an equation.
NO_EQUATION = ("snntorch_tssl.rules.get", "snntorch_tssl.rules.register", "snntorch_tssl.rules.available")


#: The package's public modules (DESIGN's layout); their submodules are implementation.
PUBLIC_MODULES = (
    "snntorch_tssl",
    "snntorch_tssl.rules",
    "snntorch_tssl.functional",
    "snntorch_tssl.spikegen",
    "snntorch_tssl.data",
    "snntorch_tssl.experiments",
)


def public_modules() -> list:
    return [importlib.import_module(name) for name in PUBLIC_MODULES]


def exported_names(module) -> list[str]:
    """``__all__``, or else the public classes and functions the module defines itself."""
    if hasattr(module, "__all__"):
        return list(module.__all__)
    return [
        name
        for name, obj in vars(module).items()
        if not name.startswith("_")
        and (inspect.isclass(obj) or inspect.isfunction(obj))
        and obj.__module__ == module.__name__
    ]


def public_objects() -> dict[str, object]:
    """Fully qualified name -> object, for every name a public module exports (the first module that does)."""
    found: dict[int, tuple[str, object]] = {}
    for module in public_modules():
        for name in exported_names(module):
            obj = getattr(module, name)
            if name.startswith("__") or not (inspect.isclass(obj) or inspect.isfunction(obj)):
                continue
            found.setdefault(id(obj), (f"{module.__name__}.{name}", obj))
    return dict(found.values())


def documented_objects() -> set[int]:
    """Objects listed in docs/api.rst (by identity): autosummary tables, and every ``__all__`` name of an automodule."""
    current, listed = "snntorch_tssl", set()
    in_table = False
    for line in (DOCS / "api.rst").read_text().splitlines():
        if line.startswith(".. automodule::"):
            module = importlib.import_module(line.split("::")[1].strip())
            listed.update(id(getattr(module, name)) for name in exported_names(module))
        elif line.startswith(".. currentmodule::"):
            current = line.split("::")[1].strip()
        elif line.startswith(".. autosummary::"):
            in_table = True
        elif in_table and line.startswith("   ") and line.strip() and not line.strip().startswith(":"):
            path = f"{current}.{line.strip().lstrip('~')}"
            module_name, _, attr = path.rpartition(".")
            listed.add(id(getattr(importlib.import_module(module_name), attr)))
        elif line.strip() and not line.startswith(" "):
            in_table = False
    return listed


PUBLIC = public_objects()


def test_every_public_name_is_in_the_api_reference():
    listed = documented_objects()
    missing = sorted(name for name, obj in PUBLIC.items() if id(obj) not in listed)
    assert not missing, f"add these to docs/api.rst: {missing}"


# Exceptions are exempt: their docstrings say when they are raised.
DOCUMENTED_BY_EXAMPLE = sorted(
    name for name, obj in PUBLIC.items() if not (inspect.isclass(obj) and issubclass(obj, Exception))
)


@pytest.mark.parametrize("name", DOCUMENTED_BY_EXAMPLE)
def test_public_docstring_has_equation_and_example(name):
    obj = PUBLIC[name]
    doc = inspect.getdoc(obj) or ""
    assert "Example::" in doc, f"{name}: its docstring needs a short runnable Example::"
    if name.rpartition(".")[0] in EQUATION_MODULES and name not in NO_EQUATION:
        assert ".. math::" in doc or ":math:`" in doc, f"{name}: its docstring needs the equation it computes"


def docstring_example(doc: str) -> str:
    """The indented block that follows ``Example::`` in a docstring."""
    lines = doc.split("Example::", 1)[1].splitlines()[1:]
    block = []
    for line in lines:
        if line.strip() and not line.startswith(" "):
            break
        block.append(line)
    return textwrap.dedent("\n".join(block))


@pytest.mark.parametrize("name", sorted(name for name in PUBLIC if name.rpartition(".")[0] in EQUATION_MODULES))
def test_docstring_example_runs(name):
    doc = inspect.getdoc(PUBLIC[name]) or ""
    if "Example::" not in doc:
        pytest.skip("no example (reported by test_public_docstring_has_equation_and_example)")
    exec(compile(docstring_example(doc), f"<{name} example>", "exec"), {})


@pytest.mark.parametrize("page", GUIDE_PAGES)
def test_guide_page_code_runs(page):
    blocks = re.findall(r"^```python\n(.*?)^```", (DOCS / page).read_text(), flags=re.S | re.M)
    assert blocks, f"{page} has no python blocks"
    namespace: dict[str, object] = {}
    for number, block in enumerate(blocks, 1):
        exec(compile(block, f"<{page} block {number}>", "exec"), namespace)
