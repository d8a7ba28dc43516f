"""Sphinx configuration of the snntorch-tssl documentation.

Build (warnings are errors, every cross-reference must resolve; as in CI)::

    sphinx-build -n -W --keep-going -b html docs docs/_build/html

The tutorials are the stored notebooks of ``tutorials/``; they are copied
into ``docs/tutorials/`` at build time and rendered with their stored
outputs, never executed here. MathJax comes from the ``sphinx-mathjax-offline``
extension, which serves it from the site itself, and the intersphinx
inventories of Python, PyTorch, NumPy and snnTorch are committed under
``docs/inventories/`` (see ``docs/inventories/make_inventories.py``), so the build and
the built pages need no network.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(ROOT))

import snntorch_tssl  # noqa: E402

project = "snntorch-tssl"
author = "snntorch-tssl developers"
copyright = "2026, snntorch-tssl developers"
release = snntorch_tssl.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "sphinx-mathjax-offline",
    "sphinx_copybutton",
    "myst_nb",
]

# Links into other projects' documentation, resolved from the committed inventories (offline builds).
intersphinx_mapping = {
    "python": ("https://docs.python.org/3", str(DOCS / "inventories" / "python.inv")),
    "torch": ("https://docs.pytorch.org/docs/stable", str(DOCS / "inventories" / "torch.inv")),
    "numpy": ("https://numpy.org/doc/stable", str(DOCS / "inventories" / "numpy.inv")),
    "snntorch": ("https://snntorch.readthedocs.io/en/latest", str(DOCS / "inventories" / "snntorch.inv")),
}

# Copy buttons copy the code only, without prompts or notebook output markers.
copybutton_prompt_text = r">>> |\.\.\. |\$ "
copybutton_prompt_is_regexp = True

source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store", "**.ipynb_checkpoints", "README.md"]
templates_path = ["_templates"]

# API reference: every name a module lists in __all__, documented from its docstring.
autosummary_generate = True
autosummary_ignore_module_all = False
autosummary_imported_members = True
autodoc_default_options = {"members": True, "member-order": "bysource", "show-inheritance": True}
autodoc_typehints = "description"
autodoc_typehints_description_target = "documented_params"
autodoc_inherit_docstrings = False
add_module_names = False
napoleon_google_docstring = False
napoleon_numpy_docstring = False

# Notebooks: render the stored outputs, never execute during the build.
nb_execution_mode = "off"
nb_merge_streams = True
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
myst_heading_anchors = 3

html_theme = "furo"
html_title = f"snntorch-tssl {release}"
html_static_path = ["_static"]
html_css_files = ["custom.css"]
html_theme_options = {
    "sidebar_hide_name": False,
    "navigation_with_keys": True,
}
pygments_style = "friendly"
pygments_dark_style = "monokai"


def _copy_tutorials() -> None:
    """Mirror the stored notebooks of tutorials/ into docs/tutorials/ (a build artefact, git-ignored)."""
    source, target = ROOT / "tutorials", DOCS / "tutorials"
    if target.exists():
        shutil.rmtree(target)
    target.mkdir()
    for notebook in sorted(source.glob("*.ipynb")):
        shutil.copy2(notebook, target / notebook.name)


_copy_tutorials()


# Base classes and type hints name other projects' objects by their public names (``torch.nn.Module``,
# ``snntorch.LIF``), not by the private modules that define them, and the package's own private classes
# are left out of the "Bases" lines.
PUBLIC_HOMES = ("torch", "torch.nn", "torch.utils.data", "snntorch", "numpy")
#: Names that type hints carry in their short form (``from torch import Tensor``).
SHORT_NAMES = {"Tensor": "torch.Tensor", "nn.Module": "torch.nn.Module", "Path": "pathlib.Path"}
#: Internal functions named in the docstrings of the TSSL rule: they have no page of their own.
nitpick_ignore: list[tuple[str, str]] = []


def _public_name(cls: type) -> str | None:
    import importlib

    for home in PUBLIC_HOMES:
        if cls.__module__.split(".")[0] == home.split(".")[0]:
            if getattr(importlib.import_module(home), cls.__name__, None) is cls:
                return f"{home}.{cls.__name__}"
    return None


def _public_bases(app, name, obj, options, bases: list) -> None:
    index = 0
    while index < len(bases):
        base = bases[index]
        if isinstance(base, type) and base.__name__.startswith("_"):
            bases[index : index + 1] = [b for b in base.__bases__ if b is not object]  # a private base: its bases
            continue
        public = _public_name(base) if isinstance(base, type) else None
        if public:
            bases[index] = f":py:class:`{public}`"
        index += 1


def _short_names(app, env, node, contnode):
    """Resolve the short forms of type hints (``Tensor``) through the other projects' inventories."""
    target = SHORT_NAMES.get(node.get("reftarget"))
    if node.get("refdomain") != "py" or target is None:
        return None
    from sphinx.ext import intersphinx

    node["reftarget"] = target
    return intersphinx.missing_reference(app, env, node, contnode)


def setup(app) -> None:
    app.connect("autodoc-process-bases", _public_bases)
    app.connect("missing-reference", _short_names)
