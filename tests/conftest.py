"""The fixtures every test uses: a real gunicorn server and its coverage data.

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
from helpers import Server, copy_example  # noqa: E402


@pytest.fixture
def example(tmp_path):
    """A temp directory holding the example app, its .coveragerc and the hook file."""
    copy_example(tmp_path)
    return tmp_path


@pytest.fixture
def start(example):
    """Start gunicorn with the hook file on the example app: start(*args, env=...).

    Waits until every worker has booted and (unless `measuring` is false, or
    GUNICORN_COVERAGE=off, or there is no hook file) says it measures; stops
    every server at teardown. `directory`: run in another directory prepared
    with copy_example (a second server, say). `hook_file=False`: run gunicorn
    without the hook file (it is removed, as gunicorn loads ./gunicorn.conf.py by
    default). `python`: another interpreter. `run_with`: Python options before
    ``-m gunicorn``, like ("-m", "coverage", "run"). `cwd`: start gunicorn from
    another directory than the example's. `config`: the options that name
    gunicorn's configuration instead of ``-c gunicorn.conf.py`` (``[]``: none,
    so gunicorn loads ./gunicorn.conf.py by default).
    """
    servers = []

    def start_server(
        *args, env=None, workers=2, app="example_app.app:app", wait=True,
        directory=None, hook_file=True, python=sys.executable, run_with=(), measuring=None,
        cwd=None, config=None,
    ):
        directory = directory or example
        environment = {**os.environ, **(env or {})}
        environment.pop("GUNICORN_CMD_ARGS", None)
        if config is None:
            config = ["-c", str(directory / "gunicorn.conf.py") if cwd else "gunicorn.conf.py"]
        if not hook_file:
            (directory / "gunicorn.conf.py").unlink(missing_ok=True)
            config = []
        if measuring is None:
            measuring = hook_file and environment.get("GUNICORN_COVERAGE") != "off"
        server = Server(
            directory, [*config, "--workers", str(workers), *args, app], environment,
            measuring, python, run_with, cwd,
        )
        servers.append(server)
        if wait:
            server.wait_for_workers(workers)
        return server

    yield start_server
    for server in servers:
        server.kill_everything()
