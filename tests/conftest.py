"""The fixtures the tests build on, each on the one before: the example project,
a way to launch gunicorn in it, a server factory, and a running server.

Each server runs in its own temp directory (a copy of the example app, its
.coveragerc and the hook file), on a free port, with no control socket, and is
stopped by its process group when the test ends, whatever happened. What is not
a fixture is in helpers.py.
"""

import os
import sys

import pytest

# helpers.py asserts too: let pytest explain its failures as it does the tests'.
pytest.register_assert_rewrite("helpers")
from expected import APP  # noqa: E402
from helpers import Server, copy_example  # noqa: E402


@pytest.fixture
def example(tmp_path):
    """The example project: a temp directory holding the example app, its
    .coveragerc and the hook file as ./gunicorn.conf.py."""
    copy_example(tmp_path)
    return tmp_path


@pytest.fixture
def launch(example):
    """Launch gunicorn with exactly the options given; do not wait for it.

    For what `start` does not do: no hook file or another config (the options
    say which), another interpreter or ``python -m coverage run`` in front of
    ``-m gunicorn`` (`python`), gunicorn started from another directory than
    the project's (`cwd`). The test waits for the workers itself
    (server.wait_for_workers; first `server.measuring = False` if they will not
    say they measure). Every server launched is stopped at teardown.
    """
    servers = []

    def launch_server(*args, directory=None, env=None, python=(sys.executable,), cwd=None):
        environment = {**os.environ, **(env or {})}
        environment.pop("GUNICORN_CMD_ARGS", None)
        server = Server(
            directory or example, args, environment,
            measuring=environment.get("GUNICORN_COVERAGE") != "off", python=python, cwd=cwd,
        )
        servers.append(server)
        return server

    yield launch_server
    for server in servers:
        server.kill_everything()


@pytest.fixture
def start(launch):
    """The server factory: gunicorn with the hook file (-c gunicorn.conf.py) on
    the example app, start(*args, env=..., workers=2, app=..., wait=True,
    directory=...).

    Waits until every worker has booted and (unless GUNICORN_COVERAGE=off) says
    it measures. `directory`: a project other than `example`, prepared with
    copy_example (a second server, say).
    """

    def start_server(*args, env=None, workers=2, app=APP, wait=True, directory=None):
        server = launch(
            "-c", "gunicorn.conf.py", "--workers", str(workers), *args, app,
            directory=directory, env=env,
        )
        if wait:
            server.wait_for_workers(workers)
        return server

    return start_server


@pytest.fixture
def server(start):
    """What most tests start with: the example app with the hook file and two
    workers, booted and measuring."""
    return start()
