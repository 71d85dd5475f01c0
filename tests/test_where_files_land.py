"""Where the data files land (docs/where-files-land.rst).

A worker writes its file relative to its working directory, and coverage reads
.coveragerc from there too, unless COVERAGE_FILE or [run] data_file say otherwise.

Each row of the page's table, expected.WHERE_FILES_LAND, is a case of the test
below: it starts gunicorn that way and must find the file where the row says.
cog writes the table from the same rows.
"""

import signal

import pytest

from expected import APP, DATA_FILE_SETTING, LIB_AFTER_FOO, WHERE_FILES_LAND
from helpers import add_to_coveragerc, process_exists, wait_until


def landed(example, elsewhere):
    """How many data files landed in each place a test looks, where there are any."""
    places = {"the project": example, "data/": example / "data", "elsewhere": elsewhere}
    counts = {name: len(list(place.glob(".coverage.*"))) for name, place in places.items()}
    return {name: count for name, count in counts.items() if count}


@pytest.fixture
def elsewhere(tmp_path_factory):
    """A directory that is not the project's."""
    return tmp_path_factory.mktemp("elsewhere")


def serve_and_stop(launch, example, *args, env=None, cwd=None, daemon=False):
    """gunicorn started in `cwd` (the project, if not given), with the
    project's hook file: one worker, one request to /foo, then TERM; returns
    the stopped server."""
    server = launch(
        "-c", str(example / "gunicorn.conf.py"), "--workers", "1", *args, APP, env=env, cwd=cwd
    )
    if daemon:  # The command returns at once; the master runs on, detached.
        wait_until(lambda: server.pid_file.exists() and server.pid_file.read_text().strip(),
                   10, "the daemon's pid file")
        server.pid = int(server.pid_file.read_text())
    server.wait_for_workers(1)
    assert server.curl("/foo") == "42"
    server.send(signal.SIGTERM)
    wait_until(lambda: not process_exists(server.pid), 30, "the master to exit")
    return server


# Each way of starting gunicorn, by its row: serve /foo, stop, and return the
# server and the options that point `coverage report` at the files.

def from_elsewhere_with_chdir(launch, example, elsewhere):
    return serve_and_stop(launch, example, "--chdir", str(example), cwd=elsewhere), ()


def from_elsewhere_without_chdir(launch, example, elsewhere):
    # The project's .coveragerc says data/: the file lands elsewhere all the
    # same, as coverage looked for its settings in the working directory.
    (example / "data").mkdir()
    add_to_coveragerc(example, DATA_FILE_SETTING)
    server = serve_and_stop(launch, example, "--pythonpath", str(example), cwd=elsewhere)
    return server, ("--data-file", str(elsewhere / ".coverage"))


def with_coverage_file(launch, example, elsewhere):
    server = serve_and_stop(launch, example, env={"COVERAGE_FILE": str(elsewhere / ".coverage")})
    return server, ("--data-file", str(elsewhere / ".coverage"))


def with_data_file(launch, example, elsewhere):
    (example / "data").mkdir()
    add_to_coveragerc(example, DATA_FILE_SETTING)
    return serve_and_stop(launch, example), ()


def as_a_daemon(launch, example, elsewhere):
    server = serve_and_stop(launch, example, "--daemon", "--log-file", str(example / "gunicorn.log"), daemon=True)
    return server, ()


STARTED = {
    "chdir": from_elsewhere_with_chdir,
    "elsewhere": from_elsewhere_without_chdir,
    "coverage-file": with_coverage_file,
    "data-file": with_data_file,
    "daemon": as_a_daemon,
}


@pytest.mark.parametrize("how, expected", WHERE_FILES_LAND.items(), ids=list(WHERE_FILES_LAND))
def test_the_data_file_lands_where_the_row_says(how, expected, launch, example, elsewhere):
    server, report_options = STARTED[how](launch, example, elsewhere)
    assert landed(example, elsewhere) == {expected.place: 1}
    assert server.report(*report_options) == LIB_AFTER_FOO
