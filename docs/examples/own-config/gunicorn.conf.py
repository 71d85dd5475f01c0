# The gunicorn configuration of a project: its settings, and hooks of its own.
bind = "127.0.0.1:8000"
workers = 2
timeout = 30
pidfile = "gunicorn.pid"


def when_ready(server):
    server.log.info("my config: the server is ready")


def post_fork(server, worker):
    # Each worker opens its own connections: none may be shared across a fork.
    worker.log.info("my config: this worker opens its connections")


def worker_exit(server, worker):
    worker.log.info("my config: this worker closes its connections")
