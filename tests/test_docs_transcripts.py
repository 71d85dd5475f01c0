"""Every docs page with console blocks, typed as a reader types it.

The commands a page shows are the commands this test runs, and what they print
must be what the page shows (see transcript.py for the few normalisations).
Change a number on a page, a command, or a line of example_app/lib.py, and this
test fails with the difference.
"""

import pytest

from helpers import ROOT, copy_of_repository, free_port
from transcript import read_steps, run

# Pages whose commands need a container engine are typed by test_containers.py,
# once per run (tox -e containers).
PAGES = sorted(
    page for page in (ROOT / "docs").rglob("*.rst")
    if read_steps(page) and not any(step.command and step.command.startswith("docker ")
                                    for step in read_steps(page))
)


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.stem)
def test_the_page_prints_what_it_shows(page, tmp_path):
    run(page, copy_of_repository(tmp_path), free_port())
