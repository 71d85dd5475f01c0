"""What the tests expect and the docs show, as plain data.

The tests take their expected values from here; cog writes the docs' tables
from here too (docs/cog_helpers.py). Change a value here, and both the test
that checks it on a real server and the page that shows it (`tox -e cog`,
checked by tests/test_generated_tables.py) follow. Nothing here imports pytest
or a test module.
"""

import sys
from typing import NamedTuple

PYTHON = sys.version_info[:2]  # The Python the tests run on.


class Report(NamedTuple):
    """One file's row in ``coverage report --show-missing``."""

    statements: int
    missed: int
    cover: str
    missing: str

    @classmethod
    def parse(cls, report_output, file="example_app/lib.py"):
        """The row of `file` in `coverage report --show-missing`."""
        for line in report_output.splitlines():
            if line.startswith(file + " "):
                _, statements, missed, cover, *missing = line.split(maxsplit=4)
                return cls(int(statements), int(missed), cover, " ".join(missing))
        raise AssertionError(f"no {file} row in the report:\n{report_output}")


# example_app/lib.py (def foo: return 42; def bar: return 43) in the report:
# the walkthrough's three numbers, and what an idle worker measured.
LIB_AFTER_FOO = Report(4, 1, "75%", "4")  # /foo ran line 2; line 4 did not run.
LIB_AFTER_FOO_AND_BAR = Report(4, 0, "100%", "")  # /bar ran line 4 too.
LIB_IMPORTED_ONLY = Report(4, 2, "50%", "2, 4")  # Only the import: the def lines 1 and 3.
# Only /foo's line 2: the def lines ran unmeasured (in a master that imported
# lib.py before the workers forked, or before an erase), or under another context.
LIB_FOO_LINE_ONLY = Report(4, 3, "25%", "1, 3-4")


# --- Cores: which of coverage's cores measures, by Python -------------------
# docs/reference.rst, "The measurement core" and "What differs by Python
# version". sysmon (sys.monitoring) exists from 3.12 and measures branches
# from 3.14; plugins, coverage's own dynamic contexts and greenlets need ctrace.


class Cores(NamedTuple):
    coverages_own: str  # What coverage picks by itself, as the bare recipe measures.
    hook_file: str  # What the hook file picks, unless the user chose a core.
    with_branch: str  # ... with [run] branch = True.
    needs_ctrace: str  # ... with plugins, a dynamic_context or concurrency = gevent.


CORES = {
    (3, 11): Cores(coverages_own="ctrace", hook_file="ctrace", with_branch="ctrace", needs_ctrace="ctrace"),
    (3, 12): Cores(coverages_own="ctrace", hook_file="sysmon", with_branch="ctrace", needs_ctrace="ctrace"),
    (3, 13): Cores(coverages_own="ctrace", hook_file="sysmon", with_branch="ctrace", needs_ctrace="ctrace"),
    (3, 14): Cores(coverages_own="sysmon", hook_file="sysmon", with_branch="sysmon", needs_ctrace="ctrace"),
    (3, 15): Cores(coverages_own="sysmon", hook_file="sysmon", with_branch="sysmon", needs_ctrace="ctrace"),
}
CORE = CORES[PYTHON]  # On the Python the tests run on.
