"""A request that finishes only when four requests run at once, each on its
own thread: it answers lib.foo() and the name of the thread that ran it."""

import threading

from example_app import lib

all_four = threading.Barrier(4, timeout=10)


def app(environ, start_response):
    all_four.wait()
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [f"{lib.foo()} {threading.current_thread().name}".encode()]
