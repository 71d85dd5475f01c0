"""Two tests of the example application, one through curl, one through urllib."""


def test_foo(curl):
    assert curl("/foo") == "42"


def test_bar(http, app_url):
    with http.open(app_url + "/bar") as response:
        assert response.read() == b"43"
