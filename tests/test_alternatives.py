"""The hook file, `coverage run`, and COVERAGE_PROCESS_START, side by side.

docs/alternatives.rst shows what each way of measuring gunicorn gives on the
same example and the same events, in a table that cog writes from
expected.ALTERNATIVES. Every cell of that table is observed here: each test runs
one approach through one event on a real gunicorn server (real curl, real
signals, the real coverage command line) and compares what it saw with that
event's rows in that approach's column, failing with the difference. The table
has no other cells: the tests are parametrized with its events and its
approaches (PerApproach).
"""

import os
import re
import signal
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import coverage
import pytest

from expected import ALTERNATIVES, APP, APPROACH_COLUMNS, PerApproach
from helpers import ROOT, process_exists, wait_until


@dataclass
class Approach:
    hook_file: bool = False
    run_with: tuple = ()  # Python options before `-m gunicorn`.
    coveragerc: str | None = None  # A docs/examples/alternatives file used as .coveragerc.
    process_start: bool = False  # Set COVERAGE_PROCESS_START to .coveragerc.


COVERAGE_RUN = ("-m", "coverage", "run")
APPROACHES = PerApproach(
    hook_file=Approach(hook_file=True),
    coverage_run=Approach(run_with=COVERAGE_RUN),
    patch_fork=Approach(run_with=COVERAGE_RUN, coveragerc="patch-fork.coveragerc"),
    process_start=Approach(process_start=True),
)


# --- the events, and what each one observes ----------------------------------
# Each returns the cells of its rows of expected.ALTERNATIVES, in order.

def after_term(server):
    master = server.pid
    assert server.curl("/foo") == "42"
    server.stop(signal.SIGTERM)
    return [
        lib_py(server), data_files(server, master), master_file(server, master),
        warnings_printed(server),
    ]


def after_hup(server):
    old = server.workers()
    assert server.curl("/foo") == "42"
    server.send(signal.SIGHUP)
    wait_until(lambda: not any(process_exists(p) for p in old), 15, "the old workers to exit")
    return [lib_py(server)]


def after_usr1(server):
    assert server.curl("/foo") == "42"
    usr1(server, served_by(server, "/foo"))
    return [lib_py(server)]


def after_sigkill(server):
    assert server.curl("/foo") == "42"
    kill(server, served_by(server, "/foo"))
    server.stop(signal.SIGTERM)
    return [lib_py(server)]


def after_usr1_and_sigkill(server):
    assert server.curl("/foo") == "42"
    worker = served_by(server, "/foo")
    usr1(server, worker)
    kill(server, worker)
    server.stop(signal.SIGTERM)
    return [lib_py(server)]


def served_by(server, path):
    """The pid of the worker that served `path`, from the access log."""
    access_log = server.directory / "access.log"
    served = wait_until(
        lambda: re.search(rf"^<(\d+)> {path}$", access_log.read_text(), re.M),
        10, f"the access log line of {path}",
    )
    return int(served[1])


def usr1(server, worker):
    """USR1 to the master, which sends it on to the workers; then wait for
    the file of `worker`, or long enough to be sure that it writes none."""
    server.send(signal.SIGUSR1)
    wait_until(lambda: "Handling signal: usr1" in server.log(), 10, "the master to handle USR1")
    # A worker that snapshots writes its file within milliseconds.
    try:
        wait_until(lambda: list(server.directory.glob(f".coverage.*.pid{worker}.*")), 3,
                   f"a data file from worker {worker}")
    except AssertionError:
        pass


def kill(server, worker):
    """SIGKILL `worker`, and wait until gunicorn has replaced it."""
    server.workers()  # Remember both workers, so that stop() waits for them.
    os.kill(worker, signal.SIGKILL)
    wait_until(lambda: not process_exists(worker), 10, "the killed worker to be gone")
    server.wait_for_workers(2, timeout=30)


def after_preload(server):
    master = server.pid
    assert server.curl("/foo") == "42"
    server.stop(signal.SIGTERM)
    return [lib_py(server), master_file(server, master)]


def after_gthread(server):
    assert server.curl("/foo") == "42"
    server.stop(signal.SIGTERM)
    return [lib_py(server)]


# The access log names the worker that served each request: "<pid> /foo".
ACCESS_LOG = ("--access-logfile", "access.log", "--access-logformat", "%(p)s %(U)s")


@dataclass
class Event:
    observe: object  # One of the functions above; it returns the cells of the event's rows.
    gunicorn_args: tuple = ()


EVENTS = {
    "term": Event(after_term),
    "hup": Event(after_hup),
    "usr1": Event(after_usr1, ACCESS_LOG),
    "sigkill": Event(after_sigkill, ACCESS_LOG),
    "usr1-sigkill": Event(after_usr1_and_sigkill, ACCESS_LOG),
    "preload": Event(after_preload, ("--preload",)),
    "gthread": Event(after_gthread, ("--worker-class", "gthread", "--threads", "4")),
}


@pytest.mark.parametrize("event, rows", ALTERNATIVES.items(), ids=list(ALTERNATIVES))
@pytest.mark.parametrize("approach", PerApproach._fields)
def test_what_each_approach_measures(approach, event, rows, launch, example):
    event = EVENTS[event]
    server = start_approach(launch, example, getattr(APPROACHES, approach), *event.gunicorn_args)
    observed = event.observe(server)
    expected = [getattr(cells, approach) for cells in rows.values()]
    column = getattr(APPROACH_COLUMNS, approach)
    assert observed == expected, f"docs/alternatives.rst, column {column!r}:\n" + "\n".join(
        f"  row {label!r}: the table shows {cell!r}, the server gave {got!r}"
        for label, cell, got in zip(rows, expected, observed) if cell != got
    )


def test_coverage_run_save_signal_saves_nothing(launch, example):
    """`coverage run --save-signal=USR1` is no snapshot for gunicorn: gunicorn
    installs its own USR1 handler in the master, over coverage's."""
    (example / "gunicorn.conf.py").unlink()  # Or gunicorn loads it by default.
    server = launch(
        "--workers", "2", *ACCESS_LOG, APP, python=(sys.executable, *COVERAGE_RUN, "--save-signal=USR1")
    )
    server.measuring = False
    server.wait_for_workers(2)
    assert server.curl("/foo") == "42"
    usr1(server, served_by(server, "/foo"))
    assert server.data_files() == []
    server.stop(signal.SIGTERM)
    assert lib_py(server) == "75%"  # It measured: only USR1 did nothing.


def test_process_start_measures_every_python_process(example):
    """With COVERAGE_PROCESS_START set, any Python started, not only gunicorn,
    writes a data file: coverage's .pth file starts coverage in all of them."""
    env = {**os.environ, "COVERAGE_PROCESS_START": str(example / ".coveragerc")}
    subprocess.run(
        [sys.executable, "-c", "from example_app import lib; lib.bar()"],
        cwd=example, env=env, check=True, timeout=30,
    )
    assert len(list(example.glob(".coverage.*"))) == 1
    report = subprocess.run(
        [sys.executable, "-m", "coverage", "report", "example_app/lib.py"],
        cwd=example, capture_output=True, text=True, check=True, timeout=30,
    ).stdout
    assert "example_app/lib.py       4      1    75%" in report


def start_approach(launch, example, approach, *gunicorn_args):
    """gunicorn on the example, measured the `approach`'s way; its two workers booted."""
    env = {}
    if approach.coveragerc:
        (example / ".coveragerc").write_text(
            (ROOT / "docs" / "examples" / "alternatives" / approach.coveragerc).read_text()
        )
    if approach.process_start:
        env["COVERAGE_PROCESS_START"] = str(example / ".coveragerc")
    if approach.hook_file:
        config = ["-c", "gunicorn.conf.py"]
    else:
        config = []
        (example / "gunicorn.conf.py").unlink()  # Or gunicorn loads it by default.
    server = launch(
        *config, "--workers", "2", *gunicorn_args, APP,
        env=env, python=(sys.executable, *approach.run_with),
    )
    server.measuring = approach.hook_file  # Only the hook file says so as a worker boots.
    server.wait_for_workers(2)
    return server


# --- reading the results -----------------------------------------------------

def lib_py(server):
    """lib.py's coverage from every data file so far, as the table shows it."""
    if not server.data_files():
        return "no data file"
    statements, _, percent, _ = server.report()
    assert statements == 4
    return percent


def data_files(server, master_pid):
    """How many data files, and whose: "3: 1 per worker, 1 from the master"."""
    pids = Counter(int(re.search(r"\.pid(\d+)\.", name)[1]) for name in server.data_files())
    from_master = pids.pop(master_pid, 0)
    per_worker = set(pids.values())
    assert len(pids) == 2 and len(per_worker) == 1, f"files per process: {pids}"
    text = f"{sum(pids.values()) + from_master}: {per_worker.pop()} per worker"
    return text + (f", {from_master} from the master" if from_master else "")


def master_file(server, master_pid):
    """What the master wrote: no file, a file with no lines run, or lib.py lines."""
    files = [f for f in server.directory.glob(f".coverage.*.pid{master_pid}.*")]
    if not files:
        return "none"
    assert len(files) == 1, files
    data = coverage.CoverageData(str(files[0]))
    data.read()
    lines = {Path(f).name: sorted(data.lines(f) or []) for f in data.measured_files()}
    if not any(lines.values()):
        return "no lines run"
    return "lib.py lines " + ", ".join(map(str, lines["lib.py"]))


def warnings_printed(server):
    """Python warnings in the server's output, counted by message."""
    found = Counter(
        match[1] for match in re.finditer(r"^\S+:\d+: \w*Warning: (.*?)(?: \([\w-]+\);.*)?$",
                                          server.log(), re.M)
    )
    if not found:
        return "none"
    return "; ".join(f"{count} × {message}" for message, count in sorted(found.items()))
