"""What is saved when (docs/saved-when.rst): every event, on real servers.

The page's table is EVENTS, at the end of this module: each row names an
event, what is saved, the lib.py report the tests get and the tests that prove
it. The tests take the report they must see from the rows that name them (the
`expected` fixture), and docs_table() writes the page's table from the same
rows, so the "Proven by" column only names tests that exist.
"""

import re
import signal
import textwrap
import time
from datetime import datetime
from pathlib import Path
from typing import Callable, NamedTuple

import pytest

from helpers import (
    LIB_AFTER_FOO, LIB_AFTER_FOO_AND_BAR, LIB_IMPORTED_ONLY, Report, copy_test_apps, hold_a_request,
    list_table, release, wait_until,
)

# Seconds within which every worker writes its snapshot after USR1.
SNAPSHOT_WITHIN = 2


@pytest.fixture
def expected(request):
    """The lib.py report that the rows naming this test show."""
    callspec = getattr(request.node, "callspec", None)
    case = Case(request.function, callspec.id if callspec else None)
    reports = {row.report for row in EVENTS if case in row.proven_by}
    assert len(reports) == 1, f"the rows that name {case} show {reports or 'no report'}"
    return reports.pop()


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
def test_a_graceful_exit_saves(event, start, expected):
    args, workers, exit_ = GRACEFUL_EXITS[event]
    server = start(*args, workers=workers)
    assert server.curl("/foo") == "42"
    exit_(server)
    assert server.report() == expected
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


def test_a_worker_timeout_saves(start, example, expected):
    """The master aborts a worker stuck longer than --timeout; it still saves."""
    (example / "slow_app.py").write_text(textwrap.dedent(SLOW_APP))
    server = start("--timeout", "2", workers=1, app="slow_app:app")
    server.curl("/foo-then-hang", check=False)  # The abort closes the connection.
    server.wait_for_data_files(1)
    assert "WORKER TIMEOUT" in server.log()
    assert server.report() == expected
    # The abort (SIGABRT) runs worker_exit, which saved: the master says nothing.
    server.stop()
    assert ledger_lines(server) == []


# --- A stop with a request in flight -----------------------------------------

# The example, and /held: in flight until release(), then it runs lib.bar().
HELD_APP = "example_app.held:example_then_held"


def test_term_saves_at_once_what_ran_before_it(start, example, expected):
    """A container engine sends TERM, then SIGKILL when its grace period ends,
    whether the requests in flight have ended or not. The worker saved at once."""
    copy_test_apps(example)
    server = start(workers=1, app=HELD_APP)
    assert server.curl("/foo") == "42"
    held = hold_a_request(server)
    server.send(signal.SIGTERM)
    [saved] = server.wait_for_data_files(1)
    assert held.poll() is None  # Written while the request is in flight.
    assert server.report() == expected  # /foo, which ran before the stop.
    server.kill_everything()  # The grace period ends before the request.
    assert release(server, held) == [""]
    assert server.data_files() == [saved]
    assert server.report() == expected


STOPPING_WITH_TERM = {
    # The master sends the workers TERM when it stops, and the old workers on HUP.
    "term": lambda server, workers: server.process.wait(timeout=30),
    "hup": lambda server, workers: server.wait_for_exit(workers),
}


@pytest.mark.parametrize("event", STOPPING_WITH_TERM)
def test_term_saves_at_once_then_the_rest_as_the_worker_exits(event, start, example, expected):
    copy_test_apps(example)
    server = start(workers=1, app=HELD_APP)
    workers = server.workers()
    assert server.curl("/foo") == "42"
    held = hold_a_request(server)
    server.send(getattr(signal, f"SIG{event.upper()}"))
    server.wait_for_data_files(1)
    assert held.poll() is None
    assert release(server, held) == ["43"]
    STOPPING_WITH_TERM[event](server, workers)  # The worker has exited.
    assert len(server.data_files()) == 2  # Then the rest: what the request ran after the stop.
    assert server.report() == expected


# --- Preloaded applications -------------------------------------------------


def test_preload_counts_the_import_once(start, expected):
    """With --preload the master imports the app: it saves that import once."""
    server = start("--preload")
    master_file = server.wait_for_data_files(1)
    assert f"[{server.pid}] [INFO] coverage: wrote {master_file[0]}" in server.log()
    assert server.curl("/foo") == "42"
    server.send(signal.SIGHUP)
    # Only the worker that served /foo ran anything: the other one writes no file.
    worker_files = set(server.wait_for_data_files(2)) - set(master_file)
    assert server.report() == expected
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


def test_usr1_writes_a_snapshot_without_restarting(start, expected):
    server = start()
    workers = server.workers()
    assert server.curl("/foo") == "42"
    server.send(signal.SIGUSR1)
    # Idle workers write in time too: the snapshot thread is woken at once.
    server.wait_for_data_files(2, timeout=SNAPSHOT_WITHIN)
    assert server.report() == expected
    assert server.workers() == workers
    assert server.curl("/bar") == "43"


def test_usr1_still_reopens_the_log_files(start, expected):
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
    assert server.report() == expected


def test_periodic_snapshots_bound_what_sigkill_loses(start, expected):
    """Killed after a periodic snapshot, a worker loses only what ran since."""
    server = start(env={"GUNICORN_COVERAGE_SNAPSHOT_SECONDS": "3"}, workers=1)
    [worker] = server.workers()
    assert server.curl("/foo") == "42"
    server.wait_for_data_files(1, timeout=10)  # A periodic snapshot, no signal.
    assert server.curl("/bar") == "43"  # Runs after the snapshot: lost below.
    server.send_to_worker(worker, signal.SIGKILL)
    wait_until(lambda: (w := server.workers()) and w != [worker], what="a new worker")
    assert server.report() == expected


def test_sigkill_loses_what_the_worker_measured(start, expected):
    server = start(workers=1)
    [worker] = server.workers()
    assert server.curl("/foo") == "42"
    server.send_to_worker(worker, signal.SIGKILL)
    wait_until(lambda: (w := server.workers()) and w != [worker], what="a new worker")
    server.wait_for_workers(1)
    server.send(signal.SIGHUP)  # The new worker saves: it only imported the app.
    server.wait_for_data_files(1)
    assert server.report() == expected


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


def test_the_master_says_since_when_a_killed_worker_lost_its_data(start, expected):
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
    assert server.report() == expected  # The second worker's snapshot.


# --- The page's table ---------------------------------------------------------


class Case(NamedTuple):
    """A test as pytest collects it: a test function, and its parameter if any."""
    test: Callable
    param: str | None = None

    def __str__(self):
        param = f"[{self.param}]" if self.param else ""
        return f"{Path(__file__).name}::{self.test.__name__}{param}"


class Event(NamedTuple):
    """A row of docs/saved-when.rst's table."""
    event: str
    saved: str
    report: Report  # of lib.py, on the files written
    proven_by: list[Case]


# A row of its own, and the proof of the out-of-memory kill's: the same signal.
SIGKILL = Event(
    "``kill -KILL`` a worker",
    "Nothing of what the worker measured since its last file: no code runs in a killed process."
    " Here it served ``/foo`` and wrote no file.",
    LIB_IMPORTED_ONLY,
    [Case(test_sigkill_loses_what_the_worker_measured)],
)

EVENTS = [
    Event(
        "``kill -HUP`` the master",
        "Every old worker writes its file as it exits; new workers serve on.",
        LIB_AFTER_FOO,
        [Case(test_a_graceful_exit_saves, "hup")],
    ),
    Event(
        "``kill -TERM`` the master",
        "A graceful stop: every worker finishes its request and saves.",
        LIB_AFTER_FOO,
        [Case(test_a_graceful_exit_saves, "term")],
    ),
    Event(
        "``kill -INT`` the master (Ctrl+C)",
        "A quick stop: every worker saves as it exits.",
        LIB_AFTER_FOO,
        [Case(test_a_graceful_exit_saves, "int")],
    ),
    Event(
        "``kill -QUIT`` the master",
        "A quick stop: every worker saves as it exits.",
        LIB_AFTER_FOO,
        [Case(test_a_graceful_exit_saves, "quit")],
    ),
    Event(
        "``kill -TTOU`` the master",
        "One worker fewer: the oldest worker saves as it exits.",
        LIB_AFTER_FOO,
        [Case(test_a_graceful_exit_saves, "ttou")],
    ),
    Event(
        "``--max-requests``",
        "A worker that served its quota saves as it exits; a new one replaces it.",
        LIB_AFTER_FOO,
        [Case(test_a_graceful_exit_saves, "max-requests")],
    ),
    Event(
        "Worker timeout (``--timeout``)",
        "The master aborts a stuck worker (SIGABRT); it saves as it exits, including the request"
        " that hung.",
        LIB_AFTER_FOO,
        [Case(test_a_worker_timeout_saves)],
    ),
    Event(
        "``kill -TERM`` or ``-HUP`` the master, a request in flight",
        "A worker told to stop (TERM, which HUP sends the old workers) saves at once what it ran so"
        " far, without waiting for the request in flight as a ``USR1`` snapshot does; as it exits"
        " after the request, it writes what the request ran since: two files. Here ``/foo`` ran"
        " before the stop, and the request in flight ran ``lib.bar()`` last.",
        LIB_AFTER_FOO_AND_BAR,
        [Case(test_term_saves_at_once_then_the_rest_as_the_worker_exits, "term"),
         Case(test_term_saves_at_once_then_the_rest_as_the_worker_exits, "hup")],
    ),
    Event(
        "``kill -TERM`` the master, a request in flight, then ``kill -KILL`` before it ends (a"
        " container engine's grace period)",
        "The file the worker wrote at once: what it ran before the stop. What the request runs"
        " after it is lost. Here ``/foo`` ran before the stop; the request in flight would have run"
        " ``lib.bar()`` last.",
        LIB_AFTER_FOO,
        [Case(test_term_saves_at_once_what_ran_before_it)],
    ),
    Event(
        "``--preload``",
        "The master measures the application's import and writes one file when it is ready; the"
        " workers' files hold only what ran in them, so nothing is counted twice. After ``/bar``"
        f" and another HUP: {LIB_AFTER_FOO_AND_BAR.cover}.",
        LIB_AFTER_FOO,
        [Case(test_preload_counts_the_import_once)],
    ),
    Event(
        "``kill -USR1`` the master",
        "A snapshot: every worker that measured something since its last file writes a new one"
        f" within {SNAPSHOT_WITHIN} seconds, busy or idle, and keeps running. Log files are"
        " reopened as usual.",
        LIB_AFTER_FOO,
        [Case(test_usr1_writes_a_snapshot_without_restarting),
         Case(test_usr1_still_reopens_the_log_files)],
    ),
    SIGKILL,
    Event(
        "``kill -KILL`` a worker, with ``GUNICORN_COVERAGE_SNAPSHOT_SECONDS``",
        "Only what ran since the worker's last periodic snapshot is lost. Here ``/foo`` ran"
        " before the snapshot and ``/bar`` after it.",
        LIB_AFTER_FOO,
        [Case(test_periodic_snapshots_bound_what_sigkill_loses)],
    ),
    Event(
        "``kill -KILL`` a worker: what the master logs",
        "The master, as it reaps the worker, logs since when its data is lost:"
        " ``coverage: worker <pid> ended before its last save: what it measured since it started"
        " at <time> is lost``, or ``... since its last save at <time> ...`` once it wrote a file."
        " A worker that saved as it exited (the graceful exits and the worker timeout above) gets"
        " no such line."
        " Here a worker served ``/foo`` and was killed; the next one served ``/foo``, wrote a"
        " snapshot and was killed.",
        LIB_AFTER_FOO,
        [Case(test_the_master_says_since_when_a_killed_worker_lost_its_data)],
    ),
    Event(
        "Out-of-memory kill",
        "As ``kill -KILL``: the kernel's OOM killer sends SIGKILL. Periodic snapshots bound the"
        " loss the same way.",
        SIGKILL.report,
        SIGKILL.proven_by,
    ),
]


def lib_py(report):
    """The lib.py cell: "75%, line 4 missing", "50%, lines 2, 4 missing" or "100%"."""
    if not report.missing:
        return report.cover
    several = any(sign in report.missing for sign in ",-")
    return f"{report.cover}, {'lines' if several else 'line'} {report.missing} missing"


def docs_table():
    """The table of docs/saved-when.rst."""
    return list_table(
        ["Event", "What is saved", "lib.py", "Proven by"],
        [
            [row.event, row.saved, lib_py(row.report),
             ", ".join(f"``{case}``" for case in row.proven_by)]
            for row in EVENTS
        ],
        widths=[20, 50, 12, 18],
        title="What is saved when",
    )


def cases(test):
    """The cases pytest collects of a test function: one per parameter."""
    parametrized = [mark for mark in getattr(test, "pytestmark", []) if mark.name == "parametrize"]
    if not parametrized:
        return [Case(test)]
    [mark] = parametrized  # One parameter, of plain strings: pytest's ids are the strings.
    return [Case(test, param) for param in mark.args[1]]


def test_every_test_here_proves_a_row():
    tests = [
        function for name, function in globals().items()
        if name.startswith("test_") and function is not test_every_test_here_proves_a_row
    ]
    collected = {case for test in tests for case in cases(test)}
    named = {case for row in EVENTS for case in row.proven_by}
    assert all(row.proven_by for row in EVENTS), "a row of the table names no test"
    assert named <= collected, f"the table names no such test: {sorted(map(str, named - collected))}"
    assert collected <= named, f"the table has no row for {sorted(map(str, collected - named))}"
