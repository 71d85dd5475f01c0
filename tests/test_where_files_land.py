"""Where the data files land (docs/where-files-land.rst).

A worker writes its file relative to its working directory, and coverage reads
.coveragerc from there too, unless COVERAGE_FILE or [run] data_file say otherwise.
"""

import signal

import pytest

from helpers import add_to_coveragerc, process_exists, wait_until


def data_files_in(directory):
    return sorted(p.name for p in directory.glob(".coverage.*"))


@pytest.fixture
def elsewhere(tmp_path_factory):
    """A directory that is not the project's."""
    return tmp_path_factory.mktemp("elsewhere")


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


def test_with_chdir_files_land_in_that_directory(start, example, elsewhere):
    server = serve_and_stop(start, "--chdir", str(example), cwd=elsewhere)
    assert len(data_files_in(example)) == 1
    assert data_files_in(elsewhere) == []
    assert server.report() == (4, 1, "75%", "4")


def test_started_elsewhere_files_land_there_and_coveragerc_is_not_read(start, example, elsewhere):
    (example / "data").mkdir()
    add_to_coveragerc(example, "data_file = data/.coverage")
    server = serve_and_stop(start, "--pythonpath", str(example), cwd=elsewhere)
    # Not in data/: coverage looked for its settings in the working directory.
    assert data_files_in(example / "data") == []
    assert len(data_files_in(elsewhere)) == 1
    assert server.report("--data-file", str(elsewhere / ".coverage")) == (4, 1, "75%", "4")


def test_coverage_file_says_where_files_land(start, example, elsewhere):
    server = serve_and_stop(start, env={"COVERAGE_FILE": str(elsewhere / ".coverage")})
    assert data_files_in(example) == []
    assert len(data_files_in(elsewhere)) == 1
    assert server.report("--data-file", str(elsewhere / ".coverage")) == (4, 1, "75%", "4")


def test_data_file_is_relative_to_the_working_directory(start, example):
    (example / "data").mkdir()
    add_to_coveragerc(example, "data_file = data/.coverage")
    server = serve_and_stop(start)
    assert data_files_in(example) == []
    assert len(data_files_in(example / "data")) == 1
    assert server.report() == (4, 1, "75%", "4")


def test_a_daemon_writes_where_it_was_started(start, example):
    server = serve_and_stop(start, "--daemon", "--log-file", str(example / "gunicorn.log"), daemon=True)
    assert len(data_files_in(example)) == 1
    assert server.report() == (4, 1, "75%", "4")
