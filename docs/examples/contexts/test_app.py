"""Tests of the example application: through the server, and in this process."""

from example_app import lib


def test_foo(curl):
    assert curl("/foo") == "42"  # The server runs app.py's foo() and lib.foo().
    assert lib.foo() == 42  # This process runs lib.foo() too.


def test_bar(http, app_url):
    with http.open(app_url + "/bar") as response:  # Only the server runs lib.bar().
        assert response.read() == b"43"
