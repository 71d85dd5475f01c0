"""The docs' results tables are what tests/expected.py says.

cog (the cogapp package, pinned in tox.ini) writes each table between
``.. [[[cog`` and ``.. [[[end]]]`` in the page, through docs/cog_helpers.py,
from the expected values the tests take too. Edit a cell by hand, or an
expected value without writing the pages again, and this test fails. To write
them again::

    tox -e cog
"""

import subprocess
import sys

import pytest

from helpers import ROOT

PAGES = sorted(page for page in (ROOT / "docs").glob("*.rst") if "[[[cog" in page.read_text())


def test_the_tables_have_a_page_each():
    assert PAGES, "no docs page has a cog table"


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.stem)
def test_the_table_is_what_the_tests_expect(page):
    # As `tox -e cog` runs it: in a process of its own, with docs/ on the path
    # and not tests/, so that a page that imports a test module fails here too.
    done = subprocess.run(
        [sys.executable, "-m", "cogapp", "--check", "-I", "docs", f"docs/{page.name}"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 0, (
        f"docs/{page.name} is not what tests/expected.py gives "
        f"(run `tox -e cog` to write it again):\n{done.stdout}{done.stderr}"
    )
