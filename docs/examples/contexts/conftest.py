"""Send each request to the server under the name that pytest-cov gives this moment.

pytest-cov's ``--cov-context=test`` records the lines that run in the test
process during a test under ``<node id>|setup``, ``<node id>|run`` or
``<node id>|teardown``, by the phase of the test. These fixtures send the same
name in the X-Coverage-Context header, and gunicorn's hook file (with
GUNICORN_COVERAGE_CONTEXT_HEADER=X-Coverage-Context) records what the server
runs for the request under it: both sides of a test under one name.
"""

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

HEADER = "X-Coverage-Context"

# pytest-cov's name for what runs now, kept up to date by the three hooks below.
current_context = ""


def _switch(item, when):
    global current_context
    current_context = f"{item.nodeid}|{when}"


# pytest runs these before each phase of a test, as it runs pytest-cov's.
def pytest_runtest_setup(item):
    _switch(item, "setup")


def pytest_runtest_call(item):
    _switch(item, "run")


def pytest_runtest_teardown(item):
    _switch(item, "teardown")


@pytest.fixture
def curl(app_url):
    """curl(path, *options): request a path with curl; returns the body."""

    def curl(path, *options):
        return subprocess.run(
            ["curl", "--silent", "--show-error", "--fail",
             "--header", f"{HEADER}: {current_context}", *options, app_url + path],
            capture_output=True, text=True, check=True,
        ).stdout

    return curl


class _SendTheContext(urllib.request.BaseHandler):
    """Adds the header to each request as it is sent, with the name of then."""

    def http_request(self, request):
        request.add_header(HEADER, current_context)
        return request


@pytest.fixture
def http():
    """A urllib opener that sends the header with every request."""
    return urllib.request.build_opener(_SendTheContext())


@pytest.fixture(scope="session")
def app_url(tmp_path_factory):
    """Where the server listens: APP_URL, or else a server that this test
    session starts with the hook file, and stops after its last test."""
    if "APP_URL" in os.environ:
        yield os.environ["APP_URL"]
        return
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{free.getsockname()[1]}"
    # COVERAGE_CORE=ctrace, if set, is for the tests: the workers measure with
    # the core that the hook file chooses.
    env = {name: value for name, value in os.environ.items() if name != "COVERAGE_CORE"}
    env["GUNICORN_COVERAGE_CONTEXT_HEADER"] = HEADER
    log = tmp_path_factory.mktemp("server") / "gunicorn.log"
    with open(log, "wb") as output:
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "hooks/gunicorn.conf.py",
             "--workers", "2", "--bind", url.removeprefix("http://"),
             # Not gunicorn's control socket: its default path is shared with
             # every other gunicorn 25.1+ on the machine.
             "--no-control-socket", "example_app.app:app"],
            env=env, stdout=output, stderr=subprocess.STDOUT,
        )
    try:
        _wait_until_it_answers(url, server, log)
        yield url
    finally:
        # The workers save their data files as they stop. Wait for them: pytest-cov
        # combines the files it finds beside its .coverage right after this.
        server.terminate()
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
            raise


def _wait_until_it_answers(url, server, log, seconds=30):
    deadline = time.monotonic() + seconds
    while True:
        try:
            urllib.request.urlopen(url, timeout=1).close()
            return
        except urllib.error.HTTPError:
            return  # It answered.
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"gunicorn did not start at {url}; its output is in {log}")
            time.sleep(0.1)
