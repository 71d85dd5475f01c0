"""What is saved when: every event of docs/saved-when.rst, on real servers.

Each test takes the lib.py result it must see from the row of the page's table
that names it (tests/saved_when.py).
"""

import signal
import textwrap

import pytest

from helpers import wait_until
from saved_when import documented_result


@pytest.fixture
def documented(request):
    """The (cover, missing) result that docs/saved-when.rst shows for this test."""
    test_id = f"{request.node.path.name}::{request.node.name}"
    return documented_result(test_id)


def result(server):
    report = server.report()
    return report.cover, report.missing


# --- Graceful exits: every worker that leaves saves what it measured. -------


def hup(server):
    server.send(signal.SIGHUP)
    server.wait_for_data_files(2)


def stop_with(sig):
    def stop(server):
        server.stop(sig)
    return stop


def ttou(server):
    """One worker fewer: gunicorn stops the oldest, the one that served /foo."""
    server.send(signal.SIGTTIN)
    server.wait_for_workers(2)
    server.send(signal.SIGTTOU)
    server.wait_for_data_files(1)


GRACEFUL_EXITS = {
    "hup": ([], 2, hup),
    "term": ([], 2, stop_with(signal.SIGTERM)),
    "int": ([], 2, stop_with(signal.SIGINT)),
    "quit": ([], 2, stop_with(signal.SIGQUIT)),
    "ttou": ([], 1, ttou),
    "max-requests": (["--max-requests", "1"], 2, lambda server: server.wait_for_data_files(1)),
}


@pytest.mark.parametrize("event", GRACEFUL_EXITS)
def test_a_graceful_exit_saves(event, start, documented):
    args, workers, exit_ = GRACEFUL_EXITS[event]
    server = start(*args, workers=workers)
    assert server.curl("/foo") == "42"
    exit_(server)
    assert result(server) == documented


SLOW_APP = """
    import time
    from flask import Flask
    from example_app import lib

    app = Flask(__name__)

    @app.route("/foo-then-hang")
    def foo_then_hang():
        lib.foo()
        time.sleep(60)
"""


def test_a_worker_timeout_saves(start, example, documented):
    """The master aborts a worker stuck longer than --timeout; it still saves."""
    (example / "slow_app.py").write_text(textwrap.dedent(SLOW_APP))
    server = start("--timeout", "2", workers=1, app="slow_app:app")
    server.curl("/foo-then-hang", check=False)  # The abort closes the connection.
    server.wait_for_data_files(1)
    assert "WORKER TIMEOUT" in server.log()
    assert result(server) == documented


# --- Preloaded applications -------------------------------------------------


def test_preload_counts_the_import_once(start, documented):
    """With --preload the master imports the app: it saves that import once."""
    server = start("--preload")
    master_file = server.wait_for_data_files(1)
    assert f"[{server.pid}] [INFO] coverage: wrote {master_file[0]}" in server.log()
    assert server.curl("/foo") == "42"
    server.send(signal.SIGHUP)
    # Only the worker that served /foo ran anything: the other one writes no file.
    worker_files = set(server.wait_for_data_files(2)) - set(master_file)
    assert result(server) == documented
    # The workers did not import lib.py, so their files hold only what ran in them.
    assert lines_of_lib(server, worker_files) == {2}
    # Across another HUP: the master writes no second file, /bar adds line 4.
    assert server.curl("/bar") == "43"
    server.send(signal.SIGHUP)
    server.wait_for_data_files(3)
    assert result(server) == ("100%", "")
    assert server.log().count(f"[{server.pid}] [INFO] coverage: wrote") == 1


def lines_of_lib(server, data_files):
    import coverage

    lines = set()
    for name in data_files:
        data = coverage.CoverageData(str(server.directory / name))
        data.read()
        lib = str(server.directory / "example_app" / "lib.py")
        lines.update(data.lines(lib) or [])
    return lines


# --- Snapshots ---------------------------------------------------------------


def test_usr1_writes_a_snapshot_without_restarting(start, documented):
    server = start()
    workers = server.workers()
    assert server.curl("/foo") == "42"
    server.send(signal.SIGUSR1)
    # Idle workers write within 2 seconds: the snapshot thread is woken at once.
    server.wait_for_data_files(2, timeout=2)
    assert result(server) == documented
    assert server.workers() == workers
    assert server.curl("/bar") == "43"


def test_usr1_still_reopens_the_log_files(start):
    """gunicorn's own use of USR1 keeps working: log rotation."""
    server = start("--error-logfile", "error.log", wait=False)
    log = server.directory / "error.log"
    wait_until(
        lambda: log.exists() and log.read_text().count("coverage: measuring this worker") == 2,
        what="two measuring workers in error.log",
    )
    server.curl("/foo")
    log.rename(server.directory / "error.log.1")
    server.send(signal.SIGUSR1)
    wait_until(
        lambda: log.exists() and log.read_text().count("coverage: wrote") == 2,
        what="the workers' snapshot lines in the reopened error.log",
    )


def test_periodic_snapshots_bound_what_sigkill_loses(start, documented):
    """Killed after a periodic snapshot, a worker loses only what ran since."""
    server = start(env={"GUNICORN_COVERAGE_SNAPSHOT_SECONDS": "3"}, workers=1)
    [worker] = server.workers()
    assert server.curl("/foo") == "42"
    server.wait_for_data_files(1, timeout=10)  # A periodic snapshot, no signal.
    assert server.curl("/bar") == "43"  # Runs after the snapshot: lost below.
    server.send_to_worker(worker, signal.SIGKILL)
    wait_until(lambda: (w := server.workers()) and w != [worker], what="a new worker")
    assert result(server) == documented


def test_sigkill_loses_what_the_worker_measured(start, documented):
    server = start(workers=1)
    [worker] = server.workers()
    assert server.curl("/foo") == "42"
    server.send_to_worker(worker, signal.SIGKILL)
    wait_until(lambda: (w := server.workers()) and w != [worker], what="a new worker")
    server.wait_for_workers(1)
    server.send(signal.SIGHUP)  # The new worker saves: it only imported the app.
    server.wait_for_data_files(1)
    assert result(server) == documented
