"""A FastAPI app under uvicorn's worker class (docs/fastapi.rst).

The shop of docs/examples/fastapi, copied with the hook file as
./gunicorn.conf.py, served by two uvicorn workers: what each stop saves of its
async endpoint and of its lifespan, line by line from ``coverage json``; what
--preload changes; the one line that refuses per-request contexts; and the
same numbers under gunicorn's own asgi worker class.
"""

import signal

import pytest

from expected import (
    FASTAPI_APP, FASTAPI_ITEM, FASTAPI_NO_CONTEXTS, FASTAPI_PRELOADED, FASTAPI_REQUESTS, FASTAPI_STOPPED,
    FASTAPI_STOPS, FASTAPI_WORKER_CLASS, LIFESPAN_SHUTDOWN, LIFESPAN_STARTUP, REFUSED_AT_START, WORKER_CLASSES,
    Lines,
)
from helpers import copy_docs_example, wait_until

pytest.importorskip("fastapi", reason="needs docs/examples/fastapi/requirements.txt")
pytest.importorskip("uvicorn_worker", reason="needs docs/examples/fastapi/requirements.txt")

MAIN = "shop/main.py"


@pytest.fixture
def shop(tmp_path):
    """The example as a reader has it after the page's first steps."""
    return copy_docs_example("fastapi", tmp_path / "fastapi")


@pytest.fixture
def serve(start, shop):
    """serve(*options): two uvicorn workers on the shop, each past its
    lifespan's startup, so that a signal finds it serving."""

    def serve_with(*options, workers=2):
        server = start("--worker-class", FASTAPI_WORKER_CLASS, *options,
                       workers=workers, app=FASTAPI_APP, directory=shop)
        wait_for_startups(server, workers)
        return server

    return serve_with


def wait_for_startups(server, count):
    wait_until(lambda: server.log().count("Application startup complete.") >= count, 15,
               f"{count} lifespan startups")


def shop_at(server):
    """Request each of the page's paths: what the shop answers."""
    return {path: server.curl(path) for path in FASTAPI_REQUESTS}


def functions(server, file=MAIN):
    """`coverage json`'s lines of each function of `file`."""
    return {name: Lines(lines["executed_lines"], lines["missing_lines"])
            for name, lines in server.coverage_json()[file]["functions"].items()}


@pytest.mark.parametrize("event", FASTAPI_STOPS)
def test_each_stop_saves_the_endpoints_and_the_lifespan(serve, event):
    expected = FASTAPI_STOPS[event]
    server = serve()
    workers = server.workers()
    assert shop_at(server) == FASTAPI_REQUESTS
    if event == "ctrl-c":  # SIGINT to the master and to its workers alike.
        server.stop(signal.SIGINT, group=True)
    elif event == "usr1":
        server.send(signal.SIGUSR1)
        server.wait_for_data_files(expected.files)
        assert server.workers() == workers  # A snapshot stops nobody.
    elif event == "hup":
        server.send(signal.SIGHUP)
        server.wait_for_exit(workers)
        wait_for_startups(server, 2 * len(workers))  # The new workers serve.
        assert shop_at(server) == FASTAPI_REQUESTS
    else:
        server.stop(getattr(signal, f"SIG{event.upper()}"))
    assert len(server.data_files()) == expected.files
    lines = functions(server)
    assert lines["item"] == FASTAPI_ITEM
    assert lines["lifespan"] == expected.lifespan
    assert server.report(file=MAIN) == expected.main


def test_with_preload_the_master_imports_the_app_and_runs_no_lifespan(serve):
    server = serve("--preload")
    # The master saved the import before it forked: the only file so far.
    [master_file] = server.data_files()
    assert f".pid{server.pid}." in master_file
    assert server.report(file=MAIN) == FASTAPI_PRELOADED
    assert functions(server)["lifespan"] == Lines([], LIFESPAN_STARTUP + LIFESPAN_SHUTDOWN)
    assert shop_at(server) == FASTAPI_REQUESTS
    server.stop()
    assert server.report(file=MAIN) == FASTAPI_STOPPED  # The same as without --preload.


def test_per_request_contexts_are_refused_in_one_line(launch, shop):
    server = launch(
        "-c", "gunicorn.conf.py", "--worker-class", FASTAPI_WORKER_CLASS, FASTAPI_APP,
        directory=shop, env={"GUNICORN_COVERAGE_CONTEXT_HEADER": "X-Coverage-Context"},
    )
    assert server.process.wait(timeout=30) == REFUSED_AT_START
    assert server.log().splitlines()[-1].endswith(f" [ERROR] {FASTAPI_NO_CONTEXTS}")
    assert "Booting worker" not in server.log()


def test_gunicorns_own_asgi_worker_measures_the_shop_alike(start, shop):
    server = start(*WORKER_CLASSES["asgi"].options, app=FASTAPI_APP, directory=shop)
    assert shop_at(server) == FASTAPI_REQUESTS
    server.stop()
    lines = functions(server)
    assert lines["item"] == FASTAPI_ITEM
    assert lines["lifespan"] == FASTAPI_STOPS["term"].lifespan
    assert server.report(file=MAIN) == FASTAPI_STOPPED
