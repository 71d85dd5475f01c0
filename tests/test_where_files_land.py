"""Where the data files land (docs/where-files-land.rst).

A worker writes its file relative to its working directory, and coverage reads
.coveragerc from there too, unless COVERAGE_FILE or [run] data_file say otherwise.

The page's table is CASES, at the end of this module: each row says how
gunicorn is started, where the file lands and the test that shows it. The tests
take the place they must find the file in from their row (the `case` fixture),
and docs_table() writes the page's table from the same rows.
"""

import signal
from typing import Callable, NamedTuple

import pytest

from helpers import LIB_AFTER_FOO, add_to_coveragerc, list_table, process_exists, wait_until

# The [run] setting that puts the data files in data/, a directory of the project.
DATA_FILE_SETTING = "data_file = data/.coverage"


def landed(example, elsewhere):
    """How many data files landed in each place a test looks, where there are any."""
    places = {"the project": example, "data/": example / "data", "elsewhere": elsewhere}
    counts = {name: len(list(place.glob(".coverage.*"))) for name, place in places.items()}
    return {name: count for name, count in counts.items() if count}


@pytest.fixture
def elsewhere(tmp_path_factory):
    """A directory that is not the project's."""
    return tmp_path_factory.mktemp("elsewhere")


@pytest.fixture
def case(request):
    """The row of the page's table that names this test."""
    [row] = [row for row in CASES if row.test is request.function]
    return row


def serve_and_stop(start, *args, env=None, cwd=None, daemon=False):
    """One worker, one request to /foo, then TERM; returns the stopped server."""
    server = start(*args, workers=1, env=env, cwd=cwd, wait=not daemon)
    if daemon:  # The command returns at once; the master runs on, detached.
        wait_until(lambda: server.pid_file.exists() and server.pid_file.read_text().strip(),
                   10, "the daemon's pid file")
        server.pid = int(server.pid_file.read_text())
        server.wait_for_workers(1)
    assert server.curl("/foo") == "42"
    server.send(signal.SIGTERM)
    wait_until(lambda: not process_exists(server.pid), 30, "the master to exit")
    return server


def test_with_chdir_files_land_in_that_directory(start, example, elsewhere, case):
    server = serve_and_stop(start, "--chdir", str(example), cwd=elsewhere)
    assert landed(example, elsewhere) == {case.place: 1}
    assert server.report() == LIB_AFTER_FOO


def test_started_elsewhere_files_land_there_and_coveragerc_is_not_read(
    start, example, elsewhere, case
):
    (example / "data").mkdir()
    add_to_coveragerc(example, DATA_FILE_SETTING)
    server = serve_and_stop(start, "--pythonpath", str(example), cwd=elsewhere)
    # Not in data/: coverage looked for its settings in the working directory.
    assert landed(example, elsewhere) == {case.place: 1}
    assert server.report("--data-file", str(elsewhere / ".coverage")) == LIB_AFTER_FOO


def test_coverage_file_says_where_files_land(start, example, elsewhere, case):
    server = serve_and_stop(start, env={"COVERAGE_FILE": str(elsewhere / ".coverage")})
    assert landed(example, elsewhere) == {case.place: 1}
    assert server.report("--data-file", str(elsewhere / ".coverage")) == LIB_AFTER_FOO


def test_data_file_is_relative_to_the_working_directory(start, example, elsewhere, case):
    (example / "data").mkdir()
    add_to_coveragerc(example, DATA_FILE_SETTING)
    server = serve_and_stop(start)
    assert landed(example, elsewhere) == {case.place: 1}
    assert server.report() == LIB_AFTER_FOO


def test_a_daemon_writes_where_it_was_started(start, example, elsewhere, case):
    server = serve_and_stop(start, "--daemon", "--log-file", str(example / "gunicorn.log"), daemon=True)
    assert landed(example, elsewhere) == {case.place: 1}
    assert server.report() == LIB_AFTER_FOO


# --- The page's table ---------------------------------------------------------


class Case(NamedTuple):
    """A row of docs/where-files-land.rst's table."""
    started: str  # How gunicorn is started,
    lands: str  # where the file lands, as the page says it,
    place: str  # and as the test finds it: a place of landed().
    test: Callable


CASES = [
    Case(
        "From another directory, with ``--chdir`` the project directory",
        "the project directory",
        "the project",
        test_with_chdir_files_land_in_that_directory,
    ),
    Case(
        "From another directory, without ``--chdir`` (the application found with ``--pythonpath``)",
        "that other directory; the project's ``.coveragerc`` is not read",
        "elsewhere",
        test_started_elsewhere_files_land_there_and_coveragerc_is_not_read,
    ),
    Case(
        "With ``COVERAGE_FILE=/some/dir/.coverage`` in the environment",
        "``/some/dir``",
        "elsewhere",
        test_coverage_file_says_where_files_land,
    ),
    Case(
        f"With ``{DATA_FILE_SETTING}`` under ``[run]``",
        "``data/``, relative to the working directory",
        "data/",
        test_data_file_is_relative_to_the_working_directory,
    ),
    Case(
        "With ``--daemon``",
        "the directory it was started in: gunicorn's daemon mode does not change directory",
        "the project",
        test_a_daemon_writes_where_it_was_started,
    ),
]


def docs_table():
    """The table of docs/where-files-land.rst."""
    return list_table(
        ["How gunicorn is started", "Where the file lands", "Test"],
        [[case.started, case.lands, f"``{case.test.__name__}``"] for case in CASES],
        widths=[36, 34, 30],
        title=f"Each time, one data file holds the request: ``lib.py`` at {LIB_AFTER_FOO.cover}",
    )


def test_every_test_here_has_a_row():
    tests = {
        name for name, function in globals().items()
        if name.startswith("test_") and function is not test_every_test_here_has_a_row
    }
    assert tests == {case.test.__name__ for case in CASES}
