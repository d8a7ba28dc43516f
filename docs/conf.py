"""Sphinx configuration of the snntorch-tssl documentation.

Build (warnings are errors, as in CI)::

    sphinx-build -W --keep-going -b html docs docs/_build/html

The tutorials are the stored notebooks of ``tutorials/``; they are copied
into ``docs/tutorials/`` at build time and rendered with their stored
outputs, never executed here. MathJax is served from the site itself (a copy
from the ``django-static-mathjax`` package of the docs extra), so the built
pages show their equations offline too.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(ROOT))

import mathjax  # noqa: E402

import snntorch_tssl  # noqa: E402

project = "snntorch-tssl"
author = "snntorch-tssl developers"
copyright = "2026, snntorch-tssl developers"
release = snntorch_tssl.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "myst_nb",
]

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

# Equations: MathJax 3 (all TeX extensions, SVG output) copied into _static/mathjax/ by _copy_mathjax().
mathjax_path = "mathjax/tex-svg-full.js"

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


def _copy_mathjax() -> None:
    """Serve MathJax from the site (a build artefact, git-ignored), not from a CDN."""
    target = DOCS / "_static" / "mathjax"
    target.mkdir(exist_ok=True)
    shutil.copy2(Path(mathjax.__file__).parent / "static" / "mathjax" / "es5" / "tex-svg-full.js", target)


_copy_tutorials()
_copy_mathjax()
