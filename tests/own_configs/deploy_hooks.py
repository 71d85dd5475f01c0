"""The example service's gunicorn hooks, which its settings name by import path."""


def post_fork(server, worker):
    from example_app import startup  # In the worker, as the app is.

    startup.open_connections()


def worker_exit(server, worker):
    from example_app import startup

    startup.close_connections()
