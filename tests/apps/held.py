"""A request that stays in flight until the test lets it finish.

It creates the file "held" in the working directory, waits until the test
creates "release", then answers lib.foo(): lib.py's line 2 runs at the very
end. As a WSGI application (wsgi_app) and a native ASGI one (asgi_app).

example_then_held is the example's Flask application, whose /foo and /bar
answer at once, plus /held, which is held the same way and then answers
lib.bar(): line 4 runs at the very end, so a file written while it is in
flight has none of it.
"""

import asyncio
import os
import time

from example_app import lib


def wait_for_release():
    open("held", "w").close()
    while not os.path.exists("release"):
        time.sleep(0.05)


def wsgi_app(environ, start_response):
    wait_for_release()
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [str(lib.foo()).encode()]


def example_then_held(environ, start_response):
    if environ["PATH_INFO"] != "/held":
        from example_app.app import app

        return app(environ, start_response)
    wait_for_release()
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [str(lib.bar()).encode()]


async def asgi_app(scope, receive, send):
    if scope["type"] != "http":
        return
    open("held", "w").close()
    while not os.path.exists("release"):
        await asyncio.sleep(0.05)
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": str(lib.foo()).encode()})
