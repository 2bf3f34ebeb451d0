"""Sphinx configuration: Markdown pages (MyST) + API reference from numpydoc docstrings."""

from __future__ import annotations

import trialkit

project = "trialkit"
author = "trialkit developers"
release = trialkit.__version__
version = release

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
]
source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
master_doc = "contents"
exclude_patterns = ["_build"]
myst_heading_anchors = 3
myst_enable_extensions = ["dollarmath"]
suppress_warnings = ["myst.header", "myst.xref_missing", "misc.highlighting_failure"]

autosummary_generate = False
autodoc_typehints = "none"
numpydoc_show_class_members = False
numpydoc_validation_checks: set[str] = set()
numpydoc_xref_param_type = False

html_theme = "alabaster"
html_static_path: list[str] = []
html_title = f"trialkit {release}"
