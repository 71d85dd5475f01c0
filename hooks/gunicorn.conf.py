"""Measure the code coverage of an application that gunicorn serves.

Use this file as your gunicorn configuration (``gunicorn -c
hooks/gunicorn.conf.py myapp:app``, or copied into your project root as
``gunicorn.conf.py``, which gunicorn loads by default). Or keep a configuration
of your own: copy this file next to it as ``gunicorn_coverage.py``, and end
yours with ``import gunicorn_coverage`` and
``gunicorn_coverage.add_to(globals())`` (docs/own-config.rst).

Every worker measures itself and writes its own data file,
``.coverage.<host>.pid<pid>.X<random>x``, when it exits (``kill -HUP``
restarts the workers, TERM, INT and QUIT stop them) and when the master gets
``kill -USR1`` (a snapshot; the worker keeps running). A worker told to stop
(TERM) also saves at once, before the requests it still serves end: a
container engine's SIGKILL may come first. ``coverage combine`` merges the
files. coverage.py reads its settings from .coveragerc as usual.

Environment variables, read when gunicorn loads this file (docs/reference.rst):
GUNICORN_COVERAGE=off: do nothing, so the same configuration deploys unmeasured.
GUNICORN_COVERAGE_SNAPSHOT_SECONDS=<n>: also write a snapshot every <n> seconds.
GUNICORN_COVERAGE_CONTEXT_HEADER=<header name>: record what each request runs
under the value of this request header as coverage's dynamic context (the
test's name, say). Needs sync workers (gunicorn's default).

The hooks come first, in the order gunicorn calls them; each does the core's
work, then calls the optional parts that join it. docs/reference.rst says in
which process and at which moment gunicorn calls each one.
"""

import asyncio
import contextlib
import inspect
import mmap
import os
import pwd
import re
import secrets
import select
import signal
import socket
import stat
import struct
import sys
import threading
import time

from gunicorn.config import KNOWN_SETTINGS
from gunicorn.util import set_owner_process

# The one switch. With "off", nothing below reads anything or changes anything.
_switch = os.environ.get("GUNICORN_COVERAGE", "on")
if _switch not in ("on", "off"):
    raise SystemExit(f"GUNICORN_COVERAGE={_switch!r} is not valid: use 'on' or 'off'.")
MEASURE = _switch == "on"

# Why no process measures although GUNICORN_COVERAGE is on, for the log, or
# None: no coverage package, broken settings met by a reload, or a data
# directory the workers cannot write.
_unmeasured_because = None
if MEASURE:
    try:
        import coverage
    except ImportError:
        coverage = None
        _unmeasured_because = (
            "the coverage package is not installed here "
            "(pip install coverage, or set GUNICORN_COVERAGE=off)"
        )

# The Coverage object that measures this process, or None. The last lines of
# this file start one in the master, which when_ready stops; each worker
# starts its own in post_fork.
_cov = None


# ===========================================================================
# The hooks gunicorn calls.
# ===========================================================================


def on_starting(server):
    """Say if the configuration replaced a hook that add_to gave it; then the
    checks that must stop gunicorn, or warn, before any worker exists."""
    _check_added_hooks(server.cfg, server.log)
    _refuse_workers_other_than_sync(server)  # Per-request contexts.
    _check_at_start(server)  # Checks at start.


def when_ready(server):
    """Stop measuring the master, and save what it ran with --preload: no
    worker may start as a copy of a process that is still measuring."""
    global _cov
    if _unmeasured_because:
        server.log.warning("coverage: not measuring: %s", _unmeasured_because)
    _check_added_hooks(server.cfg, server.log)
    if _cov is not None:
        _cov.stop()
        # Without --preload the master ran no application code.
        if server.cfg.preload_app and not _unmeasured_because:
            _save(server.log)
        _cov = None  # The workers, forked from now on, measure themselves.


def on_reload(server):
    """Master, on HUP: check coverage's settings, which the new workers will
    read. Broken ones leave the new workers serving unmeasured, with one line
    that says why, rather than failing to boot."""
    global _unmeasured_because
    if MEASURE and coverage is not None:
        try:
            _coverage_with_your_settings()
            _unmeasured_because = None
        except SystemExit as refusal:
            _unmeasured_because = str(refusal)
            server.log.error("%s; the new workers serve unmeasured", refusal)
    _check_added_hooks(server.cfg, server.log)
    _check_again_on_reload(server)  # Checks at start.


def pre_fork(server, worker):
    """So that the master can say what a worker that dies before its last
    save lost: memory that the worker, forked next, shares with it."""
    _give_the_worker_a_ledger(worker)  # A ledger of what was lost.


def post_fork(server, worker):
    """The first hook of the original recipe: measure this worker on its own,
    from before it imports the application."""
    _check_added_hooks(server.cfg, server.log)
    if MEASURE and not _unmeasured_because:
        _start_measuring()
        server.log.debug("coverage: measuring with the %s core", _core_in_use)
    _note_the_start_in_the_ledger(worker)  # A ledger of what was lost.


def post_worker_init(worker):
    """gunicorn has installed the worker's signal handlers: extend them, so
    that stopping the worker and USR1 save too."""
    _exit_through_worker_exit_on_stop_signals(worker)  # uvicorn's workers.
    _quit_only_once(worker)  # Workers told to stop twice (Ctrl+C).
    _start_snapshots(worker)  # Snapshots.


def pre_request(worker, req):
    """A snapshot must not read the data while a request writes it; and a
    request may bring another context."""
    if _turns is not None:  # Snapshots: wait while one is being written.
        _turns.request_starts()
    # Per-request contexts. Without the variable, this test is all the
    # context work a request costs: the request is not even looked at.
    if CONTEXT_HEADER:
        _switch_to_the_context_of(req, worker.log)


def post_request(worker, req, environ, resp):
    """A snapshot that waits for the requests in flight may go ahead."""
    if _turns is not None:  # Snapshots: let a waiting one go ahead.
        _turns.request_ends()


def worker_exit(server, worker):
    """The second hook of the original recipe: stop measuring and save.

    gunicorn also calls it in the master for a worker that is already gone;
    that worker's measurement is not in this process, so there is nothing to do.
    """
    if worker.pid != os.getpid():
        return
    if _cov is not None:
        _cov.stop()
        _save(worker.log, last=True)
    _ledger_note(finished=True)  # A ledger of what was lost: written, or said why not.


def child_exit(server, worker):
    """A killed worker says nothing: the master, which reaps it, says what it lost."""
    _say_what_a_lost_worker_lost(server, worker)  # A ledger of what was lost.


def on_dirty_starting(arbiter):
    """The dirty arbiter is forked from the master, which may be measuring:
    measure it on its own, and through it the dirty workers it forks."""
    _measure_the_dirty_arbiter()  # Dirty workers.


def dirty_worker_init(worker):
    """gunicorn ends a dirty worker with os._exit(), which runs no exit hook:
    save at the end of its cleanup instead."""
    _save_when_the_dirty_worker_stops(worker)  # Dirty workers.


# ===========================================================================
# The core: every process measures itself, and saves what it measured.
# ===========================================================================

# Where _cov's data goes: coverage's data_file setting, which _save reads.
_data_file = None
# The core that measures this process: "sysmon", "ctrace" or "pytrace".
_core_in_use = None


def _coverage_with_your_settings():
    """A Coverage object with the user's settings, or one line that says what is wrong."""
    try:
        return coverage.Coverage(data_file=None)
    except coverage.CoverageException as exc:  # A broken .coveragerc, for example.
        problem = " ".join(str(exc).split())  # configparser's messages span lines.
        raise SystemExit(
            f"coverage: {problem} (fix it, or set GUNICORN_COVERAGE=off to serve unmeasured)"
        ) from None


def _start_measuring():
    """Start a Coverage object that collects in memory: _save writes the files."""
    global _cov, _data_file, _core_in_use
    _cov = _coverage_with_your_settings()
    # Coverage.start() creates the data file's directory even when it collects
    # in memory; _save does that instead, so that a directory that cannot be
    # written to is reported at each save rather than stopping the server.
    _data_file = _cov.get_option("run:data_file")
    _cov.set_option("run:data_file", os.path.basename(_data_file))
    # Measure the application, not this file; and an idle worker that measured
    # nothing is no mistake worth a warning.
    _cov.set_option("run:omit", [*_cov.get_option("run:omit"), __file__])
    quiet = ["no-data-collected"]
    if CONTEXT_HEADER:
        # coverage warns that sysmon's contexts may be incomplete: the
        # per-request contexts make them complete, by re-arming sysmon at each switch.
        quiet.append("no-sysmon-context")
    _cov.set_option("run:disable_warnings", [*_cov.get_option("run:disable_warnings"), *quiet])
    _cov.set_option("run:core", _core(_cov))
    _cov.start()
    core = dict(_cov.sys_info())["core"]
    _core_in_use = _CORE_NAMES.get(core, core)


def _core(cov):
    """The core to measure with: the one the user chose ([run] core, or
    COVERAGE_CORE), else sysmon wherever it measures what the settings ask
    for, else ctrace. The rule, and why: docs/reference.rst, "The measurement
    core" (ref-core).

    sysmon costs a busy server far less than ctrace, which Python calls for
    every line the server runs. ctrace is asked for by name: on Python 3.14
    and newer coverage's own default is sysmon even with a plugin, which then
    measures nothing.
    """
    chosen = cov.get_option("run:core")
    if chosen:
        return chosen
    sysmon_cannot = (
        (cov.get_option("run:branch") and sys.version_info < (3, 14))
        or {"gevent", "eventlet", "greenlet"} & set(cov.get_option("run:concurrency"))
        or cov.get_option("run:dynamic_context") not in (None, "none")
        or cov.get_option("run:plugins")
    )
    return "sysmon" if hasattr(sys, "monitoring") and not sysmon_cannot else "ctrace"


# coverage's names for its cores, by the class that measures.
_CORE_NAMES = {"CTracer": "ctrace", "PyTracer": "pytrace", "SysMonitor": "sysmon"}

# One save at a time in a process: a snapshot may be writing when the worker exits.
_save_lock = threading.Lock()
_saved_last = False  # worker_exit saved: a snapshot that comes later has nothing to add.


def _save(log, last=False):
    """Write what _cov measured since the last save to a new data file.

    A new file each time: a Coverage object that writes again into a file that
    ``coverage combine`` already removed writes lines that no combine reads.
    """
    global _saved_last
    with _save_lock:
        if _saved_last:  # A TERM's snapshot, say, that waited for the last save.
            return
        _saved_last = last
        data = _cov.get_data()
        # Nothing ran since the last save? (get_data() also lists the unexecuted
        # files of [run] source, without lines: no reason for a file.)
        if not any(data.lines(path) for path in data.measured_files()):
            _ledger_note(saved=time.time())
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
        _ledger_note(saved=time.time())
        data.erase()  # Written: start the next file from nothing.
        if hasattr(sys, "monitoring"):
            # The sysmon core asks Python to stop reporting a line once it has
            # run: ask for every line again, so that the next file holds what
            # runs from now on, whatever ran before, as with the other cores.
            sys.monitoring.restart_events()
        log.info("coverage: wrote %s", os.path.relpath(path))


# ===========================================================================
# Adding coverage to your own configuration: add_to(globals()).
# ===========================================================================

# Where coverage's hook runs next to yours: first where it must already be
# measuring what yours runs, last (even if yours raised) where it saves, or
# counts, what yours ran.
_RUNS_FIRST = ("on_starting", "pre_fork", "post_fork", "on_dirty_starting", "pre_request")
_RUNS_LAST = (
    "when_ready", "on_reload", "post_worker_init", "dirty_worker_init", "post_request",
    "worker_exit", "child_exit",
)

# What the last add_to put into a configuration, and which one: until the
# first check in this process.
_added, _added_where = None, None


def add_to(config):
    """Add coverage's hooks to a gunicorn configuration: the globals() of a
    configuration file or module. A hook the configuration defines already
    keeps running, in the same process and at the same moment, with
    coverage's around it.

    Call it after your own hooks: a hook defined after it replaces coverage's,
    which the master then says in one line at start.
    """
    global _added, _added_where
    if not MEASURE:
        return  # GUNICORN_COVERAGE=off: the configuration stays exactly as it is.
    _added, _added_where = {}, config.get("__file__", config.get("__name__"))
    for name in (*_RUNS_FIRST, *_RUNS_LAST):
        ours, theirs = globals()[name], config.get(name)
        if theirs is not None:
            theirs = _GUNICORN_CHECKS[name](theirs)  # As gunicorn loads and checks it.
            ours = _in_order(ours, theirs) if name in _RUNS_FIRST else _in_order(theirs, ours)
        config[name] = _added[name] = ours


# How gunicorn loads and checks each setting (a hook given as "module.function",
# its arguments): the same for a hook of yours that add_to joins to coverage's.
_GUNICORN_CHECKS = {setting.name: setting.validator for setting in KNOWN_SETTINGS}


def _in_order(*hooks):
    """One hook that calls each of these hooks in turn, each one even if one
    before it raised (that exception is raised again after the last)."""

    def in_order(*args):
        error = None
        for hook in hooks:
            try:
                hook(*args)
            except Exception as exc:
                error = error or exc
        if error is not None:
            raise error

    in_order.__signature__ = inspect.signature(hooks[0])  # gunicorn checks its arguments.
    return in_order


def _check_added_hooks(cfg, log):
    """Say, once, which of the hooks add_to put in the configuration gunicorn
    does not call: the configuration defined them again after add_to."""
    global _added
    if not _added:
        return
    replaced = [name for name, hook in _added.items() if getattr(cfg, name) is not hook]
    _added = None
    if replaced:
        where = os.path.basename(_added_where or "your configuration")
        log.error(
            "coverage: %s defines %s after gunicorn_coverage.add_to(globals()), which replaces "
            "coverage's: move add_to below your last hook",
            where, ", ".join(replaced),
        )


# ===========================================================================
# Optional parts, which the hooks above call. Each banner says what its part
# adds, and what goes without it.
# ===========================================================================

# ---------------------------------------------------------------------------
# Snapshots: kill -USR1 (and GUNICORN_COVERAGE_SNAPSHOT_SECONDS) make each
# worker save while it keeps serving, and a worker told to stop (TERM) saves
# at once. Without this part, a worker saves only when it exits.
# ---------------------------------------------------------------------------


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


SNAPSHOT_SECONDS = _read_snapshot_seconds() if MEASURE else None


class _Turns:
    """Requests and snapshots take turns in a worker. A snapshot reads the
    data that requests are writing, so it waits until no request runs, and
    requests that arrive meanwhile wait for the snapshot. Except when the
    worker was told to stop: then the snapshot goes ahead at once (coverage
    reads what requests record as they run without losing a line), because a
    container engine kills whatever still runs when its grace period ends,
    and a request in flight may outlast it."""

    def __init__(self):
        self._turn = threading.Condition()  # Guards the two values below.
        self._requests_running = 0
        self._snapshotting = False
        self.stopping = False  # Set by the TERM handler, which cannot notify.

    def request_starts(self):
        with self._turn:
            if self._snapshotting:  # Rarely: only while a snapshot is being written.
                # Except on an event loop with requests in flight (gunicorn's
                # asgi worker calls pre_request there): they need the loop to
                # finish, and the snapshot waits for them.
                self._turn.wait_for(
                    lambda: not self._snapshotting or (self._requests_running and _on_event_loop())
                )
            self._requests_running += 1

    def request_ends(self):
        with self._turn:
            self._requests_running -= 1
            if self._snapshotting:  # A snapshot waits for the requests in flight to end.
                self._turn.notify_all()

    @contextlib.contextmanager
    def snapshot(self):
        """While no request runs (and none starts until the block is done)."""
        with self._turn:
            self._turn.wait_for(lambda: not self._snapshotting)
            self._snapshotting = True
            # `stopping` comes from a signal handler, which cannot notify: look again now and then.
            while not self._turn.wait_for(
                lambda: self._requests_running == 0 or self.stopping, timeout=0.1
            ):
                pass
        try:
            yield
        finally:
            with self._turn:
                self._snapshotting = False
                self._turn.notify_all()


# In a measuring worker: its _Turns, and the pipe that wakes its snapshot
# thread. The signal handler only writes a byte to the pipe; the thread does
# the saving, because coverage and SQLite must not run inside a signal handler.
_turns = None
_wakeup_read, _wakeup_write = None, None


def _start_snapshots(worker):
    """Make USR1 also request a snapshot, and TERM one that goes ahead at
    once, and start the thread that writes them."""
    global _turns, _wakeup_read, _wakeup_write
    if _cov is None:
        return
    _turns = _Turns()
    _wakeup_read, _wakeup_write = os.pipe()
    os.set_blocking(_wakeup_write, False)
    earlier_usr1 = signal.getsignal(signal.SIGUSR1)
    earlier_term = signal.getsignal(signal.SIGTERM)

    def usr1(signum, frame):
        earlier_usr1(signum, frame)  # Reopen the log files, as gunicorn does.
        _ask_for_a_snapshot()

    def term(signum, frame):
        _snapshot_at_once()
        earlier_term(signum, frame)  # Stop after the requests in flight, as gunicorn does.

    signal.signal(signal.SIGUSR1, usr1)
    if callable(earlier_term):
        signal.signal(signal.SIGTERM, term)
    for sig in (signal.SIGUSR1, signal.SIGTERM):
        # As gunicorn asks: a system call that a request is in is resumed,
        # not broken off, by these signals.
        signal.siginterrupt(sig, False)
    threading.Thread(
        target=_write_snapshots, args=(worker.log, threading.get_native_id()),
        name="coverage-snapshots", daemon=True,
    ).start()
    worker.log.info("coverage: measuring this worker")


def _snapshot_at_once():
    """For a worker told to stop: a snapshot that does not wait for the requests in flight."""
    _turns.stopping = True
    _ask_for_a_snapshot()


def _ask_for_a_snapshot():
    with contextlib.suppress(BlockingIOError):  # A snapshot is pending anyway.
        os.write(_wakeup_write, b"!")


def _write_snapshots(log, requests_thread):
    """The snapshot thread: save on each USR1, and every SNAPSHOT_SECONDS if set."""
    # Not traced: this thread runs only coverage's own code, which coverage does
    # not measure. Traced by the ctrace core, it sometimes spun without ending
    # a snapshot while a request waited for it: seen on Python 3.11 under load,
    # with snapshots every second, a worker then hung on TERM until gunicorn
    # killed it, and its data since the last snapshot was lost. (Where gevent
    # or eventlet made threads greenlets, this one runs in the requests' system
    # thread, and untracing it would untrace them.)
    if threading.get_native_id() != requests_thread:
        sys.settrace(None)
    while True:
        woken, _, _ = select.select([_wakeup_read], [], [], SNAPSHOT_SECONDS)
        if woken:
            os.read(_wakeup_read, 512)
        with _turns.snapshot():
            _save(log)


def _on_event_loop():
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


# ---------------------------------------------------------------------------
# Workers that handle their stop signals themselves (uvicorn's): save on stop
# all the same, and at once on TERM. Without this part, a uvicorn worker's
# measurement is lost when it stops.
# ---------------------------------------------------------------------------


def _exit_through_worker_exit_on_stop_signals(worker):
    """uvicorn's worker class leaves SIGTERM and SIGINT to their default
    action and, after its graceful shutdown, raises again the signal that
    stopped it: the process would die before gunicorn calls worker_exit, and
    its measurement with it. Where they have no handler, end the process with
    sys.exit, which runs worker_exit. (uvicorn swaps in its own handlers while
    it serves and restores these for its final signal, so requests in flight
    still finish first.)

    On QUIT, which the master sends when it gets INT (Ctrl+C) or QUIT,
    uvicorn-worker 0.4.0 calls gunicorn's handle_exit, which only sets a flag
    that uvicorn never reads: the worker would serve on until the master
    kills it. Stop it as TERM does, the graceful stop uvicorn-worker meant."""
    if _cov is None or signal.getsignal(signal.SIGTERM) != signal.SIG_DFL:
        return
    for stop in (signal.SIGTERM, signal.SIGINT):
        if signal.getsignal(stop) == signal.SIG_DFL:
            signal.signal(stop, lambda signum, frame: sys.exit(0))
    handle_exit = worker.handle_exit

    def handle_exit_and_stop_on_quit(sig, frame):
        handle_exit(sig, frame)
        if sig == signal.SIGQUIT:
            signal.raise_signal(signal.SIGTERM)

    worker.handle_exit = handle_exit_and_stop_on_quit
    _snapshot_at_once_when_uvicorn_is_told_to_stop()


def _snapshot_at_once_when_uvicorn_is_told_to_stop():
    """While it serves, uvicorn's server handles TERM with its own
    Server.handle_exit, not with the handler that _start_snapshots wrapped:
    make it take the snapshot that goes ahead at once, too, before the
    requests in flight finish (uvicorn 0.54.0)."""
    server = sys.modules.get("uvicorn.server")
    handle_exit = getattr(getattr(server, "Server", None), "handle_exit", None)
    if handle_exit is None:
        return

    def handle_exit_and_snapshot(self, sig, frame):
        if sig == signal.SIGTERM:
            _snapshot_at_once()
        handle_exit(self, sig, frame)

    server.Server.handle_exit = handle_exit_and_snapshot


# ---------------------------------------------------------------------------
# Workers told to stop twice (Ctrl+C): stop once, and save. Without this
# part, a worker that gets both Ctrl+C's INT and the master's QUIT may die
# before it saves.
# ---------------------------------------------------------------------------


def _quit_only_once(worker):
    """Ctrl+C in a terminal sends INT to every process of gunicorn's process
    group: each worker gets INT itself, and QUIT from the master a moment
    later. gunicorn's handler for both, handle_quit, raises SystemExit 0.1 s
    after the signal (sync, gthread, tornado); a second signal that comes
    later than that raises it again wherever the worker is on its way out,
    in worker_exit's save too, and the worker dies without saving. The first
    signal stops the worker; the next ones find it stopping."""
    if _cov is None:
        return
    quitting = False

    def handle_quit_once(sig, frame):
        nonlocal quitting
        if not quitting:
            quitting = True
            worker.handle_quit(sig, frame)

    for sig in (signal.SIGINT, signal.SIGQUIT):
        if signal.getsignal(sig) == worker.handle_quit:
            signal.signal(sig, handle_quit_once)


# ---------------------------------------------------------------------------
# Per-request contexts: GUNICORN_COVERAGE_CONTEXT_HEADER. Without this part,
# every request counts under coverage's default context.
# ---------------------------------------------------------------------------


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


CONTEXT_HEADER = _read_context_header() if MEASURE else None

# A context is a label, such as a test's name: longer values are ignored.
MAX_CONTEXT_LENGTH = 200

# The context the worker records under now: "" is coverage's default context.
_context = ""


def _refuse_workers_other_than_sync(server):
    """coverage has one current context per process, so a worker that serves
    several requests at once (threads, gevent, asyncio) would count their
    lines under each other's contexts. Even with one thread, a gthread
    worker is no good: each context switch writes the lines so far into
    coverage's in-memory data from the request's thread, and coverage 7.18
    loses that data when the thread has ended before the worker's last save.
    """
    if not (CONTEXT_HEADER and _cov):
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


def _switch_to_the_context_of(req, log):
    """Switch to the request's context, if it is another than the previous
    request's (after the request waited for any snapshot, so never while one
    is written).

    The context stays until a request brings another one: the requests of
    one test cost no switch. With the sysmon core a switch also re-arms
    sys.monitoring, which reports a line only the first time it runs: a
    line that ran under the previous context is then recorded again under
    the new one. That costs the next request as much as a first one, so
    it is done only when the context changes.
    """
    global _context
    context = _context_of(req, log)
    if _cov is None or context == _context:
        return
    _cov.switch_context(context)
    _context = context
    if _core_in_use == "sysmon":
        sys.monitoring.restart_events()


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


# ---------------------------------------------------------------------------
# Dirty workers (gunicorn 25+): what --dirty-workers run for --dirty-app is
# measured too. Without this part, it is not.
#
# It relies on a PRIVATE gunicorn API, DirtyWorker._cleanup, and was proven on
# gunicorn 27.0.1 only: check it again when you upgrade gunicorn. gunicorn ends
# a dirty worker with os._exit(), which skips every exit handler, and calls its
# public dirty_worker_exit hook in the dirty arbiter, after the worker is gone.
# _cleanup() is the last thing a dirty worker runs: the save goes at its end.
# HUP does not replace dirty workers, and USR1 does not snapshot them.
# ---------------------------------------------------------------------------


def _measure_the_dirty_arbiter():
    """gunicorn forked the dirty arbiter from the master, which was measuring
    itself: start a new measurement here instead. The dirty arbiter forks the
    dirty workers, which inherit it running, so that it measures them from
    the moment they import their dirty apps."""
    if _cov is not None:  # The master's, if it forked this arbiter before when_ready.
        _cov.stop()
    if MEASURE and not _unmeasured_because:
        _start_measuring()


def _save_when_the_dirty_worker_stops(worker):
    """At the end of its (private) _cleanup."""
    if _cov is None:
        return
    cleanup = worker._cleanup

    def cleanup_and_save():
        cleanup()
        _cov.stop()
        _save(worker.log, last=True)

    worker._cleanup = cleanup_and_save


# ---------------------------------------------------------------------------
# Checks at start: before the first worker forks, the master says what would
# lose every worker's data. Without this part, a stop signal that never
# reaches gunicorn loses it without a word, and a data directory that the
# workers cannot write costs an error per worker, once their data is lost.
# ---------------------------------------------------------------------------

# Programs that, as gunicorn's parent in a container, keep the engine's stop
# signal from it: a shell that started gunicorn without exec, and the inits
# that `docker run --init` puts in front of it, which signal only the shell.
_SHELLS = {"sh", "bash", "dash", "ash", "zsh", "ksh", "mksh", "busybox"}
_CONTAINER_INITS = {"docker-init", "podman-init", "catatonit", "tini"}


def _check_at_start(server):
    global _unmeasured_because
    if _cov is None:
        return
    _warn_if_a_shell_keeps_the_stop_signal(server.log)
    _unmeasured_because = _unwritable_data_directory(server.cfg)
    # when_ready says so, before the first worker forks.


def _check_again_on_reload(server):
    """After on_reload checked the settings: the new workers measure only if
    they can write (made writable since?)."""
    global _unmeasured_because
    if not MEASURE or coverage is None or _unmeasured_because:
        return
    _unmeasured_because = _unwritable_data_directory(server.cfg)
    if _unmeasured_because:
        server.log.error("coverage: the new workers serve unmeasured: %s", _unmeasured_because)


def _warn_if_a_shell_keeps_the_stop_signal(log):
    """A container engine stops a container by signalling its PID 1, and kills
    every process in it when its grace period ends."""
    parent = os.getppid()
    shell = _program(parent)
    if shell not in _SHELLS:
        return
    if parent == 1:
        why = f"gunicorn's parent, PID 1, is a shell ({shell}), which ignores the stop signal"
    elif _program(1) in _CONTAINER_INITS and _parent_of(parent) == 1:
        why = (
            f"gunicorn's parent is a shell ({shell}) under the container's init ({_program(1)}), "
            "which passes the stop signal to the shell only"
        )
    else:
        return  # A shell in a terminal, say: Ctrl-C reaches gunicorn too.
    log.warning(
        "coverage: %s: stopping the container will kill the workers before they save. "
        "Start gunicorn with exec: 'exec gunicorn ...' in the script, or CMD in exec form, "
        "CMD [\"gunicorn\", ...]", why,
    )


def _program(pid):
    """The name of the program a process runs ("sh" for a shell script), or None."""
    try:
        return os.path.basename(os.readlink(f"/proc/{pid}/exe"))
    except OSError:  # Another user's process: its name is all we may read.
        try:
            with open(f"/proc/{pid}/comm") as comm:
                return comm.read().strip()
        except OSError:
            return None


def _parent_of(pid):
    try:
        with open(f"/proc/{pid}/stat") as stat_file:
            return int(stat_file.read().rpartition(")")[2].split()[1])
    except (OSError, ValueError, IndexError):
        return None


def _unwritable_data_directory(cfg):
    """Why the workers could not write their data files, or None. Where they
    go: coverage's settings as the workers will read them (from the directory
    --chdir gives, say). The workers run as gunicorn's user and group settings
    (the master's own by default): a child process becomes them, as a worker
    does, and tries."""
    data_file = _coverage_with_your_settings().get_option("run:data_file")
    directory = os.path.dirname(os.path.abspath(data_file))
    while not os.path.isdir(directory):  # _save creates the directories missing.
        directory = os.path.dirname(directory)
    child = os.fork()
    if child == 0:
        try:
            set_owner_process(cfg.uid, cfg.gid, initgroups=cfg.initgroups)
            os._exit(0 if os.access(directory, os.W_OK | os.X_OK) else 1)
        except BaseException:  # It cannot become them: gunicorn will say why.
            os._exit(0)
    _, status = os.waitpid(child, 0)
    if os.waitstatus_to_exitcode(status) == 0:
        return None
    if os.statvfs(directory).f_flag & os.ST_RDONLY:
        problem = f"{directory} is on a read-only file system"
        fix = "mount a volume or a tmpfs there"
    else:
        try:
            user = pwd.getpwuid(cfg.uid).pw_name
        except KeyError:  # A user that the image does not name (docker run --user 1000).
            user = cfg.uid
        owner = os.stat(directory)
        problem = (
            f"the workers run as {user} (uid {cfg.uid}, gid {cfg.gid}) and cannot write to {directory} "
            f"(owner uid {owner.st_uid}, {stat.filemode(owner.st_mode)})"
        )
        fix = "make it writable for them (chown it, or a volume of theirs)"
    return (
        f"{problem}, where their data files go: {fix}, or set COVERAGE_FILE "
        "(or [run] data_file) to a file in a directory they can write"
    )


# ---------------------------------------------------------------------------
# A ledger of what was lost: when the master reaps a worker that never got
# to its last save (killed by the OOM killer, say, or by gunicorn after
# --timeout), it says since when that worker's data is lost. Without this
# part, only the report's numbers show it.
# ---------------------------------------------------------------------------

# What a worker tells the master, in a few bytes of memory they share: when
# it started measuring, when all it had measured was last on disk (0: never),
# and whether it got to its last save.
_LEDGER = struct.Struct("ddB")
_ledger = None  # In a worker: its shared memory (an mmap); None elsewhere.
_ledger_entries = {"started": 0.0, "saved": 0.0, "finished": False}


def _give_the_worker_a_ledger(worker):
    """Memory that the worker, forked from the master, will share with it: a
    worker killed with SIGKILL runs no code, but the master outlives it."""
    if MEASURE and not _unmeasured_because:
        worker.coverage_ledger = mmap.mmap(-1, _LEDGER.size)


def _note_the_start_in_the_ledger(worker):
    global _ledger
    if _cov is not None:
        _ledger = getattr(worker, "coverage_ledger", None)
        _ledger_note(started=time.time())


def _ledger_note(**entries):
    if _ledger is not None:
        _ledger_entries.update(entries)
        _LEDGER.pack_into(_ledger, 0, *_ledger_entries.values())


def _say_what_a_lost_worker_lost(server, worker):
    """However the worker ended: if it started measuring and did not get to
    its last save, since when what it measured is lost."""
    ledger = getattr(worker, "coverage_ledger", None)
    if ledger is None:
        return
    started, saved, finished = _LEDGER.unpack(ledger)
    ledger.close()
    if started and not finished:
        since = f"its last save at {_clock(saved)}" if saved else f"it started at {_clock(started)}"
        server.log.error(
            "coverage: worker %s ended before its last save: what it measured since %s is lost",
            worker.pid, since,
        )


def _clock(seconds):
    """A time as gunicorn's log lines write it."""
    return time.strftime("%Y-%m-%d %H:%M:%S %z", time.localtime(seconds))


# ===========================================================================
# Last, as gunicorn loads this file.
# ===========================================================================


def _reloading():
    """Is gunicorn loading this file again, on a HUP? Then its master handles
    SIGHUP already (at the first load it has installed no signal handler yet),
    and imports no application again: on_reload checks the settings instead."""
    return callable(signal.getsignal(signal.SIGHUP))


# Measure the master from now on, since with --preload it imports the
# application before any worker exists.
if MEASURE and not _unmeasured_because and not _reloading():
    _start_measuring()
