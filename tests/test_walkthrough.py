"""The walkthrough page, typed as a reader types it: every command, every output.

Change a number on the page, a command, or a line of example_app/lib.py, and
this test fails with the difference.
"""

from transcript import ROOT, copy_of_repository, free_port, run


def test_the_walkthrough_prints_what_the_page_shows(tmp_path):
    run(ROOT / "docs" / "walkthrough.rst", copy_of_repository(tmp_path), free_port())
