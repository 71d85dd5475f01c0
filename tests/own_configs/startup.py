"""What each worker opens when it starts and closes when it stops: the gunicorn
settings' post_fork and worker_exit hooks call these."""

_connections = []


def open_connections():
    _connections.append("database")  # Where a real service would connect.


def close_connections():
    _connections.clear()
