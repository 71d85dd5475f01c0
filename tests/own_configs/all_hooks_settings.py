"""gunicorn settings that log each hook gunicorn calls: the server's life in its log.

Each worker also opens its connections when it starts and closes them when it
stops (example_app/startup.py).
"""


def on_starting(server):
    server.log.info("my hook: on_starting")


def nworkers_changed(server, new_value, old_value):
    server.log.info("my hook: nworkers_changed")


def when_ready(server):
    server.log.info("my hook: when_ready")


def pre_fork(server, worker):
    server.log.info("my hook: pre_fork")


def post_fork(server, worker):
    server.log.info("my hook: post_fork")
    # Imported here, in the worker, like the app: the master imports no code of
    # the app, so that a HUP loads its new code.
    from example_app import startup

    startup.open_connections()


def post_worker_init(worker):
    worker.log.info("my hook: post_worker_init")


def pre_request(worker, req):
    worker.log.info("my hook: pre_request")


def post_request(worker, req):  # gunicorn also takes the 4-argument form.
    worker.log.info("my hook: post_request")


def on_reload(server):
    server.log.info("my hook: on_reload")


def worker_int(worker):
    worker.log.info("my hook: worker_int")


def worker_exit(server, worker):
    server.log.info("my hook: worker_exit")
    from example_app import startup

    startup.close_connections()


def child_exit(server, worker):
    server.log.info("my hook: child_exit")


def on_exit(server):
    server.log.info("my hook: on_exit")


# Code coverage too (docs/own-config.rst): these two lines stay last.
import gunicorn_coverage
gunicorn_coverage.add_to(globals())
