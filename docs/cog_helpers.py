"""What cog writes into the pages: the tables of results, from tests/expected.py.

The pages call these between ``.. [[[cog`` and ``.. [[[end]]]``; `tox -e cog`
writes them again (``python -m cogapp -r -I docs docs/*.rst``), and
tests/test_generated_tables.py checks that each page is what cog writes. The
values come from tests/expected.py, the module the tests take their expected
values from; nothing here imports a test.
"""

import sys
from pathlib import Path

# expected.py lives beside the tests that take their values from it; cog puts
# only docs/ on the path (-I docs), so that no page can import a test module.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
import expected  # noqa: E402

# The Python columns of the per-Python tables: the Pythons of a column behave alike.
PYTHON_COLUMNS = {
    "Python 3.11": [(3, 11)],
    "Python 3.12 and 3.13": [(3, 12), (3, 13)],
    "Python 3.14 and 3.15": [(3, 14), (3, 15)],
}


def column_cells(value):
    """One cell per column of PYTHON_COLUMNS: `value(python)`, which must be
    the same for every Python of the column."""
    cells = []
    for column, pythons in PYTHON_COLUMNS.items():
        values = {value(python) for python in pythons}
        if len(values) != 1:
            raise ValueError(f"{column}: its Pythons differ ({values}): split the column")
        cells.append(values.pop())
    return cells


def list_table(header, rows, widths, title="", stub_columns=0):
    """A reST list-table. Blank lines around it keep it apart from cog's
    markers, which are reST comments."""
    lines = [f".. list-table:: {title}".rstrip(), "   :header-rows: 1"]
    if stub_columns:
        lines.append(f"   :stub-columns: {stub_columns}")
    lines += [f"   :widths: {' '.join(map(str, widths))}", ""]
    for row in [header, *rows]:
        if len(row) != len(header):
            raise ValueError(f"{row} has not {len(header)} cells")
        for n, cell in enumerate(row):
            first, *more = cell.splitlines() or [""]
            lines.append((("   * - " if n == 0 else "     - ") + first).rstrip())
            lines.extend(f"       {line}" if line else "" for line in more)
    return "\n" + "\n".join(lines) + "\n\n"


def code_block(language, line):
    return f"\n.. code-block:: {language}\n\n   {line}\n\n"


# --- signals-and-stops.rst ------------------------------------------------------


def lib_py(report):
    """The lib.py cell: "75%, line 4 missing", "50%, lines 2, 4 missing" or "100%"."""
    if not report.missing:
        return report.cover
    several = any(sign in report.missing for sign in ",-")
    return f"{report.cover}, {'lines' if several else 'line'} {report.missing} missing"


def signals_and_stops():
    return list_table(
        ["Event", "What is saved", "lib.py"],
        [[row.event, row.saved, lib_py(row.lib)] for row in expected.SIGNALS_AND_STOPS],
        widths=[25, 60, 15],
        title="What each signal and stop saves",
    )


# --- where-files-land.rst -------------------------------------------------------


def where_files_land():
    return list_table(
        ["How gunicorn is started", "Where the file lands"],
        [[row.started, row.lands] for row in expected.WHERE_FILES_LAND.values()],
        widths=[50, 50],
        title=f"Each time, one data file holds the request: ``lib.py`` at {expected.LIB_AFTER_FOO.cover}",
    )


# --- worker-classes.rst ---------------------------------------------------------


def worker_class_saves():
    """"What each worker class saves"."""
    def stop_cell(stop):
        return f"{stop.files} file{'s' if stop.files > 1 else ''}, {stop.lib.cover}"

    def usr1_cell(snapshots, first_row):
        first, then = (report.cover for report in snapshots)
        return f"{first}; after ``/bar`` and another USR1, {then}" if first_row else f"{first}, then {then}"

    def in_flight_cell(in_flight):
        if in_flight.waits:
            return f"waits for the request: {in_flight.snapshot.cover}"
        return (f"does not wait: {in_flight.snapshot.cover}, "
                f"the rest in the next file ({in_flight.at_stop.cover})")

    rows = [
        [expected.WORKER_CLASSES[name].row,
         *(stop_cell(getattr(saves, sig)) for sig in expected.STOPPING),
         usr1_cell(saves.usr1, n == 0),
         in_flight_cell(saves.in_flight)]
        for n, (name, saves) in enumerate(expected.WORKER_CLASS_SAVES.items())
    ]
    header = ["Worker class", "``kill -HUP``", "``kill -TERM``", "``kill -INT``",
              "``kill -USR1`` (snapshot)", "A snapshot while a request runs"]
    return list_table(header, rows, [14, 13, 13, 13, 17, 30])


def worker_class_command(name):
    return code_block("shell", expected.WORKER_CLASSES[name].command())


# How the cores table names what differs from a sync worker.
LABELS = {("gthread", False): "gthread", ("gevent", False): "gevent", ("sync", True): "``branch = True``"}


def core_cell(asked, python):
    """What COVERAGE_CORE=asked does on that Python: sync's outcome, then the others'."""
    outcomes = {
        combination[1:]: expected.core_outcome(*combination, python=python)
        for combination in expected.CORE_COMBINATIONS if combination[0] == asked
    }
    sync = outcomes.pop(("sync", False))
    cell = sync.core + (f", with the warning ``{sync.message}``" if sync.reason else "")
    others = {}  # outcome: the labels of the combinations that have it
    for combination, outcome in outcomes.items():
        if outcome != sync:
            others.setdefault(outcome, []).append(LABELS[combination])
    for outcome, labels in others.items():
        with_ = f"with {' or '.join(labels)}"
        if outcome.core is None:
            cell += f"; {with_}, gunicorn does not start"
        elif outcome.reason:
            cell += f"; {outcome.core} {with_} (warning ``... {outcome.reason} ...``)"
        else:
            cell += f"; {outcome.core} {with_}, without a warning"
    return cell


def worker_cores():
    """"Coverage cores": what each COVERAGE_CORE gives, by Python."""
    rows = [[f"``{asked}``" if asked else "not set", *column_cells(lambda python: core_cell(asked, python))]
            for asked in expected.ASKED]
    return list_table(["``COVERAGE_CORE``", *PYTHON_COLUMNS], rows, [16, 28, 28, 28])


def pytrace_refuses_gevent():
    return code_block("text", expected.PYTRACE_REFUSES_GEVENT)


# --- alternatives.rst -----------------------------------------------------------


def alternatives():
    """A column per approach, the rows of every event."""
    rows = [[label, *cells] for rows in expected.ALTERNATIVES.values() for label, cells in rows.items()]
    return list_table(["", *expected.APPROACH_COLUMNS], rows, [32, 17, 17, 17, 17],
                      "The same events, four ways", stub_columns=1)


# --- reference.rst, "What differs by Python version" ------------------------------


def overlapping_greenlets(python):
    if expected.OVERLAPPING_GREENLETS_RIGHT[python]:
        return "right"
    return "wrong: lines counted in the wrong file"


LOSES = "saves only if the master gives up before the dirty arbiter"


def dirty_worker(pythons):
    """What a dirty worker that served does when gunicorn stops, on the
    releases of these Pythons: one behaviour, or the release that changes it."""
    changes = []  # (the first release it does it on, what)
    for python in pythons:
        steps = [(python, LOSES if expected.asyncio_waits((*python, 0)) else "saves")]
        if fixed_in := expected.ASYNCIO_WAITS_UNTIL.get(python):
            steps.append((fixed_in, "saves"))
        for release, what in steps:
            if not changes or changes[-1][1] != what:
                changes.append((release, what))
    if len(changes) == 1:
        return changes[0][1]
    (_, before), (fixed_in, after) = changes
    fixed_in = ".".join(map(str, fixed_in))
    return f"before {fixed_in}: {before}; {fixed_in} and newer: {after}"


def forced_sysmon_templates(python):
    forced = expected.DJANGO_FORCED_SYSMON[python]
    return f"measured (``{forced.core}``)" if forced.template.executed else f"not measured (``{forced.core}``)"


def pythons_table():
    cores = expected.CORES
    rows = [
        ["coverage's own default core", *column_cells(lambda p: f"``{cores[p].coverages_own}``")],
        ["The hook file's core, unless you choose one (:ref:`ref-core`), also\nwith per-request contexts",
         *column_cells(lambda p: f"``{cores[p].hook_file}``")],
        ["... with ``branch = True``", *column_cells(lambda p: f"``{cores[p].with_branch}``")],
        ["... with ``plugins``, a ``dynamic_context`` or ``concurrency = gevent``",
         *column_cells(lambda p: f"``{cores[p].needs_ctrace}``")],
        ["``gevent`` workers without ``concurrency = gevent``, requests that\noverlap "
         "(:ref:`worker-classes-gevent`)", *column_cells(overlapping_greenlets)],
        ["A dirty worker that served a request, when gunicorn stops\n(:ref:`worker-classes-dirty`)",
         *(dirty_worker(pythons) for pythons in PYTHON_COLUMNS.values())],
        ["Django templates, if you force ``core = sysmon`` (:ref:`django-core`)",
         *column_cells(forced_sysmon_templates)],
    ]
    return list_table(["", *PYTHON_COLUMNS], rows, [34, 22, 22, 22], stub_columns=1)


# --- django.rst -------------------------------------------------------------------


def template_cell(lines):
    if not lines.executed:
        return "none of its lines counted"
    return f"lines {', '.join(map(str, lines.missing))} not run, as with the hook file's core"


def django_forced_sysmon():
    """"core = sysmon, or COVERAGE_CORE=sysmon": what each Python does."""
    def cell(python):
        forced = expected.DJANGO_FORCED_SYSMON[python]
        return (f"``{forced.core}``, with the warning ``{forced.warning}``; the template: "
                f"{template_cell(forced.template)}")

    return list_table(["", *PYTHON_COLUMNS], [["``core = sysmon``", *column_cells(cell)]],
                      [16, 28, 28, 28], stub_columns=1)


# --- fastapi.rst ----------------------------------------------------------------


def fastapi_stops():
    """"What each stop saves": the shop's two workers, after /health and /items/apple."""
    rows = [
        [stop.event, stop.saved, str(stop.files), "ran" if stop.shutdown_ran else "not run",
         lib_py(stop.main)]
        for stop in expected.FASTAPI_STOPS.values()
    ]
    header = ["Event", "What the workers do", "Data files",
              "Lifespan shutdown", "``shop/main.py``"]
    return list_table(header, rows, [14, 40, 10, 12, 24])
