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
GUNICORN_COVERAGE_CONTEXT_HEADER=<header name>
    Record what each request runs under the value of this request header
    (for example ``X-Coverage-Context: test_app.py::test_foo``) as coverage's
    dynamic context, so that ``coverage html --show-contexts`` shows which
    test ran each line. Needs sync workers (gunicorn's default).
"""

import asyncio
import contextlib
import os
import re
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
    return value == "on"


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


def _read_context_header():
    value = os.environ.get("GUNICORN_COVERAGE_CONTEXT_HEADER", "")
    if not value:
        return None  # Every request counts under coverage's default context.
    # Letters, digits and "-" only: gunicorn drops headers with "_" in their names.
    if not re.fullmatch(r"[A-Za-z0-9-]+", value):
        raise SystemExit(
            f"GUNICORN_COVERAGE_CONTEXT_HEADER={value!r} is not valid: use a header name "
            "of letters, digits and '-', such as X-Coverage-Context, or leave it unset."
        )
    return value


ENABLED = _read_switch()
MEASURE = ENABLED and coverage is not None
SNAPSHOT_SECONDS = _read_snapshot_seconds()
CONTEXT_HEADER = _read_context_header()


# The Coverage object that measures this process, and where its data goes
# (coverage's data_file setting). gunicorn loads this file in the master, so
# they first measure the master; each worker starts its own in post_fork.
_cov = None
_data_file = None


def _start_measuring():
    """Start a Coverage object that collects in memory: _save writes the files."""
    global _cov, _data_file
    try:
        _cov = coverage.Coverage(data_file=None)
    except coverage.CoverageException as exc:  # A broken .coveragerc, for example.
        problem = " ".join(str(exc).split())  # configparser's messages span lines.
        raise SystemExit(
            f"coverage: {problem} (fix it, or set GUNICORN_COVERAGE=off to serve unmeasured)"
        ) from None
    # Coverage.start() creates the data file's directory even when it collects
    # in memory; _save does that instead, so that a directory that cannot be
    # written to is reported at each save rather than stopping the server.
    _data_file = _cov.get_option("run:data_file")
    _cov.set_option("run:data_file", os.path.basename(_data_file))
    # Measure the application, not this file; and an idle worker that measured
    # nothing is no mistake worth a warning.
    _cov.set_option("run:omit", [*_cov.get_option("run:omit"), __file__])
    _cov.set_option(
        "run:disable_warnings", [*_cov.get_option("run:disable_warnings"), "no-data-collected"]
    )
    _cov.set_option("run:core", _core(_cov))
    _cov.start()


def _core(cov):
    """The core to measure with: sysmon wherever it measures correctly, else ctrace.

    ctrace, coverage's default before Python 3.14, is a trace function that
    Python calls for every line the server runs, measured or not. sysmon
    (sys.monitoring, Python 3.12 and newer) stops hearing about code once it
    has seen it, so a busy server hardly slows down (docs/overhead.rst). But
    sysmon cannot measure branches before Python 3.14, follow greenlets, record
    contexts that change while the process runs, or run file tracer plugins.
    There, ctrace, by name: on Python 3.14 and newer coverage's own default is
    sysmon, even with a plugin, which then measures nothing. A core the user
    chose is used as it is.
    """
    chosen = cov.get_option("run:core")  # [run] core, or COVERAGE_CORE, which wins.
    if CONTEXT_HEADER:  # Per-request contexts need a core that records them.
        return _core_for_contexts(chosen)
    if chosen:
        return chosen
    sysmon_cannot = (
        (cov.get_option("run:branch") and sys.version_info < (3, 14))
        or {"gevent", "eventlet", "greenlet"} & set(cov.get_option("run:concurrency"))
        or cov.get_option("run:dynamic_context") not in (None, "none")
        or cov.get_option("run:plugins")
    )
    return "sysmon" if hasattr(sys, "monitoring") and not sysmon_cannot else "ctrace"


def _core_for_contexts(configured):
    """The core that measures when requests switch contexts: the configured one
    (COVERAGE_CORE or [run] core), unless it cannot record dynamic contexts.

    coverage's sysmon core (Python 3.12 and newer) records a line only the
    first time it runs, so it cannot tell which requests ran it.
    """
    return "ctrace" if configured in (None, "sysmon") else configured


# coverage's names for its cores, by the class that measures.
_CORE_NAMES = {"CTracer": "ctrace", "PyTracer": "pytrace", "SysMonitor": "sysmon"}


def _save(log, last=False):
    """Write what _cov measured since the last save to a new data file.

    A new file each time: a Coverage object that writes again into a file that
    ``coverage combine`` already removed writes lines that no combine reads.
    """
    data = _cov.get_data()
    # Nothing ran since the last save? (get_data() also lists the unexecuted
    # files of [run] source, without lines: no reason for a file.)
    if not any(data.lines(path) for path in data.measured_files()):
        return
    # coverage's own name pattern, which ``coverage combine`` looks for. (With
    # suffix=True coverage would also put a content hash in the name, but
    # update() does not compute it, and combine would skip the files as copies.)
    suffix = f"{socket.gethostname().replace('.', '_')}.pid{os.getpid()}.X{secrets.token_hex(3)}x"
    path = f"{_data_file}.{suffix}"
    # Written under a name that ``coverage combine`` does not look for, then
    # renamed: a combine never sees a half-written file (it would read it as
    # empty, and delete it).
    new_file = coverage.CoverageData(basename=f"{_data_file}-being-written", suffix=suffix)
    try:
        os.makedirs(os.path.dirname(_data_file) or ".", exist_ok=True)
        new_file.update(data)
        new_file.write()
        os.rename(new_file.data_filename(), path)
    except Exception as exc:  # An unwritable directory, a full disk, ...
        with contextlib.suppress(OSError):
            os.remove(new_file.data_filename())
        log.error(
            "coverage: could not write %s: %s (%s)",
            os.path.relpath(path), exc,
            "this worker's data since its last save is lost" if last
            else "the data is kept for the next save",
        )
        return
    data.erase()  # Written: start the next file from nothing.
    if hasattr(sys, "monitoring"):
        # The sysmon core asks Python to stop reporting a line once it has run:
        # ask for every line again, so that the next file holds what runs from
        # now on, whatever ran before, as with the other cores.
        sys.monitoring.restart_events()
    log.info("coverage: wrote %s", os.path.relpath(path))


# Measure the master from the moment gunicorn loads this file: with --preload
# the master imports the application before any worker exists.
_reload_problem = None
if MEASURE:
    try:
        _start_measuring()
    except SystemExit as refusal:
        # gunicorn already handles HUP in this process: this is a reload, with
        # settings broken since the server started. Keep serving, unmeasured,
        # and say why in on_reload; the old workers still save as they exit.
        if not callable(signal.getsignal(signal.SIGHUP)):
            raise
        MEASURE, _reload_problem = False, str(refusal)


def on_starting(server):
    """Master, once, before it listens or starts a worker: with
    GUNICORN_COVERAGE_CONTEXT_HEADER, refuse workers other than sync ones.

    coverage has one current context per process, so a worker that serves
    several requests at once (threads, gevent, asyncio) would count their lines
    under each other's contexts. Even with one thread, a gthread worker is no
    good: each context switch writes the lines so far into coverage's in-memory
    data from the request's thread, and coverage 7.17 loses that data when the
    thread has ended before the worker's last save.
    """
    if not (MEASURE and CONTEXT_HEADER):
        return
    from gunicorn.workers.sync import SyncWorker

    if not issubclass(server.worker_class, SyncWorker):
        chosen = f"--worker-class {server.cfg.worker_class_str}"
        if server.cfg.threads > 1:
            chosen += f" --threads {server.cfg.threads}"
        server.halt(
            reason="GUNICORN_COVERAGE_CONTEXT_HEADER needs sync workers, which serve "
            f"one request at a time, not {chosen}",
            exit_status=1,
        )
    server.log.info("coverage: recording each request under its %s header", CONTEXT_HEADER)
    # What COVERAGE_CORE or [run] core asked for; _start_measuring replaced it.
    if coverage.Coverage(data_file=None).get_option("run:core") == "sysmon":
        server.log.warning("coverage: core=sysmon cannot record contexts: measuring with ctrace")


def when_ready(server):
    """Master, once, after the app is loaded (with --preload) and before the
    first worker: save what the master ran, then stop measuring it."""
    if ENABLED and coverage is None:
        server.log.warning(
            "coverage: not measuring: the coverage package is not installed here "
            "(pip install coverage, or set GUNICORN_COVERAGE=off)"
        )
    _stop_measuring_master(server)


def on_reload(server):
    """Master, on HUP: gunicorn has loaded this file again, which started a new
    master measurement. Stop it too, before the new workers fork."""
    if _reload_problem:
        server.log.error("%s; the new workers serve unmeasured", _reload_problem)
    _stop_measuring_master(server)


def _stop_measuring_master(server):
    if _cov is not None:
        _cov.stop()
        if server.cfg.preload_app:  # Otherwise the master ran no application code.
            _save(server.log)


def post_fork(server, worker):
    """Worker, right after the fork and before it imports the application:
    the first hook of the original recipe. Measure this worker on its own."""
    if MEASURE:
        _start_measuring()
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
    _exit_through_worker_exit_on_sigterm()
    worker.log.info("coverage: measuring this worker")


def _exit_through_worker_exit_on_sigterm():
    """uvicorn's worker class leaves SIGTERM to the default action and raises
    SIGTERM again after its graceful shutdown: the process would die before
    gunicorn calls worker_exit, and its measurement with it. Where SIGTERM has
    no handler, end the process with sys.exit, which runs worker_exit. (uvicorn
    swaps in its own handler while it serves and restores this one for its
    final SIGTERM, so requests in flight still finish first.)"""
    if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
        signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))


def _write_snapshots(log):
    """The snapshot thread: save on each USR1, and every SNAPSHOT_SECONDS if set."""
    while True:
        woken, _, _ = select.select([_wakeup_read], [], [], SNAPSHOT_SECONDS)
        if woken:
            os.read(_wakeup_read, 512)
        _save_safely(log, wait_for_requests=True)


def _save_safely(log, wait_for_requests, last=False):
    """_save, one save at a time, and (if asked) only while no request runs."""
    global _saving
    with _gate:
        _gate.wait_for(lambda: not _saving)
        _saving = True
        if wait_for_requests:
            _gate.wait_for(lambda: _requests_running == 0)
    try:
        _save(log, last)
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
        if _saving:  # Rarely: only while a snapshot is being written.
            # Except on an event loop with requests in flight (gunicorn's asgi
            # worker calls this hook there): they need the loop to finish, and
            # the snapshot waits for them.
            _gate.wait_for(lambda: not _saving or (_requests_running and _on_event_loop()))
        _requests_running += 1


def _on_event_loop():
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def post_request(worker, req, environ, resp):
    """Worker, after each request: let a waiting snapshot go ahead."""
    global _requests_running
    if _gate is None:
        return
    with _gate:
        _requests_running -= 1
        if _saving:  # A snapshot waits for the requests in flight to end.
            _gate.notify_all()


# Per-request contexts, only with GUNICORN_COVERAGE_CONTEXT_HEADER.
def _switching_contexts(count_request, uncount_request):
    """The pre_request and post_request hooks above, also switching coverage's
    dynamic context: to the one the request's header names while it runs, then
    back to the default one. The switches happen while the request is counted,
    so never while a snapshot is written."""

    def pre_request(worker, req):
        count_request(worker, req)
        _cov.switch_context(_context_of(req, worker.log))

    def post_request(worker, req, environ, resp):
        try:
            _cov.switch_context("")
        finally:
            uncount_request(worker, req, environ, resp)

    return pre_request, post_request


# Decided once, here: without the variable, gunicorn calls the two hooks above
# as they are, and a request costs nothing more.
if MEASURE and CONTEXT_HEADER:
    pre_request, post_request = _switching_contexts(pre_request, post_request)


# A context is a label, such as a test's name: longer values are ignored.
MAX_CONTEXT_LENGTH = 200


def _context_of(req, log):
    """The header's value, or "" (coverage's default context) if the request has
    no such header, or one that is no short line of printable ASCII."""
    values = [value for name, value in req.headers if name == CONTEXT_HEADER.upper()]
    if not values:
        return ""
    if len(values) > 1:
        problem = "it is sent more than once"
    elif len(values[0]) > MAX_CONTEXT_LENGTH:
        problem = f"it is longer than {MAX_CONTEXT_LENGTH} characters"
    elif not re.fullmatch(r"[ -~]*", values[0]):
        problem = "it has characters other than printable ASCII"
    else:
        return values[0]
    log.warning(
        "coverage: ignored the %s header of %s %s: %s; its lines count under the default context",
        CONTEXT_HEADER, req.method, req.path, problem,
    )
    return ""


def worker_exit(server, worker):
    """The second hook of the original recipe: stop measuring and save.

    gunicorn also calls it in the master for a worker that is already gone;
    that worker's measurement is not in this process, so there is nothing to do.
    """
    if _cov is None or worker.pid != os.getpid():
        return
    _cov.stop()
    if _gate is None:  # The worker died before post_worker_init: no snapshot runs.
        _save(worker.log, last=True)
    else:  # Nothing is measured any more: no need to wait for requests.
        _save_safely(worker.log, wait_for_requests=False, last=True)
