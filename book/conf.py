"""Sphinx settings of the course book (Sphinx + myst-nb + sphinx-book-theme: the Jupyter Book 1 stack).

`make book` (tools/book.py, `build`) copies this folder beside the executed notebooks, adds their table of
contents to intro.md, the repository files the guide includes under _repo/ and the offline JavaScript under
_offline/, then runs Sphinx from the repository root. The reference pages are generated from the package:
the CLI from its argparse parser (sphinx-argparse), the API from its NumPy-style docstrings (autosummary,
autodoc, napoleon), one page per module.
"""

from pathlib import Path

from tools import book

project = "Mining-aware land cover from Sentinel-2"
author = "lulc-mining contributors"
html_title = project
root_doc = "intro"
extensions = [
    "myst_nb",
    "sphinx_togglebutton",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinxarg.ext",
]
exclude_patterns = ["_build", "**.ipynb_checkpoints", book.REPO_FILES_DIR, "_templates"]
templates_path = ["_templates"]  # autosummary/module.rst: one page per module, its members documented

autosummary_generate = True
autodoc_member_order = "bysource"
autodoc_typehints = "description"  # the signature stays short; the types go beside each parameter
napoleon_google_docstring = False
napoleon_numpy_docstring = True

nb_execution_mode = "off"  # the pages show what `make run` computed; the book never runs a notebook
nb_merge_streams = True
myst_enable_extensions = ["dollarmath", "colon_fence", "deflist"]
default_role = "literal"  # `name` in a docstring reads as code, as in the source
smartquotes = False  # option names such as --val-fraction stay as typed, not en dashes
myst_heading_anchors = 3  # links such as guide/cli.md#accuracy-lulc-accuracy-notebook-05

# Widget JavaScript and MathJax from copies in the site, never a CDN (paths under _static/).
html_static_path = [book.OFFLINE_DIR] if Path(book.OFFLINE_DIR).is_dir() else []  # none without notebooks
nb_ipywidgets_js = book.ipywidgets_js()
mathjax_path = book.MATHJAX
html_copy_source = False  # the executed notebooks would double the site's size; Colab opens the originals

html_theme = "sphinx_book_theme"
html_context = {"default_mode": "light"}  # the widgets' own styles are light; an unset mode logs an error
html_theme_options = {
    "repository_url": book.repository_url(),
    "repository_branch": "main",
    "path_to_docs": "notebooks",  # the pages are notebooks/NN_*.ipynb: the Colab button opens that file
    "use_repository_button": True,
    "use_download_button": False,
    "home_page_in_toc": True,
    "launch_buttons": {"colab_url": "https://colab.research.google.com", "notebook_interface": "classic"},
}
