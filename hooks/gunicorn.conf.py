"""Measure the code coverage of an application that gunicorn serves.

Use this file as it is::

    gunicorn -c hooks/gunicorn.conf.py myapp:app

or copy it into your project root as ``gunicorn.conf.py``, which gunicorn
loads by default. coverage.py reads its settings from your .coveragerc (or
setup.cfg, tox.ini, pyproject.toml) as usual; unless they name a core, the
file picks the cheapest one that measures what they ask for (see _core).

Every worker measures itself and writes its own data file,
``.coverage.<host>.pid<pid>.X<random>x``, when it exits (``kill -HUP``
restarts the workers, TERM, INT and QUIT stop them) and when the master gets
``kill -USR1`` (a snapshot; the worker keeps running). ``coverage combine``
merges the files. Each file holds what ran since that process's previous file,
so nothing is counted twice and nothing is lost when ``coverage combine``
removes files while the server runs.

Environment variables, read when gunicorn starts:

GUNICORN_COVERAGE=off
    Do nothing: deploy the same configuration where nobody measures.
GUNICORN_COVERAGE_SNAPSHOT_SECONDS=<n>
    Also write a snapshot every <n> seconds, which bounds what a worker
    killed with SIGKILL (or by the out-of-memory killer) can lose.
"""

import contextlib
import os
import secrets
import select
import signal
import socket
import sys
import threading

try:
    import coverage
except ImportError:  # The server still runs; when_ready says why nothing is measured.
    coverage = None


def _read_switch():
    value = os.environ.get("GUNICORN_COVERAGE", "on")
    if value not in ("on", "off"):
        raise SystemExit(f"GUNICORN_COVERAGE={value!r} is not valid: use 'on' or 'off'.")
    return value == "on" and coverage is not None


def _read_snapshot_seconds():
    value = os.environ.get("GUNICORN_COVERAGE_SNAPSHOT_SECONDS", "")
    if not value:
        return None  # No periodic snapshots: wait for USR1 only.
    try:
        seconds = float(value)
    except ValueError:
        seconds = 0
    if not seconds > 0:
        raise SystemExit(
            f"GUNICORN_COVERAGE_SNAPSHOT_SECONDS={value!r} is not valid: "
            "use a number of seconds greater than 0, or leave it unset."
        )
    return seconds


MEASURE = _read_switch()
SNAPSHOT_SECONDS = _read_snapshot_seconds()


# The Coverage object that measures this process. gunicorn loads this file in
# the master, so it first measures the master; each worker replaces it with
# its own in post_fork.
_cov = None


def _start_measuring():
    """Start a Coverage object that collects in memory: _save writes the files."""
    try:
        cov = coverage.Coverage(data_file=None)
    except coverage.CoverageException as exc:  # A broken .coveragerc, for example.
        raise SystemExit(f"coverage: {exc}") from None
    # Measure the application, not this file; and an idle worker that measured
    # nothing is no mistake worth a warning.
    cov.set_option("run:omit", [*cov.get_option("run:omit"), __file__])
    cov.set_option(
        "run:disable_warnings", [*cov.get_option("run:disable_warnings"), "no-data-collected"]
    )
    cov.set_option("run:core", _core(cov))
    cov.start()
    return cov


def _core(cov):
    """The core to measure with: sysmon wherever it measures correctly.

    coverage's cores record the same lines at very different costs. Before
    Python 3.14 coverage defaults to ctrace, a trace function that Python calls
    for every function and line the server runs, measured or not. sysmon
    (Python 3.12+, sys.monitoring) stops hearing about code once it has seen it,
    so a busy server hardly slows down (docs/overhead.rst has the figures).
    sysmon cannot measure branches before Python 3.14, follow greenlets, record
    contexts that change while the process runs, or run file tracer plugins:
    then coverage chooses, as it would without this file. A core the user chose
    is used as it is.
    """
    chosen = cov.get_option("run:core")  # [run] core, or COVERAGE_CORE, which wins.
    if chosen:
        return chosen
    needs_another_core = (
        (cov.get_option("run:branch") and sys.version_info < (3, 14))
        or {"gevent", "eventlet", "greenlet"} & set(cov.get_option("run:concurrency"))
        or cov.get_option("run:dynamic_context") not in (None, "none")
        or os.environ.get("GUNICORN_COVERAGE_CONTEXT_HEADER")  # Per-request contexts.
        or cov.get_option("run:plugins")
    )
    if hasattr(sys, "monitoring") and not needs_another_core:
        return "sysmon"
    return None  # coverage's default: ctrace before Python 3.14.


# coverage's names for its cores, by the class that measures.
_CORE_NAMES = {"CTracer": "ctrace", "PyTracer": "pytrace", "SysMonitor": "sysmon"}


def _save(log):
    """Write what _cov measured since the last save to a new data file.

    A new file each time: a Coverage object that writes again into a file that
    ``coverage combine`` already removed writes lines that no combine reads.
    """
    data = _cov.get_data()
    if not data.measured_files():
        return
    # coverage's own name pattern, which ``coverage combine`` looks for. (With
    # suffix=True coverage would also put a content hash in the name, but
    # update() does not compute it, and combine would skip the files as copies.)
    suffix = f"{socket.gethostname().replace('.', '_')}.pid{os.getpid()}.X{secrets.token_hex(3)}x"
    new_file = coverage.CoverageData(basename=_cov.get_option("run:data_file"), suffix=suffix)
    try:
        new_file.update(data)
        new_file.write()
    except Exception as exc:  # An unwritable directory, a full disk, ...
        log.error(
            "coverage: could not write %s: %s (the data is kept for the next save)",
            os.path.relpath(new_file.data_filename()), exc,
        )
        return
    data.erase()  # Written: start the next file from nothing.
    if hasattr(sys, "monitoring"):
        # The sysmon core asks Python to stop reporting a line once it has run:
        # ask for every line again, so that the next file holds what runs from
        # now on, whatever ran before, as with the other cores.
        sys.monitoring.restart_events()
    log.info("coverage: wrote %s", os.path.relpath(new_file.data_filename()))


# Measure the master from the moment gunicorn loads this file: with --preload
# the master imports the application before any worker exists.
if MEASURE:
    _cov = _start_measuring()


def when_ready(server):
    """Master, once, after the app is loaded (with --preload) and before the
    first worker: save what the master ran, then stop measuring it."""
    if coverage is None:
        server.log.warning(
            "coverage: measurement is off: coverage is not installed here "
            "(pip install coverage)"
        )
    _stop_measuring_master(server)


def on_reload(server):
    """Master, on HUP: gunicorn has loaded this file again, which started a new
    master measurement. Stop it too, before the new workers fork."""
    _stop_measuring_master(server)


def _stop_measuring_master(server):
    if _cov is not None:
        _cov.stop()
        if server.cfg.preload_app:  # Otherwise the master ran no application code.
            _save(server.log)


def post_fork(server, worker):
    """Worker, right after the fork and before it imports the application:
    the first hook of the original recipe. Measure this worker on its own."""
    global _cov
    if MEASURE:
        _cov = _start_measuring()
        core = dict(_cov.sys_info())["core"]
        server.log.debug("coverage: measuring with the %s core", _CORE_NAMES.get(core, core))


# Snapshots. The signal handler only writes a byte to a pipe; a thread does the
# saving, because coverage and SQLite must not run inside a signal handler.
# A save reads the data that requests are writing, so it waits until no request
# runs in this worker, and requests that arrive meanwhile wait for the save.
_wakeup_read, _wakeup_write = None, None
_gate = None  # A threading.Condition guarding the two counters below.
_requests_running = 0
_saving = False


def post_worker_init(worker):
    """Worker, after gunicorn installed its signal handlers and loaded the app:
    make USR1 also request a snapshot, and start the thread that writes them."""
    global _wakeup_read, _wakeup_write, _gate
    if not MEASURE:
        return
    _gate = threading.Condition()
    _wakeup_read, _wakeup_write = os.pipe()
    os.set_blocking(_wakeup_write, False)
    gunicorn_usr1 = signal.getsignal(signal.SIGUSR1)

    def usr1(signum, frame):
        gunicorn_usr1(signum, frame)  # Reopen the log files, as gunicorn does.
        with contextlib.suppress(BlockingIOError):  # A snapshot is pending anyway.
            os.write(_wakeup_write, b"!")

    signal.signal(signal.SIGUSR1, usr1)
    threading.Thread(
        target=_write_snapshots, args=(worker.log,), name="coverage-snapshots", daemon=True
    ).start()


def _write_snapshots(log):
    while True:
        woken, _, _ = select.select([_wakeup_read], [], [], SNAPSHOT_SECONDS)
        if woken:
            os.read(_wakeup_read, 512)
        with _between_requests(wait_for_requests=True):
            _save(log)


@contextlib.contextmanager
def _between_requests(wait_for_requests):
    global _saving
    with _gate:
        _gate.wait_for(lambda: not _saving)  # One save at a time.
        _saving = True
        if wait_for_requests:
            _gate.wait_for(lambda: _requests_running == 0)
    try:
        yield
    finally:
        with _gate:
            _saving = False
            _gate.notify_all()


def pre_request(worker, req):
    """Worker, before each request: wait while a snapshot is being written."""
    global _requests_running
    if _gate is None:
        return
    with _gate:
        _gate.wait_for(lambda: not _saving)
        _requests_running += 1


def post_request(worker, req, environ, resp):
    """Worker, after each request: let a waiting snapshot go ahead."""
    global _requests_running
    if _gate is None:
        return
    with _gate:
        _requests_running -= 1
        _gate.notify_all()


def worker_exit(server, worker):
    """The second hook of the original recipe: stop measuring and save.

    gunicorn also calls it in the master for a worker that is already gone;
    that worker's measurement is not in this process, so there is nothing to do.
    """
    if _cov is None or worker.pid != os.getpid():
        return
    _cov.stop()
    if _gate is None:  # The worker died before post_worker_init: no snapshots ran.
        _save(worker.log)
        return
    # Nothing is measured any more, so there is no request to wait for.
    with _between_requests(wait_for_requests=False):
        _save(worker.log)
