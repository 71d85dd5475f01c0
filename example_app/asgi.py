"""The example's two routes as a native ASGI application, with no framework.

For ASGI worker classes: gunicorn's own (``-k asgi``) and uvicorn's.
"""

from example_app import lib

ROUTES = {"/foo": lib.foo, "/bar": lib.bar}


async def app(scope, receive, send):
    if scope["type"] != "http":  # The lifespan protocol: nothing to set up.
        return
    route = ROUTES.get(scope["path"])
    status, body = (200, str(route()).encode()) if route else (404, b"Not Found")
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": body})
