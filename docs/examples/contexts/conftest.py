"""Send each test's name with every request it makes to the server.

With GUNICORN_COVERAGE_CONTEXT_HEADER=X-Coverage-Context, gunicorn's hook file
records the lines that each request runs under the value of that header:
here the test's node id, such as ``test_app.py::test_foo``.
"""

import os
import subprocess
import urllib.request

import pytest

HEADER = "X-Coverage-Context"


@pytest.fixture
def app_url():
    """Where the server listens."""
    return os.environ.get("APP_URL", "http://127.0.0.1:8000")


@pytest.fixture
def context(request):
    """The name to record this test's requests under: its node id."""
    return request.node.nodeid


@pytest.fixture
def curl(app_url, context):
    """curl(path, *options): request a path with curl; returns the body."""

    def curl(path, *options):
        return subprocess.run(
            ["curl", "--silent", "--show-error", "--fail",
             "--header", f"{HEADER}: {context}", *options, app_url + path],
            capture_output=True, text=True, check=True,
        ).stdout

    return curl


@pytest.fixture
def http(context):
    """A urllib opener that sends the header with every request."""
    opener = urllib.request.build_opener()
    opener.addheaders.append((HEADER, context))
    return opener
