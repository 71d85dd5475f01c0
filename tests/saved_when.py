"""The table of docs/saved-when.rst, which the lifecycle tests take their numbers from.

Each row names an event, what is saved, the lib.py result a test gets (for
example "75%, line 4 missing"), and the tests that prove it. The tests read
their expected result from their own row, so the page and the tests cannot
disagree; test_saved_when_table.py checks that every row names a test and
every lifecycle test has a row.
"""

import csv
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "saved-when.rst"


def rows():
    """The csv-table's rows, as dicts keyed by the header."""
    lines = PAGE.read_text().splitlines()
    start = next(n for n, line in enumerate(lines) if line.startswith(".. csv-table:: What is saved when"))
    header, body = None, []
    for line in lines[start + 1:]:
        if line.strip().startswith(":header:"):
            header = next(csv.reader([line.split(":header:", 1)[1]], skipinitialspace=True))
        elif line.startswith("   ") and not line.strip().startswith(":"):
            body.append(line.strip())
        elif line.strip() and not line.startswith("   "):
            break
    return [dict(zip(header, row)) for row in csv.reader(body, skipinitialspace=True) if row]


def named_tests(row):
    """The test ids in a row's "Proven by" cell: ``test_x.py::test_y[id]``."""
    return re.findall(r"``([\w./]+\.py::[\w\[\]-]+)``", row["Proven by"])


def documented_result(test_id):
    """(cover, missing) for lib.py, from the row that names `test_id`."""
    for row in rows():
        if test_id in named_tests(row):
            cell = row["lib.py"]
            cover = re.search(r"\d+%", cell).group()
            missing = re.search(r"lines? ([\d, -]+) missing", cell)
            return cover, missing.group(1) if missing else ""
    raise AssertionError(f"{PAGE.name} has no row that names {test_id}")
