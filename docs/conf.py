"""Sphinx settings for the docs: built offline, warnings are errors (tox -e docs)."""

project = "Coverage under gunicorn"
author = "the maintainers"
copyright = "2026, the maintainers"

extensions = [
    "sphinx_copybutton",
]

# Nothing here fetches anything at build time: no intersphinx, no CDN, no remote
# images. Everything a page shows comes from this repository.
exclude_patterns = ["_build"]

# Curly quotes and ellipses, but no dashes: "--preload" stays two hyphens.
smartquotes_action = "qe"

html_theme = "furo"
html_title = "Coverage under gunicorn"
html_show_sourcelink = False

# The copy button copies the commands of a console block, without the "$ "
# prompt and without the output shown after them. A block without any "$ "
# line (a Python file, a server's log) is copied as it is.
copybutton_prompt_text = "$ "
copybutton_only_copy_prompt_lines = True
copybutton_remove_prompts = True
