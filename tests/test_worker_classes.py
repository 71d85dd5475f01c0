"""Every worker class saves exact numbers (docs/worker-classes.rst).

Each server has one worker (gunicorn's default): a request that succeeded
proves that the worker finished booting, so the signals that follow reach
handlers that gunicorn and the hook file installed. (A worker that gets TERM
before it installed its handlers ignores it until the master kills it.)
"""

import shutil
import signal
import subprocess
from dataclasses import dataclass

import pytest

from helpers import ROOT, SYSMON, wait_until

PAGE = ROOT / "docs" / "worker-classes.rst"
APPS = ROOT / "tests" / "apps"


@dataclass(frozen=True)
class WorkerClass:
    options: tuple = ()
    app: str = "example_app.app:app"
    needs: str = ""  # The optional module the worker class imports.
    coveragerc: str = ""  # A file of docs/config/ that replaces .coveragerc.

    def command(self):
        """The command the docs page shows for this worker class."""
        return " ".join(["gunicorn -c hooks/gunicorn.conf.py", *self.options, self.app])


CLASSES = {
    "sync": WorkerClass(),
    "gthread": WorkerClass(("--worker-class", "gthread", "--threads", "4")),
    "gevent": WorkerClass(("--worker-class", "gevent"), needs="gevent", coveragerc="gevent.coveragerc"),
    "tornado": WorkerClass(("--worker-class", "tornado"), needs="tornado"),
    "asgi": WorkerClass(("--worker-class", "asgi"), "example_app.asgi:app"),
    "asgi-flask": WorkerClass(("--worker-class", "asgi"), "example_app.flask_asgi:app", needs="asgiref"),
    "uvicorn": WorkerClass(
        ("--worker-class", "uvicorn_worker.UvicornWorker"), "example_app.asgi:app", needs="uvicorn_worker"
    ),
}
# Worker classes that call pre_request and post_request, so that a snapshot
# waits for the requests in flight; tornado's and uvicorn's do not.
GATED = ["sync", "gthread", "gevent", "asgi", "asgi-flask"]
UNGATED = ["tornado", "uvicorn"]


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
        for module in APPS.glob("*.py"):
            shutil.copy(module, example / "example_app" / module.name)
        return start(*worker_class.options, *options, workers=1, app=app or worker_class.app, env=env)

    return serve_with


STOPS = [
    pytest.param(name, sig, id=f"{name}-{sig}")
    for name in CLASSES for sig in ("hup", "term", "int")
    if (name, sig) != ("uvicorn", "int")  # See test_uvicorn_ignores_quit_and_loses_its_data.
]


@pytest.mark.parametrize(("name", "sig"), STOPS)
def test_the_worker_saves_when_it_stops(serve, name, sig):
    server = serve(name)
    assert server.curl("/foo") == "42"
    if sig == "hup":
        server.send(signal.SIGHUP)
        server.wait_for_data_files(1)
        assert server.curl("/bar") == "43"  # The new worker serves.
    else:
        server.stop(getattr(signal, f"SIG{sig.upper()}"))
    assert len(server.data_files()) == 1
    assert server.report() == (4, 1, "75%", "4")


@pytest.mark.parametrize("name", CLASSES)
def test_usr1_writes_a_snapshot_and_the_worker_goes_on(serve, name):
    server = serve(name)
    worker = server.workers()
    assert server.curl("/foo") == "42"
    server.send(signal.SIGUSR1)
    server.wait_for_data_files(1)
    assert server.report() == (4, 1, "75%", "4")
    assert server.curl("/bar") == "43"
    server.send(signal.SIGUSR1)
    server.wait_for_data_files(2)
    assert server.report() == (4, 0, "100%", "")
    assert server.workers() == worker


def request_in_background(server, path):
    """The real curl, not waited for: .communicate() gives the answer."""
    return subprocess.Popen(
        ["curl", "--silent", "--max-time", "20", server.url + path],
        stdout=subprocess.PIPE, text=True,
    )


def hold_a_request(server, path="/held"):
    """Start a request that stays in flight until release(server)."""
    request = request_in_background(server, path)
    wait_until(lambda: (server.directory / "held").exists(), 10, "the request to be in flight")
    return request


def release(server, *requests):
    (server.directory / "release").touch()
    return [request.communicate(timeout=20)[0] for request in requests]


def no_data_file_within(server, seconds):
    try:
        wait_until(server.data_files, seconds, "a data file")
    except AssertionError:
        return True
    return False


@pytest.mark.parametrize("name", GATED)
def test_a_snapshot_waits_for_the_requests_in_flight(serve, name):
    app = {"asgi": "example_app.held:asgi_app", "asgi-flask": "example_app.held_flask_asgi:app"}
    server = serve(name, app.get(name, "example_app.held:wsgi_app"))
    held = hold_a_request(server)
    server.send(signal.SIGUSR1)
    # A request that arrives meanwhile waits, or is served (on an event loop,
    # which the request in flight needs): it never blocks the snapshot forever.
    more = [] if name == "sync" else [request_in_background(server, "/held")]
    assert no_data_file_within(server, 1.0)
    assert release(server, held, *more) == ["42"] * (1 + len(more))
    server.wait_for_data_files(1)
    # The snapshot has line 2 of lib.py, which the held request ran last.
    assert server.report() == (4, 1, "75%", "4")


@pytest.mark.parametrize("name", UNGATED)
def test_without_request_hooks_a_snapshot_does_not_wait(serve, name):
    app = "example_app.held:asgi_app" if name == "uvicorn" else "example_app.held:wsgi_app"
    server = serve(name, app)
    held = hold_a_request(server)
    server.send(signal.SIGUSR1)
    server.wait_for_data_files(1)
    assert server.report() == (4, 2, "50%", "2, 4")  # Written before the request ran lib.foo().
    assert release(server, held) == ["42"]
    server.stop()
    assert len(server.data_files()) == 2
    assert server.report() == (4, 1, "75%", "4")  # The rest came with the next file.


def test_gthread_runs_requests_on_several_threads_and_measures_them(serve):
    server = serve("gthread", "example_app.threads:app")
    requests = [request_in_background(server, "/") for _ in range(4)]
    answers = [request.communicate(timeout=20)[0] for request in requests]
    assert [answer.split()[0] for answer in answers] == ["42"] * 4
    assert len({answer.split()[1] for answer in answers}) == 4  # Four threads at once.
    server.stop()
    assert server.report() == (4, 1, "75%", "4")


def test_uvicorn_finishes_the_requests_in_flight_before_it_saves(serve):
    server = serve("uvicorn", "example_app.held:asgi_app")
    held = hold_a_request(server)
    server.send(signal.SIGTERM)
    wait_until(lambda: "Waiting for connections to close." in server.log(), 10, "uvicorn's graceful shutdown")
    assert release(server, held) == ["42"]
    server.stop()
    assert len(server.data_files()) == 1
    assert server.report() == (4, 1, "75%", "4")


def test_uvicorn_ignores_quit_and_loses_its_data(serve):
    """gunicorn sends QUIT to the workers when the master gets INT or QUIT.
    uvicorn-worker 0.4.0's QUIT handler sets gunicorn's flag that uvicorn's
    server never reads: the worker serves on until the master kills it
    (after --graceful-timeout), and what it measured is lost."""
    server = serve("uvicorn", None, None, "--graceful-timeout", "1")
    assert server.curl("/foo") == "42"
    server.stop(signal.SIGINT)
    assert server.data_files() == []


def left_and_right(server):
    """Report on left.py and right.py: (statements, missed, percent, missing) each."""
    return {name: server.report(file=f"example_app/{name}") for name in ("left.py", "right.py")}


RIGHT = {"left.py": (9, 3, "67%", "11-13"), "right.py": (9, 3, "67%", "5-7")}


OVERLAP = [
    # (id, .coveragerc, COVERAGE_CORE, are the numbers right?)
    pytest.param("gevent.coveragerc", None, True, id="concurrency-gevent"),
    # Coverage's default concurrency, "thread", with its trace function: wrong.
    pytest.param("../../.coveragerc", "ctrace", False, id="concurrency-thread-ctrace"),
    # The hook file's default core: on Python 3.12 and newer sysmon, which
    # records each line by its code object, not through a frame stack that
    # greenlets mix up: right. Before, ctrace: wrong.
    pytest.param(
        "../../.coveragerc", None, SYSMON, id="concurrency-thread-default-core",
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
    page = PAGE.read_text()
    for name, worker_class in CLASSES.items():
        assert worker_class.command() in page, name
