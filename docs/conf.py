"""Sphinx configuration of the sklearn-etap documentation.

Build: ``python -m sphinx -W -b html docs docs/_build/html`` (needs the docs
extra: ``pip install -e ".[docs]"``). The Markdown pages go through
myst-parser, the API reference is generated from the numpydoc docstrings.
"""

import os
import sys

# The package from this checkout, not an installed copy.
sys.path.insert(0, os.path.abspath(".."))

import sklearn_etap  # noqa: E402

project = "sklearn-etap"
author = "sklearn-etap developers"
copyright = "2026, sklearn-etap developers"
release = sklearn_etap.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    # MathJax shipped with the docs (copied to _static/mathjax), not loaded
    # from a CDN: the formulas render offline.
    "sphinx-mathjax-offline",
    "numpydoc",
    "myst_parser",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]
templates_path = ["_templates"]

# Markdown: heading anchors for links such as page.md#section, $...$ maths.
myst_heading_anchors = 3
myst_enable_extensions = ["dollarmath"]

# API reference: one page per public name, written at build time.
autosummary_generate = True
autodoc_default_options = {"members": False, "inherited-members": False}
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True

html_theme = "alabaster"
html_static_path = []
html_title = f"sklearn-etap {release}"
