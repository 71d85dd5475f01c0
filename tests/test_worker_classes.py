"""Every worker class saves exact numbers (docs/worker-classes.rst).

Each server has one worker (gunicorn's default): a request that succeeded
proves that the worker finished booting, so the signals that follow reach
handlers that gunicorn and the hook file installed. (A worker that gets TERM
before it installed its handlers ignores it until the master kills it.)
"""

import shutil
import signal
import typing
from dataclasses import dataclass

import pytest

from helpers import (
    LIB_AFTER_FOO, LIB_AFTER_FOO_AND_BAR, LIB_IMPORTED_ONLY, PYTHON, ROOT, Report, copy_test_apps,
    hold_a_request, hook_file_core, list_table, no_data_file_within, release, request_in_background,
    wait_until,
)

PAGE = ROOT / "docs" / "worker-classes.rst"


@dataclass(frozen=True)
class WorkerClass:
    options: tuple = ()
    app: str = "example_app.app:app"
    held: str = "example_app.held:wsgi_app"  # Its app of tests/apps/ that holds a request in flight.
    needs: str = ""  # The optional module the worker class imports.
    coveragerc: str = ""  # A file of docs/config/ that replaces .coveragerc.
    row: str = ""  # Its row's name in the docs' table, if not ``name``.

    def command(self):
        """The command the docs page shows for this worker class."""
        return " ".join(["gunicorn -c hooks/gunicorn.conf.py", *self.options, self.app])


CLASSES = {
    "sync": WorkerClass(),
    "gthread": WorkerClass(("--worker-class", "gthread", "--threads", "4")),
    "gevent": WorkerClass(("--worker-class", "gevent"), needs="gevent", coveragerc="gevent.coveragerc"),
    "tornado": WorkerClass(("--worker-class", "tornado"), needs="tornado"),
    "asgi": WorkerClass(
        ("--worker-class", "asgi"), "example_app.asgi:app", "example_app.held:asgi_app",
        row="``asgi``, native app",
    ),
    "asgi-flask": WorkerClass(
        ("--worker-class", "asgi"), "example_app.flask_asgi:app", "example_app.held_flask_asgi:app",
        needs="asgiref", row="``asgi``, Flask in ``WsgiToAsgi``",
    ),
    "uvicorn": WorkerClass(
        ("--worker-class", "uvicorn_worker.UvicornWorker"), "example_app.asgi:app", "example_app.held:asgi_app",
        needs="uvicorn_worker", row="``uvicorn_worker.UvicornWorker``",
    ),
}


# --- what each worker class saves: the docs' table, which the tests prove ----



class Stopped(typing.NamedTuple):
    """What a worker saves when the master gets a signal that stops it."""
    files: int  # The data files written.
    lib: Report | None  # lib.py in them; None: no file.
    why: str = ""  # Why no file, as the docs' table says it.


class InFlight(typing.NamedTuple):
    """A snapshot (USR1) taken while a request is in flight."""
    waits: bool  # Does it wait for the request to finish?
    snapshot: Report  # lib.py in the snapshot.
    at_stop: Report | None = None  # lib.py with the file the worker writes when it stops, too.


class Saves(typing.NamedTuple):
    """One row of the docs' table: after one request to /foo, what a worker class saves."""
    on_hup: Stopped
    on_term: Stopped
    on_int: Stopped
    on_usr1: tuple  # lib.py in the snapshot, then with a second one taken after /bar.
    in_flight: InFlight


SAVED = Stopped(1, LIB_AFTER_FOO)
NO_FILE = Stopped(0, None, "uvicorn ignores the QUIT that gunicorn sends")
SNAPSHOTS = (LIB_AFTER_FOO, LIB_AFTER_FOO_AND_BAR)
# The worker classes that call pre_request and post_request, so that a snapshot
# waits for the requests in flight; tornado's and uvicorn's do not, so a
# snapshot misses the line that the request runs last, and the next file has it.
WAITS = InFlight(True, LIB_AFTER_FOO)
DOES_NOT_WAIT = InFlight(False, LIB_IMPORTED_ONLY, LIB_AFTER_FOO)

SAVES = {
    #                    HUP    TERM   INT      USR1       a snapshot while a request runs
    "sync":       Saves(SAVED, SAVED, SAVED,   SNAPSHOTS, WAITS),
    "gthread":    Saves(SAVED, SAVED, SAVED,   SNAPSHOTS, WAITS),
    "gevent":     Saves(SAVED, SAVED, SAVED,   SNAPSHOTS, WAITS),
    "tornado":    Saves(SAVED, SAVED, SAVED,   SNAPSHOTS, DOES_NOT_WAIT),
    "asgi":       Saves(SAVED, SAVED, SAVED,   SNAPSHOTS, WAITS),
    "asgi-flask": Saves(SAVED, SAVED, SAVED,   SNAPSHOTS, WAITS),
    "uvicorn":    Saves(SAVED, SAVED, NO_FILE, SNAPSHOTS, DOES_NOT_WAIT),
}
STOPPING = ("hup", "term", "int")


def stopped(name, sig):
    return getattr(SAVES[name], f"on_{sig}")


@pytest.fixture
def serve(start, example):
    """serve(name, app=None): one worker of that class, with the hook file.

    The test apps of tests/apps/ are there too, in example_app.
    """

    def serve_with(name, app=None, coveragerc=None, *options, env=None):
        worker_class = CLASSES[name]
        if worker_class.needs:
            pytest.importorskip(worker_class.needs, reason=f"{name} needs example_app/requirements-workers.txt")
        coveragerc = coveragerc or worker_class.coveragerc
        if coveragerc:
            shutil.copy(ROOT / "docs" / "config" / coveragerc, example / ".coveragerc")
        copy_test_apps(example)
        return start(*worker_class.options, *options, workers=1, app=app or worker_class.app, env=env)

    return serve_with


def stop_id(name, sig):
    return f"{name}-{sig}"


STOPS = [(name, sig) for name in SAVES for sig in STOPPING if stopped(name, sig).files]
LOSSES = [(name, sig) for name in SAVES for sig in STOPPING if not stopped(name, sig).files]
LOSSES_IDS = [stop_id(*loss) for loss in LOSSES]


@pytest.mark.parametrize(("name", "sig"), STOPS, ids=[stop_id(*stop) for stop in STOPS])
def test_the_worker_saves_when_it_stops(serve, name, sig):
    expected = stopped(name, sig)
    server = serve(name)
    # Connection: close, so that the worker has no kept-alive connection to
    # hand to its threads when the stop signal comes: a gthread worker told
    # to stop at once (INT) at that moment hangs (docs/worker-classes.rst).
    assert server.curl("/foo", "--header", "Connection: close") == "42"
    if sig == "hup":
        server.send(signal.SIGHUP)
        server.wait_for_data_files(expected.files)
        assert server.curl("/bar") == "43"  # The new worker serves.
    else:
        server.stop(getattr(signal, f"SIG{sig.upper()}"))
    assert len(server.data_files()) == expected.files
    assert server.report() == expected.lib


@pytest.mark.parametrize(("name", "sig"), LOSSES, ids=LOSSES_IDS)
def test_the_worker_saves_nothing_when_it_stops(serve, name, sig):
    """gunicorn sends QUIT to the workers when the master gets INT or QUIT.
    uvicorn-worker 0.4.0's QUIT handler sets gunicorn's flag that uvicorn's
    server never reads: the worker serves on until the master kills it
    (after --graceful-timeout), and what it measured is lost."""
    server = serve(name, None, None, "--graceful-timeout", "1")
    assert server.curl("/foo") == "42"
    server.stop(getattr(signal, f"SIG{sig.upper()}"))
    assert len(server.data_files()) == stopped(name, sig).files


@pytest.mark.parametrize("name", SAVES)
def test_usr1_writes_a_snapshot_and_the_worker_goes_on(serve, name):
    first, then = SAVES[name].on_usr1
    server = serve(name)
    worker = server.workers()
    assert server.curl("/foo") == "42"
    server.send(signal.SIGUSR1)
    server.wait_for_data_files(1)
    assert server.report() == first
    assert server.curl("/bar") == "43"
    server.send(signal.SIGUSR1)
    server.wait_for_data_files(2)
    assert server.report() == then
    assert server.workers() == worker


WAITING = [name for name, saves in SAVES.items() if saves.in_flight.waits]
NOT_WAITING = [name for name, saves in SAVES.items() if not saves.in_flight.waits]


@pytest.mark.parametrize("name", WAITING)
def test_a_snapshot_waits_for_the_requests_in_flight(serve, name):
    server = serve(name, CLASSES[name].held)
    held = hold_a_request(server)
    server.send(signal.SIGUSR1)
    # A request that arrives meanwhile waits, or is served (on an event loop,
    # which the request in flight needs): it never blocks the snapshot forever.
    more = [] if name == "sync" else [request_in_background(server, "/held")]
    assert no_data_file_within(server, 1.0)
    assert release(server, held, *more) == ["42"] * (1 + len(more))
    server.wait_for_data_files(1)
    # The snapshot has line 2 of lib.py, which the held request ran last.
    assert server.report() == SAVES[name].in_flight.snapshot


@pytest.mark.parametrize("name", NOT_WAITING)
def test_without_request_hooks_a_snapshot_does_not_wait(serve, name):
    expected = SAVES[name].in_flight
    server = serve(name, CLASSES[name].held)
    held = hold_a_request(server)
    server.send(signal.SIGUSR1)
    server.wait_for_data_files(1)
    assert server.report() == expected.snapshot  # Written before the request ran lib.foo().
    assert release(server, held) == ["42"]
    server.stop()
    assert len(server.data_files()) == 2
    assert server.report() == expected.at_stop  # The rest came with the next file.


def test_gthread_runs_requests_on_several_threads_and_measures_them(serve):
    server = serve("gthread", "example_app.threads:app")
    requests = [request_in_background(server, "/") for _ in range(4)]
    answers = [request.communicate(timeout=20)[0] for request in requests]
    assert [answer.split()[0] for answer in answers] == ["42"] * 4
    assert len({answer.split()[1] for answer in answers}) == 4  # Four threads at once.
    server.stop()
    assert server.report() == LIB_AFTER_FOO


def test_uvicorn_finishes_the_requests_in_flight_before_it_saves(serve):
    server = serve("uvicorn", CLASSES["uvicorn"].held)
    held = hold_a_request(server)
    server.send(signal.SIGTERM)
    wait_until(lambda: "Waiting for connections to close." in server.log(), 10, "uvicorn's graceful shutdown")
    assert release(server, held) == ["42"]
    server.stop()
    assert len(server.data_files()) == 1
    assert server.report() == LIB_AFTER_FOO


def left_and_right(server):
    """Report on left.py and right.py: (statements, missed, percent, missing) each."""
    return {name: server.report(file=f"example_app/{name}") for name in ("left.py", "right.py")}


RIGHT = {"left.py": (9, 3, "67%", "11-13"), "right.py": (9, 3, "67%", "5-7")}


def default_core_follows_overlapping_greenlets(python=PYTHON):
    """gevent workers without concurrency = gevent, requests that overlap: are
    the numbers right with the core the hook file picks on `python`? With
    sysmon, which records each line by its code object, not through a frame
    stack that greenlets mix up: yes. With ctrace: no."""
    return hook_file_core(python) == "sysmon"


OVERLAP = [
    # (id, .coveragerc, COVERAGE_CORE, are the numbers right?)
    pytest.param("gevent.coveragerc", None, True, id="concurrency-gevent"),
    # Coverage's default concurrency, "thread", with its trace function: wrong.
    pytest.param("../../.coveragerc", "ctrace", False, id="concurrency-thread-ctrace"),
    # The hook file's default core.
    pytest.param(
        "../../.coveragerc", None, default_core_follows_overlapping_greenlets(),
        id="concurrency-thread-default-core",
    ),
]


@pytest.mark.parametrize(("coveragerc", "core", "right"), OVERLAP)
def test_gevent_needs_concurrency_gevent_when_requests_overlap(serve, coveragerc, core, right):
    server = serve("gevent", "example_app.overlap:app", coveragerc,
                   env={"COVERAGE_CORE": core} if core else None)
    left = hold_a_request(server, "/left")
    assert server.curl("/right") == "right"
    assert left.communicate(timeout=10)[0] == "left"
    server.stop()
    if right:
        assert left_and_right(server) == RIGHT
    else:  # Lines of one module were put on the other.
        assert left_and_right(server) != RIGHT


def test_the_page_shows_each_tested_command():
    """Each command block of the page is docs_command(name); this says that no
    worker class the tests run lacks its block."""
    page = PAGE.read_text()
    for name, worker_class in CLASSES.items():
        assert worker_class.command() in page, name


# --- the docs page, written by cog from the same values ------------------------

def docs_table():
    """The table of docs/worker-classes.rst, "What each worker class saves"."""
    def stop_cell(stop):
        if not stop.files:
            return f"**no file**: {stop.why}"
        return f"{stop.files} file{'s' if stop.files > 1 else ''}, {stop.lib.cover}"

    def in_flight_cell(in_flight):
        if in_flight.waits:
            return f"waits for the request: {in_flight.snapshot.cover}"
        return (f"does not wait: {in_flight.snapshot.cover}, "
                f"the rest in the next file ({in_flight.at_stop.cover})")

    def usr1_cell(snapshots, first_row):
        first, then = (report.cover for report in snapshots)
        return f"{first}; after ``/bar`` and another USR1, {then}" if first_row else f"{first}, then {then}"

    rows = []
    for n, (name, saves) in enumerate(SAVES.items()):
        rows.append([
            CLASSES[name].row or f"``{name}``",
            *(stop_cell(stopped(name, sig)) for sig in STOPPING),
            usr1_cell(saves.on_usr1, n == 0),
            in_flight_cell(saves.in_flight),
        ])
    header = ["Worker class", "``kill -HUP``", "``kill -TERM``", "``kill -INT``",
              "``kill -USR1`` (snapshot)", "A snapshot while a request runs"]
    return list_table(header, rows, [14, 13, 13, 13, 17, 30])


def docs_tests():
    """The list under the table: the tests that prove each column, as pytest names them."""
    def named(function, ids):
        return f"``{function.__name__}[{'|'.join(ids)}]``"

    losses = " and ".join(f"{name}'s {sig.upper()}" for name, sig in LOSSES)
    return "\n".join([
        "",
        "* ``kill -HUP``, ``-TERM``, ``-INT``: "
        f"{named(test_the_worker_saves_when_it_stops, [stop_id('<class>', '|'.join(STOPPING))])}; "
        f"{losses}, which saves no file: "
        f"{named(test_the_worker_saves_nothing_when_it_stops, LOSSES_IDS)}.",
        f"* ``kill -USR1``: {named(test_usr1_writes_a_snapshot_and_the_worker_goes_on, ['<class>'])}.",
        "* A snapshot while a request runs: "
        f"{named(test_a_snapshot_waits_for_the_requests_in_flight, WAITING)} and "
        f"{named(test_without_request_hooks_a_snapshot_does_not_wait, NOT_WAITING)}.",
        "", "",
    ])


def docs_command(name):
    """The command block of the docs' section on this worker class."""
    return f"\n.. code-block:: shell\n\n   {CLASSES[name].command()}\n\n"
