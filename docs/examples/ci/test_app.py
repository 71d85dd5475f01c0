"""The example's integration tests: real HTTP requests to the running server."""

import os
import urllib.request

APP_URL = os.environ.get("APP_URL", "http://127.0.0.1:8000")


def get(path):
    with urllib.request.urlopen(APP_URL + path, timeout=10) as response:
        return response.read().decode()


def test_foo():
    assert get("/foo") == "42"


def test_bar():
    assert get("/bar") == "43"


def test_hello():
    assert get("/hello?name=Ada") == "Hello, Ada!"


def test_orders():
    assert get("/orders").startswith("ada: 200 orders, 992.50\n")
