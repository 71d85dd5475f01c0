"""docs/saved-when.rst and tests/test_lifecycle.py describe the same events.

A row that names no test, or a test that no row names, fails here.
"""

import subprocess
import sys

from saved_when import PAGE, ROOT, rows, named_tests


def lifecycle_test_ids():
    collected = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "tests/test_lifecycle.py"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout
    return {
        line.removeprefix("tests/")
        for line in collected.splitlines() if line.startswith("tests/test_lifecycle.py::")
    }


def test_every_row_names_an_existing_test():
    tests = lifecycle_test_ids()
    for row in rows():
        named = named_tests(row)
        assert named, f"{PAGE.name}: the row {row['Event']!r} names no test"
        assert set(named) <= tests, f"{PAGE.name}: {set(named) - tests} do not exist"


def test_every_lifecycle_test_has_a_row():
    named = {test for row in rows() for test in named_tests(row)}
    assert lifecycle_test_ids() <= named, f"no row in {PAGE.name} for {lifecycle_test_ids() - named}"
