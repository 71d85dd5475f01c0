"""held.py's WSGI application behind asgiref's WsgiToAsgi, as
example_app/flask_asgi.py serves the Flask example."""

from asgiref.wsgi import WsgiToAsgi

from example_app.held import wsgi_app

app = WsgiToAsgi(wsgi_app)
