"""Every worker class saves exact numbers (docs/worker-classes.rst).

Each server has one worker (gunicorn's default): a request that succeeded
proves that the worker finished booting, so the signals that follow reach
handlers that gunicorn and the hook file installed. (A worker that gets TERM
before it installed its handlers ignores it until the master kills it.)
"""

import shutil
import signal

import pytest

from expected import (
    GEVENT_TAKING_TURNS, LIB_AFTER_FOO, LIB_IMPORTED_ONLY, OVERLAPPING_GREENLETS_RIGHT, PYTHON, STOPPING,
    WORKER_CLASS_SAVES, WORKER_CLASSES,
)
from helpers import (
    ROOT, copy_test_apps, hold_a_request, no_data_file_within, release, request_in_background, wait_until,
)

PAGE = ROOT / "docs" / "worker-classes.rst"


@pytest.fixture
def serve(start, example):
    """serve(name, app=None): one worker of that class, with the hook file.

    The test apps of tests/apps/ are there too, in example_app.
    """

    def serve_with(name, app=None, coveragerc=None, *options, env=None):
        worker_class = WORKER_CLASSES[name]
        if worker_class.needs:
            pytest.importorskip(worker_class.needs, reason=f"{name} needs example_app/requirements-workers.txt")
        coveragerc = coveragerc or worker_class.coveragerc
        if coveragerc:
            shutil.copy(ROOT / "docs" / "config" / coveragerc, example / ".coveragerc")
        copy_test_apps(example)
        return start(*worker_class.options, *options, workers=1, app=app or worker_class.app, env=env)

    return serve_with


# (worker class, signal, what it saves): every stop of the page's table.
STOPS = [
    pytest.param(name, sig, getattr(saves, sig), id=f"{name}-{sig}")
    for name, saves in WORKER_CLASS_SAVES.items() for sig in STOPPING
]


@pytest.mark.parametrize("name, sig, expected", STOPS)
def test_the_worker_saves_when_it_stops(serve, name, sig, expected):
    server = serve(name)
    # Connection: close, so that the worker has no kept-alive connection to
    # hand to its threads when the stop signal comes: a gthread worker told
    # to stop at once (INT) at that moment hangs (docs/worker-classes.rst).
    assert server.curl("/foo", "--header", "Connection: close") == "42"
    if sig == "hup":
        old = server.workers()
        server.send(signal.SIGHUP)
        # Gone, not only saved: a worker told to stop saves at once, and may
        # still accept a request before it stops listening.
        server.wait_for_exit(old)
        assert server.curl("/bar") == "43"  # The new worker serves.
    else:
        server.stop(getattr(signal, f"SIG{sig.upper()}"))
    assert len(server.data_files()) == expected.files
    assert server.report() == expected.lib


@pytest.mark.parametrize("name, expected", [(name, saves.int) for name, saves in WORKER_CLASS_SAVES.items()],
                         ids=list(WORKER_CLASS_SAVES))
def test_ctrl_c_in_the_terminal_saves_as_kill_int_does(serve, name, expected):
    """Ctrl+C makes the terminal send INT to every process of gunicorn's
    process group: the workers get INT themselves, and QUIT from the master."""
    server = serve(name)
    assert server.curl("/foo", "--header", "Connection: close") == "42"
    server.stop(signal.SIGINT, group=True)
    assert len(server.data_files()) == expected.files
    assert server.report() == expected.lib


@pytest.mark.parametrize("name, saves", WORKER_CLASS_SAVES.items(), ids=list(WORKER_CLASS_SAVES))
def test_usr1_writes_a_snapshot_and_the_worker_goes_on(serve, name, saves):
    first, then = saves.usr1
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


# (worker class, what a snapshot with a request in flight gives), split by
# whether the snapshot waits for the request.
IN_FLIGHT = [pytest.param(name, saves.in_flight, id=name) for name, saves in WORKER_CLASS_SAVES.items()]
WAITING = [case for case in IN_FLIGHT if case.values[1].waits]
NOT_WAITING = [case for case in IN_FLIGHT if not case.values[1].waits]


@pytest.mark.parametrize("name, expected", WAITING)
def test_a_snapshot_waits_for_the_requests_in_flight(serve, name, expected):
    server = serve(name, WORKER_CLASSES[name].held)
    held = hold_a_request(server)
    server.send(signal.SIGUSR1)
    # A request that arrives meanwhile waits, or is served (on an event loop,
    # which the request in flight needs): it never blocks the snapshot forever.
    more = [] if name == "sync" else [request_in_background(server, "/held")]
    assert no_data_file_within(server, 1.0)
    assert release(server, held, *more) == ["42"] * (1 + len(more))
    server.wait_for_data_files(1)
    # The snapshot has line 2 of lib.py, which the held request ran last.
    assert server.report() == expected.snapshot


@pytest.mark.parametrize("name, expected", NOT_WAITING)
def test_without_request_hooks_a_snapshot_does_not_wait(serve, name, expected):
    server = serve(name, WORKER_CLASSES[name].held)
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


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["term", "int"])
def test_uvicorn_saves_at_once_when_told_to_stop_and_again_after_the_requests_in_flight(serve, sig):
    """uvicorn handles TERM itself while it serves (and, through the hook
    file, the QUIT that INT makes the master send): what ran before the
    stop is on disk at once, as a container engine's SIGKILL may come before
    the request in flight ends; the rest comes as the worker exits."""
    server = serve("uvicorn", WORKER_CLASSES["uvicorn"].held)
    held = hold_a_request(server)
    server.send(sig)
    server.wait_for_data_files(1)
    assert server.report() == LIB_IMPORTED_ONLY  # Before the held request ran lib.foo().
    wait_until(lambda: "Waiting for connections to close." in server.log(), 10, "uvicorn's graceful shutdown")
    assert release(server, held) == ["42"]
    server.stop()
    assert len(server.data_files()) == 2
    assert server.report() == LIB_AFTER_FOO


def test_a_uvicorn_worker_sent_int_itself_saves(serve):
    """gunicorn's INT to a worker, which uvicorn takes as its Ctrl-C: after its
    graceful stop uvicorn raises INT again, which has no handler of uvicorn's
    then."""
    server = serve("uvicorn")
    assert server.curl("/foo") == "42"
    [worker] = server.workers()
    server.send_to_worker(worker, signal.SIGINT)
    server.wait_for_data_files(1)
    assert server.report() == LIB_AFTER_FOO
    server.wait_for_exit({worker})
    server.wait_for_workers(1)
    assert server.curl("/bar") == "43"  # The master replaced it; the new worker serves.


def left_and_right(server):
    """Report on left.py and right.py: (statements, missed, percent, missing) each."""
    return {name: server.report(file=f"example_app/{name}") for name in ("left.py", "right.py")}


OVERLAP = [
    # (id, .coveragerc, COVERAGE_CORE, are the numbers right?)
    pytest.param("gevent.coveragerc", None, True, id="concurrency-gevent"),
    # Coverage's default concurrency, "thread", with its trace function: wrong.
    pytest.param("../../.coveragerc", "ctrace", False, id="concurrency-thread-ctrace"),
    # The hook file's default core: right where it is sysmon.
    pytest.param(
        "../../.coveragerc", None, OVERLAPPING_GREENLETS_RIGHT[PYTHON], id="concurrency-thread-default-core",
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
        assert left_and_right(server) == GEVENT_TAKING_TURNS
    else:  # Lines of one module were put on the other.
        assert left_and_right(server) != GEVENT_TAKING_TURNS


def test_the_page_shows_each_tested_command():
    """cog writes each command block of the page (cog_helpers.worker_class_command);
    this says that no worker class the tests run lacks its block."""
    page = PAGE.read_text()
    for name, worker_class in WORKER_CLASSES.items():
        assert worker_class.command() in page, name
