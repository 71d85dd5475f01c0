"""The example's integration tests: real HTTP requests to the running server."""

import os
import urllib.request

APP_URL = os.environ.get("APP_URL", "http://127.0.0.1:8000")


def get(path):
    with urllib.request.urlopen(APP_URL + path, timeout=10) as response:
        return response.read().decode()


def test_foo():
    assert get("/foo") == "42"
