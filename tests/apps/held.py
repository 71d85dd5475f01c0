"""A request that stays in flight until the test lets it finish.

It creates the file "held" in the working directory, waits until the test
creates "release", then answers lib.foo(): lib.py's line 2 runs at the very
end. As a WSGI application (wsgi_app) and a native ASGI one (asgi_app).
"""

import asyncio
import os
import time

from example_app import lib


def wsgi_app(environ, start_response):
    open("held", "w").close()
    while not os.path.exists("release"):
        time.sleep(0.05)
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [str(lib.foo()).encode()]


async def asgi_app(scope, receive, send):
    if scope["type"] != "http":
        return
    open("held", "w").close()
    while not os.path.exists("release"):
        await asyncio.sleep(0.05)
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": str(lib.foo()).encode()})
