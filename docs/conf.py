"""Sphinx settings for the docs: built offline, warnings are errors (tox -e docs)."""

import hashlib
import json
from pathlib import Path

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


def hook_file_changed_since_the_benchmark():
    """Is hooks/gunicorn.conf.py another file than the one whose costs
    docs/overhead.rst shows? The benchmark's JSON records the hash of the file
    it measured."""
    docs = Path(__file__).resolve().parent
    hook_file = hashlib.sha256((docs.parent / "hooks" / "gunicorn.conf.py").read_bytes())
    return any(
        json.loads(results.read_text())["hook_file"]["sha256"] != hook_file.hexdigest()
        for results in (docs / "_static" / "overhead").glob("*.json")
    )


# The overhead page then shows a warning (its ".. only:: overhead_stale" block).
if hook_file_changed_since_the_benchmark():
    tags.add("overhead_stale")  # noqa: F821  Sphinx gives conf.py its tags.
