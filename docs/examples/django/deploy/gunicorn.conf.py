"""The project's own gunicorn configuration, with coverage added at its end
(docs/django.rst; the two lines: docs/own-config.rst)."""

from django.db import connections

wsgi_app = "mysite.wsgi"
workers = 2
pidfile = "gunicorn.pid"
# post_fork closes connections, which needs the settings; a worker that has
# not imported mysite.wsgi yet has not set DJANGO_SETTINGS_MODULE itself.
raw_env = ["DJANGO_SETTINGS_MODULE=mysite.settings"]


def post_fork(server, worker):
    # A database connection must not be shared by processes: drop any that
    # the master opened (with --preload, if the project queries while it is
    # imported). Django opens the worker's own at its first query.
    connections.close_all()
    worker.log.info("my config: this worker has no database connection of the master's")


import gunicorn_coverage  # noqa: E402
gunicorn_coverage.add_to(globals())
