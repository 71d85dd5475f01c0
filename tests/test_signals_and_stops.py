"""What each signal and stop saves (docs/signals-and-stops.rst): every event,
on real servers.

Each test takes the lib.py report it must get from its row of the page's
table, in expected.py; cog writes the table from the same rows.
"""

import re
import signal
import textwrap
import time
from datetime import datetime

import pytest

from expected import (
    GRACEFUL_EXITS, KILLED_WITH_A_REQUEST_IN_FLIGHT, LIB_AFTER_FOO_AND_BAR, PRELOAD, SIGKILL,
    SIGKILL_AFTER_A_PERIODIC_SNAPSHOT, SIGKILL_LOGGED, SNAPSHOT_WITHIN,
    STOPPED_WITH_A_REQUEST_IN_FLIGHT, USR1, WORKER_TIMEOUT,
)
from helpers import copy_test_apps, hold_a_request, release, wait_until


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


# How each graceful exit is brought about: (gunicorn's options, workers, the exit).
BRING_ABOUT = {
    "hup": ([], 2, hup),
    "term": ([], 2, stop_with(signal.SIGTERM)),
    "int": ([], 2, stop_with(signal.SIGINT)),
    "ctrl-c": ([], 2, lambda server: server.stop(signal.SIGINT, group=True)),
    "quit": ([], 2, stop_with(signal.SIGQUIT)),
    "ttou": ([], 1, ttou),
    "max-requests": (["--max-requests", "1"], 2, lambda server: server.wait_for_data_files(1)),
}


@pytest.mark.parametrize("event, expected", GRACEFUL_EXITS.items(), ids=list(GRACEFUL_EXITS))
def test_a_graceful_exit_saves(event, expected, start):
    args, workers, exit_ = BRING_ABOUT[event]
    server = start(*args, workers=workers)
    assert server.curl("/foo") == "42"
    exit_(server)
    assert server.report() == expected.lib
    server.stop()  # The master has reaped every worker: none ended before its last save.
    assert ledger_lines(server) == []


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


def test_a_worker_timeout_saves(start, example):
    """The master aborts a worker stuck longer than --timeout; it still saves."""
    (example / "slow_app.py").write_text(textwrap.dedent(SLOW_APP))
    server = start("--timeout", "2", workers=1, app="slow_app:app")
    server.curl("/foo-then-hang", check=False)  # The abort closes the connection.
    server.wait_for_data_files(1)
    assert "WORKER TIMEOUT" in server.log()
    assert server.report() == WORKER_TIMEOUT.lib
    # The abort (SIGABRT) runs worker_exit, which saved: the master says nothing.
    server.stop()
    assert ledger_lines(server) == []


# --- A stop with a request in flight -----------------------------------------

# The example, and /held: in flight until release(), then it runs lib.bar().
HELD_APP = "example_app.held:example_then_held"


def test_term_saves_at_once_what_ran_before_it(start, example):
    """A container engine sends TERM, then SIGKILL when its grace period ends,
    whether the requests in flight have ended or not. The worker saved at once."""
    copy_test_apps(example)
    server = start(workers=1, app=HELD_APP)
    assert server.curl("/foo") == "42"
    held = hold_a_request(server)
    server.send(signal.SIGTERM)
    [saved] = server.wait_for_data_files(1)
    assert held.poll() is None  # Written while the request is in flight.
    assert server.report() == KILLED_WITH_A_REQUEST_IN_FLIGHT.lib  # /foo, which ran before the stop.
    server.kill_everything()  # The grace period ends before the request.
    assert release(server, held) == [""]
    assert server.data_files() == [saved]
    assert server.report() == KILLED_WITH_A_REQUEST_IN_FLIGHT.lib


# Both stop a worker with TERM: the master sends it on TERM, and to the old
# workers on HUP. How the test then waits for the worker to have exited:
EXITED = {
    "term": lambda server, workers: server.process.wait(timeout=30),
    "hup": lambda server, workers: server.wait_for_exit(workers),
}


@pytest.mark.parametrize("event", EXITED)
def test_term_saves_at_once_then_the_rest_as_the_worker_exits(event, start, example):
    copy_test_apps(example)
    server = start(workers=1, app=HELD_APP)
    workers = server.workers()
    assert server.curl("/foo") == "42"
    held = hold_a_request(server)
    server.send(getattr(signal, f"SIG{event.upper()}"))
    server.wait_for_data_files(1)
    assert held.poll() is None
    assert release(server, held) == ["43"]
    EXITED[event](server, workers)
    assert len(server.data_files()) == 2  # Then the rest: what the request ran after the stop.
    assert server.report() == STOPPED_WITH_A_REQUEST_IN_FLIGHT.lib


# --- Preloaded applications -------------------------------------------------


def test_preload_counts_the_import_once(start):
    """With --preload the master imports the app: it saves that import once."""
    server = start("--preload")
    master_file = server.wait_for_data_files(1)
    assert f"[{server.pid}] [INFO] coverage: wrote {master_file[0]}" in server.log()
    assert server.curl("/foo") == "42"
    server.send(signal.SIGHUP)
    # Only the worker that served /foo ran anything: the other one writes no file.
    worker_files = set(server.wait_for_data_files(2)) - set(master_file)
    assert server.report() == PRELOAD.lib
    # The workers did not import lib.py, so their files hold only what ran in them.
    assert lines_of_lib(server, worker_files) == {2}
    # Across another HUP: the master writes no second file, /bar adds line 4.
    assert server.curl("/bar") == "43"
    server.send(signal.SIGHUP)
    server.wait_for_data_files(3)
    assert server.report() == LIB_AFTER_FOO_AND_BAR
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


def test_usr1_writes_a_snapshot_without_restarting(server):
    workers = server.workers()
    assert server.curl("/foo") == "42"
    server.send(signal.SIGUSR1)
    # Idle workers write in time too: the snapshot thread is woken at once.
    server.wait_for_data_files(2, timeout=SNAPSHOT_WITHIN)
    assert server.report() == USR1.lib
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
    assert server.report() == USR1.lib


def test_periodic_snapshots_bound_what_sigkill_loses(start):
    """Killed after a periodic snapshot, a worker loses only what ran since."""
    server = start(env={"GUNICORN_COVERAGE_SNAPSHOT_SECONDS": "3"}, workers=1)
    [worker] = server.workers()
    assert server.curl("/foo") == "42"
    server.wait_for_data_files(1, timeout=10)  # A periodic snapshot, no signal.
    assert server.curl("/bar") == "43"  # Runs after the snapshot: lost below.
    server.send_to_worker(worker, signal.SIGKILL)
    wait_until(lambda: (w := server.workers()) and w != [worker], what="a new worker")
    assert server.report() == SIGKILL_AFTER_A_PERIODIC_SNAPSHOT.lib


def test_sigkill_loses_what_the_worker_measured(start):
    server = start(workers=1)
    [worker] = server.workers()
    assert server.curl("/foo") == "42"
    server.send_to_worker(worker, signal.SIGKILL)
    wait_until(lambda: (w := server.workers()) and w != [worker], what="a new worker")
    server.wait_for_workers(1)
    server.send(signal.SIGHUP)  # The new worker saves: it only imported the app.
    server.wait_for_data_files(1)
    assert server.report() == SIGKILL.lib  # And so OUT_OF_MEMORY's: the same signal.


# --- What the master says a killed worker lost ---------------------------------

LEDGER_LINE = re.compile(
    r"\[(?P<master>\d+)\] \[ERROR\] coverage: worker (?P<worker>\d+) ended before its last save: "
    r"what it measured since (?P<since>it started|its last save) at (?P<at>.+) is lost$"
)


def ledger_lines(server):
    """The master's lines about workers that ended before their last save."""
    return [match for line in server.log().splitlines() if (match := LEDGER_LINE.search(line))]


def ledger_line(server, worker):
    """The master's line about `worker`, once it has reaped it."""
    def found():
        return [match for match in ledger_lines(server) if int(match["worker"]) == worker]

    [match] = wait_until(found, what=f"the master's line about worker {worker}")
    assert int(match["master"]) == server.pid
    return match


def logged_between(at, earliest, latest):
    """Is `at`, a time as gunicorn's log lines write it, between these two
    time.time() values? (It has whole seconds.)"""
    seconds = datetime.strptime(at, "%Y-%m-%d %H:%M:%S %z").timestamp()
    return int(earliest) <= seconds <= latest


def test_the_master_says_since_when_a_killed_worker_lost_its_data(start):
    earliest = time.time()
    server = start(workers=1)
    latest = time.time()  # The worker has started measuring.
    [first] = server.workers()
    assert server.curl("/foo") == "42"
    server.send_to_worker(first, signal.SIGKILL)
    lost = ledger_line(server, first)
    assert lost["since"] == "it started"
    assert logged_between(lost["at"], earliest, latest)

    [second] = wait_until(lambda: (w := server.workers()) != [first] and w, what="a new worker")
    server.wait_for_workers(1)
    assert server.curl("/foo") == "42"
    earliest = time.time()
    server.send(signal.SIGUSR1)
    wait_until(lambda: f"[{second}] [INFO] coverage: wrote" in server.log(), what="the snapshot")
    latest = time.time()
    server.send_to_worker(second, signal.SIGKILL)
    lost = ledger_line(server, second)
    assert lost["since"] == "its last save"
    assert logged_between(lost["at"], earliest, latest)

    assert len(ledger_lines(server)) == 2
    assert server.report() == SIGKILL_LOGGED.lib  # The second worker's snapshot.
