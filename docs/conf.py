"""Sphinx settings for the docs: built offline, warnings are errors (tox -e docs)."""

import hashlib
import json
from pathlib import Path

project = "Coverage under gunicorn"
author = "the maintainers"
copyright = "2026, the maintainers"

extensions = [
    "sphinx_copybutton",
    "matplotlib.sphinxext.plot_directive",
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

# The overhead page's charts: ".. plot::" runs docs/overhead_tables.py's
# chart() on the benchmark's JSON when the docs are built. The plot directive
# runs its code in this directory, which it also puts on sys.path: that is how
# it finds overhead_tables, the docs' own module, beside this file.
plot_working_directory = str(Path(__file__).resolve().parent)
# SVG: sharp at any zoom and on any screen; matplotlib draws its text as paths
# in its bundled DejaVu Sans, so the chart looks the same in every browser.
plot_formats = ["svg"]
# The page shows the chart only: no link to its code, no other formats.
plot_html_show_source_link = False
plot_html_show_formats = False


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
