"""The Flask example served by an ASGI worker class: asgiref's WsgiToAsgi
runs the WSGI application in a thread for each request."""

from asgiref.wsgi import WsgiToAsgi

from example_app.app import app as wsgi_app

app = WsgiToAsgi(wsgi_app)
